"""Point-in-time labels and features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winback.config import ProblemConfig
from winback.data.canonical import events_from_frame
from winback.features import FeatureSpec, build_features
from winback.errors import DataError
from winback.labels import CUTOFF_LADDER, Cutoff, label_table, plan_cutoffs, suggest_cutoffs

T0 = dt.datetime(2024, 1, 1)
CUT = dt.datetime(2024, 3, 1)
AVAILABLE = ("amount", "brand", "category", "customer_id", "event_time", "event_type",
             "order_id", "product_id", "quantity", "session_id")
SPEC = FeatureSpec(windows_days=(7, 30), trend_window_days=14, available=AVAILABLE, bgnbd=False,
                   sequence_months=3)


def ev(cust, day, etype="purchase", amount=10.0, session="s", product="p1"):
    return {"customer_id": cust, "event_time": T0 + dt.timedelta(days=day), "event_type": etype,
            "amount": amount, "quantity": 1.0, "session_id": f"{cust}-{session}",
            "order_id": f"{cust}-{session}" if etype == "purchase" else None,
            "product_id": product, "brand": "b", "category": "c"}


def labels(rows, name, horizon=30):
    log = events_from_frame(pd.DataFrame(rows))
    cut = Cutoff(CUT, CUT + dt.timedelta(days=horizon), "test")
    out = label_table(log.table, cut, ProblemConfig(name=name, horizon_days=horizon)).execute()
    return dict(zip(out.customer_id, out.label))


ROWS = [
    ev("buyer_returns", 10), ev("buyer_returns", 65),            # bought before and in window
    ev("buyer_gone", 20),                                         # bought before, nothing after
    ev("buyer_late", 5), ev("buyer_late", 95),                    # buys after the window
    ev("visitor_converts", 30, "view"), ev("visitor_converts", 62),
    ev("visitor_browses", 40, "view"), ev("visitor_browses", 70, "view"),
    ev("newcomer", 64),                                           # first seen after the cutoff
]


def test_repeat_purchase_labels():
    assert labels(ROWS, "repeat_purchase") == {"buyer_returns": 1, "buyer_gone": 0, "buyer_late": 0}


def test_return_visit_labels():
    got = labels(ROWS, "return_visit")
    assert got == {"buyer_returns": 1, "buyer_gone": 0, "buyer_late": 0, "visitor_converts": 1,
                   "visitor_browses": 1}


def test_first_purchase_labels():
    assert labels(ROWS, "first_purchase") == {"visitor_converts": 1, "visitor_browses": 0}


def decline_labels(rows, measure, share=0.8, horizon=30):
    log = events_from_frame(pd.DataFrame(rows))
    cut = Cutoff(CUT, CUT + dt.timedelta(days=horizon), "test")
    problem = ProblemConfig(name="activity_decline", horizon_days=horizon, decline_measure=measure,
                            decline_share=share)
    out = label_table(log.table, cut, problem).execute()
    return dict(zip(out.customer_id, out.label))


def test_activity_decline_compares_same_length_windows():
    # CUT is day 60; the window before is days 30-59, the label window days 60-89
    rows = [
        ev("steady", 35, session="1"), ev("steady", 50, session="2"),
        ev("steady", 62, session="3"), ev("steady", 80, session="4"),        # 2 orders -> 2
        ev("drops", 31, session="1"), ev("drops", 40, session="2"),
        ev("drops", 45, session="3"), ev("drops", 70, session="4"),         # 3 orders -> 1
        ev("old_only", 10, session="1"),                                      # not active before
        ev("spender", 40, amount=100.0, session="1"), ev("spender", 65, amount=70.0, session="2"),
        ev("viewer", 40, "view"), ev("viewer", 41, "view"), ev("viewer", 70, "view"),
        ev("late", 50, session="1"), ev("late", 95, session="2"),           # after the window
    ]
    orders = decline_labels(rows, "orders")
    assert orders == {"steady": 0, "drops": 1, "spender": 0, "late": 1}
    assert decline_labels(rows, "spend") == {"steady": 0, "drops": 1, "spender": 1, "late": 1}
    events = decline_labels(rows, "events")
    assert events["viewer"] == 1 and events["steady"] == 0 and "old_only" not in events
    # a milder rule: below half of the earlier activity
    assert decline_labels(rows, "spend", share=0.5)["spender"] == 0


def test_training_windows_end_by_the_test_cutoff():
    problem = ProblemConfig(horizon_days=60, train_cutoffs=5, cutoff_step_days=20)
    plan = plan_cutoffs(problem, dt.datetime(2023, 1, 1), dt.datetime(2023, 12, 31))
    assert plan.test.time == dt.datetime(2023, 11, 2)  # 2024-01-01 minus 60 days
    assert plan.test.window_end == dt.datetime(2024, 1, 1)
    for c in (*plan.train, plan.valid):
        assert c.window_end <= plan.test.time
        assert c.window_days == 60
    assert plan.valid.time > max(c.time for c in plan.train)


def test_short_history_truncates_training_windows():
    problem = ProblemConfig(horizon_days=273, test_cutoff="1997-10-01", train_cutoffs=3,
                            cutoff_step_days=28, min_history_days=28)
    plan = plan_cutoffs(problem, dt.datetime(1997, 1, 1), dt.datetime(1998, 6, 30))
    assert all(c.window_end == dt.datetime(1997, 10, 1) for c in (*plan.train, plan.valid))
    assert plan.valid.window_days >= 273 / 3


@pytest.mark.parametrize("days, horizon", [(800, 90), (300, 90), (150, 30), (100, 30), (45, 7)])
def test_suggested_cutoffs_fit_the_log(days, horizon):
    first = dt.datetime(2023, 1, 1)
    last = first + dt.timedelta(days=days)
    problem = suggest_cutoffs(first, last)
    assert problem.horizon_days == horizon
    plan = plan_cutoffs(problem, first, last)  # `winback train` accepts what `init` writes
    assert len(plan.train) == 3
    assert all(c.window_days == horizon and c.window_end <= plan.test.time for c in (*plan.train, plan.valid))
    for longer, step, history in (r for r in CUTOFF_LADDER if r[0] > horizon):  # none fits
        p = ProblemConfig(horizon_days=longer, cutoff_step_days=step, min_history_days=history,
                          truncate_train_windows=False)
        with pytest.raises(DataError):
            plan_cutoffs(p, first, last)


def test_no_suggestion_for_a_log_of_days():
    assert suggest_cutoffs(dt.datetime(2023, 1, 1), dt.datetime(2023, 1, 12)) is None


def features(rows):
    log = events_from_frame(pd.DataFrame(rows))
    out = build_features(log.table, CUT, SPEC).execute()
    return out.set_index("customer_id").sort_index().sort_index(axis=1)


def test_rfm_and_gaps_by_hand():
    f = features(ROWS)
    r = f.loc["buyer_returns"]
    assert r.n_orders == 1 and r.spend == 10.0
    assert r.recency_days == (CUT - (T0 + dt.timedelta(days=10))).days
    a = features([ev("x", 0, session="1"), ev("x", 10, session="2"), ev("x", 40, session="3"),
                  ev("x", 45, "view", session="4")]).loc["x"]
    assert a.n_orders == 3 and a.purchase_days == 3
    assert a.gap_mean_days == 20.0 and a.last_gap_days == 30.0
    assert a.gap_std_days == np.std([10, 30], ddof=1)
    assert a.recency_over_gap == (CUT - (T0 + dt.timedelta(days=40))).days / 20.0
    assert a.share_view == 0.25 and a.n_sessions == 4


event_strategy = st.fixed_dictionaries({
    "customer_id": st.sampled_from(["a", "b", "c"]),
    "day": st.floats(min_value=0, max_value=120, allow_nan=False),
    "etype": st.sampled_from(["view", "cart", "purchase"]),
    "amount": st.floats(min_value=0, max_value=500, allow_nan=False),
    "session": st.sampled_from(["1", "2", "3"]),
    "product": st.sampled_from(["p1", "p2"]),
})


def make(e):
    return ev(e["customer_id"], e["day"], e["etype"], e["amount"], e["session"], e["product"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(past=st.lists(event_strategy, min_size=1, max_size=15),
       future=st.lists(event_strategy, max_size=10),
       changed_future=st.lists(event_strategy, max_size=10))
def test_events_at_or_after_the_cutoff_change_no_feature(past, future, changed_future):
    """Replacing, adding or removing any event at or after the cutoff changes no feature."""
    cut_day = (CUT - T0).days
    before = [make(e) for e in past if T0 + dt.timedelta(days=e["day"]) < CUT]
    if not before:
        return
    after = [make({**e, "day": cut_day + e["day"] % 60}) for e in future]
    other = [make({**e, "day": cut_day + e["day"] % 60}) for e in changed_future]
    at_cut = [make({**past[0], "day": cut_day})]  # exactly at the cutoff: excluded too
    base = features(before)
    pd.testing.assert_frame_equal(base, features(before + after + at_cut))
    pd.testing.assert_frame_equal(base, features(before + other))


def test_features_file_by_file_match_one_pass_when_files_hold_whole_customers(tmp_path):
    """source.partitioned_by_customer: features built per file and stacked equal those of one
    pass over every file (each customer's events are in one file); a customer found in two
    files is an error naming them, in training and in scoring."""
    import shutil

    from winback.config import config_from_dict
    from winback.data import load_events
    from winback.datasets import generate_rees46
    from winback.errors import DataError
    from winback.frame import features_of

    folder = tmp_path / "events"
    folder.mkdir()
    for i in range(3):
        generate_rees46(folder / f"part-{i}.parquet", rows=15_000, seed=20 + i, days=90,
                        first_user=i * 1_000_000 + 1, first_session=i * 1_000_000_000 + 1)
    source = {"path": str(folder), "layout": "rees46"}
    whole = load_events(config_from_dict({"source": source}))
    parted = load_events(config_from_dict({"source": {**source, "partitioned_by_customer": True}}))
    assert len(parted.parts) == 3 and parted.fingerprint == whole.fingerprint
    when = whole.end - dt.timedelta(days=20)
    spec = FeatureSpec(windows_days=(7, 30), available=tuple(sorted(whole.available)), bgnbd=False)
    want = features_of(whole, when, spec).sort_values("customer_id").reset_index(drop=True)
    got = features_of(parted, when, spec).sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)

    shutil.copy(folder / "part-0.parquet", folder / "part-3.parquet")  # every customer of part 0 twice
    parted = load_events(config_from_dict({"source": {**source, "partitioned_by_customer": True,
                                                      "duplicates": "keep"}}))
    with pytest.raises(DataError, match=r"has events in more than one file.*partitioned_by_customer"):
        features_of(parted, when, spec)


def test_distinct_products_count_the_same_for_integer_and_text_ids():
    """On DuckDB, integer product ids are counted per customer from a gathered list rather than
    by COUNT(DISTINCT) (faster on large logs): the counts equal those of the same ids as text,
    repeats and events without a product included, and a customer whose events have no product
    has 0 distinct products."""
    rows = [ev("a", 1, "view", product=7), ev("a", 2, "view", product=7), ev("a", 3, product=9),
            ev("a", 4, "view", product=None), ev("b", 5, "view", product=None),
            ev("c", 6, product=3), ev("c", 7, product=3)]
    table = events_from_frame(pd.DataFrame(rows).astype({"product_id": "string"})).table
    counted, monthly = {}, {}
    for ids, events in (("string", table), ("Int64", table.mutate(product_id=table.product_id.cast("int64")))):
        out = build_features(events, CUT, SPEC).execute().set_index("customer_id").sort_index()
        counted[ids] = out.distinct_products.to_dict()
        monthly[ids] = out.filter(regex=r"^seq_m\d+_products$")  # the sequence features' products per month
    assert "LIST_UNIQUE" in ibis.to_sql(build_features(events, CUT, SPEC), dialect="duckdb")
    assert counted["Int64"] == counted["string"] == {"a": 2, "b": 0, "c": 1}
    assert monthly["string"].shape[1] == 3 and monthly["string"].to_numpy().sum() == 3
    pd.testing.assert_frame_equal(monthly["Int64"], monthly["string"], check_dtype=False)
