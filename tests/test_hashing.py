"""Row hashes: which rows a customer-table bundle was trained on, kept without the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from winback.hashing import hash_rows, row_hashes


def _pandas_way(keys, X: pd.DataFrame, categorical) -> np.ndarray:
    """How bundles before this version hashed their training rows: pandas' own frame hash."""
    frame = pd.DataFrame({"__key": pd.Series(keys).astype(str).to_numpy(dtype=object)})
    for c in X.columns:
        frame[c] = (X[c].astype("string").to_numpy(dtype=object, na_value=None) if c in categorical
                    else pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def test_the_hashes_are_pandas_own_for_many_rows_and_for_one():
    """Bundles written before keep pandas' hashes: the fast way must give the same numbers,
    with missing numbers and categories, Cyrillic text and integer-valued floats."""
    rng = np.random.default_rng(4)
    n = 500
    X = pd.DataFrame({
        "Тип сервиса": rng.choice(["стандарт", "премиум", None], n),
        "revenue": np.where(rng.random(n) < 0.1, np.nan, rng.normal(5000, 800, n).round(1)),
        "visits": rng.integers(0, 20, n).astype(float),
        "store": rng.choice(["1", "2", "7"], n),
    })
    keys = [f"{i:05d}" for i in range(n)]
    categorical = {"Тип сервиса", "store"}
    expected = _pandas_way(keys, X, categorical)
    assert (row_hashes(keys, X, categorical) == expected).all()  # numpy's path
    for i in (0, 3, 17):  # one customer at a time: the service's path
        one = {c: X[c].iloc[i:i + 1].astype("string").to_numpy(dtype=object, na_value=None) if c in categorical
               else X[c].iloc[i:i + 1].to_numpy(dtype=float) for c in X.columns}
        assert hash_rows([keys[i]], list(X.columns), one, categorical)[0] == expected[i]


def test_another_value_or_id_hashes_otherwise():
    X = pd.DataFrame({"a": [1.0, 1.0, 2.0], "b": ["x", "x", "x"]})
    h = row_hashes(["k1", "k2", "k1"], X, {"b"})
    assert len(set(h.tolist())) == 3
