"""The small protocol every model follows: fit, predict_proba, save, load.

`save` writes plain files (JSON, LightGBM text models) into a folder and returns the manifest
entry that `load` needs; nothing is pickled, so a bundle from anywhere is safe to open.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import pandas as pd


class NotFittedError(RuntimeError):
    """predict_proba or save was called before fit."""


class Candidate(ABC):
    name: str = "candidate"

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: np.ndarray, X_valid: pd.DataFrame | None = None,
            y_valid: np.ndarray | None = None) -> "Candidate": ...

    def refit(self, X: pd.DataFrame, y: np.ndarray) -> "Candidate":
        """Fit again on more rows with what the first fit settled (e.g. boosting rounds), once
        validation has been used; the default is a plain fit with the same settings."""
        return self.fit(X, y)

    def parameter_count(self) -> int | None:
        """Fitted numbers the model holds (weights, coefficients, leaves); None if unknown."""
        return None

    @abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2) array: P(label = 0), P(label = 1)."""

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        """P(label = 1) for a float matrix whose columns are `columns_` in order: the fast path
        of a service that builds one row from a request; models override it to skip pandas."""
        return self.predict_proba(pd.DataFrame(X, columns=self.columns_))[:, 1]

    def contributions(self, X: np.ndarray) -> np.ndarray | None:
        """Per-feature contributions to each row's log-odds (SHAP values for trees, exact for
        linear models), same column order as `predict_matrix`; None when the model has none."""
        return None

    @abstractmethod
    def save(self, directory: Path) -> dict: ...

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, entry: dict) -> "Candidate": ...
