"""RFM, windowed counts and spend, trends, event-type mix, funnel ratios and time-of-week
shares: all from one scan of the history, as conditional aggregates."""

from __future__ import annotations

import ibis

from winback.data.layouts import PURCHASE, RETURN
from winback.features.context import FeatureContext

FUNNEL_TYPES = ("view", "cart", "remove_from_cart", "purchase")
HOUR_BINS = {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}


def _ratio(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    """num / den, null when den is 0 (a ratio with no denominator is unknown, not 0)."""
    return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))


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
        "active_days": h._day.nunique(),
        "tenure_days": h._age.max(),
        "recency_days": h._age.min(),
        "n_purchase_events": h.count(where=buy),
        "n_orders": h.order_id.nunique(where=buy),
        "purchase_days": h._day.nunique(where=buy),
        "purchase_recency_days": h._age.min(where=buy),
        "purchase_tenure_days": h._age.max(where=buy),
        "quantity": h.quantity.sum(where=buy).fill_null(0),
    }
    if ctx.has("amount"):
        aggs["spend"] = amount.sum(where=buy).fill_null(0)
        aggs["max_order_line"] = amount.max(where=buy)
    aggs["n_returns"] = h.count(where=h.event_type == RETURN)
    for w in ctx.windows_days:
        inside = h._age <= w
        aggs[f"events_{w}d"] = h.count(where=inside)
        aggs[f"orders_{w}d"] = h.order_id.nunique(where=inside & buy)
        if ctx.has("amount"):
            aggs[f"spend_{w}d"] = amount.sum(where=inside & buy).fill_null(0)
    tw = ctx.trend_window_days
    last, prev = h._age <= tw, (h._age > tw) & (h._age <= 2 * tw)
    aggs["_events_last"] = h.count(where=last)
    aggs["_events_prev"] = h.count(where=prev)
    aggs["_orders_last"] = h.order_id.nunique(where=last & buy)
    aggs["_orders_prev"] = h.order_id.nunique(where=prev & buy)
    if ctx.has("event_type"):
        for et in FUNNEL_TYPES:
            aggs[f"n_{et}"] = h.count(where=h.event_type == et)
    dow = h.event_time.day_of_week.index()  # Monday = 0
    aggs["weekend_share"] = (dow >= 5).cast("float64").mean()
    hour = h.event_time.hour()
    for name, (lo, hi) in HOUR_BINS.items():
        aggs[f"hour_{name}_share"] = ((hour >= lo) & (hour < hi)).cast("float64").mean()
    for col, name in (("product_id", "products"), ("brand", "brands"), ("category", "categories")):
        if ctx.has(col):
            aggs[f"distinct_{name}"] = h[col].nunique()
    t = h.group_by("customer_id").aggregate(**aggs)

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
