"""Where scores go: a Parquet or CSV file, a DuckDB table or a PostgreSQL table, each written
whole or not at all.

Every sink receives a DuckDB query over the scored rows (already ranked and in order), so a
file is written by DuckDB's own streaming COPY, and PostgreSQL gets the rows in record batches
through COPY FROM STDIN inside one transaction that swaps the new table in at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from winback.bundle import write_atomic_file
from winback.errors import ConfigError

FILE_FORMATS = {".parquet": "parquet", ".csv": "csv"}
DUCKDB_SUFFIXES = (".duckdb", ".db")
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
DEFAULT_TABLE = "winback_scores"
PG_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "BIGINT": "bigint",
            "INTEGER": "integer", "BOOLEAN": "boolean", "TIMESTAMP": "timestamp",
            "TIMESTAMP WITH TIME ZONE": "timestamptz", "DATE": "date", "SMALLINT": "smallint",
            "TINYINT": "smallint", "UBIGINT": "numeric", "HUGEINT": "numeric"}
PG_BATCH_ROWS = 50_000


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?", name):
        raise ConfigError(f"--table '{name}' is not a plain table name: use letters, digits and "
                          f"underscores, optionally as schema.table.")
    return name


def describe_output(output: str, table: str | None = None) -> str:
    """What `output` means, for messages; also checks it before any work is done."""
    kind = output_kind(output)
    if table and kind not in ("duckdb", "postgres"):
        raise ConfigError(f"--table names the table of a DuckDB or PostgreSQL output, but the scores "
                          f"go to {'standard output' if kind == 'stdout' else repr(output)}. To score "
                          f"another file of customers, give it with --input.")
    if kind == "stdout":
        return "standard output"
    if kind in ("duckdb", "postgres"):
        name = _identifier(table or DEFAULT_TABLE)
        shown = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", output)  # never print a password
        return f"table {name} in {shown}"
    return output


STDOUT = "-"  # CSV on standard output, for a pipe (`winback score ... -o - | head`)
STDOUT_BATCH_ROWS = 65_536


def output_kind(output: str) -> str:
    if output == STDOUT:
        return "stdout"
    lower = output.lower()
    if lower.startswith(POSTGRES_PREFIXES):
        return "postgres"
    suffix = Path(output).suffix.lower()
    if lower.endswith(".csv.gz"):
        return "csv_gz"
    if suffix in DUCKDB_SUFFIXES:
        return "duckdb"
    if suffix in FILE_FORMATS:
        return FILE_FORMATS[suffix]
    raise ConfigError(f"Cannot write scores to '{output}': name a .parquet, .csv or .csv.gz file, a DuckDB "
                      f"file (.duckdb) or a PostgreSQL URL (postgresql://user@host:port/db), the "
                      f"last two with --table; or '-' for CSV on standard output.")


def write_query(con: duckdb.DuckDBPyConnection, query: str, output: str,
                table: str | None = None) -> str:
    """Write the rows of `query` (run on `con`) to `output`; returns a description of where."""
    kind = output_kind(output)
    if kind == "stdout":
        _write_stdout(con, query)
        return "standard output"
    if kind in ("parquet", "csv", "csv_gz"):
        options = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER true",
                   "csv_gz": "FORMAT csv, HEADER true, COMPRESSION gzip"}[kind]
        return str(write_atomic_file(
            Path(output), lambda tmp: con.execute(f"COPY ({query}) TO '{_quote(tmp)}' ({options})")))
    name = _identifier(table or DEFAULT_TABLE)
    if kind == "duckdb":
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"ATTACH '{_quote(output)}' AS winback_target")
        try:
            # one statement: readers see the old table or the new one, never a part
            con.execute(f"CREATE OR REPLACE TABLE winback_target.{name} AS {query}")
        finally:
            con.execute("DETACH winback_target")
        return describe_output(output, name)
    _write_postgres(con, query, output, name)
    return describe_output(output, name)


def _write_stdout(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """The rows as CSV on standard output, streamed in batches; the run's messages go to
    standard error (see cli.cmd_score), so a pipe gets the CSV alone."""
    import sys

    import pyarrow.csv as pacsv

    reader = con.sql(query).to_arrow_reader(STDOUT_BATCH_ROWS)
    out = sys.stdout.buffer
    try:
        with pacsv.CSVWriter(out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        out.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): what it took is what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit


def _quote(text: str) -> str:
    return str(text).replace("'", "''")


def _write_postgres(con: duckdb.DuckDBPyConnection, query: str, url: str, name: str) -> None:
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError("Writing to PostgreSQL needs psycopg: pip install 'winback[postgres]'.") from exc
    rel = con.sql(query)
    columns = [f'"{c}" {PG_TYPES.get(str(t).upper(), "text")}' for c, t in zip(rel.columns, rel.types)]
    staging = f"{name}__winback_new"
    try:
        conn = psycopg.connect(url)
    except psycopg.Error as exc:
        raise ConfigError(f"Cannot connect to {describe_output(url, name)}: {str(exc).strip()}") from exc
    with conn:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {staging}")
            cur.execute(f"CREATE TABLE {staging} ({', '.join(columns)})")
            names = ", ".join(f'"{c}"' for c in rel.columns)
            reader = con.sql(query).to_arrow_reader(PG_BATCH_ROWS)
            with cur.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for batch in reader:
                    for row in zip(*(col.to_pylist() for col in batch.columns)):
                        copy.write_row(row)
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            # RENAME TO takes a bare name; the table stays in its schema
            cur.execute(f"ALTER TABLE {staging} RENAME TO {name.split('.')[-1]}")
