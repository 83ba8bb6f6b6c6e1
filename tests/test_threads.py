"""Threads: how many the models use (`[engine] threads`), and one BLAS thread for an ensemble's
small calls."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from winback import threads
from winback.threads import _blas_controller, one_blas_thread


@pytest.fixture
def restore_model_threads():
    yield
    threads.set_model_threads(0)


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 8)), columns=[f"x{i}" for i in range(8)])
    y = (X["x0"] + X["x1"] * X["x2"] + rng.normal(size=n) > 0).astype(int).to_numpy()
    return X, y


def test_by_default_lightgbm_takes_every_core_and_catboost_a_fixed_two(restore_model_threads):
    threads.set_model_threads(0)
    assert threads.lightgbm_threads() == threads.available_cores() >= 1
    assert threads.catboost_threads() == threads.REPRODUCIBLE_THREADS == 2
    threads.set_model_threads(3)
    assert threads.lightgbm_threads() == threads.catboost_threads() == 3
    # a service's one customer or session: one thread, whose idle spinning takes no other core
    assert threads.prediction_threads(1) == threads.prediction_threads(threads.FEW_ROWS - 1) == 1
    assert threads.prediction_threads(threads.FEW_ROWS) == 3


def test_lightgbm_builds_the_same_trees_on_any_number_of_threads(restore_model_threads):
    """Why LightGBM may take every core by default: deterministic, with row-wise histograms,
    its model does not depend on the thread count, so a seed's model is the same anywhere."""
    from winback.models.lgbm import LightGBMModel

    X, y = _data()
    models = []
    for n in (1, 2, 3):
        threads.set_model_threads(n)
        model = LightGBMModel(seed=4, early_stopping=10).fit(X[:2000], y[:2000], X[2000:], y[2000:])
        assert int(model.booster_.params["num_threads"]) == n
        models.append(model.predict_proba(X)[:, 1])
    assert np.array_equal(models[0], models[1]) and np.array_equal(models[0], models[2])


def test_engine_threads_reach_the_customer_table_models(restore_model_threads):
    from winback.tabular import zoo

    X, y = _data(600)
    threads.set_model_threads(1)
    lgbm = zoo.LightGBMModel(seed=1, n_estimators=20).fit(X.to_numpy(), y)
    assert lgbm.model.get_params()["n_jobs"] == 1
    catboost = zoo.CatBoostModel(seed=1, iterations=20).fit(X.to_numpy(), y)
    assert catboost.model.get_params()["thread_count"] == 1


def test_predictions_do_not_depend_on_the_thread_count(restore_model_threads):
    """Why a prediction may take any number of threads, CatBoost's too (its training may not)."""
    from winback.tabular import zoo

    X, y = _data(3000)
    lgbm = zoo.LightGBMModel(seed=1, n_estimators=50).fit(X.to_numpy(), y)
    catboost = zoo.CatBoostModel(seed=1, iterations=50).fit(X.to_numpy(), y)
    for model in (lgbm, catboost):
        threads.set_model_threads(1)
        one = model.predict_proba(X.to_numpy())
        threads.set_model_threads(3)
        assert np.array_equal(model.predict_proba(X.to_numpy()), one)


def test_a_run_sets_the_model_threads_of_its_config(tmp_path, restore_model_threads):
    from winback.datasets import dataset_config
    from winback.train import train

    cfg = dataset_config("cdnow_sample", output_dir=str(tmp_path))
    cfg.engine.threads = 1
    cfg.tracking.enabled = False
    train(cfg, report=False)
    assert threads.lightgbm_threads() == 1


def test_one_blas_thread_limits_the_main_thread_and_restores_after_the_outermost_use():
    """Ensembles predict small calls with one BLAS thread (their members' thread pools otherwise
    take each other's cores): set in the main thread, kept by nested uses, restored after the
    outermost; another thread (the service's workers) leaves the count alone, as OpenBLAS would."""

    def counts():
        return [lib["num_threads"] for lib in _blas_controller().info()]

    before = counts()
    assert before, "numpy's OpenBLAS is found"
    with one_blas_thread():
        assert set(counts()) == {1}
        with one_blas_thread():
            assert set(counts()) == {1}
        assert set(counts()) == {1}
    assert counts() == before
    seen = []

    def worker():
        with one_blas_thread():
            seen.append(counts())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert seen == [before] and counts() == before
    with threads.blas_for(threads.SMALL_CALL_ROWS - 1):
        assert set(counts()) == {1}
    with threads.blas_for(threads.SMALL_CALL_ROWS):
        assert counts() == before
