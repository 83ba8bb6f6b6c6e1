"""Open a raw source as an Ibis table on a DuckDB connection.

CSV files are read with every column as text so that winback, not the CSV sniffer, decides how
each value is parsed: a bad timestamp or number then becomes a clear error naming its rows
instead of a column silently typed as text. Parquet and DuckDB tables keep their own types, and
so do JSON lines, as DuckDB reads them, except that a field whose values mix types (ids that are
numbers in some events and text in others) becomes text, and nested objects are flattened into
dotted columns (`totals.visits`), as the flattened exports that the layouts map are named.
"""

from __future__ import annotations

import atexit
import codecs
import glob
import gzip
import os
import re
import shutil
import tempfile
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
from ibis.backends.duckdb import Backend as DuckDBBackend

from winback.config import SourceConfig
from winback.errors import ConfigError, DataError
from winback.data.workbooks import is_workbook, sheet_copy

FORMATS = ("csv", "parquet", "json", "duckdb", "excel")
# encodings DuckDB reads itself, by Python's name for them; any other that Python knows (cp1252,
# iso8859-15, shift_jis, ...) is decoded by winback into a UTF-8 copy that DuckDB reads
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16"}
SNIFF_BYTES = 4 << 20
NESTING = 3  # levels of nested JSON objects flattened into dotted columns


def connect(memory_limit: str | None = None) -> DuckDBBackend:
    """An in-memory DuckDB in UTC (see winback.data.engines for the configured one)."""
    from winback.config import EngineConfig
    from winback.data.engines import connect_duckdb

    return connect_duckdb(EngineConfig(memory_limit=memory_limit or ""))


def arrow_batches(con, expr, chunk_rows: int):
    """An Arrow RecordBatchReader over an Ibis expression's rows, streamed from the engine.

    On DuckDB, ibis 12's `to_pyarrow_batches` calls a cursor method DuckDB 2 no longer has;
    DuckDB's own relation reader streams the same compiled SQL."""
    if getattr(con, "name", "") == "duckdb":
        return con.con.sql(str(con.compile(expr))).to_arrow_reader(chunk_rows)
    # elsewhere the result (one row per customer) comes back whole through `execute`, which
    # types every column as the expression says (PostgreSQL's batch reader passes NUMERIC
    # averages through as Decimal and fails on them)
    import pyarrow as pa

    table = pa.Table.from_pandas(expr.execute(), preserve_index=False)
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(chunk_rows))


def infer_format(path: str) -> str:
    name = path.lower()
    for suffix, fmt in ((".csv", "csv"), (".csv.gz", "csv"), (".txt", "csv"), (".tsv", "csv"),
                        (".parquet", "parquet"), (".pq", "parquet"),
                        (".json", "json"), (".jsonl", "json"), (".ndjson", "json"), (".json.gz", "json"),
                        (".jsonl.gz", "json"), (".ndjson.gz", "json"),
                        (".duckdb", "duckdb"), (".db", "duckdb")):
        if name.endswith(suffix):
            return fmt
    if is_workbook(name):
        return "excel"
    raise ConfigError(
        f"Cannot tell the format of '{path}' from its extension; set source.format to one of "
        f"{', '.join(FORMATS)}."
    )


def matching_files(path: Path) -> list[str]:
    """The files a source path names: a glob's matches, the data files anywhere under a folder
    (a dataset Spark or pandas wrote in parts, `month=2024-01/part-0.parquet`), or the path
    itself when it exists."""
    if any(ch in str(path) for ch in "*?["):
        return sorted(glob.glob(str(path)))
    if path.is_dir():
        return _data_files_in(path)
    return [str(path)] if path.exists() else []


