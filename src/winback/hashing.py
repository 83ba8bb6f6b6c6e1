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


def row_hashes(keys, X: pd.DataFrame, categorical) -> np.ndarray:
    """A 64-bit hash of each customer's key and values as a model reads them (numbers as
    float64, categories as text): which rows a bundle was fitted on, kept without the rows. A
    later snapshot of the same customer, with other values, hashes otherwise."""
    frame = pd.DataFrame({"__key": pd.Series(keys).astype(str).to_numpy(dtype=object)})
    for c in X.columns:
        values = X[c].reset_index(drop=True)
        frame[c] = (values.astype("string").to_numpy(dtype=object, na_value=None) if c in categorical
                    else pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()
