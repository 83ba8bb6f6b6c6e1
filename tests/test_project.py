"""`winback.Project`: the library's one object, the same steps as the command line."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import winback
from winback.errors import ConfigError


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    project = winback.Project.from_dataset("cdnow_sample", output_dir=tmp_path_factory.mktemp("p"))
    return project, project.train()


def test_event_log_project_validates_trains_and_scores(cdnow, tmp_path):
    project, result = cdnow
    assert project.kind == "event_log" and "cdnow_sample" in repr(project)
    summary = project.validate()
    assert summary["customers"] == 2357 and summary["event_types"] == {"purchase": summary["rows"]}
    assert summary["event_types_advice"] == ""
    assert result.bundle_dir == project.bundle_dir and result.report_path.exists()
    assert set(result.leaderboard["candidate"]) == {"logistic", "lightgbm", "bgnbd"}
    # shown in a terminal or a notebook as the chosen model, where it went and the leaderboard,
    # not the frames and arrays the result carries
    shown = repr(result).splitlines()
    assert shown[0] == "TrainResult: Leaderboard (out-of-time test cutoff)"
    assert shown[1] == f"  best: {result.best}" and shown[2] == f"  bundle: {result.bundle_dir}"
    assert shown[4].split() == ["candidate", "roc_auc", "pr_auc", "log_loss", "brier", "precision",
                                "recall", "lift_10", "lift_20", "valid_roc_auc", "select_roc_auc"]
    assert shown[5].split()[:2] == [result.best, f"{result.leaderboard['roc_auc'].iloc[0]:.3f}"]
    assert len(shown) == 8
    page = result._repr_html_()
    assert page.count("<tr") == 4 and '<tr style="font-weight:bold"><td>' + result.best in page
    scores = project.score()
    assert len(scores) == 2357 and scores["rank"].min() == 1
    assert scores["probability"].between(0, 1).all()
    written = project.score_to(str(tmp_path / "s.csv"), cutoff="1998-01-01")
    assert written.rows == 2357 and written.frame is None
    assert str(written.cutoff.date()) == "1998-01-01"
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2357
    with TestClient(project.app()) as client:
        assert client.get("/readyz").status_code == 200
        model = client.get("/v1/model").json()
        assert model["customer"]["problem"]["name"] == "repeat_purchase"


def test_customer_table_project(tmp_path, capsys):
    project = winback.Project.from_dataset("oneclick", output_dir=tmp_path)
    project.config.train.trials = 2
    project.config.train.candidates = ["logistic", "tree"]
    assert project.kind == "customer_table"
    summary = project.validate()
    assert summary["customers"] == 1297 and 0.3 < summary["positive_rate"] < 0.45
    capsys.readouterr()
    result = project.train(report=False, verbose=True)  # the steps as the command line shows them
    assert "✓ Tuning logistic" in capsys.readouterr().err
    assert set(result.leaderboard["candidate"]) == {"logistic", "tree"}
    shown = repr(result).splitlines()
    assert shown[0].startswith("TableTrainResult: Leaderboard (chosen by cross-validation")
    assert "report" not in repr(result) and shown[3].split()[:4] == ["candidate", "cv_roc_auc", "cv_std",
                                                                     "test_roc_auc"]
    written = project.score_to(str(tmp_path / "scores.parquet"), reasons=False)
    assert written.rows == 1297 and len(written.frame) == 1297 and written.cutoff is None
    with pytest.raises(ConfigError, match="cutoff applies to event logs"):
        project.score(cutoff="2024-01-01")
    # their outcomes, from the table's label column: the training rows are left out as in-sample
    came = project.outcomes(tmp_path / "scores.parquet", write=False)
    best = result.leaderboard.set_index("candidate").loc[result.best]
    assert came.realized["n"] == 325 and came.realized["roc_auc"] == pytest.approx(best["roc_auc"], abs=1e-12)
    # ... or from a DataFrame of the table as it reads once the outcomes are known
    from winback.datasets import dataset_dir

    frames = [pd.read_csv(dataset_dir("oneclick") / s.path) for s in project.config.table.sources]
    frames[0]["Страниц_за_визит"] += 1  # a later snapshot: every row is new to the model
    later = project.outcomes(tmp_path / "scores.parquet", write=False, frame=frames)
    assert later.realized["n"] == 1297 and not any("trained on" in n for n in later.notes)


def test_from_toml_and_bad_configs(tmp_path):
    config = tmp_path / "winback.toml"
    config.write_text('[source]\npath = "events.csv"\n[problem]\nname = "next_event"\n')
    assert winback.Project.from_toml(config).kind == "next_event"
    config.write_text('[source]\npath = "events.csv"\n[problem]\nname = "churn"\n')
    with pytest.raises(ConfigError, match="Unknown problem 'churn'. For 'churn', use activity_decline .* or "
                                          "repeat_purchase"):
        winback.Project.from_toml(config)
    # what people call the problems names the one it is; a misspelling its closest name
    from winback.config import check_problem_name

    for said, meant in (("Conversion", "first_purchase"), ("customer-retention", "repeat_purchase or return_visit"),
                        ("next_action", "next_event")):
        with pytest.raises(ConfigError, match=f"use {meant}"):
            check_problem_name(said)
    with pytest.raises(ConfigError, match="Did you mean 'repeat_purchase'"):
        check_problem_name("repeat_purchse")
    with pytest.raises(ConfigError, match="Unknown dataset"):
        winback.Project.from_dataset("cdnoww")
