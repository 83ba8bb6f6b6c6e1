"""From a raw source (CSV, Parquet, DuckDB) to winback's canonical event table."""

from winback.data.canonical import CANONICAL_COLUMNS, EventLog, load_events
from winback.data.layouts import LAYOUTS, Layout

__all__ = ["CANONICAL_COLUMNS", "EventLog", "LAYOUTS", "Layout", "load_events"]
