"""Platt scaling of a model's scores, fitted on the validation cutoff (never the test)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class PlattCalibrator:
    """p' = sigmoid(a * logit(p) + b). Identity when a = 1, b = 0."""

    def __init__(self, a: float = 1.0, b: float = 0.0):
        self.a, self.b = a, b

    def fit(self, p: np.ndarray, y: np.ndarray) -> "PlattCalibrator":
        z, y = _logit(np.asarray(p, dtype=float)), np.asarray(y, dtype=float)

        def nll(ab: np.ndarray) -> float:
            s = ab[0] * z + ab[1]
            return float(np.mean(np.logaddexp(0, s) - y * s))

        self.a, self.b = (float(v) for v in minimize(nll, np.array([1.0, 0.0]), method="BFGS").x)
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(np.asarray(p, dtype=float)) + self.b)))

    def to_dict(self) -> dict:
        return {"method": "sigmoid", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict) -> "PlattCalibrator":
        return cls(float(d["a"]), float(d["b"]))
