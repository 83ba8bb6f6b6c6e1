"""SHAP explanations of customer-table models, in the user's own columns.

TreeExplainer for LightGBM and the decision tree, LinearExplainer for logistic regression, and
a permutation explainer over a background sample of training rows for everything else (SVC,
kNN, the MLP, the ensemble). One-hot and missing-indicator columns are folded back into the
column they came from, so a reason reads "Акционные_покупки = 0.93 raises the risk", not
"Популярная_категория=Косметика".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

BACKGROUND_ROWS = 30


@dataclass
class Explanation:
    values: pd.DataFrame  # one row per explained customer, one column per input column
    method: str

    def importance(self) -> pd.Series:
        """Mean |SHAP| per column, largest first."""
        return self.values.abs().mean().sort_values(ascending=False)


def _fold(values: np.ndarray, sources: list[str], columns: list[str]) -> np.ndarray:
    out = np.zeros((values.shape[0], len(columns)))
    index = {c: i for i, c in enumerate(columns)}
    for j, src in enumerate(sources):
        out[:, index[src]] += values[:, j]
    return out


def _tree_values(member, X: np.ndarray) -> np.ndarray:
    import shap

    inner = member.model.booster if member.name == "lightgbm" else member.model.estimator
    with warnings.catch_warnings():  # shap notes a change of LightGBM's output shape; handled below
        warnings.filterwarnings("ignore", message="LightGBM binary classifier")
        values = shap.TreeExplainer(inner).shap_values(X)
    values = np.asarray(values[1] if isinstance(values, list) else values)
    return values[:, :, 1] if values.ndim == 3 else values


def explain(model, frame: pd.DataFrame, background: pd.DataFrame, seed: int = 0) -> Explanation:
    """SHAP values of `model`'s score for each row of `frame`, folded to input columns."""
    import shap

    members = model.members
    prep = members[0].preprocessor
    X = prep.transform(frame)
    columns = prep.numeric + prep.categorical
    if len(members) == 1 and members[0].name in ("lightgbm", "tree"):
        values, method = _tree_values(members[0], X), "TreeExplainer"
    elif len(members) == 1 and members[0].name == "logistic":
        est = members[0].model.estimator
        bg = prep.transform(background.sample(min(len(background), 1000), random_state=seed))
        values = shap.LinearExplainer(est, bg).shap_values(X)
        method = "LinearExplainer"
    else:
        return _permutation(model, frame, background, seed)
    folded = _fold(np.asarray(values, dtype=float), prep.sources, columns)
    return Explanation(pd.DataFrame(folded, columns=columns, index=frame.index), method)


def _permutation(model, frame: pd.DataFrame, background: pd.DataFrame, seed: int) -> Explanation:
    """Model-agnostic SHAP over the input columns themselves (categories as codes), so a
    category is one player rather than one per one-hot column: fewer model calls, and every
    column's value is attributed as a whole."""
    import shap

    prep = model.members[0].preprocessor
    columns = prep.numeric + prep.categorical
    levels = {c: prep.categories_[c] for c in prep.categorical}

    def encode(f: pd.DataFrame) -> np.ndarray:
        parts = [f[prep.numeric].to_numpy(dtype=float)] if prep.numeric else []
        for c in prep.categorical:
            codes = pd.Categorical(f[c].astype("string"), categories=levels[c]).codes.astype(float)
            parts.append(np.where(codes < 0, np.nan, codes)[:, None])
        return np.hstack(parts)

    def decode(Z: np.ndarray) -> pd.DataFrame:
        out = pd.DataFrame(Z[:, :len(prep.numeric)], columns=prep.numeric)
        for i, c in enumerate(prep.categorical):
            codes = Z[:, len(prep.numeric) + i]
            out[c] = pd.array([levels[c][int(k)] if not np.isnan(k) else pd.NA for k in codes],
                              dtype="string")
        return out

    def f(Z: np.ndarray) -> np.ndarray:
        return model.predict_proba(decode(Z))[:, 1]

    rng = np.random.default_rng(seed)
    bg = encode(background.iloc[rng.choice(len(background), min(len(background), BACKGROUND_ROWS),
                                           replace=False)])
    explainer = shap.PermutationExplainer(f, shap.maskers.Independent(bg, max_samples=len(bg)),
                                          seed=seed)
    values = explainer(encode(frame), max_evals=2 * len(columns) + 1, silent=True).values
    return Explanation(pd.DataFrame(values, columns=columns, index=frame.index),
                       f"PermutationExplainer ({len(bg)} background rows)")


def top_reasons(explanation: Explanation, frame: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """reason_1..k per row: 'column = value (raises|lowers)', strongest |SHAP| first."""
    vals = explanation.values.to_numpy()
    cols = explanation.values.columns
    order = np.argsort(-np.abs(vals), axis=1, kind="stable")[:, :k]
    out = {}
    for r in range(k):
        texts = []
        for i, j in enumerate(order[:, r]):
            col = cols[j]
            value = frame.iloc[i][col]
            shown = "missing" if pd.isna(value) else (f"{value:g}" if isinstance(value, (int, float, np.floating)) else str(value))
            direction = "raises" if vals[i, j] > 0 else "lowers"
            texts.append(f"{col} = {shown} ({direction} the probability)")
        out[f"reason_{r + 1}"] = texts
    return pd.DataFrame(out, index=frame.index)
