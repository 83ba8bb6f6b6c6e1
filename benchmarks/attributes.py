"""What customer attributes (features.attributes) add, and what they cost.

    python benchmarks/attributes.py --rows 300000 --featurize-rows 2000000

Quality: a synthetic REES46 log with each user's acquisition channel (which follows how long
they stay) and a region (which tells nothing), `generate_rees46(attributes=True)`: the same
repeat-purchase run (logistic regression and LightGBM, out-of-time test cutoff) without
attributes, with the region alone (noise must not hurt) and with both.
Cost: the features at one cutoff on a larger log of the same kind, from Parquet, with and
without the two attributes, each in a fresh process (seconds and peak memory).
"""

from __future__ import annotations

import argparse
import time

from _common import CACHE, print_table, run_child, write_result

FEATURIZE = """
import time, datetime as dt
from winback.config import config_from_dict
from winback.data.canonical import load_events
from winback.frame import features_of
from winback.train import project_spec
cfg = config_from_dict({{"source": {{"path": {path!r}, "layout": "rees46"}},
                        "problem": {{"horizon_days": 30, "cutoff_step_days": 14}},
                        "features": {{"attributes": {attributes!r}}}}})
log = load_events(cfg)
t0 = time.perf_counter()
spec = project_spec(cfg, log)  # the levels, counted once per training as training counts them
t1 = time.perf_counter()
feats = features_of(log, log.end - dt.timedelta(days=30), spec)  # at every cutoff
RESULT = {{"levels_seconds": t1 - t0, "seconds": time.perf_counter() - t1, "customers": len(feats),
          "columns": feats.shape[1]}}
"""


def cached_log(rows: int):
    from winback.datasets import generate_rees46

    path = CACHE / f"rees46_attributes_{rows}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        generate_rees46(path, rows=rows, attributes=True)
    return path


def quality(path) -> dict:
    from winback.config import config_from_dict
    from winback.data.canonical import load_events
    from winback.labels import suggest_cutoffs
    from winback.progress import Steps
    from winback.train import train

    base = {"source": {"path": str(path), "layout": "rees46"}, "train": {"candidates": ["logistic", "lightgbm"]},
            "tracking": {"enabled": False}}
    log = load_events(config_from_dict(base))
    fitted = suggest_cutoffs(log.start, log.end)
    problem = {"horizon_days": fitted.horizon_days, "cutoff_step_days": fitted.cutoff_step_days,
               "min_history_days": fitted.min_history_days}
    out = {"problem": problem}
    for name, attributes in (("none", []), ("region (noise)", ["region"]), ("channel + region", ["channel", "region"])):
        cfg = config_from_dict({**base, "problem": problem, "features": {"attributes": attributes},
                                "output": {"dir": str(CACHE / "attributes-out")}})
        t0 = time.perf_counter()
        result = train(cfg, steps=Steps(quiet=True), log=load_events(cfg), report=False)
        out[name] = {"seconds": time.perf_counter() - t0, "best": result.best,
                     **{c: {k: r.test[k] for k in ("roc_auc", "pr_auc", "log_loss", "lift_10")}
                        for c, r in result.results.items()}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000, help="events of the log trained on")
    ap.add_argument("--featurize-rows", type=int, default=2_000_000, help="events of the log timed")
    args = ap.parse_args()

    found = quality(cached_log(args.rows))
    rows = []
    for name in ("none", "region (noise)", "channel + region"):
        for c in ("logistic", "lightgbm"):
            m = found[name][c]
            rows.append([name, c, f"{m['roc_auc']:.4f}", f"{m['pr_auc']:.4f}", f"{m['log_loss']:.4f}",
                         f"{m['lift_10']:.2f}"])
    print(f"\nRepeat purchase on {args.rows:,} synthetic events ({found['problem']['horizon_days']}-day horizon), "
          f"out-of-time test cutoff")
    print_table(["attributes", "candidate", "ROC-AUC", "PR-AUC", "log loss", "lift@10%"], rows)

    big = cached_log(args.featurize_rows)
    cost = {name: run_child(FEATURIZE.format(path=str(big), attributes=attributes))
            for name, attributes in (("none", []), ("channel + region", ["channel", "region"]))}
    print(f"\nFeatures at one cutoff, {args.featurize_rows:,} events from Parquet (fresh process each)")
    print_table(["attributes", "features s (each cutoff)", "levels s (once)", "peak RSS MB", "columns"],
                [[n, f"{r['seconds']:.2f}", f"{r['levels_seconds']:.2f}", f"{r['peak_rss_mb']:.0f}", r["columns"]]
                 for n, r in cost.items()])
    ratio = cost["channel + region"]["seconds"] / cost["none"]["seconds"]
    print(f"features' time with attributes / without: {ratio:.2f}x")
    path = write_result("attributes", {"rows": args.rows, "featurize_rows": args.featurize_rows,
                                       "quality": found, "featurize": cost, "time_ratio": ratio})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
