"""Risk x value segments with names and recommended actions (seed 004's analysis).

Risk is the probability of the bad outcome: activity decline, or no repeat purchase / return
visit (one minus the model's probability). Value is a profit or revenue column of a customer
table, a feature of an event log, or predicted spend (BG/NBD x Gamma-Gamma). Thresholds default
to the model's decision threshold and the median value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from winback.config import SegmentConfig

# outcomes that are bad news: a high probability is a high risk
RISK_PROBLEMS = ("activity_decline",)
PREDICTED_SPEND = "predicted spend"
PREDICTED_ORDERS = "predicted purchases"

SEGMENTS = ("high_risk_high_value", "high_risk_low_value", "low_risk_high_value", "low_risk_low_value")
DEFAULT_NAMES = {
    "high_risk_high_value": "Valuable, slipping away",
    "high_risk_low_value": "Low value, slipping away",
    "low_risk_high_value": "Valuable and loyal",
    "low_risk_low_value": "Low value, steady",
}
DEFAULT_ACTIONS = {
    "high_risk_high_value": "Contact first: personal offer on their favourite category, "
                            "recommendations, and ask what put them off.",
    "high_risk_low_value": "Automated, low-cost win-back: reminder e-mail or a small promo code.",
    "low_risk_high_value": "Keep them close: loyalty perks and early access; no discounts needed.",
    "low_risk_low_value": "Grow them: cross-sell and bundles in regular campaigns.",
}

# visitors who have not bought (first_purchase): no customer is "loyal" or "slipping away" yet;
# value is the intent they showed (cart adds), risk that they never buy
VISITOR_NAMES = {
    "high_risk_high_value": "Engaged, not buying yet",
    "high_risk_low_value": "Passing browsers",
    "low_risk_high_value": "Ready to buy",
    "low_risk_low_value": "Likely first-timers",
}
VISITOR_ACTIONS = {
    "high_risk_high_value": "First-order incentive on what they carted or viewed most, and answer what "
                            "holds them back (shipping, returns, sizes).",
    "high_risk_low_value": "Low-cost reach only: retargeting or a newsletter sign-up; no discount.",
    "low_risk_high_value": "Nudge to checkout: cart reminder, stock and price alerts; no discount needed.",
    "low_risk_low_value": "Welcome series: bestsellers, reviews and a clear path to the first order.",
}


def risk_of(problem: str, p: np.ndarray) -> np.ndarray:
    """Risk as the probability of the bad outcome: p itself for activity decline, 1 - p for
    the outcomes a store hopes for (a repeat purchase, a return visit, a first purchase)."""
    p = np.asarray(p, dtype=float)
    return p if problem in RISK_PROBLEMS else 1 - p


def event_value(frame: pd.DataFrame, value_column: str = "",
                gamma_gamma=None) -> tuple[np.ndarray, str]:
    """The value axis for an event-log frame at one cutoff, and what it is.

    A named feature column when configured; otherwise predicted spend over the row's window:
    BG/NBD expected purchases x the Gamma-Gamma expected order value (both fitted on that
    cutoff's history only, or `gamma_gamma` when a stored population fit is given); without
    amounts, the expected purchases alone."""
    from winback.errors import ConfigError, did_you_mean

    if value_column:
        if value_column not in frame.columns:
            raise ConfigError(f"segments.value_column '{value_column}' is not a feature of this log."
                              f"{did_you_mean(value_column, frame.columns)}")
        return frame[value_column].to_numpy(dtype=float), value_column
    if "bgnbd_expected_purchases" not in frame.columns:
        raise ConfigError("Segments need a value: set segments.value_column to a feature such as "
                          "'spend', or keep features.bgnbd = true for predicted spend.")
    expected = np.nan_to_num(frame["bgnbd_expected_purchases"].to_numpy(dtype=float))
    predicted, name = expected, PREDICTED_ORDERS
    if "avg_order_value" in frame.columns:
        from winback.models.gamma_gamma import GammaGamma

        orders = frame["n_orders"].to_numpy(dtype=float)
        aov = frame["avg_order_value"].to_numpy(dtype=float)
        gg = gamma_gamma if gamma_gamma is not None else GammaGamma.fit_or_none(orders, aov)
        if gg is not None:
            predicted, name = expected * gg.conditional_expected_order_value(orders, aov), PREDICTED_SPEND
    if len(predicted) > 1 and np.ptp(predicted) <= 1e-9:
        # the same prediction for everyone (BG/NBD could not tell these customers apart, or
        # diverged): every customer would be 'high value' and the matrix would say nothing
        past = realized_value_column(frame)
        if past:
            return frame[past].to_numpy(dtype=float), past
    return predicted, name


def realized_value_column(frame: pd.DataFrame) -> str:
    """The spend over the longest window the features have (spend_180d), else all spend, else
    the order count, else (visitors who never bought, whose spend and orders are all 0) the
    items they put in a cart, else their events: the value axis when no prediction tells
    customers apart."""
    windows = sorted((int(c[len("spend_"):-1]) for c in frame.columns
                      if c.startswith("spend_") and c.endswith("d") and c[len("spend_"):-1].isdigit()),
                     reverse=True)
    for column in [f"spend_{w}d" for w in windows] + ["spend", "n_orders", "n_cart", "n_events"]:
        if column in frame.columns and np.ptp(frame[column].fillna(0).to_numpy(dtype=float)) > 0:
            return column
    return ""


def value_check(rule: "SegmentRule", value: np.ndarray, after: np.ndarray, before: np.ndarray,
                measure: str, window_days: float) -> dict[str, Any]:
    """How well the value axis ranked what customers did next, at a cutoff whose label window
    is known: the share of the window's `after` (spend or orders) made by the customers it
    calls high value, and by its top tenth, against as many customers ranked by the naive
    forecast (the same-length window before, `before`) and by hindsight (the best any ranking
    can do), and Spearman's rank correlation of each forecast with it. `predicted_total` is the
    value axis' sum when it forecasts this measure (predicted spend, or predicted purchases
    against orders)."""
    from scipy.stats import spearmanr

    raw = np.asarray(value, dtype=float)
    known = np.isfinite(raw)
    ranked = np.where(known, raw, np.min(raw[known], initial=0.0) - 1)  # unknown: lowest, as segments
    after = np.nan_to_num(np.asarray(after, dtype=float))
    before = np.nan_to_num(np.asarray(before, dtype=float))
    high = int(np.sum(known & (raw >= rule.value_threshold)))
    total = float(after.sum())
    tenth = int(np.ceil(len(after) / 10))

    def captured(ranking: np.ndarray, size: int) -> float | None:
        if total <= 0 or np.ptp(ranking) == 0:  # all tied: a top tenth would be the rows' order
            return None
        top = np.argsort(-ranking, kind="stable")[:size]
        return float(min(after[top].sum() / total, 1.0))

    def correlation(x: np.ndarray) -> float | None:
        if len(x) < 3 or np.ptp(x) == 0 or np.ptp(after) == 0:
            return None
        return float(spearmanr(x, after).statistic)

    forecasts = {PREDICTED_SPEND: "spend", PREDICTED_ORDERS: "orders"}.get(rule.value_column) == measure
    return {
        "measure": measure, "window_days": float(window_days), "customers": int(len(after)),
        "high_value_customers": high, "top_tenth_customers": tenth, "actual_total": total,
        "predicted_total": float(raw[known].sum()) if forecasts else None,
        "capture": {name: {"value": captured(ranked, size), "previous_window": captured(before, size),
                           "hindsight": captured(after, size)}
                    for name, size in (("high_value", high), ("top_tenth", tenth))},
        "spearman": {"value": correlation(ranked), "previous_window": correlation(before)},
    }


def value_inputs(rule: "SegmentRule") -> list[str]:
    """The features `segment_value` reads for this rule."""
    if rule.value_column == PREDICTED_SPEND:
        return ["bgnbd_expected_purchases", "n_orders", "avg_order_value"]
    if rule.value_column == PREDICTED_ORDERS:
        return ["bgnbd_expected_purchases"]
    return [rule.value_column]


def segment_value(rule: "SegmentRule", column, gamma_gamma=None) -> np.ndarray:
    """The value axis for rows whose features `column(name)` returns as floats: the rule's value
    column, or predicted spend (expected purchases x `gamma_gamma`'s expected order value), or
    expected purchases alone when there is no Gamma-Gamma fit."""
    if rule.value_column not in (PREDICTED_SPEND, PREDICTED_ORDERS):
        return column(rule.value_column)
    expected = np.nan_to_num(column("bgnbd_expected_purchases"))
    if rule.value_column == PREDICTED_ORDERS or gamma_gamma is None:
        return expected
    return expected * gamma_gamma.conditional_expected_order_value(column("n_orders"),
                                                                   column("avg_order_value"))


@dataclass
class SegmentRule:
    risk_threshold: float
    value_threshold: float
    value_column: str
    names: dict[str, str]
    actions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegmentRule":
        return cls(**d)


def rule_from_config(cfg: SegmentConfig, risk_threshold: float, values: pd.Series,
                     value_name: str = "", problem: str = "") -> SegmentRule:
    """Thresholds resolved on training rows: the model threshold and the median value; the
    default names and actions are the visitors' for `problem` first_purchase."""
    from winback.config import validate_segment_keys

    validate_segment_keys(cfg)  # a config built in code skips config_from_dict's checks
    visitors = problem == "first_purchase"
    return SegmentRule(
        risk_threshold=cfg.risk_threshold or float(risk_threshold),
        value_threshold=cfg.value_threshold or value_split(values),
        value_column=value_name or cfg.value_column,
        names={**(VISITOR_NAMES if visitors else DEFAULT_NAMES), **cfg.names},
        actions={**(VISITOR_ACTIONS if visitors else DEFAULT_ACTIONS), **cfg.actions},
    )


def value_split(values) -> float:
    """Where high value starts: the median, or, when more than half the customers share the
    lowest value (no predicted spend for the visitors of a return-visit problem, say), the
    lowest value above it. At the median itself everyone was 'high value' there, and two of the
    four segments stayed empty."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan")
    median = float(np.median(v))
    if median == v.min():
        above = v[v > median]
        if len(above):
            return float(above.min())
    return median


def segment_codes(rule: SegmentRule, risk: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Index into SEGMENTS per customer; an unknown value counts as low."""
    high_risk = np.asarray(risk, dtype=float) >= rule.risk_threshold
    high_value = np.nan_to_num(np.asarray(value, dtype=float), nan=-np.inf) >= rule.value_threshold
    return np.where(high_risk, np.where(high_value, 0, 1), np.where(high_value, 2, 3))


def assign(rule: SegmentRule, risk: np.ndarray, value: np.ndarray) -> pd.DataFrame:
    """segment key, segment name and action per customer: text columns taken from the four
    texts by code in Arrow (a Python string per customer took ten times as long; a million
    customers are scored in seconds)."""
    code = pa.array(segment_codes(rule, risk, value))

    def texts(values: list[str]) -> pd.api.extensions.ExtensionArray:
        return pd.array(pa.array(values, type=pa.large_string()).take(code), dtype="str")

    return pd.DataFrame({"segment_key": texts(list(SEGMENTS)),
                         "segment": texts([rule.names[k] for k in SEGMENTS]),
                         "action": texts([rule.actions[k] for k in SEGMENTS])})


def summary(rule: SegmentRule, segments: pd.DataFrame, frame: pd.DataFrame, numeric: list[str],
            categorical: list[str], top: int = 8, outcome: np.ndarray | None = None) -> dict[str, Any]:
    """Sizes per segment and what sets 'high risk, high value' apart from everyone else:
    standardised mean differences of numeric columns, share differences of categories."""
    sizes = segments["segment_key"].value_counts().reindex(SEGMENTS, fill_value=0)
    focus = (segments["segment_key"] == SEGMENTS[0]).to_numpy()
    rows = []
    if 0 < focus.sum() < len(focus):
        for c in numeric:
            x = frame[c].to_numpy(dtype=float)
            if np.isnan(x[focus]).all() or np.isnan(x[~focus]).all():
                continue
            sd = np.nanstd(x)
            if sd > 0:
                a, b = np.nanmean(x[focus]), np.nanmean(x[~focus])
                rows.append({"feature": c, "segment": float(a), "others": float(b),
                             "effect": float((a - b) / sd), "kind": "mean"})
        for c in categorical:
            values = frame[c].astype("string")
            for v in values.dropna().unique():
                a = float((values[focus] == v).mean())
                b = float((values[~focus] == v).mean())
                p = float((values == v).mean())
                sd = np.sqrt(p * (1 - p))
                if sd > 0:
                    rows.append({"feature": f"{c} = {v}", "segment": a, "others": b,
                                 "effect": (a - b) / sd, "kind": "share"})
    rows.sort(key=lambda r: -abs(r["effect"]))
    keys = segments["segment_key"].to_numpy()
    observed = {k: (float(np.mean(outcome[keys == k])) if outcome is not None and (keys == k).any()
                    else None) for k in SEGMENTS}
    return {
        "sizes": [{"key": k, "name": rule.names[k], "action": rule.actions[k],
                   "customers": int(sizes[k]), "share": float(sizes[k] / max(len(segments), 1))}
                  for k in SEGMENTS],
        "distinguishing": rows[:top],
        "observed_rate": observed,
        "rule": rule.to_dict(),
    }
