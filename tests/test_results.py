"""A training result's repr and notebook HTML: the leaderboard columns of its kind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from winback.train import TrainResult


def _result(kind: str, board: pd.DataFrame) -> TrainResult:
    return TrainResult(board, board["candidate"].iloc[0], Path("/b/bundle"), None, {"kind": kind}, {}, None, {})


def test_a_next_event_result_shows_its_own_metrics():
    board = pd.DataFrame({"candidate": ["markov", "most_frequent"], "accuracy": [0.61234, 0.4],
                          "macro_f1": [0.5, 0.2], "purchase_recall": [0.3, 0.0], "log_loss": [0.9, 1.3],
                          "valid_log_loss": [0.91, 1.31], "fit_seconds": [1.0, 0.1]})
    shown = repr(_result("next_event", board)).splitlines()
    assert shown[0] == "TrainResult: Leaderboard (next event; test = events after the test cutoff)"
    assert shown[3].split() == ["candidate", "accuracy", "macro_f1", "purchase_recall", "log_loss",
                                "valid_log_loss"]
    assert shown[4].split()[:2] == ["markov", "0.6123"] and len(shown) == 6


def test_an_event_result_chosen_on_another_metric_shows_it():
    board = pd.DataFrame({"candidate": ["lightgbm<b>"], **{c: [0.5] for c in (
        "roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall", "lift_10", "lift_20",
        "valid_roc_auc", "valid_pr_auc")}})
    result = _result("event_log", board)
    assert repr(result).splitlines()[3].split()[-2:] == ["valid_roc_auc", "valid_pr_auc"]
    assert "lightgbm&lt;b&gt;" in result._repr_html_() and "<b>TrainResult</b>" in result._repr_html_()
