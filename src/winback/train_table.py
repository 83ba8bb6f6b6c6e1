"""Customer tables: split -> tune every candidate by CV -> ensemble -> test once -> explain ->
segment -> bundle -> report.

There is no time axis in a customer table, so the test is a stratified random hold-out
(`train.test_share`, seeded), touched once after the model is chosen on cross-validation of
the training part. Everything fitted from data (imputation, scaling, resampling, calibration,
threshold, segment thresholds) comes from training rows only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.markup import escape
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from winback import __version__
from winback.bundle import BUNDLE_FORMAT, MANIFEST, write_atomic_dir
from winback.config import Config
from winback.data.tables import LABEL, CustomerTable, load_customer_table
from winback.errors import DataError, LabelError
from winback.drift import reference as drift_reference
from winback.hashing import row_hashes
from winback.evaluate import (choose_threshold, curves, decile_edges, decile_table, metrics,
                               decision_entry, threshold_on, threshold_rule_text)
from winback.progress import Steps
from winback.results import ResultView
from winback.segments import RISK_PROBLEMS, assign, risk_of, rule_from_config, summary
from winback.tabular.categories import pooled_notes
from winback.tabular.explain import explain
from winback.tabular.pipeline import EnsembleModel, TableModel
from winback.tabular.preprocess import Preprocessor
from winback.tabular.tune import Tuned, folds, tune
from winback.threads import set_model_threads

ENSEMBLE_SIZE = 3
EXPLAIN_ROWS = 200
BACKGROUND_ROWS = 200
BACKGROUND_FILE = "background.parquet"
TRAINING_ROWS_FILE = "training_rows.parquet"  # hashes of the training part's rows
# libsvm's fit grows with about the square of the rows: 4 trials on 11,000 audiobook customers
# take 2.5 minutes, 15 trials on 40,000 would take hours, for a model LightGBM matches there
SVC_MAX_ROWS = 20_000


@dataclass(repr=False)  # ResultView's: the leaderboard, not every frame
class TableTrainResult(ResultView):
    leaderboard: pd.DataFrame
    best: str
    bundle_dir: Path
    report_path: Path | None
    manifest: dict[str, Any]
    tuned: dict[str, Tuned]
    models: dict[str, Any]
    test_scores: dict[str, np.ndarray]
    table: CustomerTable
    train_index: np.ndarray
    test_index: np.ndarray


def split(table: CustomerTable, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    y = table.frame[LABEL].to_numpy()
    counts = np.bincount(y, minlength=2)
    if counts.min() == 0:
        raise LabelError(f"Every one of the {len(y):,} customers has label {int(y[0])}; a model "
                         f"needs both classes. Check table.positive / table.negative.")
    if counts.min() < 10:
        raise LabelError(f"Only {counts.min()} customer(s) have label {int(counts.argmin())}; at "
                         f"least 10 are needed for a stratified split and cross-validation.")
    idx = np.arange(len(y))
    return train_test_split(idx, test_size=test_share, stratify=y, random_state=seed)


def _ensemble(members: list[Tuned], models: dict[str, TableModel], y: np.ndarray, splits) -> tuple[Tuned, EnsembleModel]:
    calibrated = [models[t.name].calibrator.transform(t.oof) for t in members]
    oof = np.mean(calibrated, axis=0)
    scores = [float(roc_auc_score(y[va], oof[va])) for _, va in splits]
    tuned = Tuned("ensemble", {"members": [t.name for t in members]}, "per member", scores, oof,
                  0, 0, 0.0)
    return tuned, EnsembleModel([models[t.name] for t in members], oof, y)


@dataclass
class Selection:
    tuned: dict[str, Tuned]
    models: dict[str, Any]
    results: dict[str, dict[str, Any]]
    test_scores: dict[str, np.ndarray]
    leaderboard: pd.DataFrame
    best: str
    notes: list[str] = field(default_factory=list)


def sized_candidates(cfg: Config, rows: int) -> tuple[list[str], list[str]]:
    """The candidates to tune on `rows` training customers, and notes on any left out: the
    MLP without PyTorch, and SVC, from the default list only, above SVC_MAX_ROWS (listed in
    train.candidates, it stays)."""
    names, notes = cfg.candidates, cfg.candidate_notes
    if cfg.train.candidates or rows <= SVC_MAX_ROWS or "svc" not in names:
        return names, notes
    return [c for c in names if c != "svc"], notes + [
        f"SVC was left out: on {rows:,} training customers (over {SVC_MAX_ROWS:,}) its tuning would "
        f"take hours, since its fit grows with the square of the rows; list it in train.candidates "
        f"to tune it anyway (with train.trials_by_candidate = {{ svc = 2 }}, say)"]


def compare_candidates(cfg: Config, X_tr: pd.DataFrame, y_tr: np.ndarray, X_te: pd.DataFrame,
                       y_te: np.ndarray, numeric: list[str], categorical: list[str],
                       steps: Steps) -> Selection:
    """Tune every candidate by CV on the training rows, fit it on all of them, build the
    ensemble, choose by CV mean ROC-AUC and score the test rows once."""
    t = cfg.train
    splits = folds(y_tr, t.cv_folds, t.seed)

    def prep() -> Preprocessor:
        return Preprocessor(numeric, categorical, cfg.table.missing_indicators)

    candidates, notes = sized_candidates(cfg, len(X_tr))
    for note in notes:
        steps.note(f"[yellow]note:[/] {escape(note)}")
    names = [c for c in candidates if c != "ensemble"]
    per_candidate = t.timeout_s / max(len(names), 1) if t.timeout_s else None
    tuned: dict[str, Tuned] = {}
    models: dict[str, Any] = {}
    for name in names:
        with steps.step(f"Tuning {name} ({t.trials_of(name)} trials, {t.cv_folds}-fold CV)") as show:
            tuned[name] = tune(name, X_tr, y_tr, splits, prep, trials=t.trials_of(name),
                               timeout_s=per_candidate, imbalance=t.imbalance, seed=t.seed,
                               progress=show)
            models[name] = TableModel(name, tuned[name].params, tuned[name].strategy, t.seed).fit(
                X_tr, y_tr, prep(), tuned[name].oof)
    if "ensemble" in candidates and len(names) >= 2:
        top = sorted(tuned.values(), key=lambda r: -r.cv_mean)[:ENSEMBLE_SIZE]
        tuned["ensemble"], models["ensemble"] = _ensemble(top, models, y_tr, splits)

    results: dict[str, dict[str, Any]] = {}
    test_scores: dict[str, np.ndarray] = {}
    for name, model in models.items():
        oof_cal = model.calibrator.transform(tuned[name].oof)
        threshold = choose_threshold(y_tr, oof_cal, t)
        p_te = model.predict_proba(X_te)[:, 1]
        test_scores[name] = p_te
        results[name] = {"cv": {"roc_auc_mean": tuned[name].cv_mean, "roc_auc_std": tuned[name].cv_std,
                                "folds": tuned[name].cv_scores},
                         "test": metrics(y_te, p_te, threshold_on(p_te, t, threshold)),
                         "params": tuned[name].params, "imbalance": tuned[name].strategy,
                         "trials": tuned[name].trials, "pruned": tuned[name].pruned,
                         "tuning_seconds": round(tuned[name].seconds, 2)}
    board = pd.DataFrame([{"candidate": n, "cv_roc_auc": r["cv"]["roc_auc_mean"],
                           "cv_std": r["cv"]["roc_auc_std"],
                           **{k: v for k, v in r["test"].items() if k not in ("n", "base_rate")},
                           "imbalance": r["imbalance"]} for n, r in results.items()])
    board = board.sort_values("cv_roc_auc", ascending=False).reset_index(drop=True)
    return Selection(tuned, models, results, test_scores, board, str(board.iloc[0]["candidate"]), notes)


def train_table(cfg: Config, *, steps: Steps | None = None, report: bool = True,
                table: CustomerTable | None = None) -> TableTrainResult:
    set_model_threads(cfg.engine.threads)
    steps = steps or Steps()
    cfg.output_dir(create=False)  # a bad output folder stops the run now, not after training
    t = cfg.train
    if table is None:
        with steps.step("Reading, joining and checking the customer tables"):
            table = load_customer_table(cfg)
        for note in table.notes:  # what validate says: filters, dates read as days, look-alikes
            steps.note(f"[yellow]note:[/] {escape(note)}")
        for warning in table.warnings:
            steps.note(f"[yellow]warning:[/] {escape(warning)}")
    frame = table.frame
    seg_cfg = cfg.segments
    if seg_cfg.value_column and seg_cfg.value_column not in frame.columns:
        from winback.errors import did_you_mean

        raise DataError(f"segments.value_column '{seg_cfg.value_column}' is not a column of the "
                        f"customer table.{did_you_mean(seg_cfg.value_column, frame.columns)}")
    tr_idx, te_idx = split(table, t.test_share, t.seed)
    train, test = frame.iloc[tr_idx].reset_index(drop=True), frame.iloc[te_idx].reset_index(drop=True)
    y_tr, y_te = train[LABEL].to_numpy(), test[LABEL].to_numpy()
    X_tr, X_te = train[table.features], test[table.features]
    selection = compare_candidates(cfg, X_tr, y_tr, X_te, y_te, table.numeric, table.categorical, steps)
    tuned, models, results, test_scores = (selection.tuned, selection.models, selection.results,
                                           selection.test_scores)
    board, best = selection.leaderboard, selection.best
    chosen = models[best]
    pooled = pooled_notes(chosen)  # high-cardinality columns (surnames, cities): what is learnt
    for note in pooled:
        steps.note(f"[yellow]note:[/] {escape(note)}")

    with steps.step(f"Explaining {best} with SHAP"):
        sample = X_te if len(X_te) <= EXPLAIN_ROWS else X_te.sample(EXPLAIN_ROWS, random_state=t.seed)
        explanation = explain(chosen, sample, X_tr, seed=t.seed)
        importance = explanation.importance()
    threshold = results[best]["test"]["threshold"]
    problem = cfg.problem.name
    seg_summary = None  # a customer table without a value column has no value axis
    if seg_cfg.value_column:
        value_col = seg_cfg.value_column
        rule = rule_from_config(seg_cfg, float(risk_of(problem, np.array([threshold]))[0]),
                                train[value_col])
        segs = assign(rule, risk_of(problem, test_scores[best]), test[value_col].to_numpy())
        seg_summary = summary(rule, segs, test, table.numeric, table.categorical, outcome=y_te)

    manifest = {
        "winback_version": __version__,
        "kind": "customer_table",
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "problem": {"name": problem, "risk_is_probability": problem in RISK_PROBLEMS},
        "table": cfg.to_dict()["table"],
        "data": {"customers": int(len(frame)), "train": int(len(train)), "test": int(len(test)),
                 "positive_rate": float(frame[LABEL].mean()), "numeric": table.numeric,
                 "categorical": table.categorical, "boolean": table.boolean,
                 "date_formats": table.date_formats,
                 "notes": table.notes + selection.notes + pooled,
                 "warnings": table.warnings},
        "fingerprint": table.fingerprint,
        "protocol": (f"stratified {1 - t.test_share:.0%}/{t.test_share:.0%} split (seed {t.seed}); "
                     f"candidates tuned and chosen by {t.cv_folds}-fold stratified CV on the "
                     f"training part; the test part is scored once"),
        "best": best,
        "selection": f"highest mean ROC-AUC in {t.cv_folds}-fold CV on the training part",
        "threshold": threshold,
        "threshold_rule": threshold_rule_text(t),
        "decision": decision_entry(t, threshold),
        "decile_edges": decile_edges(test_scores[best]),
        # what `winback score` compares the customers it scores with (winback.drift)
        "drift_reference": drift_reference(X_te, [c for c in table.features if c in table.numeric],
                                           [c for c in table.features if c in table.categorical],
                                           scores=test_scores[best],
                                           tested_on=f"the {len(test):,} customers of its test part"),
        "leaderboard": board.to_dict(orient="records"),
        "candidates": results,
        "importance": {str(k): float(v) for k, v in importance.items()},
        "explainer": explanation.method,
        "segments": seg_summary,
        "feature_columns": table.features,
        "tuning": {"trials": t.trials, "trials_by_candidate": dict(t.trials_by_candidate),
                   "timeout_s": t.timeout_s, "imbalance": t.imbalance,
                   "seed": t.seed},
    }
    out = cfg.output_dir()
    with steps.step("Writing the model bundle"):
        background = X_tr.sample(min(len(X_tr), BACKGROUND_ROWS), random_state=t.seed)
        bundle_dir = save_table_bundle(out / "bundle", manifest, chosen, background,
                                       training_rows=row_hashes(train[table.key], X_tr, table.categorical))
    report_path = None
    if report:
        from winback.report import write_table_report

        with steps.step("Writing the report"):
            report_path = write_table_report(out / "report.html", manifest, {
                n: {"curves": curves(y_te, p), "deciles": decile_table(y_te, p)}
                for n, p in test_scores.items()}, explanation, sample)
    return TableTrainResult(board, best, bundle_dir, report_path, manifest, tuned, models,
                            test_scores, table, tr_idx, te_idx)


def save_table_bundle(target: Path, manifest: dict[str, Any], model, background: pd.DataFrame,
                      training_rows: np.ndarray) -> Path:
    """Manifest, model files, a sample of training feature rows (no ids, no labels) that
    model-agnostic explanations need as background when scoring, and a hash of each training
    row (key and values), so that scoring can say which scores are in-sample."""
    import json

    def fill(tmp: Path) -> None:
        entry = model.save(tmp)
        background.reset_index(drop=True).to_parquet(tmp / BACKGROUND_FILE, index=False)
        pd.DataFrame({"row_hash": training_rows}).to_parquet(tmp / TRAINING_ROWS_FILE, index=False)
        full = {**manifest, "format": BUNDLE_FORMAT, "model": entry, "background": BACKGROUND_FILE,
                "training_rows": TRAINING_ROWS_FILE}
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, default=str, ensure_ascii=False),
                                    encoding="utf-8")

    return write_atomic_dir(target, fill)
