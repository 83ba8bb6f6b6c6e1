"""A fitted customer-table model: preprocessor -> estimator -> Platt calibration, or the
average of several such members. Scores raw customer-table rows, saves to plain files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from winback.models.calibration import PlattCalibrator
from winback.tabular.preprocess import Preprocessor
from winback.tabular.zoo import fit_model, load_model, save_model
from winback.threads import blas_for


class TableModel:
    """One candidate fitted on the whole training part with its tuned parameters.

    The calibrator is fitted on the candidate's out-of-fold scores from tuning, so its
    probabilities are honest for rows it has not seen."""

    def __init__(self, name: str, params: dict[str, Any], strategy: str, seed: int):
        self.name, self.params, self.strategy, self.seed = name, params, strategy, seed

    def fit(self, frame: pd.DataFrame, y: np.ndarray, preprocessor: Preprocessor,
            oof: np.ndarray) -> "TableModel":
        self.preprocessor = preprocessor.fit(frame)
        self.model = fit_model(self.name, self.params, self.strategy, self.seed,
                               self.preprocessor.transform(frame), y)
        self.calibrator = PlattCalibrator().fit(oof, y)
        return self

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated P(1) on an already preprocessed matrix (what SHAP explains)."""
        return self.model.predict_proba(X)[:, 1]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.calibrator.transform(self.raw_scores(self.preprocessor.transform(frame)))
        return np.column_stack([1 - p, p])

    def predict_proba_codes(self, Z: np.ndarray, columns: list[str],
                            levels: dict[str, list[str]]) -> np.ndarray:
        """P(1) of rows given as codes (`Preprocessor.transform_codes`), for SHAP's masked rows."""
        X = self.preprocessor.transform_codes(Z, columns, levels)
        return self.calibrator.transform(self.raw_scores(X))

    @property
    def members(self) -> list["TableModel"]:
        return [self]

    def save(self, directory: Path, stem: str | None = None) -> dict[str, Any]:
        stem = stem or self.name
        return {"name": self.name, "params": self.params, "strategy": self.strategy,
                "seed": self.seed, "preprocessor": self.preprocessor.to_dict(),
                "calibration": self.calibrator.to_dict(),
                "estimator": save_model(self.name, self.model, directory, stem)}

    @classmethod
    def load(cls, directory: Path, entry: dict[str, Any]) -> "TableModel":
        m = cls(entry["name"], entry["params"], entry["strategy"], entry["seed"])
        m.preprocessor = Preprocessor.from_dict(entry["preprocessor"])
        m.calibrator = PlattCalibrator.from_dict(entry["calibration"])
        m.model = load_model(entry["name"], directory, entry["estimator"])
        return m


class EnsembleModel:
    """Mean of the members' calibrated probabilities, recalibrated on the mean of their
    out-of-fold probabilities (the averaging ensemble of seed 002)."""

    name = "ensemble"

    def __init__(self, members: list[TableModel], oof: np.ndarray | None = None,
                 y: np.ndarray | None = None):
        self._members = members
        self.calibrator = PlattCalibrator().fit(oof, y) if oof is not None else PlattCalibrator()

    @property
    def members(self) -> list[TableModel]:
        return self._members

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        with blas_for(len(frame)):  # the members' thread pools take turns (winback.threads)
            p = self.calibrator.transform(np.mean([m.predict_proba(frame)[:, 1] for m in self._members], axis=0))
        return np.column_stack([1 - p, p])

    def predict_proba_codes(self, Z: np.ndarray, columns: list[str],
                            levels: dict[str, list[str]]) -> np.ndarray:
        with blas_for(len(Z)):
            return self.calibrator.transform(np.mean([m.predict_proba_codes(Z, columns, levels)
                                                      for m in self._members], axis=0))

    def save(self, directory: Path, stem: str | None = None) -> dict[str, Any]:
        return {"name": "ensemble", "calibration": self.calibrator.to_dict(),
                "members": [m.save(directory, f"member{i}_{m.name}") for i, m in enumerate(self._members)]}

    @classmethod
    def load(cls, directory: Path, entry: dict[str, Any]) -> "EnsembleModel":
        model = cls([TableModel.load(directory, e) for e in entry["members"]])
        model.calibrator = PlattCalibrator.from_dict(entry["calibration"])
        return model


def load_table_model(directory: Path, entry: dict[str, Any]):
    return (EnsembleModel if entry["name"] == "ensemble" else TableModel).load(directory, entry)
