"""Customer tables: several files keyed by customer, fixed, pivoted, joined and filtered in Ibis.

Seed 002 (audiobooks) and seed 004 (One Click) start from one row per customer rather than an
event log. The declarative spec in ``[table]`` of winback.toml says how to get there; every
step is an Ibis expression on DuckDB, so the same spec runs where the tables live. Column names
are kept as written (UTF-8 included): reports and reasons show the user's own names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from winback.config import Config, SourceConfig, TableSourceConfig
from winback.data.canonical import MISSING_MARKS, _try_strptime, float_id_text, swapped_day_month
from winback.data.canonical import date_formats as usual_date_formats
from winback.data.numbers import Inferred, NumberFormat, described, infer_number_format, source_number_format, text_number
from winback.data.sources import check_title_lines, connect, encoding_problem, files_lacking, open_source
from winback.errors import DataError, closest, did_you_mean

LABEL = "__winback_label__"  # the 0/1 outcome; a name no source uses, so a column called "label" is kept
ROW = "__winback_row__"  # the first table's row order, kept so seeded splits follow the file
MAX_ROWS_SHOWN = 5
# ISO 8601 dates and times, ending in a digit (DuckDB's cast ignores text after the time)
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$"
# dates written otherwise (05/01/2024, 1.5.2024 14:30, 2024/01/05, 1/5/2024 2:30 PM, 5 Jan 2024,
# Jan 5, 2024): their format is found from the values (`canonical.date_formats`) or given as
# date_format
OTHER_DATE = (r"^([0-9]{1,2}[./-][0-9]{1,2}[./-]([0-9]{2}|[0-9]{4})|[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}"
              r"|[0-9]{1,2}[ -][A-Za-z]{3,9}[ -]([0-9]{2}|[0-9]{4})"
              r"|[A-Za-z]{3,9}[ -][0-9]{1,2}(, |-)([0-9]{2}|[0-9]{4}))"
              r"( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?( ?[AaPp][Mm])?)?$")
DATE_SAMPLE = 2_000  # distinct values a column's date format is guessed from, then checked on all
IDENTIFIER_MIN_ROWS = 20  # below this, a column of distinct texts may just be a small table
# a number column named like an id or a row number (camelCase read as words): RowNumber,
# account_no, CustomerNumber, index, pandas' 'Unnamed: 0'
ID_NAMES = re.compile(r"(?<![a-z])(id|no|nr|num|number|row|index|idx|key|serial|account|nummer)(?![a-z])"
                      r"|^unnamed: ?\d+$", re.I)  # the index pandas writes into a CSV


@dataclass
class CustomerTable:
    """One row per customer: `key`, the 0/1 `label` (when known) and the feature columns."""

    frame: pd.DataFrame
    key: str
    numeric: list[str]
    categorical: list[str]
    fingerprint: str
    notes: list[str] = field(default_factory=list)  # what loading did: fixes, filters, drops
    # numeric columns that were true/false in the source (Parquet, DuckDB), read as 1/0: the
    # service takes JSON true/false for them
    boolean: list[str] = field(default_factory=list)
    # what may make a model wrong (a column that tells the label on its own): said as warnings
    warnings: list[str] = field(default_factory=list)
    # the strptime format each column of dates written otherwise than ISO was read in (05/01/2024
    # as '%d/%m/%Y'): the bundle keeps it, so scoring reads a file whose days do not tell alike
    date_formats: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical


def _require(table: ir.Table, columns: list[str], where: str) -> None:
    shown = [c for c in table.columns if c != ROW]  # winback's own row counter is not the user's
    for col in columns:
        if col not in table.columns:
            raise DataError(
                f"{where} has no column '{col}'.{did_you_mean(col, shown)} "
                f"Columns: {', '.join(shown)}."
            )


def _rows_where(table: ir.Table, predicate: ir.BooleanValue, key: str) -> str:
    rows = table.filter(predicate).select(key).limit(MAX_ROWS_SHOWN).execute()[key].tolist()
    return ", ".join(map(str, rows))


def _open(con, src: TableSourceConfig, base: Path, notes: list[str] | None = None) -> ir.Table:
    problem = source_number_format(src).problem()
    if problem:
        raise DataError(f"{src.path}: {problem}.")
    if encoding_problem(src.encoding):
        raise DataError(f"{src.path}: {encoding_problem(src.encoding)}.")
    path = Path(src.path).expanduser()
    path = path if path.is_absolute() else base / path
    source = SourceConfig(path=str(path), delimiter=src.delimiter, encoding=src.encoding, sheet=src.sheet,
                          skip_rows=src.skip_rows, bad_lines=src.bad_lines)
    table = open_source(con, source, path, notes)
    if not src.skip_rows:
        check_title_lines(source, path, table, f"Table file '{src.path}'", "skip_rows in its [[table.sources]] entry")
    # files of a glob are combined by name: a column one file lacks would be empty (and then
    # imputed) for all of its customers, so every file must hold every column
    lacking = files_lacking(source, path, [c for c in table.columns if c != ROW])
    if lacking:
        file, columns = next(iter(lacking.items()))
        raise DataError(
            f"Table file '{src.path}': {file} has no column {', '.join(repr(c) for c in columns)}, "
            f"which other files of the glob have; its customers would read as missing values "
            f"there. Give every file the same columns, or list them as separate [[table.sources]] "
            f"joined on the key."
        )
    return table


def _cleaned(text: ir.StringValue) -> ir.StringValue:
    """A text column as loading reads it: without stray spaces, and empty or the usual
    missing-value marks (NA, NaN, NULL, #N/A as R, pandas and Excel write them) as missing. 'inf'
    parses as a float but is no number."""
    text = text.strip()
    return ibis.ifelse((text == "") | text.lower().isin(MISSING_MARKS), ibis.null("string"), text)


# text columns from which a table needs no more than one cheap pass to tell they hold numbers
PLAIN_PASS_COLUMNS = 20


def _plain_number_columns(table: ir.Table, columns: list[str], fmt: NumberFormat) -> set[str]:
    """The text columns whose every value is a plain number (what a CSV of numbers holds), told
    in one cheap pass, so the checks for percentages, dates and stray values run on the others
    only: a 300-column table of numbers took 21 s of its 24 s reading in them. Only for the
    default number format and a table of many text columns (a narrow one reads as before)."""
    if fmt != NumberFormat() or len(columns) < PLAIN_PASS_COLUMNS:
        return set()
    texts = [_cleaned(table[col]) for col in columns]
    found = table.aggregate(**{f"n{i}": text.count() for i, text in enumerate(texts)},
                            **{f"k{i}": text_number(text, fmt).count() for i, text in enumerate(texts)}
                            ).execute().iloc[0]
    return {col for i, col in enumerate(columns) if int(found[f"n{i}"]) and int(found[f"k{i}"]) == int(found[f"n{i}"])}


def _typed(table: ir.Table, key: str, fmt: NumberFormat, where: str,
           text_columns: frozenset[str] = frozenset(), date_format: str = "",
           duckdb: bool = True, date_formats: dict[str, str] | None = None,
           column_formats: Mapping[str, str] | None = None) -> ir.Table:
    """Cast text columns that hold numbers to float64 (all CSV columns arrive as text).

    A column is numeric when every non-empty value parses as a number; a column where most but
    not all do is an error naming the rows, because silently treating it as text would turn a
    typo into a category. `text_columns` (table.categorical) stay text whatever they hold.
    Float columns (Parquet, JSON) holding inf are an error too: they would fail the models.
    Dates become timestamps: ISO ones always, others (05/01/2024) on DuckDB (`_other_dates`), in
    the column's own in `column_formats` (a source's date_formats: such a column is read as dates
    whatever its values look like), else `date_format`, else the column's format in
    `date_formats` (a bundle's), else the one found; `date_formats` gets the format each such
    column was read in."""
    date_formats = {} if date_formats is None else date_formats
    column_formats = dict(column_formats or {})
    readable = [c for c in table.columns
                if c != key and c not in text_columns and table[c].type().is_string()]
    for col in column_formats:
        if col not in readable:
            why = ("is the key" if col == key else "is listed in table.categorical" if col in text_columns
                   else "is not text in this file" if col in table.columns
                   else "is not one of its columns")
            raise DataError(f"{where}: date_formats names '{col}', which {why}; it can only name "
                            f"columns of dates written as text.{did_you_mean(col, readable)}")
    if column_formats and not duckdb:
        raise DataError(f"{where}: date_formats are read on DuckDB only (dates written otherwise "
                        f"than ISO); write them as ISO dates (2024-01-05) for this engine.")
    casts = {}
    counts = {}
    texts = {}
    alternatives = {}
    floats = [c for c in table.columns if c != key and table[c].type().is_floating()]
    plain = _plain_number_columns(table, [c for c in readable if c not in column_formats], fmt)
    numeric = {c: text_number(_cleaned(table[c]), fmt) for c in plain}
    for col in table.columns:
        if col == key or col in text_columns or not table[col].type().is_string() or col in plain:
            continue
        text = _cleaned(table[col])
        number = text_number(text, fmt)
        # '12%' is 0.12; ISO dates ('2024-01-05', '2024-01-05 10:00') become timestamps, which
        # load_customer_table turns into days before the table's date
        percent = ibis.ifelse(text.endswith("%"), text_number(text.re_replace(r"\s*%$", ""), fmt) / 100, number)
        date = ibis.ifelse(text.re_search(ISO_DATE), text.try_cast("timestamp"), ibis.null("timestamp"))
        texts[col] = text
        casts[col] = number
        alternatives[col] = (percent, date)
        counts[col] = (text.count(), number.count(), percent.count(), date.count(),
                       ibis.ifelse(text.re_search(OTHER_DATE), 1, 0).sum())
    if not casts and not floats:
        return table.mutate(**numeric) if numeric else table
    # one pass over the table: parsed counts of the text columns, infinities of the float ones
    agg = table.aggregate(**{f"n{i}": c[0] for i, c in enumerate(counts.values())},
                          **{f"k{i}": c[1] for i, c in enumerate(counts.values())},
                          **{f"p{i}": c[2] for i, c in enumerate(counts.values())},
                          **{f"d{i}": c[3] for i, c in enumerate(counts.values())},
                          **{f"o{i}": c[4] for i, c in enumerate(counts.values())},
                          **{f"i{i}": table[c].isinf().sum() for i, c in enumerate(floats)}
                          ).execute().iloc[0]
    for i, col in enumerate(floats):
        if int(agg[f"i{i}"] or 0):
            raise DataError(f"{where}: column '{col}' holds infinite values (customers "
                            f"{_rows_where(table, table[col].isinf(), key)}). Fix them, or leave "
                            f"them empty to be imputed.")
    for i, col in enumerate(counts):  # all percentages, or all dates: read as such
        filled = int(agg[f"n{i}"])
        named = col in column_formats  # dates in the format named for this column, whatever they look like
        if not filled or (not named and int(agg[f"k{i}"]) == filled):
            continue
        if not named and int(agg[f"p{i}"]) == filled:
            casts[col] = alternatives[col][0]
            agg[f"k{i}"] = filled
        elif not named and int(agg[f"d{i}"]) == filled:
            casts[col] = alternatives[col][1]
            agg[f"k{i}"] = filled
        elif named or (int(agg[f"o{i}"] or 0) == filled and duckdb):
            if named:
                given, said = column_formats[col], f"the date format given for it ('{column_formats[col]}')"
            elif date_format:
                given, said = date_format, f"date_format '{date_format}'"
            else:
                given = date_formats.get(col, "")
                said = f"the model's date format '{given}' (its training file's)"
            found = _other_dates(table, col, texts[col], filled, given, said, key, where)
            if found is not None:
                casts[col], date_formats[col] = _try_strptime(texts[col], found), found
                agg[f"k{i}"] = filled
    unparsed = [col for i, col in enumerate(counts) if int(agg[f"k{i}"]) < int(agg[f"n{i}"])]
    formatted = formatted_number_columns(table, unparsed, fmt)
    if formatted:
        raise _formatted_numbers_error(where, formatted, fmt)
    for i, col in enumerate(counts):
        filled, parsed = int(agg[f"n{i}"]), int(agg[f"k{i}"])
        if filled and parsed == filled:
            numeric[col] = casts[col]
        elif filled and parsed >= 0.9 * filled:
            bad = _rows_where(table, casts[col].isnull() & texts[col].notnull(), key)
            raise DataError(
                f"{where}: column '{col}' holds numbers except in {filled - parsed} row(s) "
                f"(customers {bad}). Fix those values or list the column in table.categorical."
            )
    return table.mutate(**numeric) if numeric else table


def _other_dates(table: ir.Table, col: str, text: ir.StringValue, filled: int, date_format: str,
                 said: str, key: str, where: str) -> str | None:
    """The strptime format of a column of dates written otherwise than ISO: `date_format` when
    given (the column's, the source's or the bundle's, `said` naming which; an error naming the customers it
    does not read), else the one that reads a sample of its values and then every value
    (05/01/2024 is 5 January or May 5: a day above 12 anywhere in the column decides). None
    where no usual format reads them all: the column stays text. A CRM export's '01/10/2023'
    used to become a category with a value for nearly every customer."""
    fits = date_readings(table, text, filled, [date_format] if date_format else None)
    if date_format and not fits:
        bad = _rows_where(table, _try_strptime(text, date_format).isnull() & text.notnull(), key)
        raise DataError(f"{where}: column '{col}' holds values that {said} does not read (customers "
                        f"{bad}). Fix them, or give the format the dates are written in (date_formats for "
                        f"this column, date_format for all its dates).")
    if either_way(fits):
        raise DataError(f"{where}: column '{col}' holds dates written day first ('{fits[0]}') or "
                        f"month first ('{fits[1]}'), and no day above 12 tells which. Set "
                        f"date_formats = {{ \"{col}\" = \"{fits[0]}\" }} (or \"{fits[1]}\") in its "
                        f"[[table.sources]] entry, or date_format = '{fits[0]}' for all its dates.")
    return fits[0] if len(fits) == 1 else None


def either_way(fits: list[str]) -> bool:
    """Whether the formats that read a column are one date read day first and month first."""
    return len(fits) == 2 and fits[1] == swapped_day_month(fits[0])


def date_readings(table: ir.Table, text: ir.StringValue, filled: int,
                  formats: list[str] | None = None) -> list[str]:
    """The strptime formats among `formats` that read all `filled` values of `text`; by
    default those that read a sample of its distinct values, each with its day and month
    swapped, so that a column no day above 12 decides comes back with both."""
    if formats is None:
        sample = table.select(v=text).filter(ibis._.v.notnull()).distinct().limit(DATE_SAMPLE).execute()
        formats = usual_date_formats(sample["v"].tolist())
        formats += [swapped_day_month(f) for f in formats if swapped_day_month(f) not in formats]
        if not formats:
            return []
    read = table.aggregate(**{f"f{j}": _try_strptime(text, f).count() for j, f in enumerate(formats)}
                           ).execute().iloc[0]
    return [f for j, f in enumerate(formats) if int(read[f"f{j}"]) == filled]


def date_columns(table: ir.Table, columns: list[str]) -> dict[str, list[str]]:
    """Text columns among `columns` whose every value has the shape of a date written otherwise
    than ISO, with the formats that read all of each (two where day and month could be either):
    what `winback init --table` writes date_formats from (DuckDB)."""
    if not columns:
        return {}
    texts = {c: _cleaned(table[c].cast("string")) for c in columns}
    agg = table.aggregate(**{f"n{i}": t.count() for i, t in enumerate(texts.values())},
                          **{f"o{i}": ibis.ifelse(t.re_search(OTHER_DATE), 1, 0).sum()
                             for i, t in enumerate(texts.values())}).execute().iloc[0]
    filled = {c: int(agg[f"n{i}"]) for i, c in enumerate(columns)}
    dated = [c for i, c in enumerate(columns) if filled[c] and int(agg[f"o{i}"] or 0) == filled[c]]
    return {c: date_readings(table, texts[c], filled[c]) for c in dated}


def formatted_number_columns(table: ir.Table, columns: list[str],
                             fmt: NumberFormat = NumberFormat()) -> dict[str, tuple[Inferred, list[str]]]:
    """Text columns among `columns` that hold numbers written another way than `fmt` says
    ('$1,234.50', '12,5', '1.234,50 €'): column -> (what reads them, a few such values).

    The convention is inferred from a sample of the values that do not read, then checked on
    every value in one pass: a column counts only when one convention reads all of it, and both
    are reported when two do and disagree ('1,234' alone is 1234 or 1.234)."""
    texts = {c: table[c].cast("string").strip() for c in columns}
    texts = {c: ibis.ifelse((t == "") | t.lower().isin(MISSING_MARKS), ibis.null("string"), t)
             for c, t in texts.items()}
    found: dict[str, tuple[Inferred, list[str]]] = {}
    for col, text in texts.items():
        unread = (table.filter(text.notnull() & text_number(text, fmt).isnull())
                  .select(v=text).distinct().order_by("v").limit(20).execute()["v"].tolist())
        inferred = infer_number_format(unread, fmt)
        if inferred.fmt is not None or inferred.currencies:
            found[col] = (inferred, unread)
    if not found:
        return {}
    checks = {}
    for i, (col, (inferred, _)) in enumerate(found.items()):
        checks[f"n{i}"] = texts[col].count()
        for j, candidate in enumerate((inferred.fmt, inferred.other)):
            if candidate is not None:
                checks[f"k{i}_{j}"] = text_number(texts[col], candidate).count()
    agg = table.aggregate(**checks).execute().iloc[0]
    out = {}
    for i, (col, (inferred, unread)) in enumerate(found.items()):
        if inferred.currencies:
            out[col] = (inferred, unread[:3])
            continue
        reading = [c for j, c in enumerate((inferred.fmt, inferred.other))
                   if c is not None and int(agg[f"k{i}_{j}"]) == int(agg[f"n{i}"])]
        if reading:
            out[col] = (Inferred(reading[0], reading[1] if len(reading) > 1 else None), unread[:3])
    return out


def _formatted_numbers_error(where: str, found: dict[str, tuple[Inferred, list[str]]],
                             fmt: NumberFormat) -> DataError:
    """The error naming, per column, the settings of this [[table.sources]] entry that read it."""
    parts = []
    for col, (inferred, examples) in found.items():
        shown = f"column '{col}' ({', '.join(repr(v) for v in examples)})"
        if inferred.currencies:
            parts.append(f"{shown} mixes currency signs ({', '.join(inferred.currencies)}): "
                         f"convert its amounts to one currency")
        elif inferred.other is not None:
            parts.append(f"{shown} holds numbers that read two ways: set "
                         + " or ".join(" and ".join(f'{k} = "{v}"' for k, v in f.changes(fmt).items())
                                       for f in (inferred.fmt, inferred.other))
                         + ", whichever your system writes")
        else:
            parts.append(f"{shown} holds numbers written {described(inferred.fmt, fmt)[0]}. Set "
                         + " and ".join(f'{k} = "{v}"' for k, v in inferred.fmt.changes(fmt).items()))
    return DataError(f"{where}: " + "; ".join(parts) + " on this [[table.sources]] entry to read them as "
                     "numbers (or list them in table.categorical to keep them as text).")


# a spreadsheet's totals line, by what its key cell says ('Total', 'Grand Total', 'Summe')
TOTALS_KEY = r"(?i)^((grand|sub)[ _-]?)?totals?(:)?$|^sum(me)?$|^gesamt(summe)?$|^total[ _-]?general$|^totaa?l$|^totale$"


def blank_cell(col: ir.Value) -> ir.BooleanValue:
    """A cell with nothing in it: missing, or text of spaces only."""
    return col.isnull() | (col.strip() == "") if col.type().is_string() else col.isnull()


def empty_row(table: ir.Table) -> ir.BooleanValue:
    """A line with every cell blank, as spreadsheet exports leave them (winback's row counter
    aside): skipped by loading, and by `init --table` when it looks for the key."""
    return ibis.and_(*(blank_cell(table[c]) for c in table.columns if c != ROW))


def _without_empty_rows(table: ir.Table, key: str, where: str, file: str,
                        notes: list[str] | None) -> ir.Table:
    """The table without the empty lines spreadsheets leave (every cell blank) or their totals
    line (its key cell 'Total'), which it notes; a row with values but no customer id is an
    error that shows it. Before, a blank line counted as a repeated id, and the error named
    none; a totals line was a customer, scored with everyone's sums."""
    columns = [c for c in table.columns if c != ROW]
    totals = table[key].re_search(TOTALS_KEY).fill_null(False)
    no_key = blank_cell(table[key])
    empty = empty_row(table)
    # one pass over the file for the three counts; the rows themselves only when there are some
    counts = table.aggregate(empty=empty.sum(), no_key=no_key.sum(), totals=totals.sum()).execute().iloc[0]
    n_empty, n_no_key, n_totals = (int(counts[c] or 0) for c in ("empty", "no_key", "totals"))
    if n_no_key > n_empty:  # a totals line has its 'Total' in the id cell, so it is not one of these
        shown = table.filter(no_key & ~empty).select(*columns).limit(3).execute()
        examples = "; ".join(", ".join(f"{c} = {v!r}" for c, v in row.items() if not pd.isna(v) and str(v).strip())
                             for row in shown.to_dict("records"))
        raise DataError(f"{where}: {n_no_key - n_empty:,} row(s) have values but no customer id in '{key}' "
                        f"(e.g. {examples}). Give them their ids, or remove them from the file (a "
                        f"totals line, say).")
    if n_totals and notes is not None:
        found = table.filter(totals).select(v=table[key]).limit(3).execute()["v"].tolist()
        notes.append(f"skipped the totals line(s) {', '.join(repr(v) for v in found)} of '{file}'")
    if n_empty and notes is not None:
        notes.append(f"skipped {n_empty:,} empty row(s) of '{file}'")
    return table.filter(~empty & ~totals) if n_empty or n_totals else table


def _fix_values(table: ir.Table, fixes: dict[str, dict], where: str) -> ir.Table:
    _require(table, list(fixes), where)
    return table.mutate(**{
        col: table[col].strip().substitute(mapping) for col, mapping in fixes.items()
    }) if fixes else table


def _pivot(table: ir.Table, src: TableSourceConfig, key: str, where: str) -> ir.Table:
    _require(table, [src.pivot_column, *src.pivot_values], where)
    periods = [str(v) for v in table.select(p=table[src.pivot_column].strip()).distinct()
               .order_by("p").execute()["p"].dropna()]
    unknown = [p for p in periods if src.pivot_names and p not in src.pivot_names]
    if unknown:
        hints = ", ".join(f"'{p}'" + (f" (did you mean '{m}'?)" if (m := closest(p, src.pivot_names)) else "")
                          for p in unknown)
        raise DataError(
            f"{where}: column '{src.pivot_column}' has values not in pivot_names: {hints}. "
            f"Add them to pivot_names, or fix typos with fixes.{src.pivot_column}."
        )
    dup = (table.group_by([key, src.pivot_column]).aggregate(n=ibis._.count())
           .filter(ibis._.n > 1))
    n_dup = int(dup.count().execute())
    if n_dup:
        rows = ", ".join(map(str, dup.limit(MAX_ROWS_SHOWN).execute()[key].tolist()))
        raise DataError(f"{where}: {n_dup} (customer, {src.pivot_column}) pair(s) appear more than "
                        f"once (customers {rows}); one row per customer and period is expected.")
    period = table[src.pivot_column].strip()
    aggs = {}
    for value in src.pivot_values:
        stem = src.pivot_prefix or value
        if src.pivot_prefix and len(src.pivot_values) > 1:
            stem = f"{src.pivot_prefix}_{value}"
        for p in periods:
            aggs[f"{stem}_{src.pivot_names.get(p, p)}"] = table[value].max(where=period == p)
    return table.group_by(key).aggregate(**aggs)


def _prepare_source(con, src: TableSourceConfig, key: str, base: Path,
                    text_columns: frozenset[str] = frozenset(), notes: list[str] | None = None,
                    date_formats: dict[str, str] | None = None) -> ir.Table:
    where = f"Table file '{src.path}'"
    table = _open(con, src, base, notes)
    src_key = src.key or key
    _require(table, [src_key], where)
    table = table.rename({key: src_key}) if src_key != key else table
    if src.rename:
        _require(table, list(src.rename), where)
        table = table.rename({new: old for old, new in src.rename.items()})
    if src.columns:
        _require(table, src.columns, where)
        keep = [key, *src.columns]
        if src.pivot_column:
            keep += [src.pivot_column, *src.pivot_values]
        table = table.select(*dict.fromkeys(keep))
    ids = table[key]
    table = table.mutate(**{key: float_id_text(ids) if ids.type().is_floating() else ids.cast("string").strip()})
    table = _fix_values(table, src.fixes, where).cache()  # as read: what typing's checks query
    table = _without_empty_rows(table, key, where, src.path, notes)
    table = _typed(table, key, source_number_format(src), where, text_columns, src.date_format,
                   duckdb=con.name == "duckdb", date_formats=date_formats, column_formats=src.date_formats)
    # read, fixed and typed once into a temporary table: the checks and the join below would
    # otherwise each compile and run the whole reading again (on One Click's four small files,
    # compiling those queries was most of the load)
    table = table.cache()
    if src.pivot_column:
        return _pivot(table, src, key, where)
    dup = int(table.count().execute()) - int(table[key].nunique().execute())
    if dup:
        rows = ", ".join(map(str, table.group_by(key).aggregate(n=ibis._.count())
                             .filter(ibis._.n > 1).limit(MAX_ROWS_SHOWN).execute()[key].tolist()))
        raise DataError(f"{where}: {dup} customer id(s) in '{key}' appear more than once "
                        f"(e.g. {rows}); a customer table needs one row per customer.")
    return table


def _apply_filter(table: ir.Table, column: str, op: str, value) -> ir.Table:
    col = table[column]
    numeric_column = col.type().is_numeric()
    if numeric_column and isinstance(value, bool):
        value = float(value)  # value = true, on a true/false column (read as 1/0)
    elif numeric_column and isinstance(value, str):
        try:
            value = float(value)  # value = "10" in the TOML, on a number column
        except ValueError:
            raise DataError(f"table.filters: column '{column}' holds numbers, but the filter "
                            f"compares it with the text {value!r}. Write a number.") from None
    elif not numeric_column and not isinstance(value, str):
        raise DataError(f"table.filters: column '{column}' holds text, so '{op} {value}' cannot "
                        f"compare it with a number. Write the value in quotes to compare text, "
                        f"or fix the column's values if it should hold numbers.")
    ops = {">": col > value, ">=": col >= value, "<": col < value, "<=": col <= value,
           "==": col == value, "!=": col != value}
    return table.filter(ops[op])


def _label(table: ir.Table, cfg: Config, allow_missing: bool = False,
           notes: list[str] | None = None) -> ir.Table:
    """The 0/1 label from the label column's values. With `allow_missing` (the outcomes of
    scored customers, some not known yet) an empty one stays missing; for training, customers
    whose label is empty are left out with a note, as a CRM table holds this quarter's
    customers, outcome unknown, beside last quarter's (AutoML tools drop such rows the same
    way), and a label empty in every row is an error."""
    tab = cfg.table
    _require(table, [tab.label], "The joined customer table")
    text = table[tab.label].cast("string").strip()
    # no lists: the label is 0/1 already (or true/false, as pandas writes booleans)
    positive = [str(v) for v in tab.positive] or ["1", "true", "True", "TRUE"]
    negative = [str(v) for v in tab.negative] or ([] if tab.positive else ["0", "false", "False", "FALSE"])
    # a label read as a number prints as '1.0'; compare on the canonical text of numbers too
    is_pos = text.isin(positive) | text.isin([_num_text(v) for v in positive if _num_text(v)])
    if negative:
        is_neg = text.isin(negative) | text.isin([_num_text(v) for v in negative if _num_text(v)])
        bad = table.filter(~is_pos & ~is_neg & text.notnull())
        n_bad = int(bad.count().execute())
        if n_bad:
            values = bad.select(v=text).distinct().limit(MAX_ROWS_SHOWN).execute()["v"].tolist()
            fix = ("Add them to one of the lists." if tab.positive else
                   "Without table.positive the label must be 0/1 or true/false: list the value(s) "
                   "that mean 1 in table.positive (and those that mean 0 in table.negative).")
            raise DataError(
                f"Label column '{tab.label}': {n_bad} row(s) hold values in neither table.positive "
                f"nor table.negative: {values} (customers "
                f"{_rows_where(table, ~is_pos & ~is_neg & text.notnull(), tab.key)}). {fix}"
            )
    missing = 0 if allow_missing else int(table.filter(text.isnull()).count().execute())
    if missing:
        total = int(table.count().execute())
        if missing == total:
            raise DataError(f"Label column '{tab.label}' is empty in every row ({total:,}): there "
                            f"is no outcome to learn from. Check table.label, or fill the column "
                            f"in for the customers whose outcome is known.")
        if notes is not None:
            notes.append(f"left out {missing:,} of {total:,} customers whose '{tab.label}' is empty "
                         f"({'such as ' if missing > MAX_ROWS_SHOWN else ''}"
                         f"{_rows_where(table, text.isnull(), tab.key)}): an outcome "
                         f"not known yet is nothing to learn or test on; `winback score` scores them")
        table = table.filter(text.notnull())
    return table.mutate(**{LABEL: is_pos.cast("int8")}).drop(tab.label)


def _num_text(value: str) -> str:
    try:
        return str(float(value))
    except ValueError:
        return ""


def load_customer_table(cfg: Config, with_labels: bool = True, label_optional: bool = False,
                        categorical: Sequence[str] = (), date_formats: Mapping[str, str] | None = None,
                        for_training: bool = True) -> CustomerTable:
    """Join, fix, pivot, filter and label the `[table]` sources; one row per customer.

    `label_optional`: a table without the label column (new customers to score, whose outcome
    is not known yet) loads unlabelled, with a note, instead of failing. `categorical`: columns
    to keep as text beside table.categorical (scoring passes the bundle's, so that a category
    column whose values today all look like numbers is still read as the model learnt it).
    `date_formats`: the formats dates written otherwise than ISO were read in (the bundle's).
    `for_training=False` with labels reads the outcomes of customers a bundle scored (`winback
    outcomes`): the label's values are checked and kept (missing where it is empty: an outcome
    not known yet), but no column is left out as training leaves out empty, id-like or
    row-number columns, since the bundle's own columns are what it reads."""
    tab = cfg.table
    training = with_labels and for_training
    con = connect()
    key = tab.key
    text_columns = frozenset(tab.categorical) | frozenset(categorical)
    joined = None
    read_notes: list[str] = []  # what reading the files left out (CSV lines skipped)
    formats = dict(date_formats or {})  # given ones, then those found
    for src in tab.sources:
        t = _prepare_source(con, src, key, cfg.base_dir, text_columns, read_notes, formats)
        if joined is None:
            joined = t.mutate(**{ROW: ibis.row_number()})
            continue
        clash = [c for c in t.columns if c != key and c in joined.columns]
        if clash:
            raise DataError(f"Table file '{src.path}' repeats column(s) {clash} of an earlier "
                            f"table; rename them with `rename`.")
        # left join: every customer of the first table stays, missing values are imputed later
        joined = joined.left_join(t, key).drop(f"{key}_right")
    assert joined is not None
    # true/false columns are 1/0, with or without missing values (pandas would make a column
    # with gaps one of text, 'True' and 'False', and one without numbers)
    boolean = [c for c in joined.columns
               if c not in (key, tab.label) and c not in text_columns and joined[c].type().is_boolean()]
    if boolean:
        joined = joined.mutate(**{c: joined[c].cast("float64") for c in boolean})
    # number columns kept as categories (codes in a Parquet file) as the file's text would
    # write them: region 7, not '7.0' (a float column with a gap), so a CSV's '7' meets it
    codes = [c for c in joined.columns if c in text_columns and c != key and joined[c].type().is_numeric()]
    if codes:
        joined = joined.mutate(**{c: float_id_text(joined[c]) if joined[c].type().is_floating()
                                  else joined[c].cast("string") for c in codes})
    joined = joined.cache()  # joined once, for the counts, the label's checks and the frame
    notes = list(read_notes)
    before = int(joined.count().execute())
    if before == 0:
        raise DataError(f"Table file '{tab.sources[0].path}' has no rows.")
    for f in tab.filters:
        _require(joined, [f.column], "The joined customer table (table.filters)")
        joined = _apply_filter(joined, f.column, f.op, f.value)
    after = int(joined.count().execute())
    if tab.filters:
        rule = " and ".join(f"{f.column} {f.op} {f.value}" for f in tab.filters)
        notes.append(f"kept {after:,} of {before:,} customers where {rule}")
    if after == 0:
        raise DataError(f"No customer is left after table.filters ({before:,} before).")
    if with_labels and label_optional and tab.label not in joined.columns:
        notes.append(f"no label column '{tab.label}': this table can be scored, not trained on")
        with_labels = False
    if with_labels:
        joined = _label(joined, cfg, allow_missing=not for_training, notes=notes)
    elif tab.label in joined.columns:
        joined = joined.drop(tab.label)
    never_features = [c for c in tab.drop if c in (key, tab.label)]
    if never_features:
        raise DataError(f"table.drop lists '{never_features[0]}', the table's "
                        f"{'key' if never_features[0] == key else 'label'}, which is never a "
                        f"feature: remove it from table.drop.")
    drop = [c for c in tab.drop if c in joined.columns]
    missing_drop = [c for c in tab.drop if c not in joined.columns]
    if missing_drop:
        raise DataError(f"table.drop names column(s) not in the joined table: {missing_drop}."
                        f"{did_you_mean(missing_drop[0], joined.columns)}")
    joined = joined.drop(*drop) if drop else joined
    frame = joined.order_by(ROW).drop(ROW).execute()
    _require_categorical(frame, tab.categorical)
    feats = [c for c in frame.columns if c not in (key, LABEL)]
    empty = [c for c in feats if frame[c].isna().all()]
    if empty and with_labels and for_training:
        # nothing to learn from; kept, it would become an all-missing category in every model.
        # A table to score keeps it: the bundle imputes a column it was trained on.
        frame = frame.drop(columns=empty)
        feats = [c for c in feats if c not in empty]
        notes.append(f"left out {', '.join(repr(c) for c in empty)}: empty in every row")
    frame, feats = _dates_as_days(frame, feats, tab, notes)
    if with_labels and for_training:
        numbered = [c for c in feats if c not in text_columns and _row_number_like(c, frame[c])]
        frame, feats = _left_out(frame, feats, numbered, notes, (
            "a different whole number for every customer, named like an id or a row number, from "
            "which a model learns only the file's order (a leak, where the file is sorted by "
            "outcome); give {it} another name with `rename` to keep {it}"))
        ids = [c for c in feats if c not in tab.categorical and _identifier_like(frame[c])]
        frame, feats = _left_out(frame, feats, ids, notes, (
            "a different text for (nearly) every customer, like an id or an email, which no model "
            "can learn from (list {it} in table.categorical to keep {it})"))
    categorical = [c for c in feats if c in text_columns or not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in feats if c not in categorical]
    for c in categorical:
        frame[c] = category_text(frame[c])
    # said where a model learns them; where one scores, what matters is whether it knows them
    twins = _case_twins(frame, categorical) if training else ""
    if twins:
        notes.append(twins)
    for c in numeric:
        frame[c] = frame[c].astype("float64")
    warnings: list[str] = []  # what may make the model wrong, said louder than the notes
    if with_labels and for_training:
        proxies = _label_proxies(frame, numeric, categorical)
        if proxies:
            shown = ", ".join(f"'{c}' ({how}, ROC-AUC {auc:.3f})" for c, auc, how in proxies[:3])
            warnings.append(f"{shown} {'tells' if len(proxies) == 1 else 'tell'} the label "
                            f"almost perfectly on {'its' if len(proxies) == 1 else 'their'} own: a "
                            f"column recorded after the outcome (a cancellation date, a churn reason "
                            f"or score) is a leak, and the model would fail on customers whose "
                            f"outcome is not known yet; list such columns in table.drop")
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return CustomerTable(frame.reset_index(drop=True), key, numeric, categorical,
                         digest.hexdigest()[:16], notes, [c for c in boolean if c in numeric], warnings,
                         formats)


def _left_out(frame: pd.DataFrame, feats: list[str], columns: list[str], notes: list[str],
              why: str) -> tuple[pd.DataFrame, list[str]]:
    """Training without `columns`, and the note that says which and `why` ({it}: it or them)."""
    if not columns:
        return frame, feats
    notes.append(f"left out {', '.join(repr(c) for c in columns)}: "
                 + why.format(it="it" if len(columns) == 1 else "them"))
    return frame.drop(columns=columns), [c for c in feats if c not in columns]


def category_text(values: pd.Series) -> pd.Series:
    """A text column's categories as written, without the stray spaces of a CSV ('Pro ' is
    'Pro') and with the usual missing-value marks (NA, NULL, #N/A) missing, as in the numeric
    columns: otherwise each would be a category of its own."""
    text = values.astype("string").str.strip()
    return text.mask(text.eq("") | text.str.lower().isin(MISSING_MARKS))


def category_value(value: str | None) -> str | None:
    """One text value as `category_text` reads it, without pandas: what the service does with
    each category a request sends (a Series per column was most of a customer's scoring time)."""
    if value is None:
        return None
    text = str(value).strip()
    return None if not text or text.lower() in MISSING_MARKS else text


def _case_twins(frame: pd.DataFrame, categorical: list[str]) -> str:
    """The note on categories alike but for letter case ('Pro' and 'pro'): likely one category
    written two ways, which the models would learn as two. Said with the fix, not merged, since
    a code's case can carry meaning."""
    found = []
    for c in categorical:
        counts = frame[c].value_counts()
        lowered = pd.Series(counts.index.str.lower(), index=counts.index)
        for _, group in lowered.groupby(lowered.to_numpy()):
            if len(group) > 1:
                names = list(group.index)  # most customers first (value_counts' order)
                found.append((c, names, [int(counts[v]) for v in names]))
                break  # one example per column
    if not found:
        return ""
    shown = "; ".join(f"'{c}': " + " and ".join(f"'{v}' ({n:,})" for v, n in zip(names, ns))
                      for c, names, ns in found[:3])
    c, names, _ = found[0]
    fix = "{ " + f'"{c}" = {{ ' + ", ".join(f'"{v}" = "{names[0]}"' for v in names[1:]) + " } }"
    return (f"categories alike but for letter case, which the models read as different: {shown}; "
            f"if they are one, write them one way with fixes = {fix} on their [[table.sources]] entry")


def _dates_as_days(frame: pd.DataFrame, feats: list[str], tab, notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Date columns as `days_since_<column>`, days before `table.as_of` (or the latest date in
    them): how long ago a customer signed up or last ordered is what a model can use, and a
    date kept as text would be a category of its own for nearly every customer."""
    dates = [c for c in feats if c not in tab.categorical and (
        pd.api.types.is_datetime64_any_dtype(frame[c]) or _is_date_objects(frame[c]))]
    if not dates:
        return frame, feats
    values = {c: pd.to_datetime(frame[c], utc=True).dt.tz_localize(None) for c in dates}
    if tab.as_of:
        from winback.config import parse_date

        as_of, said = pd.Timestamp(parse_date(tab.as_of, "table.as_of")), "table.as_of"
    else:
        as_of = max(v.max() for v in values.values())
        said = "the latest date in them; set table.as_of to the date the table describes"
    if pd.isna(as_of):
        return frame, feats
    renamed = {c: f"days_since_{c}" for c in dates}
    clash = [n for n in renamed.values() if n in frame.columns]
    if clash:
        raise DataError(f"The joined customer table has a column '{clash[0]}' already; rename it, "
                        f"since its date column is read into a column of that name.")
    for c in dates:
        frame[c] = (as_of - values[c]).dt.total_seconds() / 86400
    frame = frame.rename(columns=renamed)
    notes.append(f"read {', '.join(repr(c) for c in dates)} as days before {as_of:%Y-%m-%d} ({said}): "
                 f"{', '.join(renamed.values())}")
    return frame, [renamed.get(c, c) for c in feats]


def _is_date_objects(values: pd.Series) -> bool:
    """A column of datetime.date objects (what a Parquet DATE column reads as)."""
    import datetime as dt

    present = values.dropna()
    return values.dtype == object and len(present) > 0 and all(isinstance(v, dt.date) for v in present.head(100))


def _identifier_like(values: pd.Series) -> bool:
    """Text that differs for every customer, or nine in ten (an email, a phone number, a
    surname): nothing in it generalises to another customer."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return False
    present = values.dropna()
    # nearly: surnames repeat a little, and one-hot columns for thousands of them teach nothing
    return (len(present) >= IDENTIFIER_MIN_ROWS and len(present) >= 0.9 * len(values)
            and present.nunique() >= 0.9 * len(present))


PROXY_AUC = 0.99  # one column alone separating the label this well is more likely a leak than a feature
PROXY_MIN_GROUP = 10  # categories with fewer customers are pooled, so a rare one cannot look perfect


def _label_proxies(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> list[tuple[str, float, str]]:
    """Columns that alone tell the label almost perfectly (ROC-AUC at least PROXY_AUC either
    way): by their values, or by where they are missing (a churn date only churners have).
    (column, ROC-AUC, what separates), strongest first."""
    from sklearn.metrics import roc_auc_score

    y = frame[LABEL].to_numpy()
    if len(y) < IDENTIFIER_MIN_ROWS or y.min() == y.max():
        return []

    def separation(score: np.ndarray, labels: np.ndarray) -> float:
        if len(labels) < IDENTIFIER_MIN_ROWS or labels.min() == labels.max() or np.all(score == score[0]):
            return 0.0
        auc = roc_auc_score(labels, score)
        return max(auc, 1 - auc)

    found = []
    for c in numeric:
        values = frame[c].to_numpy(dtype=float)
        gaps = np.isnan(values)
        if gaps.any():
            found.append((c, separation(gaps.astype(float), y), "where it is empty"))
        found.append((c, separation(values[~gaps], y[~gaps]), "its values"))
    for c in categorical:
        codes = frame[c].astype(object).where(frame[c].notna(), "\0missing")
        sizes = codes.map(codes.value_counts())
        codes = codes.where(sizes >= PROXY_MIN_GROUP, "\0rare")
        rate = pd.Series(y).groupby(codes.to_numpy()).mean()
        found.append((c, separation(codes.map(rate).to_numpy(dtype=float), y), "its categories"))
    strong = {}
    for c, auc, how in found:
        if auc >= PROXY_AUC and auc > strong.get(c, (0.0, ""))[0]:
            strong[c] = (auc, how)
    return sorted(((c, a, h) for c, (a, h) in strong.items()), key=lambda t: -t[1])


def _row_number_like(name: str, values: pd.Series) -> bool:
    """A second id or the file's row number: whole numbers, different for every customer, under
    an id's name. Unlike a measure, it says where a customer sits in the file, and files are
    often sorted by signup or by outcome."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna()
    if len(present) < IDENTIFIER_MIN_ROWS or len(present) < 0.9 * len(values) or present.nunique() != len(present):
        return False
    return bool((present == present.round()).all()) and bool(ID_NAMES.search(name_words(name)))


def name_words(name: str) -> str:
    """A column name with its camelCase read as words ('RowNumber' is 'Row Number'), so that
    name patterns can ask for whole words."""
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", name)


def _require_categorical(frame: pd.DataFrame, categorical: list[str]) -> None:
    missing = [c for c in categorical if c not in frame.columns]
    if missing:
        raise DataError(f"table.categorical names column(s) not in the joined table: {missing}."
                        f"{did_you_mean(missing[0], frame.columns)}")
