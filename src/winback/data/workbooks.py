"""Spreadsheet workbooks (.xlsx, .xlsm, .xls, .ods) as sources.

Shops export orders and customer lists as Excel files more often than as anything else, and
saving each as CSV by hand loses what the cells say: a date cell is an instant, not text in
the reader's locale, and a number cell needs no decimal setting. A sheet is read once (with
calamine, a Rust reader) into a typed Parquet copy in a temporary folder, which DuckDB then
reads like any Parquet source: date cells become timestamps (wall times, read in
source.timezone), number cells numbers (whole ones integers, so ids stay ids), and a column
whose cells mix kinds becomes text, trimmed as CSV text is.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from winback.errors import ConfigError, DataError, did_you_mean

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
_COPIES: dict[tuple, str] = {}
_HEADERS: dict[str, list[str]] = {}  # a copy's header as the sheet writes it, repeats and blanks kept
MAX_EXACT = 2 ** 53  # whole numbers a float cell holds exactly


def is_workbook(path: str) -> bool:
    return path.lower().endswith(WORKBOOK_SUFFIXES)


def _open(file: str):
    try:
        from python_calamine import CalamineWorkbook
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConfigError("Reading spreadsheet workbooks needs python-calamine: pip install "
                          "python-calamine") from exc
    try:
        return CalamineWorkbook.from_path(file)
    except Exception as exc:  # calamine raises its own types for damaged or encrypted files
        raise DataError(f"Cannot read '{file}' as a spreadsheet workbook: {str(exc).splitlines()[0]}. "
                        f"The file may be damaged, password-protected or not a workbook; open it "
                        f"in your spreadsheet program and save it again (or as CSV).") from exc


def sheet_names(file: str) -> list[str]:
    """The worksheets of `file` (charts and hidden sheets left out), in workbook order."""
    book = _open(file)
    try:
        return [m.name for m in book.sheets_metadata
                if str(m.typ).endswith("WorkSheet") and str(m.visible).endswith("Visible")] or book.sheet_names
    finally:
        book.close()


ALL_SHEETS = "*"  # sheet = "*": every worksheet, stacked (Online Retail II's two years)


def chosen_sheet(file: str, sheet: str) -> str:
    """`sheet`, checked against the workbook's, or its first worksheet when empty (and for
    `ALL_SHEETS`, whose first sheet is the one that stands for its header and title rows)."""
    names = sheet_names(file)
    if not sheet or sheet == ALL_SHEETS:
        if not names:
            raise DataError(f"'{file}' holds no worksheet.")
        return names[0]
    if sheet not in names:
        raise ConfigError(f"'{file}' has no sheet '{sheet}' (source.sheet, or sheet in its "
                          f"[[table.sources]] entry).{did_you_mean(sheet, names)} Its sheets: "
                          f"{', '.join(names)}.")
    return sheet


def sheet_note(file: str, where: str, stacked: bool | None = None) -> str:
    """A line for `init` when the workbook has several sheets: that all are read (`stacked`:
    init wrote sheet = "*", for sheets that share one header), or that the first is, and
    where (`where`) to name another. `stacked` None: init did not compare the sheets' headers
    (a customer table's), which this does to say whether "*" would read them."""
    names = sheet_names(file)
    if len(names) < 2:
        return ""
    if stacked:
        return (f"Read all {len(names)} sheets of the workbook ({', '.join(names)}), which have the "
                f"same columns, as one table: wrote sheet = \"*\" in {where} (name one sheet to "
                f"read it alone).")
    alike = " or \"*\" to read them all as one table" if stacked is None and same_header(file) else ""
    return (f"Read sheet '{names[0]}' of {len(names)} ({', '.join(names)}); set sheet = \"...\" in "
            f"{where} to read another{alike}.")


def same_header(file: str) -> bool:
    """Whether the workbook holds several worksheets whose first rows name the same columns
    (a year per sheet), which `sheet = "*"` reads as one table."""
    names = sheet_names(file)
    if len(names) < 2:
        return False
    headers = []
    book = _open(file)
    try:
        for name in names:
            rows = book.get_sheet_by_name(name).to_python(skip_empty_area=True, nrows=5)
            first = next((r for r in rows if any(not _empty(v) for v in r)), None)
            if first is None:
                return False
            headers.append(sorted(_header(first)))
    finally:
        book.close()
    return all(h == headers[0] for h in headers)


def _all_sheets(file: str, skip_rows: int):
    """Every worksheet as one typed frame, stacked by column name. A column typed otherwise in
    one sheet (numbers in one year, text in the next) is the text a CSV export would write."""
    import pandas as pd

    frames = [(name, sheet_frame(file, name, skip_rows)) for name in sheet_names(file)]
    columns = list(frames[0][1].columns)
    for name, frame in frames[1:]:
        lacking = [c for c in columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in columns]
        if lacking or extra:
            said = "; ".join(part for part in (
                f"lacks {', '.join(repr(c) for c in lacking)}" if lacking else "",
                f"has {', '.join(repr(c) for c in extra)} besides" if extra else "") if part)
            raise DataError(f"Sheet '{name}' of '{file}' {said} the columns of sheet '{frames[0][0]}': "
                            f"sheet = \"*\" reads sheets with the same columns as one table. Name one "
                            f"sheet, or make their headers alike.")
    for c in columns:
        kinds = {str(frame[c].dtype) for _, frame in frames}
        if len(kinds) == 1:
            continue
        if kinds <= {"Int64", "Float64"}:
            for _, frame in frames:
                frame[c] = frame[c].astype("Float64")
        else:
            for _, frame in frames:
                frame[c] = pd.array([None if pd.isna(v) else _text(v) for v in frame[c].astype(object)],
                                    dtype="string")
    stacked = pd.concat([frame[columns] for _, frame in frames], ignore_index=True)
    stacked.attrs["written_header"] = frames[0][1].attrs["written_header"]
    return stacked


def sheet_copy(file: str, sheet: str, skip_rows: int = 0) -> str:
    """A typed Parquet copy of one sheet of `file`: made once per process, file version, sheet
    and rows skipped, in a temporary folder removed at exit."""
    from winback.data.sources import copy_folder

    stat = os.stat(file)
    key = (os.path.abspath(file), stat.st_mtime_ns, stat.st_size, sheet, skip_rows)  # "" is the first sheet
    if key in _COPIES and os.path.exists(_COPIES[key]):
        return _COPIES[key]
    frame = (_all_sheets(file, skip_rows) if sheet == ALL_SHEETS
             else sheet_frame(file, chosen_sheet(file, sheet), skip_rows))
    target = os.path.join(copy_folder(), f"{len(_COPIES)}-{Path(file).stem}.parquet")
    frame.to_parquet(target, index=False)
    _COPIES[key] = target
    _HEADERS[target] = frame.attrs["written_header"]
    return target


def sheet_header(file: str, sheet: str, skip_rows: int = 0) -> list[str]:
    """The sheet's header as written (a name twice stays twice; a blank one is ''), kept from
    its copy rather than read again: the copy holds the names made unique."""
    return _HEADERS[sheet_copy(file, sheet, skip_rows)]


def sheet_rows(file: str, sheet: str) -> list[list]:
    """The sheet's non-empty rows, as calamine reads its cells."""
    book = _open(file)
    try:
        rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=True)
    finally:
        book.close()
    return [r for r in rows if any(not _empty(v) for v in r)]


