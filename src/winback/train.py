"""labels -> features -> candidates -> evaluation -> bundle -> report.

Out-of-time by construction: the test cutoff's label window starts after every training and
validation label window has ended, and the test is measured once.

Validation is customer-disjoint as well as late. Training label windows end at the test
cutoff, so they overlap the validation cutoff's window: a customer seen in training has almost
the same features at the validation cutoff and a label drawn from the same purchases, and a
flexible model that memorises him looks better on validation than it is (on CDNOW this made
LightGBM look 0.03 ROC-AUC better than logistic regression on validation and worse on test).
Customers are therefore split by a stable hash of their id: most are trained on at the training
cutoffs; a share is held out for early stopping and another for validation (selection,
calibration, threshold), both measured at the validation cutoff; selection also reads the
validation customers at each training cutoff (`selection_score`). After selection every
candidate is refitted on all customers at the training cutoffs (`train.refit`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.markup import escape

from winback import __version__
from winback.bundle import save_bundle
from winback.config import SELECTION_METRICS, Config
from winback.data.canonical import EventLog, load_events, log_notes
from winback.errors import ConfigError, DataError, LabelError
from winback.drift import reference as drift_reference
from winback.evaluate import (choose_threshold, curves, decile_edges, decile_table, metrics,
                               decision_entry, threshold_on, threshold_rule_text)
from winback.features.monthly import PREFIX as MONTHLY_PREFIX
from winback.hashing import stable_unit
from winback.frame import build_frame, feature_columns, feature_spec_for, population_models
from winback.labels import Cutoff, CutoffPlan, check_log_fits_problem, plan_cutoffs, window_activity
from winback.models import REGISTRY
from winback.models.calibration import PlattCalibrator, WindowCalibration
from winback.progress import Steps
from winback.results import ResultView
from winback.segments import (PREDICTED_ORDERS, SegmentRule, assign, event_value, risk_of, rule_from_config,
                               summary, value_check)
from winback.threads import set_model_threads


MIN_PER_CLASS = 5  # customers of each label in each of the training, stopping, validation rows


@dataclass
class CandidateResult:
    name: str
    model: Any
    calibrator: PlattCalibrator | None
    valid: dict[str, float]
    test: dict[str, float]
    test_scores: np.ndarray
    # the selection metric averaged over the held-out customers' cutoffs (`selection_score`)
    selection: float = float("nan")


@dataclass(repr=False)  # ResultView's: the leaderboard, not every frame
class TrainResult(ResultView):
    leaderboard: pd.DataFrame  # one row per candidate, test metrics
    best: str
    bundle_dir: Path
    report_path: Path | None
    manifest: dict[str, Any]
    results: dict[str, CandidateResult]
    plan: CutoffPlan
    frames: dict[str, pd.DataFrame]


def _make(name: str, seed: int):
    cls = REGISTRY[name]
    return cls() if name == "bgnbd" else cls(seed=seed)


def customer_groups(ids: pd.Series, validation_share: float, early_stopping_share: float,
                    seed: int) -> np.ndarray:
    """'train', 'stop' or 'valid' per row: a stable hash of the customer id and the seed, so a
    customer is in the same group at every cutoff and in every run with the same seed."""
    u = stable_unit(ids.to_numpy(), seed)
    return np.where(u < validation_share, "valid",
                    np.where(u < validation_share + early_stopping_share, "stop", "train"))


def project_spec(cfg: Config, log: EventLog):
    """The feature spec of `cfg` on what `log` holds. The levels of text attributes are those
    of the customers before the test cutoff, so a backtest's folds, which share the spec (and
    cached frames) with training, read the same columns."""
    spec = feature_spec_for(log, cfg.features.windows_days, cfg.features.trend_window_days,
                            cfg.features.bgnbd, cfg.sequence_months, cfg.features.clock(cfg.source.timezone),
                            cfg.features.row_clock(cfg.source))
    if not cfg.features.attributes:
        return spec
    from dataclasses import replace

    from winback.features.attributes import attribute_levels

    test_cutoff = plan_cutoffs(cfg.problem, log.start, log.end).test.time
    return replace(spec, attributes=tuple(attribute_levels(log.table, test_cutoff, cfg.features.attributes)))


def plan_frames(log: EventLog, plan: CutoffPlan, cfg: Config, spec, show=lambda detail: None,
                fitted: dict | None = None, cache: dict | None = None) -> dict[str, pd.DataFrame]:
    """Labelled feature rows of every cutoff of `plan`, by role (train, valid, test); the test
    cutoff's BG/NBD fit goes in `fitted` (for serving). A cutoff's rows depend only on its time
    and label window, so a backtest passes one `cache` for all its folds, whose cutoffs recur."""
    frames: dict[str, pd.DataFrame] = {}
    done = 0
    for role, cutoffs in (("train", plan.train), ("valid", (plan.valid,)), ("test", (plan.test,))):
        chunks = []
        for c in cutoffs:
            done += 1
            show(f"{done}/{len(plan.all)}, {role} cutoff {c.time:%Y-%m-%d}")
            key = (c.time, c.window_end)
            if cache is not None and key in cache and not (role == "test" and fitted is not None):
                chunks.append(cache[key])
                continue
            frame = build_frame(log, c, cfg.problem, spec, fitted=fitted if role == "test" else None)
            if cache is not None:
                cache[key] = frame
            chunks.append(frame)
        frames[role] = pd.concat(chunks, ignore_index=True)
    return frames


def split_frames(cfg: Config, frames: dict[str, pd.DataFrame],
                 notes: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Training, early-stopping and validation rows, disjoint in customers (see module doc).
    On a small log whose early-stopping customers at the validation cutoff hold too few of a
    label (150 accounts: 15 customers, 4 of them buying again), early stopping reads the same
    customers at the training cutoffs too, with a note: still none of the training customers."""
    t = cfg.train
    n_train = len(frames["train"])
    ids = pd.concat([frames["train"]["customer_id"], frames["valid"]["customer_id"]], ignore_index=True)
    groups = customer_groups(ids, t.validation_share, t.early_stopping_share, t.seed)
    train_group, valid_group = groups[:n_train], groups[n_train:]
    parts = {
        "train": frames["train"][train_group == "train"].reset_index(drop=True),
        # the validation customers at the training cutoffs: never fitted on before the refit,
        # they calibrate over every window when the windows are shorter than the horizon
        "held": frames["train"][train_group == "valid"].reset_index(drop=True),
        "refit": frames["train"],
        "stop": frames["valid"][valid_group == "stop"].reset_index(drop=True),
        "valid": frames["valid"][valid_group == "valid"].reset_index(drop=True),
        "test": frames["test"],
    }
    stop_positives = int(parts["stop"]["label"].sum())
    stop_negatives = len(parts["stop"]) - stop_positives
    if min(stop_positives, stop_negatives) < MIN_PER_CLASS:
        earlier = frames["train"][train_group == "stop"]
        widened = pd.concat([parts["stop"], earlier], ignore_index=True)
        if len(earlier) and notes is not None:
            notes.append(f"early stopping reads its customers at the training cutoffs too ({len(widened):,} "
                         f"rows, {int(widened['label'].sum()):,} with label 1): at the validation cutoff "
                         f"alone they held {stop_positives:,} with label 1 and {stop_negatives:,} with label 0")
        parts["stop"] = widened
    names = {"train": "training", "stop": "early-stopping", "valid": "validation"}
    for role in ("train", "stop", "valid"):
        labels = parts[role]["label"]
        positives = int(labels.sum())
        fewest = min(positives, len(labels) - positives)
        if fewest < MIN_PER_CLASS:
            fix = "Use more data (more customers or a longer log)"
            key = {"stop": "early_stopping_share", "valid": "validation_share"}.get(role)
            if key:  # the share that would hold enough of each, with a margin, if one does
                share = getattr(t, key)
                needed = round(min(1.0, share * MIN_PER_CLASS / max(fewest, 1) * 1.25), 2)
                others = t.validation_share + t.early_stopping_share - share
                fix += (f", or raise train.{key} to {needed} (from {share}), as a small log needs"
                        if needed + others <= 0.7 else ", since no train.{key} leaves enough to train on"
                        .format(key=key))
            raise LabelError(
                f"The {names[role]} rows number {len(labels):,} after the customer split, "
                f"{positives:,} with label 1 and {len(labels) - positives:,} with label 0; "
                f"fitting, selection, calibration and the threshold need at least "
                f"{MIN_PER_CLASS} of each. {fix}."
            )
    return parts


