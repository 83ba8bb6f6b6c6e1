"""Lookups: columns each event borrows by key from another table.

A store's database is normalised: an order line knows its order, the order knows its customer
and date, and the customer row knows who the person is (Olist writes a new customer_id for every
order and keeps the person in customer_unique_id, so modelling on customer_id finds no one who
ever came back). `[[source.lookups]]` joins such tables onto the events before the mapping reads
them, on the same engine, so every check and feature sees one wide table.

A lookup must hold one row per key: a key written twice would repeat its events and count their
revenue twice, so that is an error naming the keys. Events whose key finds no row keep empty
columns and are counted in a note (an order line whose order was deleted).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import ibis

from winback.config import Config, LookupConfig, SourceConfig
from winback.data.layouts import SOURCE_ROW
from winback.errors import ConfigError, DataError, did_you_mean

EXAMPLES = 5
FOUND = "_winback_lookup_found_{}"  # a lookup row's marker: an event found its key when not null
KEY = "_winback_lookup_key_{}"


@dataclass(frozen=True)
class OpenLookup:
    """A lookup read and checked: `table` holds its key (KEY.format(index)), a marker
    (FOUND.format(index)) and the columns it brings under their final names."""

    index: int
    key: str  # the events' column
    name: str  # how messages name it
    table: ibis.Table


def temp_name(what: str) -> str:
    """A temporary table's name no other read on the same connection takes: an event log
    still in use keeps reading its own."""
    import uuid

    return f"winback_{what}_{uuid.uuid4().hex[:12]}"


def _source_of(lookup: LookupConfig, backend: str) -> SourceConfig:
    return SourceConfig(path=lookup.path, table=lookup.table, format=lookup.format, sheet=lookup.sheet,
                        delimiter=lookup.delimiter, skip_rows=lookup.skip_rows, encoding=lookup.encoding,
                        backend=backend)


def _read(con, cfg: Config, lookup: LookupConfig) -> ibis.Table:
    from winback.data.engines import engine_table
    from winback.data.sources import check_title_lines, open_source

    source = _source_of(lookup, cfg.source.backend)
    if cfg.source.backend == "duckdb":
        # a table without a path is one of the DuckDB file the events are a table of
        path = cfg.resolve(lookup.path or cfg.source.path)
        table = open_source(con, source, path)
        if not lookup.skip_rows and not lookup.table:
            check_title_lines(source, path, table, f"Lookup '{lookup.path}'",
                              "skip_rows in its [[source.lookups]] entry")
        return table
    return engine_table(con, dataclasses.replace(cfg, source=source))


def join_key(col: ibis.Value, other: ibis.Value) -> ibis.Value:
    """`col` in a type both sides share: integers stay integers; otherwise text, trimmed, with
    float ids, and integer ids a float column wrote as text ('3.0'), without their '.0' (CSV
    keys are text, Parquet's may be numbers)."""
    from winback.data.canonical import float_id_text, float_written_id

    if col.type().is_integer() and other.type().is_integer():
        return col.cast("int64")
    if col.type().is_floating():
        return float_id_text(col)
    text = col.cast("string").strip()
    if not col.type().is_string():
        return text
    return ibis.cases(float_written_id(text), else_=text)


def open_lookups(con, cfg: Config, events: ibis.Table) -> list[OpenLookup]:
    """Read every lookup of `cfg.source` and check its key and columns against `events` (the
    source's columns) and the lookups before it."""
    have = [c for c in events.columns if c != SOURCE_ROW]
    types = dict(events.schema().items())
    opened = []
    for i, lookup in enumerate(cfg.source.lookups):
        where = f"Lookup '{lookup.where()}'"
        table = _read(con, cfg, lookup)
        if lookup.key not in have:
            raise ConfigError(f"{where}: the events have no column '{lookup.key}' to join on (key)."
                              f"{did_you_mean(lookup.key, have)} Columns: {', '.join(have)}.")
        own_key = lookup.lookup_key or lookup.key
        if own_key not in table.columns:
            raise DataError(f"{where} has no column '{own_key}' (lookup_key, or key when it is "
                            f"unset).{did_you_mean(own_key, table.columns)} Columns: "
                            f"{', '.join(table.columns)}.")
        wanted = lookup.columns or [c for c in table.columns if c != own_key]
        for c in [*wanted, *lookup.rename]:
            if c not in table.columns:
                raise ConfigError(f"{where} has no column '{c}' to bring.{did_you_mean(c, table.columns)} "
                                  f"Columns: {', '.join(table.columns)}.")
        named = {lookup.rename.get(c, c): c for c in wanted}
        clash = [n for n in named if n in have]
        if clash:
            raise ConfigError(
                f"{where} brings '{clash[0]}', which the events already have"
                + (" from an earlier lookup" if clash[0] not in events.columns else "")
                + f": list the columns to bring (columns = [...]) or rename it (rename = "
                  f"{{ \"{clash[0]}\" = \"{clash[0]}_{i + 1}\" }}) in its [[source.lookups]] entry.")
        joined_key = join_key(table[own_key], ibis.null(types[lookup.key]))
        prepared = table.select(**{KEY.format(i): joined_key}, **{n: table[c] for n, c in named.items()},
                                **{FOUND.format(i): ibis.literal(True)})
        prepared = prepared.filter(prepared[KEY.format(i)].notnull())
        if cfg.source.backend == "duckdb":  # read (a CSV parsed) once for the check and the join
            prepared = con.create_table(temp_name(f"lookup_{i}"), prepared, temp=True)
        _check_unique(prepared, KEY.format(i), where, own_key)
        opened.append(OpenLookup(i, lookup.key, f"{Path(lookup.where()).name} on {lookup.key}", prepared))
        have += list(named)
        types.update({n: table[c].type() for n, c in named.items()})
    return opened


def _check_unique(table: ibis.Table, key: str, where: str, shown_key: str) -> None:
    repeats = table.group_by(key).aggregate(rows=table.count()).filter(ibis._.rows > 1)
    keys = int(repeats.count().execute())
    if not keys:
        return
    examples = repeats.order_by([ibis.desc("rows"), key]).limit(EXAMPLES).execute()
    shown = ", ".join(f"'{r[key]}' ({int(r['rows'])} rows)" for _, r in examples.iterrows())
    raise DataError(
        f"{where} has {keys:,} values of '{shown_key}' in more than one row ({shown}): "
        f"each event with such a key would be read once per row, its revenue counted again. A "
        f"lookup holds one row per key: remove the repeated rows, or sum them by key first (a "
        f"payments table with several payments per order, as a view or a file of order totals).")


def join_lookups(events: ibis.Table, lookups: list[OpenLookup]) -> ibis.Table:
    """`events` with each lookup's columns, markers included (see `unmatched_note`)."""
    for lk in lookups:
        key = join_key(events[lk.key], lk.table[KEY.format(lk.index)])
        events = (events.mutate(**{KEY.format(lk.index): key})
                  .left_join(lk.table, KEY.format(lk.index))
                  .drop(KEY.format(lk.index), f"{KEY.format(lk.index)}_right"))
    return events


def without_markers(events: ibis.Table, lookups: list[OpenLookup]) -> ibis.Table:
    return events.drop(*(FOUND.format(lk.index) for lk in lookups))


def unmatched_note(events: ibis.Table, lookups: list[OpenLookup]) -> str:
    """How many events found no row in each lookup (their borrowed columns are empty), in one
    query; '' when all did."""
    counts = events.aggregate(
        rows=events.count(),
        **{f"n{lk.index}": (events[lk.key].notnull() & events[FOUND.format(lk.index)].isnull()).sum()
           for lk in lookups}).execute().iloc[0]
    missing = [(lk, int(counts[f"n{lk.index}"] or 0)) for lk in lookups]
    missing = [(lk, n) for lk, n in missing if n]
    if not missing:
        return ""
    rows = int(counts["rows"])
    parts = [f"{n:,} of {rows:,} events ({100 * n / rows:.1f} %) find no row in {lk.name}"
             for lk, n in missing]
    return ("; ".join(parts) + ": the columns they borrow from it are empty (a row without a "
            "customer id then stops the read, or is dropped with source.drop_missing_customers).")
