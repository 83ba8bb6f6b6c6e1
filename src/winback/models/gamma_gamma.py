"""Gamma-Gamma model of spend per order (Fader, Hardie and Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis"; the note "The Gamma-Gamma model of monetary
value", 2013).

A customer's order values are Gamma(p, nu) around her own mean p / nu, and nu ~ Gamma(q,
gamma) across customers. Her expected order value given x orders averaging m is a weighted mean
of the population mean and her own average, the weight on her own growing with x:

    E[M | x, m] = (q - 1) / (p x + q - 1) * gamma p / (q - 1) + p x / (p x + q - 1) * m

so one large first order is not taken at face value. Used for "predicted spend" = expected
orders (BG/NBD) x expected order value, the value axis of segments when no profit column exists.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln


def negative_log_likelihood(log_params: np.ndarray, x: np.ndarray, m: np.ndarray) -> float:
    p, q, g = np.exp(log_params)
    px = p * x
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * np.log(m)
          + px * np.log(x) - (px + q) * np.log(g + m * x))
    return float(-ll.mean())


class GammaGamma:
    """Fitted attributes: `params_` {p, q, gamma}."""

    def fit(self, orders: np.ndarray, mean_value: np.ndarray) -> "GammaGamma":
        x = np.asarray(orders, dtype=float)
        m = np.asarray(mean_value, dtype=float)
        ok = (x > 0) & (m > 0) & np.isfinite(m)
        if ok.sum() < 10:
            raise ValueError("Gamma-Gamma needs at least 10 customers with a positive order value.")
        order = np.lexsort((m[ok], x[ok]))  # fixed row order: the same fit whatever the input order
        x, m = x[ok][order], m[ok][order]
        start = np.log([1.0, 2.0, float(np.mean(m))])
        res = minimize(negative_log_likelihood, start, args=(x, m), method="L-BFGS-B",
                       bounds=[(-8, 8), (np.log(1.0001), 10), (-15, 25)])
        p, q, g = (float(v) for v in np.exp(res.x))
        self.params_ = {"p": p, "q": q, "gamma": g}
        return self

    @classmethod
    def fit_or_none(cls, orders: np.ndarray, mean_value: np.ndarray) -> "GammaGamma | None":
        """A fit on these customers, or None when too few have a positive order value (the
        value axis then falls back to expected purchases)."""
        try:
            return cls().fit(orders, mean_value)
        except ValueError:
            return None

    @classmethod
    def from_params(cls, params: dict | None) -> "GammaGamma | None":
        """A fitted model from stored {p, q, gamma} (a bundle's population fit); None without."""
        if not params:
            return None
        model = cls()
        model.params_ = {k: float(params[k]) for k in ("p", "q", "gamma")}
        return model

    @property
    def population_mean(self) -> float:
        p = self.params_
        return p["gamma"] * p["p"] / (p["q"] - 1)

    def conditional_expected_order_value(self, orders: np.ndarray, mean_value: np.ndarray) -> np.ndarray:
        """E[M | x, m]; customers with no order get the population mean."""
        p, q = self.params_["p"], self.params_["q"]
        x = np.nan_to_num(np.asarray(orders, dtype=float))
        m = np.nan_to_num(np.asarray(mean_value, dtype=float))
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * self.population_mean + weight * m
