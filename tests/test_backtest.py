"""`winback backtest`: the training flow at several test cutoffs, each fold exactly `train` at
its own test cutoff, and nothing after a fold's test label window read by it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import winback
from winback.backtest import backtest
from winback.cli import main
from winback.datasets import cdnow_config, cdnow_path
from winback.errors import ConfigError, DataError
from winback.progress import Steps
from winback.train import train

QUIET = Steps(quiet=True)
CUTOFFS = ["1997-10-01", "1997-09-03", "1997-08-06"]


def _config(out, path=None, test_cutoff=None):
    cfg = cdnow_config("sample", output_dir=str(out))
    cfg.train.candidates = ["logistic", "bgnbd"]
    if path:
        cfg.source.path = str(path)
    if test_cutoff:
        cfg.problem.test_cutoff = test_cutoff
    return cfg


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return backtest(_config(tmp_path_factory.mktemp("bt")), folds=3, steps=QUIET)


def _fold(result, k: int) -> pd.DataFrame:
    return result.folds[result.folds["fold"] == k].set_index("candidate")


@pytest.mark.parametrize("k", [1, 3])
def test_each_fold_is_train_at_its_test_cutoff(result, tmp_path, k):
    trained = train(_config(tmp_path, test_cutoff=CUTOFFS[k - 1]), steps=QUIET, report=False)
    fold = _fold(result, k)
    assert set(fold["test_cutoff"]) == {CUTOFFS[k - 1]}
    assert fold.index[fold["chosen"]].tolist() == [trained.best]
    board = trained.leaderboard.set_index("candidate")
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "lift_10"):
        assert fold[metric].to_dict() == pytest.approx(board[metric].to_dict(), abs=1e-12)
    # the rate the probabilities expected: the mean of the test scores `train` calibrated
    assert fold["expected_rate"].to_dict() == pytest.approx(
        {n: float(r.test_scores.mean()) for n, r in trained.results.items()}, abs=1e-12)


def test_a_fold_reads_nothing_after_its_test_label_window(result, tmp_path):
    """Orders after fold 3's label window (1997-08-06 + 273 days, up to 1998-05-05) changed and
    half of them dropped: fold 3's figures stay to the last digit, fold 1's (whose window runs
    to the end of the log) move."""
    orders = pd.read_csv(cdnow_path("sample"), dtype=str)
    late = orders["date"] >= "19980506"
    last_day = orders["date"] == orders["date"].max()
    orders.loc[late, "dollar_value"] = (orders.loc[late, "dollar_value"].astype(float) * 3).round(2).astype(str)
    orders = orders[~late | last_day | (orders.index % 2 == 0)]  # the log's end stays where it was
    orders.to_csv(tmp_path / "changed.csv", index=False)
    changed = backtest(_config(tmp_path, path=tmp_path / "changed.csv"), folds=3, steps=QUIET, write=False)
    for metric in ("roc_auc", "log_loss", "brier"):
        assert _fold(changed, 3)[metric].to_dict() == pytest.approx(_fold(result, 3)[metric].to_dict(), abs=1e-12)
    assert _fold(changed, 1)["roc_auc"].to_dict() != pytest.approx(_fold(result, 1)["roc_auc"].to_dict(), abs=1e-6)


def test_summary_and_json(result):
    assert result.folds["fold"].tolist() == [1, 1, 2, 2, 3, 3]
    assert result.folds.groupby("fold")["chosen"].sum().tolist() == [1, 1, 1]
    for _, row in result.summary.iterrows():
        mine = result.folds[result.folds["candidate"] == row["candidate"]]
        assert row["roc_auc_mean"] == pytest.approx(mine["roc_auc"].mean())
        assert row["roc_auc_std"] == pytest.approx(mine["roc_auc"].std())
        assert row["chosen"] == mine["chosen"].sum() and row["folds"] == 3
    assert result.summary["roc_auc_mean"].is_monotonic_decreasing
    written = json.loads(result.path.read_text())
    assert written["step_days"] == 28 and written["horizon_days"] == 273 and len(written["folds"]) == 6
    assert [f["test_cutoff"] for f in written["folds"][::2]] == CUTOFFS
    shown = repr(result).splitlines()
    assert shown[1].split()[:4] == ["fold", "test", "cutoff", "customers"]
    assert shown[2].split()[:2] == ["1", "1997-10-01"] and "*" in shown[2]
    assert shown[-1].startswith("The model validation chose scored ")
    assert result._repr_html_().count("<tr>") == 5


def test_the_command_line_prints_the_folds(tmp_path, capsys):
    assert main(["backtest", "--dataset", "cdnow_sample", "--folds", "2", "--step-days", "56",
                 "--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "1997-10-01" in out and "1997-08-06" in out and "mean ± sd" in out
    assert (tmp_path / "backtest.json").exists() and not (tmp_path / "bundle").exists()


def test_what_a_backtest_refuses(tmp_path):
    with pytest.raises(ConfigError, match="at least 2 folds"):
        backtest(_config(tmp_path), folds=1, steps=QUIET)
    with pytest.raises(DataError, match=r"Only \d+ of the 40 backtest folds fit this log with a 28-day step"):
        backtest(_config(tmp_path), folds=40, steps=QUIET)
    with pytest.raises(ConfigError, match="A customer table is one snapshot"):
        winback.Project.from_dataset("oneclick", output_dir=tmp_path).backtest(folds=2)
    assert not (tmp_path / "backtest.json").exists()


def test_train_with_a_backtest_puts_it_in_the_bundle_and_report(result, tmp_path):
    """`train --backtest 3` gives the folds `winback backtest` gives (its first fold is train's
    own leaderboard), in the manifest and as a table in the report."""
    cfg = _config(tmp_path)
    cfg.train.backtest_folds = 3
    trained = train(cfg, steps=QUIET)
    entry = trained.manifest["backtest"]
    pd.testing.assert_frame_equal(pd.DataFrame(entry["folds"]), result.folds, check_exact=False, rtol=1e-13)
    assert entry["step_days"] == 28 and entry["text"].startswith("The model validation chose scored")
    stored = json.loads((trained.bundle_dir / "manifest.json").read_text())
    assert stored["backtest"]["folds"] == entry["folds"]
    page = trained.report_path.read_text()
    assert "Stability over time: the same flow at 3 test cutoffs" in page
    section = page.split("Stability over time")[1].split("How well the models rank")[0]
    assert [c for c in CUTOFFS if f"<td>{c}</td>" in section] == CUTOFFS and "mean ± sd" in section


def test_backtest_settings_are_checked_before_any_work(tmp_path, capsys):
    cfg = _config(tmp_path)
    cfg.train.backtest_folds = 1
    with pytest.raises(ConfigError, match="train.backtest_folds must be 0 \\(no backtest\\) or at least 2"):
        winback.Project(cfg)
    table = winback.datasets.oneclick_config(output_dir=str(tmp_path))
    table.train.backtest_folds = 3
    with pytest.raises(ConfigError, match="A customer table is one snapshot"):
        winback.Project(table)
    assert main(["train", "--dataset", "cdnow_sample", "--backtest", "40", "--out", str(tmp_path), "-q",
                 "--no-track"]) == 2
    assert "Only 5 of the 40 backtest folds fit this log with a 28-day step. At the test cutoff 1997-05-14: " in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "bundle").exists()
