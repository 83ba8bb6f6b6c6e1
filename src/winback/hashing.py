"""Stable pseudo-random numbers per id: the same id and seed give the same number in every run
and at every cutoff, so held-out customers or sessions stay held out."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def stable_unit(ids, seed: int) -> np.ndarray:
    """A number in [0, 1) per row, from a hash of (seed, id); each distinct id is hashed once."""
    def unit(x: object) -> float:
        digest = hashlib.blake2b(f"{seed}:{x}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    values = np.asarray(ids)
    unique = pd.unique(values)
    return pd.Series([unit(x) for x in unique], index=unique).reindex(values).to_numpy()
