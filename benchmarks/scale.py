"""Scale: the full feature set at one cutoff from REES46-layout logs of 20 M, 100 M and 300 M
events on this machine, DuckDB bounded to 6 GB (spilling to disk beyond), in one pass over
every file and, since the parts hold disjoint users, file by file as with
source.partitioned_by_customer = true; plus the 20 M case on PySpark local mode in the same run
(issue #6 acceptance).

    python benchmarks/scale.py [--sizes 20,100,300] [--memory-limit 6GB] [--no-spark]

The log is generated once, in 10 M-event Parquet parts (disjoint users, two processes), and
cached under benchmarks/.cache/scale; a size is the first parts of it. Each run is a fresh
process whose peak RSS (its own plus any child, e.g. Spark's JVM) is sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import CACHE, print_table, write_result

PART_ROWS = 10_000_000
BY_FILE_ENGINE = "duckdb, file by file"
SCALE = CACHE / "scale"
CUTOFF = "2020-10-01"
DAYS = 395  # 13 months, as seed 000's GA export

MONITOR = """
import threading, time, psutil, json
_peak = [0]
def _watch():
    me = psutil.Process()
    while True:
        try:
            rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
        except psutil.Error:
            rss = 0
        _peak[0] = max(_peak[0], rss)
        time.sleep(0.2)
threading.Thread(target=_watch, daemon=True).start()
"""

DUCKDB = MONITOR + """
import datetime as dt
from winback.config import EngineConfig
from winback.data.engines import connect_duckdb
from winback.data.layouts import LAYOUTS
from winback.data import canonical as C
from winback.features import FeatureSpec, build_features
t0 = time.perf_counter()
con = connect_duckdb(EngineConfig(memory_limit="{memory}", temp_directory="{spill}"))
raw = con.read_parquet("{files}")
m = C._mapping(LAYOUTS["rees46"], {{}})
events = raw.select(**C._typed_columns(raw, m, LAYOUTS["rees46"], {{}}, "", 0))
spec = FeatureSpec(available=tuple(sorted(set(m) | {{"quantity", "order_id", "amount"}})), bgnbd=False)
out = build_features(events, dt.datetime.fromisoformat("{cutoff}"), spec).to_pyarrow()
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "customers": out.num_rows, "columns": out.num_columns,
                  "peak_rss_mb": _peak[0] / 2**20}}))
"""

# source.partitioned_by_customer: the parts hold disjoint users, so features are built file by
# file (features_of / score's path) and stacked, with the check that no customer is in two files
BY_FILE = MONITOR + """
import datetime as dt, glob
import pyarrow as pa
from winback.config import EngineConfig
from winback.data.engines import connect_duckdb
from winback.data.layouts import LAYOUTS
from winback.data import canonical as C
from winback.features import FeatureSpec
from winback.frame import check_one_file_per_customer, feature_tables
t0 = time.perf_counter()
con = connect_duckdb(EngineConfig(memory_limit="{memory}", temp_directory="{spill}"))
m = C._mapping(LAYOUTS["rees46"], {{}})
parts = []
for f in sorted(glob.glob("{files}")):
    raw = con.read_parquet(f)
    parts.append(raw.select(**C._typed_columns(raw, m, LAYOUTS["rees46"], {{}}, "", 0)))
log = C.EventLog(con, parts[0], frozenset(m), "scale", {{}}, tuple(parts))
spec = FeatureSpec(available=tuple(sorted(set(m) | {{"quantity", "order_id", "amount"}})), bgnbd=False)
tables = [t.to_pyarrow() for t in feature_tables(log, dt.datetime.fromisoformat("{cutoff}"), spec)]
check_one_file_per_customer(pa.chunked_array([t.column("customer_id") for t in tables]).to_pandas(), "scale")
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "customers": sum(t.num_rows for t in tables),
                  "columns": tables[0].num_columns, "peak_rss_mb": _peak[0] / 2**20}}))
"""

SPARK = MONITOR + """
import datetime as dt, ibis
from winback.data.engines import spark_session
from winback.data.layouts import LAYOUTS
from winback.data import canonical as C
from winback.features import FeatureSpec, build_features
t0 = time.perf_counter()
session = spark_session({{"spark.master": "local[2]", "spark.driver.memory": "6g",
                          "spark.sql.shuffle.partitions": "8", "spark.local.dir": "{spill}"}})
session.sparkContext.setLogLevel("ERROR")
con = ibis.pyspark.connect(session)
raw = con.read_parquet("{files}")
m = C._mapping(LAYOUTS["rees46"], {{}})
events = raw.select(**C._typed_columns(raw, m, LAYOUTS["rees46"], {{}}, "", 0,
                                        duckdb=False))
spec = FeatureSpec(available=tuple(sorted(set(m) | {{"quantity", "order_id", "amount"}})), bgnbd=False)
out = build_features(events, dt.datetime.fromisoformat("{cutoff}"), spec).to_pyarrow()
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "customers": out.num_rows, "columns": out.num_columns,
                  "peak_rss_mb": _peak[0] / 2**20}}))
