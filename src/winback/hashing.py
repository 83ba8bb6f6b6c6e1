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


NULL_HASH = np.uint64(np.iinfo(np.uint64).max)  # what pandas gives a missing category


def row_hashes(keys, X: pd.DataFrame, categorical) -> np.ndarray:
    """A 64-bit hash of each customer's key and values as a model reads them (numbers as
    float64, categories as text): which rows a bundle was fitted on, kept without the rows. A
    later snapshot of the same customer, with other values, hashes otherwise."""
    data = {c: (X[c].astype("string").to_numpy(dtype=object, na_value=None) if c in categorical
                else pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float)) for c in X.columns}
    return hash_rows(keys, list(X.columns), data, categorical)


def trained_rows(bundle_dir, manifest: dict) -> np.ndarray | None:
    """The hashes of the rows a customer-table bundle was fitted on, sorted (None for a bundle
    trained before winback kept them)."""
    from pathlib import Path

    if not manifest.get("training_rows"):
        return None
    return np.sort(pd.read_parquet(Path(bundle_dir) / manifest["training_rows"])["row_hash"].to_numpy())


def among(hashes: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """Which `hashes` are in `trained` (sorted, as `trained_rows` gives them)."""
    if not len(trained):
        return np.zeros(len(hashes), dtype=bool)
    where = np.minimum(np.searchsorted(trained, hashes), len(trained) - 1)
    return trained[where] == hashes


def hash_rows(keys, columns: list[str], data: dict, categorical) -> np.ndarray:
    """`row_hashes` from each column's values (categories as text or None, numbers as floats):
    the values of pandas' hash_pandas_object over the frame [key, *columns], which bundles keep,
    computed with one hash_array call for all the numbers and one for all the texts, so that the
    service can hash one customer in tens of microseconds (the frame's way took 7 ms)."""
    n = len(keys)
    text_columns = [c for c in columns if c in categorical]
    number_columns = [c for c in columns if c not in categorical]
    texts = np.empty((n, len(text_columns) + 1), dtype=object)
    texts[:, 0] = [str(k) for k in keys]
    for j, c in enumerate(text_columns, start=1):
        texts[:, j] = list(data[c])
    missing = np.equal(texts, None)
    text_hashes = pd.util.hash_array(np.where(missing, "", texts).ravel(), categorize=False).reshape(texts.shape)
    text_hashes[missing] = NULL_HASH
    numbers = np.empty((n, len(number_columns)))
    for j, c in enumerate(number_columns):
        numbers[:, j] = np.asarray(data[c], dtype=float)
    number_hashes = pd.util.hash_array(numbers.ravel()).reshape(numbers.shape)
    at = {c: text_hashes[:, j] for j, c in enumerate(text_columns, start=1)}
    at.update({c: number_hashes[:, j] for j, c in enumerate(number_columns)})
    return _combine([text_hashes[:, 0], *(at[c] for c in columns)])


def _combine(arrays: list[np.ndarray]) -> np.ndarray:
    """pandas' way of combining a frame's column hashes into a row's (combine_hash_arrays);
    a few rows (a service's request) in Python integers, where a numpy call per column and
    operation cost most of the hash."""
    count = len(arrays)
    if len(arrays[0]) <= 8:
        mask = (1 << 64) - 1
        rows = []
        for r in range(len(arrays[0])):
            out, mult = 0x345678, 1000003
            for i, a in enumerate(arrays):
                inverse = count - i
                out = ((out ^ int(a[r])) * mult) & mask
                mult += 82520 + inverse + inverse
            rows.append((out + 97531) & mask)
        return np.array(rows, dtype=np.uint64)
    mult = np.uint64(1000003)
    out = np.zeros_like(arrays[0]) + np.uint64(0x345678)
    for i, a in enumerate(arrays):
        inverse = count - i
        out ^= a
        out *= mult
        mult += np.uint64(82520 + inverse + inverse)
    return out + np.uint64(97531)
