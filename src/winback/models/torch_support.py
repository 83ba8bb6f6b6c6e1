"""PyTorch is optional (the `deep` extra): every network imports it through here, so a missing
install is one clear message naming what needs it."""

from __future__ import annotations


def require_torch(what: str):
    """The torch module, or an ImportError saying that `what` needs it and how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"{what} need PyTorch: pip install 'winback[deep]' (torch==2.13.0).") from exc
    return torch


def adam(params, **options):
    """torch.optim.Adam updating all parameters with one multi-tensor op per step of the update
    (`foreach`), where on CPU torch's default loops over them in Python: the same numbers (the
    MLP's fitted predictions are bit for bit equal, tested), and a small network's step about a
    fifth faster (2 layers of 64 on 20,000 rows: 1.30 s against 1.65 s for 15 epochs)."""
    torch = require_torch("Training a network")
    return torch.optim.Adam(params, foreach=True, **options)
