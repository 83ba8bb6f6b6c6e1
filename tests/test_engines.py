"""The same label and feature expressions on DuckDB, PySpark (local mode) and a real PostgreSQL
server give the same tables; whole runs configured with `source.backend` match DuckDB's; every
expression compiles to BigQuery SQL, kept as golden snapshots."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from winback.cli import main
from winback.config import ProblemConfig, config_from_dict
from winback.data.canonical import load_events
from winback.data.engines import connect_duckdb
from winback.datasets import cdnow_config, generate_rees46
from winback.errors import ConfigError, DataError
from winback.features import FeatureSpec, build_features
from winback.labels import Cutoff, label_table
from winback.nextevent.dataset import samples_table

GOLDEN = Path(__file__).parent / "golden" / "bigquery"
FULL_SPEC = FeatureSpec(windows_days=(7, 30, 90), trend_window_days=30, bgnbd=False, sequence_months=3,
                        available=("customer_id", "event_time", "event_type", "amount", "quantity",
                                   "price", "order_id", "session_id", "product_id", "brand", "category"))
PROBLEMS = [ProblemConfig(name="repeat_purchase"), ProblemConfig(name="return_visit"),
            ProblemConfig(name="first_purchase"),
            ProblemConfig(name="activity_decline", decline_measure="spend")]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from winback.data.engines import spark_session

    root = tmp_path_factory.mktemp("spark")
    session = spark_session({"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2",
                             "spark.sql.warehouse.dir": str(root / "warehouse"),
                             "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("engines") / "events.parquet"
    generate_rees46(path, rows=40_000, seed=4, days=120)
    return path


def _logs(synthetic):
    cdnow = load_events(cdnow_config())
    syn = load_events(config_from_dict({"source": {"path": str(synthetic), "layout": "rees46"}}))
    return {"cdnow": (cdnow, dt.datetime(1997, 10, 1)),
            "synthetic": (syn, syn.end - dt.timedelta(days=30))}


def _expressions(events: ibis.Table, when: dt.datetime) -> dict[str, ibis.Table]:
    cut = Cutoff(when, when + dt.timedelta(days=30), "test")
    out = {"features": build_features(events, when, FULL_SPEC)}
    for p in PROBLEMS:
        out[f"labels_{p.name}"] = label_table(events, cut, p)
    out["next_event_samples"] = samples_table(events, 3, start=when - dt.timedelta(days=7), end=when)
    return out


def _keys(name: str) -> list[str]:
    return ["session_id", "position"] if name.endswith("next_event_samples") else ["customer_id"]


def _same(name: str, want: pd.DataFrame, got: pd.DataFrame) -> None:
    keys = _keys(name)
    assert len(got) == len(want) and set(got.columns) == set(want.columns), name
    want = want.sort_values(keys).reset_index(drop=True)
    got = got[want.columns].sort_values(keys).reset_index(drop=True)
    for c in want.columns:
        a, b = want[c], got[c]
        assert (a.isna().to_numpy() == b.isna().to_numpy()).all(), f"{name}.{c}: nulls differ"
        if a.isna().all():
            continue
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            assert np.allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), rtol=1e-9,
                               atol=1e-9, equal_nan=True), f"{name}.{c}"
        elif pd.api.types.is_datetime64_any_dtype(a):
            assert (pd.to_datetime(a).dt.tz_localize(None) == pd.to_datetime(b).dt.tz_localize(None)).all(), f"{name}.{c}"
        else:
            known = a.notna().to_numpy()
            assert (a[known].astype(str).to_numpy() == b[known].astype(str).to_numpy()).all(), f"{name}.{c}"


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_features_and_labels_match_duckdb(engine, synthetic, request):
    for dataset, (log, when) in _logs(synthetic).items():
        events = log.table.execute()
        if engine == "postgres":
            con = ibis.connect(request.getfixturevalue("postgres_url"))
            remote = con.create_table(f"events_{dataset}", events, overwrite=True)
        else:
            session = request.getfixturevalue("spark")
            import pyarrow as pa

            session.createDataFrame(pa.Table.from_pandas(events, preserve_index=False)) \
                .createOrReplaceTempView(f"events_{dataset}")
            con = ibis.pyspark.connect(session)
            remote = con.table(f"events_{dataset}")
        local = _expressions(log.table, when)
        for name, expr in _expressions(remote, when).items():
            want = local[name].execute()
            # CDNOW has buyers only and no sessions
            assert len(want) > 0 or (dataset == "cdnow" and name in (
                "labels_first_purchase", "next_event_samples")), name
            _same(f"{engine}/{dataset}/{name}", want, expr.execute())


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_attribute_features_match_duckdb(engine, synthetic, request):
    """features.attributes: the latest value before the cutoff (ties to the greatest), its
    levels, numbers and days, alike on every engine."""
    log = load_events(config_from_dict({"source": {"path": str(synthetic), "layout": "rees46"}}))
    events = log.table.execute()
    rng = np.random.default_rng(0)
    events["tier"] = pd.array(rng.choice(["gold", "silver", "bronze", ""], len(events)), dtype="string")
    events.loc[rng.random(len(events)) < 0.3, "tier"] = None
    events["points"] = rng.choice([np.nan, 1.5, 20.0, 300.0], len(events))
    events["joined"] = events["event_time"] - pd.to_timedelta(rng.integers(0, 400, len(events)), unit="D")
    spec = FeatureSpec(windows_days=(30,), bgnbd=False, available=("customer_id", "event_time", "event_type", "amount"),
                       attributes=(("tier", "category", ("gold", "silver")), ("points", "number", ()),
                                   ("joined", "time", ())))
    when = log.end - dt.timedelta(days=30)
    if engine == "postgres":
        con = ibis.connect(request.getfixturevalue("postgres_url"))
        remote = con.create_table("events_attributes", events, overwrite=True)
    else:
        import pyarrow as pa

        session = request.getfixturevalue("spark")
        session.createDataFrame(pa.Table.from_pandas(events, preserve_index=False)) \
            .createOrReplaceTempView("events_attributes")
        remote = ibis.pyspark.connect(session).table("events_attributes")
    want = build_features(connect_duckdb().create_table("events_attributes", events, temp=True), when, spec).execute()
    assert want["tier is gold"].notna().sum() > 100 and want["days_since_joined"].notna().all()
    _same(f"{engine}/attributes", want, build_features(remote, when, spec).execute())


def _rees46_config(path, **source) -> dict:
    return {"source": {"path": str(path), "layout": "rees46", **source},
            "problem": {"name": "repeat_purchase", "horizon_days": 30, "train_cutoffs": 3,
                        "cutoff_step_days": 14},
            "train": {"candidates": ["logistic", "bgnbd"]}}


def test_a_whole_run_on_postgres_matches_duckdb(synthetic, postgres_url, tmp_path):
    """source.backend = "postgres": the raw REES46 table on the server, mapped and validated
    there; the leaderboard equals the DuckDB run's."""
    raw = pd.read_parquet(synthetic)
    ibis.connect(postgres_url).create_table("shop_events", raw, overwrite=True)
    runs = {}
    for backend in ("duckdb", "postgres"):
        extra = {"backend": "postgres", "table": "public.shop_events",
                 "connection": {"url_env": "WINBACK_TEST_PG"}} if backend == "postgres" else {}
        doc = _rees46_config(synthetic, **extra)
        doc["output"] = {"dir": str(tmp_path / backend)}
        path = tmp_path / f"{backend}.toml"
        path.write_text(_toml(doc))
        os.environ["WINBACK_TEST_PG"] = postgres_url
        try:
            assert main(["train", "-c", str(path), "-q", "--no-track"]) == 0
            # scoring streams the server's features in Arrow batches
            assert main(["score", "-c", str(path), "--bundle", str(tmp_path / backend / "bundle"),
                         "-o", str(tmp_path / f"{backend}.parquet"), "-q"]) == 0
        finally:
            os.environ.pop("WINBACK_TEST_PG", None)
        runs[backend] = json.loads((tmp_path / backend / "bundle" / "manifest.json").read_text())
    assert runs["postgres"]["fingerprint"] == runs["duckdb"]["fingerprint"]
    scores = {b: pd.read_parquet(tmp_path / f"{b}.parquet") for b in ("duckdb", "postgres")}
    assert scores["postgres"]["customer_id"].tolist() == scores["duckdb"]["customer_id"].tolist()
    assert np.allclose(scores["postgres"]["probability"], scores["duckdb"]["probability"], atol=1e-9)
    for a, b in zip(runs["duckdb"]["leaderboard"], runs["postgres"]["leaderboard"]):
        assert a["candidate"] == b["candidate"]
        assert a["roc_auc"] == pytest.approx(b["roc_auc"], abs=1e-9)
    # the value axis' check reads the test window on the server as on DuckDB
    check = {b: runs[b]["segments"]["value_check"] for b in runs}
    assert check["duckdb"]["actual_total"] > 0
    assert check["postgres"]["actual_total"] == pytest.approx(check["duckdb"]["actual_total"], rel=1e-9)
    assert check["postgres"]["capture"]["top_tenth"] == pytest.approx(check["duckdb"]["capture"]["top_tenth"])


