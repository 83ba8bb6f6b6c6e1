"""Build and validate the canonical event table.

Validation runs as a handful of aggregate queries on the engine (no pandas copy of the log);
only when a check fails does winback fetch a few offending rows, numbered from 1 for the first
data row, to show in the message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import ibis.expr.datatypes as dtypes
from ibis.backends.duckdb import Backend as DuckDBBackend

from winback.config import UNIX_TIME_FORMATS, Config, SourceConfig
from winback.data.layouts import (CANONICAL_TYPES, ID_COLUMNS, LAYOUTS, LOCAL_TIME, PURCHASE, REQUIRED, RETURN,
                                  SOURCE_ROW, Layout)
from winback.data.engines import connect_engine, engine_table
from winback.data.lookups import OpenLookup, join_lookups, open_lookups, temp_name, unmatched_note, without_markers
from winback.data.numbers import NumberFormat, number_format_hint, source_number_format, text_number
from winback.data.sources import (check_title_lines, connect, damaged_text, files_lacking, is_read_failure,
                                  matching_files, open_source, repeated_header_names, source_format)
from winback.data.zones import SUFFIX_OFFSETS, fixed_offset, zone_of
from winback.errors import ConfigError, DataError, did_you_mean

CANONICAL_COLUMNS = tuple(CANONICAL_TYPES)
# the usual marks of a missing value, as R, pandas and Excel write them
MISSING_MARKS = ("na", "n/a", "nan", "null", "none", "#n/a")
MISSING_IDS = ("", *sorted({v for m in MISSING_MARKS for v in (m, m.upper(), m.title(), m.capitalize())}),
               "NaN")
# a time's own zone at its end: UTC, an offset, or an abbreviation that names one ('PST')
_SUFFIXES = "|".join(sorted(SUFFIX_OFFSETS, key=len, reverse=True))
ZONE_PATTERN = r"(\s*(?:UTC|GMT|Z|" + _SUFFIXES + r"|[+-]\d{2}:?\d{2}))$"
ZONE_CHARS = 8  # the longest zone ZONE_PATTERN reads ('+01:00') with room for a space before it
FUTURE_TOLERANCE = dt.timedelta(days=1)
ISO = "iso"
ISO_LIKE = (r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(UTC|GMT|Z|" + _SUFFIXES
            + r"|[+-]\d{2}:?\d{2})?")
UNIX_NAMES = {"unix_s": "seconds", "unix_ms": "milliseconds", "unix_us": "microseconds"}
EXAMPLES = 5


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: str, fmt: str) -> dt.datetime:  # type: ignore[empty-body]
    """DuckDB's try_strptime: NULL instead of an error for text that does not match."""


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _spark_try_to_timestamp(text: str, fmt: str) -> dt.datetime:  # type: ignore[empty-body]
    """Spark's try_to_timestamp with a Java pattern: NULL for text that does not match."""


@ibis.udf.scalar.builtin(name="to_timestamp")
def _pg_to_timestamp(text: str, fmt: str) -> dt.datetime:  # type: ignore[empty-body]
    """PostgreSQL's to_timestamp with its own template (an instant in the session's zone)."""


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(ts: dt.datetime) -> int:  # type: ignore[empty-body]
    """DuckDB's microseconds since the epoch of an instant."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _timestamp_from_us(us: int) -> dtypes.Timestamp(scale=6):  # type: ignore[empty-body,valid-type]
    """DuckDB's naive timestamp `us` microseconds after the epoch."""


@ibis.udf.scalar.builtin(name="timezone")
def _timezone(zone: str, ts: dt.datetime) -> dt.datetime:  # type: ignore[empty-body]
    """DuckDB's and PostgreSQL's timezone(): a naive local time in `zone` to an instant, and an
    instant to the naive wall time in `zone`."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _spark_to_utc(ts: dt.datetime, zone: str) -> dt.datetime:  # type: ignore[empty-body]
    """Spark's to_utc_timestamp: a naive local time in `zone` as naive UTC."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_from_utc(ts: dt.datetime, zone: str) -> dt.datetime:  # type: ignore[empty-body]
    """Spark's from_utc_timestamp: naive UTC as the naive wall time in `zone`."""


@ibis.udf.scalar.builtin(name="timestamp")
def _bq_timestamp(ts: dt.datetime, zone: str) -> dt.datetime:  # type: ignore[empty-body]
    """BigQuery's TIMESTAMP(datetime, zone): a civil time in `zone` as an instant."""


@ibis.udf.scalar.builtin(name="datetime")
def _bq_datetime(ts: dt.datetime, zone: str) -> dt.datetime:  # type: ignore[empty-body]
    """BigQuery's DATETIME(timestamp, zone): an instant as the civil time in `zone`."""


def _local_to_utc(ts: ibis.Value, zone: str, backend: str) -> ibis.Value:
    """Naive wall times in the IANA `zone` (daylight saving included) as naive UTC, in each
    engine's own zone database."""
    if backend == "spark":
        return _spark_to_utc(ts, zone)
    if backend == "bigquery":
        return _bq_datetime(_bq_timestamp(ts, zone), "UTC")
    return _timezone("UTC", _timezone(zone, ts))  # DuckDB (ICU) and PostgreSQL


def utc_to_local(ts: ibis.Value, zone: int | str, backend: str) -> ibis.Value:
    """Naive UTC times as the wall clock of `zone` (a fixed offset in seconds, or an IANA name
    whose offset follows daylight saving), in each engine's own zone database."""
    if isinstance(zone, int):
        return ts + ibis.interval(seconds=zone) if zone else ts
    if backend in ("spark", "pyspark"):
        return _spark_from_utc(ts, zone)
    if backend == "bigquery":
        return _bq_datetime(_bq_timestamp(ts, "UTC"), zone)
    return _timezone(zone, _timezone("UTC", ts))  # DuckDB (ICU) and PostgreSQL


def local_clock(events: ibis.Table, zone: int | str, backend: str, row_clock: bool = False) -> ibis.Value:
    """The events' wall times: each one's own (`local_time`) when `row_clock` is set and the
    events carry it (a source whose rows name their zones), else event_time on `zone`'s clock.
    Events without their own (a service's posted times that name no zone) read `zone`'s."""
    shop = utc_to_local(events.event_time, zone, backend)
    if row_clock and LOCAL_TIME in events.columns:
        return events[LOCAL_TIME].cast(dtypes.Timestamp(scale=6)).coalesce(shop)
    return shop


@dataclass
class EventLog:
    """Canonical events on an engine, with what is known about them.

    `table` has the canonical columns (event_time is a naive timestamp in UTC) plus
    passthrough attributes. `available` lists the canonical columns the source provided, so
    features that need, say, brands are only built when brands exist.
    """

    con: DuckDBBackend
    table: ibis.Table
    available: frozenset[str]
    source_name: str
    summary: dict[str, Any] = field(default_factory=dict)
    # with source.partitioned_by_customer, the same canonical events file by file: features,
    # which read one customer at a time, are built per file and stacked (see frame.features_of)
    parts: tuple[ibis.Table, ...] = ()

    @property
    def start(self) -> dt.datetime:
        return self.summary["first_event"]

    @property
    def end(self) -> dt.datetime:
        return self.summary["last_event"]

    @property
    def fingerprint(self) -> str:
        return self.summary["fingerprint"]