def _data_files_in(folder: Path) -> list[str]:
    """Files under `folder` in a format winback reads, leaving out the markers and checksums
    that writers put beside the data (Spark's _SUCCESS and .crc files, hidden files)."""
    found = []
    for file in sorted(folder.rglob("*")):
        parts = file.relative_to(folder).parts
        if not file.is_file() or any(p.startswith((".", "_")) for p in parts):
            continue
        try:
            infer_format(file.name)
        except ConfigError:
            continue
        found.append(str(file))
    return found


def source_format(source: SourceConfig, path: Path) -> str:
    """source.format, or the format the path's extension names; for a folder, the one format
    of the data files in it."""
    if source.format:
        return source.format
    if path.is_dir() and not any(ch in str(path) for ch in "*?["):
        formats = sorted({infer_format(f) for f in _data_files_in(path)})
        if len(formats) > 1:
            raise ConfigError(f"Folder '{path}' holds files in several formats ({', '.join(formats)}): "
                              f"point source.path at a glob of one kind (\"{path}/**/*.parquet\").")
        if formats:
            return formats[0]
        raise DataError(f"Folder '{path}' holds no CSV, Parquet or JSON files (searched in its "
                        f"subfolders too).")
    return infer_format(str(path))


DAMAGED = ("The file may be damaged or cut short (an interrupted copy or download), or not in the "
           "format named (source.format): check it, or copy it again.")


def open_local(file: str, mode: str = "rb", **text):
    """A local file, gunzipped on the fly when it ends in .gz (DuckDB reads both alike)."""
    return (gzip.open if file.endswith(".gz") else open)(file, mode, **text)


def csv_text(file: str, encoding: str, errors: str = "strict"):
    """A local CSV file opened as text for Python's csv module (a UTF-8 byte-order mark dropped)."""
    return open_local(file, "rt", encoding="utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding,
                      errors=errors, newline="")


def damaged_text(exc: BaseException) -> str:
    """The first line of a read failure's own message, then what to do about it; for a CSV
    line with more or fewer fields than its header (found past the lines DuckDB sniffs), which
    line, what it holds and why."""
    text = str(exc)
    return csv_shape_text(text) or f"{text.splitlines()[0].rstrip('. ')}. {DAMAGED}"


