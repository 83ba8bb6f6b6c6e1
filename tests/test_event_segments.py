"""Segments on event logs: predicted spend by default, a named feature, or none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.datasets import cdnow_config
from winback.errors import ConfigError
from winback.progress import Steps
from winback.train import train


def _cfg(tmp_path, **features):
    cfg = cdnow_config("sample", output_dir=str(tmp_path))
    for k, v in features.items():
        setattr(cfg.features, k, v)
    cfg.train.candidates = ["logistic"]
    return cfg


def test_a_feature_as_value_column(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.segments.value_column = "spend"
    result = train(cfg, steps=Steps(quiet=True))
    seg = result.manifest["segments"]
    assert seg["rule"]["value_column"] == "spend"
    test = result.frames["test"]
    assert seg["rule"]["value_threshold"] == pytest.approx(test["spend"].median())
    assert sum(s["customers"] for s in seg["sizes"]) == len(test)


def test_no_value_axis_means_no_segments_not_a_failure(tmp_path):
    result = train(_cfg(tmp_path, bgnbd=False), steps=Steps(quiet=True))
    assert result.manifest["segments"] is None
    assert "No segments" in result.report_path.read_text(encoding="utf-8")


def test_a_misnamed_value_column_fails_before_fitting(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.segments.value_column = "spnd"
    with pytest.raises(ConfigError, match="'spnd' is not a feature.*Did you mean 'spend'"):
        train(cfg, steps=Steps(quiet=True))
    assert not (tmp_path / "bundle").exists()


def test_value_falls_back_to_past_spend_when_the_prediction_tells_no_one_apart():
    """When BG/NBD diverges or predicts the same for everyone, predicted spend is one number
    and every customer would be 'high value': the value axis is then the spend over the
    longest window, named as such in the rule."""
    from winback.segments import event_value

    frame = pd.DataFrame({"bgnbd_expected_purchases": [0.0, 0.0, 0.0, np.nan],
                          "n_orders": [1, 2, 3, 4], "avg_order_value": [10.0, 20.0, 30.0, 40.0],
                          "spend_30d": [0.0, 5.0, 0.0, 1.0], "spend_180d": [10.0, 40.0, 90.0, 160.0]})
    value, name = event_value(frame)
    assert name == "spend_180d" and value.tolist() == [10.0, 40.0, 90.0, 160.0]
    frame["bgnbd_expected_purchases"] = [0.5, 1.0, 1.5, 2.0]  # a prediction that differs: kept
    assert event_value(frame)[1] != "spend_180d"
