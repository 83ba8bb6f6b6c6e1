"""LightGBM with early stopping on the validation cutoff; saved as LightGBM's text model."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from winback.models.base import Candidate, NotFittedError
from winback.threads import lightgbm_threads, prediction_threads

DEFAULT_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "verbose": -1,
}


# from this many rows, TreeSHAP runs once per decision pattern of each tree (models/treeshap.py):
# 15x faster on a chunk of 65,536 customers, slower than LightGBM's own on a few rows
PATTERN_ROWS = 2048


class LightGBMModel(Candidate):
    name = "lightgbm"

    def __init__(self, params: dict | None = None, max_rounds: int = 1000, early_stopping: int = 50,
                 seed: int = 0):
        self.params = params
        self.max_rounds = max_rounds
        self.early_stopping = early_stopping
        self.seed = seed

    def fit(self, X, y, X_valid=None, y_valid=None) -> "LightGBMModel":
        return self._train(X, y, self.max_rounds, X_valid, y_valid)

    def refit(self, X, y) -> "LightGBMModel":
        """Same parameters, as many rounds as early stopping chose (scaled up by the extra rows,
        as more data supports proportionally more rounds), no stopping set."""
        if not hasattr(self, "booster_"):
            raise NotFittedError("refit() needs a first fit() that chose the number of rounds.")
        rounds = self.booster_.best_iteration or self.booster_.current_iteration()
        return self._train(X, y, max(1, round(rounds * len(X) / max(self.fit_rows_, 1))))

    def _train(self, X, y, rounds: int, X_valid=None, y_valid=None) -> "LightGBMModel":
        self._patterns = None  # the per-pattern TreeSHAP of an earlier fit's trees
        # row-wise histograms always: LightGBM otherwise picks row- or column-wise by timing
        # both, so a busy machine could change the sums' order and the model
        params = {**DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed,
                  "deterministic": True, "force_row_wise": True, "num_threads": lightgbm_threads()}
        train = lgb.Dataset(X.to_numpy(dtype=float), label=np.asarray(y), feature_name=list(X.columns),
                            free_raw_data=True)
        callbacks, valid_sets = [], []
        if X_valid is not None:
            valid_sets = [lgb.Dataset(X_valid[X.columns].to_numpy(dtype=float), label=np.asarray(y_valid),
                                      reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping, verbose=False)]
        self.booster_ = lgb.train(params, train, num_boost_round=rounds,
                                  valid_sets=valid_sets, callbacks=callbacks)
        self.columns_ = list(X.columns)
        self.fit_rows_ = len(X)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "booster_"):
            raise NotFittedError("LightGBMModel is not fitted yet; call fit() first.")
        p = self.predict_matrix(X[self.columns_].to_numpy(dtype=float))
        return np.column_stack([1 - p, p])

    def _predict(self, X: np.ndarray, **options) -> np.ndarray:
        options["num_threads"] = prediction_threads(len(X))  # a few rows on one thread
        return self.booster_.predict(X, num_iteration=self.booster_.best_iteration or None, **options)

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        return self._predict(X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP from LightGBM itself (pred_contrib), once per decision pattern on large
        batches; the expected value (pred_contrib's last column) is left out."""
        if len(X) >= PATTERN_ROWS:
            if getattr(self, "_patterns", None) is None:
                from winback.models.treeshap import PatternTreeSHAP

                self._patterns = PatternTreeSHAP(self.booster_, self.booster_.best_iteration)
            if self._patterns.supported:
                return self._patterns.contributions(np.asarray(X, dtype=float))
        return self._predict(X, pred_contrib=True)[:, :-1]

    def parameter_count(self) -> int:
        """Leaf values over all trees (each leaf is one fitted number)."""
        dump = self.booster_.dump_model(num_iteration=-1)
        return int(sum(t["num_leaves"] for t in dump["tree_info"]))

    def importance(self) -> pd.Series:
        gain = self.booster_.feature_importance("gain")
        return pd.Series(gain / max(gain.sum(), 1e-12), index=self.columns_).sort_values(ascending=False)

    def save(self, directory: Path) -> dict:
        self.booster_.save_model(str(directory / "lightgbm.txt"),
                                 num_iteration=self.booster_.best_iteration or None)
        return {"file": "lightgbm.txt", "columns": self.columns_}

    @classmethod
    def load(cls, directory: Path, entry: dict) -> "LightGBMModel":
        m = cls()
        m.booster_ = lgb.Booster(model_file=str(directory / entry["file"]))
        m.columns_ = list(entry["columns"])
        return m
