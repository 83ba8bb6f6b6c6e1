"""SHAP explanations of customer-table models, in the user's own columns.

TreeExplainer for LightGBM and the decision tree, CatBoost's own exact SHAP values,
LinearExplainer for logistic regression, and a permutation explainer over a background sample
of training rows for everything else (SVC, kNN, the MLP, the ensemble). One-hot and
missing-indicator columns are folded back into the column they came from, so a reason reads
"Акционные_покупки = 0.93 raises the risk", not "Популярная_категория=Косметика".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from winback.reasons import reason_columns

BACKGROUND_ROWS = 30
# two antithetic permutations per customer: the top reason matches a many-permutation reference
# about 77 % of the time, against about 65 % with one (benchmarks/explain.py)
PERMUTATIONS = 2
MASKED_ROWS_PER_CALL = 200_000  # masked samples per model call: a few tens of MB of inputs
# masked samples one customer's permutation explanation may cost (permutations x (2M + 1)
# x background rows for M columns): One Click's 13 columns take 1,620; a table of 300 columns
# took 36,000, 0.9 s a customer with an ensemble (75 minutes to score 5,000 with reasons).
# Wider tables keep one permutation and fewer background rows, down to MIN_BACKGROUND_ROWS
MAX_MASKED_PER_CUSTOMER = 4_000
MIN_BACKGROUND_ROWS = 8


def sampling_for(columns: int) -> tuple[int, int]:
    """(permutations, background rows) of a permutation explanation of `columns` columns:
    PERMUTATIONS and BACKGROUND_ROWS while they stay within MAX_MASKED_PER_CUSTOMER."""
    chain = 2 * columns + 1
    if PERMUTATIONS * chain * BACKGROUND_ROWS <= MAX_MASKED_PER_CUSTOMER:
        return PERMUTATIONS, BACKGROUND_ROWS
    return 1, max(MIN_BACKGROUND_ROWS, min(BACKGROUND_ROWS, MAX_MASKED_PER_CUSTOMER // chain))


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


def _catboost_values(member, X: np.ndarray) -> np.ndarray:
    """CatBoost's exact TreeSHAP of its raw score (log-odds), without the base value that
    CatBoost writes as a last column."""
    from catboost import Pool

    values = member.model.model.get_feature_importance(Pool(np.asarray(X, dtype=float)), type="ShapValues")
    return values[:, :-1]


def exact_explainer(model) -> bool:
    """Whether `explain` uses tree or linear SHAP (fast per customer) rather than permutations."""
    return len(model.members) == 1 and model.members[0].name in ("lightgbm", "catboost", "tree", "logistic")


def explain(model, frame: pd.DataFrame, background: pd.DataFrame, seed: int = 0) -> Explanation:
    """SHAP values of `model`'s score for each row of `frame`, folded to input columns."""
    import shap

    members = model.members
    if not exact_explainer(model):
        return _permutation(model, frame, background, seed)
    prep = members[0].preprocessor
    columns = prep.numeric + prep.categorical
    X = prep.transform(frame)
    if members[0].name in ("lightgbm", "tree"):
        values, method = _tree_values(members[0], X), "TreeExplainer"
    elif members[0].name == "catboost":
        values, method = _catboost_values(members[0], X), "TreeSHAP (CatBoost)"
    else:
        est = members[0].model.estimator
        bg = prep.transform(background.sample(min(len(background), 1000), random_state=seed))
        values = shap.LinearExplainer(est, bg).shap_values(X)
        method = "LinearExplainer"
    folded = _fold(np.asarray(values, dtype=float), prep.sources, columns)
    return Explanation(pd.DataFrame(folded, columns=columns, index=frame.index), method)


