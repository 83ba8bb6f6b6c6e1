"""Segments on event logs: predicted spend by default, a named feature, or none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.datasets import cdnow_config
from winback.errors import ConfigError
from winback.progress import Steps
from winback.train import train


def _cfg(tmp_path, **features):
    cfg = cdnow_config("sample", output_dir=str(tmp_path))
    for k, v in features.items():
        setattr(cfg.features, k, v)
    cfg.train.candidates = ["logistic"]
    return cfg


def test_a_feature_as_value_column(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.segments.value_column = "spend"
    result = train(cfg, steps=Steps(quiet=True))
    seg = result.manifest["segments"]
    assert seg["rule"]["value_column"] == "spend"
    test = result.frames["test"]
    assert seg["rule"]["value_threshold"] == pytest.approx(test["spend"].median())
    assert sum(s["customers"] for s in seg["sizes"]) == len(test)


def test_no_value_axis_means_no_segments_not_a_failure(tmp_path):
    result = train(_cfg(tmp_path, bgnbd=False), steps=Steps(quiet=True))
    assert result.manifest["segments"] is None
    assert "No segments" in result.report_path.read_text(encoding="utf-8")


def test_a_misnamed_value_column_fails_before_fitting(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.segments.value_column = "spnd"
    with pytest.raises(ConfigError, match="'spnd' is not a feature.*Did you mean 'spend'"):
        train(cfg, steps=Steps(quiet=True))
    assert not (tmp_path / "bundle").exists()


def test_value_falls_back_to_past_spend_when_the_prediction_tells_no_one_apart():
    """When BG/NBD diverges or predicts the same for everyone, predicted spend is one number
    and every customer would be 'high value': the value axis is then the spend over the
    longest window, named as such in the rule."""
    from winback.segments import event_value

    frame = pd.DataFrame({"bgnbd_expected_purchases": [0.0, 0.0, 0.0, np.nan],
                          "n_orders": [1, 2, 3, 4], "avg_order_value": [10.0, 20.0, 30.0, 40.0],
                          "spend_30d": [0.0, 5.0, 0.0, 1.0], "spend_180d": [10.0, 40.0, 90.0, 160.0]})
    value, name = event_value(frame)
    assert name == "spend_180d" and value.tolist() == [10.0, 40.0, 90.0, 160.0]
    frame["bgnbd_expected_purchases"] = [0.5, 1.0, 1.5, 2.0]  # a prediction that differs: kept
    assert event_value(frame)[1] != "spend_180d"


def test_value_check_measures_capture_and_rank_correlation_by_hand():
    """Six customers: the value axis calls the top three high value; they made 80 of the
    window's 100, the naive forecast's top three 30, hindsight's 90; an unknown value ranks
    lowest, as the segments count it."""
    from winback.segments import PREDICTED_SPEND, SegmentRule, value_check

    rule = SegmentRule(risk_threshold=0.5, value_threshold=5.0, value_column=PREDICTED_SPEND,
                       names={}, actions={})
    value = np.array([9.0, 8.0, 7.0, 1.0, np.nan, 2.0])
    after = np.array([50.0, 0.0, 30.0, 10.0, 10.0, 0.0])
    before = np.array([0.0, 20.0, 0.0, 30.0, 0.0, 40.0])
    check = value_check(rule, value, after, before, "spend", 90.0)
    assert check["high_value_customers"] == 3 and check["top_tenth_customers"] == 1
    assert check["actual_total"] == 100.0 and check["predicted_total"] == pytest.approx(27.0)
    assert check["capture"]["high_value"] == pytest.approx({"value": 0.8, "previous_window": 0.1,
                                                            "hindsight": 0.9})
    assert check["capture"]["top_tenth"] == pytest.approx({"value": 0.5, "previous_window": 0.0,
                                                           "hindsight": 0.5})
    from scipy.stats import spearmanr

    assert check["spearman"]["value"] == pytest.approx(spearmanr([9, 8, 7, 1, 0, 2], after).statistic)
    assert check["spearman"]["previous_window"] == pytest.approx(spearmanr(before, after).statistic)
    # a feature as the value axis forecasts nothing in the window's units: no predicted total
    named = SegmentRule(0.5, 5.0, "spend_180d", {}, {})
    assert value_check(named, value, after, before, "spend", 90.0)["predicted_total"] is None
    # predicted purchases are set against orders, not spend
    orders = SegmentRule(0.5, 5.0, "predicted purchases", {}, {})
    assert value_check(orders, value, after, before, "orders", 90.0)["predicted_total"] == pytest.approx(27.0)
    quiet = value_check(rule, value, np.zeros(6), before, "spend", 90.0)
    assert quiet["capture"]["high_value"]["value"] is None and quiet["spearman"]["value"] is None


def test_window_activity_reads_the_label_window_and_the_one_before_it_only():
    """Spend and orders in [cutoff, cutoff + L) and in [cutoff - L, cutoff): an event on the
    cutoff belongs to the window after, one at its end to neither, returns are no spend."""
    import datetime as dt

    import ibis

    from winback.labels import Cutoff, window_activity

    t = dt.datetime
    events = ibis.memtable(pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "a", "b"],
        "event_time": [t(2020, 1, 1), t(2020, 2, 15), t(2020, 3, 1), t(2020, 3, 20), t(2020, 4, 10),
                       t(2020, 3, 5)],
        "event_type": ["purchase", "purchase", "purchase", "return", "purchase", "purchase"],
        "amount": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
    }))
    cutoff = Cutoff(t(2020, 3, 1), t(2020, 4, 10), "test")  # 40 days: before from 2020-01-21
    spend = window_activity(events, cutoff, "spend").execute().set_index("customer_id").sort_index()
    assert spend.to_dict("index") == {"a": {"before": 2.0, "after": 4.0}, "b": {"before": 0.0, "after": 32.0}}
    orders = window_activity(events, cutoff, "orders").execute().set_index("customer_id").sort_index()
    assert orders["after"].tolist() == [1, 1] and orders["before"].tolist() == [1, 0]


def test_training_checks_the_value_axis_against_the_test_window(tmp_path):
    """CDNOW's sample: the manifest's check adds up the test window's spend exactly as the
    orders file does, predicted spend ranks it better than the naive forecast, and the report
    shows the check."""
    from winback.datasets import cdnow_path

    result = train(_cfg(tmp_path), steps=Steps(quiet=True))
    check = result.manifest["segments"]["value_check"]
    test = next(c for c in result.manifest["cutoffs"] if c["role"] == "test")
    orders = pd.read_csv(cdnow_path("sample"), dtype={"customer_id": str})
    orders["date"] = pd.to_datetime(orders["date"].astype(str), format="%Y%m%d")
    start, end = pd.Timestamp(test["time"][:10]), pd.Timestamp(test["window_end"][:10])
    customers = set(result.frames["test"]["customer_id"].astype(str))
    window = orders[(orders["date"] >= start) & (orders["date"] < end)
                    & orders["customer_id"].astype(str).isin(customers)]
    assert check["measure"] == "spend" and check["customers"] == len(customers) == 2357
    assert check["actual_total"] == pytest.approx(window["dollar_value"].sum(), rel=1e-9)
    assert check["window_days"] == pytest.approx((end - start).days)
    assert check["spearman"]["value"] > check["spearman"]["previous_window"] > 0
    assert 0 < check["capture"]["top_tenth"]["value"] < check["capture"]["top_tenth"]["hindsight"] <= 1
    html = result.report_path.read_text(encoding="utf-8")
    assert "Does “high value” pick the customers who then bring the money?" in html
    assert f"spent {check['actual_total']:,.0f} in the {check['window_days']:.0f} days after it" in html
    from winback.cli import _value_line  # what `winback train` prints of it

    top = check["capture"]["top_tenth"]
    assert _value_line(result.manifest["segments"]) == (
        f"Value (predicted spend): its top tenth made {top['value']:.1%} of the next "
        f"{check['window_days']:.0f} days' spend at the test cutoff (the last {check['window_days']:.0f} days' "
        f"top tenth {top['previous_window']:.1%}, hindsight {top['hindsight']:.1%})")


def test_high_value_starts_above_a_floor_most_customers_share():
    """A return-visit population is mostly visitors with no predicted spend: at the median (0)
    everyone was 'high value'; the split now starts at the lowest value above the floor."""
    import numpy as np

    from winback.segments import value_split

    visitors = np.r_[np.zeros(600), np.linspace(5, 100, 400)]
    assert value_split(visitors) == 5.0
    assert value_split(np.r_[visitors, [np.nan] * 50]) == 5.0  # unknown values do not count
    assert value_split(np.arange(11.0)) == 5.0  # otherwise the median, as before
    assert value_split(np.zeros(10)) == 0.0  # nobody above the floor: nothing to split


def test_visitors_are_valued_by_their_cart_adds():
    """Visitors who never bought have no spend, orders or predicted spend: every value was 0,
    so all were 'high value'. Their value axis is the items they put in a cart."""
    from winback.segments import event_value

    frame = pd.DataFrame({"bgnbd_expected_purchases": [0.0] * 4, "n_orders": [0] * 4,
                          "spend_180d": [0.0] * 4, "n_cart": [0, 3, 1, 0], "n_events": [2, 9, 4, 1]})
    value, name = event_value(frame)
    assert name == "n_cart" and value.tolist() == [0, 3, 1, 0]
    assert event_value(frame.assign(n_cart=0))[1] == "n_events"  # no carts at all: their events


def test_a_forecast_that_ties_everyone_shows_no_capture():
    """The naive forecast of visitors' past spend is 0 for all: its 'top tenth' was the first
    rows in the file's order, shown as a figure."""
    from winback.segments import SegmentRule, value_check

    rule = SegmentRule(risk_threshold=0.5, value_threshold=1.0, value_column="n_cart", names={}, actions={})
    after = np.array([50.0, 0.0, 30.0, 10.0, 10.0, 0.0])
    check = value_check(rule, np.array([3.0, 0, 2, 1, 0, 0]), after, np.zeros(6), "spend", 30.0)
    assert check["capture"]["top_tenth"]["previous_window"] is None
    assert check["capture"]["high_value"]["previous_window"] is None
    assert check["capture"]["top_tenth"]["value"] == pytest.approx(0.5)


