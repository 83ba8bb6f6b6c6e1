"""A DataFrame (pandas, polars, Arrow) as a winback source: written once as Parquet, then read
like any file.

A notebook holds its data as a DataFrame; winback reads sources through Ibis, and a Parquet
file keeps every type the frame has (zone-aware times, nullable integers, categories as text).
Writing it, rather than handing DuckDB the frame in memory, means every check a file gets
(validate, fingerprints, `--input`) applies unchanged, and the project can be rerun from the
command line on the same rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from winback.bundle import write_atomic_file
from winback.errors import DataError


def frame_to_parquet(frame, path: Path, what: str = "The DataFrame") -> list[str]:
    """Write `frame` (a pandas or polars DataFrame, or a pyarrow Table) to `path` (atomically: a
    temporary name, then renamed) and return what was changed to make it a table, for the
    caller to say: a named index (customer ids after a groupby) becomes a column, column names
    that are not text become text, and a column that mixes kinds of values (numbers and text)
    is written as text, as a CSV export would be."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    notes: list[str] = []
    if isinstance(frame, pd.DataFrame):
        _not_empty(len(frame), len(frame.columns), what)
        frame = _index_as_columns(frame, notes)
        frame = _text_names(frame, what, notes)
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # converted again once the culprits are text
            table = pa.Table.from_pandas(_mixed_as_text(frame, notes), preserve_index=False)
    else:
        table = _arrow(frame, what)
        _not_empty(table.num_rows, table.num_columns, what)
        _no_repeated_names(table.column_names, what)
    write_atomic_file(path, lambda tmp: pq.write_table(table, tmp))
    return notes


def _arrow(frame, what: str):
    """A pyarrow Table of an Arrow-native frame: pyarrow's own, polars' (`to_arrow`), or any
    that exports the Arrow stream interface."""
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    kind = f"{type(frame).__module__.split('.')[0]}.{type(frame).__name__}"
    if kind == "polars.LazyFrame":
        raise DataError(f"{what} is a polars LazyFrame, a query not yet run: pass `frame.collect()`.")
    if kind.startswith("pyspark."):  # collecting it here would pull a cluster's data into one process
        raise DataError(f"{what} is a Spark DataFrame: save it as a table (`frame.write.saveAsTable(...)`) "
                        f"and read it where it is, with source.backend = \"spark\" and source.table (see "
                        f"\"Running on your warehouse\"), or pass `frame.toPandas()` when it is small.")
    if hasattr(frame, "to_arrow"):
        table = frame.to_arrow()
        if isinstance(table, pa.Table):
            return table
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise DataError(f"{what} must be a pandas or polars DataFrame or a pyarrow Table, got {kind}.")


def _not_empty(rows: int, columns: int, what: str) -> None:
    if rows == 0 or columns == 0:
        raise DataError(f"{what} is empty ({rows:,} rows, {columns} columns): there is nothing to read.")


def _no_repeated_names(names: list[str], what: str) -> None:
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    repeated = [n for n, count in seen.items() if count > 1]
    if repeated:
        raise DataError(f"{what} has {len(repeated)} column name(s) that appear more than once as text "
                        f"(e.g. {repeated[0]!r}): rename them so each column has its own name.")


def _index_as_columns(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    names = [n for n in frame.index.names if n is not None]
    if not names:
        if frame.index.nlevels > 1 or pd.api.types.is_integer_dtype(frame.index.dtype):
            return frame  # a row number (RangeIndex or a filtered one): nothing to keep
        # unnamed, but ids or times rather than row numbers: kept, under a name it can be mapped by
        name = next(n for n in ("index", "level_0", "_index") if n not in frame.columns)
        notes.append(f"the unnamed index (of {frame.index.dtype} values, such as "
                     f"{str(frame.index[0])!r}) is read as a column '{name}'; give it a name "
                     f"(`frame.index.name = ...`) to have it read as what it is")
        return frame.rename_axis(name).reset_index()
    clash = [n for n in names if n in frame.columns]
    if clash:
        raise DataError(f"The DataFrame's index {clash[0]!r} is also one of its columns: "
                        f"`frame.reset_index(drop=True)` keeps the column, or rename one of them.")
    notes.append(f"the index ({', '.join(map(str, names))}) is read as a column")
    return frame.reset_index(level=names)


def _text_names(frame: pd.DataFrame, what: str, notes: list[str]) -> pd.DataFrame:
    """Column names as text: a MultiIndex (from a pivot or an aggregate) joined with '_'."""
    if isinstance(frame.columns, pd.MultiIndex):
        names = ["_".join(str(part) for part in parts if str(part) != "") for parts in frame.columns]
        notes.append("the column levels are joined with '_' (" + ", ".join(names[:3])
                     + (", ..." if len(names) > 3 else "") + ")")
    elif all(isinstance(c, str) for c in frame.columns):
        return frame
    else:
        names = [str(c) for c in frame.columns]
    _no_repeated_names(names, what)
    return frame.set_axis(names, axis=1)


def _mixed_as_text(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    import pyarrow as pa

    mixed = []
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object:
            continue
        try:
            pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            mixed.append(column)
    if not mixed:
        return frame
    frame = frame.copy()
    for column in mixed:
        frame[column] = frame[column].map(lambda v: None if _missing(v) else str(v)).astype(object)
    notes.append(f"{len(mixed)} column(s) mixing numbers and text are read as text ("
                 + ", ".join(map(repr, mixed[:5])) + (", ..." if len(mixed) > 5 else "") + ")")
    return frame


def _missing(value) -> bool:
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))  # a list cell is a value
