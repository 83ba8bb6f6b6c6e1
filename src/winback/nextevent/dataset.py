"""Next-event samples: the last k events of a session and what came next (seed 001).

Every event of a session is a sample: its own features and those of up to k - 1 events before
it in the same session (type, seconds since the previous event, price, brand, category), the
time of day, weekday and month, and its position in the session; the target is the type of
the next event in the session, or "end" when it was the last one. Built as one Ibis expression
with window functions, so it runs where the log lives; samples are selected by the time of
their own event, so a model trained on one period is tested on a later one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

EVENT_TYPES = ("view", "cart", "remove_from_cart", "purchase")
CLASSES = (*EVENT_TYPES, "end")
PAD = 0  # type code of a missing earlier event; real types are 1..4


def samples_table(events: ir.Table, k: int, start: dt.datetime | None = None,
                  end: dt.datetime | None = None, timezone: str = "UTC", row_clock: bool = False) -> ir.Table:
    """One row per event of a session with an id, for events in [start, end); hour, weekday
    and month on the clock of `timezone` (the shop's: features.timezone or source.timezone),
    or on each event's own (`row_clock`, where the source names each row's zone)."""
    from winback.data.canonical import local_clock, zone_setting
    from winback.features import engine_of

    e = events.filter(events.session_id.notnull() & events.event_type.isin(EVENT_TYPES))
    w = ibis.window(group_by="session_id", order_by=["event_time", "event_type"])
    code = e.event_type.cases(*((t, i + 1) for i, t in enumerate(EVENT_TYPES)), else_=PAD)
    e = e.mutate(_code=code, _t=e.event_time.epoch_seconds())
    cols: dict[str, ir.Value] = {}
    for lag in range(k):
        cols[f"type_{lag}"] = (e._code if lag == 0 else e._code.lag(lag).over(w)).fill_null(PAD)
        prev_t = e._t.lag(lag + 1).over(w)
        this_t = e._t if lag == 0 else e._t.lag(lag).over(w)
        cols[f"gap_{lag}"] = (this_t - prev_t).fill_null(-1)
        price = e.amount if "amount" in e.columns else ibis.literal(0.0)
        cols[f"price_{lag}"] = (price if lag == 0 else price.lag(lag).over(w)).fill_null(0.0)
        for col in ("brand", "category"):
            if col in e.columns:
                v = e[col].cast("string")
                cols[f"{col}_{lag}"] = (v if lag == 0 else v.lag(lag).over(w)).fill_null("")
    local = local_clock(e, zone_setting(timezone), engine_of(events), row_clock)
    nxt = e.event_type.lead(1).over(w)
    later = ibis.window(group_by="session_id", order_by=["event_time", "event_type"], rows=(1, None))
    cols.update(
        purchase_later=(e.event_type == "purchase").any().over(later).fill_null(False).ifelse(1, 0).cast("int8"),
        customer_id=e.customer_id.cast("string"),
        hour=local.hour(), weekday=local.day_of_week.index(),
        month=local.month(), position=ibis.row_number().over(w) + 1,
        target=nxt.fill_null("end"), session_id=e.session_id, event_time=e.event_time,
    )
    out = e.select(**cols)
    if start is not None:
        out = out.filter(out.event_time >= start)
    if end is not None:
        out = out.filter(out.event_time < end)
    return out


@dataclass
class Samples:
    """Arrays for models: types (n, k) codes 0..4 oldest first, numeric (n, k, 2) log gap and
    log price, brand and category (n, k) integer codes, context (n, 5) hour, weekday, month,
    log position and "first event" flag, and the target class index (n,)."""

    types: np.ndarray
    numeric: np.ndarray
    brand: np.ndarray
    category: np.ndarray
    context: np.ndarray
    target: np.ndarray
    session: np.ndarray
    purchase_later: np.ndarray  # 1 when the session has a purchase after this event

    def __len__(self) -> int:
        return len(self.target)

    def subset(self, rows: np.ndarray) -> "Samples":
        return Samples(*(getattr(self, f)[rows] for f in (
            "types", "numeric", "brand", "category", "context", "target", "session",
            "purchase_later")))


class Vocabulary:
    """Integer codes for brands and categories seen in training; 0 = none or unseen."""

    def __init__(self, values: dict[str, list[str]] | None = None):
        self.values = values or {}

    def fit(self, frame: pd.DataFrame, k: int) -> "Vocabulary":
        for col in ("brand", "category"):
            cols = [f"{col}_{i}" for i in range(k) if f"{col}_{i}" in frame.columns]
            seen = pd.unique(frame[cols].to_numpy().ravel()) if cols else []
            self.values[col] = sorted(v for v in seen if v)
        return self

    def encode(self, frame: pd.DataFrame, col: str, k: int) -> np.ndarray:
        index = {v: i + 1 for i, v in enumerate(self.values.get(col, []))}
        out = np.zeros((len(frame), k), dtype=np.int64)
        for i in range(k):
            name = f"{col}_{i}"
            if name in frame.columns:
                out[:, i] = frame[name].map(index).fillna(0).to_numpy(dtype=np.int64)
        return out[:, ::-1].copy()

    def size(self, col: str) -> int:
        return len(self.values.get(col, [])) + 1


def to_samples(frame: pd.DataFrame, k: int, vocab: Vocabulary) -> Samples:
    """Arrays from a samples frame; lag columns are reversed so index k - 1 is the newest."""
    types = frame[[f"type_{i}" for i in range(k)]].to_numpy(dtype=np.int64)[:, ::-1].copy()
    gaps = frame[[f"gap_{i}" for i in range(k)]].to_numpy(dtype=float)[:, ::-1]
    prices = frame[[f"price_{i}" for i in range(k)]].to_numpy(dtype=float)[:, ::-1]
    numeric = np.stack([np.log1p(np.clip(gaps, 0, None)) * (gaps >= 0), np.log1p(np.abs(prices))],
                       axis=2).astype(np.float32)
    position = frame["position"].to_numpy(dtype=float)
    context = np.column_stack([
        frame["hour"].to_numpy(dtype=float) / 23.0, frame["weekday"].to_numpy(dtype=float) / 6.0,
        (frame["month"].to_numpy(dtype=float) - 1) / 11.0, np.log1p(position) / 4.0,
        (position <= 1).astype(float)]).astype(np.float32)
    target = frame["target"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=np.int64)
    return Samples(types, numeric, vocab.encode(frame, "brand", k), vocab.encode(frame, "category", k),
                   context, target, frame["session_id"].astype(str).to_numpy(),
                   frame["purchase_later"].to_numpy(dtype=np.int64))
