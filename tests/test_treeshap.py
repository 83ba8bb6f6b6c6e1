"""TreeSHAP once per decision pattern equals LightGBM's own pred_contrib, whatever the splits."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from winback.models.lgbm import PATTERN_ROWS, LightGBMModel
from winback.models.treeshap import PatternTreeSHAP


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.normal(size=n),                                       # continuous
        np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),  # gaps in training: missing_type NaN
        np.where(rng.random(n) < 0.4, 0.0, rng.exponential(size=n)),  # zeros (missing_type Zero below)
        rng.integers(0, 5, n).astype(float),                      # few values: rows sit on thresholds
        rng.normal(size=n),                                       # no gaps in training
    ])
    logit = X[:, 0] + np.nan_to_num(X[:, 1]) - X[:, 2] + 0.5 * X[:, 3] - X[:, 4] ** 2
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def _booster(X, y, **params) -> lgb.Booster:
    base = {"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 0, "min_data_in_leaf": 5}
    rounds = params.pop("rounds", 40)
    data = lgb.Dataset(X, label=y, categorical_feature=params.pop("categorical", "auto"))
    return lgb.train({**base, **params}, data, num_boost_round=rounds)


def _scoring_rows(X: np.ndarray, booster: lgb.Booster) -> np.ndarray:
    """Rows as scoring meets them: gaps where training had none, and values exactly on the
    trees' own thresholds."""
    rows = X.copy()
    rows[::7, 4] = np.nan
    rows[::11, 0] = np.nan
    thresholds = [s["threshold"] for t in booster.dump_model()["tree_info"]
                  for s in _all_splits(t["tree_structure"]) if s["split_feature"] == 0]
    rows[1::5, 0] = np.resize(thresholds, len(rows[1::5]))
    return rows


def _all_splits(node):
    if "split_index" not in node:
        return []
    return [node] + _all_splits(node["left_child"]) + _all_splits(node["right_child"])


@pytest.mark.parametrize("params", [
    {"num_leaves": 15},                                  # winback's default size: table of patterns
    {"num_leaves": 40, "zero_as_missing": True},         # more than 20 splits: np.unique; Zero missing
    {"num_leaves": 80, "rounds": 5},                     # more than 62 splits: that tree whole
])
def test_patterns_give_lightgbms_own_contributions(params):
    X, y = _data(4000)
    booster = _booster(X, y, **params)
    rows = _scoring_rows(X, booster)
    shap = PatternTreeSHAP(booster)
    assert shap.supported
    kinds = {s["missing_type"] for t in booster.dump_model()["tree_info"] for s in _all_splits(t["tree_structure"])}
    assert kinds >= ({"Zero"} if params.get("zero_as_missing") else {"NaN", "None"})
    expected = booster.predict(rows, pred_contrib=True)[:, :-1]
    assert np.abs(shap.contributions(rows) - expected).max() < 1e-10


def test_only_the_models_own_trees_and_lightgbms_path_where_patterns_cannot_follow():
    X, y = _data(3000, seed=1)
    booster = _booster(X, y, num_leaves=15, rounds=30)
    expected = booster.predict(X, pred_contrib=True, num_iteration=12)[:, :-1]
    assert np.abs(PatternTreeSHAP(booster, 12).contributions(X) - expected).max() < 1e-10
    # a categorical split: LightGBM's own TreeSHAP through the model
    cat = _booster(X, y, num_leaves=15, categorical=[3], rounds=10)
    assert not PatternTreeSHAP(cat).supported
    model = LightGBMModel()
    model.booster_ = cat
    rows = np.repeat(X, 1 + PATTERN_ROWS // len(X), axis=0)
    assert np.abs(model.contributions(rows) - cat.predict(rows, pred_contrib=True)[:, :-1]).max() < 1e-12


def test_the_model_uses_patterns_on_large_batches_only_and_refits_forget_them():
    import pandas as pd

    X, y = _data(5000, seed=2)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = LightGBMModel(seed=0).fit(frame.iloc[:4000], y[:4000], frame.iloc[4000:], y[4000:])
    rows = np.repeat(X, 1 + PATTERN_ROWS // len(X), axis=0)[: PATTERN_ROWS + 10]
    own = model._predict(rows, pred_contrib=True)[:, :-1]
    assert np.abs(model.contributions(rows) - own).max() < 1e-10 and model._patterns is not None
    assert np.array_equal(model.contributions(rows[:5]), own[:5])  # a few rows: LightGBM's own
    model.refit(frame, y)
    assert model._patterns is None
    assert np.abs(model.contributions(rows) - model._predict(rows, pred_contrib=True)[:, :-1]).max() < 1e-10