def load_events(cfg: Config, con: DuckDBBackend | None = None, materialize: bool = True) -> EventLog:
    """Read, map and validate the source named in `cfg.source`; raise DataError on bad input."""
    source = cfg.source
    if source.layout not in LAYOUTS:
        raise ConfigError(
            f"Unknown layout '{source.layout}' in source.layout.{did_you_mean(source.layout, LAYOUTS)} "
            f"Known layouts: {', '.join(LAYOUTS)}."
        )
    embedded = source.backend == "duckdb"
    if embedded and not source.path:
        raise ConfigError("source.path is empty: name the CSV, Parquet (glob) or DuckDB file to read.")
    layout = LAYOUTS[source.layout]
    mapping = _mapping(layout, source.columns)
    con = con or connect_engine(cfg)
    read_notes: list[str] = []  # CSV lines skipped (bad_lines = "skip")
    if embedded:
        path = cfg.resolve(source.path)
        raw = open_source(con, source, path, read_notes)
        name = str(path) + (f" (table {source.table})" if source.table else "")
    else:
        raw = engine_table(con, cfg)
        path = cfg.resolve(source.path) if source.path else Path()
        name = f"{source.backend} " + (f"table {source.table}" if source.table else str(path))
    if source.path and not source.table and (embedded or source.backend == "spark") and not source.skip_rows:
        check_title_lines(source, path, raw, name)
    source_columns = list(raw.columns)
    if embedded and (source.lookups or layout.expand_columns):
        # numbered before lookups join and a layout makes two events of one row (a payment and
        # its refund), so that errors name the file's own rows; a warehouse's rows have no
        # order to name, and numbering them takes one partition on Spark. (GA4's layout only
        # drops rows: numbering its 3 M-event export took 0.4 GB more and no error needs it.)
        raw = raw.mutate(**{SOURCE_ROW: ibis.row_number() + 1})
    lookups: list[OpenLookup] = []
    if source.lookups:  # columns joined by key from other tables (an order line's customer)
        lookups = open_lookups(con, cfg, raw)
        raw = join_lookups(raw, lookups)
        if embedded and not source.partitioned_by_customer:
            # joined once for the checks that each read it (2 M Olist lines: 18 s joining in
            # every query, against 5 s for the same lines joined beforehand)
            raw = con.create_table(temp_name("joined"), raw, temp=True)
        name += " with " + ", ".join(lk.name for lk in lookups)
    # a version of the source that names a column otherwise (Online Retail II's 'Customer ID')
    mapping.update({k: v for k, v in layout.columns_in(list(raw.columns)).items()
                    if k in mapping and k not in source.columns})
    if layout.name == "events":
        # a column named as winback's own (amount, event_type, order_id) is read as that, unless
        # [source.columns] maps it elsewhere or unmaps it with ""; it used to be left unread
        mapping.update({c: c for c in CANONICAL_TYPES if c in raw.columns and c not in mapping
                        and c not in mapping.values() and source.columns.get(c) != ""})
    if embedded or (source.backend == "spark" and not source.table):
        _check_every_file(source, path, mapping, [c for c in (*mapping.values(), *layout.derive_needs,
                                                               source.time_of_day, source.timezone_column)
                                                  if c in source_columns])
    if layout.derive is not None:
        _require_raw(raw, layout.derive_needs, name, f"the {layout.name} layout")
    time_format = source.time_format or layout.time_format
    time_format = "" if time_format == ISO else time_format  # "iso" overrides a layout's format
    date_column = mapping.get("event_time", "")
    if source.time_of_day:
        _require_raw(raw, (date_column, source.time_of_day), name, "source.time_of_day (with event_time)")
        mapping["event_time"] = f"{date_column} + {source.time_of_day}"

    def derived_columns(r: ibis.Table) -> dict[str, ibis.Value]:
        """Columns computed from the raw ones: the layout's (GA sessions, Shopify orders) and a
        date joined to its time of day."""
        columns = dict(layout.derive(r)) if layout.derive is not None else {}
        if source.time_of_day:
            columns[mapping["event_time"]] = _date_and_time(
                r[date_column], r[source.time_of_day], _midnight(time_format))
        return columns

    lookup_note = ""
    if lookups:
        lookup_note = unmatched_note(raw, lookups)
        raw = without_markers(raw, lookups)
    source_rows = raw
    if layout.expand is not None:  # rows holding two events (a payment and its later refund)
        raw = layout.expand(raw)
        if layout.expand_columns and embedded and not source.partitioned_by_customer:
            # rows made from one (a payment and its refund) are made once for the checks that
            # each read them: 1 M Shopify lines 16.5 s making them in every check against
            # 10.0 s, 1 M Stripe payments 10.7 s against 7.1 to 8.6 s, for 15 to 25 % more
            # memory (GA4's layout, which only drops repeats, gained little for twice the memory)
            raw = con.create_table(temp_name("expanded"), raw, temp=True)
    expand_note = layout.expand_note(source_rows, raw) if layout.expand_note is not None else ""
    extra = derived_columns(raw)
    derived = set(extra) | set(layout.expand_columns)
    raw = raw.mutate(**extra) if extra else raw
    # the customer attributes the features read are carried as passthrough columns are
    carried = list(dict.fromkeys([*source.passthrough, *cfg.features.attributes]))
    _check_columns(raw, mapping, source.passthrough, name, cfg.features.attributes)

    # a count since the epoch is UTC, and so is a timestamp the layout derives from one (GA's
    # visitStartTime); text a layout derives (Shopify's order time) is read as written
    epoch = mapping["event_time"] in derived and not raw[mapping["event_time"]].type().is_string()
    zone_offset, zoned = ((0, False) if time_format in UNIX_TIME_FORMATS or epoch
                          else _zone_offset_of(raw, mapping["event_time"], name, source.timezone))
    if source.timezone_column:
        _require_raw(raw, (source.timezone_column,), name, "source.timezone_column")
        if not zoned:  # times that carry their own offset are instants already
            zone_offset = _row_zones(raw, source.timezone_column, name, zone_offset)
            if LOCAL_TIME in source.passthrough:
                raise ConfigError(
                    f"source.passthrough lists '{LOCAL_TIME}', the name winback gives each event's "
                    f"wall time in the zone source.timezone_column names; rename that column in "
                    f"the source or leave it out of passthrough.")

    is_csv = embedded and source_format(source, cfg.resolve(source.path)) == "csv"
    numbers = source_number_format(source)
    unstripped = raw
    if is_csv:
        # CSV text is typed by hand, with stray spaces: each mapped column is trimmed once, in
        # a projection the typed columns read, instead of inside every expression that reads
        # it (CASE branches are not shared, and trimming was 6 s of 13 s on 5 M rows)
        raw = raw.mutate(**{c: _trimmed(raw[c]) for c in dict.fromkeys(mapping.values())
                            if raw[c].type().is_string()})

    def typed(t: ibis.Table) -> dict[str, ibis.Value]:
        return _typed_columns(t, mapping, layout, source.event_types, time_format, zone_offset,
                              duckdb=embedded, numbers=numbers, zoned=zoned,
                              backend=source.backend, negative_amounts=source.negative_amounts,
                              missing_ids=tuple(source.missing_customer_ids),
                              lowercase_ids=source.lowercase_customer_ids)

    def made(r: ibis.Table, trim: bool = True) -> ibis.Table:
        """The source's rows (lookups joined) as `raw` holds them: the layout's rows, derived
        columns, and trimmed text (`unstripped` without `trim`)."""
        if layout.expand is not None:
            r = layout.expand(r)
        if extra:
            r = r.mutate(**derived_columns(r))
        if is_csv and trim:
            r = r.mutate(**{c: _trimmed(r[c]) for c in dict.fromkeys(mapping.values())
                            if r[c].type().is_string()})
        return r

    def numbered(trim: bool = True) -> ibis.Table:
        """`raw` (or `unstripped`) with SOURCE_ROW, the row of the source each row came from,
        for the rows an error shows: a layout that drops rows (GA4's repeated purchases) would
        shift row numbers counted after it. Numbered here, only when an error needs it, since
        numbering GA4's 3 M-event export up front took 0.4 GB more."""
        rows = raw if trim else unstripped
        if SOURCE_ROW in rows.columns:
            return rows
        if embedded and layout.expand is not None:
            return made(source_rows.mutate(**{SOURCE_ROW: ibis.row_number() + 1}), trim)
        return rows.mutate(**{SOURCE_ROW: ibis.row_number() + 1})

    cols = typed(raw)
    try:
        no_customer, negative = _validate(raw, cols, typed, mapping, name, drop_missing=source.drop_missing_customers,
                                          time_format=time_format, numbers=numbers,
                                          negative_amounts=source.negative_amounts, numbered=numbered)
    except DataError as exc:
        if not lookup_note:
            raise
        # empty values may be keys no lookup row matched, rather than blanks in a file
        raise DataError(f"{exc} Note: {lookup_note}") from exc
    # rows a layout made from one (a payment and its refund) differ in its own columns
    duplicates = _check_duplicates(unstripped.drop(SOURCE_ROW) if SOURCE_ROW in unstripped.columns else unstripped,
                                   name, source.duplicates, con if embedded else None,
                                   numbered=lambda: numbered(trim=False))

    def finished(r: ibis.Table, typed_cols: dict[str, ibis.Value]) -> ibis.Table:
        out = r.select(**typed_cols, **{c: r[c] for c in carried})
        if source.drop_missing_customers:
            out = out.filter(out.customer_id.notnull())
        if source.negative_amounts == "drop" and negative:
            out = out.filter(~_negative_purchase(out, False).fill_null(False))
        if source.duplicates == "drop":
            out = out.distinct()
        return out

    canonical = finished(raw, cols)
    parts: tuple[ibis.Table, ...] = ()
    if source.partitioned_by_customer and embedded:
        def prepared(r: ibis.Table) -> ibis.Table:  # as `raw` was
            return made(without_markers(join_lookups(r, lookups), lookups) if lookups else r)

        schema = canonical.schema()
        parts = tuple(finished(r, typed(r)).cast(schema) for r in
                      (prepared(open_source(con, source, Path(f))) for f in matching_files(path)))
        materialize = False  # each cutoff reads the files, one at a time
    if materialize and is_csv:
        # CSV text is parsed and typed once into a copy that every cutoff reads. Parquet and
        # DuckDB tables are read again instead, as a warehouse reads its own: on 20 M REES46
        # events a copy took 5.3 s and 3 GB more memory to save 0.4 s per cutoff
        canonical = con.create_table("winback_events", canonical, temp=True, overwrite=True)
    # event_type is information only when the source has it; order tables are all purchases
    available = set(mapping) | {"quantity", "order_id"}
    if "amount" in mapping or "price" in mapping:
        available.add("amount")
    summary = _summarize(canonical, name, mapping.get("customer_id", ""))
    summary["duplicate_rows"] = duplicates
    summary["layout_note"] = expand_note
    summary["skipped_lines"] = "; ".join(read_notes)
    summary["lookup_note"] = lookup_note
    summary["dropped_without_customer"] = no_customer if source.drop_missing_customers else 0
    summary["dropped_negative_amounts"] = negative if source.negative_amounts == "drop" else 0
    summary["duplicates_policy"] = source.duplicates
    summary["event_type_column"] = "" if layout.event_type_rule else mapping.get("event_type", "")
    # the amount column of a hand-mapped log, which may hold an order's total on each line
    summary["order_amount_column"] = (mapping["amount"] if layout.name == "events" and "amount" in mapping
                                      and "order_id" in mapping else "")
    summary["unread_statuses"] = (unread_statuses(raw, mapping, summary["rows"])
                                  if "event_type" not in mapping and layout.event_type_rule is None else "")
    # a layout that picks the amount says its currency's column: none when that is one currency
    currency = layout.currency_column(list(raw.columns)) if layout.currency_column else None
    summary["mixed_currencies"] = (mixed_currencies(raw, mapping, currency or "")
                                   if ("amount" in mapping or "price" in mapping) and currency != "" else "")
    local_files = (embedded or source.backend == "spark") and source.path and not source.table
    repeated = repeated_header_names(source, path, len(source_columns)) if local_files else []
    summary["repeated_columns"] = repeated_columns(unstripped, mapping, repeated, name) if repeated else ""
    return EventLog(con, canonical, frozenset(available), name, summary, parts)


