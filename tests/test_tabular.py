"""The customer-table model zoo: storage, resampling inside folds, tuning, SHAP, segments."""

from __future__ import annotations

import json
import numpy as np
import pandas as pd
import pytest

from winback.data.tables import LABEL, load_customer_table
from winback.datasets import dataset_config
from winback.errors import ConfigError, WinbackError
from winback.segments import SEGMENTS, assign, rule_from_config, summary
from winback.config import SegmentConfig
from winback.tabular import zoo
from winback.tabular.explain import ColumnCodes, explain, permutation_shap, top_reasons
from winback.tabular.pipeline import EnsembleModel, TableModel, load_table_model
from winback.tabular.preprocess import Preprocessor
from winback.tabular.tune import cross_validate, folds, tune

CANDIDATES = ("logistic", "svc", "knn", "tree", "lightgbm", "catboost", "mlp")


@pytest.fixture(scope="module")
def oneclick():
    table = load_customer_table(dataset_config("oneclick"))
    # the file is ordered by label; shuffle so the first 900 rows hold both classes
    frame = table.frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    X, y = frame[table.features], frame[LABEL].to_numpy()
    return table, X, y


def _prep(table):
    return lambda: Preprocessor(table.numeric, table.categorical)


@pytest.fixture(scope="module")
def fitted(oneclick):
    """Every candidate with its default parameters, fitted on 900 customers."""
    table, X, y = oneclick
    models = {}
    for name in CANDIDATES:
        strategy = "smote" if name == "knn" else "class_weight" if name in ("logistic", "mlp") else "none"
        models[name] = TableModel(name, zoo.default_params(name), strategy, seed=3).fit(
            X.iloc[:900], y[:900], _prep(table)(), oof=np.linspace(0.01, 0.99, 900))
    return models


def test_every_candidate_ranks_better_than_chance_and_round_trips(fitted, oneclick, tmp_path):
    from sklearn.metrics import roc_auc_score

    _, X, y = oneclick
    held_out = X.iloc[900:]
    for name, model in fitted.items():
        p = model.predict_proba(held_out)[:, 1]
        assert roc_auc_score(y[900:], p) > 0.8, name
        folder = tmp_path / name
        folder.mkdir()
        entry = model.save(folder)
        again = load_table_model(folder, entry)
        assert np.array_equal(again.predict_proba(held_out)[:, 1], p), name
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pickle"))
    assert (tmp_path / "mlp" / "mlp.safetensors").exists()
    assert (tmp_path / "catboost" / "catboost.cbm").exists()  # CatBoost's own format, no code


def test_svc_margin_by_matrix_products_equals_libsvms(fitted, oneclick, tmp_path):
    _, X, _ = oneclick
    model = fitted["svc"]
    Z = model.preprocessor.transform(X.iloc[900:])
    svc = model.model.svc
    reference = svc.decision_function(Z)
    for rows in (1, 50, len(Z)):  # blocks of one row, of 50 with a shorter last one, and one block
        margin = model.model.margin(Z, cells=rows * len(svc.support_vectors_))
        assert np.allclose(margin, reference, rtol=0, atol=1e-9), rows
    noise = np.random.default_rng(0).normal(size=(300, Z.shape[1])) * 3  # far from every support vector too
    assert np.allclose(model.model.margin(noise), svc.decision_function(noise), rtol=0, atol=1e-9)
    again = load_table_model(tmp_path, model.save(tmp_path))  # the stored SVC keeps what the margin reads
    assert np.array_equal(again.predict_proba(X.iloc[900:]), model.predict_proba(X.iloc[900:]))


def test_ensemble_round_trips(fitted, oneclick, tmp_path):
    _, X, y = oneclick
    members = [fitted["svc"], fitted["lightgbm"], fitted["logistic"]]
    ens = EnsembleModel(members, np.linspace(0.01, 0.99, 900), y[:900])
    entry = ens.save(tmp_path)
    again = load_table_model(tmp_path, entry)
    assert np.array_equal(again.predict_proba(X.iloc[900:]), ens.predict_proba(X.iloc[900:]))


