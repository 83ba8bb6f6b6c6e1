"""MLflow tracking of `winback train`: local store by default, MLFLOW_TRACKING_URI, --no-track."""

from __future__ import annotations

import json

import pytest

from winback.cli import main


def _runs(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("winback")
    return client, client.search_runs([experiment.experiment_id]) if experiment else []


def test_train_logs_a_run_with_metrics_tags_and_artifacts(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert not (tmp_path / "mlruns").exists()  # an empty store to start from
    out = tmp_path / "out"
    assert main(["train", "--dataset", "cdnow_sample", "--out", str(out), "-q"]) == 0
    db = tmp_path / "mlruns" / "mlflow.db"
    assert db.exists()
    client, runs = _runs(f"sqlite:///{db}")
    assert len(runs) == 1
    run = runs[0]
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    best = manifest["best"]
    assert run.data.metrics["best.test.roc_auc"] == pytest.approx(manifest["candidates"][best]["test"]["roc_auc"])
    for name in ("logistic", "lightgbm", "bgnbd"):
        assert f"{name}.test.roc_auc" in run.data.metrics and f"{name}.valid.roc_auc" in run.data.metrics
    assert run.data.tags["winback.data_fingerprint"] == manifest["fingerprint"]
    assert run.data.tags["winback.best"] == best
    assert run.data.params["problem.horizon_days"] == "273"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"leaderboard.csv", "report.html", "bundle"} <= artifacts
    bundle = {a.path for a in client.list_artifacts(run.info.run_id, "bundle")}
    assert "bundle/manifest.json" in bundle


def test_tracking_uri_from_the_environment_and_no_track(tmp_path, monkeypatch):
    elsewhere = tmp_path / "server"
    elsewhere.mkdir()
    uri = f"sqlite:///{elsewhere / 'store.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "cdnow_sample", "--out", str(tmp_path / "a"), "-q"]) == 0
    assert not (tmp_path / "mlruns").exists()
    assert len(_runs(uri)[1]) == 1
    assert main(["train", "--dataset", "cdnow_sample", "--out", str(tmp_path / "b"), "-q", "--no-track"]) == 0
    assert len(_runs(uri)[1]) == 1  # --no-track logged nothing


def test_a_backtest_is_logged_as_each_candidates_mean_spread_and_worst():
    from winback.tracking import _metrics

    manifest = {"best": "logistic", "candidates": {"logistic": {"valid": {}, "test": {"roc_auc": 0.77}}},
                "backtest": {"summary": [{"candidate": "logistic", "roc_auc_mean": 0.75, "roc_auc_std": 0.02,
                                          "roc_auc_min": 0.72, "folds": 4}]}}
    logged = _metrics(manifest)
    assert {k: v for k, v in logged.items() if ".backtest." in k} == {
        "logistic.backtest.roc_auc_mean": 0.75, "logistic.backtest.roc_auc_std": 0.02,
        "logistic.backtest.roc_auc_min": 0.72}
