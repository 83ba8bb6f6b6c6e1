"""Reading a shop's CSV export: winback's read, typing and validation vs the same in pandas.

    python benchmarks/csv_load.py --rows 5000000

Writes a CSV export once (cached under benchmarks/.cache): email customer ids, ISO times, event
types, amounts and order ids, as shop systems export them. Then times, each in its own fresh
process, `load_events` (every check of `winback validate`: zones, timestamps, numbers, missing
customers, negative purchases, duplicates; and the typed copy every cutoff reads) against
pandas reading the same file with typed columns and the same checks written by hand.
"""

from __future__ import annotations

import argparse

from _common import CACHE, print_table, run_child, write_result

WINBACK = """
import time
from winback.config import config_from_dict
from winback.data.canonical import load_events
t0 = time.perf_counter()
cfg = config_from_dict({{"source": {{"path": "{path}", "layout": "events"}}}})
log = load_events(cfg)
RESULT = {{"seconds": time.perf_counter() - t0, "rows": log.summary["rows"], "customers": log.summary["customers"]}}
"""

PANDAS = """
import time
import pandas as pd
t0 = time.perf_counter()
df = pd.read_csv("{path}", dtype=str, keep_default_na=False)
for c in df.columns:
    df[c] = df[c].str.strip()
df["event_time"] = pd.to_datetime(df["event_time"], format="ISO8601")
df["amount"] = pd.to_numeric(df["amount"])
assert df["event_time"].notna().all() and df["amount"].notna().all()
assert (df["customer_id"] != "").all()
assert not ((df["event_type"] == "purchase") & (df["amount"] < 0)).any()
assert not df.duplicated().any()
RESULT = {{"seconds": time.perf_counter() - t0, "rows": len(df), "customers": int(df["customer_id"].nunique())}}
"""


def cached_csv(rows: int):
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"shop_export_{rows}.csv"
    if not path.exists():
        import duckdb

        duckdb.sql(f"""COPY (SELECT 'user' || (i % {max(rows // 12, 1)}) || '@mail.com' AS customer_id,
            strftime(TIMESTAMP '2023-01-01' + to_seconds((i * 7919) % (540 * 86400)), '%Y-%m-%d %H:%M:%S') AS event_time,
            CASE WHEN i % 5 = 0 THEN 'purchase' ELSE 'view' END AS event_type,
            round(((i * 13) % 20000) / 100.0, 2) AS amount, 'o' || (i // 3) AS order_id
            FROM range({rows}) t(i)) TO '{path}' (HEADER)""")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    args = ap.parse_args()
    path = cached_csv(args.rows)
    wb = run_child(WINBACK.format(path=path))
    pdr = run_child(PANDAS.format(path=path))
    size_mb = path.stat().st_size / 1e6
    print_table(["engine", "rows", "customers", "CSV MB", "seconds", "peak RSS MB"], [
        ["winback load_events", f"{wb['rows']:,}", f"{wb['customers']:,}", f"{size_mb:.0f}", f"{wb['seconds']:.1f}",
         f"{wb['peak_rss_mb']:.0f}"],
        ["pandas read_csv + checks", f"{pdr['rows']:,}", f"{pdr['customers']:,}", f"{size_mb:.0f}",
         f"{pdr['seconds']:.1f}", f"{pdr['peak_rss_mb']:.0f}"],
    ])
    speedup = pdr["seconds"] / wb["seconds"]
    print(f"\nwinback reads and checks the export {speedup:.1f}x as fast as pandas")
    out = write_result("csv_load", {"rows": args.rows, "csv_mb": size_mb, "winback": wb, "pandas": pdr,
                                    "speedup": speedup})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
