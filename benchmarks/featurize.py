"""Feature speed: winback (Ibis on DuckDB, from Parquet) vs the same features in plain pandas.

    python benchmarks/featurize.py --rows 20000000

Generates the synthetic REES46-layout log once (cached under benchmarks/.cache), then times
each engine in its own fresh process (so peak RSS is its own) on the full feature set at one
cutoff, and checks that both give the same values.
"""

from __future__ import annotations

import argparse

from _common import CACHE, cached_rees46, print_table, run_child, write_result

CUTOFF = "2020-02-01"

WINBACK = """
import time, datetime as dt
from winback.data.sources import connect
from winback.features import FeatureSpec, build_features
from winback.data.layouts import LAYOUTS
from winback.data import canonical as C
# imports stay outside the timing, as pandas' do below
t0 = time.perf_counter()
# the log is validated once when it arrives (`winback validate`); here we time featurisation
con = connect()
raw = con.read_parquet("{path}")
m = C._mapping(LAYOUTS["rees46"], {{}})
cols = C._typed_columns(raw, m, LAYOUTS["rees46"], {{}}, "", 0)
events = raw.select(**cols)
spec = FeatureSpec(available=tuple(sorted(set(m) | {{"quantity", "order_id", "amount"}})), bgnbd=False)
table = build_features(events, dt.datetime.fromisoformat("{cutoff}"), spec)
out = table.to_pyarrow()
t1 = time.perf_counter()
out.to_pandas().to_parquet("{cache}/winback_features.parquet")
RESULT = {{"seconds": t1 - t0, "customers": out.num_rows, "columns": out.num_columns}}
"""