def fit_candidates(cfg: Config, train: pd.DataFrame, stop: pd.DataFrame, valid: pd.DataFrame,
                   test: pd.DataFrame, steps: Steps, refit_on: pd.DataFrame | None = None,
                   held: pd.DataFrame | None = None) -> tuple[dict[str, CandidateResult], dict[str, str]]:
    """Fit on `train` (early-stopping on `stop`), calibrate, threshold and measure on `valid`,
    refit on `refit_on` (every customer at the training cutoffs) when configured, then measure
    once on `test`. When the validation window is shorter than the horizon, the calibration
    also reads `held` (the validation customers at the training cutoffs) and the window term of
    models/calibration.py, except BG/NBD's, whose probability is over each customer's own
    window already (and whose fit at the test cutoff reads earlier cutoffs less well: its log
    loss went from 0.502 to 0.506 on CDNOW with the term). Also returns the candidates that
    could not be fitted on this data (BG/NBD on too few buyers, or diverging), with why."""
    # constant columns carry nothing, except monthly ones: a sequence model needs every month
    cols = [c for c in feature_columns(train)
            if train[c].nunique(dropna=True) > 1 or c.startswith(MONTHLY_PREFIX)]
    X_tr, X_st, X_va, X_te = train[cols], stop[cols], valid[cols], test[cols]
    y_tr, y_st, y_va, y_te = (f["label"].to_numpy() for f in (train, stop, valid, test))
    results: dict[str, CandidateResult] = {}
    skipped: dict[str, str] = {}  # candidate -> why it could not be fitted
    horizon = float(cfg.problem.horizon_days)
    valid_days = float(valid["label_window_days"].iloc[0]) if len(valid) else horizon
    by_window = (cfg.train.calibration == "sigmoid" and valid_days < horizon
                 and held is not None and len(held) > 0)
    for name in cfg.candidates:
        with steps.step(f"Fitting {name}"):
            model = _make(name, cfg.train.seed)
            if name == "bgnbd":
                # BG/NBD learns from purchase histories, not labels: fit on the test cutoff's
                # own history (all before the cutoff), exactly what it would see in production
                try:
                    model.fit(test[test["purchase_days"] > 0])
                except ValueError as exc:  # too few buyers, or a fit that diverged
                    skipped[name] = str(exc)
                    continue
                p_va = model.predict_proba(valid)[:, 1]
                # for selection only: its probability is over each row's own window already,
                # so it is not calibrated with a window term
                p_held = model.predict_proba(held)[:, 1] if held is not None and len(held) else None
                start = time.perf_counter()
                p_te = model.predict_proba(test)[:, 1]
                per_customer_ms = 1000 * (time.perf_counter() - start) / max(len(test), 1)
            else:
                model.fit(X_tr, y_tr, X_st, y_st)
                p_va = model.predict_proba(X_va)[:, 1]
                p_held = model.predict_proba(held[cols])[:, 1] if held is not None and len(held) else None
                if refit_on is not None:
                    model.refit(refit_on[cols], refit_on["label"].to_numpy())
                start = time.perf_counter()
                p_te = model.predict_proba(X_te)[:, 1]
                per_customer_ms = 1000 * (time.perf_counter() - start) / max(len(X_te), 1)
            if not (np.all(np.isfinite(p_va)) and np.all(np.isfinite(p_te))):
                skipped[name] = "its probabilities are not all finite numbers on this data"
                continue
            if p_held is not None and not np.all(np.isfinite(p_held)):
                p_held = None  # calibrated and chosen on the validation cutoff alone, as before
            cal, window = None, None
            if by_window and p_held is not None and name != "bgnbd":
                # validation labels cover fewer days than the scores mean
                held_days = held["label_window_days"].to_numpy(dtype=float)
                window = WindowCalibration.fit(np.r_[p_held, p_va], np.r_[held["label"].to_numpy(), y_va],
                                               np.r_[held_days, np.full(len(p_va), valid_days)])
                cal = window.at(horizon)
                p_va, p_te = window.at(valid_days).transform(p_va), cal.transform(p_te)
                p_held = window.transform(p_held, held_days)
            elif cfg.train.calibration == "sigmoid":
                cal = PlattCalibrator().fit(p_va, y_va)
                p_va, p_te = cal.transform(p_va), cal.transform(p_te)
                p_held = cal.transform(p_held) if p_held is not None else None
            valid_threshold = threshold = choose_threshold(y_va, p_va, cfg.train)
            if window is not None and not cfg.train.threshold:
                # the same customers flagged, said on the horizon's scale: the two calibrators
                # differ by a constant on the log-odds
                threshold = window.moved(valid_threshold, valid_days, horizon)
            test_metrics = {**metrics(y_te, p_te, threshold_on(p_te, cfg.train, threshold)),
                            "parameters": model.parameter_count(),
                            "ms_per_customer": per_customer_ms}
            valid_metrics = metrics(y_va, p_va, valid_threshold)
            selection = selection_score(cfg.train.selection_metric, valid_metrics, held, p_held, valid_threshold)
            results[name] = CandidateResult(name, model, cal, valid_metrics, test_metrics, p_te, selection)
    for name, why in skipped.items():
        steps.note(f"[yellow]warning:[/] {name} is left out of the leaderboard: {escape(why)}")
    if not results:
        raise DataError("No candidate could be fitted on this data: "
                        + "; ".join(f"{n}: {why}" for n, why in skipped.items()))
    return results, skipped


