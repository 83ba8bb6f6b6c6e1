"""Where the labels and features run: DuckDB (embedded, the default), Spark, PostgreSQL or
BigQuery. The feature and label definitions are Ibis expressions, so they compile unchanged for
each; only the per-customer result comes back to Python.

`[source] backend` picks the engine, `[source.connection]` holds its settings, and `[engine]`
bounds the embedded DuckDB (memory limit, spill folder, threads) so that logs larger than RAM
are featurized on a laptop.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import ibis

from winback.config import Config, EngineConfig
from winback.data.workbooks import is_workbook
from winback.errors import ConfigError, DataError, did_you_mean


def _spark_trim_fix() -> None:
    """ibis writes `strip()` for Spark as TRIM(' \\t\\n\\r\\v\\f' FROM x), and Spark's SQL reads
    the escapes it does not know, \\v and \\f, as the letters v and f: a Stripe export's
    Captured 'false' became 'alse', a customer 'Dev' 'De'. Spark trims the blanks its
    literals can write instead (a vertical tab or form feed at either end of a value stays)."""
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    def visit_Strip(self, op, *, arg):  # noqa: N802 (ibis' visitor name)
        return self.f.trim(arg, " \t\n\r")

    PySparkCompiler.visit_Strip = visit_Strip


_spark_trim_fix()

BACKENDS = ("duckdb", "spark", "postgres", "bigquery")
CONNECTION_KEYS = {
    "duckdb": (),
    "postgres": ("url", "url_env"),
    "bigquery": ("project_id", "dataset_id", "location"),
    "spark": (),  # any spark.* setting
}


def check_engine_settings(cfg: Config) -> None:
    """Config checks that need no connection (called by validate_config)."""
    s = cfg.source
    if s.backend not in BACKENDS:
        raise ConfigError(f"source.backend '{s.backend}' is not one of {', '.join(BACKENDS)}."
                          f"{did_you_mean(s.backend, BACKENDS)}")
    for key in s.connection:
        allowed = CONNECTION_KEYS[s.backend]
        if s.backend == "spark" and key.startswith("spark."):
            continue
        if key not in allowed:
            hint = "spark.* settings" if s.backend == "spark" else ", ".join(allowed) or "none"
            raise ConfigError(f"[source.connection] key '{key}' does not apply to backend "
                              f"'{s.backend}' (it takes {hint}).{did_you_mean(key, allowed)}")
    if s.backend in ("postgres", "bigquery") and not s.table:
        raise ConfigError(f"source.table must name the events table on {s.backend}.")
    if s.backend == "spark" and not (s.table or s.path):
        raise ConfigError("source.table (a Spark table) or source.path (files Spark reads) is needed.")
    if s.backend == "postgres" and not (s.connection.get("url") or s.connection.get("url_env")):
        raise ConfigError("[source.connection] needs url = 'postgresql://user@host:5432/db' or "
                          "url_env = 'NAME_OF_AN_ENVIRONMENT_VARIABLE' holding it.")
    if s.backend == "bigquery" and not s.connection.get("project_id"):
        raise ConfigError("[source.connection] needs project_id (and dataset_id) for BigQuery; "
                          "credentials come from the environment (GOOGLE_APPLICATION_CREDENTIALS).")


def connect_duckdb(engine: EngineConfig | None = None):
    """In-memory DuckDB in UTC, with the memory limit, spill folder and threads of `[engine]`."""
    engine = engine or EngineConfig()
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    # ibis 12 (through sqlglot < 30.11, pinned) writes a list's lambda as `p -> ...`, which
    # DuckDB 2.0 reads only so (GA4's event_params, filtered for the session's parameter)
    con.raw_sql("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    spill = engine.temp_directory or os.path.join(tempfile.gettempdir(), "winback-spill")
    con.raw_sql(f"SET temp_directory = '{_plain(spill, 'engine.temp_directory')}'")
    if engine.memory_limit:
        con.raw_sql(f"SET memory_limit = '{_plain(engine.memory_limit, 'engine.memory_limit')}'")
    if engine.threads:
        con.raw_sql(f"SET threads = {int(engine.threads)}")
    return con


def _plain(value: str, key: str) -> str:
    if "'" in value:
        raise ConfigError(f"{key} must not contain quotes.")
    return value


def connect_engine(cfg: Config):
    """An Ibis backend for `source.backend`; raises ConfigError with the fix when it cannot."""
    s = cfg.source
    if s.backend == "duckdb":
        return connect_duckdb(cfg.engine)
    if s.backend == "postgres":
        url = s.connection.get("url") or os.environ.get(s.connection.get("url_env", ""), "")
        if not url:
            raise ConfigError(f"The environment variable {s.connection.get('url_env')} named by "
                              f"[source.connection] url_env is not set.")
        try:
            con = ibis.connect(url)
        except Exception as exc:
            raise ConfigError(f"Cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}") from exc
        con.raw_sql("SET TIME ZONE 'UTC'")
        return con
    if s.backend == "spark":
        return ibis.pyspark.connect(spark_session(s.connection))
    try:
        return ibis.bigquery.connect(project_id=s.connection["project_id"],
                                     dataset_id=s.connection.get("dataset_id", ""),
                                     location=s.connection.get("location") or None)
    except ImportError as exc:
        raise ConfigError("BigQuery needs its client: pip install 'ibis-framework[bigquery]'.") from exc


def spark_session(settings: dict[str, Any]):
    """A SparkSession from `spark.*` settings (spark.master picks the cluster; local[*] when
    unset), always in UTC so timestamps mean the same as on the other engines."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("The spark backend needs PySpark: pip install 'winback[spark]'.") from exc
    builder = SparkSession.builder.appName("winback")
    conf = {"spark.master": "local[*]", "spark.ui.enabled": "false", **settings,
            "spark.sql.session.timeZone": "UTC"}
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