def test_scikit_learn_models_are_stored_as_arrays_and_older_skops_files_still_load(fitted, oneclick, tmp_path):
    """Logistic regression, the SVC, the tree and kNN are plain arrays (safetensors), read
    without skops, whose import scans all of scikit-learn at every score; a bundle written
    before keeps its .skops files and loads."""
    import subprocess
    import sys

    import skops.io as sio

    _, X, _ = oneclick
    held_out = X.iloc[900:]
    for name in ("logistic", "svc", "tree", "knn"):
        model = fitted[name]
        folder = tmp_path / name
        folder.mkdir()
        entry = model.save(folder)
        assert entry["estimator"] == {"arrays": f"{name}.safetensors"}
        assert not list(folder.glob("*.skops"))
        assert np.array_equal(load_table_model(folder, entry).predict_proba(held_out), model.predict_proba(held_out))
        # as an older bundle wrote it
        inner = model.model.svc if name == "svc" else model.model.estimator
        sio.dump(inner, folder / "old.skops")
        old = dict(entry, estimator={"file": "old.skops"})
        assert np.array_equal(load_table_model(folder, old).predict_proba(held_out), model.predict_proba(held_out))
    entries = {name: fitted[name].save(tmp_path / name) for name in ("svc", "tree", "knn")}
    (tmp_path / "entries.json").write_text(json.dumps(entries))
    code = ("import json, sys; from pathlib import Path; from winback.tabular.pipeline import load_table_model; "
            f"folder = Path({str(tmp_path)!r}); "
            "[load_table_model(folder / n, e) for n, e in json.loads((folder / 'entries.json').read_text()).items()]; "
            "print('skops' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # loaded without importing skops


def test_a_stored_tree_explains_as_the_fitted_one(fitted, oneclick, tmp_path):
    """The tree is rebuilt from its node arrays into scikit-learn's own tree, which shap's
    TreeExplainer reads: the same reasons to the bit."""
    _, X, _ = oneclick
    frame = X.iloc[900:960]
    model = fitted["tree"]
    again = load_table_model(tmp_path, model.save(tmp_path))
    assert again.model.estimator.get_depth() == model.model.estimator.get_depth()
    before = explain(model, frame, X.iloc[:100])
    after = explain(again, frame, X.iloc[:100])
    assert before.method == after.method == "TreeExplainer"
    assert before.values.equals(after.values)


def test_a_tree_bundle_missing_a_node_field_is_refused_with_a_reason(fitted, tmp_path):
    from safetensors.numpy import load_file, save_file

    entry = fitted["tree"].save(tmp_path)
    path = tmp_path / entry["estimator"]["arrays"]
    arrays = load_file(str(path))
    del arrays["node.missing_go_to_left"]
    save_file(arrays, str(path))
    with pytest.raises(WinbackError, match="no 'missing_go_to_left'.*train the model again"):
        load_table_model(tmp_path, entry)


@pytest.mark.parametrize("damage", ["loop", "past_the_end", "half_leaf", "feature", "values"])
def test_a_damaged_tree_is_refused_before_scikit_learn_follows_it(fitted, tmp_path, damage):
    """The compiled tree trusts its node arrays; a child that points back up (a loop), past the
    last node, a node with one child, a feature the model lacks or values of another shape
    would hang or crash the process instead of raising."""
    from safetensors.numpy import load_file, save_file

    entry = fitted["tree"].save(tmp_path)
    path = tmp_path / entry["estimator"]["arrays"]
    arrays = load_file(str(path))
    root_is_inner = arrays["node.left_child"][0] > 0
    assert root_is_inner
    if damage == "loop":
        arrays["node.left_child"][0] = 0
    elif damage == "past_the_end":
        arrays["node.right_child"][0] = len(arrays["node.right_child"])
    elif damage == "half_leaf":
        leaf = int(np.flatnonzero(arrays["node.left_child"] == -1)[0])
        arrays["node.right_child"][leaf] = leaf + 1
    elif damage == "feature":
        arrays["node.feature"][0] = 10_000
    else:
        arrays["values"] = arrays["values"][:, :, :1].copy()
    save_file(arrays, str(path))
    with pytest.raises(WinbackError, match="decision tree is damaged"):
        load_table_model(tmp_path, entry)


class Foreign:
    pass


def test_skops_files_with_foreign_types_are_refused(tmp_path):
    import skops.io as sio

    sio.dump({"payload": Foreign()}, tmp_path / "evil.skops")
    with pytest.raises(WinbackError, match="Refusing to load.*test_tabular.Foreign"):
        zoo.load_model("knn", tmp_path, {"file": "evil.skops"})


def test_resampled_rows_never_reach_a_validation_fold(oneclick, monkeypatch):
    table, X, y = oneclick
    splits = folds(y, 4, seed=0)
    seen_fit, seen_predict = [], []
    real_resample = zoo.resample

    def spy_resample(Xa, ya, strategy, seed):
        Xr, yr = real_resample(Xa, ya, strategy, seed)
        seen_fit.append((len(Xa), len(Xr)))
        return Xr, yr

    real_predict = zoo.SklearnModel.predict_proba

    def spy_predict(self, Xa):
        seen_predict.append(np.asarray(Xa).copy())
        return real_predict(self, Xa)

    monkeypatch.setattr(zoo, "resample", spy_resample)
    monkeypatch.setattr(zoo.SklearnModel, "predict_proba", spy_predict)
    scores, oof = cross_validate("knn", zoo.default_params("knn"), "smote", X, y, splits,
                                 _prep(table), seed=0)
    assert len(scores) == 4 and (oof > 0).any()
    for (tr, va), (n_in, n_out), predicted in zip(splits, seen_fit, seen_predict):
        assert n_in == len(tr) and n_out > n_in          # SMOTE added rows to training only
        p = _prep(table)().fit(X.iloc[tr])
        assert np.array_equal(predicted, p.transform(X.iloc[va]))  # validation rows as they are


def test_tuning_is_reproducible_and_starts_from_the_default(oneclick):
    table, X, y = oneclick
    splits = folds(y, 3, seed=1)
    a = tune("tree", X, y, splits, _prep(table), trials=4, timeout_s=None, imbalance="auto", seed=1)
    b = tune("tree", X, y, splits, _prep(table), trials=4, timeout_s=None, imbalance="auto", seed=1)
    assert a.params == b.params and a.cv_scores == b.cv_scores and a.strategy == b.strategy
    assert a.trials == 4 and a.cv_mean >= a.history[0] and len(a.oof) == len(y)


def test_a_failed_trial_is_raised_without_optunas_traceback(oneclick, monkeypatch, capsys):
    """Ctrl-C in a trial printed Optuna's 'Trial 3 failed' warning with a 25-line traceback
    before winback's 'interrupted; nothing was half-written.' The error is raised as it is."""
    import logging

    from winback.tabular import tune as tuning

    table, X, y = oneclick

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tuning, "fit_model", stop)
    with pytest.raises(KeyboardInterrupt):
        tune("tree", X, y, folds(y, 3, seed=1), _prep(table), trials=2, timeout_s=None, imbalance="none", seed=1)
    captured = capsys.readouterr()
    assert "failed" not in captured.err + captured.out
    assert logging.getLogger("optuna").getEffectiveLevel() >= logging.ERROR


