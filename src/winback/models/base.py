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

    @abstractmethod
    def save(self, directory: Path) -> dict: ...

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, entry: dict) -> "Candidate": ...
