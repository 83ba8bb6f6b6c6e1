"""RFM, windowed counts and spend, trends, event-type mix, funnel ratios and time-of-week
shares.

Additive aggregates (counts, sums, min/max) come from one scan of the history. Distinct counts
are the expensive part of a group-by, so the day- and order-level ones are computed on
pre-aggregated tables instead: (customer, day) rows for active and purchase days, and purchase
rows grouped by order for order counts per window. Results are identical to counting distinct
values directly (benchmarks/featurize.py compares every shared feature with pandas).
"""

from __future__ import annotations

import ibis

from winback.data.layouts import PURCHASE, RETURN
from winback.features.context import FeatureContext, count_where, distinct_count, share, when

FUNNEL_TYPES = ("view", "cart", "remove_from_cart", "purchase")
HOUR_BINS = {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}


def _ratio(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    """num / den, null when den is 0 (a ratio with no denominator is unknown, not 0)."""
    return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))


def _day_counts(h: ibis.Table) -> ibis.Table:
    """Active days and purchase days per customer, from one row per (customer, day)."""
    days = h.group_by(["customer_id", "_day"]).aggregate(_bought=h._buy.any())
    return days.group_by("customer_id").aggregate(
        active_days=days.count(), purchase_days=count_where(days._bought)
    )


def _order_counts(h: ibis.Table, ctx: FeatureContext) -> ibis.Table:
    """Distinct orders overall, per window and in the trend windows, from one row per order.

    An order counts in a window when any of its purchase lines falls inside it, which for
    windows ending at the cutoff means its most recent line does.
    """
    tw = ctx.trend_window_days
    lines = h.filter(h._buy & h.order_id.notnull())
    orders = lines.group_by(["customer_id", "order_id"]).aggregate(
        _newest=lines._age.min(),
        _in_prev=((lines._age > tw) & (lines._age <= 2 * tw)).any(),
    )
    aggs = {"n_orders": orders.count()}
    for w in ctx.windows_days:
        aggs[f"orders_{w}d"] = count_where(orders._newest <= w)
    aggs["_orders_last"] = count_where(orders._newest <= tw)
    aggs["_orders_prev"] = count_where(orders._in_prev)
    return orders.group_by("customer_id").aggregate(**aggs)


def activity_features(history: ibis.Table, ctx: FeatureContext) -> ibis.Table:
    h = history.mutate(
        _age=ctx.days_before(history.event_time),
        _day=history.event_time.truncate("D"),
        _buy=history.event_type == PURCHASE,
    )
    buy = h._buy
    amount = h.amount
    aggs: dict[str, ibis.Value] = {
        "n_events": h.count(),
        "tenure_days": h._age.max(),
        "recency_days": h._age.min(),
        "n_purchase_events": count_where(buy),
        "purchase_recency_days": when(h._age, buy).min(),
        "purchase_tenure_days": when(h._age, buy).max(),
        "quantity": when(h.quantity, buy).sum().fill_null(0),
    }
    if ctx.has("amount"):
        aggs["spend"] = when(amount, buy).sum().fill_null(0)
        aggs["max_order_line"] = when(amount, buy).max()
    aggs["n_returns"] = count_where(h.event_type == RETURN)
    for w in ctx.windows_days:
        inside = h._age <= w
        aggs[f"events_{w}d"] = count_where(inside)
        if ctx.has("amount"):
            aggs[f"spend_{w}d"] = when(amount, inside & buy).sum().fill_null(0)
    tw = ctx.trend_window_days
    aggs["_events_last"] = count_where(h._age <= tw)
    aggs["_events_prev"] = count_where((h._age > tw) & (h._age <= 2 * tw))
    if ctx.has("event_type"):
        for et in FUNNEL_TYPES:
            aggs[f"n_{et}"] = count_where(h.event_type == et)
    local = ctx.local(h)
    dow = local.day_of_week.index()  # Monday = 0
    aggs["weekend_share"] = share(dow >= 5)
    hour = local.hour()
    for name, (lo, hi) in HOUR_BINS.items():
        aggs[f"hour_{name}_share"] = share((hour >= lo) & (hour < hi))
    for col, name in (("product_id", "products"), ("brand", "brands"), ("category", "categories")):
        if ctx.has(col):
            aggs[f"distinct_{name}"] = distinct_count(h[col], ctx)
    t = h.group_by("customer_id").aggregate(**aggs)
    days, orders = _day_counts(h), _order_counts(h, ctx)
    t = (t.left_join(days, "customer_id").drop("customer_id_right")
         .left_join(orders, "customer_id").drop("customer_id_right"))
    zero_when_missing = ["n_orders", "_orders_last", "_orders_prev",
                         *(f"orders_{w}d" for w in ctx.windows_days)]
    t = t.mutate(**{c: t[c].fill_null(0) for c in zero_when_missing})

    derived: dict[str, ibis.Value] = {
        "avg_order_value": _ratio(t.spend, t.n_orders) if ctx.has("amount") else None,
        "return_share": _ratio(t.n_returns, t.n_returns + t.n_purchase_events),
        "trend_events": _ratio(t._events_last - t._events_prev, t._events_last + t._events_prev),
        "trend_orders": _ratio(t._orders_last - t._orders_prev, t._orders_last + t._orders_prev),
        "events_per_active_day": _ratio(t.n_events, t.active_days),
    }
    if ctx.has("event_type"):
        for et in FUNNEL_TYPES:
            derived[f"share_{et}"] = _ratio(t[f"n_{et}"], t.n_events)
        derived["cart_per_view"] = _ratio(t.n_cart, t.n_view)
        derived["purchase_per_cart"] = _ratio(t.n_purchase, t.n_cart)
        derived["purchase_per_view"] = _ratio(t.n_purchase, t.n_view)
    t = t.mutate(**{k: v for k, v in derived.items() if v is not None})
    return t.drop("_events_last", "_events_prev", "_orders_last", "_orders_prev")