def test_lightgbm_tuning_with_pruning_is_reproducible(oneclick, monkeypatch):
    """LightGBM chose row- or column-wise histograms by timing them, so the same trial's AUC
    could move in its last digits, Hyperband pruned otherwise, and a seed's tuned model
    differed between runs (One Click's test ROC-AUC was 0.916 in one run, 0.922 in the next).
    Its histograms are now row-wise and deterministic. Hyperband also put trials in brackets by
    a hash of the study's name, a random UUID unless named: the study now has a name of its
    own, so the same seed prunes the same trials."""
    import optuna

    names = []
    create = optuna.create_study

    def recording(*args, **kwargs):
        study = create(*args, **kwargs)
        names.append(study.study_name)
        return study

    monkeypatch.setattr(optuna, "create_study", recording)
    table, X, y = oneclick
    splits = folds(y, 3, seed=1)
    runs = [tune("lightgbm", X, y, splits, _prep(table), trials=12, timeout_s=None, imbalance="none", seed=1)
            for _ in range(2)]
    assert names[0] == names[1] == "winback-lightgbm-1"
    assert runs[0].pruned == runs[1].pruned > 0 and runs[0].history == runs[1].history
    assert runs[0].params == runs[1].params and runs[0].cv_scores == runs[1].cv_scores
    assert np.array_equal(runs[0].oof, runs[1].oof)
    numbers = X[table.numeric].iloc[:300]
    booster = zoo.LightGBMModel(seed=1).fit(numbers, y[:300]).booster
    assert booster.params["deterministic"] and booster.params["force_row_wise"]


def test_catboost_tuning_prunes_by_rounds_and_repeats(oneclick):
    """CatBoost reports its validation AUC every 25 rounds to Hyperband (a pruned trial stops
    CatBoost from its callback, which cannot raise through it); the evaluation set only
    measures, so a fold's model is the one fitted without it."""
    table, X, y = oneclick
    splits = folds(y, 3, seed=1)
    runs = [tune("catboost", X, y, splits, _prep(table), trials=8, timeout_s=None, imbalance="none", seed=1)
            for _ in range(2)]
    assert runs[0].pruned == runs[1].pruned > 0 and runs[0].history == runs[1].history
    assert runs[0].params == runs[1].params and np.array_equal(runs[0].oof, runs[1].oof)
    assert runs[0].cv_mean > 0.88
    numbers = X[table.numeric].to_numpy()
    params = {**zoo.default_params("catboost"), "iterations": 60}
    plain = zoo.fit_model("catboost", params, "none", 1, numbers[:600], y[:600])
    seen = []
    measured = zoo.fit_model("catboost", params, "none", 1, numbers[:600], y[:600],
                             report=lambda step, auc: seen.append((step, auc)),
                             eval_set=(numbers[600:], y[600:]))
    assert [step for step, _ in seen] == [25, 50] and all(0.5 < auc <= 1 for _, auc in seen)
    assert np.array_equal(plain.predict_proba(numbers[600:]), measured.predict_proba(numbers[600:]))


@pytest.mark.parametrize("damage", ["cut", "foreign", "missing"])
def test_a_damaged_catboost_model_is_refused_with_what_to_do(fitted, tmp_path, damage):
    entry = fitted["catboost"].save(tmp_path)
    path = tmp_path / entry["estimator"]["file"]
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:4000] if damage == "cut" else b"not a model")
    with pytest.raises(WinbackError, match=r"CatBoost model '.*catboost\.cbm' cannot be read .*train the model again"):
        load_table_model(tmp_path, entry)


