"""kNN tuning reads each fold's neighbour lists instead of searching per trial: the same
probabilities as scikit-learn's KNeighborsClassifier, the same CV scores, one search per fold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from winback.data.tables import LABEL, load_customer_table
from winback.datasets import dataset_config
from winback.tabular import tune as tune_module
from winback.tabular.knn import FoldNeighbours, NeighbourLists
from winback.tabular.preprocess import Preprocessor
from winback.tabular.tune import cross_validate, folds, tune


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(7)
    X_fit = rng.normal(size=(400, 5))
    y_fit = (X_fit[:, 0] + rng.normal(scale=1.0, size=400) > 0.3).astype(int)
    X_query = rng.normal(size=(150, 5))
    X_query[:10] = X_fit[:10]  # at distance zero from a training row
    X_query[10] = X_fit[11]
    return X_fit, y_fit, X_query


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_lists_give_scikit_learns_probabilities(rows, weights):
    X_fit, y_fit, X_query = rows
    lists = NeighbourLists.search(X_fit, y_fit, X_query, 60)
    for k in (1, 2, 7, 25, 60):
        expected = KNeighborsClassifier(n_neighbors=k, weights=weights).fit(X_fit, y_fit).predict_proba(X_query)[:, 1]
        assert np.array_equal(lists.proba(k, weights), expected), k


def test_zero_distance_rows_vote_alone(rows):
    X_fit, y_fit, X_query = rows
    lists = NeighbourLists.search(X_fit, y_fit, X_query, 25)
    p = lists.proba(25, "distance")
    assert np.array_equal(p[:10], y_fit[:10].astype(float))  # only the identical training row votes
    with pytest.raises(ValueError, match="26 neighbours asked of lists of 25"):
        lists.proba(26, "uniform")


def counted(rows):
    """rows() for FoldNeighbours, and the list its calls are counted in."""
    searches = []

    def searched():
        searches.append(1)
        return rows

    return searched, searches


def test_fold_neighbours_search_once_and_again_when_asked_for_more(rows):
    X_fit, y_fit, X_query = rows
    searched, searches = counted(rows)
    cache = FoldNeighbours(20)
    for k, w in ((5, "uniform"), (20, "distance"), (1, "distance")):
        cache.proba((0, "none"), {"n_neighbors": k, "weights": w}, searched)
    assert len(searches) == 1 and cache.lists[(0, "none")].k == 20
    p = cache.proba((0, "none"), {"n_neighbors": 45, "weights": "uniform"}, searched)
    assert len(searches) == 2 and cache.lists[(0, "none")].k == 45
    expected = KNeighborsClassifier(n_neighbors=45).fit(X_fit, y_fit).predict_proba(X_query)[:, 1]
    assert np.array_equal(p, expected)
    # more neighbours than training rows: clipped to rows - 1, as fit_model clips them
    p = cache.proba((1, "none"), {"n_neighbors": 999, "weights": "uniform"},
                    lambda: (X_fit[:30], y_fit[:30], X_query))
    expected = KNeighborsClassifier(n_neighbors=29).fit(X_fit[:30], y_fit[:30]).predict_proba(X_query)[:, 1]
    assert np.array_equal(p, expected)


def test_lists_past_the_memory_budget_are_used_once_and_not_kept(rows):
    X_fit, y_fit, X_query = rows
    searched, searches = counted(rows)
    one_list = NeighbourLists.search(X_fit, y_fit, X_query, 20).nbytes
    cache = FoldNeighbours(20, max_bytes=one_list)
    params = {"n_neighbors": 20, "weights": "distance"}
    first = cache.proba((0, "none"), params, searched)
    cache.proba((0, "none"), params, searched)
    assert len(searches) == 1 and cache.nbytes == one_list
    second = cache.proba((1, "none"), params, searched)  # over budget: searched each time
    cache.proba((1, "none"), params, searched)
    assert len(searches) == 3 and list(cache.lists) == [(0, "none")]
    assert np.array_equal(first, second)


@pytest.fixture(scope="module")
def oneclick():
    table = load_customer_table(dataset_config("oneclick"))
    frame = table.frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return table, frame[table.features], frame[LABEL].to_numpy()


@pytest.mark.parametrize("strategy", ["none", "undersample", "smote"])
def test_cross_validation_from_lists_equals_fitting_each_trial(oneclick, strategy):
    table, X, y = oneclick
    splits = folds(y, 4, seed=0)
    prep = lambda: Preprocessor(table.numeric, table.categorical)  # noqa: E731
    cache = FoldNeighbours(60)
    for params in ({"n_neighbors": 25, "weights": "distance"}, {"n_neighbors": 3, "weights": "uniform"},
                   {"n_neighbors": 60, "weights": "uniform"}):
        fitted = cross_validate("knn", params, strategy, X, y, splits, prep, seed=3)
        listed = cross_validate("knn", params, strategy, X, y, splits, prep, seed=3, neighbours=cache)
        assert np.allclose(listed[1], fitted[1], rtol=0, atol=1e-12)
        assert np.allclose(listed[0], fitted[0], rtol=0, atol=1e-12)
    assert sorted(cache.lists) == [(i, strategy) for i in range(4)]


def test_lists_search_resampled_training_rows_and_query_validation_rows(oneclick, monkeypatch):
    table, X, y = oneclick
    splits = folds(y, 4, seed=0)
    seen = []
    real_search = NeighbourLists.search

    def spy(X_fit, y_fit, X_query, k):
        seen.append((len(X_fit), len(X_query)))
        return real_search(X_fit, y_fit, X_query, k)

    monkeypatch.setattr(NeighbourLists, "search", staticmethod(spy))
    cross_validate("knn", {"n_neighbors": 5, "weights": "uniform"}, "smote", X, y, splits,
                   lambda: Preprocessor(table.numeric, table.categorical), seed=0, neighbours=FoldNeighbours(25))
    for (tr, va), (n_fit, n_query) in zip(splits, seen):
        assert n_fit > len(tr) and n_query == len(va)  # SMOTE rows in the searched set only


def test_tuning_searches_each_fold_once_per_strategy(oneclick, monkeypatch):
    table, X, y = oneclick
    calls = []
    real = tune_module.resample

    def counting(*args):
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(tune_module, "resample", counting)
    splits = folds(y, 3, seed=0)
    tuned = tune("knn", X, y, splits, lambda: Preprocessor(table.numeric, table.categorical),
                 trials=8, timeout_s=None, imbalance="auto", seed=0)
    assert tuned.trials == 8
    assert len(calls) == 3 * len(set(calls))  # one search per fold and strategy, not per trial
    assert tuned.cv_mean > 0.85
