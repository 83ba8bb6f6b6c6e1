"""Customer-table features to a numeric matrix: impute, flag missing, one-hot, standardise.

Fitted on training rows only (inside every CV fold too), so no test statistic leaks into
training. Saved as JSON: medians, means, scales and category lists are all it holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from winback.models.logistic import bounded, extrapolation_bounds
from winback.tabular.categories import learnable

MISSING_SUFFIX = " (missing)"


class Preprocessor:
    """Numeric columns: training median for missing values, plus a 0/1 indicator for columns
    that had missing values in training; categorical columns: one 0/1 column per training
    category common enough to learn from (`categories.learnable`; an unseen or pooled
    rare category is all zeros). Everything is then standardised, which the distance and margin
    models (kNN, SVC, MLP, logistic) need and trees ignore."""

    def __init__(self, numeric: list[str], categorical: list[str], missing_indicators: bool = True):
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.missing_indicators = missing_indicators

    def fit(self, frame: pd.DataFrame) -> "Preprocessor":
        num = frame[self.numeric].to_numpy(dtype=float) if self.numeric else np.empty((len(frame), 0))
        self.medians_ = np.nan_to_num(np.nanmedian(num, axis=0)) if num.size else np.empty(0)
        self.flagged_ = [c for c, m in zip(self.numeric, np.isnan(num).any(axis=0)) if m] \
            if self.missing_indicators else []
        self.categories_, self.pooled_ = {}, {}
        for c in self.categorical:
            counts = frame[c].dropna().astype(str).value_counts()
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # ties by name: same every run
            kept = learnable(ranked, len(frame))
            self.categories_[c] = sorted(kept)
            if len(kept) < len(counts):
                self.pooled_[c] = len(counts) - len(kept)
        raw = self._raw(frame)
        self.means_ = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scales_ = np.where(sd > 0, sd, 1.0)
        # a scored row is held near the training rows' extremes, as the event-log logistic
        # regression's features are: a new customer's typo (a revenue of 10^9) otherwise sends
        # the logistic, SVC and MLP scores to their extremes; no training row moves, and a
        # tree's splits all lie within the training range, so trees score the same
        self.lower_, self.upper_ = extrapolation_bounds((raw - self.means_) / self.scales_)
        return self

    def _standardised(self, raw: np.ndarray) -> np.ndarray:
        return bounded((raw - self.means_) / self.scales_, self.lower_, self.upper_)

    @property
    def names(self) -> list[str]:
        """Output column names: numeric, missing flags, then `column=category`."""
        return (self.numeric + [c + MISSING_SUFFIX for c in self.flagged_]
                + [f"{c}={v}" for c in self.categorical for v in self.categories_[c]])

    @property
    def sources(self) -> list[str]:
        """The input column behind each output column (to fold explanations back)."""
        return (self.numeric + list(self.flagged_)
                + [c for c in self.categorical for _ in self.categories_[c]])

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.numeric + self.categorical if c not in frame.columns]
        if missing:
            from winback.errors import DataError

            raise DataError(f"The customer table lacks column(s) the model was trained on: "
                            f"{', '.join(missing)}.")
        return self._raw_codes(self.codes(frame), self.numeric + self.categorical, self.categories_)

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """The frame's input columns (numeric, then categorical) as one float matrix: numbers as
        they are, each category as its index in `categories_`, NaN where missing, unseen or
        pooled. What `transform` reads, and what SHAP's permutation explainer masks."""
        parts = [frame[self.numeric].to_numpy(dtype=float)] if self.numeric else []
        for c in self.categorical:
            index = pd.Index(self.categories_[c]).get_indexer(
                frame[c].astype("string").to_numpy(dtype=object, na_value=None))
            parts.append(np.where(index < 0, np.nan, index.astype(float))[:, None])
        return np.hstack(parts) if parts else np.empty((len(frame), 0))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self._standardised(self._raw(frame))

    def transform_codes(self, Z: np.ndarray, columns: list[str], levels: dict[str, list[str]]) -> np.ndarray:
        """`transform` of rows given as one float matrix: `columns` in its order, numbers as
        they are and categories as indexes into `levels` (NaN where missing or unseen).

        What SHAP's permutation explainer feeds the models: its masked rows come as such codes,
        and building a DataFrame of strings from them for `transform` took about a fifth of
        an ensemble's explanation time (One Click). The matrix is the same to the bit."""
        return self._standardised(self._raw_codes(Z, columns, levels))

    def _raw_codes(self, Z: np.ndarray, columns: list[str], levels: dict[str, list[str]]) -> np.ndarray:
        """Imputed numbers, missing flags and one 0/1 column per kept category, before scaling,
        from codes whose categories index `levels` (this preprocessor's or another member's)."""
        at = {c: i for i, c in enumerate(columns)}
        parts = []
        if self.numeric:
            num = Z[:, [at[c] for c in self.numeric]]
            parts.append(np.where(np.isnan(num), self.medians_, num))
        if self.flagged_:
            parts.append(np.isnan(Z[:, [at[c] for c in self.flagged_]]).astype(float))
        for c in self.categorical:
            mine = {v: j for j, v in enumerate(self.categories_[c])}
            column = np.array([mine.get(v, -1) for v in levels[c]] + [-1])  # level -> my column
            code = Z[:, at[c]]
            picked = column[np.where(np.isnan(code), -1, code).astype(int)]
            onehot = np.zeros((len(Z), len(self.categories_[c])))
            hit = picked >= 0
            onehot[np.flatnonzero(hit), picked[hit]] = 1.0
            parts.append(onehot)
        return np.hstack(parts) if parts else np.empty((len(Z), 0))

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categorical": self.categorical,
                "missing_indicators": self.missing_indicators, "medians": self.medians_.tolist(),
                "flagged": self.flagged_, "categories": self.categories_, "pooled": self.pooled_,
                "means": self.means_.tolist(), "scales": self.scales_.tolist(),
                "lower": None if self.lower_ is None else self.lower_.tolist(),
                "upper": None if self.upper_ is None else self.upper_.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessor":
        p = cls(d["numeric"], d["categorical"], d["missing_indicators"])
        p.medians_ = np.asarray(d["medians"], dtype=float)
        p.flagged_ = list(d["flagged"])
        p.categories_ = {k: list(v) for k, v in d["categories"].items()}
        p.pooled_ = dict(d.get("pooled", {}))  # bundles before pooling kept every category
        p.means_ = np.asarray(d["means"], dtype=float)
        p.scales_ = np.asarray(d["scales"], dtype=float)
        bounded = d.get("lower") is not None  # absent from bundles of earlier versions: no bounds
        p.lower_ = np.asarray(d["lower"], dtype=float) if bounded else None
        p.upper_ = np.asarray(d["upper"], dtype=float) if bounded else None
        return p