def selection_score(metric: str, valid_metrics: dict[str, float], held: pd.DataFrame | None,
                    p_held: np.ndarray | None, threshold: float) -> float:
    """The selection metric averaged over cutoffs: the validation customers at the validation
    cutoff and at each training cutoff (`held`, never fitted on before the refit), each cutoff
    once. One cutoff's few thousand customers are one noisy draw: on CDNOW's backtest the
    validation cutoff alone chose BG/NBD over logistic regression by 0.0008 of ROC-AUC at one
    fold, where logistic regression was 0.010 better on test, and the mean over every cutoff
    chose it at all four folds. A cutoff with fewer than MIN_PER_CLASS customers of either
    label is left out of the mean."""
    scores = [valid_metrics[metric]]
    if held is not None and p_held is not None and len(held):
        y_held = held["label"].to_numpy()
        for _, rows in held.groupby("cutoff", sort=True).indices.items():
            y = y_held[rows]
            if min(int(y.sum()), int(len(y) - y.sum())) >= MIN_PER_CLASS:
                scores.append(metrics(y, p_held[rows], threshold)[metric])
    return float(np.mean(scores))


def leaderboard(results: dict[str, CandidateResult], metric: str) -> pd.DataFrame:
    """The candidates, best first by `select_<metric>` (`selection_score`)."""
    rows = [{"candidate": r.name, **{k: v for k, v in r.test.items() if k not in ("n", "base_rate")},
             "valid_roc_auc": r.valid["roc_auc"], f"valid_{metric}": r.valid[metric],
             f"select_{metric}": r.selection if np.isfinite(r.selection) else r.valid[metric]}
            for r in results.values()]
    higher_is_better = SELECTION_METRICS[metric]  # log loss and Brier: the lowest is best
    return (pd.DataFrame(rows).sort_values(f"select_{metric}", ascending=not higher_is_better, kind="stable")
            .reset_index(drop=True))


