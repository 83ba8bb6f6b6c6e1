"""Decision thresholds by rule (F1, target recall, contact budget, expected profit, accuracy), the
confusion counts beside them, and a whole run with a contact budget."""

from __future__ import annotations

import json

import numpy as np
import pytest

from winback.config import TrainConfig, config_from_dict
from winback.errors import ConfigError
from winback.evaluate import choose_threshold, metrics

# ten customers ranked by score; four had the outcome
Y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def flagged(rule: str, **settings) -> tuple[float, dict]:
    t = choose_threshold(Y, P, TrainConfig(threshold_rule=rule, **settings))
    return t, metrics(Y, P, t)


def test_each_rule_by_hand():
    assert flagged("f1")[0] == 0.6  # 3 of 4 found with 1 false alarm: F1 0.75
    t, m = flagged("recall", target_recall=1.0)  # everyone with the outcome: down to 0.3
    assert t == 0.3 and m["recall"] == 1.0 and (m["tp"], m["fp"]) == (4, 3)
    assert flagged("recall", target_recall=0.5)[0] == 0.8  # the first two suffice
    t, m = flagged("contacts", contact_share=0.3)  # a campaign that reaches 3 of 10
    assert t == 0.7 and m["flagged_share"] == 0.3
    # each flagged positive is worth 10 and each contact costs 4: the top 4 earn 3 x 10 - 4 x 4
    t, m = flagged("profit", value_per_positive=10, cost_per_contact=4)
    assert t == 0.6 and 10 * m["tp"] - 4 * (m["tp"] + m["fp"]) == 14
    # when no cut pays, nobody is flagged
    t, m = flagged("profit", value_per_positive=1, cost_per_contact=4)
    assert m["flagged_share"] == 0.0 and t > P.max()
    # the most customers right: the top two (8 of 10), as the top four, and the higher wins
    t, m = flagged("accuracy")
    assert t == 0.8 and m["tp"] + m["tn"] == 8
    # no cut beats flagging nobody: nobody is flagged
    lonely = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    t = choose_threshold(lonely, P, TrainConfig(threshold_rule="accuracy"))
    assert metrics(lonely, P, t)["flagged_share"] == 0.0 and t > P.max()
    # a fixed threshold wins over the rule
    assert flagged("recall", threshold=0.45, target_recall=1.0)[0] == 0.45


def test_ties_are_flagged_together():
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    t = choose_threshold(y, p, TrainConfig(threshold_rule="contacts", contact_share=0.4))
    assert t == 0.9  # flagging 2 of 5 would split the tie at 0.5: stop before it
    t = choose_threshold(y, p, TrainConfig(threshold_rule="recall", target_recall=1.0))
    assert metrics(y, p, t)["flagged_share"] == 0.8  # the whole tie, not part of it


def test_confusion_counts_add_up():
    m = metrics(Y, P, 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (3, 2, 1, 4)
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == m["n"]


@pytest.mark.parametrize("train, message", [
    ({"threshold_rule": "contact"}, "Did you mean 'contacts'"),
    ({"threshold_rule": "profit"}, "value_per_positive > 0"),
    ({"threshold_rule": "contacts", "contact_share": 1.5}, "contact_share"),
    ({"threshold_rule": "recall", "target_recall": 0.0}, "target_recall"),
    ({"threshold": 1.2}, "train.threshold must be in"),
])
def test_bad_settings_are_clear_errors(train, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"train": train})


def test_a_contact_budget_through_training(tmp_path):
    """CDNOW with a campaign that reaches 10 % of customers: a tenth of the test cutoff is
    flagged (a budget is a share of whoever is scored, not a probability carried over from the
    validation cutoff, where scores run lower), and the report says how it was chosen and shows
    the confusion matrix."""
    from winback.datasets import cdnow_config
    from winback.score import score
    from winback.train import train

    cfg = cdnow_config(output_dir=str(tmp_path))
    cfg.train.candidates = ["logistic"]
    cfg.train.threshold_rule, cfg.train.contact_share = "contacts", 0.1
    result = train(cfg, report=True)
    manifest = json.loads((result.bundle_dir / "manifest.json").read_text())
    test = manifest["candidates"]["logistic"]["test"]
    assert test["flagged_share"] == pytest.approx(0.1, abs=0.002)
    assert manifest["candidates"]["logistic"]["valid"]["flagged_share"] == pytest.approx(0.1, abs=0.002)
    assert manifest["threshold_rule"] == "the score of the top 10% of customers (the contact budget)"
    html = (tmp_path / "report.html").read_text()
    assert "At the decision threshold" in html and "the top 10% of customers" in html
    assert f"{test['tp']:,}" in html and f"{test['fn']:,}" in html
    # scoring another cutoff flags the top tenth of the customers scored there, by rank
    scores = score(cdnow_config(), result.bundle_dir, cutoff="1998-01-01")
    assert scores.flagged.sum() == round(0.1 * len(scores))
    assert scores.loc[scores.flagged, "rank"].max() == scores.flagged.sum()


def test_train_prints_who_is_flagged():
    from winback.cli import _decision_line

    m = metrics(Y, P, 0.6)
    line = _decision_line({"best": "lightgbm", "threshold_rule": "each model's F1-best threshold",
                           "candidates": {"lightgbm": {"test": m}}}, "test cutoff")
    assert line == ("Threshold 0.600 (each model's F1-best threshold): flags 4 of 10 customers on "
                    "the test cutoff (40.0%), precision 75.0%, recall 75.0%")


def test_an_f1_threshold_that_flags_nearly_everyone_is_named():
    """An activity decline that 90 % of customers have: F1 is best flagging all of them, which
    picks no one to act on first; train's line and the report say so and name the rules that do."""
    from winback.cli import _decision_line
    from winback.evaluate import decision_entry, flag_all_note, threshold_rule_text

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.9).astype(int)
    p = np.clip(0.85 + 0.1 * y + rng.normal(0, 0.1, 500), 0, 1)
    f1 = TrainConfig(threshold_rule="f1")
    m = metrics(y, p, choose_threshold(y, p, f1))
    assert m["flagged_share"] > 0.8
    bundle = {"decision": decision_entry(f1, m["threshold"])}
    note = flag_all_note(m, bundle)
    assert note.startswith("88% of the customers have the outcome") and 'threshold_rule = "contacts"' in note
    manifest = {"best": "logistic", "threshold_rule": threshold_rule_text(f1), "candidates": {"logistic": {"test": m}},
                **bundle}
    assert "note:" in _decision_line(manifest, "test cutoff")
    # a rule the user chose, or a rare outcome, needs no note
    contacts = TrainConfig(threshold_rule="contacts", contact_share=0.9)
    assert flag_all_note(m, {"decision": decision_entry(contacts, m["threshold"])}) == ""
    rare = metrics(1 - y, 1 - p, choose_threshold(1 - y, 1 - p, f1))
    assert flag_all_note(rare, bundle) == ""
