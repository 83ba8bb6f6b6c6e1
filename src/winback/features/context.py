"""What every feature family needs to know about the cutoff and the data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class FeatureContext:
    cutoff: dt.datetime  # naive UTC, exclusive
    windows_days: tuple[int, ...]
    trend_window_days: int
    available: frozenset[str]

    @property
    def cutoff_epoch(self) -> float:
        return self.cutoff.replace(tzinfo=dt.timezone.utc).timestamp()

    def days_before(self, ts: ibis.Value) -> ibis.Value:
        """Days (fractional) from `ts` to the cutoff; positive for past events."""
        return (self.cutoff_epoch - ts.epoch_seconds()) / SECONDS_PER_DAY

    def has(self, column: str) -> bool:
        return column in self.available
