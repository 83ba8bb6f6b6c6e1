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
