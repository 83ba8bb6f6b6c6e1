"""The model protocol: fit, predict_proba, save, load; bundles hold no pickle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.models import REGISTRY, LightGBMModel, LogisticModel, NotFittedError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 4)), columns=list("abcd"))
    X.loc[::7, "c"] = np.nan
    y = (X.a + 0.5 * X.b.fillna(0) + rng.normal(scale=0.8, size=600) > 0).astype(int).to_numpy()
    return X, y


@pytest.mark.parametrize("cls", [LogisticModel, LightGBMModel])
def test_fit_predict_save_load_roundtrip(cls, data, tmp_path):
    X, y = data
    model = cls(seed=1).fit(X[:400], y[:400], X[400:500], y[400:500])
    p = model.predict_proba(X[500:])
    assert p.shape == (100, 2) and np.allclose(p.sum(axis=1), 1)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[500:], p[:, 1]) > 0.75
    entry = model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))
    again = REGISTRY[model.name].load(tmp_path, entry)
    np.testing.assert_allclose(again.predict_proba(X[500:]), p, rtol=1e-9)


def test_logistic_regression_extrapolates_a_bounded_way(data, tmp_path):
    """A feature nearly constant on the training rows (BG/NBD's P(alive), 1 +- 0.00001 at the
    cutoffs of a 40-day log) and spread at scoring time put customers 14,000 standard
    deviations out: a probability of 1. A value is now held within 3 of the training extremes;
    every training row is inside, so the fit and its predictions there are unchanged."""
    import json

    X, y = data
    X = X.assign(p_alive=1 - np.abs(np.random.default_rng(1).normal(0, 1e-5, len(X))))
    model = LogisticModel(seed=1).fit(X[:400], y[:400])
    j = model.columns_.index("p_alive")
    assert model.coef_[j] != 0 and model.scales_[j] < 1e-4
    later = X[500:].assign(p_alive=np.linspace(0.5, 1.0, 100))  # spread when scored
    design = model._design(later.to_numpy(dtype=float))
    assert np.all(np.abs(design[:, j]) <= np.abs(model._design(X[:400].to_numpy(dtype=float))[:, j]).max() + 3)
    p = model.predict_proba(later)[:, 1]
    plain = model.predict_proba(later.assign(p_alive=1.0))[:, 1]
    moved = np.abs(np.log(p / (1 - p)) - np.log(plain / (1 - plain)))
    assert moved.max() <= abs(model.coef_[j]) * (model.upper_[j] - model.lower_[j]) + 1e-9 and moved.max() < 1
    unbounded = LogisticModel(seed=1).fit(X[:400], y[:400])
    unbounded.lower_ = unbounded.upper_ = None
    wild = unbounded._design(later.to_numpy(dtype=float)) @ unbounded.coef_ + unbounded.intercept_
    assert np.abs(wild - np.log(plain / (1 - plain))).max() > 100  # logits as they were
    np.testing.assert_allclose(unbounded.predict_proba(X[:400]), model.predict_proba(X[:400]), rtol=1e-12)
    # saved and loaded with the bounds; a bundle written before them loads without any
    entry = model.save(tmp_path)
    np.testing.assert_allclose(REGISTRY["logistic"].load(tmp_path, entry).predict_proba(later)[:, 1], p, rtol=1e-12)
    state = json.loads((tmp_path / entry["file"]).read_text())
    del state["lower"], state["upper"]
    (tmp_path / entry["file"]).write_text(json.dumps(state))
    old = REGISTRY["logistic"].load(tmp_path, entry)
    assert old.lower_ is None and np.isfinite(old.predict_proba(later)).all()


@pytest.mark.parametrize("cls", [LogisticModel, LightGBMModel])
def test_unfitted_predict_raises(cls, data):
    with pytest.raises(NotFittedError):
        cls().predict_proba(data[0])


def test_platt_calibration_improves_log_loss():
    from sklearn.metrics import log_loss

    from winback.models.calibration import PlattCalibrator

    rng = np.random.default_rng(1)
    p_true = rng.uniform(0.05, 0.6, 5000)
    y = (rng.uniform(size=5000) < p_true).astype(int)
    skewed = np.clip(p_true * 1.6, 0, 0.99)
    cal = PlattCalibrator().fit(skewed, y)
    assert log_loss(y, cal.transform(skewed)) < log_loss(y, skewed) - 0.01


def test_lightgbm_refit_keeps_the_early_stopped_rounds_scaled_by_rows(data):
    X, y = data
    model = LightGBMModel(seed=1, early_stopping=5).fit(X[:300], y[:300], X[300:450], y[300:450])
    rounds = model.booster_.best_iteration
    assert 0 < rounds < model.max_rounds
    model.refit(X[:450], y[:450])
    assert model.booster_.current_iteration() == round(rounds * 450 / 300)
    assert model.predict_proba(X[450:]).shape == (150, 2)


def test_refit_before_fit_raises(data):
    with pytest.raises(NotFittedError):
        LightGBMModel().refit(*data)