def csv_shape_text(message: str) -> str | None:
    """DuckDB's 'CSV Error on Line' failure said as a user would fix it, or None."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    count = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if not (line and count):
        return None
    file = re.search(r"^\s*file = (.+)$", message, re.M)
    original = re.search(r"^Original Line: (.*)$", message, re.M)
    delimiter = re.search(r"^\s*delimiter = (\S+)", message, re.M)
    return misshapen_text(file.group(1).strip() if file else "the CSV file",
                          [(int(line.group(1)), int(count.group(2)), original.group(1) if original else "")],
                          int(count.group(1)), delimiter.group(1) if delimiter else ",")


def misshapen_text(file: str, lines: list[tuple[int, int, str]], width: int, delimiter: str) -> str:
    """'line 30001 has 5 fields where the header has 4' and the usual cause: a value holding
    the delimiter without quotes around it (a name 'Smith, John', a price '1,50')."""
    (first, fields, text), others = lines[0], lines[1:]
    shown = text if len(text) <= 120 else text[:117] + "..."
    also = f" (also line {', '.join(str(n) for n, _, _ in others)})" if others else ""
    named = {"\t": "tab", "\\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}.get(delimiter, repr(delimiter))
    return (f"'{file}' line {first} has {fields} fields where its header has {width}{also}: "
            f"{shown!r}. A value that holds the delimiter ({named}) must be in double quotes"
            + (f" (\"Smith{delimiter} John\")" if delimiter in ",;|" else "")
            + ", and every line needs as many fields as the header: fix the line(s), or export the "
            "file again with values quoted.")


SNIFFED_LINES = 50_000  # DuckDB's sniffer reads 20,480 rows: a line that upset it is among these


def misshapen_lines(file: str, delimiter: str, encoding: str, limit: int = 3,
                    max_lines: int = SNIFFED_LINES) -> tuple[int, list[tuple[int, int, str]]]:
    """The header's width and the first `limit` lines (number, fields, text) among the first
    `max_lines` of a local CSV file whose field count differs from it; blank lines are not
    counted as rows."""
    import csv

    found: list[tuple[int, int, str]] = []
    width = 0
    try:
        with csv_text(file, encoding, errors="replace") as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                if not width:
                    width = len(row)
                    continue
                if row and len(row) != width:
                    found.append((reader.line_num, len(row), delimiter.join(row)))
                if len(found) == limit or reader.line_num >= max_lines:
                    break
    except (OSError, LookupError, csv.Error):
        return width, []
    return width, found


def misshapen_csv(source: "SourceConfig", files: list[str], columns: list[str]) -> str | None:
    """Why DuckDB read a CSV as one column named like 'customer_id,date,amount' (its sniffer
    gives up when a line among the first it reads has more or fewer fields than the header),
    or why sniffing it failed: the lines at fault, or None when none is. Only the one-column
    symptom or the failure itself is diagnosed, so a file that reads well is not read twice."""
    if len(columns) > 1 or not (source.delimiter or columns):
        return None
    delimiter = source.delimiter or max((",", ";", "\t", "|"), key=columns[0].count)
    if delimiter not in (source.delimiter or columns[0]):
        return None  # one column without a delimiter in its name: a file of one column
    for file in files:
        width, lines = misshapen_lines(file, delimiter, source.encoding or "utf-8")
        if lines:
            return misshapen_text(file, lines, width, delimiter)
    return None


def empty_files(files: list[str]) -> list[str]:
    """Files with nothing in them but blank space (not even a header)."""
    out = []
    for file in files:
        try:
            with open_local(file) as f:
                if not f.read(65_536).strip():
                    out.append(file)
        except OSError:
            continue
    return out


def is_read_failure(exc: BaseException) -> bool:
    """A DuckDB error from reading damaged input (bad bytes, a cut-off file), as opposed to a
    query it rejects, which is a bug to see whole."""
    import duckdb

    return (isinstance(exc, (duckdb.IOException, duckdb.InvalidInputException))
            or type(exc) is duckdb.Error)


def _by_name(matches: list[str]) -> dict:
    """Several files are combined by column name, with each column's type widened to one that
    holds every file's values (ids written as integers in one file and as text in the next
    become text), instead of taking the first file's schema and failing or misreading the rest."""
    return {"union_by_name": True} if len(matches) > 1 else {}


@ibis.udf.scalar.builtin
def json_extract_string(value: dt.JSON, path: str) -> str:
    """DuckDB's own: a JSON scalar as text (a number as its digits, a string without quotes)."""


def _flat_json(table: ibis.Table) -> ibis.Table:
    """Columns of JSON lines as a flat table: nested objects become dotted columns, fields of
    mixed types (typed JSON by DuckDB) text."""
    columns: dict[str, ibis.Value] = {}

    def add(name: str, value: ibis.Value, depth: int) -> None:
        kind = value.type()
        if kind.is_struct() and depth < NESTING:
            for field in kind.names:
                add(f"{name}.{field}", value[field], depth + 1)
        elif kind.is_json():
            columns[name] = json_extract_string(value, "$")
        else:
            columns[name] = value

    for name in table.columns:
        add(name, table[name], 0)
    return table.select(**columns)


def files_lacking(source: SourceConfig, path: Path, columns: list[str]) -> dict[str, list[str]]:
    """For a glob of several files: each file that lacks some of `columns` -> those columns.
    Files are combined by name, so a column one file lacks would read as empty values for all
    its rows (purchases without amounts, events without customers) instead of failing."""
    matches = matching_files(path)
    if len(matches) < 2 or not columns:
        return {}
    fmt = source_format(source, path)
    if fmt == "duckdb":
        return {}
    con = None if fmt == "parquet" else connect()  # Parquet names come from the footers alone
    out = {}
    for file in matches:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            try:
                names = set(pq.read_schema(file).names)
            except Exception:  # a damaged file fails with its own message when it is read
                continue
        else:
            names = set(open_source(con, source, Path(file)).columns)
        lacking = [c for c in columns if c not in names]
        if lacking:
            out[file] = lacking
    return out