session.stop()
"""


def _part(i: int) -> Path:
    from winback.datasets import generate_rees46

    path = SCALE / f"rees46-part-{i:04d}.parquet"
    if not path.exists():
        generate_rees46(path, rows=PART_ROWS, seed=1000 + i, start="2019-09-01", days=DAYS,
                        first_user=i * 10_000_000 + 1, first_session=i * 1_000_000_000 + 1)
    return path


def ensure_parts(n: int) -> list[Path]:
    SCALE.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(n) if not (SCALE / f"rees46-part-{i:04d}.parquet").exists()]
    if missing:
        start = time.perf_counter()
        print(f"generating {len(missing)} part(s) of {PART_ROWS:,} events ...", flush=True)
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(_part, missing))
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    return [SCALE / f"rees46-part-{i:04d}.parquet" for i in range(n)]


def size_folder(millions: int) -> Path:
    """A folder of links to the first parts, so every engine reads `folder/*.parquet`."""
    parts = ensure_parts(millions * 1_000_000 // PART_ROWS)
    folder = SCALE / f"events-{millions}M"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    for p in parts:
        (folder / p.name).symlink_to(p.resolve())  # absolute: the cache may be reached by a link
    return folder


def run(code: str) -> dict:
    import json

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="20,100,300", help="millions of events, comma-separated")
    p.add_argument("--memory-limit", default="6GB")
    p.add_argument("--no-spark", action="store_true")
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    spill = SCALE / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    runs = []
    for millions in sizes:
        folder = size_folder(millions)
        disk = sum(f.stat().st_size for f in folder.glob("*.parquet"))
        events = millions * 1_000_000
        print(f"[{millions} M events, {disk / 2**30:.1f} GiB of Parquet] DuckDB ...", flush=True)
        r = run(DUCKDB.format(memory=a.memory_limit, spill=spill, files=f"{folder}/*.parquet",
                              cutoff=CUTOFF))
        runs.append({"events": events, "engine": "duckdb", "memory_limit": a.memory_limit,
                     "parquet_bytes": disk, **r, "events_per_s": events / r["seconds"]})
        print(f"[{millions} M events] DuckDB, file by file (partitioned_by_customer) ...", flush=True)
        r = run(BY_FILE.format(memory=a.memory_limit, spill=spill, files=f"{folder}/*.parquet",
                               cutoff=CUTOFF))
        runs.append({"events": events, "engine": BY_FILE_ENGINE, "memory_limit": a.memory_limit,
                     "parquet_bytes": disk, **r, "events_per_s": events / r["seconds"]})
        if millions == 20 and not a.no_spark:
            print("[20 M events] PySpark local[2] ...", flush=True)
            r = run(SPARK.format(spill=spill, files=f"{folder}/*.parquet", cutoff=CUTOFF))
            runs.append({"events": events, "engine": "pyspark local[2]", "parquet_bytes": disk, **r,
                         "events_per_s": events / r["seconds"]})
    shutil.rmtree(spill, ignore_errors=True)
    base = next(r for r in runs if r["engine"] == "duckdb")
    for r in runs:
        r["seconds_per_100M_events"] = r["seconds"] / r["events"] * 1e8
    spark = next((r for r in runs if r["engine"].startswith("pyspark")), None)
    duck20 = next((r for r in runs if r["engine"] == "duckdb" and r["events"] == 20_000_000), None)
    by_file = next((r for r in runs if r["engine"] == BY_FILE_ENGINE), None)

    def growth(engine: str, first: dict) -> dict:
        """Seconds per event at each size over those at the smallest: 1.0 is linear."""
        return {f"{r['events'] // 10**6}M": r["seconds"] / first["seconds"] * first["events"] / r["events"]
                for r in runs if r["engine"] == engine}

    payload = {"runs": runs, "cutoff": CUTOFF, "days": DAYS,
               "spark_over_duckdb_20M": (spark["seconds"] / duck20["seconds"]) if spark and duck20 else None,
               "growth": growth("duckdb", base),
               "growth_file_by_file": growth(BY_FILE_ENGINE, by_file) if by_file else None}
    print_table(["events", "engine", "seconds", "peak RSS MB", "events/s", "customers", "s per 100 M"],
                [[f"{r['events']:,}", r["engine"], f"{r['seconds']:.1f}", f"{r['peak_rss_mb']:,.0f}",
                  f"{r['events_per_s']:,.0f}", f"{r['customers']:,}", f"{r['seconds_per_100M_events']:.1f}"]
                 for r in runs])
    for key, name in (("growth", "one pass"), ("growth_file_by_file", "file by file")):
        if payload[key]:
            print(f"time per event relative to the smallest size ({name}): "
                  + ", ".join(f"{k} {v:.2f}x" for k, v in payload[key].items()))
    if payload["spark_over_duckdb_20M"]:
        print(f"PySpark / DuckDB at 20 M events: {payload['spark_over_duckdb_20M']:.1f}x the time")
    print(f"wrote {write_result('scale', payload)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