def test_a_catboost_bundle_without_catboost_says_how_to_install_it(fitted, tmp_path, monkeypatch):
    import sys

    entry = fitted["catboost"].save(tmp_path)
    monkeypatch.setitem(sys.modules, "catboost", None)  # as if the extra were not installed
    with pytest.raises(WinbackError, match=r"needs CatBoost.*pip install 'winback\[catboost\]'"):
        load_table_model(tmp_path, entry)


def test_a_new_customers_extreme_value_is_held_near_the_training_range(oneclick):
    """A typo in a new customer's row (a revenue of 10^9) reached the logistic, SVC and MLP as
    millions of standard deviations; it is held 3 past the training extremes. Training rows are
    unchanged, the bounds survive the bundle, and a bundle without them reads as before."""
    table, X, y = oneclick
    prep = Preprocessor(table.numeric, table.categorical).fit(X)
    column = table.numeric[0]
    unbounded = Preprocessor.from_dict({**prep.to_dict(), "lower": None, "upper": None})
    np.testing.assert_array_equal(prep.transform(X), unbounded.transform(X))  # no training row moves
    typo = X.iloc[:3].copy()
    typo[column] = 1e9
    j = prep.names.index(column)
    assert unbounded.transform(typo)[:, j].min() > 1e6
    held = prep.transform(typo)[:, j]
    assert np.allclose(held, prep.transform(X)[:, j].max() + 3)
    again = Preprocessor.from_dict(prep.to_dict())
    np.testing.assert_array_equal(again.transform(typo), prep.transform(typo))
    codes = prep.codes(typo)
    np.testing.assert_array_equal(prep.transform_codes(codes, prep.numeric + prep.categorical, prep.categories_),
                                  prep.transform(typo))


def test_mlp_early_stopping_restores_the_best_epoch(oneclick):
    from winback.tabular.mlp import MLPClassifier

    table, X, y = oneclick
    Z = Preprocessor(table.numeric, table.categorical).fit_transform(X)
    m = MLPClassifier(layers=2, units=32, learning_rate=0.01, patience=4, max_epochs=60, seed=0)
    steps = []
    m.fit(Z, y, report=lambda epoch, auc: steps.append(epoch))
    assert 1 <= m.best_epoch_ < 60 and steps and steps[0] == 5
    m2 = MLPClassifier(layers=2, units=32, learning_rate=0.01, patience=4, max_epochs=60, seed=0).fit(Z, y)
    assert np.array_equal(m.predict_proba(Z), m2.predict_proba(Z))  # deterministic for a seed


def test_mlp_dropout_keeps_units_at_the_rate_asked_and_their_expected_value():
    torch = pytest.importorskip("torch")
    from winback.tabular.mlp import _dropout, dropout_mask

    for p in (0.0, 0.2, 0.5):
        keep = dropout_mask(np.random.PCG64(1), (1000, 1001), p)  # an odd count: a partial raw draw
        assert keep.shape == (1000, 1001) and abs(keep.mean() - (1 - p)) < 0.002
    assert np.array_equal(dropout_mask(np.random.PCG64(4), (50, 7), 0.3), dropout_mask(np.random.PCG64(4), (50, 7), 0.3))
    assert not np.array_equal(dropout_mask(np.random.PCG64(4), (50, 7), 0.3), dropout_mask(np.random.PCG64(5), (50, 7), 0.3))

    layer = _dropout(torch, 0.3, np.random.PCG64(0))
    x = torch.ones(2000, 500)
    out = layer.train()(x)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.002 and abs(out.mean().item() - 1.0) < 0.005  # inverted: E[out] = x
    assert torch.equal(layer.eval()(x), x)  # prediction sees every unit
    x.requires_grad_(True)
    layer.train()(x).sum().backward()
    grads = np.unique(x.grad.numpy())  # through kept units only, scaled as their outputs are
    assert len(grads) == 2 and grads[0] == 0.0 and abs(grads[1] - 1 / 0.7) < 1e-5
    with pytest.raises(RuntimeError, match="loaded for prediction"):
        _dropout(torch, 0.3, None).train()(x)
    with pytest.raises(ValueError, match="dropout must be in"):
        _dropout(torch, 1.0, None)


@pytest.mark.parametrize("name", ["lightgbm", "catboost", "logistic", "svc"])
def test_shap_values_add_up_and_fold_to_input_columns(fitted, oneclick, name):
    table, X, _ = oneclick
    model = fitted[name]
    rows = X.iloc[900:930]
    e = explain(model, rows, X.iloc[:900], seed=0)
    assert list(e.values.columns) == table.numeric + table.categorical
    total = e.values.sum(axis=1).to_numpy()
    if name == "svc":  # permutation SHAP: exact efficiency against the background mean
        assert e.method.startswith("PermutationExplainer")
        assert np.std(model.predict_proba(rows)[:, 1] - total) < 1e-6
    else:  # tree and linear explainers are exact on the margin (log-odds)
        raw = model.raw_scores(model.preprocessor.transform(rows))
        assert np.std(np.log(raw / (1 - raw)) - total) < 1e-5
    reasons = top_reasons(e, rows)
    first = reasons["reason_1"].iloc[0]
    col = e.values.abs().iloc[0].idxmax()
    assert first.startswith(f"{col} = ") and first.endswith("the probability)")


