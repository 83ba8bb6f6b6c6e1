"""What every feature family needs to know about the cutoff and the data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dtypes

SECONDS_PER_DAY = 86400


def per(value: ibis.Value, divisor: int) -> ibis.Value:
    """value / divisor as DOUBLE on every engine. The divisor is an integer literal on purpose:
    ibis writes a float literal such as 86400.0 bare, which Spark reads as DECIMAL and rounds
    quotients of to six places."""
    return value.cast("float64") / int(divisor)


def share(condition: ibis.Value) -> ibis.Value:
    """Share of rows where `condition` holds (PostgreSQL cannot cast booleans to numbers)."""
    return condition.ifelse(1, 0).cast("float64").mean()


def when(value: ibis.Value, condition: ibis.Value) -> ibis.Value:
    """`value` where `condition` holds, else null: the input of a conditional aggregate.

    `when(x, c).sum()` sums what `x.sum(where=c)` sums, and `count_where(c)` counts what
    `table.count(where=c)` counts, but compiles to `SUM(CASE WHEN c THEN x END)` instead of
    `SUM(x) FILTER (WHERE c)`. DuckDB runs each FILTER clause of a group-by as a selection of
    its own; the feature query's 30 of them took about a tenth of its time on 20 M events
    (benchmarks/featurize.py), and every engine reads CASE alike.
    """
    return condition.ifelse(value, ibis.null(value.type()))


def count_where(condition: ibis.Value) -> ibis.Value:
    """Rows of the group where `condition` holds (0 when none): see `when`."""
    return when(ibis.literal(1, "int8"), condition).count()


@ibis.udf.scalar.builtin(name="list_unique")
def _list_unique(values: dtypes.Array[dtypes.int64]) -> dtypes.int64:
    """DuckDB's count of a list's distinct values."""


def distinct_count(col: ibis.Value, ctx: "FeatureContext") -> ibis.Value:
    """Distinct values per customer. COUNT(DISTINCT) builds a hash table of (customer, value)
    pairs, as large as the log when customers seldom view a product twice (12 M pairs in 16 M
    events); on DuckDB an integer column's values are gathered per customer and counted
    instead, which took about 10 % off featurising 20 M and 300 M events and used less memory
    at 20 M. Same counts (benchmarks/featurize.py compares them with pandas' nunique)."""
    if ctx.backend == "duckdb" and col.type().is_integer():
        return _list_unique(col.cast("int64").collect()).fill_null(0)
    return col.nunique()


@dataclass(frozen=True)
class FeatureContext:
    cutoff: dt.datetime  # naive UTC, exclusive
    windows_days: tuple[int, ...]
    trend_window_days: int
    available: frozenset[str]
    # the clock hour and weekday features read: a fixed offset in seconds or a zone name, and
    # the engine whose zone database converts to it
    timezone: int | str = 0
    backend: str = "duckdb"
    # read each event's own wall time (the canonical local_time of a source whose rows name
    # their zones) where the events carry one, rather than `timezone`'s clock
    row_clock: bool = False

    def local(self, events: ibis.Table) -> ibis.Value:
        """The events' times on the shop's clock: an evening purchase in New York is 23:00 UTC
        or later, and a Sunday one in Sydney a Saturday in UTC."""
        from winback.data.canonical import local_clock

        return local_clock(events, self.timezone, self.backend, self.row_clock)

    @property
    def cutoff_epoch(self) -> float:
        return self.cutoff.replace(tzinfo=dt.timezone.utc).timestamp()

    def days_before(self, ts: ibis.Value) -> ibis.Value:
        """Days (fractional) from `ts` to the cutoff; positive for past events."""
        return per(ibis.literal(int(self.cutoff_epoch)) - ts.epoch_seconds(), SECONDS_PER_DAY)

    def has(self, column: str) -> bool:
        return column in self.available
