"""Customer features at a cutoff, as Ibis expressions.

Each family is a function from the events before the cutoff to one row per customer; nothing
runs until `build_features(...).execute()` (or `to_pyarrow`), so the same definitions compile
to DuckDB, Spark, PostgreSQL or BigQuery. Only events strictly before the cutoff are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import ibis
from ibis.common.exceptions import IbisError

from winback.errors import ConfigError
from winback.features.activity import activity_features
from winback.features.attributes import attribute_features
from winback.features.context import FeatureContext
from winback.features.monthly import monthly_features
from winback.features.purchases import interpurchase_features
from winback.features.sessions import session_features


@dataclass(frozen=True)
class FeatureSpec:
    """What to compute; stored in the model bundle so scoring rebuilds the same columns."""

    windows_days: tuple[int, ...] = (7, 30, 90, 180)
    trend_window_days: int = 30
    available: tuple[str, ...] = ("customer_id", "event_time", "event_type", "amount")
    bgnbd: bool = True
    sequence_months: int = 0  # monthly seq_m{k}_* columns for sequence models; 0 = none
    timezone: str = "UTC"  # the clock of hour and weekday features (features.timezone)
    # hour and weekday on each event's own clock where the source names each row's zone
    # (source.timezone_column); `timezone` is then the clock of events that carry none
    row_clock: bool = False
    # customer attributes on the events (features.attributes): (column, kind, levels) each,
    # the levels of a text one learnt at training (winback.features.attributes)
    attributes: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    columns: tuple[str, ...] = field(default=())  # filled after the first build

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        if "attributes" in d:  # JSON lists inside the list
            d["attributes"] = tuple((str(c), str(k), tuple(levels)) for c, k, levels in d["attributes"])
        return cls(**d)

    @classmethod
    def from_bundle(cls, stored: dict) -> tuple["FeatureSpec", list[str]]:
        """A bundle's `feature_spec` entry: the spec to rebuild features with, and the model's
        input columns stored beside it."""
        d = dict(stored)
        columns = list(d.pop("columns"))
        return cls.from_dict(d), columns


def engine_of(events: ibis.Table) -> str:
    """The engine a table is bound to, or DuckDB's SQL for an unbound one."""
    try:
        return events._find_backend().name
    except IbisError:
        return "duckdb"


def build_features(events: ibis.Table, cutoff: dt.datetime, spec: FeatureSpec,
                   backend: str | None = None) -> ibis.Table:
    """One row per customer with any event before `cutoff`; keyed by customer_id. `backend`
    names the engine the SQL is for when `events` is bound to none (compiling for BigQuery)."""
    from winback.data.canonical import zone_setting

    ctx = FeatureContext(cutoff=cutoff, windows_days=spec.windows_days,
                         trend_window_days=spec.trend_window_days, available=frozenset(spec.available),
                         timezone=zone_setting(spec.timezone), backend=backend or engine_of(events),
                         row_clock=spec.row_clock)
    history = events.filter(events.event_time < cutoff)
    table = activity_features(history, ctx)
    parts = [family(history, ctx) for family in (interpurchase_features, session_features)]
    if spec.sequence_months:
        parts.append(monthly_features(history, ctx, spec.sequence_months))
    if spec.attributes:
        attribute_parts = attribute_features(history, ctx, spec.attributes)
        from winback.frame import BGNBD_FEATURES, ID_COLUMNS  # added to the frame after this query

        own = ({*table.columns, *BGNBD_FEATURES, *ID_COLUMNS}
               | {c for p in parts if p is not None for c in p.columns})
        taken = [c for part in attribute_parts for c in part.columns if c != "customer_id" and c in own]
        if taken:
            raise ConfigError(f"features.attributes: the column '{taken[0]}' has the name of one of "
                              f"winback's own features; rename it in the source (or with a "
                              f"lookup's rename) to use it as an attribute.")
        parts += attribute_parts
    for part in parts:
        if part is not None:
            table = table.left_join(part, "customer_id").drop("customer_id_right")
    return table


__all__ = ["FeatureSpec", "build_features", "FeatureContext"]