def _mapping(layout: Layout, overrides: dict[str, str]) -> dict[str, str]:
    for key in overrides:
        if key not in CANONICAL_TYPES:
            raise ConfigError(
                f"[source.columns] has '{key}', which is not a canonical column."
                f"{did_you_mean(key, CANONICAL_TYPES)} Canonical columns: "
                f"{', '.join(CANONICAL_TYPES)}."
            )
    mapping = {**layout.columns, **overrides}
    return {k: v for k, v in mapping.items() if v}


def _check_every_file(source: SourceConfig, path: Path, mapping: dict[str, str], columns: list[str]) -> None:
    lacking = files_lacking(source, path, columns)
    if lacking:
        file, missing = next(iter(lacking.items()))
        canonical = next((k for k, v in mapping.items() if v == missing[0] and k not in REQUIRED), None)
        unmap = (f" (an optional one is unmapped by {canonical} = \"\" in [source.columns])"
                 if canonical else "")
        raise DataError(
            f"{len(lacking)} file(s) of {path} lack column(s) that other files have and the "
            f"mapping reads, e.g. {file} lacks {', '.join(repr(c) for c in missing)}: their rows "
            f"would read as empty values. Fix or leave out those files, or map only columns every "
            f"file has{unmap}."
        )


# where a strptime format's time of day starts ('%m/%d/%Y %I:%M %p' -> ' %I:%M %p')
_CLOCK_PART = re.compile(r"[ T]?%[HIMSpfXTR].*$")


def _midnight(time_format: str) -> str:
    """Midnight as the time part of `time_format` writes it ('00:00:00', '12:00 AM'), for a
    date whose time of day is blank; '' for ISO text, where the date alone is midnight."""
    clock = _CLOCK_PART.search(time_format) if time_format not in UNIX_TIME_FORMATS else None
    return dt.datetime(2000, 1, 1).strftime(clock.group(0)).strip() if clock else ""


def _date_and_time(date: ibis.Value, time: ibis.Value, midnight: str = "") -> ibis.Value:
    """'<date> <time>' from a date column and a time-of-day column, as text whatever their
    types (a spreadsheet's date cells are timestamps at midnight). Where the time is blank,
    the date at `midnight` (as the time_format writes it), or alone for an ISO date."""
    day = date.date().cast("string") if date.type().is_timestamp() else date.cast("string").strip()
    clock = time.time().cast("string") if time.type().is_timestamp() else time.cast("string").strip()
    blank = day.concat(" ", midnight) if midnight else day
    return ibis.ifelse(clock.isnull() | (clock == ""), blank, day.concat(" ", clock))


def _require_raw(raw: ibis.Table, needed: tuple[str, ...], name: str, who: str) -> None:
    present = [c for c in raw.columns if c != SOURCE_ROW]  # winback's row counter
    for column in needed:
        if column not in present:
            raise DataError(f"{name} has no column '{column}', which {who} reads."
                            f"{did_you_mean(column, present)} Columns in the source: "
                            f"{', '.join(present)}.")


def _check_columns(raw: ibis.Table, mapping: dict[str, str], passthrough: list[str], name: str,
                   attributes: list[str] = ()) -> None:
    present = [c for c in raw.columns if c != SOURCE_ROW]  # winback's row counter
    for column in attributes:
        if column not in present:
            raise DataError(
                f"{name} has no column '{column}' (features.attributes).{did_you_mean(column, present)} "
                f"Columns in the file: {', '.join(present)}. A lookup table's columns "
                f"([[source.lookups]]) can be attributes too.")
    for canonical in REQUIRED:
        if canonical not in mapping:
            raise ConfigError(f"[source.columns] must map '{canonical}' to a column of {name}.")
    clash = [c for c in passthrough if c in CANONICAL_COLUMNS]
    if clash:
        c = clash[0]
        carried = (f"it is carried already, as winback's '{c}' (read from '{mapping[c]}')" if c in mapping
                   else f"winback's own '{c}' column has that name")
        raise ConfigError(
            f"source.passthrough lists '{c}', but {carried}. Passthrough columns keep their names "
            f"beside the canonical ones ({', '.join(CANONICAL_COLUMNS)}), so they cannot reuse "
            f"one: remove it from passthrough, or map it in [source.columns] if it is the '{c}' "
            f"winback should read."
        )
    for canonical, column in list(mapping.items()) + [(c, c) for c in passthrough]:
        if column not in present:
            raise DataError(
                f"{name} has no column '{column}' (mapped to '{canonical}').{did_you_mean(column, present)} "
                f"Fix [source.columns] in winback.toml or the file's header. "
                f"Columns in the file: {', '.join(present)}."
            )


def zone_setting(configured: str, key: str = "source.timezone") -> int | str:
    """A zone setting (`key`) as a fixed offset in seconds ('UTC', '+02:00') or an IANA zone
    name ('Europe/Berlin', whose offset changes with daylight saving). A shop export's own name
    for its zone ('Pacific Time (US & Canada)', 'W. Europe Standard Time') reads as the IANA
    zone it means."""
    zone = zone_of(configured)
    if zone is None:
        import zoneinfo

        from winback.data.zones import ALIASES
        from winback.errors import closest

        near = closest(configured.strip(), sorted(zoneinfo.available_timezones()) + list(ALIASES))
        meaning = ("the zone of timestamps that carry none" if key == "source.timezone" else
                   "the shop's clock, which hour and weekday features read")
        raise ConfigError(
            f"{key} = '{configured}' is not a time zone: use 'UTC', a fixed offset such "
            f"as '+02:00', or a zone name such as 'Europe/Berlin' or 'Pacific Time (US & Canada)' "
            f"({meaning})."
            f"{f' Did you mean {near!r}?' if near else ''}"
        ) from None
    return 0 if zone == "UTC" else zone


PER_ROW = "<each row's own offset>"  # no IANA zone has this name


