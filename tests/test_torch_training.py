"""The networks' optimiser updates all parameters with multi-tensor ops (`foreach`): the same
numbers as torch's per-parameter loop, which the benchmarks' figures were measured with."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from winback.models import torch_support  # noqa: E402


def per_parameter_adam(params, **options):
    """torch's default Adam on CPU: a Python loop over the parameters."""
    return torch.optim.Adam(params, foreach=False, **options)


def test_adam_is_multi_tensor():
    opt = torch_support.adam([torch.nn.Parameter(torch.zeros(3))], lr=0.1)
    assert opt.defaults["foreach"] is True


def test_mlp_fits_the_same_with_either_adam(monkeypatch):
    from winback.tabular import mlp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 12)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=3000) > 0.4).astype(float)
    fast = mlp.MLPClassifier(layers=2, units=32, l2=1e-3, max_epochs=6, patience=100, seed=2).fit(X, y)
    monkeypatch.setattr(mlp, "adam", per_parameter_adam)
    loop = mlp.MLPClassifier(layers=2, units=32, l2=1e-3, max_epochs=6, patience=100, seed=2).fit(X, y)
    assert np.array_equal(fast.predict_proba(X), loop.predict_proba(X))