@pytest.mark.parametrize("permutations", [1, 3])
def test_permutation_shap_is_exact_for_additive_models_and_adds_up_otherwise(permutations):
    rng = np.random.default_rng(0)
    X, bg = rng.normal(size=(40, 5)), rng.normal(size=(7, 5))
    w = np.array([1.0, -2.0, 0.5, 0.0, 3.0])

    def additive(Z):
        return Z @ w + np.sin(Z[:, 0])

    values = permutation_shap(additive, X, bg, np.random.default_rng(1), permutations)
    exact = (X - bg.mean(0)) * w
    exact[:, 0] += np.sin(X[:, 0]) - np.sin(bg[:, 0]).mean()
    assert np.allclose(values, exact, atol=1e-12)  # whatever order the columns joined in

    def interacting(Z):
        return Z[:, 0] * Z[:, 1] + np.tanh(Z[:, 2] * Z[:, 3]) + Z[:, 4] ** 2

    values = permutation_shap(interacting, X, bg, np.random.default_rng(1), permutations)
    assert np.allclose(values.sum(1), interacting(X) - interacting(bg).mean(), atol=1e-12)
    # the masked rows of many customers go to the model together; how many per call changes
    # nothing, since the permutations come from the generator in the same order
    one_by_one = permutation_shap(interacting, X, bg, np.random.default_rng(1), permutations, rows_per_call=1)
    assert np.allclose(values, one_by_one, atol=1e-12)


def test_permutation_shap_equals_shap_where_one_antithetic_permutation_is_exact():
    """With two columns both join orders are visited, so the estimate is the exact Shapley value
    and must equal shap's own PermutationExplainer."""
    import shap

    rng = np.random.default_rng(2)
    X, bg = rng.normal(size=(25, 2)), rng.normal(size=(9, 2))

    def f(Z):
        return 1 / (1 + np.exp(-(Z[:, 0] * Z[:, 1] + Z[:, 0])))

    ours = permutation_shap(f, X, bg, np.random.default_rng(3))
    theirs = shap.PermutationExplainer(f, shap.maskers.Independent(bg, max_samples=len(bg)), seed=0)(
        X, max_evals=5, silent=True).values
    assert np.allclose(ours, theirs, atol=1e-10)


def test_column_codes_round_trip_categories_and_missing(oneclick):
    table, X, _ = oneclick
    codes = ColumnCodes(Preprocessor(table.numeric, table.categorical).fit(X))
    rows = X.iloc[:50].copy()
    rows.iloc[0, rows.columns.get_loc(table.categorical[0])] = "never seen"
    back = codes.decode(codes.encode(rows))
    assert list(back.columns) == codes.columns
    assert pd.isna(back[table.categorical[0]].iloc[0])  # unseen reads as missing, as one-hot does
    assert (back[table.categorical[0]].iloc[1:].to_numpy() == rows[table.categorical[0]].iloc[1:].astype(str).to_numpy()).all()
    assert np.allclose(back[table.numeric].to_numpy(float), rows[table.numeric].to_numpy(float), equal_nan=True)



def test_models_score_codes_exactly_as_the_rows_they_decode_to(fitted, oneclick):
    """SHAP's masked rows go to the models as codes, not as a DataFrame of strings: the same
    inputs to the bit, for every member kind and an ensemble, with missing numbers, missing and
    unseen categories, and a member whose categories differ from the codes' levels."""
    table, X, _ = oneclick
    rows = X.iloc[900:960].copy()
    rows.iloc[0, rows.columns.get_loc(table.numeric[0])] = np.nan
    rows.iloc[1, rows.columns.get_loc(table.categorical[0])] = None
    rows.iloc[2, rows.columns.get_loc(table.categorical[1])] = "never seen"
    codes = ColumnCodes(fitted["svc"].preprocessor)
    Z = codes.encode(rows)
    decoded = codes.decode(Z)
    for name, model in fitted.items():
        assert np.array_equal(model.predict_proba_codes(Z, codes.columns, codes.levels),
                              model.predict_proba(decoded)[:, 1]), name
        assert np.array_equal(model.preprocessor.transform_codes(Z, codes.columns, codes.levels),
                              model.preprocessor.transform(decoded)), name
    ensemble = EnsembleModel([fitted["svc"], fitted["lightgbm"], fitted["mlp"]],
                             oof=np.linspace(0.01, 0.99, 900), y=oneclick[2][:900])
    assert np.array_equal(ensemble.predict_proba_codes(Z, codes.columns, codes.levels),
                          ensemble.predict_proba(decoded)[:, 1])
    # a preprocessor that pooled a level the codes know reads it as all zeros, as from strings
    narrow = Preprocessor.from_dict(fitted["svc"].preprocessor.to_dict())
    column = table.categorical[0]
    narrow.categories_[column] = narrow.categories_[column][1:]
    narrow.means_ = narrow._raw(X.iloc[:900]).mean(axis=0)
    narrow.scales_ = np.ones_like(narrow.means_)
    narrow.lower_ = narrow.upper_ = None  # its bounds were the wider preprocessor's columns'
    assert np.array_equal(narrow.transform_codes(Z, codes.columns, codes.levels), narrow.transform(decoded))

