"""Bundled real data (CDNOW) and synthetic generators, with ready configs.

The CDNOW files ship inside the package, so tests and `winback demo` run on a fresh clone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from winback.config import Config, config_from_dict
from winback.datasets.synthetic import generate_rees46

CDNOW_FILES = {"master": "cdnow_master.csv", "sample": "cdnow_sample.csv"}
DATASETS = ("cdnow", "cdnow_sample")


def cdnow_path(kind: str = "master") -> Path:
    """Path of a bundled CDNOW file: 'master' (23,570 customers) or 'sample' (2,357)."""
    if kind not in CDNOW_FILES:
        raise ValueError(f"kind must be one of {sorted(CDNOW_FILES)}, got {kind!r}")
    return Path(str(resources.files("winback.datasets") / "cdnow" / CDNOW_FILES[kind]))


def load_cdnow(kind: str = "master") -> pd.DataFrame:
    """CDNOW order lines with `date` parsed (naive, UTC)."""
    frame = pd.read_csv(cdnow_path(kind), dtype={"customer_id": str, "sample_id": str})
    frame["date"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    return frame


def cdnow_config(kind: str = "master", output_dir: str = "winback-out") -> Config:
    """The CDNOW benchmark protocol: calibration to 1997-09-30, label = any purchase in the next
    39 weeks, training cutoffs whose label windows end by the test cutoff 1997-10-01."""
    return config_from_dict(
        {
            "source": {"path": str(cdnow_path(kind)), "layout": "cdnow", "duplicates": "keep"},
            "problem": {
                "name": "repeat_purchase",
                "horizon_days": 273,
                "test_cutoff": "1997-10-01",
                "train_cutoffs": 5,
                "cutoff_step_days": 28,
                "min_history_days": 28,
            },
            "features": {"windows_days": [28, 91, 182]},
            "output": {"dir": output_dir},
        }
    )


def dataset_config(name: str, output_dir: str = "winback-out") -> Config:
    """Ready config of a bundled dataset by name."""
    if name == "cdnow":
        return cdnow_config("master", output_dir)
    if name == "cdnow_sample":
        return cdnow_config("sample", output_dir)
    from winback.errors import ConfigError, did_you_mean

    raise ConfigError(f"Unknown dataset '{name}'.{did_you_mean(name, DATASETS)} Bundled: {', '.join(DATASETS)}.")


__all__ = ["cdnow_path", "load_cdnow", "cdnow_config", "dataset_config", "generate_rees46", "DATASETS"]
