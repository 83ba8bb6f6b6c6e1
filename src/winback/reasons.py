"""A score's top reasons as the text columns `winback score` writes: reason_1..k, each
"column = value (raises|lowers the probability)", strongest contribution first.

Shared by the customer-table scores (SHAP in the input columns) and the event-log scores
(TreeSHAP of LightGBM, exact contributions of logistic regression). Built a rank at a time over
whole arrays, since an event log's batch holds 65,536 customers (the customer-table version
read every value through `frame.iloc`, about 30 µs each).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

REASONS = 3


def _value_texts(values: np.ndarray) -> np.ndarray:
    """Each value as a reason shows it: numbers by %g, text as written, missing as 'missing'."""
    if values.dtype.kind == "f":
        texts = np.char.mod("%g", values).astype(object)
        texts[np.isnan(values)] = "missing"
        return texts

    def one(v) -> str:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return "missing"
        return f"{v:g}" if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else str(v)

    return np.array([one(v) for v in values], dtype=object)


def reason_columns(contributions: np.ndarray, columns: Sequence[str], values: np.ndarray,
                   k: int = REASONS) -> dict[str, pd.Series]:
    """reason_1..k from per-row `contributions` (n x m, larger = raises the probability) and
    the rows' `values` (n x m, the same columns); a reason is missing where the model has fewer
    than k columns or the column moved nothing."""
    n, m = contributions.shape
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    rows = np.arange(n)
    names = np.asarray(list(columns), dtype=object)
    out = {}
    for r in range(k):
        text = pd.Series([None] * n, dtype="string")
        if r < m:
            j = order[:, r]
            c = contributions[rows, j]
            words = np.where(c > 0, " (raises the probability)", " (lowers the probability)").astype(object)
            joined = names[j] + " = " + _value_texts(values[rows, j]) + words
            text = pd.Series(np.where(c != 0, joined, None), dtype="string")
        out[f"reason_{r + 1}"] = text
    return out