def test_first_purchase_segments_are_named_for_visitors(tmp_path, capsys):
    """Visitors of a first_purchase log: four segments of their own names, split by cart adds,
    and train's value line says the naive forecast has nothing to rank by."""
    from winback.cli import main
    from winback.datasets import generate_rees46
    from winback.segments import VISITOR_NAMES

    generate_rees46(tmp_path / "events.parquet", rows=60_000, seed=5, days=150)
    (tmp_path / "winback.toml").write_text(
        '[source]\npath = "events.parquet"\nlayout = "rees46"\n[problem]\nname = "first_purchase"\n'
        'horizon_days = 30\ncutoff_step_days = 14\nmin_history_days = 30\n[train]\ncandidates = ["logistic"]\n')
    assert main(["train", "-c", str(tmp_path / "winback.toml"), "--no-track"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Value (n_cart): its top tenth made" in said and "no spend in the last 30 days to rank by" in said
    import json

    segments = json.loads((tmp_path / "winback-out" / "bundle" / "manifest.json").read_text())["segments"]
    assert segments["rule"]["value_column"] == "n_cart" and segments["rule"]["names"] == VISITOR_NAMES
    assert all(s["customers"] > 0 for s in segments["sizes"])
    assert main(["score", "-c", str(tmp_path / "winback.toml"), "-o", str(tmp_path / "s.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "s.csv")["segment"]) == set(VISITOR_NAMES.values())
