"""Bundled real data (CDNOW, One Click, audiobooks) and synthetic generators, with ready configs.

The files ship inside the package, so tests and `winback demo` run on a fresh clone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from winback.config import Config, config_from_dict
from winback.datasets.ga import generate_ga_sessions
from winback.datasets.synthetic import generate_rees46

CDNOW_FILES = {"master": "cdnow_master.csv", "sample": "cdnow_sample.csv"}
DATASETS = ("cdnow", "cdnow_sample", "oneclick", "audiobooks")


def dataset_dir(name: str) -> Path:
    """Folder of a bundled dataset's files (with its PROVENANCE.md)."""
    return Path(str(resources.files("winback.datasets") / name))


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
            "output": {"dir": _from_here(output_dir)},
        }
    )


def _from_here(output_dir: str) -> str:
    """An output folder relative to where the caller is now: the table configs read their files
    relative to the package's dataset folder, which a relative output folder would otherwise
    follow (`oneclick_config(output_dir="out")` wrote its bundle inside the installed package)."""
    return str(Path(output_dir).resolve())


def oneclick_config(output_dir: str = "winback-out") -> Config:
    """Seed 004's One Click store: will a regular customer's activity decrease? Four tables
    joined on `id`, revenue and minutes pivoted by period, typos fixed, customers kept when they
    had revenue in all three months (the usual protocol: 1,297 of 1,300)."""
    periods = {"препредыдущий_месяц": "prev2", "предыдущий_месяц": "prev", "текущий_месяц": "current"}
    return config_from_dict({
        "problem": {"name": "activity_decline"},
        "table": {
            "key": "id",
            "label": "Покупательская активность",
            "positive": ["Снизилась"],
            "negative": ["Прежний уровень"],
            "sources": [
                {"path": "market_file.csv", "fixes": {"Тип сервиса": {"стандартт": "стандарт"}}},
                {"path": "market_money.csv", "pivot_column": "Период", "pivot_values": ["Выручка"],
                 "pivot_prefix": "revenue", "pivot_names": periods},
                {"path": "market_time.csv", "pivot_column": "Период", "pivot_values": ["минут"],
                 "pivot_prefix": "minutes", "pivot_names": periods,
                 "fixes": {"Период": {"предыдцщий_месяц": "предыдущий_месяц"}}},
                {"path": "money.csv"},
            ],
            "filters": [{"column": f"revenue_{p}", "op": ">", "value": 0}
                        for p in ("prev2", "prev", "current")],
        },
        "segments": {"value_column": "Прибыль"},
        "train": {"seed": 42},
        "output": {"dir": _from_here(output_dir)},
    }, base_dir=dataset_dir("oneclick"))


def audiobooks_config(output_dir: str = "winback-out") -> Config:
    """Seed 002's audiobook app: will a customer buy again in the next 6 months? One table;
    review_score is often empty (imputed, with a missing indicator)."""
    return config_from_dict({
        "problem": {"name": "repeat_purchase"},
        "table": {
            "key": "customer_id",
            "label": "purchased_again",
            "positive": ["1"],
            "negative": ["0"],
            "sources": [{"path": "audiobooks_data_unprocessed.csv"}],
        },
        "segments": {"value_column": "spent_total"},
        # 14,084 rows make SVC and the MLP slow to cross-validate (about 25 and 35 s a trial):
        # fewer trials for them, a budget that, unlike a time limit, gives the same models on
        # every machine
        "train": {"seed": 42, "test_share": 0.2, "trials_by_candidate": {"svc": 4, "mlp": 3}},
        "output": {"dir": _from_here(output_dir)},
    }, base_dir=dataset_dir("audiobooks"))


def dataset_config(name: str, output_dir: str = "winback-out") -> Config:
    """Ready config of a bundled dataset by name."""
    if name == "oneclick":
        return oneclick_config(output_dir)
    if name == "audiobooks":
        return audiobooks_config(output_dir)
    if name == "cdnow":
        return cdnow_config("master", output_dir)
    if name == "cdnow_sample":
        return cdnow_config("sample", output_dir)
    from winback.errors import ConfigError, did_you_mean

    raise ConfigError(f"Unknown dataset '{name}'.{did_you_mean(name, DATASETS)} Bundled: {', '.join(DATASETS)}.")


__all__ = ["generate_ga_sessions", "cdnow_path", "load_cdnow", "cdnow_config", "oneclick_config", "audiobooks_config",
           "dataset_config", "dataset_dir", "generate_rees46", "DATASETS"]