def _zone_offset_of(raw: ibis.Table, column: str, name: str, configured: str) -> tuple[int | str, bool]:
    """What to convert the column's times by to reach UTC: an offset in seconds, a zone name
    (see zone_setting), or PER_ROW when every time carries its own offset (a shop's export
    through daylight saving: +0100 in winter, +0200 in summer); and whether the times are text
    that carries zones to strip. A column where some times carry an offset and others none is
    an error: the bare ones could be in any zone."""
    default = zone_setting(configured)
    dtype = raw[column].type()
    if dtype.is_timestamp() and not dtype.timezone:
        return default, False  # a naive timestamp is a wall time, in the configured zone
    if not dtype.is_string():
        return 0, False  # timestamps with a zone are instants already; the session zone is UTC
    # a zone is in a time's last characters: rows are counted by those in the engine, and the
    # pattern runs here on the distinct endings only (a regex and a filter per row made this
    # pass 2.8 s of reading 5 M rows of CSV)
    endings = (raw.select(end=_trimmed(raw[column]).right(ZONE_CHARS)).group_by("end")
               .aggregate(rows=ibis._.count()).execute())
    endings = endings[endings.end.notna() & (endings.end != "")]
    zone = endings.end.str.extract(ZONE_PATTERN, expand=False).fillna("").str.strip()
    zones = (endings.assign(zone=zone).groupby("zone", as_index=False).rows.sum()
             .sort_values(["rows", "zone"], ascending=[False, True]))
    bare = zones[zones.zone == ""]
    zoned = zones[zones.zone != ""]
    if len(bare) and len(zoned):
        shown = zoned.head(5)
        parts = ", ".join([f"{int(bare.rows.sum()):,} rows without a zone"]
                          + [f"{r.rows:,} rows with {r.zone!r}" for r in shown.itertuples()])
        raise DataError(
            f"{name}, column '{column}': some timestamps carry a time zone and others none "
            f"({parts}{', ...' if len(zoned) > len(shown) else ''}), so the bare ones could be in "
            f"any zone. Write all of them with an offset, or none (then source.timezone says "
            f"which zone they are in)."
        )
    offsets = {SUFFIX_OFFSETS[z] if z in SUFFIX_OFFSETS else fixed_offset(z) for z in zoned.zone}
    if len(offsets) == 1:
        return offsets.pop() or 0, True
    if len(offsets) > 1:
        return PER_ROW, True
    return default, False


@dataclass(frozen=True)
class RowZones:
    """Each row's zone read off a column (source.timezone_column): its values with the zone
    each names (an offset in seconds or an IANA name), and the zone of rows that name none."""

    column: str
    zones: tuple[tuple[str, int | str], ...]
    default: int | str

    def to_utc(self, parsed: ibis.Value, t: ibis.Table, backend: str) -> ibis.Value:
        named = t[self.column].cast("string").strip()
        return ibis.cases(*((named == value, _wall_to_utc(parsed, zone, backend)) for value, zone in self.zones),
                          else_=_wall_to_utc(parsed, self.default, backend)).cast(dtypes.Timestamp(scale=6))


def _wall_to_utc(parsed: ibis.Value, zone: int | str, backend: str) -> ibis.Value:
    if isinstance(zone, str):
        return _local_to_utc(parsed, zone, backend)
    return parsed - ibis.interval(seconds=zone) if zone else parsed


def _row_zones(raw: ibis.Table, column: str, name: str, default: int | str) -> RowZones:
    """The zones a time-zone column names, as the engine converts them; a value that names no
    zone is an error that lists such values with their rows, rather than times hours off."""
    counts = zone_values(raw, column)
    zones, unknown = [], []
    for value, rows in zip(counts.z, counts.rows):
        zone = zone_of(value)
        if zone is None:
            unknown.append(f"{value!r} ({int(rows):,} rows)")
        else:
            zones.append((value, 0 if zone == "UTC" else zone))
    if unknown:
        raise DataError(
            f"{name}, column '{column}' (source.timezone_column): {len(unknown)} "
            f"value{'s name' if len(unknown) > 1 else ' names'} no time zone: {', '.join(unknown[:5])}"
            f"{', ...' if len(unknown) > 5 else ''}. Write zones as 'America/New_York', "
            f"'Pacific Time (US & Canada)', 'PDT' or '+02:00'."
        )
    return RowZones(column, tuple(zones), default)


def zone_values(table: ibis.Table, column: str) -> pd.DataFrame:
    """The zones a time-zone column names (`z`, trimmed, blanks left out) with their `rows`,
    the commonest first."""
    named = table.select(z=table[column].cast("string").strip())
    return (named.filter(named.z.notnull() & (named.z != "")).group_by("z").aggregate(rows=ibis._.count())
            .order_by([ibis.desc("rows"), "z"]).execute())


def _row_offset_seconds(text: ibis.Value) -> ibis.Value:
    """Seconds east of UTC of each time's own offset ('+0100', '-05:30', 'Z', 'UTC' = 0), from
    text alone so that every engine computes it the same way."""
    zone = text.re_extract(ZONE_PATTERN, 1).strip()
    digits = zone.re_replace(r"[^0-9]", "") + "0000"  # 'Z' and 'UTC' give '0000'
    seconds = digits.substr(0, 2).cast("int64") * 3600 + digits.substr(2, 2).cast("int64") * 60
    offset = ibis.ifelse(zone.startswith("-"), -seconds, seconds)
    return ibis.cases(*((zone == name, seconds) for name, seconds in SUFFIX_OFFSETS.items()), else_=offset)


def _typed_columns(
    t: ibis.Table,
    mapping: dict[str, str],
    layout: Layout,
    event_types: dict[str, str],
    time_format: str,
    zone_offset: "int | str | RowZones",
    duckdb: bool = True,
    numbers: NumberFormat = NumberFormat(),
    backend: str = "duckdb",
    negative_amounts: str = "error",
    missing_ids: tuple[str, ...] = (),
    zoned: bool = True,
    lowercase_ids: bool = False,
) -> dict[str, ibis.Value]:
    """Canonical columns as expressions over the raw table `t` (whose CSV text load_events
    has trimmed; Parquet and DuckDB strings are data as written, and trimming 20 M of them
    per column would cost seconds on every query).

    `numbers` says how text columns write numbers (a decimal comma, thousands separators, a
    currency sign: '$2,080.25'). `negative_amounts` = "return" reads purchases with a negative
    amount (refunds in an order table) as returns. `missing_ids` are customer ids that mean
    no customer (a shop that writes every guest as customer 0). `zoned` = False says that
    no time text carries a zone to strip (a regex per row spared). `lowercase_ids` reads text
    customer ids in lower case (emails typed John@x.com one day and john@x.com the next).
    """
    cols: dict[str, ibis.Value] = {}
    for canonical, target in CANONICAL_TYPES.items():
        if canonical not in mapping or canonical == "event_time":
            continue
        col = t[mapping[canonical]]
        if _integer_id(canonical, col):
            cols[canonical] = col.cast("int64")
        elif canonical in ID_COLUMNS and col.type().is_floating():
            cols[canonical] = float_id_text(col)
        elif canonical == "customer_id" and col.type().is_string():
            # the same ids written as text by a float column ('17850.0'), and a blank id or a
            # missing-value mark ('NULL', 'nan' from str() of a pandas NaN) is no customer:
            # without this, one 'customer' gathered every guest's events. One CASE, since
            # nesting them repeats the inner one in SQL, and the length test first: the list
            # alone added 0.9 s to reading 5 M rows of email ids
            missing = (col.length() <= max(map(len, MISSING_IDS))) & col.isin(MISSING_IDS)
            cols[canonical] = ibis.cases((missing, ibis.null("string")), float_written_id(col), else_=col)
        elif target == "float64":
            if col.type().is_string():
                cols[canonical] = text_number(col, numbers)
            else:
                number = col.cast("float64")
                # 'inf' and 'NaN' are no amount: unparsed, so validation names them
                cols[canonical] = ibis.ifelse(number.isinf() | number.isnan(), ibis.null("float64"), number)
        else:
            cols[canonical] = col if col.type().is_string() else col.cast("string")
    if lowercase_ids and cols["customer_id"].type().is_string():
        cols["customer_id"] = cols["customer_id"].lower()
    if missing_ids:
        cols["customer_id"] = _without_ids(cols["customer_id"], missing_ids)
    wall = None
    if isinstance(zone_offset, RowZones):
        wall = _parse_time(t[mapping["event_time"]], time_format, 0, duckdb, backend, zoned)
        cols["event_time"] = zone_offset.to_utc(wall, t, backend)
    else:
        cols["event_time"] = _parse_time(t[mapping["event_time"]], time_format, zone_offset, duckdb, backend,
                                         zoned)
    if "quantity" not in cols:
        cols["quantity"] = ibis.literal(1.0)
    if "amount" not in cols:
        price = cols.get("price")
        cols["amount"] = price * cols["quantity"] if price is not None else ibis.null("float64")
    if layout.event_type_rule is not None:
        cols["event_type"] = layout.event_type_rule(cols)
    elif "event_type" in cols:
        if event_types:
            branches = [(cols["event_type"] == k, v) for k, v in event_types.items()]
            cols["event_type"] = ibis.cases(*branches, else_=cols["event_type"])
    else:
        cols["event_type"] = ibis.literal(PURCHASE)  # an order table: every row is a purchase
    if negative_amounts == "return":
        refund = ((cols["event_type"] == PURCHASE) & (cols["amount"] < 0)).fill_null(False)
        cols["event_type"] = ibis.ifelse(refund, ibis.literal(RETURN), cols["event_type"])
    if "order_id" not in cols:
        day = cols["event_time"].truncate("D").cast("string")
        per_day = cols["customer_id"].cast("string").concat("|", day)
        key = cols.get("session_id", per_day)
        cols["order_id"] = ibis.ifelse(cols["event_type"] == PURCHASE, key, ibis.null(key.type()))
    out = {}
    for canonical, target in CANONICAL_TYPES.items():
        if canonical not in cols:
            out[canonical] = ibis.null(target)
        elif _integer_id(canonical, cols[canonical]):
            out[canonical] = cols[canonical]
        else:
            out[canonical] = cols[canonical].cast(target)
    if wall is not None:
        out[LOCAL_TIME] = wall
    return out


