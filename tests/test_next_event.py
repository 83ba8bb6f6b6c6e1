"""Next-event samples, baselines, networks and metrics on tiny hand-made sessions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from winback.data.canonical import events_from_frame
from winback.nextevent.dataset import CLASSES, Vocabulary, samples_table, to_samples
from winback.nextevent.models import Markov, MostFrequent, NGramLightGBM, SequenceNet, evaluate

T0 = dt.datetime(2024, 1, 1, 20, 0)


def ev(session, second, etype, brand="b1", price=5.0):
    return {"customer_id": f"u{session}", "event_time": T0 + dt.timedelta(seconds=second),
            "event_type": etype, "amount": price, "quantity": 1.0, "session_id": session,
            "order_id": None, "product_id": "p", "brand": brand, "category": "c"}


ROWS = [ev("s1", 0, "view"), ev("s1", 30, "view", "b2"), ev("s1", 50, "cart"), ev("s1", 200, "purchase", price=9.0),
        ev("s2", 10, "view"), ev("s2", 70, "cart"), ev("s2", 75, "remove_from_cart")]


def _frame(k=3, **kw):
    log = events_from_frame(pd.DataFrame(ROWS))
    return samples_table(log.table, k, **kw).execute().sort_values(["session_id", "position"]).reset_index(drop=True)


def test_samples_hold_the_last_k_events_and_the_next_one():
    f = _frame()
    s1 = f[f.session_id == "s1"]
    assert s1.target.tolist() == ["view", "cart", "purchase", "end"]
    last = s1.iloc[3]  # the purchase: its own type, then the cart, then the second view
    assert (last.type_0, last.type_1, last.type_2) == (4, 2, 1)
    assert (last.gap_0, last.gap_1, last.gap_2) == (150, 20, 30)
    assert last.brand_2 == "b2" and last.price_0 == 9.0 and last.position == 4 and last.hour == 20
    first = s1.iloc[0]
    assert (first.type_1, first.type_2, first.gap_0) == (0, 0, -1)  # padding before the start
    assert f[f.session_id == "s2"].target.tolist() == ["cart", "remove_from_cart", "end"]


def test_samples_read_each_events_own_clock_where_the_log_carries_it():
    """With row_clock, the hour and weekday are each event's wall time (local_time, from a
    source whose rows name their zones); without it, or where an event has none, the shop's."""
    frame = pd.DataFrame(ROWS)
    frame["local_time"] = frame.event_time + pd.Timedelta(hours=9)  # a Tokyo till: 05:00 on Tuesday
    frame.loc[frame.session_id == "s2", "local_time"] = pd.NaT
    log = events_from_frame(frame)
    f = samples_table(log.table, 3, row_clock=True).execute()
    by_session = f.groupby("session_id")[["hour", "weekday"]].agg(set)
    assert by_session.loc["s1"].tolist() == [{5}, {1}] and by_session.loc["s2"].tolist() == [{20}, {0}]
    shop = samples_table(log.table, 3, timezone="+01:00").execute()
    assert set(shop.hour) == {21} and set(shop.weekday) == {0}


def test_samples_are_selected_by_the_time_of_their_own_event():
    late = _frame(start=T0 + dt.timedelta(seconds=60))
    assert sorted(late.position.tolist()) == [2, 3, 4]  # s2's cart and removal, s1's purchase
    assert late[late.session_id == "s1"].type_2.tolist() == [1]  # history before the split is kept


def test_arrays_markov_and_metrics():
    f = _frame()
    s = to_samples(f, 3, Vocabulary().fit(f, 3))
    assert s.types.shape == (7, 3) and s.types[3].tolist() == [1, 2, 4]  # oldest first
    assert s.brand.max() == 2 and s.numeric.shape == (7, 3, 2)
    m = Markov().fit(s)
    view_next = m.predict_proba(s)[0]
    # after a view: next was view once, cart twice (add-one smoothing over 5 classes)
    assert view_next[CLASSES.index("cart")] == pytest.approx(3 / 8)
    r = evaluate(s.target, m.predict_proba(s))
    assert 0 <= r["macro_f1"] <= 1 and np.array(r["confusion"]).sum() == 7
    assert MostFrequent().fit(s).predict_proba(s).shape == (7, 5)


@pytest.mark.parametrize("arch", ["lstm", "gru", "cnn", "cnn_bigru"])
def test_networks_train_and_give_distributions(arch):
    f = _frame()
    s = to_samples(f, 3, Vocabulary().fit(f, 3))
    big = s.subset(np.tile(np.arange(len(s)), 40))
    net = SequenceNet(arch, hidden=8, epochs=3, batch_size=64).fit(big, s)
    p = net.predict_proba(s)
    assert p.shape == (7, 5) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert net.parameter_count() > 0 and len(net.history_) >= 1


def test_networks_fit_the_same_with_per_parameter_adam(monkeypatch):
    """`torch_support.adam` is multi-tensor; torch's per-parameter loop gives the same numbers
    (GRU, convolution and embedding weights included)."""
    torch = pytest.importorskip("torch")
    from winback.nextevent import models

    f = _frame()
    s = to_samples(f, 3, Vocabulary().fit(f, 3))
    big = s.subset(np.tile(np.arange(len(s)), 40))
    fast = SequenceNet("cnn_bigru", hidden=8, epochs=3, batch_size=64).fit(big, s)
    monkeypatch.setattr(models, "adam", lambda params, **o: torch.optim.Adam(params, foreach=False, **o))
    loop = SequenceNet("cnn_bigru", hidden=8, epochs=3, batch_size=64).fit(big, s)
    assert np.array_equal(fast.predict_proba(s), loop.predict_proba(s))


def test_lightgbm_on_ngrams():
    f = _frame()
    s = to_samples(f, 3, Vocabulary().fit(f, 3))
    big = s.subset(np.tile(np.arange(len(s)), 30))
    p = NGramLightGBM(rounds=5).fit(big).predict_proba(s)
    assert p.shape == (7, 5) and np.allclose(p.sum(axis=1), 1)