def test_spark_reads_files_like_duckdb(synthetic, spark, capsys):
    """source.backend = "spark" with a Parquet path: the same summary and fingerprint."""
    from winback.data.canonical import load_events as load

    duck = load(config_from_dict(_rees46_config(synthetic)))
    cfg = config_from_dict(_rees46_config(synthetic, backend="spark"))
    on_spark = load(cfg, con=ibis.pyspark.connect(spark))
    for key in ("rows", "customers", "first_event", "last_event", "event_types", "fingerprint"):
        assert on_spark.summary[key] == duck.summary[key], key


def _canonical_on(source: dict, spark, postgres_url: str) -> pd.DataFrame:
    """The canonical events of `source` on the engine it names (DuckDB when none); a PostgreSQL
    source reads its URL from WINBACK_TEST_PG."""
    con = ibis.pyspark.connect(spark) if source.get("backend") == "spark" else None
    os.environ["WINBACK_TEST_PG"] = postgres_url
    try:
        return load_events(config_from_dict({"source": source}), con=con).table.execute()
    finally:
        os.environ.pop("WINBACK_TEST_PG", None)


def _same_on_every_engine(read, want, table: str) -> None:
    """`read(**source)` gives `want` on DuckDB (the file), Spark (the file) and PostgreSQL
    (`table`, created from the same rows, at the URL in WINBACK_TEST_PG)."""
    assert read() == want
    assert read(backend="spark") == want
    assert read(backend="postgres", table=f"public.{table}", connection={"url_env": "WINBACK_TEST_PG"}) == want