def sheet_frame(file: str, sheet: str, skip_rows: int = 0):
    """The sheet as a typed DataFrame: its first non-empty row after `skip_rows` non-empty
    ones (a report's title rows) is the header."""
    import pandas as pd

    rows = sheet_rows(file, sheet)[skip_rows:]
    if not rows:
        raise DataError(f"Sheet '{sheet}' of '{file}' is empty" + (f" below its first {skip_rows} rows "
                                                                   f"(source.skip_rows)." if skip_rows else "."))
    header, body = _header(rows[0]), rows[1:]
    frame = pd.DataFrame({name: _typed([r[i] if i < len(r) else "" for r in body])
                          for i, name in enumerate(header)}, index=range(len(body)))
    frame.attrs["written_header"] = ["" if _empty(cell) else _text(cell) for cell in rows[0]]
    return frame


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header(cells: list) -> list[str]:
    """Column names as written, trimmed; a blank one is `column_<n>`, and a repeated one gets
    `_1`, `_2` as DuckDB names repeated CSV headers."""
    return unique_names([_text(cell) if not _empty(cell) else f"column_{i + 1}" for i, cell in enumerate(cells)])


def unique_names(header: list[str]) -> list[str]:
    """A header's names with a repeated one as `<name>_1`, `<name>_2`, ..., as DuckDB reads
    repeated CSV headers (and winback a workbook's, and Spark's CSV)."""
    names: list[str] = []
    for name in header:
        base, k = name, 0
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    return names


def _text(value) -> str:
    """A cell as the text a CSV export of it would hold: whole numbers without '.0', times in
    ISO 8601."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_EXACT:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _typed(values: list):
    """One column's cells as the narrowest type that holds them all."""
    import pandas as pd

    present = [v for v in values if not _empty(v)]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if all(float(v).is_integer() and abs(v) < MAX_EXACT for v in present):
            return pd.array([None if _empty(v) else int(v) for v in values], dtype="Int64")
        return pd.array([None if _empty(v) else float(v) for v in values], dtype="Float64")
    if present and all(isinstance(v, dt.date) and not isinstance(v, dt.time) for v in present):
        return pd.to_datetime(pd.Series([None if _empty(v) else dt.datetime.combine(v, dt.time()) if
                                         not isinstance(v, dt.datetime) else v for v in values],
                                        dtype="object")).astype("datetime64[us]")
    if present and all(isinstance(v, bool) for v in present):
        return pd.array([None if _empty(v) else v for v in values], dtype="boolean")
    return pd.array([None if _empty(v) else _text(v) for v in values], dtype="string")