def event_segments(cfg: Config, test: pd.DataFrame, p_test: np.ndarray, threshold: float,
                   columns: list[str], log: EventLog, cutoff: Cutoff) -> dict[str, Any] | None:
    """Risk x value segments of the customers at the test cutoff; value is predicted spend
    (or `segments.value_column`), the value threshold its median at that cutoff (features
    only, so no label is used); with the value axis checked against the cutoff's label window
    (`value_check`)."""
    problem = cfg.problem.name
    if not cfg.segments.value_column and "bgnbd_expected_purchases" not in test.columns:
        return None  # no value axis (features.bgnbd = false and no value column): no segments
    value, value_name = event_value(test, cfg.segments.value_column)
    rule = rule_from_config(cfg.segments, float(risk_of(problem, np.array([threshold]))[0]), value,
                            value_name, problem)
    segs = assign(rule, risk_of(problem, p_test), value)
    numeric = [c for c in columns if c in test.columns]
    out = summary(rule, segs, test, numeric, [], outcome=test["label"].to_numpy())
    out["value_check"] = check_value_axis(log, cutoff, test, rule, value)
    return out


def check_value_axis(log: EventLog, cutoff: Cutoff, test: pd.DataFrame, rule: SegmentRule,
                     value: np.ndarray) -> dict[str, Any]:
    """The segments' value axis (`value` of the `test` rows) against what those customers
    spent in the label window (orders, when the log has no amounts or the axis predicts
    purchases): does "high value" pick the customers who then bring the money? Read from the
    horizon, so it is an evaluation, as the leaderboard is, never an input."""
    measure = "spend" if "amount" in log.available and rule.value_column != PREDICTED_ORDERS else "orders"
    activity = window_activity(log.table, cutoff, measure).execute()
    merged = test[["customer_id"]].merge(activity, on="customer_id", how="left")
    return value_check(rule, value, merged["after"].to_numpy(dtype=float),
                       merged["before"].to_numpy(dtype=float), measure, cutoff.window_days)


