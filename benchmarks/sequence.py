"""Monthly LSTM and GRU against LightGBM (the same monthly columns, flat) and logistic
regression, out-of-time, on CDNOW and on a synthetic REES46-layout log (issue #4 acceptance),
plus single-customer inference latency (p50 / p99 over 10,000 in-process calls).

    python benchmarks/sequence.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from _common import CACHE, print_table, write_result

from winback.config import config_from_dict
from winback.datasets import cdnow_config, generate_rees46
from winback.progress import Steps
from winback.train import train

CANDIDATES = ["logistic", "lightgbm", "lstm", "gru"]
LATENCY_CALLS = 10_000


def synthetic_config(rows: int, out: str):
    path = CACHE / f"rees46_{rows}_365d.parquet"
    if not path.exists():
        generate_rees46(path, rows=rows, seed=11, days=365)
    return config_from_dict({
        "source": {"path": str(path), "layout": "rees46"},
        "problem": {"name": "repeat_purchase", "horizon_days": 60, "train_cutoffs": 4,
                    "cutoff_step_days": 30, "min_history_days": 120},
        "features": {"windows_days": [30, 90], "sequence_months": 6},
        "train": {"candidates": CANDIDATES},
        "output": {"dir": out},
    })


def latency(model, frame, columns) -> dict[str, float]:
    """Scoring one customer at a time from ready features, as a service would."""
    rows = [frame.iloc[[i % len(frame)]][columns] for i in range(LATENCY_CALLS)]
    times = np.empty(LATENCY_CALLS)
    for i, row in enumerate(rows):
        start = time.perf_counter()
        model.predict_proba(row)
        times[i] = time.perf_counter() - start
    return {"p50": float(np.percentile(times, 50) * 1000), "p99": float(np.percentile(times, 99) * 1000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="synthetic log size")
    args = ap.parse_args()
    datasets, lat, seconds, params, chosen = {}, {}, {}, {}, {}
    with tempfile.TemporaryDirectory() as out:
        cdnow = cdnow_config(output_dir=out)
        cdnow.train.candidates = CANDIDATES
        cdnow.features.sequence_months = 6
        for name, cfg in (("cdnow", cdnow), ("synthetic", synthetic_config(args.rows, out))):
            start = time.perf_counter()
            result = train(cfg, steps=Steps(quiet=True), report=False)
            seconds[name] = time.perf_counter() - start
            datasets[name] = {n: {"roc_auc": r.test["roc_auc"], "pr_auc": r.test["pr_auc"],
                                  "valid_roc_auc": r.valid["roc_auc"], "parameters": r.test["parameters"]}
                              for n, r in result.results.items()}
            chosen[name] = result.best
            if name == "synthetic":
                test = result.frames["test"]
                for n, r in result.results.items():
                    lat[n] = latency(r.model, test, list(r.model.columns_))
                    params[n] = r.test["parameters"]
    rows = []
    for name, cands in datasets.items():
        for n in CANDIDATES:
            c = cands[n]
            rows.append([name, n, f"{c['roc_auc']:.4f}", f"{c['pr_auc']:.4f}", f"{c['valid_roc_auc']:.4f}",
                         f"{c['parameters']:,}", "<- chosen" if chosen[name] == n else ""])
    print_table(["dataset", "candidate", "test ROC-AUC", "PR-AUC", "valid ROC-AUC", "parameters", ""], rows)
    print()
    print_table(["candidate", "p50 ms", "p99 ms", "parameters"],
                [[n, f"{v['p50']:.3f}", f"{v['p99']:.3f}", f"{params[n]:,}"] for n, v in lat.items()])
    print(f"\nsingle-customer latency over {LATENCY_CALLS:,} calls (ready features, in process); "
          f"goal p99 < 2 ms; train seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    path = write_result("sequence", {"datasets": datasets, "latency_ms": lat, "chosen": chosen,
                                     "train_seconds": seconds,
                                     "rows": args.rows, "sequence_months": 6})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
