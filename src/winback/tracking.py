"""MLflow tracking: every `winback train` is a run with its settings, every candidate's
metrics, the leaderboard, the report and the bundle.

The store is local by default: a SQLite database and an artifact folder in `mlruns/` beside
winback.toml (or in the working folder for `--dataset` runs), so nothing leaves the machine
unless MLFLOW_TRACKING_URI points elsewhere, in which case that server is used as it is.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

EXPERIMENT = "winback"
STORE_DIR = "mlruns"


def default_store(folder: Path) -> tuple[str, str]:
    """(tracking URI, artifact location) of the local store under `folder`."""
    root = Path(folder).resolve() / STORE_DIR
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()


def git_commit(folder: Path) -> str | None:
    """The commit of the project folder's git checkout, if it is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out[key] = f"{len(v)} entries"
        else:
            out[key] = v
    return out


def _metrics(manifest: dict[str, Any]) -> dict[str, float]:
    """Per-candidate test and selection metrics, flat and numeric."""
    out: dict[str, float] = {}
    for name, c in manifest["candidates"].items():
        for part in ("test", "valid"):
            for k, v in c.get(part, {}).items():
                if isinstance(v, (int, float)) and k != "n":
                    out[f"{name}.{part}.{k}"] = float(v)
        for k, v in c.get("cv", {}).items():
            if isinstance(v, (int, float)):
                out[f"{name}.cv.{k}"] = float(v)
    best = manifest["candidates"][manifest["best"]]
    for k in ("roc_auc", "pr_auc", "log_loss", "brier", "lift_10", "accuracy", "macro_f1",
              "purchase_recall"):
        if isinstance(best["test"].get(k), (int, float)):
            out[f"best.test.{k}"] = float(best["test"][k])
    for row in (manifest.get("backtest") or {}).get("summary", []):  # train --backtest
        for k in ("roc_auc_mean", "roc_auc_std", "roc_auc_min"):
            if isinstance(row.get(k), (int, float)):
                out[f"{row['candidate']}.backtest.{k}"] = float(row[k])
    return out


def log_run(config: dict[str, Any], manifest: dict[str, Any], leaderboard: pd.DataFrame,
            bundle_dir: Path, report_path: Path | None, project_dir: Path,
            run_name: str | None = None) -> str:
    """Log one training run; returns its run id."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    artifacts = None
    if not uri:
        uri, artifacts = default_store(project_dir)
    elif uri.startswith("sqlite:///"):  # a local database: keep its artifacts beside it, not in ./mlruns
        artifacts = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()
    mlflow.set_tracking_uri(uri)
    if artifacts and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)
    params = {k: str(v)[:500] for k, v in _flatten(config).items()}
    tags = {"winback.version": manifest["winback_version"], "winback.best": manifest["best"],
            "winback.problem": manifest["problem"]["name"],
            "winback.kind": manifest.get("kind", "event_log"),
            "winback.data_fingerprint": manifest["fingerprint"]}
    commit = git_commit(project_dir)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    with mlflow.start_run(run_name=run_name or f"{manifest['problem']['name']}-{manifest['best']}") as run:
        mlflow.log_params(params)
        mlflow.set_tags(tags)
        mlflow.log_metrics(_metrics(manifest))
        with tempfile.TemporaryDirectory() as tmp:
            board = Path(tmp) / "leaderboard.csv"
            leaderboard.to_csv(board, index=False)
            mlflow.log_artifact(str(board))
        if report_path is not None:
            mlflow.log_artifact(str(report_path))
        mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
        return run.info.run_id
