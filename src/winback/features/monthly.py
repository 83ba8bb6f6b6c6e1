"""Monthly ("non-stable") features for sequence models, as one wide row per customer.

Seed 000 fed an LSTM with a customer's behaviour month by month. Month k (k = 0 the most
recent) is the 30-day period [cutoff - 30(k+1), cutoff - 30k): counting back from the cutoff
keeps every month whole and point-in-time at any cutoff. Columns are `seq_m{k}_{name}`; a
sequence model reshapes them to (months, features), and any other model reads the same
columns flat, so the two are compared on the same rows. Months with no activity are zeros.
"""

from __future__ import annotations

import re

import ibis

from winback.data.layouts import PURCHASE
from winback.features.activity import FUNNEL_TYPES
from winback.features.context import FeatureContext, count_where, distinct_count, when

MONTH_DAYS = 30
PREFIX = "seq_m"
_COLUMN = re.compile(rf"^{PREFIX}(\d+)_(.+)$")


def monthly_names(ctx: FeatureContext) -> list[str]:
    """Per-month feature names for the columns this log has."""
    names = ["events", "active_days", "purchases"]
    if ctx.has("event_type"):
        names += [f"n_{et}" for et in FUNNEL_TYPES if et != PURCHASE]
    if ctx.has("amount"):
        names.append("spend")
    if ctx.has("session_id"):
        names.append("sessions")
    if ctx.has("product_id"):
        names.append("products")
    return names


def monthly_features(history: ibis.Table, ctx: FeatureContext, months: int) -> ibis.Table:
    """`seq_m{k}_{name}` for k < months, one row per customer active in those months."""
    age = ctx.days_before(history.event_time)
    h = history.mutate(_month=(age / MONTH_DAYS).floor().cast("int32"),
                       _day=history.event_time.truncate("D"))
    h = h.filter(h._month < months)
    per: dict[str, ibis.Value] = {
        "events": h.count(),
        "active_days": h._day.nunique(),
        "purchases": count_where(h.event_type == PURCHASE),
    }
    names = monthly_names(ctx)
    for name in names:
        if name.startswith("n_"):
            per[name] = count_where(h.event_type == name[2:])
    if "spend" in names:
        per["spend"] = when(h.amount, h.event_type == PURCHASE).sum().fill_null(0)
    if "sessions" in names:
        per["sessions"] = h.session_id.nunique()
    if "products" in names:
        per["products"] = distinct_count(h.product_id, ctx)
    monthly = h.group_by(["customer_id", "_month"]).aggregate(**per)
    wide = {f"{PREFIX}{k}_{name}": when(monthly[name], monthly._month == k).max().fill_null(0)
            for k in range(months) for name in names}
    return monthly.group_by("customer_id").aggregate(**wide)


def sequence_columns(columns: list[str]) -> tuple[list[list[str]], list[str]]:
    """([[month 0 columns], [month 1 columns], ...] oldest month first, feature names), from a
    frame's columns; empty when it has no monthly features."""
    found: dict[int, dict[str, str]] = {}
    for c in columns:
        m = _COLUMN.match(c)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = c
    if not found:
        return [], []
    names = sorted(set.intersection(*(set(v) for v in found.values())))
    return [[found[k][n] for n in names] for k in sorted(found, reverse=True)], names