def test_unix_timestamps_on_every_engine(tmp_path, spark, postgres_url):
    """time_format = "unix_ms" gives the same instants on DuckDB, Spark and PostgreSQL (each
    compiles an epoch plus an interval of whole microseconds)."""
    base = int(dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    raw = pd.DataFrame({"user": ["a", "b", "c"], "spent": [1.0, 2.0, 3.0],
                        "ts": [base, base + 1_234, base + 86_400_000 * 40 + 7]})
    raw.to_parquet(tmp_path / "events.parquet")
    ibis.connect(postgres_url).create_table("unix_events", raw, overwrite=True)
    mapping = {"customer_id": "user", "event_time": "ts", "amount": "spent"}

    def times(**source) -> list:
        doc = {"path": str(tmp_path / "events.parquet"), "layout": "events",
               "time_format": "unix_ms", "columns": mapping, **source}
        return sorted(pd.to_datetime(_canonical_on(doc, spark, postgres_url)["event_time"]).tolist())

    want = [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-01 00:00:01.234"),
            pd.Timestamp("2024-04-10 00:00:00.007")]
    _same_on_every_engine(times, want, "unix_events")


def test_zone_names_on_every_engine(tmp_path, spark, postgres_url):
    """timezone = "Europe/Berlin": local wall times, text or naive timestamps, become the same
    UTC instants on DuckDB, Spark and PostgreSQL, daylight saving included (+1 h in January,
    +2 h in July); BigQuery compiles TIMESTAMP(datetime, zone). Customer ids '17850.0' read
    as 17850 on each."""
    raw = pd.DataFrame({"user": ["a", "17850.0", "c.0"], "spent": [1.0, 2.0, 3.0],
                        "ts": ["2024-01-15 10:00:00", "2024-07-15 10:00:00", "2024-12-31 23:30:00"]})
    raw.to_csv(tmp_path / "events.csv", index=False)
    typed = raw.assign(ts=pd.to_datetime(raw["ts"]))
    typed.to_parquet(tmp_path / "events.parquet")
    ibis.connect(postgres_url).create_table("zoned_events", typed, overwrite=True)
    mapping = {"customer_id": "user", "event_time": "ts", "amount": "spent"}

    def times(path: str, **source) -> list:
        doc = {"path": str(tmp_path / path), "layout": "events", "timezone": "Europe/Berlin",
               "columns": mapping, **source}
        out = _canonical_on(doc, spark, postgres_url)
        return sorted(zip(out["customer_id"], pd.to_datetime(out["event_time"])))

    # and ids written by a float column as text lose the '.0' on every engine
    want = [("17850", pd.Timestamp("2024-07-15 08:00")), ("a", pd.Timestamp("2024-01-15 09:00")),
            ("c.0", pd.Timestamp("2024-12-31 22:30"))]
    assert times("events.csv") == want
    assert times("events.parquet") == want
    assert times("events.parquet", backend="spark") == want
    assert times("events.csv", backend="spark") == want
    assert times("events.parquet", backend="postgres", table="public.zoned_events",
                 connection={"url_env": "WINBACK_TEST_PG"}) == want
    from winback.data.canonical import _local_to_utc

    ts = ibis.table({"ts": "timestamp"}, name="events").ts
    sql = ibis.to_sql(_local_to_utc(ts, "Europe/Berlin", "bigquery").name("t"), dialect="bigquery")
    assert "DATETIME(TIMESTAMP(" in sql.upper().replace("`", "") and "'Europe/Berlin'" in sql


def test_each_rows_own_offset_on_every_engine(tmp_path, spark, postgres_url):
    """Times that carry offsets which change with daylight saving (+0100, +0200, or PST and
    PDT as PayPal writes them) are converted row by row, to the same instants on DuckDB, Spark
    and PostgreSQL."""
    raw = pd.DataFrame({"user": ["a", "b", "c", "d", "e"], "spent": [1.0, 2.0, 3.0, 4.0, 5.0],
                        "ts": ["2024-01-15 10:00:00 +0100", "2024-07-15 10:00:00+02:00",
                               "2024-07-15 03:30:00 -0530", "2024-01-15 01:00:00 PST",
                               "2024-07-15 02:00:00 PDT"]})
    raw.to_csv(tmp_path / "events.csv", index=False)
    ibis.connect(postgres_url).create_table("offset_events", raw, overwrite=True)
    mapping = {"customer_id": "user", "event_time": "ts", "amount": "spent"}

    def times(**source) -> list:
        doc = {"path": str(tmp_path / "events.csv"), "layout": "events", "columns": mapping, **source}
        return sorted(pd.to_datetime(_canonical_on(doc, spark, postgres_url)["event_time"]).tolist())

    want = [pd.Timestamp("2024-01-15 09:00"), pd.Timestamp("2024-01-15 09:00"), pd.Timestamp("2024-07-15 08:00"),
            pd.Timestamp("2024-07-15 09:00"), pd.Timestamp("2024-07-15 09:00")]
    _same_on_every_engine(times, want, "offset_events")


def test_shopify_orders_export_on_every_engine(tmp_path, spark, postgres_url):
    """The Shopify layout's window over each order (its status, email and time are written on
    its first line only) gives the same line-item events on DuckDB, Spark and PostgreSQL."""
    import io

    from test_layouts import SHOPIFY, SHOPIFY_EVENTS, shopify_events

    (tmp_path / "orders_export.csv").write_text(SHOPIFY)
    ibis.connect(postgres_url).create_table("shopify_orders", pd.read_csv(io.StringIO(SHOPIFY)), overwrite=True)

    def events(**source) -> list:
        doc = {"path": str(tmp_path / "orders_export.csv"), "layout": "shopify", "drop_missing_customers": True,
               **source}
        return shopify_events(_canonical_on(doc, spark, postgres_url))

    _same_on_every_engine(events, SHOPIFY_EVENTS, "shopify_orders")


def test_paypal_activity_download_on_every_engine(tmp_path, spark, postgres_url):
    """The PayPal layout's customer (payer in, payee out), event type and joined date and time
    are the same on DuckDB, Spark and PostgreSQL."""
    import io

    from test_layouts import PAYPAL, PAYPAL_EVENTS, payment_events

    (tmp_path / "Download.CSV").write_text(PAYPAL)
    ibis.connect(postgres_url).create_table("paypal_activity", pd.read_csv(io.StringIO(PAYPAL), dtype=str),
                                            overwrite=True)

    def events(**source) -> list:
        doc = {"path": str(tmp_path / "Download.CSV"), "layout": "paypal", "drop_missing_customers": True,
               "thousands": ",", "timezone_column": "TimeZone", "timezone": "America/Los_Angeles", **source}
        return payment_events(_canonical_on(doc, spark, postgres_url))

    _same_on_every_engine(events, PAYPAL_EVENTS, "paypal_activity")


def test_ga4_export_on_duckdb_and_spark_and_compiled_for_bigquery(tmp_path, spark):
    """The GA4 layout's list filter (the session parameter), nested fields, item reads and
    repeated purchases give the same events from nested Parquet on DuckDB and Spark, and
    compile for BigQuery, where GA4 exports live (events_* tables)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from test_layouts import GA4_EVENTS, ga4_events, ga4_rows
    from winback.data.layouts import LAYOUTS

    table = pa.Table.from_pylist(ga4_rows())
    pq.write_table(table, tmp_path / "events.parquet")
    for backend in ("duckdb", "spark"):
        doc = {"path": str(tmp_path / "events.parquet"), "layout": "ga4", "drop_missing_customers": True,
               "backend": backend}
        assert ga4_events(_canonical_on(doc, spark, "")) == GA4_EVENTS, backend
    unbound = ibis.table(ibis.Schema.from_pyarrow(table.schema), name="events_20240105")
    rows = LAYOUTS["ga4"].expand(unbound)  # a purchase recorded twice: its first copy
    sql = ibis.to_sql(rows.mutate(**LAYOUTS["ga4"].derive(rows)), dialect="bigquery")
    assert "UNNEST" in sql.upper() and "ga_session_id" in sql
    assert "NOT EXISTS" in sql.upper() and "_ga4_first" in sql


def test_spark_reads_csv_with_the_sources_delimiter_and_encoding(tmp_path, spark):
    """A German export (semicolons, Latin-1, decimal commas) reads on Spark as on DuckDB; an
    encoding Spark's reader lacks, or a JSON or workbook path, is named with what to do."""
    (tmp_path / "export.csv").write_bytes("kunde;zeit;betrag\nJosé;2024-01-05 10:00:00;5,5\n"
                                          "Zoë;2024-01-06 11:30:00;6\n".encode("latin-1"))
    source = {"path": str(tmp_path / "export.csv"), "delimiter": ";", "encoding": "latin-1", "decimal": ",",
              "columns": {"customer_id": "kunde", "event_time": "zeit", "amount": "betrag"}}

    def rows(**more) -> list:
        out = _canonical_on({**source, **more}, spark, "")
        return sorted(zip(out["customer_id"], out["amount"]))

    assert rows() == rows(backend="spark") == [("José", 5.5), ("Zoë", 6.0)]
    for more, words in (({"encoding": "cp1252"}, "Spark reads CSV text in UTF-8, ISO-8859-1"),
                        ({"path": str(tmp_path / "events.jsonl")}, "is JSON; on Spark winback reads CSV and Parquet"),
                        ({"path": str(tmp_path / "orders.xlsx")}, "spreadsheet workbook, which winback reads on DuckDB")):
        with pytest.raises(ConfigError, match=words):
            _canonical_on({**source, **more, "backend": "spark"}, spark, "")


def test_spark_reads_a_glob_of_csv_files_by_column_name(tmp_path, spark):
    """Spark reads every CSV of a glob by the first file's header, by position: a month whose
    export moved its columns read gross amounts as net ones (or failed on a customer as a time).
    Files are read by header and combined by name, as on DuckDB; a mapped column some file
    lacks is an error naming it, on both."""
    (tmp_path / "jan.csv").write_text("customer_id,event_time,net,gross\na,2024-01-01 10:00:00,5,6\n")
    (tmp_path / "feb.csv").write_text("gross,net,event_time,customer_id,note\n8,7,2024-02-01 10:00:00,b,x\n")
    source = {"path": str(tmp_path / "*.csv"), "layout": "events",
              "columns": {"customer_id": "customer_id", "event_time": "event_time", "amount": "net"}}

    def rows(**more) -> list:
        out = _canonical_on({**source, **more}, spark, "")
        return sorted(zip(out["customer_id"], out["amount"], pd.to_datetime(out["event_time"])))

    want = [("a", 5.0, pd.Timestamp("2024-01-01 10:00")), ("b", 7.0, pd.Timestamp("2024-02-01 10:00"))]
    assert rows() == rows(backend="spark") == want
    (tmp_path / "mar.csv").write_text("customer_id,event_time,gross\nc,2024-03-01 10:00:00,9\n")
    for backend in ("duckdb", "spark"):
        with pytest.raises(DataError, match=r"1 file\(s\) of .* lack column\(s\).*mar.csv lacks 'net'"):
            _canonical_on({**source, "backend": backend}, spark, "")


def test_a_header_that_repeats_a_name_reads_alike_on_duckdb_and_spark(tmp_path, spark):
    """Two 'Date' columns: DuckDB names the second 'Date_1'; Spark named them 'Date1' and
    'Date3' (by position), so a config mapping 'Date' failed there. Both engines now read
    'Date' as the first and 'Date_1' as the second, alone or in a glob with other headers, and
    both name the differing repeat in the summary."""
    (tmp_path / "a.csv").write_text("Customer,Date,Amount,Date\na,2024-01-01,5,2024-01-04\n")
    (tmp_path / "b.csv").write_text("Date,Customer,Amount,Date\n2024-02-01,b,6,2024-02-09\n")
    for path, want_first, want_second in (
            ("a.csv", ["2024-01-01"], ["2024-01-04"]),
            ("*.csv", ["2024-01-01", "2024-02-01"], ["2024-01-04", "2024-02-09"])):
        for which, want in (("Date", want_first), ("Date_1", want_second)):
            source = {"path": str(tmp_path / path), "layout": "events",
                      "columns": {"customer_id": "Customer", "event_time": which, "amount": "Amount"}}
            for backend in ("duckdb", "spark"):
                got = _canonical_on({**source, "backend": backend}, spark, "")
                assert sorted(pd.to_datetime(got["event_time"]).dt.strftime("%Y-%m-%d")) == want, (path, which, backend)
    source = {"path": str(tmp_path / "a.csv"), "layout": "events", "backend": "spark",
              "columns": {"customer_id": "Customer", "event_time": "Date", "amount": "Amount"}}
    log = load_events(config_from_dict({"source": source}), con=ibis.pyspark.connect(spark))
    assert "the columns named 'Date' (the next is 'Date_1')" in log.summary["repeated_columns"]


def test_title_lines_above_a_csv_header_on_spark(tmp_path, spark):
    """Spark's CSV reader cannot skip lines: a report with title lines is an error that says
    to delete them or read it on DuckDB (it named Spark's _c1, _c2 columns missing), and
    skip_rows on Spark is a config error rather than lines silently read."""
    from test_validation import REPORT_ROWS

    (tmp_path / "report.csv").write_text("Sales report,,,\n" + "\n".join(REPORT_ROWS) + "\n")
    source = {"path": str(tmp_path / "report.csv"), "layout": "events", "backend": "spark",
              "columns": {"customer_id": "Customer Email", "event_time": "Order Date", "amount": "Total"}}
    with pytest.raises(DataError, match=r"starts with 1 line\(s\) above its header \('Sales report'\).*Spark's "
                                        r"CSV reader cannot skip them.*backend = \"duckdb\"\) with skip_rows = 1"):
        _canonical_on(source, spark, "")
    with pytest.raises(ConfigError, match=r"skip_rows = 1: Spark's CSV reader cannot skip lines"):
        _canonical_on({**source, "skip_rows": 1}, spark, "")
    assert len(_canonical_on({**source, "backend": "duckdb", "skip_rows": 1}, spark, "")) == 3


def test_hour_and_weekday_features_read_the_shops_clock_on_every_engine(spark, postgres_url):
    """features.timezone: a purchase at 02:00 UTC on a Saturday is Friday 21:00 in New York
    (an evening on a weekday) and Saturday 12:00 in Brisbane (+10:00); the hour and weekday
    features, and the next-event samples, say so on DuckDB, Spark and PostgreSQL, daylight
    saving included (New York is UTC-5 in January, UTC-4 in July), and BigQuery compiles
    DATETIME(TIMESTAMP(t, 'UTC'), zone)."""
    import dataclasses

    utc = ["2024-01-06 02:00:00", "2024-07-06 03:30:00", "2024-07-08 14:00:00"]  # Sat, Sat, Mon (UTC)
    events = pd.DataFrame({"customer_id": ["a", "a", "a"], "event_time": pd.to_datetime(utc),
                           "event_type": ["purchase"] * 3, "amount": [1.0, 2.0, 3.0], "quantity": [1.0] * 3,
                           "price": [1.0, 2.0, 3.0], "order_id": ["o1", "o2", "o3"],
                           "session_id": ["s1", "s2", "s3"],
                           **{c: pd.Series([None] * 3, dtype="string") for c in ("product_id", "brand", "category")}})
    spec = FeatureSpec(windows_days=(30,), available=("customer_id", "event_time", "event_type", "amount"),
                       bgnbd=False)
    cols = ["weekend_share", "hour_night_share", "hour_morning_share", "hour_afternoon_share",
            "hour_evening_share"]
    want = {  # (weekend, night, morning, afternoon, evening) of the three purchases
        "UTC": [2 / 3, 2 / 3, 0, 1 / 3, 0],  # Sat 02:00, Sat 03:30, Mon 14:00
        "America/New_York": [0, 0, 1 / 3, 0, 2 / 3],  # Fri 21:00, Fri 23:30, Mon 10:00
        "+10:00": [2 / 3, 1 / 3, 0, 2 / 3, 0]}  # Sat 12:00, Sat 13:30, Tue 00:00
    when = dt.datetime(2024, 8, 1)
    spark.createDataFrame(events).createOrReplaceTempView("clock_events")
    ibis.connect(postgres_url).create_table("clock_events", events, overwrite=True)
    tables = {"duckdb": ibis.duckdb.connect().create_table("clock_events", events),
              "spark": ibis.pyspark.connect(spark).table("clock_events"),
              "postgres": ibis.connect(postgres_url).table("clock_events")}
    for zone, shares in want.items():
        for engine, table in tables.items():
            got = build_features(table, when, dataclasses.replace(spec, timezone=zone)).execute()
            assert got[cols].iloc[0].tolist() == pytest.approx(shares), (zone, engine)
    # the next-event model's session samples read the same clock
    for engine, table in tables.items():
        samples = samples_table(table, 2, timezone="America/New_York").execute().sort_values("session_id")
        assert list(zip(samples.weekday, samples.hour)) == [(4, 21), (4, 23), (0, 10)], engine
    from winback.data.layouts import CANONICAL_TYPES

    unbound = ibis.table(CANONICAL_TYPES, name="events")
    sql = ibis.to_sql(build_features(unbound, when, dataclasses.replace(spec, timezone="America/New_York"),
                                     backend="bigquery"), dialect="bigquery")
    assert "DATETIME(TIMESTAMP(" in sql.upper().replace("`", "") and "'America/New_York'" in sql


def test_a_date_and_its_time_of_day_in_two_columns_on_every_engine(tmp_path, spark, postgres_url):
    """source.time_of_day: Square's Date and Time columns read together as one time, with the
    time_format of the joined text, on DuckDB, Spark and PostgreSQL; a blank time is midnight
    (it left the row unread)."""
    raw = pd.DataFrame({"user": ["a", "b", "c", "d"], "Date": ["01/05/2024", "12/31/2023", "07/04/2024", "08/01/2024"],
                        "Time": ["14:30:00", "23:59:59", "00:00:00", ""], "spent": [1.0, 2.0, 3.0, 4.0]})
    raw.to_csv(tmp_path / "events.csv", index=False)
    ibis.connect(postgres_url).create_table("clock_columns", raw, overwrite=True)

    def times(**source) -> list:
        doc = {"path": str(tmp_path / "events.csv"), "layout": "events", "time_of_day": "Time",
               "time_format": "%m/%d/%Y %H:%M:%S", "columns": {"customer_id": "user", "event_time": "Date",
                                                               "amount": "spent"}, **source}
        return sorted(pd.to_datetime(_canonical_on(doc, spark, postgres_url)["event_time"]).tolist())

    want = [pd.Timestamp("2023-12-31 23:59:59"), pd.Timestamp("2024-01-05 14:30"), pd.Timestamp("2024-07-04"),
            pd.Timestamp("2024-08-01")]
    _same_on_every_engine(times, want, "clock_columns")


def test_each_rows_own_zone_from_a_column_on_every_engine(tmp_path, spark, postgres_url):
    """source.timezone_column: a chain's tills in several zones, each row read in the zone its
    column names (Rails' names, IANA names, offsets; blank rows in source.timezone), daylight
    saving included, to the same instants on DuckDB, Spark and PostgreSQL."""
    raw = pd.DataFrame({"user": list("abcde"),
                        "ts": ["2024-01-05 10:00:00", "2024-07-05 10:00:00", "2024-07-05 10:00:00",
                               "2024-07-05 10:00:00", "2024-07-05 10:00:00"],
                        "zone": ["Eastern Time (US & Canada)", "Eastern Time (US & Canada)", "Europe/Berlin",
                                 " +05:30", ""],
                        "spent": [1.0, 2.0, 3.0, 4.0, 5.0]})
    raw.to_csv(tmp_path / "events.csv", index=False)
    ibis.connect(postgres_url).create_table("zone_column", raw, overwrite=True)

    def times(**source) -> list:
        doc = {"path": str(tmp_path / "events.csv"), "layout": "events", "timezone_column": "zone",
               "timezone": "Pacific Time (US & Canada)",
               "columns": {"customer_id": "user", "event_time": "ts", "amount": "spent"}, **source}
        out = _canonical_on(doc, spark, postgres_url).sort_values("customer_id")
        return pd.to_datetime(out["event_time"]).tolist()

    want = [pd.Timestamp(t) for t in ("2024-01-05 15:00", "2024-07-05 14:00", "2024-07-05 08:00",
                                      "2024-07-05 04:30", "2024-07-05 17:00")]
    _same_on_every_engine(times, want, "zone_column")


def test_hour_features_read_each_rows_own_clock_on_every_engine(tmp_path, spark, postgres_url):
    """With source.timezone_column, hour and weekday features read each event's wall time in
    its own zone (a Berlin till's Saturday 21:00 is an evening on a weekend), kept as the
    canonical local_time, on DuckDB, Spark and PostgreSQL; features.timezone puts them back on
    one clock, as do bundles made before (no row_clock in their spec)."""
    import dataclasses

    raw = pd.DataFrame({"user": ["a"] * 3,
                        "ts": ["2024-01-05 10:00:00", "2024-07-06 21:00:00", "2024-07-08 03:00:00"],
                        "zone": ["Eastern Time (US & Canada)", "Europe/Berlin", "+05:30"],
                        "spent": [1.0, 2.0, 3.0]})
    raw.to_csv(tmp_path / "tills.csv", index=False)
    ibis.connect(postgres_url).create_table("tills", raw, overwrite=True)
    doc = {"path": str(tmp_path / "tills.csv"), "layout": "events", "timezone_column": "zone",
           "timezone": "Pacific Time (US & Canada)",
           "columns": {"customer_id": "user", "event_time": "ts", "amount": "spent"}}
    cols = ["weekend_share", "hour_night_share", "hour_morning_share", "hour_afternoon_share",
            "hour_evening_share"]
    own = [1 / 3, 1 / 3, 1 / 3, 0, 1 / 3]  # Fri 10:00, Sat 21:00, Mon 03:00 as each till saw them
    pacific = [2 / 3, 0, 1 / 3, 2 / 3, 0]  # Fri 07:00, Sat 12:00, Sun 14:30 in Los Angeles
    when = dt.datetime(2024, 8, 1)
    os.environ["WINBACK_TEST_PG"] = postgres_url
    try:
        for backend in ("duckdb", "spark", "postgres"):
            source = {**doc, "backend": backend} if backend == "spark" else doc
            if backend == "postgres":
                source = {**doc, "backend": "postgres", "table": "public.tills",
                          "connection": {"url_env": "WINBACK_TEST_PG"}}
            cfg = config_from_dict({"source": source})
            con = ibis.pyspark.connect(spark) if backend == "spark" else None
            log = load_events(cfg, con=con)
            walls = sorted(pd.to_datetime(log.table.execute()["local_time"]).tolist())
            assert walls == [pd.Timestamp(t) for t in raw.ts], backend
            assert cfg.features.row_clock(cfg.source)
            spec = FeatureSpec(windows_days=(30,), available=tuple(sorted(log.available)), bgnbd=False,
                               timezone=cfg.features.clock(cfg.source.timezone), row_clock=True)
            got = build_features(log.table, when, spec).execute()
            assert got[cols].iloc[0].tolist() == pytest.approx(own), backend
            got = build_features(log.table, when, dataclasses.replace(spec, row_clock=False)).execute()
            assert got[cols].iloc[0].tolist() == pytest.approx(pacific), backend
    finally:
        os.environ.pop("WINBACK_TEST_PG", None)
    cfg = config_from_dict({"source": doc, "features": {"timezone": "America/Los_Angeles"}})
    assert not cfg.features.row_clock(cfg.source)


def test_formatted_amounts_on_every_engine(tmp_path, spark, postgres_url):
    """currency, thousands and decimal read '1.234,50 €' and "1'234.50" to the same numbers on
    DuckDB, Spark and PostgreSQL (a regex for the grouping, replace and cast on each)."""
    raw = pd.DataFrame({"user": ["a", "b", "c", "d"], "ts": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
                        "spent": ["1.234,50 €", "12,5 €", "€ 1.000.000", "7 €"],
                        "swiss": ["CHF 1'234.50", "CHF 12.5", "CHF 1'000'000", "CHF 7"]})
    raw.to_csv(tmp_path / "events.csv", index=False)
    ibis.connect(postgres_url).create_table("formatted_events", raw, overwrite=True)

    def amounts(column: str, settings: dict, **source) -> list:
        doc = {"path": str(tmp_path / "events.csv"), "layout": "events", **settings,
               "columns": {"customer_id": "user", "event_time": "ts", "amount": column}, **source}
        return sorted(_canonical_on(doc, spark, postgres_url)["amount"].tolist())

    want = [7.0, 12.5, 1234.5, 1e6]
    for column, settings in (("spent", {"currency": "€", "thousands": ".", "decimal": ","}),
                             ("swiss", {"currency": "CHF", "thousands": "'"})):
        _same_on_every_engine(lambda c=column, s=settings, **source: amounts(c, s, **source), want, "formatted_events")


@pytest.mark.parametrize("written, time_format", [
    (["12/1/2010 8:26", "1/13/2011 14:05", "12/09/2011 09:07"], "%m/%d/%Y %H:%M"),  # UCI Online Retail
    (["1/5/2024 2:30 PM", "12/1/2010 12:26 AM", "11/13/2011 11:59 pm"], "%m/%d/%Y %I:%M %p"),
    (["Jan 5, 2024", "Dec 1, 2010", "Nov 13, 2011"], "%b %d, %Y"),
    (["19970101", "19971231", "19980630"], "%Y%m%d"),  # CDNOW: fields that run on into each other
    (["2024-01-05T10:00:00.5", "2010-12-01T00:26:00.25", "2011-11-13T23:59:59.123456"], "%Y-%m-%dT%H:%M:%S.%f"),
    (["5 January 2024 14:30", "1 December 2010 00:26", "13 November 2011 23:59"], "%d %B %Y %H:%M"),
])
def test_strptime_formats_on_every_engine(tmp_path, spark, postgres_url, written, time_format):
    """A strptime format reads the same times on DuckDB, Spark and PostgreSQL, days and hours
    without a leading zero (as UCI Online Retail writes them), AM/PM and month names included."""
    raw = pd.DataFrame({"user": ["a", "b", "c"], "spent": [1.0, 2.0, 3.0], "ts": written})
    raw.to_csv(tmp_path / "events.csv", index=False)
    ibis.connect(postgres_url).create_table("strptime_events", raw, overwrite=True)

    def times(**source) -> list:
        doc = {"path": str(tmp_path / "events.csv"), "layout": "events", "time_format": time_format,
               "columns": {"customer_id": "user", "event_time": "ts", "amount": "spent"}, **source}
        return pd.to_datetime(_canonical_on(doc, spark, postgres_url).sort_values("customer_id")["event_time"]).tolist()

    want = [pd.Timestamp(dt.datetime.strptime(w.upper(), time_format)) for w in written]
    _same_on_every_engine(times, want, "strptime_events")


def _toml(doc: dict) -> str:
    lines = []

    def value(v):
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v).lower() if isinstance(v, bool) else str(v)

    for section, body in doc.items():
        lines.append(f"[{section}]")
        tables = {k: v for k, v in body.items() if isinstance(v, dict)}
        lines += [f"{k} = {value(v)}" for k, v in body.items() if not isinstance(v, dict)]
        for k, v in tables.items():
            lines.append(f"[{section}.{k}]")
            lines += [f"{json.dumps(kk)} = {value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("source, words", [
    ({"backend": "oracle"}, "not one of"),
    ({"backend": "postgres"}, "source.table"),
    ({"backend": "postgres", "table": "e"}, "url"),
    ({"backend": "postgres", "table": "e", "connection": {"url": "postgresql://x", "project_id": "p"}},
     "does not apply"),
    ({"backend": "bigquery", "table": "e"}, "project_id"),
    ({"backend": "spark", "path": "", "table": ""}, "source.table"),
])
def test_engine_settings_are_checked(source, words):
    with pytest.raises(ConfigError, match=words):
        config_from_dict({"source": {"path": "x.parquet", "layout": "rees46", **source}})