def _duckdb_file_table(con: DuckDBBackend, source: SourceConfig, file: str) -> ibis.Table:
    """`source.table` ('orders' or 'sales.orders') of a DuckDB database file, attached read-only.
    Tables are listed from information_schema with DuckDB itself: ibis 12's list_tables calls a
    method DuckDB 2 removed."""
    quoted = file.replace("'", "''")
    con.con.execute(f"ATTACH IF NOT EXISTS '{quoted}' AS winback_src (READ_ONLY)")
    found = con.con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = 'winback_src' ORDER BY table_schema, table_name").fetchall()
    names = {(f"{name}" if schema == "main" else f"{schema}.{name}"): (schema, name)
             for schema, name in found}
    if not source.table:
        which = (f"set source.table = '{next(iter(names))}', its only table" if len(names) == 1
                 else f"its tables: {', '.join(names) or 'none'}")
        raise ConfigError(f"source.table must name the table to read from the DuckDB file "
                          f"'{file}' ('orders', or 'schema.orders' outside the main schema): {which}.")
    schema, _, name = source.table.rpartition(".")
    wanted = f"{schema}.{name}" if schema and schema != "main" else name
    if wanted not in names:
        from winback.errors import did_you_mean

        elsewhere = [n for n in names if n.rpartition(".")[2] == name]
        hint = (f" It is in another schema: table = '{elsewhere[0]}'." if elsewhere
                else did_you_mean(wanted, list(names)))
        raise DataError(
            f"DuckDB file '{file}' has no table '{source.table}'.{hint} "
            f"Tables: {', '.join(names) or 'none'}."
        )
    schema, name = names[wanted]
    return con.table(name, database=("winback_src", schema))


def encoding_problem(encoding: str) -> str:
    """Why `encoding` cannot be read, or ''."""
    if not encoding:
        return ""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return (f"encoding '{encoding}' is not one Python knows: use 'utf-8', 'latin-1', 'cp1252' "
                f"(Windows), 'utf-16', or another name from Python's codecs (or re-save the file "
                f"as UTF-8)")
    return ""


_COPIES: dict[tuple, str] = {}  # (file, version, encoding) -> its UTF-8 copy
_COPY_FOLDER: list[str] = []  # made on first use, removed at exit


def copy_folder() -> str:
    """The temporary folder of this process's readable copies (UTF-8 text, workbook sheets),
    made on first use and removed at exit."""
    if not _COPY_FOLDER:
        _COPY_FOLDER.append(tempfile.mkdtemp(prefix="winback-copies-"))
        atexit.register(shutil.rmtree, _COPY_FOLDER[0], True)
    return _COPY_FOLDER[0]


def _utf8_copy(file: str, encoding: str) -> str:
    """A UTF-8 copy of the text `file` in `encoding`, for encodings DuckDB does not read: made
    once per process and file version, in a temporary folder removed at exit."""
    stat = os.stat(file)
    key = (os.path.abspath(file), stat.st_mtime_ns, stat.st_size, codecs.lookup(encoding).name)
    if key in _COPIES and os.path.exists(_COPIES[key]):
        return _COPIES[key]
    name = Path(file).name.removesuffix(".gz")
    target = os.path.join(copy_folder(), f"{len(_COPIES)}-{name}")
    try:
        with open_local(file, "rt", encoding=encoding, newline="") as src, \
                open(target, "w", encoding="utf-8", newline="") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except UnicodeDecodeError as exc:
        raise DataError(f"'{file}' is not {encoding} text: byte {exc.object[exc.start:exc.start + 1]!r} "
                        f"at offset {exc.start:,} of a block has no meaning there. Check "
                        f"source.encoding, or re-save the file as UTF-8.") from exc
    _COPIES[key] = target
    return target