def _trimmed(text: ibis.StringValue) -> ibis.StringValue:
    """`text` without surrounding spaces, tabs and newlines. Most values have none: testing the
    first and last characters is 2.5x cheaper in DuckDB than trimming every value (which
    copies it), and saved 2 s of reading 5 M rows of CSV."""
    edges = (32, 9, 10, 13)
    spaced = text.ascii_str().isin(edges) | text.right(1).ascii_str().isin(edges)
    return ibis.ifelse(spaced, text.strip(), text)


def _without_ids(col: ibis.Value, ids: tuple[str, ...]) -> ibis.Value:
    """`col` with `ids` (as written in the config) read as missing, on integer or text ids."""
    if col.type().is_integer():
        ids = tuple(int(i) for i in ids if re.fullmatch(r"-?[0-9]+", i.strip()))
        if not ids:
            return col
    return ibis.ifelse(col.isin(ids), ibis.null(col.type()), col)


# notes about a log that validate and train say, in this order: those load_events wrote in
# its summary, then those log_notes finds in the events
SUMMARY_NOTES = ("skipped_lines", "lookup_note", "layout_note", "repeated_columns", "unread_statuses", "mixed_currencies")
EVENT_NOTES = ("dominant_customer", "case_twins", "repeated_order_amounts", "placeholder_dates")


def log_notes(events: ibis.Table, summary: dict[str, Any]) -> dict[str, str]:
    """What validate and train say about a log beyond its errors, by key ("" where there is
    nothing to say): the notes load_events wrote and those read from the canonical events (a
    customer id holding most events, ids alike but for letter case, order totals on each line)."""
    found = {"dominant_customer": dominant_customer(events, summary), "case_twins": case_twins(events),
             "repeated_order_amounts": repeated_order_amounts(events, summary),
             "placeholder_dates": placeholder_dates(events, summary)}
    return {key: (summary.get(key) or "") for key in SUMMARY_NOTES} | {key: found[key] for key in EVENT_NOTES}


def dominant_customer(events: ibis.Table, summary: dict[str, Any]) -> str:
    """A note when one customer id holds a share of the events no shopper does: a shop that
    writes every guest as one id (WooCommerce's 0, a till's 'WALKIN') turns all its guests into
    a single customer with years of purchases, and the model learns from that."""
    rows, customers = summary["rows"], summary["customers"]
    if customers < 20:
        return ""
    top = (events.group_by("customer_id").aggregate(n=events.count())
           .order_by(ibis.desc("n")).limit(1).execute())
    n = int(top["n"].iloc[0])
    if n < 0.05 * rows or n < 50 * rows / customers:
        return ""
    who = _plain(top["customer_id"].iloc[0])
    return (f"customer {who!r} has {n:,} of the {rows:,} events ({100 * n / rows:.0f} %), "
            f"{n / (rows / customers):,.0f} times the average customer's. If it stands for guests or "
            f"walk-in sales rather than one shopper, list it in source.missing_customer_ids "
            f"(with drop_missing_customers = true), so that its events are not read as one "
            f"customer's history.")


def repeated_order_amounts(events: ibis.Table, summary: dict[str, Any]) -> str:
    """A note when the mapped amount is the same on every line of most orders with several
    lines of different products: an export with one row per line item that writes the order's
    total (WooCommerce's 'Order Total Amount') on each of them, so spend counts every order
    once per line."""
    column = summary.get("order_amount_column", "")
    if not column:
        return ""
    lines = events.filter((events.event_type == PURCHASE) & events.order_id.notnull())
    by_order = lines.group_by(["customer_id", "order_id"]).aggregate(
        n=lines.count(), amounts=lines.amount.nunique(), products=lines.product_id.nunique())
    # lines of different products; without products, any order of several lines
    several = by_order.filter((by_order.n > 1) & ((by_order.products > 1) | (by_order.products == 0)))
    stats = several.aggregate(orders=several.count(),
                              repeated=several.count(where=several.amounts == 1)).execute()
    orders, repeated = int(stats["orders"].iloc[0]), int(stats["repeated"].iloc[0])
    if orders < 20 or repeated < 0.5 * orders:
        return ""
    return (f"amount {column!r} is the same on every line of {repeated:,} of the {orders:,} orders "
            f"with several products ({100 * repeated / orders:.0f} %): it looks like the order's "
            f"total written on each of its lines, and each order's spend would count once per line. "
            f"Map amount to the line's own amount, or price to its unit price (amount is then price "
            f"x quantity).")


def status_counts(table: ibis.Table, column: str) -> dict[str, int] | None:
    """Rows per value of the 100 commonest values of a text column, when they read as order
    statuses (some are sales); None when they do not (a column of US states named 'State')."""
    from winback.data.layouts import order_statuses

    if not table[column].type().is_string():
        return None
    top = (table.group_by(s=table[column]).aggregate(n=table.count())
           .order_by(ibis.desc("n")).limit(100).execute())
    counts = {str(v).strip(): int(n) for v, n in zip(top["s"], top["n"]) if v is not None}
    return counts if order_statuses(counts)[0] or PURCHASE in counts else None


def unread_statuses(raw: ibis.Table, mapping: dict[str, str], rows: int) -> str:
    """A note when an order table is read as all purchases although a column of order statuses
    it leaves unread says some orders are no sale (Failed, Cancelled, Pending payment) or
    were refunded: a hand-written config, or one from before `init` read statuses, counts
    them as purchases."""
    from winback.data.layouts import is_status_column, order_statuses

    for column in (c for c in raw.columns if c not in mapping.values() and is_status_column(c)):
        counts = status_counts(raw, column)
        if counts is None:
            continue
        sales, others = order_statuses(counts)
        unread = sum(counts[k] for k in others)
        if not others or unread < 0.005 * rows:
            continue
        block = "\n".join([f'event_type = "{column}"', "[source.event_types]",
                           *(f'"{k}" = "{v}"' for k, v in sales.items())])
        return (f"every row is read as a purchase, yet column {column!r} says {unread:,} of them "
                f"({100 * unread / max(rows, 1):.1f} %) are " + ", ".join(repr(k) for k in others[:6])
                + ". To count only sales (a refunded order as the sale it was; other statuses stay "
                f"events, never purchases), add under [source.columns]:\n{block}")
    return ""


CURRENCY_COLUMN = re.compile(r"^(currency|curr|ccy|w(ä|ae)hrung|devise|moneda|divisa|valuta|munt)"
                             r"([ _-]?(code|iso))?$|^(order|payment|transaction)[ _-]?currency$", re.I)
# the amount in the account's one currency (Stripe's 'Converted Amount', Magento's 'base_grand_total')
CONVERTED_AMOUNT = re.compile(r"(convert\w*|base|settle\w*|reporting|account|home)[ _-]?"
                              r"(amount|total|grand[ _-]?total|revenue|value)", re.I)


def mixed_currencies(raw: ibis.Table, mapping: dict[str, str], currency: str = "") -> str:
    """A note when the amounts come in several currencies (a marketplace export with a
    Currency column of usd, eur and jpy): they are summed as one, so a yen order counts 150
    dollar orders' spend. Names the column in one currency when the export has one. `currency`
    is the column of the amounts' currency where a layout says which (Stripe's amounts are
    in its Converted Currency when the export has them)."""
    read = mapping.get("amount") or mapping.get("price")
    if CONVERTED_AMOUNT.search(read) and not currency:
        return ""
    columns = [currency] if currency else [c for c in raw.columns if c not in mapping.values()
                                           and CURRENCY_COLUMN.search(c.strip())]
    for column in columns:
        if not raw[column].type().is_string():
            continue
        code = raw[column].strip().upper().nullif("")
        top = (raw.group_by(c=code).aggregate(n=raw.count()).filter(ibis._.c.notnull())
               .order_by(ibis.desc("n")).limit(20).execute())
        total = int(top["n"].sum())
        shares = [(str(c), int(n)) for c, n in zip(top["c"], top["n"]) if n >= 0.005 * total]
        if len(shares) < 2:
            continue
        converted = next((c for c in raw.columns if CONVERTED_AMOUNT.search(c) and c not in mapping.values()), None)
        fix = (f"map amount to {converted!r}, which looks like the amounts in one currency" if converted else
               "convert the amounts to one currency before training, or train one config per currency")
        return (f"the amounts ({read!r}) come in {len(shares)} currencies by column {column!r} ("
                + ", ".join(f"{c} {100 * n / total:.0f} %" for c, n in shares[:5])
                + f") and are summed as if one: {fix}.")
    return ""