def test_duckdb_memory_limit_and_spill_folder(tmp_path):
    from winback.config import EngineConfig

    con = connect_duckdb(EngineConfig(memory_limit="300MB", temp_directory=str(tmp_path / "spill"),
                                      threads=1))
    settings = dict(con.raw_sql("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                "('memory_limit', 'temp_directory', 'threads')").fetchall())
    assert settings["memory_limit"].startswith("286") or "MiB" in settings["memory_limit"]
    assert settings["temp_directory"] == str(tmp_path / "spill") and settings["threads"] == "1"


def _stable(sql: str) -> str:
    """ibis lists the columns of `* EXCEPT (...)` in set order, which varies between runs."""
    import re

    return re.sub(r"EXCEPT \(([^)]*)\)",
                  lambda m: "EXCEPT (" + ", ".join(sorted(m.group(1).split(", "))) + ")", sql)


def test_bigquery_sql_matches_golden_snapshots():
    """Every expression compiles to BigQuery SQL; the SQL is kept so a change shows in review.
    WINBACK_UPDATE_GOLDEN=1 rewrites the snapshots."""
    events = ibis.table({"customer_id": "string", "event_time": "timestamp", "event_type": "string",
                         "amount": "float64", "quantity": "float64", "price": "float64",
                         "order_id": "string", "session_id": "string", "product_id": "string",
                         "brand": "string", "category": "string"}, name="events")
    exprs = _expressions(events, dt.datetime(2020, 1, 1))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, expr in exprs.items():
        sql = _stable(ibis.to_sql(expr, dialect="bigquery").strip()) + "\n"
        path = GOLDEN / f"{name}.sql"
        if os.environ.get("WINBACK_UPDATE_GOLDEN"):
            path.write_text(sql)
        assert path.exists(), f"no snapshot {path.name}: run with WINBACK_UPDATE_GOLDEN=1"
        assert sql == path.read_text(), f"{name}: BigQuery SQL changed (WINBACK_UPDATE_GOLDEN=1 to accept)"
    assert "`events`" in (GOLDEN / "features.sql").read_text()


@pytest.mark.parametrize("problem", ["return_visit", "repeat_purchase"])
def test_ga_sessions_train_like_event_logs(problem, tmp_path):
    from winback.datasets import generate_ga_sessions

    path = generate_ga_sessions(tmp_path / "ga.parquet", visitors=8_000, seed=5)
    doc = {"source": {"path": str(path), "layout": "ga_sessions"},
           "problem": {"name": problem, "horizon_days": 60},
           "train": {"candidates": ["logistic", "lightgbm"]}, "output": {"dir": str(tmp_path / "out")}}
    (tmp_path / "w.toml").write_text(_toml(doc))
    assert main(["train", "-c", str(tmp_path / "w.toml"), "-q", "--no-track"]) == 0
    m = json.loads((tmp_path / "out" / "bundle" / "manifest.json").read_text())
    assert m["data"]["event_types"].keys() == {"view", "purchase"}
    assert m["candidates"][m["best"]]["test"]["roc_auc"] > 0.75


def test_stripe_payments_export_on_every_engine(tmp_path, spark, postgres_url):
    """The Stripe layout's extra rows (a refund and a lost dispute on their own dates), its
    customer (e-mail, else the Stripe customer) and amounts are the same on DuckDB, Spark and
    PostgreSQL."""
    from test_layouts import STRIPE, STRIPE_EVENTS, payment_events

    (tmp_path / "unified_payments.csv").write_text(STRIPE)
    import psycopg  # ibis' insert cannot bind names such as 'Created date (UTC)': COPY the file

    with psycopg.connect(postgres_url) as pg:
        pg.execute("DROP TABLE IF EXISTS stripe_payments")
        pg.execute("CREATE TABLE stripe_payments (" + ", ".join(f'"{c}" text' for c in STRIPE.splitlines()[0].split(","))
                   + ")")
        with pg.cursor().copy("COPY stripe_payments FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(STRIPE)

    def events(**source) -> list:
        doc = {"path": str(tmp_path / "unified_payments.csv"), "layout": "stripe", "drop_missing_customers": True,
               "thousands": ",", **source}
        return payment_events(_canonical_on(doc, spark, postgres_url))

    _same_on_every_engine(events, STRIPE_EVENTS, "stripe_payments")


def test_spark_trims_blanks_and_keeps_the_letters_v_and_f(tmp_path, spark):
    """ibis wrote strip() for Spark with '\\v' and '\\f' escapes that Spark reads as the letters
    v and f, so 'false' came back 'alse' and 'Dev' 'De'; winback compiles it to trim blanks."""
    import winback.data.engines  # noqa: F401 (compiles strip() for Spark)

    (tmp_path / "values.csv").write_text('x\n" false "\nDev\nf\nfive\t\n')
    t = ibis.pyspark.connect(spark).read_csv(str(tmp_path / "values.csv"), header=True)
    assert sorted(t.select(y=t.x.strip()).execute().y) == ["Dev", "f", "false", "five"]


def test_lookups_on_every_engine(tmp_path, spark, postgres_url):
    """Order lines borrow their order and the person behind it from two lookups, files on
    DuckDB and Spark, tables of the database on PostgreSQL, with the same events."""
    from io import StringIO

    from test_lookups import CUSTOMERS, LINES, OLIST_EVENTS, ORDERS, events_of, olist_source

    pg = ibis.connect(postgres_url)
    for name, text in (("items", LINES), ("orders", ORDERS), ("customers", CUSTOMERS)):
        (tmp_path / f"{name}.csv").write_text(text)
        pg.create_table(f"lk_{name}", pd.read_csv(StringIO(text), dtype=str), overwrite=True)

    def events(**source) -> list:
        doc = {**olist_source(tmp_path), **source}
        if source.get("backend") == "postgres":
            doc.pop("path")
            doc["lookups"] = [{**lk, "path": "", "table": f"public.lk_{Path(lk['path']).stem}"}
                              for lk in doc["lookups"]]
        return events_of(_canonical_on(doc, spark, postgres_url))

    _same_on_every_engine(events, OLIST_EVENTS, "lk_items")