def _has_windows_bytes(files: list[str]) -> bool:
    """Whether the start of the first file has bytes 0x80-0x9F, which Windows-1252 uses for €,
    curly quotes and dashes and Latin-1 leaves to control codes nobody writes."""
    try:
        with open_local(files[0]) as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False
    return any(0x80 <= b <= 0x9F for b in head)


def csv_rows(file: str, delimiter: str, encoding: str, count: int = 1) -> list[list[str]] | None:
    """The first `count` rows of a local CSV file (gzipped or not), as written; None when it
    cannot be read as `encoding` text."""
    import csv
    import itertools

    try:
        with csv_text(file, encoding) as f:
            return list(itertools.islice(csv.reader(f, delimiter=delimiter), count))
    except (OSError, UnicodeDecodeError, LookupError, csv.Error):
        return None


def header_row(file: str, delimiter: str, encoding: str) -> list[str] | None:
    """The first row of a local CSV file, each name trimmed; None when it cannot be read."""
    rows = csv_rows(file, delimiter, encoding)
    return None if rows is None else [c.strip() for c in (rows[0] if rows else [])]


def _first_rows(source: SourceConfig, path: Path, width: int, count: int) -> list[list[str]]:
    """The first rows of a CSV source's first file, split by its delimiter, or by the first of
    the usual ones that gives the `width` columns DuckDB found (DuckDB guesses it); [] when
    none does or the file cannot be read."""
    files = matching_files(path)
    if not files or source_format(source, path) != "csv":
        return []
    for delimiter in ([source.delimiter] if source.delimiter else [",", ";", "\t", "|"]):
        rows = csv_rows(files[0], delimiter, source.encoding or "utf-8", count)
        if rows and len(rows[0]) == width:
            return rows
    return []


def repeated_header_names(source: SourceConfig, path: Path, width: int) -> list[str]:
    """Names a CSV's or a sheet's header writes more than once, which DuckDB (and winback's
    sheet reader) read as 'Date', 'Date_1', ...: a mapping that names 'Date' reads the first
    of them only."""
    from collections import Counter

    if source_format(source, path) == "excel":
        from winback.data.workbooks import sheet_header

        files = matching_files(path)
        header = sheet_header(files[0], source.sheet, source.skip_rows) if files else []
    else:
        rows = _first_rows(source, path, width, 1)
        header = [c.strip() for c in rows[0]] if rows else []
    return [name for name, n in Counter(header).items() if n > 1 and name]