def test_segments_quadrants_and_what_sets_the_focus_apart():
    cfg = SegmentConfig(value_column="profit", names={"high_risk_high_value": "VIP at risk"})
    values = pd.Series([1.0, 2.0, 3.0, 4.0])
    rule = rule_from_config(cfg, risk_threshold=0.5, values=values)
    assert rule.value_threshold == 2.5 and rule.names["high_risk_high_value"] == "VIP at risk"
    segs = assign(rule, np.array([0.9, 0.9, 0.1, 0.1]), np.array([5.0, 1.0, 5.0, 1.0]))
    assert segs["segment_key"].tolist() == list(SEGMENTS)
    frame = pd.DataFrame({"promo": [0.9, 0.1, 0.2, 0.15], "cat": pd.array(["a", "b", "b", "b"], dtype="string")})
    s = summary(rule, segs, frame, ["promo"], ["cat"])
    assert [x["customers"] for x in s["sizes"]] == [1, 1, 1, 1]
    effects = {d["feature"]: d["effect"] for d in s["distinguishing"]}
    assert effects["promo"] > 1 and effects["cat = a"] > 1 and effects["cat = b"] < -1
    assert [abs(d["effect"]) for d in s["distinguishing"]] == sorted(map(abs, effects.values()), reverse=True)
    with pytest.raises(ConfigError, match="Unknown segment 'vip'"):
        rule_from_config(SegmentConfig(names={"vip": "x"}), 0.5, values)


def test_reasons_for_a_model_of_fewer_than_three_columns():
    """A two-column table crashed `winback score` (IndexError); a column that moved nothing is
    not given as a reason."""
    from winback.tabular.explain import Explanation

    values = pd.DataFrame({"visits": [0.4, 0.0], "plan": [-0.1, 0.2]})
    rows = pd.DataFrame({"visits": [3.0, 5.0], "plan": ["gold", "basic"]})
    reasons = top_reasons(Explanation(values, "test"), rows)
    assert reasons["reason_1"].tolist() == ["visits = 3 (raises the probability)",
                                            "plan = basic (raises the probability)"]
    assert reasons["reason_2"].iloc[0] == "plan = gold (lowers the probability)"
    assert reasons["reason_2"].isna().tolist() == [False, True] and reasons["reason_3"].isna().all()


def test_report_plots_draw_dollar_signs_in_names_as_text():
    """Column and segment names come from the user's data and config; matplotlib reads '$...$'
    as TeX, which garbled 'avg $ per order ($)' and failed the report on 'rev $ #1 $'."""
    import matplotlib.pyplot as plt

    from winback.report import _importance_plot, _segment_plot, _shap_bar

    names = {"rev $ #1 $": 0.5, "spend_$_vs_$_{2023}": 0.3, "avg $ per order ($)": 0.2}
    assert _importance_plot(names, "lightgbm").startswith("data:image/png;base64,")
    assert _shap_bar(names, "lightgbm").startswith("data:image/png;base64,")
    keys = ["high_risk_low_value", "high_risk_high_value", "low_risk_low_value", "low_risk_high_value"]
    sizes = [{"key": k, "name": f"{k} $ #1 $", "customers": 10, "share": 0.25} for k in keys]
    assert _segment_plot({"segments": {"sizes": sizes}}).startswith("data:image/png;base64,")
    assert plt.rcParams["text.parse_math"]  # the caller's matplotlib settings are left as they were


def test_unseen_categories_are_counted_named_and_matched_to_the_models_spelling():
    from winback.tabular.categories import boolean_category, known_spelling, unseen_in_frame

    known = ["Basic", "Pro", "Pro Plus", "pro plus"]
    assert known_spelling("pro", known) == "Pro" and known_spelling(" PRO ", known) == "Pro"
    assert known_spelling("proplus", known) is None  # two of the model's own: no guess
    assert boolean_category(True, ["FALSE", "TRUE"]) == "TRUE" and boolean_category(False, ["a"]) == "false"
    frame = pd.DataFrame({"plan": ["Basic", "pro", "Gold", "Gold", "x", "y", None],
                          "region": ["1", "2", "1", "2", "1", "2", "1"]})
    notes = unseen_in_frame(frame, {"plan": known, "region": ["1", "2"], "absent": ["a"]})
    assert notes == ["column 'plan': 5 of 7 customers have a category the model was not trained on "
                     "('Gold' (2), 'pro' (1), 'x' (1) and 1 more), read as none of the ones it knows "
                     "('Basic', 'Pro', 'Pro Plus', 'pro plus'); 'pro' is the model's 'Pro' but for "
                     "letter case or spacing: fixes = { \"plan\" = { \"pro\" = \"Pro\" } } on the "
                     "[[table.sources]] entry reads it as the model's"]