# the Python names of the encodings Spark's CSV reader takes, and its own names for them
SPARK_CHARSETS = {"utf-8": "utf-8", "iso8859-1": "iso-8859-1", "ascii": "us-ascii", "utf-16": "utf-16",
                  "utf-16-be": "utf-16be", "utf-16-le": "utf-16le", "utf-32": "utf-32"}


def _spark_files(con, cfg: Config) -> ibis.Table:
    """The files at source.path on Spark: CSV (with the source's delimiter and encoding) or
    Parquet. A file that names neither (a folder, Spark's own output) is read as Parquet."""
    import codecs

    from winback.data.sources import infer_format

    s = cfg.source
    path = str(cfg.resolve(s.path))
    if s.format:
        fmt = s.format
    else:
        try:
            fmt = "parquet" if Path(path).is_dir() else infer_format(path)
        except ConfigError:
            fmt = "parquet"
    if is_workbook(path) or fmt == "excel":
        raise ConfigError(f"'{s.path}' is a spreadsheet workbook, which winback reads on DuckDB "
                          f"(backend = \"duckdb\"); for Spark, save its sheet as CSV or Parquet.")
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"'{s.path}' is {fmt.upper()}; on Spark winback reads CSV and Parquet files "
                          f"(or a table: source.table). Convert it, or read it on DuckDB "
                          f"(backend = \"duckdb\").")
    if fmt == "parquet":
        return con.read_parquet(path)
    if s.skip_rows:
        raise ConfigError(f"source.skip_rows = {s.skip_rows}: Spark's CSV reader cannot skip lines above "
                          f"the header. Delete them from '{s.path}', or read it on DuckDB "
                          f"(backend = \"duckdb\").")
    # text, as DuckDB reads CSV: winback decides how each value parses (Spark's own guess reads
    # a time of day as an interval and ids with leading zeros as numbers)
    options: dict[str, object] = {"header": True, "inferSchema": False}
    if s.delimiter:
        options["sep"] = s.delimiter
    if s.encoding:
        name = codecs.lookup(s.encoding).name
        if name not in SPARK_CHARSETS:
            raise ConfigError(f"Spark reads CSV text in UTF-8, ISO-8859-1 (latin-1), UTF-16 or UTF-32, "
                              f"not source.encoding = '{s.encoding}': re-save '{s.path}' as UTF-8, or "
                              f"read it on DuckDB (backend = \"duckdb\"), which takes any encoding.")
        options["encoding"] = SPARK_CHARSETS[name]
    groups = _files_by_header(path, s.delimiter or ",", s.encoding or "utf-8")
    if len(groups) <= 1:
        return _named_as_duckdb(con.read_csv(path, **options), next(iter(groups), ()))
    # Spark reads every file of a glob by the first one's header, by position: monthly exports
    # whose columns moved would mix them silently. Files are read by header and combined by
    # name, as on DuckDB (a column some files lack is empty in theirs)
    parts = [_named_as_duckdb(con.read_csv(files, **options), header) for header, files in groups.items()]
    names = list(dict.fromkeys(c for t in parts for c in t.columns))
    return ibis.union(*(t.select(*(t[c] if c in t.columns else ibis.null("string").name(c) for c in names))
                        for t in parts), distinct=False)


def _named_as_duckdb(t: ibis.Table, header: tuple[str, ...]) -> ibis.Table:
    """A CSV read by Spark with a header that repeats a name ('Date' twice), its columns
    named as DuckDB names them ('Date', 'Date_1'), so one config reads both engines alike;
    Spark's own names ('Date1', 'Date3', by position) matched no mapping."""
    from winback.data.workbooks import unique_names

    written = [h for h in header if h]
    if len(set(written)) == len(written) or len(header) != len(t.columns):
        return t
    # a blank name keeps Spark's own (_c3), as DuckDB gives one its own (column3)
    names = unique_names([h or c for h, c in zip(header, t.columns)])
    return t.rename(dict(zip(names, t.columns)))


def _files_by_header(path: str, delimiter: str, encoding: str) -> dict[tuple[str, ...], list[str]]:
    """The local CSV files at `path` grouped by their header row; {} for a path Spark resolves
    itself (hdfs://, s3://)."""
    from winback.data.sources import header_row, matching_files

    groups: dict[tuple[str, ...], list[str]] = {}
    for file in matching_files(Path(path)):
        header = header_row(file, delimiter, encoding)
        if header is not None:  # else Spark says what is wrong with the file when it reads it
            groups.setdefault(tuple(header), []).append(file)
    return groups


def engine_table(con, cfg: Config) -> ibis.Table:
    """The raw events table on a warehouse engine: `source.table` (schema.table allowed), or on
    Spark the files at `source.path`."""
    s = cfg.source
    if s.backend == "spark" and not s.table:
        return _spark_files(con, cfg)
    database, _, name = s.table.rpartition(".")
    try:
        return con.table(name, database=database or None)
    except Exception as exc:
        try:
            tables = con.list_tables(database=database or None)
        except Exception:
            tables = []
        raise DataError(f"{s.backend} has no table '{s.table}'.{did_you_mean(name, tables)}"
                        f"{' Tables: ' + ', '.join(tables[:20]) + '.' if tables else ''}") from exc


def is_duckdb(con) -> bool:
    return getattr(con, "name", "") == "duckdb"
