"""kNN's tuning without a neighbour search per trial.

A kNN trial only changes how many neighbours vote and how they are weighted; which training
rows are nearest to a validation row depends on neither. So each fold (and imbalance strategy,
which changes the training rows) searches once for the most neighbours the search space can ask
for, and every trial reads its first k off that sorted list. On 75,000 training customers the
search per trial was most of kNN's 226 s of tuning.

The votes are added in the order scikit-learn adds them (nearest first, 1/distance or 1 each,
only the exact matches where a training row is at distance zero), so a trial's probabilities
are KNeighborsClassifier's own, up to which of several equally distant rows is taken last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NeighbourLists:
    """The nearest training rows of each validation row, nearest first."""

    distance: np.ndarray  # (validation rows, k) float
    positive: np.ndarray  # (validation rows, k) bool: that neighbour's label is 1
    n_fit: int  # training rows searched (after resampling)

    @classmethod
    def search(cls, X_fit: np.ndarray, y_fit: np.ndarray, X_query: np.ndarray, k: int) -> NeighbourLists:
        from sklearn.neighbors import NearestNeighbors

        k = max(1, min(k, len(X_fit)))
        distance, index = NearestNeighbors(n_neighbors=k).fit(X_fit).kneighbors(X_query)
        return cls(distance, np.asarray(y_fit)[index] == 1, len(X_fit))

    @property
    def k(self) -> int:
        return self.distance.shape[1]

    @property
    def nbytes(self) -> int:
        return self.distance.nbytes + self.positive.nbytes

    def proba(self, n_neighbors: int, weights: str) -> np.ndarray:
        """P(label 1) for each validation row, as KNeighborsClassifier(n_neighbors, weights)
        fitted on the searched rows gives it."""
        if n_neighbors > self.k:
            raise ValueError(f"{n_neighbors} neighbours asked of lists of {self.k}")
        distance, positive = self.distance[:, :n_neighbors], self.positive[:, :n_neighbors]
        if weights == "uniform":
            return positive.sum(axis=1) / n_neighbors
        if weights != "distance":
            raise ValueError(f"unknown kNN weights {weights!r}")
        with np.errstate(divide="ignore"):
            w = 1.0 / distance
        exact = distance[:, 0] == 0.0  # sorted, so a row with any zero distance has it first
        w[exact] = distance[exact] == 0.0
        # sequential sums, nearest first, as scikit-learn's vote loop adds them
        for_one = np.cumsum(np.where(positive, w, 0.0), axis=1)[:, -1]
        for_zero = np.cumsum(np.where(positive, 0.0, w), axis=1)[:, -1]
        return for_one / (for_zero + for_one)


def neighbours_needed(n_neighbors: int, n_fit: int) -> int:
    """The neighbours a fit on `n_fit` rows uses, as `fit_model` clips them."""
    return max(1, min(n_neighbors, n_fit - 1))


KEPT_BYTES = 1 << 30  # neighbour lists kept at most: 5 folds x 3 strategies fit up to ~300,000 customers


class FoldNeighbours:
    """Neighbour lists per (fold, imbalance strategy), each searched once for up to `k`
    neighbours (the most the search space asks for) and read by every trial after. Lists past
    `max_bytes` are used once and not kept, so a very large table costs searches, not memory."""

    def __init__(self, k: int, max_bytes: int = KEPT_BYTES):
        self.k = k
        self.max_bytes = max_bytes
        self.lists: dict[tuple[int, str], NeighbourLists] = {}

    @property
    def nbytes(self) -> int:
        return sum(lists.nbytes for lists in self.lists.values())

    def proba(self, key: tuple[int, str], params: dict, rows) -> np.ndarray:
        """P(label 1) of the fold's validation rows; `rows()` gives (X_fit, y_fit, X_validation)
        only when the fold has not been searched yet, or not far enough."""
        lists = self.lists.get(key)
        if lists is None or neighbours_needed(params["n_neighbors"], lists.n_fit) > lists.k:
            X_fit, y_fit, X_query = rows()
            lists = NeighbourLists.search(X_fit, y_fit, X_query, max(self.k, params["n_neighbors"]))
            self.lists.pop(key, None)  # a shorter list, searched for fewer neighbours
            if self.nbytes + lists.nbytes <= self.max_bytes:
                self.lists[key] = lists
        return lists.proba(neighbours_needed(params["n_neighbors"], lists.n_fit), params["weights"])