# names an engine gives header cells that are blank: DuckDB's column1, a workbook's column_2,
# Spark's _c1; most of a header so named is a report's title line read as the header
_UNNAMED = re.compile(r"^(column_?\d+|_c\d+)$")
# a cell that is a value rather than a column's name: a number, an amount, a date
_VALUE_CELL = re.compile(r"^[-+(]?[$€£¥]?\s*[\d.,' ]*\d[\d.,' ]*\s*[$€£¥%)]?$|^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
TITLE_SCAN_ROWS = 50


def looks_titled(columns: list[str]) -> bool:
    """Whether a source's header looks like a title line (a report's 'Sales report,,,'): its
    first name written, most of the others blank."""
    unnamed = sum(bool(_UNNAMED.match(c)) for c in columns)
    return len(columns) >= 2 and not _UNNAMED.match(columns[0]) and unnamed >= len(columns) / 2


def header_line(rows: list[list[str]]) -> int | None:
    """The index of the header among a file's first rows: the first row that fills most of
    the widest row's cells (at least two) with names, none a number or date; None when that
    row holds values (a table whose header leaves names blank) or no row is that wide."""
    filled = [sum(bool(str(c).strip()) for c in row) for row in rows[:TITLE_SCAN_ROWS]]
    if not filled:
        return None
    wide = max(2, 0.8 * max(filled))
    for i, (row, n) in enumerate(zip(rows, filled)):
        if n >= wide:
            cells = [str(c).strip() for c in row if str(c).strip()]
            return None if any(_VALUE_CELL.match(c) for c in cells) else i
    return None


def title_lines(source: SourceConfig, path: Path, columns: list[str]) -> tuple[int, list[str]] | None:
    """(the lines above the header, their text) of a CSV or workbook source whose header as
    read (`columns`) looks like a report's title line; None otherwise. For a workbook, the
    non-empty rows above it (its reader leaves out empty ones)."""
    if not looks_titled(columns):
        return None
    if source_format(source, path) == "excel":
        from winback.data.workbooks import chosen_sheet, sheet_rows

        files = matching_files(path)
        rows = [["" if v is None else str(v) for v in r]
                for r in sheet_rows(files[0], chosen_sheet(files[0], source.sheet))[:TITLE_SCAN_ROWS]]
    else:
        rows = _first_rows(source, path, len(columns), TITLE_SCAN_ROWS)
    k = header_line(rows)
    if not k:
        return None
    return k, [" ".join(c.strip() for c in row if c.strip()) for row in rows[:k] if any(c.strip() for c in row)]


def check_title_lines(source: SourceConfig, path: Path, raw: ibis.Table, name: str,
                      setting: str = "source.skip_rows") -> None:
    """A report export with title lines above its header ('Sales report', 'Store: Main') is
    read with the first of them as the header: an error that says which line is the header
    and how many to skip, rather than 'no column customer_id' among column1, column2, ..."""
    found = title_lines(source, path, list(raw.columns))
    if found is None:
        return
    k, titles = found
    shown = ", ".join(repr(t) for t in titles[:3]) + (", ..." if len(titles) > 3 else "")
    fix = (f"Set {setting} = {k} to read from its header." if source.backend != "spark" else
           "Spark's CSV reader cannot skip them: delete them from the file, or read it on DuckDB "
           f"(backend = \"duckdb\") with skip_rows = {k}.")
    raise DataError(f"{name} starts with {k} line(s) above its header ({shown}): its header is "
                    f"{'non-empty row' if source_format(source, path) == 'excel' else 'line'} {k + 1} "
                    f"(the columns read now are {', '.join(repr(c) for c in list(raw.columns)[:4])}, ...). {fix}")


def skipped_lines_note(con: DuckDBBackend, files: list[str], shown: list[str], options: dict) -> str:
    """bad_lines = "skip": the lines DuckDB leaves out, from one counting scan of each file
    (DuckDB records rejected lines only file by file, not for a union by name)."""
    import uuid

    total, examples = 0, []
    for file, name in zip(files, shown):
        table = f"winback_rejects_{uuid.uuid4().hex}"
        con.read_csv([file], **options, store_rejects=True, rejects_table=table,
                     rejects_scan=f"{table}_scan").count().execute()
        try:
            total += con.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            rows = con.con.execute(f"SELECT line, csv_line FROM {table} ORDER BY line LIMIT 3").fetchall()
        finally:
            con.con.execute(f"DROP TABLE IF EXISTS {table}")
            con.con.execute(f"DROP TABLE IF EXISTS {table}_scan")
        examples += [(name, line, text) for line, text in rows]
    if not total:
        return ""
    shown_lines = "; ".join(f"{Path(name).name} line {line}: {text[:80]!r}" for name, line, text in examples[:3])
    return (f"{total:,} CSV line(s) with more or fewer fields than the header were skipped "
            f"(bad_lines = \"skip\"): {shown_lines}" + ("; ..." if total > 3 else ""))


def open_source(con: DuckDBBackend, source: SourceConfig, path: Path,
                notes: list[str] | None = None) -> ibis.Table:
    """The raw table of `source` (not yet mapped), registered on `con`; what reading it left
    out (CSV lines skipped by `bad_lines = "skip"`) is appended to `notes`."""
    fmt = source_format(source, path)
    if fmt not in FORMATS:
        raise ConfigError(f"source.format '{fmt}' is not one of {', '.join(FORMATS)}.")
    matches = matching_files(path)
    originals = list(matches)  # a CSV in an encoding DuckDB lacks is read from UTF-8 copies
    if not matches:
        raise DataError(
            f"Source '{path}' does not exist (source.path in winback.toml; relative paths are "
            f"read from the config file's folder)."
        )
    try:
        if fmt == "csv":
            # skip given even when 0: DuckDB's sniffer otherwise skips lines on its own where the
            # first ones differ in shape (a line with a stray delimiter), header and rows included
            kwargs = {"all_varchar": True, "header": True, "skip": source.skip_rows}
            if source.delimiter:
                kwargs["delim"] = source.delimiter
            if source.encoding:
                native = DUCKDB_ENCODINGS.get(codecs.lookup(source.encoding).name)
                if native:
                    kwargs["encoding"] = native
                else:
                    matches = [_utf8_copy(m, source.encoding) for m in matches]
            empty = empty_files(originals)
            if empty:
                raise DataError(f"'{empty[0]}' is empty: it holds no header and no rows"
                                + (f" ({len(empty)} files of '{path}' are)" if len(empty) > 1 else "")
                                + ". Export it again, or leave it out of the source.")
            skip = source.bad_lines == "skip"
            if skip:
                kwargs["ignore_errors"] = True
            table = con.read_csv(matches, **kwargs, **_by_name(matches))
            misshapen = None if skip else misshapen_csv(source, originals, list(table.columns))
            if misshapen:
                raise DataError(misshapen)
            if skip and notes is not None:
                note = skipped_lines_note(con, matches, originals, kwargs)
                if note:
                    notes.append(note)
            return table
        if fmt == "parquet":
            return con.read_parquet(matches, **_by_name(matches))
        if fmt == "json":
            return _flat_json(con.read_json(matches, **_by_name(matches)))
        if fmt == "excel":
            copies = [sheet_copy(m, source.sheet, source.skip_rows) for m in matches]
            return con.read_parquet(copies, **_by_name(copies))
        return _duckdb_file_table(con, source, matches[0])
    except (ConfigError, DataError):
        raise
    except Exception as exc:  # duckdb raises its own exception types for corrupt files
        text = str(exc)
        if fmt == "duckdb" and "lock" in text.lower():
            raise DataError(f"'{path}' is open in another program that writes to it (DuckDB lets "
                            f"one process write a file and then no other may read it): close that "
                            f"program, or read a copy of the file.") from exc
        if "not utf-8 encoded" in text:
            windows = _has_windows_bytes(matches)
            raise DataError(f"'{path}' is not UTF-8 text. Set its encoding to "
                            + ("'cp1252' (Windows and Excel exports: it has characters such as € "
                               "or curly quotes where Latin-1 has none)" if windows else
                               "'latin-1' (most Windows and Excel exports), or 'cp1252' if it "
                               "shows € or curly quotes")
                            + " (source.encoding, or encoding in its [[table.sources]] entry), or "
                            "the one your system writes, which can be any Python knows ('cp1251' "
                            "for Cyrillic Windows, 'shift_jis', 'utf-16'); or re-save it as "
                            "UTF-8.") from exc
        if "not latin-1 encoded" in text:
            raise DataError(f"'{path}' is not Latin-1 text: it has bytes Latin-1 leaves unused, "
                            f"where Windows-1252 writes €, curly quotes and dashes. Set its "
                            f"encoding to 'cp1252'.") from exc
        misshapen = misshapen_csv(source, originals, []) if fmt == "csv" and "sniffing" in text else None
        if misshapen:
            raise DataError(misshapen) from exc
        raise DataError(f"Cannot read '{path}' as {fmt}: {damaged_text(exc)}") from exc
