"""Inter-purchase times on purchase days: mean, spread, the last gap, and how overdue the
customer is (days since the last purchase over the mean gap)."""

from __future__ import annotations

import ibis

from winback.data.layouts import PURCHASE
from winback.features.context import SECONDS_PER_DAY, FeatureContext, per, when


def interpurchase_features(history: ibis.Table, ctx: FeatureContext) -> ibis.Table:
    days = (history.filter(history.event_type == PURCHASE)
            .select("customer_id", day=history.event_time.truncate("D"))
            .distinct())
    w = ibis.window(group_by="customer_id", order_by="day")
    days = days.mutate(
        gap=per(days.day.epoch_seconds() - days.day.lag().over(w).epoch_seconds(), SECONDS_PER_DAY),
        is_last=days.day.lead().over(w).isnull(),
    )
    t = days.group_by("customer_id").aggregate(
        gap_mean_days=days.gap.mean(),
        gap_std_days=days.gap.std(),
        last_gap_days=when(days.gap, days.is_last).max(),
        _last_day=days.day.max(),
    )
    overdue = ctx.days_before(t._last_day)
    return t.mutate(
        recency_over_gap=ibis.ifelse(t.gap_mean_days > 0, overdue / t.gap_mean_days,
                                     ibis.null("float64"))
    ).drop("_last_day")