def repeated_columns(raw: ibis.Table, mapping: dict[str, str], repeated: list[str], name: str) -> str:
    """A note when a mapped column's name is written more than once in the header (a sheet
    with two 'Date' columns, an order date and a ship date) and the columns differ: DuckDB
    names them 'Date', 'Date_1', ..., and the mapping reads the first only. Columns that repeat
    the same values (an export that writes 'Email' twice) are no news."""
    pairs = []
    for canonical, column in mapping.items():
        if column not in repeated:
            continue
        k = 1
        while f"{column}_{k}" in raw.columns:
            pairs.append((canonical, column, f"{column}_{k}"))
            k += 1
    if not pairs:
        return ""

    def text(c: str) -> ibis.Value:
        return raw[c].cast("string").strip().fill_null("")

    differ = raw.aggregate(**{f"d{i}": (text(a) != text(b)).sum() for i, (_, a, b) in enumerate(pairs)},
                           rows=raw.count()).execute().iloc[0]
    notes = [f"{canonical} reads the first of the columns named {a!r} (the next is {b!r}), and "
             f"they differ in {int(differ[f'd{i}']):,} of {int(differ['rows']):,} rows"
             for i, (canonical, a, b) in enumerate(pairs) if differ[f"d{i}"]]
    if not notes:
        return ""
    other = pairs[0][2]
    return (f"{name} has columns named alike in its header: " + "; ".join(notes)
            + f". winback reads each repeat under its own name ({other!r}): map that name in "
            f"[source.columns] to read it instead, or rename the columns in the file.")


# the days exports write for a missing date: Unix's and Excel's zeros, SQL Server's and
# .NET's minimums
PLACEHOLDER_DAYS = (dt.date(1970, 1, 1), dt.date(1900, 1, 1), dt.date(1899, 12, 30), dt.date(1899, 12, 31),
                    dt.date(1753, 1, 1), dt.date(1, 1, 1))


def placeholder_dates(events: ibis.Table, summary: dict[str, Any]) -> str:
    """A note when events fall on a day an export writes for a missing date (1970-01-01,
    1900-01-01), long before the rest of the log: read as real, they give their customers
    decades of tenure and move the log's start."""
    if summary["first_event"].date() > PLACEHOLDER_DAYS[0]:
        return ""  # a log that starts after them (nearly all): no query
    day = events.event_time.date()
    marked = day.isin(list(PLACEHOLDER_DAYS))
    found = (events.filter(marked).group_by(day=day).aggregate(n=ibis._.count()).order_by("day").execute())
    if not len(found):
        return ""
    rest = events.filter(~marked).event_time.min().execute()
    counted = ", ".join(f"{int(n):,} on {d:%Y-%m-%d}" for d, n in zip(pd.to_datetime(found["day"]), found["n"]))
    after = f", before the rest of the log, which starts {pd.Timestamp(rest):%Y-%m-%d}" if pd.notna(rest) else ""
    return (f"{int(found['n'].sum()):,} event(s) fall on days that exports write for a missing date "
            f"({counted}){after}: read as real, they give their customers decades of history and set "
            f"the log's start. Fix or remove these rows in the source.")


def case_twins(events: ibis.Table) -> str:
    """A note when text customer ids differ from another only in letter case: an email typed
    John@x.com one day and john@x.com the next splits one shopper's history in two."""
    if not events.customer_id.type().is_string():
        return ""
    ids = events.select(c=events.customer_id).distinct()
    ids = ids.filter(ids.c.notnull())
    twins = (ids.group_by(low=ids.c.lower()).aggregate(n=ibis._.count(), a=ids.c.min(), b=ids.c.max())
             .filter(ibis._.n > 1))
    groups = int(twins.count().execute())
    if not groups:
        return ""
    example = twins.order_by("low").limit(1).execute().iloc[0]
    return (f"{groups:,} customer id(s) differ from another only in letter case (e.g. {example['a']!r} "
            f"and {example['b']!r}): if each pair is one shopper, set source.lowercase_customer_ids = "
            f"true, or their histories are read as two customers'.")


WHOLE_ID = r"^(-?[0-9]+)\.0+$"  # re_extract, not a backreference: Spark writes those $1


def float_written_id(text: ibis.StringValue) -> tuple[ibis.BooleanValue, ibis.StringValue]:
    """Whether `text` is an integer id a float column wrote as text ('17850.0' in UCI Online
    Retail's CSV exports), and the id without its '.0': a case for `ibis.cases`. The cheap
    suffix test spares the regex on other ids."""
    return text.endswith(".0") & text.re_search(WHOLE_ID), text.re_extract(WHOLE_ID, 1)


def float_id_text(col: ibis.Value) -> ibis.Value:
    """Ids stored as floats (pandas turns an integer column with a gap into float64) as text
    without the '.0': 4189.0 is customer 4189, as the store's other systems write it."""
    whole = ibis.ifelse((col == col.floor()) & (col.abs() < 1e15), col, ibis.null("float64"))
    return whole.cast("int64").cast("string").coalesce(col.cast("string"))


def _integer_id(canonical: str, value: ibis.Value) -> bool:
    """An identifier that is an integer in the source keeps its type (see ID_COLUMNS)."""
    return canonical in ID_COLUMNS and value.type().is_integer()


def _unix_time(col: ibis.Value, time_format: str, duckdb: bool) -> ibis.Value:
    """A count of seconds, milliseconds or microseconds since 1970-01-01 UTC, from numbers or
    text (fractions allowed), as a naive UTC timestamp. Whole microseconds first, so every
    engine lands on the same instant; an epoch plus an interval is the form all of them
    compile (their own from-unix functions differ in the units they take)."""
    number = col
    if col.type().is_string():
        text = col.strip()
        number = text.try_cast("float64") if duckdb else text.cast("float64")
    us = (number.cast("float64") * UNIX_TIME_FORMATS[time_format]).round().cast("int64")
    if duckdb:
        return _timestamp_from_us(us)
    return ibis.literal(dt.datetime(1970, 1, 1)) + us.as_interval("us")


def _parse_time(col: ibis.Value, time_format: str, zone_offset: int | str, duckdb: bool = True,
                backend: str = "duckdb", zoned: bool = True) -> ibis.Value:
    dtype = col.type()
    if time_format in UNIX_TIME_FORMATS:
        parsed = _unix_time(col, time_format, duckdb)
    elif dtype.is_timestamp() and dtype.timezone and duckdb:
        # the instant's UTC wall time by arithmetic: DuckDB's cast to a naive TIMESTAMP goes
        # through ICU's calendar per row, 15x slower, and was a third of featurisation time
        parsed = _timestamp_from_us(_epoch_us(col))
    elif dtype.is_timestamp():
        parsed = col.cast(dtypes.Timestamp()) if dtype.timezone else col
    elif dtype.is_date():
        parsed = col.cast("timestamp")
    else:
        text = _trimmed(col.cast("string"))
        text = text.re_replace(ZONE_PATTERN, "") if zoned else text
        if duckdb:
            parsed = _try_strptime(text, time_format) if time_format else text.try_cast("timestamp")
        elif time_format and backend in ("spark", "postgres"):
            parsed = _warehouse_strptime(text, time_format, backend)
        else:  # a warehouse's own parser (a bad value fails the query there)
            parsed = text.as_timestamp(time_format) if time_format else text.cast("timestamp")
        if not time_format:
            # ISO text ends in a digit once its zone is off. DuckDB's cast ignores whatever
            # follows the time, so '2024-01-05 2:30:00 PM' read as 02:30 and '... CET' as UTC:
            # such values are unread here, and validation names the format that reads them
            parsed = ibis.ifelse(text.re_search(r"[0-9]$"), parsed, ibis.null(parsed.type()))
    if zone_offset == PER_ROW:
        parsed = parsed - _row_offset_seconds(_trimmed(col.cast("string"))).as_interval("s")
    elif isinstance(zone_offset, str):
        parsed = _local_to_utc(parsed, zone_offset, backend)
    elif zone_offset:
        parsed = parsed - ibis.interval(seconds=zone_offset)
    return parsed.cast(dtypes.Timestamp(scale=6))


# strptime directives in Spark's (Java) and PostgreSQL's words; Spark's single letters read one
# or two digits, as DuckDB's and Python's %d do ('12/1/2010 8:26', UCI Online Retail's times)
_SPARK_DIRECTIVES = {"Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "I": "h", "M": "m", "S": "s",
                     "p": "a", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "f": "SSSSSS", "j": "D"}
_PG_DIRECTIVES = {"Y": "YYYY", "y": "YY", "m": "MM", "d": "DD", "H": "HH24", "I": "HH12", "M": "MI",
                  "S": "SS", "p": "AM", "b": "Mon", "B": "Month", "a": "Dy", "A": "Day", "f": "US", "j": "DDD"}