PANDAS = """
import time
import numpy as np, pandas as pd
t0 = time.perf_counter()
cutoff = pd.Timestamp("{cutoff}", tz="UTC")
df = pd.read_parquet("{path}")
df = df[df.event_time < cutoff]
df["age"] = (cutoff - df.event_time).dt.total_seconds() / 86400
df["day"] = df.event_time.dt.floor("D")
df["buy"] = df.event_type == "purchase"
df["order"] = df.user_session.where(df.buy)
df["spend_amt"] = df.price.where(df.buy, 0.0)
df["qty"] = df.buy.astype("int64")  # the layout has no quantity: each purchase line is one
df["returned"] = df.event_type == "return"
g = df.groupby("user_id")
f = pd.DataFrame({{
    "n_events": g.size(), "active_days": g.day.nunique(), "tenure_days": g.age.max(),
    "recency_days": g.age.min(), "n_purchase_events": g.buy.sum(), "n_orders": g.order.nunique(),
    "spend": g.spend_amt.sum(), "max_order_line": df[df.buy].groupby("user_id").price.max(),
    "quantity": g.qty.sum(), "n_returns": g.returned.sum(),
}})
f["avg_order_value"] = (f.spend / f.n_orders).where(f.n_orders > 0)
f["return_share"] = (f.n_returns / (f.n_returns + f.n_purchase_events)).where(f.n_returns + f.n_purchase_events > 0)
f["events_per_active_day"] = f.n_events / f.active_days
b = df[df.buy].groupby("user_id")
f["purchase_days"] = b.day.nunique()
f["purchase_recency_days"] = b.age.min()
f["purchase_tenure_days"] = b.age.max()
for w in (7, 30, 90, 180):
    inside = df[df.age <= w]
    gi = inside.groupby("user_id")
    f[f"events_{{w}}d"] = gi.size()
    f[f"orders_{{w}}d"] = gi.order.nunique()
    f[f"spend_{{w}}d"] = gi.spend_amt.sum()
last = df[df.age <= 30].groupby("user_id").size()
prev = df[(df.age > 30) & (df.age <= 60)].groupby("user_id").size()
f["trend_events"] = (last.sub(prev, fill_value=0)) / (last.add(prev, fill_value=0))
lines = df[df.buy & df.order.notna()]
lines = lines.assign(in_prev=(lines.age > 30) & (lines.age <= 60))
o = lines.groupby(["user_id", "order"]).agg(newest=("age", "min"), in_prev=("in_prev", "any"))
o_last = (o.newest <= 30).groupby(level="user_id").sum().reindex(f.index, fill_value=0)
o_prev = o.in_prev.groupby(level="user_id").sum().reindex(f.index, fill_value=0)
f["trend_orders"] = ((o_last - o_prev) / (o_last + o_prev)).where(o_last + o_prev > 0)
for et in ("view", "cart", "remove_from_cart", "purchase"):
    f[f"n_{{et}}"] = df[df.event_type == et].groupby("user_id").size()
    f[f"share_{{et}}"] = f[f"n_{{et}}"].fillna(0) / f.n_events
f["cart_per_view"] = f.n_cart.fillna(0) / f.n_view  # no views: unknown; views, no carts: 0
f["purchase_per_cart"] = f.n_purchase.fillna(0) / f.n_cart
f["purchase_per_view"] = f.n_purchase.fillna(0) / f.n_view
f["weekend_share"] = (df.event_time.dt.dayofweek >= 5).groupby(df.user_id).mean()
hour = df.event_time.dt.hour
for name, (lo, hi) in {{"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}}.items():
    f[f"hour_{{name}}_share"] = ((hour >= lo) & (hour < hi)).groupby(df.user_id).mean()
f["distinct_products"] = g.product_id.nunique()
f["distinct_brands"] = g.brand.nunique()
f["distinct_categories"] = g.category_code.nunique()
pdays = df[df.buy][["user_id", "day"]].drop_duplicates().sort_values(["user_id", "day"])
pdays["gap"] = pdays.groupby("user_id").day.diff().dt.total_seconds() / 86400
gg = pdays.groupby("user_id").gap
f["gap_mean_days"] = gg.mean()
f["gap_std_days"] = gg.std()
f["last_gap_days"] = gg.last()
overdue = (cutoff - pdays.groupby("user_id").day.max()).dt.total_seconds() / 86400
f["recency_over_gap"] = (overdue / f.gap_mean_days).where(f.gap_mean_days > 0)
s = df.groupby(["user_id", "user_session"]).agg(events=("event_type", "size"), start=("event_time", "min"),
                                                end=("event_time", "max"), converted=("buy", "any"))
s["minutes"] = (s.end - s.start).dt.total_seconds() / 60
gs = s.groupby("user_id")
f["n_sessions"] = gs.size()
f["events_per_session"] = gs.events.mean()
f["session_minutes_mean"] = gs.minutes.mean()
f["session_minutes_max"] = gs.minutes.max()
f["session_conversion"] = gs.converted.mean()
t1 = time.perf_counter()
f.to_parquet("{cache}/pandas_features.parquet")
RESULT = {{"seconds": t1 - t0, "customers": len(f), "columns": f.shape[1]}}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    args = ap.parse_args()
    path = cached_rees46(args.rows)
    wb = run_child(WINBACK.format(path=path, cutoff=CUTOFF, cache=CACHE))
    pdr = run_child(PANDAS.format(path=path, cutoff=CUTOFF, cache=CACHE))
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(CACHE / "winback_features.parquet")
    a["customer_id"] = a.customer_id.astype("int64")
    a = a.set_index("customer_id").sort_index()
    b = pd.read_parquet(CACHE / "pandas_features.parquet").sort_index()
    shared = [c for c in b.columns if c in a.columns]
    mismatched = [c for c in shared
                  if not np.allclose(a[c].to_numpy(float), b[c].reindex(a.index).to_numpy(float),
                                     rtol=1e-6, atol=1e-6, equal_nan=True)
                  and not np.allclose(a[c].fillna(0).to_numpy(float), b[c].reindex(a.index).fillna(0).to_numpy(float),
                                      rtol=1e-6, atol=1e-6)]
    speedup = pdr["seconds"] / wb["seconds"]
    print_table(["engine", "rows", "customers", "features", "seconds", "peak RSS MB"], [
        ["winback (Ibis/DuckDB)", f"{args.rows:,}", f"{wb['customers']:,}", wb["columns"] - 1, f"{wb['seconds']:.1f}", f"{wb['peak_rss_mb']:.0f}"],
        ["pandas", f"{args.rows:,}", f"{pdr['customers']:,}", pdr["columns"], f"{pdr['seconds']:.1f}", f"{pdr['peak_rss_mb']:.0f}"],
    ])
    print(f"\nspeedup {speedup:.1f}x; {len(shared)} shared features compared, mismatched: {mismatched or 'none'}")
    out = write_result("featurize", {
        "rows": args.rows, "cutoff": CUTOFF,
        "winback": {"seconds": wb["seconds"], "peak_rss_mb": wb["peak_rss_mb"], "features": wb["columns"] - 1},
        "pandas": {"seconds": pdr["seconds"], "peak_rss_mb": pdr["peak_rss_mb"], "features": pdr["columns"]},
        "speedup": speedup, "features_compared": len(shared), "mismatched": mismatched,
        "goal": {"winback_seconds_max": 10, "speedup_min": 10},
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