def test_rare_categories_are_pooled_and_said():
    """A surname or city column brought thousands of one-hot columns, each for a handful of
    customers: the distance and margin models drown in them and none can learn from them."""
    from winback.tabular import categories
    from winback.tabular.categories import unseen_in_frame

    rng = np.random.default_rng(0)
    n = 2000
    cities = np.concatenate([rng.choice([f"city{i:02d}" for i in range(60)], n - 300),
                             [f"village{i}" for i in range(300)]])  # 60 common, 300 of one customer
    frame = pd.DataFrame({"city": cities, "surname": [f"n{i}" for i in rng.integers(0, 1900, n)],
                          "plan": rng.choice(["a", "b"], n), "visits": rng.poisson(3, n).astype(float)})
    prep = Preprocessor(["visits"], ["city", "surname", "plan"]).fit(frame)
    assert len(prep.categories_["city"]) == categories.MAX_CATEGORIES
    assert all(c.startswith("city") for c in prep.categories_["city"])
    assert prep.categories_["surname"] == [] and prep.categories_["plan"] == ["a", "b"]
    assert prep.pooled_ == {"city": 310, "surname": frame["surname"].nunique()}
    assert prep.transform(frame).shape[1] == 1 + categories.MAX_CATEGORIES + 2
    again = Preprocessor.from_dict(prep.to_dict())
    assert again.pooled_ == prep.pooled_ and np.array_equal(again.transform(frame), prep.transform(frame))
    old = prep.to_dict()
    del old["pooled"]  # a bundle from before pooling
    assert Preprocessor.from_dict(old).pooled_ == {}
    # a small table keeps categories of 1 % of its customers
    assert Preprocessor([], ["plan"]).fit(frame.head(40).assign(plan=["a"] * 39 + ["b"])).categories_["plan"] == ["a", "b"]
    notes = unseen_in_frame(frame.head(100).assign(city="village_new"), prep.categories_, prep.pooled_)
    assert notes == ["column 'city': 100 of 100 customers have a category the model has no column for "
                     "(new, or one of the 310 rare ones training pooled), read as none of its own"]
    from types import SimpleNamespace

    from winback.tabular.categories import pooled_notes

    model = SimpleNamespace(members=[SimpleNamespace(preprocessor=prep)])
    assert pooled_notes(model) == [
        "column 'city': the models learn its 50 commonest categories; its 310 rarer ones (too few "
        "customers each to learn from) read as none of them",
        f"column 'surname': none of its {frame['surname'].nunique():,} categories holds enough "
        f"customers to learn from, so the models read it as empty; table.drop leaves it out"]


def test_svc_is_left_out_of_the_defaults_on_a_large_table():
    """libsvm's fit grows with the square of the rows: on a large table the default list drops
    SVC and says so; a config that lists SVC keeps it."""
    from winback.config import config_from_dict
    from winback.train_table import SVC_MAX_ROWS, sized_candidates

    table = {"key": "id", "label": "y", "sources": [{"path": "t.csv"}]}
    defaults = config_from_dict({"table": table})
    names, notes = sized_candidates(defaults, SVC_MAX_ROWS)
    assert "svc" in names and notes == []
    names, notes = sized_candidates(defaults, 45_000)
    assert "svc" not in names and names == [c for c in defaults.candidates if c != "svc"]
    assert notes == [f"SVC was left out: on 45,000 training customers (over {SVC_MAX_ROWS:,}) its tuning would "
                     f"take hours, since its fit grows with the square of the rows; list it in train.candidates "
                     f"to tune it anyway (with train.trials_by_candidate = {{ svc = 2 }}, say)"]
    listed = config_from_dict({"table": table, "train": {"candidates": ["svc", "lightgbm"]}})
    assert sized_candidates(listed, 45_000) == (["svc", "lightgbm"], [])