_NUMERIC_DIRECTIVES = frozenset("YymdHIMSfj")


def warehouse_pattern(time_format: str, backend: str) -> str:
    """`time_format` (strptime) as Spark's or PostgreSQL's own pattern, literal text quoted.
    ibis's translation writes Spark's two-letter forms (dd, HH), which read only two digits,
    so '12/1/2010 8:26' failed the query; and PostgreSQL's AM/PM as '%p'."""
    parts = re.findall(r"%(.)|([^%]+)", time_format)
    out = []
    for i, (directive, literal) in enumerate(parts):
        if literal:
            if backend == "spark":
                out.append(re.sub(r"[A-Za-z']+", lambda m: "'" + m.group().replace("'", "''") + "'", literal))
            else:
                out.append(re.sub(r"[A-Za-z]+", lambda m: f'"{m.group()}"', literal))
            continue
        table = _SPARK_DIRECTIVES if backend == "spark" else _PG_DIRECTIVES
        if directive == "%":
            out.append("%")
            continue
        if directive not in table:
            raise ConfigError(f"source.time_format '{time_format}': %{directive} has no equivalent on "
                              f"{backend}. Directives that work on every engine: "
                              f"{' '.join('%' + d for d in table)}.")
        pattern = table[directive]
        neighbours = {parts[j][0] for j in (i - 1, i + 1) if 0 <= j < len(parts)}
        if backend == "spark" and len(pattern) == 1 and neighbours & _NUMERIC_DIRECTIVES:
            pattern *= 2  # digits that run into a neighbour's (19970101) need fixed widths
        out.append(pattern)
    return "".join(out)


def _warehouse_strptime(text: ibis.StringValue, time_format: str, backend: str) -> ibis.Value:
    pattern = warehouse_pattern(time_format, backend)
    if backend == "spark":
        return _spark_try_to_timestamp(text, pattern)
    # the instant to_timestamp reads in the session's zone, as that zone's wall time again: the
    # time as written, whatever the server's TimeZone (a bad value fails the query there)
    return _pg_to_timestamp(text, pattern).cast(dtypes.Timestamp())


def _validate(raw, cols, typed, mapping, name: str, drop_missing: bool, *,
              numbered: Callable[[], ibis.Table], time_format: str = "",
              numbers: NumberFormat = NumberFormat(), negative_amounts: str = "error") -> tuple[int, int]:
    """One aggregate pass over the typed log; each failed check raises with examples. Returns
    how many rows have no customer id (dropped when `drop_missing`) and how many purchases a
    negative amount (dropped when `negative_amounts` = "drop"). `numbered`: `raw` with the
    source's rows numbered (SOURCE_ROW), for the examples."""
    time_src = raw[mapping["event_time"]]
    faults: dict[str, ibis.Value] = {  # rows of the source counted in errors and the summary
        "missing_customer": cols["customer_id"].isnull(),
        "bad_time": time_src.notnull() & cols["event_time"].isnull(),
        "no_time": time_src.isnull(),
    }
    numeric = [c for c in ("amount", "quantity", "price") if c in mapping]
    for c in numeric:
        faults[f"bad_{c}"] = raw[mapping[c]].notnull() & cols[c].isnull()
    checks: dict[str, ibis.Value] = {"rows": raw.count(), "last_event": cols["event_time"].max(),
                                     **{k: v.sum() for k, v in faults.items()}}
    if "amount" in mapping or "price" in mapping:  # otherwise amount is a NULL constant
        checks["negative_purchase"] = _negative_purchase(cols, drop_missing).sum()
    try:  # the first read of every row: damaged files fail here
        found = raw.aggregate(**checks).execute().iloc[0].to_dict()
    except Exception as exc:
        if not is_read_failure(exc):
            raise
        raise DataError(f"{name}: reading it failed: {damaged_text(exc)}") from exc
    recount = {k: raw[SOURCE_ROW].nunique(where=faults[k]) for k in faults
               if SOURCE_ROW in raw.columns and int(found[k] or 0)}
    if recount:  # a row a layout made two events of (a payment, its refund) is one row of the source
        found.update(raw.aggregate(**recount).execute().iloc[0].to_dict())
    if int(found["rows"]) == 0:
        raise DataError(f"{name} has no rows. Check source.path (and the glob, if any).")

    def fail(predicate, what: str, fix: str, columns: list[str], hint=None) -> None:
        rows_of = numbered()
        numbered_rows = rows_of.mutate(_row=rows_of[SOURCE_ROW])
        tc = typed(numbered_rows)
        rows = (numbered_rows.filter(predicate(tc, numbered_rows)).order_by("_row")
                .select("_row", *columns).limit(EXAMPLES).execute())
        rows = rows.drop_duplicates("_row")  # one row of the source can hold two events (Stripe)
        shown = "; ".join(
            f"row {int(r['_row'])}: " + ", ".join(f"{c}={_shown(r[c])}" for c in columns)
            for _, r in rows.iterrows()
        )
        repeated = rows.loc[rows[columns[0]].astype(str).str.strip() == columns[0], "_row"]
        if len(repeated):  # exports joined end to end (cat a.csv b.csv): each brings its header
            fix = (f"Row {int(repeated.iloc[0])} repeats the header, so the file looks like several "
                   f"exports joined end to end: remove the repeated header lines, or keep the "
                   f"exports as separate files and read them with a glob (path = \"exports/*.csv\").")
        else:
            fix = (hint and hint(rows[columns[0]].tolist())) or fix
        raise DataError(f"{name}: {what}. First rows: {shown}. {fix}")

    n = int(found["bad_time"])
    if n:
        col = mapping["event_time"]
        fail(lambda tc, t: t[col].notnull() & tc["event_time"].isnull(),
             f"{n:,} values in column '{col}' are not timestamps",
             "Set source.time_format to their strptime format (e.g. '%d/%m/%Y %H:%M'), or fix "
             "the rows.", [col], hint=lambda values: _time_hint(values, time_format))
    n = int(found["no_time"])
    if n:
        col = mapping["event_time"]
        fail(lambda tc, t: t[col].isnull(), f"{n:,} rows have no time in column '{col}'",
             "An event without a time cannot be placed before or after a cutoff: remove these rows "
             "(a total or summary line at the end of an export?) or fill in their times.",
             [col, *[mapping[c] for c in ("customer_id", "amount") if c in mapping]])
    for c in numeric:
        n = int(found[f"bad_{c}"])
        if n:
            col = mapping[c]
            fail(lambda tc, t, col=col, c=c: t[col].notnull() & tc[c].isnull(),
                 f"{n:,} values in column '{col}' (mapped to '{c}') are not numbers",
                 "Fix the values or map another column.", [col],
                 hint=lambda values: number_format_hint(values, numbers))
    n = int(found["missing_customer"])
    if n and not drop_missing:
        col = mapping["customer_id"]
        fail(lambda tc, t: tc["customer_id"].isnull(),
             f"{n:,} rows have no customer id in column '{col}'",
             "Set source.drop_missing_customers = true to drop them (guest checkouts), or fill "
             "them.", [col])
    negative = int(found.get("negative_purchase", 0))
    if negative and negative_amounts == "error":
        shown = [mapping[c] for c in ("amount", "price", "quantity") if c in mapping]
        by_type = (" or map their event type to 'return' in [source.event_types]," if "event_type" in mapping
                   else "")
        fail(lambda tc, t: _negative_purchase(tc, drop_missing),
             f"{negative:,} purchase rows have a negative amount",
             f"Returns, refunds and cancellations are not purchases: set source.negative_amounts = "
             f"'return' to read them as returns (they count in n_returns and return_share),{by_type} "
             f"or set it to 'drop' to leave them out.", shown)
    last = found["last_event"]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if last is not None and last.to_pydatetime() > now + FUTURE_TOLERANCE:
        col = mapping["event_time"]
        fail(lambda tc, t: tc["event_time"] > now + FUTURE_TOLERANCE,
             f"events are dated in the future (latest {last})",
             "Check the time zone (source.timezone) and the source of these rows.", [col])
    return int(found["missing_customer"]), negative


def _negative_purchase(cols: dict[str, ibis.Value], drop_missing: bool) -> ibis.Value:
    """A purchase with a negative amount; rows without a customer that are dropped anyway (UCI
    Online Retail's 'Adjust bad debt' lines) do not stop the run."""
    negative = (cols["event_type"] == PURCHASE) & (cols["amount"] < 0)
    return negative & cols["customer_id"].notnull() if drop_missing else negative


