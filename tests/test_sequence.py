"""Monthly features and the LSTM / GRU candidates (tiny data, few epochs)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from winback.data.canonical import events_from_frame
from winback.features import FeatureSpec, build_features
from winback.features.monthly import sequence_columns
from winback.models import REGISTRY

CUT = dt.datetime(2024, 7, 1)
AVAILABLE = ("amount", "customer_id", "event_time", "event_type", "order_id", "session_id",
             "product_id", "quantity")


def ev(cust, days_before, etype="purchase", amount=10.0):
    t = CUT - dt.timedelta(days=days_before)
    return {"customer_id": cust, "event_time": t, "event_type": etype, "amount": amount,
            "quantity": 1.0, "session_id": f"{cust}-{days_before}",
            "order_id": f"{cust}-{days_before}" if etype == "purchase" else None, "product_id": "p"}


def test_monthly_columns_count_back_from_the_cutoff():
    rows = [ev("a", 1), ev("a", 29.5, "view"), ev("a", 31, amount=5.0), ev("a", 95),
            ev("a", 200), ev("b", 45, "cart")]
    log = events_from_frame(pd.DataFrame(rows))
    spec = FeatureSpec(windows_days=(30,), available=AVAILABLE, bgnbd=False, sequence_months=4)
    f = build_features(log.table, CUT, spec).execute().set_index("customer_id")
    a = f.loc["a"]
    assert (a.seq_m0_events, a.seq_m0_purchases, a.seq_m0_n_view, a.seq_m0_spend) == (2, 1, 1, 10.0)
    assert (a.seq_m1_events, a.seq_m1_spend, a.seq_m2_events, a.seq_m3_events) == (1, 5.0, 0, 1)
    assert f.loc["b"].seq_m1_n_cart == 1 and f.loc["b"].seq_m0_events == 0
    months, names = sequence_columns(list(f.columns))
    assert len(months) == 4 and months[0][0].startswith("seq_m3_") and months[-1][0].startswith("seq_m0_")
    assert "spend" in names and "sessions" in names and all(len(m) == len(names) for m in months)


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers whose label follows their recent monthly purchases."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.0, 1.0, n)
    cols = {}
    for k in range(4):
        cols[f"seq_m{k}_purchases"] = rng.poisson(rate * (1 + k * 0.2))
        cols[f"seq_m{k}_events"] = cols[f"seq_m{k}_purchases"] + rng.poisson(2, n)
    cols["tenure_days"] = rng.uniform(30, 400, n)
    X = pd.DataFrame(cols)
    y = (rng.random(n) < 1 - np.exp(-0.8 * X["seq_m0_purchases"] - 0.2)).astype(int)
    return X, y


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_sequence_candidate_learns_saves_and_reloads_exactly(name, tmp_path):
    from sklearn.metrics import roc_auc_score

    X, y = _frame(1200, 0)
    Xv, yv = _frame(400, 1)
    model = REGISTRY[name](seed=0, trials=2, max_epochs=8, patience=3).fit(X, y, Xv, yv)
    p = model.predict_proba(Xv)[:, 1]
    assert roc_auc_score(yv, p) > 0.7
    assert model.month_names_ == ["events", "purchases"] and model.stable_ == ["tenure_days"]
    hidden = model.params_["hidden"]
    assert model.parameter_count() > 4 * hidden * hidden  # recurrent weights at least
    entry = model.save(tmp_path)
    again = REGISTRY[name].load(tmp_path, entry)
    assert np.array_equal(again.predict_proba(Xv), model.predict_proba(Xv))
    # a value far past any training customer's is held 3 standard deviations past the extremes
    wild = Xv.assign(tenure_days=1e12, seq_m0_events=1e12)
    seq, stable = model._tensors(wild)
    assert float(stable.max()) <= float(model.stable_upper_.max()) + 1e-5
    assert float(seq.max()) <= float(model.seq_upper_.max()) + 1e-5
    assert np.array_equal(again.predict_proba(wild), model.predict_proba(wild))
    model.refit(pd.concat([X, Xv]), np.concatenate([y, yv]))
    assert roc_auc_score(yv, model.predict_proba(Xv)[:, 1]) > 0.7


def test_sequence_candidate_without_monthly_columns_says_what_to_set():
    X = pd.DataFrame({"tenure_days": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="features.sequence_months"):
        REGISTRY["lstm"](trials=1).fit(X, np.array([0, 1, 0, 1]), X, np.array([0, 1, 0, 1]))
