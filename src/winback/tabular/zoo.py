"""The seeds' model zoo for customer tables: search spaces, builders, imbalance and storage.

Each candidate is a scikit-learn-style estimator built from a parameter dict that Optuna
samples. Imbalance strategies are applied to training rows only, inside each CV fold and in the
final fit: never to a validation, test or scored row. Fitted models are stored without pickle:
safetensors arrays for logistic regression, the SVC, the tree and kNN, LightGBM's text format,
CatBoost's own model format, and safetensors plus JSON for the network. Bundles written before
the tree and kNN had arrays hold .skops files, still read (only scikit-learn and numpy types
trusted).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from winback.tabular.knn import neighbours_needed
from winback.tabular.mlp import MLPClassifier
from winback.threads import catboost_threads, lightgbm_threads, prediction_threads

ITERATIVE = ("lightgbm", "catboost", "mlp")  # pruned on intermediate scores (rounds, epochs)
NO_CLASS_WEIGHT = ("knn",)
TRUSTED_MODULES = ("sklearn", "numpy", "scipy", "builtins")


def search_space(name: str, trial, n_rows: int) -> dict[str, Any]:
    """Parameters of candidate `name` sampled by an Optuna trial."""
    s = trial
    if name == "logistic":
        return {"C": s.suggest_float("C", 1e-3, 1e2, log=True)}
    if name == "svc":
        return {"C": s.suggest_float("C", 1e-2, 1e2, log=True),
                "gamma": s.suggest_float("gamma", 1e-4, 1.0, log=True)}
    if name == "knn":
        return {"n_neighbors": s.suggest_int("n_neighbors", 1, knn_space_max(n_rows), log=True),
                "weights": s.suggest_categorical("weights", ["uniform", "distance"])}
    if name == "tree":
        return {"max_depth": s.suggest_int("max_depth", 2, 12),
                "min_samples_leaf": s.suggest_int("min_samples_leaf", 1, 60, log=True),
                "criterion": s.suggest_categorical("criterion", ["gini", "entropy"])}
    if name == "lightgbm":
        return {"n_estimators": s.suggest_int("n_estimators", 50, 1500, log=True),
                "learning_rate": s.suggest_float("learning_rate", 0.01, 0.2, log=True),
                "num_leaves": s.suggest_int("num_leaves", 4, 256, log=True),
                "min_child_samples": s.suggest_int("min_child_samples", 2, 100, log=True),
                "subsample": s.suggest_float("subsample", 0.5, 1.0),
                "colsample_bytree": s.suggest_float("colsample_bytree", 0.4, 1.0),
                "reg_lambda": s.suggest_float("reg_lambda", 1e-3, 10.0, log=True)}
    if name == "catboost":
        return {"iterations": s.suggest_int("iterations", 100, 1500, log=True),
                "learning_rate": s.suggest_float("learning_rate", 0.01, 0.2, log=True),
                "depth": s.suggest_int("depth", 3, 8),
                "l2_leaf_reg": s.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
                "random_strength": s.suggest_float("random_strength", 0.1, 10.0, log=True),
                "bagging_temperature": s.suggest_float("bagging_temperature", 0.0, 2.0)}
    if name == "mlp":
        return {"layers": s.suggest_int("layers", 1, 4),
                "units": s.suggest_categorical("units", [16, 32, 64, 128]),
                "activation": s.suggest_categorical("activation", ["relu", "tanh"]),
                "dropout": s.suggest_float("dropout", 0.0, 0.5),
                "l2": s.suggest_float("l2", 1e-6, 1e-2, log=True),
                "learning_rate": s.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
                "batch_size": s.suggest_categorical("batch_size", [b * batch_scale(n_rows) for b in (128, 256, 512)])}
    raise ValueError(f"no search space for {name!r}")


def knn_space_max(n_rows: int) -> int:
    """The most neighbours kNN's search space asks for on `n_rows` training customers."""
    return min(150, max(25, n_rows // 10))


MLP_BATCH_ROWS = 20_000


def batch_scale(n_rows: int) -> int:
    """How many times larger the MLP's batches are on `n_rows` training customers: 1 up to
    MLP_BATCH_ROWS, then doubled each time the rows do, so that an epoch takes about as many
    steps as on 20,000 customers (15 trials on 75,000 took 13 minutes at batches of 128 to 512,
    most of a 21-minute `winback train`)."""
    scale = 1
    while n_rows > MLP_BATCH_ROWS * scale:
        scale *= 2
    return scale


def default_params(name: str, n_rows: int = 0) -> dict[str, Any]:
    """Untuned starting points (enqueued as each study's first trial)."""
    if name == "mlp":
        return {"layers": 2, "units": 64, "activation": "relu", "dropout": 0.2, "l2": 1e-4,
                "learning_rate": 1e-3, "batch_size": 256 * batch_scale(n_rows)}
    return {"logistic": {"C": 1.0}, "svc": {"C": 1.0, "gamma": 0.05},
            "knn": {"n_neighbors": 25, "weights": "distance"},
            "tree": {"max_depth": 5, "min_samples_leaf": 10, "criterion": "gini"},
            "lightgbm": {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                         "min_child_samples": 20, "subsample": 0.8, "colsample_bytree": 0.8,
                         "reg_lambda": 1.0},
            "catboost": {"iterations": 500, "learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 3.0,
                         "random_strength": 1.0, "bagging_temperature": 1.0}}[name]


def imbalance_options(name: str) -> list[str]:
    options = ["none", "class_weight", "undersample", "smote"]
    return [o for o in options if not (o == "class_weight" and name in NO_CLASS_WEIGHT)]


KERNEL_CELLS = 4_194_304  # kernel values per block of the SVC margin: 32 MB, cache- and page-friendly


class SVCScores:
    """RBF SVC whose `predict_proba` is the logistic of its margin: a monotone score that the
    Platt calibrator (fitted on out-of-fold margins) turns into a probability. Avoids SVC's
    internal 5-fold probability fit, which scikit-learn deprecates."""

    def __init__(self, **params):
        from sklearn.svm import SVC

        self.svc = SVC(kernel="rbf", **params)

    def fit(self, X, y, report=None):
        self.svc.fit(X, y)
        return self

    def margin(self, X, cells: int = KERNEL_CELLS) -> np.ndarray:
        """The SVC's decision function, with the RBF kernel against the support vectors as one
        matrix product per block of rows: equal to libsvm's (to rounding) and several times
        faster, which SHAP's many masked rows feel most. The exponent
        -gamma |x - sv|^2 = 2 gamma x.sv - gamma |x|^2 - gamma |sv|^2 is built in place in one
        buffer of about `cells` numbers that is reused for every block: a fresh array per block
        of 16,384 rows was 3 times slower, mostly the page faults of allocating it."""
        X = np.asarray(X, dtype=float)
        sv = self.svc.support_vectors_
        coef, bias, gamma = self.svc.dual_coef_[0], self.svc.intercept_[0], float(self.svc._gamma)
        sv_scaled = (2.0 * gamma) * sv
        sv_term = -gamma * np.einsum("ij,ij->i", sv, sv)
        x_term = -gamma * np.einsum("ij,ij->i", X, X)
        rows = max(1, min(len(X), cells // max(1, len(sv))))
        buffer = np.empty((rows, len(sv)))
        out = np.empty(len(X))
        for start in range(0, len(X), rows):
            x = X[start:start + rows]
            k = buffer[:len(x)]
            np.matmul(x, sv_scaled.T, out=k)
            k += sv_term[None, :]
            k += x_term[start:start + rows, None]
            np.minimum(k, 0.0, out=k)  # rounding can lift a zero distance's exponent above 0
            np.exp(k, out=k)
            out[start:start + rows] = k @ coef + bias
        return out

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.margin(X)))
        return np.column_stack([1 - p, p])


class SklearnModel:
    """A fitted sklearn classifier behind the common fit(X, y, report) signature."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, report=None):
        self.estimator.fit(X, y)
        return self

    def predict_proba(self, X):
        return self.estimator.predict_proba(X)


class LightGBMModel:
    """LightGBM; `report(round, auc)` on an evaluation set lets Optuna prune by rounds."""

    def __init__(self, seed: int = 0, class_weight: str | None = None, **params):
        self.params = params
        self.seed = seed
        self.class_weight = class_weight

    def fit(self, X, y, report=None, eval_set=None):
        import lightgbm as lgb

        # deterministic, row-wise histograms: with two threads' float sums in any order, the
        # same trial's AUC moved in the last digits, pruning went another way, and the tuned
        # model of one seed differed from run to run (One Click test ROC-AUC 0.916 or 0.922)
        self.model = lgb.LGBMClassifier(random_state=self.seed, subsample_freq=1, verbose=-1, n_jobs=lightgbm_threads(),
                                        deterministic=True, force_row_wise=True,
                                        class_weight=self.class_weight, **self.params)
        callbacks = []
        if report is not None and eval_set is not None:
            from sklearn.metrics import roc_auc_score

            Xe, ye = eval_set

            def cb(env):
                if (env.iteration + 1) % 25 == 0:
                    report(env.iteration + 1, float(roc_auc_score(ye, env.model.predict(Xe))))
            callbacks.append(cb)
        self.model.fit(X, y, callbacks=callbacks)
        self.booster = self.model.booster_
        return self

    def predict_proba(self, X):
        p = self.booster.predict(np.asarray(X, dtype=float), num_threads=prediction_threads(len(X)))
        return np.column_stack([1 - p, p])


def catboost_classifier():
    """CatBoost's classifier class, or an error that says how to install it (a bundle trained
    with CatBoost read where the `catboost` extra is missing)."""
    try:
        from catboost import CatBoostClassifier
    except ImportError as exc:
        from winback.errors import WinbackError

        raise WinbackError("This model needs CatBoost, which is not installed: "
                           "pip install 'winback[catboost]'.") from exc
    return CatBoostClassifier


class CatBoostModel:
    """CatBoost: ordered boosting of oblivious trees, often the strongest learner on small
    tables (on One Click its tuned CV ROC-AUC is LightGBM's + 0.008). `report(round, auc)` on an
    evaluation set lets Optuna prune by rounds; the evaluation set only measures
    (use_best_model off), so a fold's model never picks its size on the rows it is scored on."""

    def __init__(self, seed: int = 0, class_weight: str | None = None, **params):
        self.params, self.seed, self.class_weight = params, seed, class_weight

    def fit(self, X, y, report=None, eval_set=None):
        self.model = catboost_classifier()(
            random_seed=self.seed, thread_count=catboost_threads(), verbose=0, allow_writing_files=False,
            auto_class_weights="Balanced" if self.class_weight else None, **self.params)
        kwargs: dict[str, Any] = {}
        stopped: list[BaseException] = []
        if report is not None and eval_set is not None:
            class EveryRound:  # CatBoost wraps a callback's exception: stop, then raise it here
                def after_iteration(self, info) -> bool:
                    auc = info.metrics.get("validation", {}).get("AUC")
                    if auc and (info.iteration + 1) % 25 == 0:
                        try:
                            report(info.iteration + 1, float(auc[-1]))
                        except BaseException as e:  # optuna.TrialPruned
                            stopped.append(e)
                            return False
                    return True

            self.model.set_params(eval_metric="AUC", use_best_model=False)
            kwargs = {"eval_set": (np.asarray(eval_set[0], dtype=float), eval_set[1]),
                      "callbacks": [EveryRound()]}
        self.model.fit(np.asarray(X, dtype=float), y, **kwargs)
        if stopped:
            raise stopped[0]
        return self

    def predict_proba(self, X):
        p = self.model.predict(np.asarray(X, dtype=float), prediction_type="Probability",
                               thread_count=prediction_threads(len(X)))[:, 1]
        return np.column_stack([1 - p, p])

    @classmethod
    def load(cls, path: Path) -> "CatBoostModel":
        """A model from its .cbm file; a missing, cut or foreign file stops with what to do
        rather than CatBoost's C++ traceback."""
        classifier = catboost_classifier()
        model = cls.__new__(cls)
        try:
            model.model = classifier().load_model(str(path), format="cbm")
        except Exception as exc:  # CatBoostError: its message names the C++ source line
            from winback.errors import WinbackError

            reason = str(exc).split(": ", 1)[-1].strip()
            raise WinbackError(f"This bundle's CatBoost model '{path}' cannot be read ({reason}); "
                               f"the file is missing or damaged: train the model again.") from exc
        return model


def build(name: str, params: dict[str, Any], strategy: str, seed: int):
    """An unfitted model for `name` with `params`; class weights when `strategy` asks."""
    cw = "balanced" if strategy == "class_weight" else None
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        return SklearnModel(LogisticRegression(max_iter=5000, class_weight=cw, random_state=seed, **params))
    if name == "svc":
        return SVCScores(class_weight=cw, random_state=seed, **params)
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return SklearnModel(KNeighborsClassifier(**params))
    if name == "tree":
        from sklearn.tree import DecisionTreeClassifier

        return SklearnModel(DecisionTreeClassifier(class_weight=cw, random_state=seed, **params))
    if name == "lightgbm":
        return LightGBMModel(seed=seed, class_weight=cw, **params)
    if name == "catboost":
        return CatBoostModel(seed=seed, class_weight=cw, **params)
    if name == "mlp":
        return MLPClassifier(class_weight=cw, seed=seed, **params)
    raise ValueError(f"unknown candidate {name!r}")


def resample(X: np.ndarray, y: np.ndarray, strategy: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training rows after the imbalance strategy (`none` and `class_weight` leave them)."""
    if strategy == "undersample":
        from imblearn.under_sampling import RandomUnderSampler

        return RandomUnderSampler(random_state=seed).fit_resample(X, y)
    if strategy == "smote":
        from imblearn.over_sampling import SMOTE

        minority = int(min(np.bincount(y.astype(int))))
        return SMOTE(random_state=seed, k_neighbors=max(1, min(5, minority - 1))).fit_resample(X, y)
    return X, y


def fit_model(name: str, params: dict[str, Any], strategy: str, seed: int, X: np.ndarray,
              y: np.ndarray, report: Callable[[int, float], None] | None = None,
              eval_set: tuple[np.ndarray, np.ndarray] | None = None):
    """Resample the training rows, then fit; `report` only reaches iterative learners."""
    X_fit, y_fit = resample(X, y, strategy, seed)
    if name == "knn":  # on small data (or after undersampling) fewer rows than neighbours
        params = {**params, "n_neighbors": neighbours_needed(params["n_neighbors"], len(X_fit))}
    model = build(name, params, strategy, seed)
    if name in ("lightgbm", "catboost"):
        return model.fit(X_fit, y_fit, report=report, eval_set=eval_set)
    if name == "mlp":
        return model.fit(X_fit, y_fit, report=report)
    return model.fit(X_fit, y_fit)


class SVCArrays:
    """A fitted RBF SVC as the arrays `SVCScores.margin` reads, loaded without scikit-learn's
    object (or skops, whose import scans all of scikit-learn: about 2 s at every score)."""

    def __init__(self, support_vectors: np.ndarray, dual_coef: np.ndarray, intercept: np.ndarray,
                 gamma: float):
        self.support_vectors_, self.dual_coef_, self.intercept_ = support_vectors, dual_coef, intercept
        self._gamma = gamma


KNN_WEIGHTS = ("uniform", "distance")


def _tree_arrays(est) -> dict[str, np.ndarray]:
    """A fitted DecisionTreeClassifier's nodes, one array per field of scikit-learn's node
    record, and its leaf values: what `Tree.__setstate__` takes, without pickle."""
    state = est.tree_.__getstate__()
    nodes = state["nodes"]
    arrays = {f"node.{field}": np.ascontiguousarray(nodes[field]) for field in nodes.dtype.names}
    arrays.update(values=state["values"], classes=est.classes_,
                  shape=np.array([est.n_features_in_, state["max_depth"], state["node_count"]], dtype=np.int64))
    return arrays


def _tree_from_arrays(a: dict[str, np.ndarray]):
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import NODE_DTYPE, Tree

    n_features, max_depth, node_count = (int(v) for v in a["shape"])
    nodes = np.zeros(node_count, dtype=NODE_DTYPE)
    for field in NODE_DTYPE.names:
        key = f"node.{field}"
        if key not in a:  # a field a later scikit-learn added: its fill would be a guess
            from winback.errors import WinbackError

            raise WinbackError(f"This bundle's decision tree has no '{field}' for its nodes, which this "
                               f"scikit-learn's trees need; train the model again with this install.")
        nodes[field] = a[key]
    classes = a["classes"]
    _check_tree(nodes, a["values"], n_features, len(classes))
    tree = Tree(n_features, np.array([len(classes)], dtype=np.intp), 1)
    tree.__setstate__({"max_depth": max_depth, "node_count": node_count, "nodes": nodes,
                       "values": np.ascontiguousarray(a["values"], dtype=np.float64)})
    est = DecisionTreeClassifier()  # prediction (and shap's TreeExplainer) read only these
    est.tree_, est.classes_, est.n_classes_ = tree, classes, len(classes)
    est.n_features_in_ = est.max_features_ = n_features
    est.n_outputs_ = 1
    return est


def _check_tree(nodes: np.ndarray, values: np.ndarray, n_features: int, n_classes: int) -> None:
    """Refuse node arrays scikit-learn's compiled tree would follow out of bounds: children
    that are not later nodes (a loop, or past the end), half leaves, features the model lacks.
    A fitted tree always passes (its nodes are written parents first); a damaged or crafted
    file stops here with a message instead of crashing the process."""
    n = len(nodes)
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    leaf = left == -1
    index = np.arange(n)
    inner_ok = ((left > index) & (left < n) & (right > index) & (right < n)
                & (feature >= 0) & (feature < n_features))
    if n == 0 or values.shape != (n, 1, n_classes) or not np.all((leaf & (right == -1)) | (~leaf & inner_ok)):
        from winback.errors import WinbackError

        raise WinbackError("This bundle's decision tree is damaged (its nodes do not form a tree over "
                           "the model's columns); train the model again.")


def _knn_arrays(est) -> dict[str, np.ndarray] | None:
    """kNN's training rows and labels with its two tuned settings; None for a metric other than
    the Euclidean distance `build` uses (which then goes to skops as before)."""
    if est.metric != "minkowski" or est.p != 2 or est.metric_params or est.weights not in KNN_WEIGHTS:
        return None
    return {"fit_X": est._fit_X, "y": est.classes_[est._y], "classes": est.classes_,
            "settings": np.array([est.n_neighbors, KNN_WEIGHTS.index(est.weights)], dtype=np.int64)}


def _knn_from_arrays(a: dict[str, np.ndarray]):
    """Fitted again on its stored rows: kNN's fit only indexes them, so its neighbours and
    votes, and so its probabilities, are the stored model's."""
    from sklearn.neighbors import KNeighborsClassifier

    n_neighbors, weights = (int(v) for v in a["settings"])
    return KNeighborsClassifier(n_neighbors=n_neighbors, weights=KNN_WEIGHTS[weights]).fit(a["fit_X"], a["y"])


def _save_arrays(name: str, model, path: Path) -> bool:
    """A fitted model as plain arrays (safetensors); False when it has none (LightGBM and the
    MLP, stored their own way)."""
    from safetensors.numpy import save_file

    if name == "logistic":
        est = model.estimator
        arrays = {"coef": est.coef_, "intercept": est.intercept_, "classes": est.classes_}
    elif name == "svc":
        svc = model.svc
        arrays = {"support_vectors": svc.support_vectors_, "dual_coef": svc.dual_coef_,
                  "intercept": svc.intercept_, "gamma": np.array([float(svc._gamma)])}
    elif name == "tree":
        arrays = _tree_arrays(model.estimator)
    elif name == "knn":
        arrays = _knn_arrays(model.estimator)
        if arrays is None:
            return False
    else:
        return False
    save_file({k: np.ascontiguousarray(v if v.dtype.kind in "iub" else np.asarray(v, dtype=float))
               for k, v in arrays.items()}, str(path))
    return True


def _load_arrays(name: str, path: Path):
    from safetensors.numpy import load_file

    a = load_file(str(path))
    if name == "svc":
        model = SVCScores.__new__(SVCScores)
        model.svc = SVCArrays(a["support_vectors"], a["dual_coef"], a["intercept"], float(a["gamma"][0]))
        return model
    if name == "tree":
        return SklearnModel(_tree_from_arrays(a))
    if name == "knn":
        return SklearnModel(_knn_from_arrays(a))
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression()  # prediction reads only the fitted arrays
    est.coef_, est.intercept_, est.classes_ = a["coef"], a["intercept"], a["classes"]
    est.n_features_in_ = a["coef"].shape[1]
    return SklearnModel(est)


def save_model(name: str, model, directory: Path, stem: str) -> dict[str, Any]:
    """Plain files for a fitted model; returns the manifest entry `load_model` needs."""
    if name == "lightgbm":
        (directory / f"{stem}.txt").write_text(model.booster.model_to_string())
        return {"file": f"{stem}.txt"}
    if name == "catboost":  # CatBoost's own model format: trees and borders, no code
        model.model.save_model(str(directory / f"{stem}.cbm"), format="cbm")
        return {"file": f"{stem}.cbm"}
    if name == "mlp":
        return model.save(directory, stem)
    if _save_arrays(name, model, directory / f"{stem}.safetensors"):
        return {"arrays": f"{stem}.safetensors"}
    import skops.io as sio

    inner = model.svc if isinstance(model, SVCScores) else model.estimator
    sio.dump(inner, directory / f"{stem}.skops")
    return {"file": f"{stem}.skops"}


def load_model(name: str, directory: Path, entry: dict[str, Any]):
    if name == "lightgbm":
        import lightgbm as lgb

        model = LightGBMModel.__new__(LightGBMModel)
        model.booster = lgb.Booster(model_str=(directory / entry["file"]).read_text())
        return model
    if name == "catboost":
        return CatBoostModel.load(directory / entry["file"])
    if name == "mlp":
        return MLPClassifier.load(directory, entry)
    if "arrays" in entry:
        return _load_arrays(name, directory / entry["arrays"])
    import skops.io as sio  # bundles written before the arrays

    path = directory / entry["file"]
    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if t.split(".")[0] not in TRUSTED_MODULES]
    if refused:
        from winback.errors import WinbackError

        raise WinbackError(f"Refusing to load '{path}': it holds types outside scikit-learn and "
                           f"numpy ({', '.join(refused)}).")
    inner = sio.load(path, trusted=untrusted)
    if name == "svc":
        model = SVCScores.__new__(SVCScores)
        model.svc = inner
        return model
    if name == "tree":  # checked as the arrays are, before the compiled tree follows its nodes
        state = inner.tree_.__getstate__()
        _check_tree(state["nodes"], state["values"], inner.n_features_in_, len(inner.classes_))
    return SklearnModel(inner)
