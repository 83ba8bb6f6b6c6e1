"""BG/NBD: the beta-geometric / negative binomial distribution model of repeat buying.

Assumptions (Fader, Hardie and Lee 2005, "Counting your customers the easy way", Marketing
Science 24(2)): while alive, a customer buys at Poisson rate lambda; after each purchase she
becomes inactive with probability p; lambda ~ Gamma(r, alpha) and p ~ Beta(a, b) across
customers. Each customer is summarised by x (repeat purchase days), t_x (time of the last
purchase since the first) and T (time from the first purchase to the end of calibration), in
units of `time_unit_days` days (weeks by default, as in the paper).

Fitted attributes: `params_` {r, alpha, a, b}; from `fit` on a feature frame also
`background_`, the reference customers its reasons compare with, and `importance_`. Fitted by
maximum likelihood with scipy on the log of the parameters (so they stay positive); the
likelihood is a pure function below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, logsumexp

from winback.models.base import Candidate, NotFittedError

PARAM_NAMES = ("r", "alpha", "a", "b")


def negative_log_likelihood(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                            T: np.ndarray, weights: np.ndarray | None = None,
                            gradient: bool = False):
    """Mean negative log-likelihood of BG/NBD (paper eq. 6), parameters on the log scale; each
    row counts `weights` times (customers with the same x, t_x and T). With `gradient`, also
    its gradient in the log parameters (digammas; see `_gradient`), so the optimiser needs no
    finite differences: one evaluation per step instead of five."""
    # the optimiser may step to parameters that under- or overflow (alpha = 0): the likelihood
    # is then -inf or NaN, which it steps back from, not a warning for the user
    w = np.ones_like(x) if weights is None else weights
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        r, alpha, a, b = np.exp(log_params)
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        term1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        term2 = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
        both = logsumexp(np.vstack([term1, term2]), axis=0)
        ll = common + both
        value = float(-(w @ ll) / w.sum())
        if not gradient:
            return value
        return value, _gradient(np.exp(log_params), x, t_x, T, w, np.exp(term2 - both))


def _gradient(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray,
              share2: np.ndarray) -> np.ndarray:
    """d(mean negative log-likelihood) / d(log r, log alpha, log a, log b).

    Each customer's likelihood is common * (A1 + A2), A2 only for x > 0; `share2` is A2's share
    of A1 + A2, so a parameter's derivative is d common + (1 - share2) d log A1 + share2 d log A2.
    The log-beta terms differentiate to digammas: d/dp log B(p, q) = psi(p) - psi(p + q)."""
    r, alpha, a, b = params
    share2 = np.nan_to_num(share2)
    share1 = 1.0 - share2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        d_r = (digamma(r + x) - digamma(r) + np.log(alpha)
               - share1 * np.log(alpha + T) - share2 * np.log(alpha + t_x))
        d_alpha = r / alpha - share1 * (r + x) / (alpha + T) - share2 * (r + x) / (alpha + t_x)
        ab, abx = digamma(a + b), digamma(a + b + x)
        d_a = share1 * (ab - abx) + share2 * (digamma(a + 1) - abx - digamma(a) + ab)
        d_b = (share1 * (digamma(b + x) - abx - digamma(b) + ab)
               + share2 * (digamma(b + np.maximum(x, 1) - 1) - abx - digamma(b) + ab))
        per_row = np.vstack([d_r, d_alpha, d_a, d_b])  # d log-likelihood / d parameter
        return -(per_row @ w) / w.sum() * params  # chain rule to the log scale, sign of the minimum


# the features BG/NBD reads, as its reasons name them: how many days a customer bought on,
# and how long ago her last and first purchases were
PURCHASE_FEATURES = ("purchase_days", "purchase_recency_days", "purchase_tenure_days")
BACKGROUND_ROWS = 32  # reference customers the reasons compare each customer with
IMPORTANCE_ROWS = 2_000
SMALL_CALL_ROWS = 64  # fewer rows than this are explained without sharing distinct histories


def purchase_history(features: pd.DataFrame) -> np.ndarray:
    """Rows of (x, last, first), in PURCHASE_FEATURES' order: repeat purchase days and whole
    days since the last and the first purchase; a customer with no purchase yet (return_visit's
    newcomers) is all zeros."""
    return history_of(features[list(PURCHASE_FEATURES)].to_numpy(dtype=float))


def history_of(values: np.ndarray) -> np.ndarray:
    """`purchase_history` from a matrix of PURCHASE_FEATURES' values (a service's request)."""
    x = np.maximum(np.nan_to_num(values[:, 0]) - 1, 0)
    return np.column_stack([x, np.nan_to_num(np.floor(values[:, 1])), np.nan_to_num(np.floor(values[:, 2]))])


def _summary(history: np.ndarray, time_unit_days: float) -> tuple[np.ndarray, ...]:
    """(x, t_x, T) of histories: T counts from the first purchase day to the last observed day
    (the day before the cutoff), t_x from the first to the last purchase day."""
    x, last, first = history[:, 0], history[:, 1], history[:, 2]
    return x, np.maximum(first - last, 0) / time_unit_days, np.maximum(first - 1, 0) / time_unit_days


def summarize_features(features: pd.DataFrame, time_unit_days: float) -> tuple[np.ndarray, ...]:
    """(x, t_x, T) from winback's purchase features; day-level like the paper's data."""
    return _summary(purchase_history(features), time_unit_days)


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's values (splitmix64's mixing over their bits): equal rows,
    equal hashes, in any order."""
    h = np.full(len(rows), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j in range(rows.shape[1]):
        h ^= np.ascontiguousarray(rows[:, j] + 0.0, dtype=np.float64).view(np.uint64)  # -0.0 as 0.0
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def _drawn(rows: np.ndarray, hashes: np.ndarray, k: int) -> np.ndarray:
    """The k rows with the smallest `hashes` (`_row_hashes(rows)`; all rows when there are
    fewer), in sorted order: the same rows for the same multiset of rows, whatever their order."""
    if len(rows) > k:
        rows = rows[np.argpartition(hashes, k - 1)[:k]]
    return rows[np.lexsort(rows.T[::-1])]


class BGNBD(Candidate):
    """BG/NBD as a candidate, scoring customers by expected purchases in the label window.

    `predict_proba` returns 1 - exp(-E[X]), a monotone map of the expected number of purchases
    (the usual BTYD ranking; on CDNOW it ranks better than the exact P(X > 0): ROC-AUC 0.763 vs
    0.747). The exact P(X > 0) is `probability_of_purchase`:
    P(alive | x, t_x, T) * (1 - ((alpha + T) / (alpha + T + t))^(r + x)), because a customer
    alive at T stays alive until her next purchase and her posterior rate is
    Gamma(r + x, alpha + T). Both are offered to other models as features (`transform`).
    """

    name = "bgnbd"

    def __init__(self, time_unit_days: float = 7.0, penalizer: float = 0.0):
        self.time_unit_days = time_unit_days
        self.penalizer = penalizer

    def fit_summary(self, x, t_x, T) -> "BGNBD":
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        ok = T > 0
        if ok.sum() < 10:
            raise ValueError("BG/NBD needs at least 10 customers with a purchase before the cutoff.")
        x, t_x, T = x[ok], t_x[ok], T[ok]
        # customers with the same history count once, weighted: day-level histories repeat
        # (CDNOW's 2,357-customer sample is 1,016 rows, all 23,570 customers 8,685).
        # The rows come sorted, a fixed order: the engine returns customers in any order, and a
        # sum of floats in another order moves the optimum in the last digits
        rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
        ux, ut_x, uT, weights = rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float)

        def objective(lp: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = negative_log_likelihood(lp, ux, ut_x, uT, weights, gradient=True)
            square = np.exp(lp) ** 2
            return value + self.penalizer * float(np.sum(square)), grad + 2 * self.penalizer * square

        best = None
        for start in (np.log([0.5, 5.0, 1.0, 2.0]), np.zeros(4)):
            with np.errstate(over="ignore", invalid="ignore"):  # trial steps may overflow
                res = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
            if best is None or res.fun < best.fun:
                best = res
        params = np.exp(best.x)
        if not (np.isfinite(best.fun) and np.all(np.isfinite(params)) and np.all(params > 0)):
            raise ValueError(f"BG/NBD did not converge on these {len(x):,} customers (too few, or "
                             f"histories it cannot describe).")
        self.params_ = dict(zip(PARAM_NAMES, (float(v) for v in params)))
        self.log_likelihood_ = -best.fun * len(x)
        try:
            self.check_predicts(x, t_x, T)
        except ValueError:
            del self.params_
            raise
        return self

    def check_predicts(self, x, t_x, T) -> None:
        """Raise ValueError unless the fit predicts finite expectations for these customers.

        Near the Poisson limit (purchase rates alike across customers) r and alpha run off to
        huge values, where the expectation's hypergeometric term overflows: a fit that cannot
        predict its own customers is no fit."""
        p = self._require_fit()
        with np.errstate(all="ignore"):
            check = self.conditional_expected_number_of_purchases_up_to_time(np.max(T), x, t_x, T)
        if not np.all(np.isfinite(check)):
            raise ValueError(f"BG/NBD diverged on these {len(np.atleast_1d(x)):,} customers "
                             f"(r = {p['r']:.3g}, alpha = {p['alpha']:.3g}): their purchase "
                             f"rates look too alike for its gamma mixing.")

    def fit(self, X: pd.DataFrame, y=None, X_valid=None, y_valid=None) -> "BGNBD":
        history = purchase_history(X)
        self.fit_summary(*_summary(history, self.time_unit_days))
        window = X["label_window_days"].to_numpy(dtype=float) if "label_window_days" in X.columns else None
        self._set_reference(history, window)
        return self

    def _set_reference(self, history: np.ndarray, window: np.ndarray | None) -> None:
        """Reference customers for the reasons: BACKGROUND_ROWS of the fitted ones (T > 0), and
        each feature's share of the mean |contribution| over up to IMPORTANCE_ROWS of them (the
        report's importance). Drawn by a hash of each history, so that one log gives one model
        whatever order the engine returned its customers in, in one pass (sorting a million
        buyers to fix an order took 0.9 s)."""
        keep = history[:, 2] > 1  # first purchase before the last observed day: T > 0
        rows = np.column_stack([history, window if window is not None else np.zeros(len(history))])[keep]
        hashes = _row_hashes(rows)
        self.background_ = _drawn(rows, hashes, BACKGROUND_ROWS)[:, :3].copy()
        self.importance_ = {}
        if window is not None:
            some = _drawn(rows, hashes, IMPORTANCE_ROWS)
            mean_abs = np.abs(self._shapley(some[:, :3], some[:, 3])).mean(axis=0)
            if mean_abs.sum() > 0:
                self.importance_ = dict(zip(PURCHASE_FEATURES, (float(v) for v in mean_abs / mean_abs.sum())))

    def importance(self) -> pd.Series:
        """Each purchase feature's share of the mean |contribution| to the log-odds."""
        return pd.Series(getattr(self, "importance_", {}), dtype=float).sort_values(ascending=False)

    def purchase_contributions(self, features: pd.DataFrame) -> np.ndarray | None:
        """Each row's contributions of PURCHASE_FEATURES (columns in that order) to its
        log-odds: exact Shapley values against the model's reference customers, so a row's
        three add up to its log-odds less the references' mean. None for a model saved
        without references (bundles trained before they were kept)."""
        return self.history_contributions(purchase_history(features),
                                          features["label_window_days"].to_numpy(dtype=float))

    def history_contributions(self, history: np.ndarray, window_days: np.ndarray) -> np.ndarray | None:
        """`purchase_contributions` of histories (`history_of`) over windows in days."""
        if getattr(self, "background_", None) is None or len(self.background_) == 0:
            return None
        return self._shapley(history, np.broadcast_to(np.asarray(window_days, dtype=float), len(history)))

    def history_probability(self, history: np.ndarray, window_days: np.ndarray) -> np.ndarray:
        """P(a purchase in the window) as predict_proba scores it: 1 - exp(-E[purchases]),
        from histories (`history_of`) and windows in days."""
        x, t_x, T = _summary(history, self.time_unit_days)
        with np.errstate(over="ignore", invalid="ignore"):
            expected = self.conditional_expected_number_of_purchases_up_to_time(
                np.asarray(window_days, dtype=float) / self.time_unit_days, x, t_x, T)
        return np.clip(-np.expm1(-expected), 1e-6, 1 - 1e-6)

    def _log_odds(self, history: np.ndarray, window_days: np.ndarray) -> np.ndarray:
        p = self.history_probability(history, window_days)
        return np.log(p) - np.log1p(-p)

    def _shapley(self, history: np.ndarray, window_days: np.ndarray) -> np.ndarray:
        """Exact interventional Shapley values over the three features: a coalition's value is
        the mean log-odds over the reference customers with the absent features taken from
        each. Rows alike in the coalition's features and the window share that value, so each
        distinct one is computed once (day-level histories repeat: the cost follows the
        distinct histories, not the customers); a few rows (a service's customer) have every
        coalition's rows scored in one call instead."""
        n, m = history.shape
        if n <= SMALL_CALL_ROWS:
            coalitions = [self._coalition(history, window_days, mask) for mask in range(1 << m)]
            stacked = self._log_odds(np.vstack([c[0] for c in coalitions]), np.concatenate([c[1] for c in coalitions]))
            scored = zip(coalitions, np.split(stacked, np.cumsum([len(c[0]) for c in coalitions])[:-1]))
        else:  # one coalition at a time: a chunk's mixed rows are tens of MB each
            scored = ((c, self._log_odds(c[0], c[1]))
                      for c in (self._coalition(history, window_days, mask) for mask in range(1 << m)))
        value = np.empty((1 << m, n))
        for mask, ((_, _, inverse, distinct), lo) in enumerate(scored):
            value[mask] = lo if inverse is None else lo.reshape(distinct, -1).mean(axis=1)[inverse]
        weight = [math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m) for k in range(m)]
        phi = np.zeros((n, m))
        for mask in range(1 << m):
            size = bin(mask).count("1")
            for j in range(m):
                if not (mask >> j) & 1:
                    phi[:, j] += weight[size] * (value[mask | (1 << j)] - value[mask])
        return phi

    def _coalition(self, history: np.ndarray, window_days: np.ndarray, mask: int):
        """The rows whose log-odds give coalition `mask`'s value (bit j: feature j present):
        (rows, windows, inverse, distinct), where the rows are each distinct present part
        beside every reference customer, and `inverse` maps customers to their distinct part
        (None for the whole coalition: the customers themselves)."""
        n, m = history.shape
        present = np.array([(mask >> j) & 1 for j in range(m)], dtype=bool)
        if present.all():
            return history, window_days, None, n
        keys = np.column_stack([history[:, present], window_days])
        if n > SMALL_CALL_ROWS:
            unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        else:  # a service's customer or few: sorting costs more than it saves
            unique, inverse = keys, np.arange(n)
        reference = self.background_
        mixed = np.repeat(reference[None], len(unique), axis=0)  # distinct x reference x m
        mixed[:, :, present] = unique[:, None, :-1]
        return mixed.reshape(-1, m), np.repeat(unique[:, -1], len(reference)), inverse.ravel(), len(unique)

    def parameter_count(self) -> int:
        return len(PARAM_NAMES)

    def _require_fit(self) -> dict[str, float]:
        if not hasattr(self, "params_"):
            raise NotFittedError("BGNBD is not fitted yet; call fit() first.")
        return self.params_

    def conditional_probability_alive(self, x, t_x, T) -> np.ndarray:
        """P(alive at T | x, t_x, T), paper eq. (A10) / lifetimes."""
        p = self._require_fit()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        log_ratio = (np.log(a) - np.log(b + np.maximum(x, 1) - 1)
                     + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def conditional_expected_number_of_purchases_up_to_time(self, t, x, t_x, T) -> np.ndarray:
        """E[X(T, T + t) | x, t_x, T], paper eq. (10)."""
        from scipy.special import hyp2f1

        p = self._require_fit()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        x, t_x, T, t = (np.asarray(v, dtype=float) for v in (x, t_x, T, t))
        z = t / (alpha + T + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return first * self.conditional_probability_alive(x, t_x, T)

    def probability_of_purchase(self, t, x, t_x, T) -> np.ndarray:
        p = self._require_fit()
        r, alpha = p["r"], p["alpha"]
        x, t_x, T, t = (np.asarray(v, dtype=float) for v in (x, t_x, T, t))
        none_while_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        return self.conditional_probability_alive(x, t_x, T) * (1 - none_while_alive)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Needs `label_window_days` (the horizon of each row) besides the purchase features."""
        p = self.history_probability(purchase_history(X), X["label_window_days"].to_numpy(dtype=float))
        return np.column_stack([1 - p, p])

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """BG/NBD features for other models: P(alive), expected purchases in the window."""
        x, t_x, T = summarize_features(X, self.time_unit_days)
        t = X["label_window_days"].to_numpy(dtype=float) / self.time_unit_days
        return pd.DataFrame({
            "bgnbd_p_alive": self.conditional_probability_alive(x, t_x, T),
            "bgnbd_expected_purchases": self.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T),
            "bgnbd_p_purchase": self.probability_of_purchase(t, x, t_x, T),
        }, index=X.index)

    def to_dict(self) -> dict:
        """The fit as plain numbers: the candidate's file, and a bundle's population fit."""
        out = {"params": self._require_fit(), "time_unit_days": self.time_unit_days}
        if getattr(self, "background_", None) is not None:
            out["reference_customers"] = {"columns": ["repeat_purchase_days", "days_since_last", "days_since_first"],
                                          "rows": self.background_.tolist()}
            out["importance"] = self.importance_
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "BGNBD":
        model = cls(time_unit_days=d["time_unit_days"])
        model.params_ = {k: float(d["params"][k]) for k in PARAM_NAMES}
        if "reference_customers" in d:
            model.background_ = np.array(d["reference_customers"]["rows"], dtype=float).reshape(-1, 3)
            model.importance_ = {str(k): float(v) for k, v in d.get("importance", {}).items()}
        return model

    def save(self, directory: Path) -> dict:
        (directory / "bgnbd.json").write_text(json.dumps(self.to_dict(), indent=2))
        return {"file": "bgnbd.json"}

    @classmethod
    def load(cls, directory: Path, entry: dict) -> "BGNBD":
        return cls.from_dict(json.loads((directory / entry["file"]).read_text()))
