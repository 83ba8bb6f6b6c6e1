"""Platt scaling of a model's scores, fitted on held-out customers before the test cutoff
(never on the test).

When the log is too short for full label windows before the test cutoff, the held-out
customers' labels cover shorter windows than the horizon the scores are for (CDNOW's protocol:
91 to 203 days against 273). A plain Platt fit on the validation cutoff then answers "within 91
days", and its probabilities understated the horizon's outcomes by a third on CDNOW.
`fit_window_platt` fits the held-out customers of every cutoff at once, with the log of each
row's window as a term of its own (p' = sigmoid(a * logit(p) + b + c * log(window)), c >= 0, as a
longer window holds at least as many outcomes), and gives the calibrators of any window: the
horizon's for the test and for scoring, the validation window's for choosing the threshold
against the validation labels."""

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

    window: dict | None = None  # set by WindowCalibration.at: the window it is for, and the fit's

    def to_dict(self) -> dict:
        out = {"method": "sigmoid", "a": self.a, "b": self.b}
        return {**out, "window": self.window} if self.window else out

    @classmethod
    def from_dict(cls, d: dict) -> "PlattCalibrator":
        return cls(float(d["a"]), float(d["b"]))


def fit_window_platt(p: np.ndarray, y: np.ndarray, window_days: np.ndarray) -> tuple[float, float, float]:
    """(a, b, c) of p' = sigmoid(a * logit(p) + b + c * log(window_days)) by maximum likelihood,
    with c >= 0 (see the module doc); `at(window)` of the result is a PlattCalibrator."""
    z, y = _logit(np.asarray(p, dtype=float)), np.asarray(y, dtype=float)
    w = np.log(np.asarray(window_days, dtype=float))
    centre = float(w.mean())  # centred, so that b and c are not traded against each other

    def nll(v: np.ndarray) -> float:
        s = v[0] * z + v[1] + v[2] * (w - centre)
        return float(np.mean(np.logaddexp(0, s) - y * s))

    a, b, c = minimize(nll, np.array([1.0, 0.0, 0.0]), method="L-BFGS-B",
                        bounds=[(None, None), (None, None), (0.0, None)]).x
    return float(a), float(b - c * centre), float(c)


class WindowCalibration:
    """Platt scaling with a window term (see the module doc): `at(days)` is the calibrator of
    probabilities over that many days."""

    def __init__(self, a: float, b: float, c: float, windows: list[float]):
        self.a, self.b, self.c, self.windows = a, b, c, windows

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray, window_days: np.ndarray) -> "WindowCalibration":
        return cls(*fit_window_platt(p, y, window_days), sorted({float(w) for w in window_days}))

    def intercept(self, days):
        """The Platt intercept over `days` (a number, or one per row): b + c * log(days)."""
        return self.b + self.c * np.log(np.asarray(days, dtype=float))

    def transform(self, p: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Probabilities calibrated each over its own window (`days`, one per row)."""
        z = self.a * _logit(np.asarray(p, dtype=float)) + self.intercept(days)
        return 1.0 / (1.0 + np.exp(-z))

    def moved(self, q: float, from_days: float, to_days: float) -> float:
        """The probability over `to_days` of the customers whose probability over `from_days`
        is `q` (the two calibrators differ by a constant on the log-odds): a threshold chosen
        against shorter labels, on the horizon's scale, flags the same customers."""
        z = float(_logit(np.array([q]))[0]) + self.c * float(np.log(to_days / from_days))
        return float(1.0 / (1.0 + np.exp(-z)))

    def at(self, days: float) -> PlattCalibrator:
        calibrator = PlattCalibrator(self.a, float(self.intercept(days)))
        calibrator.window = {"days": float(days), "slope": self.c, "fitted_on_days": self.windows}
        return calibrator
