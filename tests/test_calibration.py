"""Platt scaling with a window term, for labels that cover fewer days than the horizon."""

from __future__ import annotations

import numpy as np
import pytest

from winback.models.calibration import PlattCalibrator, WindowCalibration, fit_window_platt

WINDOWS = np.array([91, 119, 147, 175, 203])


def _draw(seed: int, c: float, n: int = 200_000):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    w = rng.choice(WINDOWS, n)
    s = 1.2 * z - 1.5 + c * np.log(w)
    y = (rng.random(n) < 1 / (1 + np.exp(-s))).astype(int)
    return 1 / (1 + np.exp(-z)), y, w


def test_the_window_term_is_recovered():
    a, b, c = fit_window_platt(*_draw(1, 0.4))
    assert a == pytest.approx(1.2, abs=0.03) and c == pytest.approx(0.4, abs=0.08)
    # what matters is the probability it gives at the horizon, past the windows it saw
    assert b + c * np.log(273) == pytest.approx(-1.5 + 0.4 * np.log(273), abs=0.05)


def test_a_longer_window_never_lowers_the_probability():
    """Data whose outcomes fall with the window (noise, or a cohort effect) gets no window term,
    not a negative one: the horizon's probabilities are then those of the windows seen."""
    p, y, w = _draw(2, -0.3)
    assert fit_window_platt(p, y, w)[2] == 0.0


def test_a_threshold_moved_to_the_horizon_flags_the_same_customers():
    p, y, w = _draw(3, 0.4, n=20_000)
    window = WindowCalibration.fit(p, y, w)
    short, long = window.at(91), window.at(273)
    assert isinstance(long, PlattCalibrator) and long.to_dict()["window"]["days"] == 273
    assert (long.transform(p) > short.transform(p)).all()  # more days, more outcomes
    for t in (0.05, 0.2, 0.5, 0.9):
        moved = window.moved(t, 91, 273)
        same = (short.transform(p) >= t) == (long.transform(p) >= moved)
        assert same.mean() > 0.9999  # all but a score within rounding of the cut
    # the stored calibrator reads back as a plain Platt one (scoring needs nothing more)
    again = PlattCalibrator.from_dict(long.to_dict())
    assert np.allclose(again.transform(p), long.transform(p), atol=0, rtol=0)
