"""Per-customer reasons on a customer table: winback's batched permutation SHAP vs shap's own
PermutationExplainer, same model, rows, background and budget, in the same run.

    python benchmarks/explain.py [--rows 300] [--trials 15]

Trains One Click as `winback train --dataset oneclick` does (the chosen model is an ensemble,
so neither tree nor linear SHAP applies) and explains the first `--rows` customers three ways:
shap's explainer and winback's at the same budget (one antithetic permutation per customer, the
same estimator), and winback's default (more permutations, fewer noisy reasons); then the whole
table with winback's default. Accuracy is measured against a reference that averages many
permutations (on the first 100 rows): the mean absolute error of the values and how often the
top reason is the reference's.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from _common import print_table, write_result

from winback.datasets import oneclick_config
from winback.progress import Steps
from winback.tabular.explain import PERMUTATIONS, ColumnCodes, background_sample, permutation_shap
from winback.train_table import BACKGROUND_ROWS, train_table

REFERENCE_ROWS = 100
REFERENCE_PERMUTATIONS = 25


def shap_explainer(f, X: np.ndarray, bg: np.ndarray, seed: int) -> np.ndarray:
    """shap's PermutationExplainer at the same budget (2M+1 evaluations: one permutation)."""
    import shap

    explainer = shap.PermutationExplainer(f, shap.maskers.Independent(bg, max_samples=len(bg)), seed=seed)
    return explainer(X, max_evals=2 * X.shape[1] + 1, silent=True).values


def timed(fn) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def errors(values: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    n = len(reference)
    mae = float(np.abs(values[:n] - reference).mean())
    top = float((np.abs(values[:n]).argmax(1) == np.abs(reference).argmax(1)).mean())
    return mae, top


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=300, help="customers explained by both methods")
    ap.add_argument("--trials", type=int, default=15, help="Optuna trials per candidate")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        cfg = oneclick_config(output_dir=out)
        cfg.train.trials = args.trials
        r = train_table(cfg, steps=Steps(quiet=True), report=False)
    model = r.models[r.best]
    X_all = r.table.frame[r.table.features]
    background = X_all.iloc[r.train_index].sample(min(len(r.train_index), BACKGROUND_ROWS), random_state=cfg.train.seed)
    codes = ColumnCodes(model.members[0].preprocessor)
    bg = background_sample(codes, background, np.random.default_rng(0))

    def f(Z: np.ndarray) -> np.ndarray:  # what `winback score` explains: the models read the codes
        return model.predict_proba_codes(Z, codes.columns, codes.levels)

    X = codes.encode(X_all.iloc[:args.rows])
    ours, ours_s = timed(lambda: permutation_shap(f, X, bg, np.random.default_rng(1)))
    theirs, theirs_s = timed(lambda: shap_explainer(f, X, bg, seed=1))
    default, default_s = timed(lambda: permutation_shap(f, X, bg, np.random.default_rng(1), PERMUTATIONS))
    everyone, everyone_s = timed(lambda: permutation_shap(f, codes.encode(X_all), bg, np.random.default_rng(1),
                                                          PERMUTATIONS))
    svc = next((m for m in model.members if m.name == "svc"), None)
    svc_times = None
    if svc is not None:  # the SVC margin, libsvm's loop against winback's matrix products
        Z = svc.preprocessor.transform(codes.decode(np.repeat(bg, 2000, axis=0)))
        _, libsvm_s = timed(lambda: svc.model.svc.decision_function(Z))
        _, blas_s = timed(lambda: svc.model.margin(Z))
        svc_times = {"rows": int(len(Z)), "libsvm_seconds": libsvm_s, "winback_seconds": blas_s}
    head = X[:REFERENCE_ROWS]
    reference = np.mean([permutation_shap(f, head, bg, np.random.default_rng(100 + k))
                         for k in range(REFERENCE_PERMUTATIONS)], axis=0)
    expected = f(X) - f(bg).mean()
    ours_err, ours_top = errors(ours, reference)
    theirs_err, theirs_top = errors(theirs, reference)
    default_err, default_top = errors(default, reference)
    n = args.rows
    rows = [
        ["shap PermutationExplainer", f"{n:,}", f"{theirs_s:.1f}", f"{theirs_s / n * 1000:.1f}",
         f"{theirs_err:.4f}", f"{theirs_top:.0%}", f"{np.abs(theirs.sum(1) - expected).max():.1e}"],
        ["winback, same budget", f"{n:,}", f"{ours_s:.1f}", f"{ours_s / n * 1000:.1f}",
         f"{ours_err:.4f}", f"{ours_top:.0%}", f"{np.abs(ours.sum(1) - expected).max():.1e}"],
        [f"winback default ({PERMUTATIONS} permutations)", f"{n:,}", f"{default_s:.1f}",
         f"{default_s / n * 1000:.1f}", f"{default_err:.4f}", f"{default_top:.0%}",
         f"{np.abs(default.sum(1) - expected).max():.1e}"],
        ["winback default, whole table", f"{len(X_all):,}", f"{everyone_s:.1f}", f"{everyone_s / len(X_all) * 1000:.1f}",
         "", "", ""],
    ]
    print_table(["method", "customers", "seconds", "ms / customer", "mean |error| vs reference",
                 "top reason = reference's", "max |sum - (f(x) - E f)|"], rows)
    speedup = theirs_s / ours_s
    if svc_times:
        print(f"\nSVC margin on {svc_times['rows']:,} rows: libsvm {svc_times['libsvm_seconds']:.2f} s, "
              f"winback {svc_times['winback_seconds']:.2f} s "
              f"({svc_times['libsvm_seconds'] / svc_times['winback_seconds']:.1f}x)")
    print(f"\nmodel: {r.best} ({', '.join(m.name for m in model.members)}); {X.shape[1]} columns, "
          f"{len(bg)} background rows; same-budget speedup {speedup:.1f}x; reference: {REFERENCE_PERMUTATIONS} "
          f"antithetic permutations on the first {REFERENCE_ROWS} customers")
    path = write_result("explain", {
        "dataset": "oneclick", "model": r.best, "members": [m.name for m in model.members],
        "columns": int(X.shape[1]), "background_rows": int(len(bg)), "customers": n,
        "shap_permutation": {"seconds": theirs_s, "ms_per_customer": theirs_s / n * 1000,
                             "mean_abs_error": theirs_err, "top_reason_agreement": theirs_top},
        "winback_same_budget": {"seconds": ours_s, "ms_per_customer": ours_s / n * 1000,
                    "mean_abs_error": ours_err, "top_reason_agreement": ours_top},
        "winback_default": {"permutations": PERMUTATIONS, "seconds": default_s,
                            "ms_per_customer": default_s / n * 1000, "mean_abs_error": default_err,
                            "top_reason_agreement": default_top},
        "winback_whole_table": {"customers": int(len(X_all)), "seconds": everyone_s},
        "speedup": speedup, "svc_margin": svc_times,
        "reference": {"rows": REFERENCE_ROWS, "permutations": REFERENCE_PERMUTATIONS},
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