@pytest.mark.parametrize("permutations", [1, 2])
def test_permutation_shap_predicts_a_repeated_masked_sample_once(permutations):
    """Where the column that joins holds the customer's own value in a background row (a yes/no,
    a shared plan, both missing), the masked sample is the one before it: its prediction is
    reused, and the values are those of predicting every sample."""
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, size=(60, 6)).astype(float)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 5] = rng.normal(size=60)  # one continuous column: always predicted
    bg = rng.integers(0, 3, size=(11, 6)).astype(float)
    bg[0, 1] = np.nan
    bg[:, 5] = rng.normal(size=11)
    calls = []

    def f(Z):
        calls.append(len(Z))
        Z = np.nan_to_num(Z, nan=-1.5)
        return np.tanh(Z[:, 0] * Z[:, 1] - Z[:, 2]) + Z[:, 3] ** 2 * Z[:, 5] + np.sin(Z[:, 4])

    every = permutation_shap(f, X, bg, np.random.default_rng(9), permutations, reuse=False)
    every_calls = sum(calls)
    calls.clear()
    reused = permutation_shap(f, X, bg, np.random.default_rng(9), permutations)
    assert np.allclose(reused, every, atol=1e-12)
    assert np.allclose(reused.sum(1), f(X) - f(bg).mean(), atol=1e-12)
    assert every_calls == 60 * permutations * 2 * 6 * 11
    assert sum(calls) < 0.75 * every_calls  # about a third of the categorical joins repeat a sample
    calls.clear()
    chunked = permutation_shap(f, X, bg, np.random.default_rng(9), permutations, rows_per_call=500)
    assert np.allclose(chunked, every, atol=1e-12)


def test_mlp_batches_grow_with_a_large_table():
    """Up to 20,000 training customers the MLP's batches are 128 to 512 (the seeds' tables keep
    their search space); above, they double as the rows do, so an epoch keeps its step count."""
    assert [zoo.batch_scale(n) for n in (0, 11_267, 20_000, 20_001, 40_000, 75_000, 1_000_000)] == [1, 1, 1, 2, 2, 4, 64]
    assert zoo.default_params("mlp")["batch_size"] == 256
    assert zoo.default_params("mlp", 75_000)["batch_size"] == 1024
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sizes = {zoo.search_space("mlp", study.ask(), 75_000)["batch_size"] for _ in range(30)}
    assert sizes == {512, 1024, 2048}


def test_an_ensemble_predicts_the_same_with_its_one_blas_thread(fitted, oneclick):
    from winback.threads import _blas_controller

    table, X, _ = oneclick
    ensemble = EnsembleModel([fitted["svc"], fitted["lightgbm"], fitted["knn"]])
    before = [lib["num_threads"] for lib in _blas_controller().info()]
    by_hand = np.mean([m.predict_proba(X.iloc[900:])[:, 1] for m in ensemble.members], axis=0)
    assert np.allclose(ensemble.predict_proba(X.iloc[900:])[:, 1], ensemble.calibrator.transform(by_hand),
                       atol=1e-12)
    assert [lib["num_threads"] for lib in _blas_controller().info()] == before


def test_a_prepared_background_explains_as_explain_does(fitted, oneclick):
    """The service keeps the background sample, its predictions and the generator's state once
    drawn: the values equal `explain` on the same rows, and a customer's do not depend on who
    was explained before."""
    from winback.tabular.explain import Background, explain_codes

    table, X, _ = oneclick
    ensemble = EnsembleModel([fitted["svc"], fitted["catboost"], fitted["lightgbm"]])
    rows, background = X.iloc[900:906], X.iloc[:900]
    prepared = Background.of(ensemble, background, seed=11)
    codes = prepared.codes
    for i in range(len(rows)):
        one = rows.iloc[[i]]
        expected = explain(ensemble, one, background, seed=11).values.to_numpy()
        got = explain_codes(ensemble, codes.encode(one), prepared).values.to_numpy()
        assert np.allclose(got, expected, atol=1e-12)
    backwards = [explain_codes(ensemble, codes.encode(rows.iloc[[i]]), prepared).values.to_numpy()
                 for i in reversed(range(len(rows)))]
    assert np.allclose(backwards[-1], explain(ensemble, rows.iloc[[0]], background, seed=11).values, atol=1e-12)


def test_a_wide_table_is_explained_within_a_budget_per_customer():
    """A 300-column table's ensemble took 0.9 s a customer to explain (2 permutations of 601
    masked samples over 30 background rows): scoring 5,000 customers with reasons took 75
    minutes. Wider tables keep one permutation and fewer background rows; narrow ones (One
    Click's, the audiobooks') are explained as before."""
    from winback.tabular.explain import MAX_MASKED_PER_CUSTOMER, sampling_for

    assert sampling_for(13) == (2, 30) and sampling_for(32) == (2, 30)
    assert sampling_for(60) == (1, 30) and sampling_for(300) == (1, 8)
    for columns in (33, 100, 150):
        permutations, rows = sampling_for(columns)
        assert permutations * (2 * columns + 1) * rows <= MAX_MASKED_PER_CUSTOMER
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(300, 120))
    weights = np.r_[np.array([3.0, -2.0, 1.5]), np.zeros(117)]
    values = permutation_shap(lambda X: X @ weights, wide[:5], wide[5:5 + sampling_for(120)[1]],
                              np.random.default_rng(1), permutations=sampling_for(120)[0])
    assert np.abs(values).argmax(axis=1).tolist() == np.abs(wide[:5, :3] * weights[:3]
                                                            - (wide[5:5 + sampling_for(120)[1], :3] * weights[:3]).mean(0)
                                                            ).argmax(axis=1).tolist()