def importance_of(model, columns: list[str]) -> dict[str, float]:
    if hasattr(model, "importance"):
        s = model.importance()
        return {str(k): float(v) for k, v in s.head(25).items()}
    return {}


def say_data_warnings(log: EventLog, steps: Steps) -> list[str]:
    """What validate says of the log (a customer id holding most events, look-alike ids, rows
    a layout leaves unread: 0.07 s on 1 M payments), printed; returned for the report, which is
    read by people who did not see the console."""
    found = [w for w in log_notes(log.table, log.summary).values() if w]
    for warning in found:
        steps.note(f"[yellow]warning:[/] {escape(warning)}")
    return found


def train(cfg: Config, *, steps: Steps | None = None, log: EventLog | None = None,
          report: bool = True) -> TrainResult:
    """Run the whole training flow of `cfg`; write the bundle (and report) under output.dir."""
    set_model_threads(cfg.engine.threads)
    steps = steps or Steps()
    cfg.output_dir(create=False)  # a bad output folder stops the run now, not after training
    if log is None:
        with steps.step(f"Reading and validating {cfg.source.path}"):
            log = load_events(cfg)
    data_warnings = say_data_warnings(log, steps)
    check_log_fits_problem(cfg.problem, log)
    if (cfg.problem.name == "activity_decline" and cfg.problem.decline_measure == "spend"
            and "amount" not in log.available):
        raise ConfigError("problem.decline_measure = 'spend' needs amounts, and this source maps no "
                          "amount or price column; map one or use 'orders' or 'events'.")
    plan = plan_cutoffs(cfg.problem, log.start, log.end)
    if cfg.train.backtest_folds:  # a fold the log cannot hold stops the run now, not after fitting
        from winback.backtest import fold_plans

        fold_plans(cfg, log, cfg.train.backtest_folds, cfg.train.backtest_step_days or cfg.problem.cutoff_step_days)
    spec = project_spec(cfg, log)
    fitted: dict = {}
    cache: dict | None = {} if cfg.train.backtest_folds else None  # the backtest's folds share cutoffs
    with steps.step(f"Labels and features at {len(plan.all)} cutoffs") as show:
        frames = plan_frames(log, plan, cfg, spec, show, fitted=fitted, cache=cache)
    value_column = cfg.segments.value_column
    if value_column and value_column not in frames["test"].columns:  # fail before any fitting
        from winback.errors import did_you_mean

        raise ConfigError(f"segments.value_column '{value_column}' is not a feature of this log."
                          f"{did_you_mean(value_column, frames['test'].columns)}")
    split_notes: list[str] = []
    parts = split_frames(cfg, frames, split_notes)
    for note in split_notes:
        steps.note(f"[yellow]note:[/] {escape(note)}")
    results, skipped = fit_candidates(cfg, parts["train"], parts["stop"], parts["valid"], parts["test"], steps,
                                      parts["refit"] if cfg.train.refit else None, held=parts["held"])
    metric = cfg.train.selection_metric
    board = leaderboard(results, metric)
    best = str(board.iloc[0]["candidate"])
    chosen = results[best]
    cols = list(getattr(chosen.model, "columns_", feature_columns(frames["test"])))
    manifest = {
        "winback_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "problem": vars(cfg.problem).copy(),
        "source": {k: v for k, v in vars(cfg.source).items()},
        "data": {**{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in log.summary.items()},
                 "warnings": data_warnings},
        "fingerprint": log.fingerprint,
        "cutoffs": [c.as_dict() for c in plan.all],
        "feature_spec": {**spec.to_dict(), "columns": cols},
        "threshold": chosen.test["threshold"],
        "threshold_rule": threshold_rule_text(cfg.train),
        "decision": decision_entry(cfg.train, chosen.test["threshold"]),
        "best": best,
        "selection": (f"{'highest' if SELECTION_METRICS[metric] else 'lowest'} {metric} on held-out "
                      f"customers, averaged over the validation cutoff {plan.valid.time:%Y-%m-%d} "
                      f"and the {len(plan.train)} training cutoff(s) (select_{metric})"),
        "leaderboard": board.to_dict(orient="records"),
        "candidates": {n: {"valid": r.valid, "test": r.test} for n, r in results.items()},
        "skipped_candidates": skipped,
        "importance": importance_of(chosen.model, cols),
        # for scoring one customer at a time (winback serve): the test cutoff's population
        # fits and where its deciles start
        "population": population_models(frames["test"], fitted.get("bgnbd")),
        "decile_edges": decile_edges(chosen.test_scores),
        "feature_medians": {c: (None if pd.isna(v) else float(v))
                            for c, v in frames["test"][cols].median().items()},
        # what `winback score` compares the customers it scores with (winback.drift)
        "drift_reference": drift_reference(
            frames["test"], cols, scores=chosen.test_scores,
            tested_on=f"the customers at the test cutoff {plan.test.time:%Y-%m-%d}"),
        "labels": {label: {"rows": int(len(parts[role])),
                           "positive_rate": float(parts[role]["label"].mean())}
                   for role, label in (("train", "train"), ("stop", "early stopping"),
                                       ("valid", "validation"), ("test", "test"))},
    }
    # as save_bundle writes it; the report reads it too (a window term is said there)
    manifest["calibration"] = chosen.calibrator.to_dict() if chosen.calibrator else None
    manifest["segments"] = event_segments(cfg, frames["test"], chosen.test_scores,
                                          chosen.test["threshold"], cols, log, plan.test)
    if cfg.train.backtest_folds:
        from winback.backtest import FirstFold, as_dict, backtest

        manifest["backtest"] = as_dict(backtest(
            cfg, folds=cfg.train.backtest_folds, step_days=cfg.train.backtest_step_days or None, steps=steps,
            log=log, write=False, first=FirstFold(plan, board, frames["test"]["label"]), cache=cache))
    out = cfg.output_dir()
    with steps.step("Writing the model bundle"):
        bundle_dir = save_bundle(out / "bundle", manifest, chosen.model, chosen.calibrator)
    report_path = None
    if report:
        from winback.report import write_report

        with steps.step("Writing the report"):
            y_te = frames["test"]["label"].to_numpy()
            report_path = write_report(out / "report.html", manifest, {
                n: {"curves": curves(y_te, r.test_scores), "deciles": decile_table(y_te, r.test_scores)}
                for n, r in results.items()})
    return TrainResult(board, best, bundle_dir, report_path, manifest, results, plan, frames)
