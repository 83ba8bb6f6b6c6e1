"""A customer table at a size real CRM exports have: `winback init --table`, `train` with the
defaults and `score` with and without reasons, timed as a user runs them.

    python benchmarks/table_scale.py [--rows 100000]

The table is synthetic and Telco-shaped (a churn flag, tenure, contract, internet service,
payment method, monthly and total charges, support calls), generated once under
benchmarks/.cache with a fixed seed; churn follows a logistic model of contract, tenure,
internet service and charges, so logistic regression is about as good as any candidate here.
What this measures is time: which candidates take it, and whether scoring stays in seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import CACHE, print_table, write_result

WINBACK = [sys.executable, "-m", "winback.cli"]


def telco_like(rows: int) -> Path:
    """The synthetic table of `rows` customers, written once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"customers_{rows}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(1)
    tenure = rng.integers(0, 73, rows)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], rows, p=[.55, .21, .24])
    internet = rng.choice(["DSL", "Fiber optic", "No"], rows, p=[.34, .44, .22])
    monthly = np.round(np.where(internet == "No", rng.uniform(18, 26, rows), rng.uniform(45, 118, rows)), 2)
    total = np.round(monthly * tenure + rng.normal(0, 20, rows), 2)
    logit = (-1.0 + 1.3 * (contract == "Month-to-month") - 0.04 * tenure + 0.8 * (internet == "Fiber optic")
             + 0.01 * (monthly - 70) + rng.normal(0, 1, rows))
    churn = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "Yes", "No")
    pd.DataFrame({
        "customerID": [f"C{i:07d}" for i in range(rows)],
        "gender": rng.choice(["Female", "Male"], rows), "SeniorCitizen": rng.choice([0, 1], rows, p=[.84, .16]),
        "Partner": rng.choice(["Yes", "No"], rows), "tenure": tenure, "InternetService": internet,
        "Contract": contract,
        "PaymentMethod": rng.choice(["Electronic check", "Mailed check", "Bank transfer (automatic)",
                                     "Credit card (automatic)"], rows),
        "MonthlyCharges": monthly, "TotalCharges": total, "SupportCalls": rng.poisson(1.5, rows),
        "Churn": churn}).to_csv(path, index=False)
    return path


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(WINBACK + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    source = telco_like(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / source.name).symlink_to(source)
        timed(["init", "--table", "--path", source.name], work)
        train_s = timed(["train", "--no-track", "-q"], work)
        manifest = json.loads((work / "winback-out" / "bundle" / "manifest.json").read_text())
        with_reasons = timed(["score", "-q", "-o", "scores.parquet"], work)
        without = timed(["score", "-q", "--no-reasons", "-o", "bare.parquet"], work)
    candidates = manifest["candidates"]
    rows = [[name, f"{c['cv']['roc_auc_mean']:.3f}", f"{c['test']['roc_auc']:.3f}",
             f"{c.get('tuning_seconds', float('nan')):.0f}"] for name, c in candidates.items()]
    print_table(["candidate", "CV ROC-AUC", "test ROC-AUC", "tuning s"], rows)
    notes = manifest["data"]["notes"]
    print(f"\n{args.rows:,} customers ({manifest['data']['train']:,} training): train {train_s:.0f} s "
          f"(best {manifest['best']}); score {with_reasons:.1f} s with reasons, {without:.1f} s without")
    for note in notes:
        print(f"note: {note}")
    out = write_result("table_scale", {
        "rows": args.rows, "train_rows": manifest["data"]["train"], "best": manifest["best"],
        "train_seconds": train_s, "score_seconds": with_reasons, "score_no_reasons_seconds": without,
        "candidates": {name: {"cv_roc_auc": c["cv"]["roc_auc_mean"], "test_roc_auc": c["test"]["roc_auc"],
                              "tuning_seconds": c.get("tuning_seconds")} for name, c in candidates.items()},
        "notes": notes,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
