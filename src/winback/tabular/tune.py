"""Optuna tuning by stratified k-fold cross-validation on the training part only.

TPE samples parameters (seeded, so a run repeats); LightGBM and the MLP report their score on
the first fold as they grow (rounds, epochs) and a Hyperband pruner stops hopeless trials
early. Every fold fits its own preprocessor and applies the imbalance strategy to its own
training rows only, so a resampled row never reaches a validation fold. kNN searches each
fold's neighbours once and every trial reads its votes off those lists (`knn.FoldNeighbours`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from winback.tabular.preprocess import Preprocessor
from winback.tabular.knn import FoldNeighbours
from winback.tabular.zoo import (ITERATIVE, default_params, fit_model, imbalance_options, knn_space_max, resample,
                                 search_space)


@dataclass
class Tuned:
    """The best trial of one candidate: parameters, strategy and its out-of-fold scores."""

    name: str
    params: dict[str, Any]
    strategy: str
    cv_scores: list[float]
    oof: np.ndarray  # out-of-fold P(1) of the best trial, one per training row
    trials: int
    pruned: int
    seconds: float
    history: list[float] = field(default_factory=list)  # CV mean per completed trial

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.cv_scores))

    @property
    def cv_std(self) -> float:
        return float(np.std(self.cv_scores))


def folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same stratified folds for every candidate, so their out-of-fold scores line up."""
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _fold(frame: pd.DataFrame, tr: np.ndarray, va: np.ndarray,
          prep: Callable[[], Preprocessor]) -> tuple[np.ndarray, np.ndarray]:
    """A fold's training and validation rows through a preprocessor fitted on the training rows."""
    p = prep().fit(frame.iloc[tr])
    return p.transform(frame.iloc[tr]), p.transform(frame.iloc[va])


def cross_validate(name: str, params: dict[str, Any], strategy: str, frame: pd.DataFrame,
                   y: np.ndarray, splits, prep: Callable[[], Preprocessor], seed: int,
                   report: Callable[[int, float], None] | None = None,
                   neighbours: FoldNeighbours | None = None) -> tuple[list[float], np.ndarray]:
    """ROC-AUC per fold and out-of-fold probabilities. kNN with `neighbours` reads each fold's
    neighbour lists, searched by the first trial that needs them."""
    oof = np.zeros(len(y))
    scores = []
    for i, (tr, va) in enumerate(splits):
        if name == "knn" and neighbours is not None:
            def searched_rows(tr=tr, va=va):
                X_tr, X_va = _fold(frame, tr, va, prep)
                return (*resample(X_tr, y[tr], strategy, seed), X_va)

            oof[va] = neighbours.proba((i, strategy), params, searched_rows)
        else:
            X_tr, X_va = _fold(frame, tr, va, prep)
            first = report if i == 0 else None
            model = fit_model(name, params, strategy, seed, X_tr, y[tr], report=first,
                              eval_set=(X_va, y[va]) if first else None)
            oof[va] = model.predict_proba(X_va)[:, 1]
        scores.append(float(roc_auc_score(y[va], oof[va])))
    return scores, oof


def tune(name: str, frame: pd.DataFrame, y: np.ndarray, splits, prep: Callable[[], Preprocessor],
         *, trials: int, timeout_s: float | None, imbalance: str, seed: int,
         progress: Callable[[str], None] | None = None) -> Tuned:
    """Search `name`'s space; the first trial is the untuned default so tuning can only help."""
    import optuna

    # a failed trial is raised (no exception is caught), so Optuna's own warning of it, with
    # its traceback, only repeated it, and printed one on every Ctrl-C
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pruner = (optuna.pruners.HyperbandPruner(min_resource=5, reduction_factor=3)
              if name in ITERATIVE else optuna.pruners.NopPruner())
    # a name of its own: Hyperband puts each trial in a bracket by a hash of the study's name and
    # the trial's number, and an unnamed study is named by a random UUID, so the same seed pruned
    # other trials in each run and tuned LightGBM to another model (One Click test ROC-AUC 0.9222
    # in one run, 0.9163 in the next)
    study = optuna.create_study(study_name=f"winback-{name}-{seed}", direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    strategies = imbalance_options(name) if imbalance == "auto" else [imbalance]
    first = dict(default_params(name, len(y)))
    if len(strategies) > 1:
        first["imbalance"] = "none"
    study.enqueue_trial(first)
    neighbours = FoldNeighbours(max(knn_space_max(len(y)), first["n_neighbors"])) if name == "knn" else None
    oofs: dict[int, np.ndarray] = {}
    history: list[float] = []
    start = time.perf_counter()

    def objective(trial) -> float:
        params = search_space(name, trial, len(y))
        strategy = (trial.suggest_categorical("imbalance", strategies) if len(strategies) > 1
                    else strategies[0])

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        scores, oof = cross_validate(name, params, strategy, frame, y, splits, prep, seed,
                                     report if name in ITERATIVE else None, neighbours)
        trial.set_user_attr("cv_scores", scores)
        trial.set_user_attr("strategy", strategy)
        oofs[trial.number] = oof
        history.append(float(np.mean(scores)))
        if progress:
            progress(f"{name}: trial {trial.number + 1}/{trials}, best CV ROC-AUC "
                     f"{max(history):.4f}")
        return float(np.mean(scores))

    study.optimize(objective, n_trials=trials, timeout=timeout_s or None, catch=())
    best = study.best_trial
    params = {k: v for k, v in best.params.items() if k != "imbalance"}
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return Tuned(name, params, best.user_attrs["strategy"], best.user_attrs["cv_scores"],
                 oofs[best.number], len(study.trials), pruned, time.perf_counter() - start, history)
