"""The seeds' own protocols, reproduced and beaten (issue #3 acceptance).

- audiobooks, like for like: the seed 002 author's split (npz; SMOTE applied before splitting,
  so the balanced test set holds synthetic rows) -> test accuracy and log loss against the
  published 82.62 % and 0.3306. The author's train and validation parts together are the
  training rows (winback chooses by CV instead of on a validation part); accuracy is taken at
  the threshold `threshold_rule = "accuracy"` chooses on the out-of-fold scores, and at 0.5.
- audiobooks, honest: stratified 80/20 split of the raw CSV (seed 42), resampling only inside
  training folds -> ROC-AUC, PR-AUC, accuracy, recall at precision 0.8.
- One Click: customers with revenue in all three months, stratified 75/25 split (seed 42) ->
  test ROC-AUC against 0.90 (SVC, seed 004) and 0.92 (logistic regression, the Readme), plus
  the 5-fold CV mean and std on the training part.

Plain untuned peers run on the same rows in the same process (LightGBM; the Readme's
MinMax + one-hot logistic regression and SVC), so the gain is a ratio on this machine.

    python benchmarks/seeds.py [--trials 15]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
from _common import print_table, write_result
from sklearn.metrics import accuracy_score, log_loss, precision_recall_curve, roc_auc_score

from winback.data.tables import LABEL
from winback.datasets import audiobooks_config, dataset_dir, oneclick_config
from winback.progress import Steps
from winback.train_table import compare_candidates, train_table

AUDIOBOOK_COLUMNS = ["book_len_total", "book_len_avg", "spent_total", "spent_avg", "left_review",
                     "review_score", "minutes_listened", "completion_amt", "support_requests",
                     "last_visited_minus_purchase_date"]
PUBLISHED = {"audiobooks_accuracy": 0.8262, "audiobooks_log_loss": 0.3306,
             "oneclick_svc": 0.90, "oneclick_logistic": 0.92}
GOALS = {"audiobooks_like_for_like_accuracy": 0.89, "audiobooks_honest_roc_auc": 0.93,
         "oneclick_test_roc_auc": 0.93, "oneclick_cv_mean": 0.92}


def recall_at_precision(y, p, precision_floor: float) -> float:
    precision, recall, _ = precision_recall_curve(y, p)
    ok = precision >= precision_floor
    return float(recall[ok].max()) if ok.any() else 0.0


def plain_lightgbm(X_tr, y_tr, X_te) -> np.ndarray:
    import lightgbm as lgb

    return lgb.LGBMClassifier(verbose=-1, random_state=0).fit(X_tr, y_tr).predict_proba(X_te)[:, 1]


SPLITS = 30  # random stratified splits for the spread of a single split's test ROC-AUC


def split_spread(n: int, y: np.ndarray, test_size: float, fit_score, goal: float) -> dict:
    """How much one stratified split's test ROC-AUC moves with the split alone: a plain peer
    (`fit_score(train_index, test_index)` -> test scores) on SPLITS random splits of the same
    rows, besides the seed-42 split the protocol uses. A goal a few hundredths above the mean
    is reached by a lucky split, not by a better model."""
    from sklearn.model_selection import train_test_split

    def auc(seed: int) -> float:
        tr, te = train_test_split(np.arange(n), test_size=test_size, stratify=y, random_state=seed)
        return float(roc_auc_score(y[te], fit_score(tr, te)))

    a = np.array([auc(seed) for seed in range(SPLITS)])
    return {"splits": SPLITS, "mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()),
            "max": float(a.max()), "share_at_goal": float((a >= goal).mean()), "seed_42": auc(42)}


def like_for_like(trials: int, steps: Steps) -> dict:
    d = np.load(dataset_dir("audiobooks") / "audiobooks_data_split_smote.npz")
    # the author fitted on X_train and chose on X_val; winback chooses by CV, so both train
    X_tr = pd.DataFrame(np.vstack([d["X_train"], d["X_val"]]), columns=AUDIOBOOK_COLUMNS)
    X_te = pd.DataFrame(d["X_test"], columns=AUDIOBOOK_COLUMNS)
    y_tr = np.concatenate([d["y_train"], d["y_val"]]).astype(int).ravel()
    y_te = d["y_test"].astype(int).ravel()
    cfg = audiobooks_config()
    cfg.train.trials = trials
    cfg.train.imbalance = "none"  # the author's rows are already balanced by SMOTE
    # the seed's measure is accuracy, so the decision threshold is the one that gets the most
    # training customers right out of fold (chosen before the test rows are scored)
    cfg.train.threshold_rule = "accuracy"
    sel = compare_candidates(cfg, X_tr, y_tr, X_te, y_te, AUDIOBOOK_COLUMNS, [], steps)
    p = sel.test_scores[sel.best]
    threshold = sel.results[sel.best]["test"]["threshold"]
    peer = plain_lightgbm(X_tr, y_tr, X_te)
    return {"accuracy": float(accuracy_score(y_te, p >= threshold)), "threshold": threshold,
            "accuracy_at_0.5": float(accuracy_score(y_te, p >= 0.5)),
            "right": int((((p >= threshold).astype(int)) == y_te).sum()),
            "log_loss": float(log_loss(y_te, p)),
            "roc_auc": float(roc_auc_score(y_te, p)), "model": sel.best,
            "cv_roc_auc": sel.results[sel.best]["cv"]["roc_auc_mean"],
            "plain_lightgbm": {"accuracy": float(accuracy_score(y_te, peer >= 0.5)),
                               "log_loss": float(log_loss(y_te, peer))},
            "rows": {"train": int(len(y_tr)), "test": int(len(y_te)), "test_positive_rate": float(y_te.mean())}}


def honest_audiobooks(trials: int, steps: Steps) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cfg = audiobooks_config(output_dir=out)
        cfg.train.trials = trials
        r = train_table(cfg, steps=steps, report=False)
    y = r.table.frame[LABEL].to_numpy()
    y_te = y[r.test_index]
    p = r.test_scores[r.best]
    X = r.table.frame[r.table.features]
    peer = plain_lightgbm(X.iloc[r.train_index], y[r.train_index], X.iloc[r.test_index])
    spread = split_spread(len(y), y, cfg.train.test_share,
                          lambda tr, te: plain_lightgbm(X.iloc[tr], y[tr], X.iloc[te]),
                          GOALS["audiobooks_honest_roc_auc"])
    return {"roc_auc": float(roc_auc_score(y_te, p)), "split_spread_plain_lightgbm": spread, "pr_auc": r.manifest["candidates"][r.best]["test"]["pr_auc"],
            "accuracy": float(accuracy_score(y_te, p >= 0.5)),
            "recall_at_precision_0.8": recall_at_precision(y_te, p, 0.8), "model": r.best,
            "cv_mean": r.manifest["candidates"][r.best]["cv"]["roc_auc_mean"],
            "cv_std": r.manifest["candidates"][r.best]["cv"]["roc_auc_std"],
            "plain_lightgbm": {"roc_auc": float(roc_auc_score(y_te, peer))},
            "leaderboard": {row["candidate"]: {"cv": row["cv_roc_auc"], "test": row["roc_auc"]}
                            for row in r.manifest["leaderboard"]},
            "rows": {"train": int(len(r.train_index)), "test": int(len(y_te))}}


def readme_peers(frame: pd.DataFrame, numeric, categorical, tr, te, only: tuple[str, ...] = ("logistic", "svc"),
                 scores: bool = False) -> dict:
    """The One Click Readme's pipeline: MinMaxScaler + one-hot, LogisticRegression(saga), SVC;
    each one's test ROC-AUC, or its test scores (`scores`)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder
    from sklearn.svm import SVC

    y = frame[LABEL].to_numpy()
    X = frame[numeric + categorical].copy()
    for c in categorical:
        X[c] = X[c].astype(object)
    out = {}
    for name, model in (("logistic", LogisticRegression(solver="saga", max_iter=5000, random_state=42)),
                        ("svc", SVC(random_state=42))):
        if name not in only:
            continue
        pipe = make_pipeline(ColumnTransformer([("num", MinMaxScaler(), numeric),
                                                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]), model)
        pipe.fit(X.iloc[tr], y[tr])
        score = pipe.decision_function(X.iloc[te])
        out[name] = score if scores else float(roc_auc_score(y[te], score))
    return out


