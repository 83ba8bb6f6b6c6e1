"""BG/NBD recovers the published CDNOW parameters (Fader, Hardie and Lee 2005)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from winback.data import load_events
from winback.datasets import cdnow_config
from winback.features import FeatureSpec, build_features
from winback.models.bgnbd import BGNBD, summarize_features

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def sample_features():
    log = load_events(cdnow_config("sample"))
    spec = FeatureSpec(windows_days=(28,), available=tuple(sorted(log.available)))
    return build_features(log.table, dt.datetime(1997, 10, 1), spec).execute()


def test_recovers_published_parameters_within_one_percent(sample_features):
    model = BGNBD().fit(sample_features)
    for name, value in PUBLISHED.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name
    # the paper's log-likelihood at its optimum is -9582.4
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.5)


def test_summary_matches_the_paper(sample_features):
    x, t_x, T = summarize_features(sample_features, 7.0)
    assert len(x) == 2357
    assert x.sum() == 2457  # repeat transactions in the 39-week calibration period
    assert T.max() == pytest.approx(272 / 7)


def test_predictions_are_consistent(sample_features):
    model = BGNBD().fit(sample_features)
    x, t_x, T = summarize_features(sample_features, 7.0)
    alive = model.conditional_probability_alive(x, t_x, T)
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1.0)
    e39 = model.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)
    e78 = model.conditional_expected_number_of_purchases_up_to_time(78, x, t_x, T)
    assert np.all(e78 >= e39) and np.all(e39 >= 0)
    p = model.probability_of_purchase(39, x, t_x, T)
    assert np.all((p >= 0) & (p <= alive))


def test_gradient_and_weighted_rows_agree_with_the_plain_likelihood(sample_features):
    """The fit minimises with the analytic gradient over repeated histories counted once: the
    gradient equals finite differences of the likelihood, and weighted unique rows give the
    plain mean over every customer, at any parameters (x = 0 rows included)."""
    from scipy.optimize import approx_fprime

    from winback.models.bgnbd import negative_log_likelihood

    x, t_x, T = summarize_features(sample_features, 7.0)
    keep = T > 0
    x, t_x, T = x[keep], t_x[keep], T[keep]
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    assert len(rows) == 1016 and counts.sum() == 2357
    for params in ([0.243, 4.414, 0.793, 2.426], [2.0, 0.5, 3.0, 0.2], [0.05, 30.0, 0.1, 9.0]):
        lp = np.log(params)
        plain = negative_log_likelihood(lp, x, t_x, T)
        value, grad = negative_log_likelihood(lp, *rows.T, counts.astype(float), gradient=True)
        assert value == pytest.approx(plain, rel=1e-12)
        numeric = approx_fprime(lp, lambda p: negative_log_likelihood(p, x, t_x, T), 1e-7)
        assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-6), (params, grad, numeric)


def test_unfitted_model_says_so():
    from winback.models import NotFittedError

    with pytest.raises(NotFittedError, match="fit"):
        BGNBD().conditional_probability_alive([1], [1], [2])


def test_gamma_gamma_recovers_the_published_cdnow_parameters():
    """lifetimes' Gamma-Gamma on the CDNOW sample's calibration period (repeat purchases by
    day): p 6.25, q 3.74, gamma 15.44."""
    from winback.datasets import load_cdnow
    from winback.models.gamma_gamma import GammaGamma

    d = load_cdnow("sample")
    d = d[d.date < "1997-10-01"]
    days = d.groupby(["customer_id", "date"]).dollar_value.sum().reset_index().sort_values("date")
    repeat = days.drop(days.groupby("customer_id").head(1).index)
    stats = repeat.groupby("customer_id").dollar_value.agg(["count", "mean"])
    gg = GammaGamma().fit(stats["count"].to_numpy(), stats["mean"].to_numpy())
    assert len(stats) == 946
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert gg.params_[name] == pytest.approx(value, rel=0.01), name
    # one order is shrunk towards the population mean, many orders towards the own average
    low = gg.conditional_expected_order_value(np.array([1.0, 20.0]), np.array([500.0, 500.0]))
    assert gg.population_mean < low[0] < low[1] < 500



def test_a_diverging_fit_is_an_error_not_nan_predictions():
    """Parameters a fit reached on a log where every customer buys at one rate (r and alpha
    near the Poisson limit): the expectation overflows, so the fit is refused, not used."""
    x, t_x, T = np.array([8.0, 12.0, 3.0]), np.array([40.0, 49.0, 20.0]), np.array([50.0, 51.0, 30.0])
    model = BGNBD()
    model.params_ = {"r": 1.99e5, "alpha": 1.03e6, "a": 1e-5, "b": 3e3}
    with pytest.raises(ValueError, match="diverged"):
        model.check_predicts(x, t_x, T)
    model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW's
    model.check_predicts(x, t_x, T)


def _brute_force_shapley(model, frame, reference) -> np.ndarray:
    """Shapley values by their definition: each feature's marginal contribution to the mean
    log-odds over the reference customers, averaged over all six orders of the features,
    with the features mixed as frames and scored by predict_proba."""
    from itertools import permutations

    from winback.models.bgnbd import PURCHASE_FEATURES

    def value(row: int, present: set[str]) -> float:
        mixed = reference.copy()
        for name in present:
            mixed[name] = frame[name].iloc[row]
        mixed["label_window_days"] = frame["label_window_days"].iloc[row]
        p = model.predict_proba(mixed)[:, 1]
        return float(np.mean(np.log(p) - np.log1p(-p)))

    out = np.zeros((len(frame), 3))
    orders = list(permutations(PURCHASE_FEATURES))
    for row in range(len(frame)):
        for order in orders:
            present: set[str] = set()
            for name in order:
                before = value(row, present)
                present.add(name)
                out[row, PURCHASE_FEATURES.index(name)] += (value(row, present) - before) / len(orders)
    return out


def test_reasons_are_exact_shapley_values_against_the_reference_customers(sample_features):
    """A customer's three contributions are the Shapley values of its purchase count,
    recency and tenure (checked by enumerating every order of the features) and add up to its
    log-odds less the reference customers' mean; the references are 32 fitted customers."""
    frame = sample_features.assign(label_window_days=273.0)
    model = BGNBD().fit(frame)
    assert model.background_.shape == (32, 3) and np.all(model.background_[:, 2] > 1)
    reference = pd.DataFrame({  # the references as features: x + 1 purchase days, days since
        "purchase_days": model.background_[:, 0] + 1,
        "purchase_recency_days": model.background_[:, 1],
        "purchase_tenure_days": model.background_[:, 2]})
    rows = frame.sort_values("customer_id").iloc[[0, 5, 40, 300, 1200]]
    assert (rows["purchase_days"] > 1).any() and (rows["purchase_days"] == 1).any()
    contributions = model.purchase_contributions(rows)
    np.testing.assert_allclose(contributions, _brute_force_shapley(model, rows, reference), atol=1e-9)
    p = model.predict_proba(rows)[:, 1]
    base = np.mean(np.log(model.predict_proba(reference.assign(label_window_days=273.0))[:, 1]
                          / model.predict_proba(reference.assign(label_window_days=273.0))[:, 0]))
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(p / (1 - p)) - base, atol=1e-9)
    # more purchases with a recent last one raise the chance; a long silence lowers it
    loyal = rows.assign(purchase_days=8.0, purchase_recency_days=3.0, purchase_tenure_days=250.0)
    lapsed = rows.assign(purchase_days=8.0, purchase_recency_days=240.0, purchase_tenure_days=250.0)
    assert np.all(model.purchase_contributions(loyal)[:, 1] > 0)
    assert np.all(model.purchase_contributions(lapsed)[:, 1] < 0)
    assert set(model.importance().index) == {"purchase_days", "purchase_recency_days", "purchase_tenure_days"}
    assert model.importance().sum() == pytest.approx(1.0)


def test_reference_customers_do_not_depend_on_row_order_and_survive_a_save(sample_features, tmp_path):
    frame = sample_features.assign(label_window_days=273.0)
    model = BGNBD().fit(frame)
    shuffled = BGNBD().fit(frame.sample(frac=1.0, random_state=3))
    np.testing.assert_array_equal(model.background_, shuffled.background_)
    assert model.importance_ == pytest.approx(shuffled.importance_)
    loaded = BGNBD.load(tmp_path, model.save(tmp_path))
    np.testing.assert_array_equal(loaded.purchase_contributions(frame), model.purchase_contributions(frame))
    assert loaded.importance().to_dict() == model.importance().to_dict()
    # a model saved without references (winback 0.1) scores as before and gives no reasons
    old = BGNBD.from_dict({k: v for k, v in model.to_dict().items() if k in ("params", "time_unit_days")})
    assert old.purchase_contributions(frame) is None and old.importance().empty
    np.testing.assert_array_equal(old.predict_proba(frame), model.predict_proba(frame))
