from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from winback.config import config_from_dict


def write_csv(tmp_path: Path, rows: list[dict] | pd.DataFrame, name: str = "events.csv") -> Path:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def events_config(path: Path, **source):
    base = {"path": str(path), "layout": "events",
            "columns": {"customer_id": "customer_id", "event_time": "event_time", "amount": "amount"}}
    base.update(source)
    return config_from_dict({"source": base})


@pytest.fixture
def orders(tmp_path):
    """A small clean order log: 3 customers over 3 months."""
    rows = [
        {"customer_id": "a", "event_time": "2024-01-05 10:00:00", "amount": 10.0},
        {"customer_id": "a", "event_time": "2024-02-10 12:00:00", "amount": 20.0},
        {"customer_id": "b", "event_time": "2024-01-20 09:00:00", "amount": 5.0},
        {"customer_id": "c", "event_time": "2024-03-01 18:30:00", "amount": 7.5},
    ]
    return write_csv(tmp_path, rows)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for the session (see tests/postgres_server.py)."""
    from postgres_server import postgres_server

    try:
        with postgres_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def cdnow_bundle(tmp_path_factory):
    """A CDNOW repeat-purchase bundle (logistic and LightGBM), trained once per session."""
    from winback.datasets import cdnow_config
    from winback.train import train

    out = tmp_path_factory.mktemp("cdnow-serve")
    cfg = cdnow_config(output_dir=str(out))
    cfg.train.candidates = ["logistic", "lightgbm"]
    return train(cfg, report=False).bundle_dir


def next_event_project(root: Path, rows: int, seed: int, days: int, horizon_days: int,
                       candidates: list[str]) -> Path:
    """A synthetic REES46 log in `root` and a trained next_event project (k = 4) beside it."""
    from winback.cli import main
    from winback.datasets import generate_rees46

    generate_rees46(root / "events.parquet", rows=rows, seed=seed, days=days)
    (root / "winback.toml").write_text(
        '[source]\npath = "events.parquet"\nlayout = "rees46"\n'
        f'[problem]\nname = "next_event"\nhorizon_days = {horizon_days}\nsequence_length = 4\n'
        f'[train]\ncandidates = {candidates!r}\n'.replace("'", '"'))
    assert main(["train", "-c", str(root / "winback.toml"), "-q", "--no-track"]) == 0
    return root


@pytest.fixture(scope="session")
def next_event_bundle(tmp_path_factory):
    """A next-event bundle on a small synthetic REES46 log, trained once per session."""
    root = next_event_project(tmp_path_factory.mktemp("nextevent-serve"), 20_000, 3, 40, 10,
                              ["markov", "lightgbm"])
    return root / "winback-out" / "bundle"