def oneclick(trials: int, steps: Steps) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cfg = oneclick_config(output_dir=out)
        cfg.train.trials = trials
        start = time.perf_counter()
        r = train_table(cfg, steps=steps, report=True)
        seconds = time.perf_counter() - start
    best = r.manifest["candidates"][r.best]
    t = r.table
    peers = readme_peers(t.frame, t.numeric, t.categorical, r.train_index, r.test_index)
    spread = split_spread(len(t.frame), t.frame[LABEL].to_numpy(), cfg.train.test_share,
                          lambda tr, te: readme_peers(t.frame, t.numeric, t.categorical, tr, te, ("logistic",),
                                                      scores=True)["logistic"],
                          GOALS["oneclick_test_roc_auc"])
    return {"test_roc_auc": best["test"]["roc_auc"], "split_spread_readme_logistic": spread, "cv_mean": best["cv"]["roc_auc_mean"],
            "cv_std": best["cv"]["roc_auc_std"], "model": r.best, "train_seconds": seconds,
            "ensemble_members": r.manifest["candidates"].get("ensemble", {}).get("params", {}).get("members"),
            "readme_pipeline": peers,
            "leaderboard": {row["candidate"]: {"cv": row["cv_roc_auc"], "test": row["roc_auc"]}
                            for row in r.manifest["leaderboard"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=15, help="Optuna trials per candidate")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    steps = Steps(quiet=args.quiet)
    start = time.perf_counter()
    lfl = like_for_like(args.trials, steps)
    honest = honest_audiobooks(args.trials, steps)
    oc = oneclick(args.trials, steps)
    rows = [
        ["audiobooks like-for-like", "accuracy", f"{PUBLISHED['audiobooks_accuracy']:.4f}",
         f"{lfl['plain_lightgbm']['accuracy']:.4f}",
         f"{lfl['accuracy']:.4f} at {lfl['threshold']:.3f} ({lfl['accuracy_at_0.5']:.4f} at 0.5)", lfl["model"],
         f">= {GOALS['audiobooks_like_for_like_accuracy']}"],
        ["audiobooks like-for-like", "log loss", f"{PUBLISHED['audiobooks_log_loss']:.4f}",
         f"{lfl['plain_lightgbm']['log_loss']:.4f}", f"{lfl['log_loss']:.4f}", lfl["model"], ""],
        ["audiobooks honest", "test ROC-AUC", "-", f"{honest['plain_lightgbm']['roc_auc']:.4f}",
         f"{honest['roc_auc']:.4f}", honest["model"], f">= {GOALS['audiobooks_honest_roc_auc']}"],
        ["audiobooks honest", "CV ROC-AUC", "-", "-", f"{honest['cv_mean']:.4f} ± {honest['cv_std']:.4f}",
         honest["model"], ""],
        ["audiobooks honest", "PR-AUC / recall@P0.8", "-", "-",
         f"{honest['pr_auc']:.4f} / {honest['recall_at_precision_0.8']:.4f}", honest["model"], ""],
        ["One Click", "test ROC-AUC", f"{PUBLISHED['oneclick_svc']} SVC / {PUBLISHED['oneclick_logistic']} LR",
         f"{oc['readme_pipeline']['svc']:.4f} SVC / {oc['readme_pipeline']['logistic']:.4f} LR",
         f"{oc['test_roc_auc']:.4f}", oc["model"], f">= {GOALS['oneclick_test_roc_auc']}"],
        ["One Click", "CV ROC-AUC", "-", "-", f"{oc['cv_mean']:.4f} ± {oc['cv_std']:.4f}", oc["model"],
         f">= {GOALS['oneclick_cv_mean']}"],
    ]
    print_table(["dataset / protocol", "metric", "published", "plain peer (same rows)", "winback",
                 "winback model", "goal"], rows)
    seconds = time.perf_counter() - start
    for label, spread in (("audiobooks honest, plain LightGBM", honest["split_spread_plain_lightgbm"]),
                          ("One Click, the Readme's logistic regression", oc["split_spread_readme_logistic"])):
        print(f"{label}: test ROC-AUC over {spread['splits']} random stratified splits {spread['mean']:.4f} ± "
              f"{spread['std']:.4f} (min {spread['min']:.4f}, max {spread['max']:.4f}; "
              f"{100 * spread['share_at_goal']:.0f} % reach the goal); on the seed-42 split {spread['seed_42']:.4f}")
    print(f"\n{seconds:.0f}s; One Click train {oc['train_seconds']:.0f}s. The like-for-like test set is "
          f"balanced by SMOTE before the split, so it holds synthetic rows and near-copies of training "
          f"rows: its accuracy flatters every model. Trust the honest protocol.")
    path = write_result("seeds", {
        "audiobooks_like_for_like": lfl, "audiobooks_honest": honest, "oneclick": oc,
        "published": PUBLISHED, "goals": GOALS, "trials": args.trials, "seconds": seconds,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
