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
