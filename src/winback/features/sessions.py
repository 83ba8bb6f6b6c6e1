"""Session statistics: how many sessions, how long and deep they are, how many convert."""

from __future__ import annotations

import ibis

from winback.data.layouts import PURCHASE
from winback.features.context import FeatureContext, per, share


def session_features(history: ibis.Table, ctx: FeatureContext) -> ibis.Table | None:
    if not ctx.has("session_id"):
        return None
    s = (history.filter(history.session_id.notnull())
         .group_by(["customer_id", "session_id"])
         .aggregate(events=ibis._.count(),
                    seconds=ibis._.event_time.max().epoch_seconds() - ibis._.event_time.min().epoch_seconds(),
                    converted=(ibis._.event_type == PURCHASE).any()))
    return s.group_by("customer_id").aggregate(
        n_sessions=s.count(),
        events_per_session=s.events.mean(),
        session_minutes_mean=per(s.seconds, 60).mean(),
        session_minutes_max=per(s.seconds, 60).max(),
        session_conversion=share(s.converted),
    )
