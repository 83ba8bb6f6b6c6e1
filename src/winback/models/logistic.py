"""Logistic regression baseline on log-scaled, standardised features.

Counts and money are heavy-tailed; a signed log1p makes a linear model on them sensible and,
unlike trees, extrapolates smoothly to customers with longer histories than the training
cutoffs had. Missing values take the training median. Saved as plain JSON numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression as _SkLogistic

from winback.models.base import Candidate, NotFittedError


def signed_log(X: np.ndarray) -> np.ndarray:
    return np.sign(X) * np.log1p(np.abs(X))


# how far past the training customers' most extreme standardised value a customer may reach:
# a feature nearly constant at the training cutoffs (BG/NBD's P(alive), 1 +- 0.00001 for every
# customer of a 40-day log, spread at the test cutoff) put a test customer 14,000 standard
# deviations out, a probability of 1, and a log loss of 3.4 against LightGBM's 0.43
EXTRAPOLATION_SDS = 3.0


def extrapolation_bounds(z: np.ndarray, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest standardised value a scored row may take along `axis`: the
    training rows' extremes, EXTRAPOLATION_SDS further out (standardised rows straddle 0, so
    the 0 that starts the search changes nothing but an empty array's bounds)."""
    return (z.min(axis=axis, initial=0.0) - EXTRAPOLATION_SDS,
            z.max(axis=axis, initial=0.0) + EXTRAPOLATION_SDS)


def bounded(z: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None) -> np.ndarray:
    """`z` held within the bounds; as it is for a model saved before bounds were kept (None)."""
    return z if lower is None else np.clip(z, lower, upper)


class LogisticModel(Candidate):
    name = "logistic"

    def __init__(self, C: float = 0.05, seed: int = 0):
        self.C = C
        self.seed = seed

    def _design(self, X: np.ndarray) -> np.ndarray:
        Z = signed_log(X)
        Z = np.where(np.isnan(Z), self.medians_, Z)
        return bounded((Z - self.means_) / self.scales_, getattr(self, "lower_", None), getattr(self, "upper_", None))

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        return expit(self._design(X) @ self.coef_ + self.intercept_)  # no overflow at extremes

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """coefficient x standardised value: exact SHAP values of a linear model against the
        training mean (the standardised mean is zero)."""
        return self._design(X) * self.coef_

    def fit(self, X, y, X_valid=None, y_valid=None) -> "LogisticModel":
        self.columns_ = list(X.columns)
        Z = signed_log(X.to_numpy(dtype=float))
        self.medians_ = np.nan_to_num(np.nanmedian(Z, axis=0))
        Z = np.where(np.isnan(Z), self.medians_, Z)
        self.means_ = Z.mean(axis=0)
        sd = Z.std(axis=0)
        self.scales_ = np.where(sd > 0, sd, 1.0)
        Z = (Z - self.means_) / self.scales_
        # every training row lies inside the bounds, so the fit is the one without them
        self.lower_, self.upper_ = extrapolation_bounds(Z)
        model = _SkLogistic(C=self.C, max_iter=5000, random_state=self.seed)
        model.fit(Z, np.asarray(y))
        self.coef_ = model.coef_[0]
        self.intercept_ = float(model.intercept_[0])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("LogisticModel is not fitted yet; call fit() first.")
        p = self.predict_matrix(X[self.columns_].to_numpy(dtype=float))
        return np.column_stack([1 - p, p])

    def parameter_count(self) -> int:
        return len(self.coef_) + 1

    def importance(self) -> pd.Series:
        """|standardised coefficient| per feature."""
        return pd.Series(np.abs(self.coef_), index=self.columns_).sort_values(ascending=False)

    def save(self, directory: Path) -> dict:
        state = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in {
            "columns": self.columns_, "medians": self.medians_, "means": self.means_,
            "scales": self.scales_, "coef": self.coef_, "intercept": self.intercept_,
            "lower": self.lower_, "upper": self.upper_, "C": self.C}.items()}
        (directory / "logistic.json").write_text(json.dumps(state))
        return {"file": "logistic.json"}

    @classmethod
    def load(cls, directory: Path, entry: dict) -> "LogisticModel":
        s = json.loads((directory / entry["file"]).read_text())
        m = cls(C=s["C"])
        m.columns_ = s["columns"]
        for k in ("medians", "means", "scales", "coef"):
            setattr(m, f"{k}_", np.asarray(s[k], dtype=float))
        for k in ("lower", "upper"):  # absent from bundles of earlier versions: no bounds
            setattr(m, f"{k}_", np.asarray(s[k], dtype=float) if k in s else None)
        m.intercept_ = float(s["intercept"])
        return m