class ColumnCodes:
    """A customer table's input columns as one float matrix (categories as their codes, missing
    and unseen as NaN) and back, so SHAP can mask whole columns of mixed types."""

    def __init__(self, prep) -> None:
        self.prep = prep
        self.numeric, self.categorical = list(prep.numeric), list(prep.categorical)
        self.levels = {c: prep.categories_[c] for c in self.categorical}

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.categorical

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return self.prep.codes(frame)

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        width = len(self.numeric)
        out = pd.DataFrame(Z[:, :width], columns=self.numeric)
        for i, c in enumerate(self.categorical):
            codes = np.nan_to_num(Z[:, width + i], nan=-1).astype(int)
            out[c] = pd.Categorical.from_codes(codes, categories=self.levels[c]).astype("string")
        return out


def background_sample(codes: ColumnCodes, background: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    rows = sampling_for(len(codes.columns))[1]
    return codes.encode(background.iloc[rng.choice(len(background), min(len(background), rows),
                                                   replace=False)])


@dataclass
class Background:
    """What every permutation explanation of one model at one seed shares: the background rows
    as codes, the model's predictions of them, and the random generator's state after drawing
    them. A service explaining one customer per request keeps it (drawing and encoding the
    sample and predicting it took 8 of a customer's 24 ms on One Click's ensemble)."""

    codes: ColumnCodes
    rows: np.ndarray
    predicted: np.ndarray
    state: dict

    @classmethod
    def of(cls, model, background: pd.DataFrame, seed: int) -> "Background":
        codes = ColumnCodes(model.members[0].preprocessor)
        rng = np.random.default_rng(seed)
        rows = background_sample(codes, background, rng)
        predicted = model.predict_proba_codes(rows, codes.columns, codes.levels)
        return cls(codes, rows, predicted, rng.bit_generator.state)

    def generator(self) -> np.random.Generator:
        """A generator where drawing the sample left one: each explanation starts from the same
        stream, so a customer's values do not depend on who was explained before."""
        rng = np.random.default_rng()
        rng.bit_generator.state = self.state
        return rng


def _permutation(model, frame: pd.DataFrame, background: pd.DataFrame, seed: int) -> Explanation:
    """Model-agnostic SHAP over the input columns themselves (categories as codes), so a
    category is one player rather than one per one-hot column: fewer model calls, and every
    column's value is attributed as a whole."""
    prepared = Background.of(model, background, seed)
    return explain_codes(model, prepared.codes.encode(frame), prepared, frame.index)


def explain_codes(model, Z: np.ndarray, background: Background, index=None) -> Explanation:
    """Permutation SHAP of rows already given as codes (`ColumnCodes.encode`, or the service's
    request rows), against a prepared background."""
    codes = background.codes
    permutations = sampling_for(len(codes.columns))[0]
    values = permutation_shap(lambda X: model.predict_proba_codes(X, codes.columns, codes.levels),
                              Z, background.rows, background.generator(), permutations=permutations,
                              base=background.predicted)
    return Explanation(pd.DataFrame(values, columns=codes.columns, index=index),
                       f"PermutationExplainer ({permutations} permutation{'s' if permutations != 1 else ''}, "
                       f"{len(background.rows)} background rows)")


def permutation_shap(f, X: np.ndarray, background: np.ndarray, rng: np.random.Generator,
                     permutations: int = 1, rows_per_call: int = MASKED_ROWS_PER_CALL,
                     reuse: bool = True, base: np.ndarray | None = None) -> np.ndarray:
    """Permutation SHAP values of `f` for each row of `X`, averaged over `permutations`
    antithetic permutations per row.

    The estimator of shap's PermutationExplainer (2M+1 evaluations per permutation for M
    columns): columns join the coalition in a random order and then in the reverse order, each
    credited with the change of the mean prediction over `background` rows it causes. The values
    add up exactly to f(x) minus the background's mean, whatever the permutations. Unlike
    shap's explainer, which calls the model once per row, the masked samples of many rows go to
    the model in one call, so an ensemble's per-call cost (pandas preprocessing, the MLP, each
    member's set-up) is paid a few times per thousand customers instead of once per customer.

    With `reuse`, a masked sample that equals the one before it in its chain (the column that
    joined has the customer's value in that background row too: a yes/no or a plan the
    customer shares with it) is not sent to the model again but takes that one's prediction,
    and the empty coalition (the background itself, the same for everyone) is predicted once,
    or taken from `base` (f of the background, kept by a caller that explains often): the same
    values, from fewer predictions where columns hold categories.
    """
    n, m = X.shape
    b = len(background)
    out = np.zeros((n, m))
    if n == 0 or m == 0:
        return out
    chunk = max(1, rows_per_call // (2 * m * b * permutations))
    steps = np.arange(m + 1)[None, :, None]
    if reuse and base is None:
        base = f(background)
    for start in range(0, n, chunk):
        x = np.repeat(X[start:start + chunk], permutations, axis=0)  # one row per permutation
        r = len(x)
        order = np.argsort(rng.random((r, m)), axis=1)  # order[i, k]: the k-th column to join
        position = np.argsort(order, axis=1)
        forward = position[:, None, :] < steps  # (r, m + 1, m): coalitions after 0..m joins
        backward = (m - 1 - position)[:, None, :] < steps
        masks = np.concatenate([forward, backward[:, 1:m]], axis=1)  # both share empty and full
        samples = np.where(masks[:, :, None, :], x[:, None, None, :], background[None, None, :, :])
        if reuse:
            predicted = _chained_predictions(f, samples, x, background, order, base)
        else:
            predicted = f(samples.reshape(-1, m)).reshape(r, 2 * m, b)
        mean = predicted.mean(axis=2)
        fwd = mean[:, :m + 1]
        bwd = np.concatenate([mean[:, :1], mean[:, m + 1:], mean[:, m:m + 1]], axis=1)
        rows = np.arange(r)[:, None]
        values = np.zeros((r, m))
        values[rows, order] += np.diff(fwd, axis=1)
        values[rows, order[:, ::-1]] += np.diff(bwd, axis=1)
        out[start:start + r // permutations] = values.reshape(-1, permutations, m).mean(axis=1) / 2
    return out


def _chained_predictions(f, samples: np.ndarray, x: np.ndarray, background: np.ndarray,
                         order: np.ndarray, base: np.ndarray) -> np.ndarray:
    """f over `samples` (rows, 2M coalitions, background rows, M columns), predicting only the
    samples that differ from the previous one in their chain: forward coalition k adds column
    order[k - 1] to coalition k - 1; backward coalition k (stored at M + k) adds order[M - k]
    to backward k - 1, the first to the empty coalition. Missing values equal each other."""
    r, coalitions, b, m = samples.shape
    rows = np.arange(r)
    joined = np.concatenate([order, order[:, ::-1][:, :m - 1]], axis=1)  # (r, 2M - 1): the column each step adds
    mine = x[rows[:, None], joined]  # (r, 2M - 1)
    theirs = background[:, joined].transpose(1, 2, 0)  # (r, 2M - 1, b)
    same = (mine[:, :, None] == theirs) | (np.isnan(mine)[:, :, None] & np.isnan(theirs))
    need = np.zeros((r, coalitions, b), dtype=bool)
    need[:, 1:, :] = ~same
    predicted = np.empty((r, coalitions, b))
    predicted[:, 0, :] = base[None, :]
    if need.any():
        predicted[need] = f(samples[need])
    for k in range(1, coalitions):  # forward coalitions 0..M sit at 0..M, backward 1..M-1 at M+1..
        previous = 0 if k == m + 1 else k - 1
        predicted[:, k, :] = np.where(need[:, k, :], predicted[:, k, :], predicted[:, previous, :])
    return predicted


def top_reasons(explanation: Explanation, frame: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """reason_1..k per row: 'column = value (raises|lowers)', strongest |SHAP| first; empty
    where the model has fewer than k columns or a column moved nothing."""
    cols = list(explanation.values.columns)
    out = reason_columns(explanation.values.to_numpy(), cols, frame[cols].to_numpy(dtype=object), k)
    return pd.DataFrame({name: text.to_numpy(dtype=object, na_value=None) for name, text in out.items()},
                        index=frame.index)