def _shown(value) -> str:
    """A cell as an error message shows it: repr of its value, or (empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "(empty)"
    return repr(_plain(value))


def _plain(value):
    """A NumPy scalar as its Python value, so messages show 1730525015, not np.int64(...)."""
    return value.item() if isinstance(value, np.generic) else value


def _matching_all(values: list, pattern: str) -> bool:
    texts = [str(v).strip() for v in values if v is not None]
    return bool(texts) and all(re.fullmatch(pattern, t) for t in texts)


def _time_hint(values: list, time_format: str = "") -> str:
    """The time_format that reads these failed values: a unix one for counts since 1970, 'iso'
    for ISO 8601 text that a strptime format (a layout's, say) rejected."""
    if time_format and _matching_all(values, ISO_LIKE):
        return (f"These are ISO 8601 timestamps, which time_format '{time_format}' does not "
                f"read: set source.time_format = 'iso'.")
    zones = {m.group(1) for v in values if v is not None
             for m in [re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s+([A-Za-z][\w/+-]*)",
                                    str(v).strip())] if m and m.group(1).upper() not in ("AM", "PM")}
    if zones:
        return (f"These times end in a zone winback does not read ({', '.join(sorted(zones))}): export "
                f"them in UTC or with an offset (+01:00), or without the zone and set source.timezone "
                f"to the zone's name (such as 'Europe/Berlin', which follows daylight saving).")
    if _matching_all(values, r"[2-7]\d{4}(\.\d+)?"):
        return ("These look like spreadsheet serial dates (days since 1899-12-30, as Excel stores "
                "them, 45296.5 = 2024-01-05 12:00): format the column as a date and time in the "
                "spreadsheet (yyyy-mm-dd hh:mm:ss) before exporting it.")
    for unit, digits in (("unix_s", "9,10"), ("unix_ms", "12,13"), ("unix_us", "15,16")):
        if _matching_all(values, rf"\d{{{digits}}}(\.\d+)?"):
            return (f"These look like {UNIX_NAMES[unit]} since 1970-01-01 UTC: set "
                    f"source.time_format = '{unit}'.")
    return _date_format_hint(values, time_format)


# day-month orders before month-day ones: only where no value tells them apart do both stay
_DATE_FORMATS = tuple(
    date + clock
    for date in ("%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d",
                 "%d/%m/%y", "%m/%d/%y", "%Y-%m-%d", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y",
                 "%d-%b-%Y", "%d-%b-%y", "%b-%d-%Y", "%b-%d-%y")  # eBay's Sale Date: Jan-05-24
    for clock in ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
) + ("%Y%m%d%H%M%S",)


def date_formats(values: list, time_format: str = "") -> list[str]:
    """The strptime formats, among the usual non-ISO ones (20240105, 05/01/2024 14:30,
    05.01.2024, 1/5/2024 2:30 PM, Jan 5, 2024), that read every value, one per way of reading
    them: day first before month first, both only where no day above 12 tells them apart.
    `time_format` (one that already failed) is left out."""
    texts = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not texts:
        return []

    def read_all(fmt: str) -> tuple | None:
        try:
            parsed = tuple(dt.datetime.strptime(t, fmt) for t in texts)
        except ValueError:
            return None
        return parsed if all(1900 <= d.year <= 2100 for d in parsed) else None

    readings: dict[tuple, str] = {}  # the first format for each way of reading them ('May' is %b and %B)
    for fmt in _DATE_FORMATS:
        parsed = read_all(fmt) if fmt != time_format else None
        if parsed is not None:
            readings.setdefault(parsed, fmt)
    return list(readings.values())


def swapped_day_month(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _date_format_hint(values: list, time_format: str = "") -> str:
    """The strptime format that reads every failed value (`date_formats`). When day-first and
    month-first both read them (no day above 12 among them), both are named and neither is set
    for the user."""
    fits = date_formats(values, time_format)
    if len(fits) == 1:
        return f"These look like dates written {fits[0]!r}: set source.time_format = '{fits[0]}'."
    if len(fits) == 2 and fits[1] == swapped_day_month(fits[0]):
        day_first, month_first = fits
        return (f"These are dates written day first ({day_first!r}) or month first "
                f"({month_first!r}); the first rows do not tell which. Set source.time_format to the "
                f"one your system writes (a date with a day above 12 shows it).")
    return ""


def _duplicate_bound(raw: ibis.Table, con) -> int:
    """An upper bound on the duplicated rows, from one 64-bit hash per row: rows minus distinct
    hashes. A hash collision can only add to it, so 0 proves there are none, at half the time
    and a fraction of the memory of DISTINCT over whole rows (2.6 s against 5.7 s and 3 GB on
    20 M REES46 events)."""
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in raw.columns)
    query = (f"SELECT count(*) - count(DISTINCT hash({cols})) AS dup "
             f"FROM ({ibis.to_sql(raw, dialect='duckdb')}) AS t")
    return int(con.con.sql(query).fetchall()[0][0])  # DuckDB's own: hash() takes any columns


def _check_duplicates(raw: ibis.Table, name: str, policy: str, con,
                      numbered: Callable[[], ibis.Table]) -> int:
    """Exact duplicated rows (0 for certain when the hash bound says so, on DuckDB `con`).
    `numbered`: `raw` with SOURCE_ROW, the source's row of each, for the rows an error names
    (a layout's rows are not the file's: Stripe makes two of a refunded payment)."""
    if con is not None and _duplicate_bound(raw, con) == 0:
        return 0
    dup = int(raw.count().execute() - raw.distinct().count().execute())
    if dup and policy == "error":
        rows = numbered()
        w = ibis.window(group_by=list(raw.columns))
        firsts = (rows.mutate(_row=rows[SOURCE_ROW]).mutate(_n=ibis._.count().over(w), _first=ibis._._row.min().over(w))
                  .filter(ibis._._n > 1).order_by("_row").limit(EXAMPLES)
                  .execute().drop_duplicates("_row"))  # one row of the source, two events (Stripe)
        shown = "; ".join(f"row {int(r['_row'])} repeats row {int(r['_first'])}"
                          if r["_row"] != r["_first"] else f"row {int(r['_row'])}"
                          for _, r in firsts.iterrows())
        raise DataError(
            f"{name}: {dup:,} rows are exact duplicates of another row ({shown}). Set "
            f"source.duplicates = 'drop' to remove them, or 'keep' if they are genuine repeated "
            f"events (e.g. two identical orders on one day)."
        )
    return dup


def _summarize(events: ibis.Table, name: str, customer_column: str = "") -> dict[str, Any]:
    agg = events.aggregate(
        rows=events.count(),
        customers=events.customer_id.nunique(),
        first_event=events.event_time.min(),
        last_event=events.event_time.max(),
        amount_sum=events.amount.sum(),
        quantity_sum=events.quantity.sum(),
    ).execute().iloc[0]
    if int(agg["rows"]) == 0:
        where = f" (column '{customer_column}' is empty in every row)" if customer_column else ""
        raise DataError(f"{name}: no rows are left after dropping rows without a customer id{where}. Map "
                        f"customer_id to the column that names each row's customer in [source.columns].")
    types = (events.group_by("event_type").aggregate(rows=events.count())
             .order_by(ibis.desc("rows")).execute())
    summary = {
        "rows": int(agg["rows"]),
        "customers": int(agg["customers"]),
        "first_event": agg["first_event"].to_pydatetime(),
        "last_event": agg["last_event"].to_pydatetime(),
        "event_types": {str(r.event_type): int(r.rows) for r in types.itertuples()},
        "amount_sum": float(agg["amount_sum"]) if agg["amount_sum"] == agg["amount_sum"] else None,
    }
    # sums to 9 significant digits: engines add floats in different orders (last digits differ)
    basis = {**summary, "amount_sum": _digits(summary["amount_sum"]),
             "quantity_sum": _digits(float(agg["quantity_sum"] or 0))}
    summary["fingerprint"] = hashlib.sha256(
        json.dumps(basis, default=str, sort_keys=True).encode()
    ).hexdigest()[:16]
    return summary


def _digits(x: float | None) -> str | None:
    return None if x is None else f"{x:.9g}"


def events_from_frame(frame, con: DuckDBBackend | None = None) -> EventLog:
    """An EventLog from a pandas frame already in canonical form (tests, library use)."""
    con = con or connect()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"the frame lacks canonical columns {missing}.")
    frame = frame.copy()
    for c, target in CANONICAL_TYPES.items():
        if c not in frame.columns:
            frame[c] = pd.Series(np.nan if target == "float64" else None, index=frame.index,
                                 dtype="float64" if target == "float64" else "string")
        elif target == "string":
            frame[c] = frame[c].astype("string")
    table = con.create_table("winback_events", frame, overwrite=True, temp=True)
    table = table.select(**{c: table[c].cast(t) for c, t in CANONICAL_TYPES.items()},
                         **{c: table[c] for c in frame.columns if c not in CANONICAL_TYPES})
    table = con.create_table("winback_events_typed", table, overwrite=True, temp=True)
    available = frozenset(c for c in CANONICAL_TYPES if frame[c].notna().any())
    return EventLog(con, table, available, "frame", _summarize(table, "frame"))


__all__ = ["CANONICAL_COLUMNS", "EventLog", "load_events", "events_from_frame"]
