"""Validation rows are customers the models never saw in training (see winback.train)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.config import Config
from winback.errors import ConfigError, LabelError
from winback.config import config_from_dict
from winback.train import customer_groups, split_frames


def _frames(n_customers: int = 2000, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n_customers)]
    train = pd.DataFrame({"customer_id": ids * 3, "label": rng.integers(0, 2, 3 * n_customers)})
    valid = pd.DataFrame({"customer_id": ids, "label": rng.integers(0, 2, n_customers)})
    return {"train": train, "valid": valid, "test": valid.copy()}


def test_groups_are_stable_and_close_to_the_configured_shares():
    ids = pd.Series([f"c{i}" for i in range(20_000)])
    g = customer_groups(ids, 0.2, 0.1, seed=7)
    assert (g == customer_groups(ids.sample(frac=1, random_state=1).sort_index(), 0.2, 0.1, 7)).all()
    assert (g == "valid").mean() == pytest.approx(0.2, abs=0.01)
    assert (g == "stop").mean() == pytest.approx(0.1, abs=0.01)
    assert (g != customer_groups(ids, 0.2, 0.1, seed=8)).any()  # the seed reshuffles


def test_split_is_customer_disjoint_and_refit_sees_everyone():
    cfg = Config()
    parts = split_frames(cfg, _frames())
    seen = {role: set(parts[role]["customer_id"]) for role in ("train", "stop", "valid")}
    assert not seen["train"] & seen["valid"] and not seen["train"] & seen["stop"]
    assert not seen["stop"] & seen["valid"]
    assert len(parts["refit"]) == 3 * 2000
    assert len(parts["valid"]) + len(parts["stop"]) + len(seen["train"]) == 2000


def test_one_class_after_the_split_is_a_clear_error():
    frames = _frames(30)
    frames["valid"]["label"] = 0
    with pytest.raises(LabelError, match="with label 1 and .* with label 0.*at least 5 of each"):
        split_frames(Config(), frames)


def test_too_few_of_a_class_after_the_split_is_a_clear_error():
    """Both classes present but a handful of customers: Platt scaling and the threshold would
    be fitted on noise (on 40 customers a BG/NBD fit diverged and the run crashed on NaN)."""
    frames = _frames(20, seed=3)
    split_frames(Config(), _frames(400, seed=3))  # enough customers: no error
    with pytest.raises(LabelError) as e:
        split_frames(Config(), frames)
    assert "rows number" in str(e.value) and "Use more data" in str(e.value)


def test_shares_are_checked():
    with pytest.raises(ConfigError, match="validation_share"):
        config_from_dict({"source": {"path": "x.csv"}, "train": {"validation_share": 0.9}})


def test_a_small_log_stops_early_on_its_early_stopping_customers_at_every_cutoff():
    """150 accounts: the early-stopping customers at the validation cutoff held 4 buyers, and
    training stopped; they are read at the training cutoffs too (still none of the training
    customers), with a note. A validation group that is still too thin names the share that
    would hold enough."""
    rng = np.random.default_rng(5)
    frames = _frames(200, seed=5)
    frames["valid"]["label"] = (rng.random(200) < 0.25).astype(int)
    groups = customer_groups(frames["valid"]["customer_id"], 0.2, 0.1, 42)
    stop = frames["valid"][groups == "stop"]
    frames["valid"].loc[stop.index[:-2], "label"] = 0  # two buyers among them at the validation cutoff
    notes: list[str] = []
    parts = split_frames(Config(), frames, notes)
    train_ids, stop_ids = set(parts["train"]["customer_id"]), set(parts["stop"]["customer_id"])
    assert not train_ids & stop_ids and len(parts["stop"]) == 4 * len(stop)
    assert notes and notes[0].startswith("early stopping reads its customers at the training cutoffs too")
    thin = _frames(60, seed=5)
    thin["valid"]["label"] = 0
    thin["valid"].loc[thin["valid"].index[:3], "label"] = 1
    with pytest.raises(LabelError, match=r"raise train.validation_share to 0\.\d+ \(from 0.2\)|no train.validation_share"):
        split_frames(Config(), thin)
