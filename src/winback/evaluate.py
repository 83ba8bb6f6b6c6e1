"""Metrics and curves for a scored cutoff."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (average_precision_score, brier_score_loss, log_loss,
                             precision_recall_curve, roc_auc_score, roc_curve)


def lift_at(y: np.ndarray, p: np.ndarray, share: float) -> float:
    """Positive rate among the top `share` of customers by score, over the base rate."""
    n = max(1, int(round(len(p) * share)))
    top = np.argsort(-p, kind="stable")[:n]
    return float(y[top].mean() / max(y.mean(), 1e-12))


def rank_and_decile(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (1 = highest score, ties in input order) and decile (1 = top tenth) per row."""
    order = np.argsort(-np.asarray(p), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    return rank, np.minimum(10, (rank - 1) * 10 // max(len(order), 1) + 1)


def decile_edges(p: np.ndarray) -> list[float]:
    """Scores at the 90th, 80th, ... 10th percentile of a tested population, stored in the
    bundle so a service can place one new score among them (`decile_of`)."""
    return [float(v) for v in np.quantile(np.asarray(p, dtype=float), np.arange(0.9, 0.0, -0.1))]


def decile_of(p: np.ndarray, edges: list[float]) -> np.ndarray:
    """1 + how many edges lie above each score: 1 = the top tenth of that population."""
    descending = -np.asarray(edges, dtype=float)
    return np.searchsorted(descending, -np.asarray(p, dtype=float), side="left") + 1


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def _cuts(p: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Every place a threshold can cut the scores, best first, keeping ties whole: the score
    at the cut, how many customers it flags and (given outcomes `y`) how many positives."""
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    flagged = np.flatnonzero(last_of_tie) + 1
    found = np.cumsum(y[order])[last_of_tie] if y is not None else None
    return ranked[last_of_tie], flagged, found


def choose_threshold(y: np.ndarray, p: np.ndarray, train) -> float:
    """The decision threshold on held-out scores `p` with outcomes `y`, by `train.threshold_rule`
    (a fixed `train.threshold` wins): the F1-best; the highest that still finds
    `target_recall` of the positives; the score of the top `contact_share` of customers (a
    campaign that can reach that many); the one that maximises `value_per_positive` per
    flagged positive minus `cost_per_contact` per flagged customer (above every score, so
    nobody is flagged, when no cut pays); or the one that gets the most customers right, the
    highest of equals (accuracy: where a calibrated model's 0.5 is only right on average)."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    rule = train.threshold_rule
    if train.threshold:
        return float(train.threshold)
    if rule == "f1":
        return best_f1_threshold(y, p)
    if rule == "contacts":
        return contact_threshold(p, train.contact_share)
    cuts, flagged, found = _cuts(p, y)
    if rule == "recall":
        enough = found >= train.target_recall * max(int(y.sum()), 1)
        return float(cuts[int(np.argmax(enough))])
    if rule == "profit":
        profit = train.value_per_positive * found - train.cost_per_contact * flagged
        return float(cuts[int(np.argmax(profit))]) if profit.max() > 0 else float(np.nextafter(cuts[0], np.inf))
    if rule == "accuracy":  # flagged positives plus unflagged negatives
        negatives = len(y) - int(y.sum())
        right = found + negatives - (flagged - found)
        return float(cuts[int(np.argmax(right))]) if right.max() > negatives else float(np.nextafter(cuts[0], np.inf))
    raise ValueError(f"unknown threshold rule {rule!r}")


def contact_threshold(p: np.ndarray, share: float) -> float:
    """The score of the top `share` of these customers, ties kept whole (fewer rather than
    more than the budget); it reads scores only, so it is set on whichever population is
    scored, as a campaign would be."""
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return 0.5
    cuts, flagged, _ = _cuts(p)
    within = flagged <= max(1, int(round(share * len(p))))
    return float(cuts[np.flatnonzero(within)[-1]]) if within.any() else float(cuts[0])


def threshold_on(p: np.ndarray, train, chosen: float) -> float:
    """The threshold for scores `p` of another population than the one `chosen` was set on:
    a contact budget is a share of whoever is scored; every other rule keeps its value."""
    if train.threshold_rule == "contacts" and not train.threshold:
        return contact_threshold(p, train.contact_share)
    return chosen


def decision_entry(train, threshold: float) -> dict:
    """What a bundle keeps of its decision rule, so that scoring flags the same customers:
    a contact budget stays a share of whoever is scored, every other rule a probability."""
    rule = "fixed" if train.threshold else train.threshold_rule
    return {"rule": rule, "threshold": float(threshold),
            "contact_share": float(train.contact_share) if rule == "contacts" else None}


def decision_of(manifest: dict) -> dict:
    """A bundle's decision rule; bundles written before rules existed used their threshold."""
    return manifest.get("decision") or {"rule": "f1", "threshold": float(manifest["threshold"]),
                                        "contact_share": None}


def flags(p: np.ndarray, rank: np.ndarray, decision: dict) -> np.ndarray:
    """Which scored customers to act on: the top `contact_share` by rank (an exact count, ties
    broken by rank) for a contact budget, probability at or above the threshold otherwise."""
    if decision.get("rule") == "contacts":
        return np.asarray(rank) <= max(1, round(decision["contact_share"] * len(rank)))
    return np.asarray(p, dtype=float) >= decision["threshold"]


def flag_sql(decision: dict) -> str:
    """`flags` as a SQL expression over columns probability, rank and n (the row count)."""
    if decision.get("rule") == "contacts":
        return f"rank <= GREATEST(1, ROUND({float(decision['contact_share'])!r} * n))"
    return f"probability >= {float(decision['threshold'])!r}"


def threshold_rule_text(train) -> str:
    """How the decision threshold was chosen, for reports ("... threshold on <where>")."""
    if train.threshold:
        return f"the fixed threshold {train.threshold:g}"
    return {
        "f1": "each model's F1-best threshold",
        "recall": f"the highest threshold that finds {train.target_recall:.0%} of the positives",
        "contacts": f"the score of the top {train.contact_share:.0%} of customers (the contact budget)",
        "profit": (f"the threshold that maximises {train.value_per_positive:g} per flagged positive "
                   f"minus {train.cost_per_contact:g} per flagged customer"),
        "accuracy": "the threshold that gets the most customers right",
    }[train.threshold_rule]


def flag_all_note(test: dict, manifest: dict) -> str:
    """A note when the F1-best threshold (the bundle's decision rule, `decision_entry`) flags
    nearly every customer, as it does when most have the outcome (an activity decline of
    90 %): flagging all of them then scores the best F1, and says nothing about whom a
    campaign should reach first. "" otherwise."""
    if (manifest.get("decision") or {}).get("rule") != "f1" or not test.get("n"):
        return ""
    rate = (test["tp"] + test["fn"]) / test["n"]
    if test["flagged_share"] < 0.8 or rate < 0.5:
        return ""
    return (f"{rate:.0%} of the customers have the outcome, so the F1-best threshold flags nearly all of "
            f"them ({test['flagged_share']:.0%}): set train.threshold_rule = \"contacts\" (with "
            f"contact_share, the share a campaign reaches) or \"profit\" to flag the ones to act on first")


def confusion(y, flagged) -> dict[str, float]:
    """How the flagged customers did: precision, recall, F1, the flagged share, and the
    confusion matrix (flagged positives and negatives, missed positives, the rest)."""
    y, flagged = np.asarray(y, dtype=int), np.asarray(flagged, dtype=bool)
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    precision = tp / max(int(flagged.sum()), 1)
    recall = tp / max(int(y.sum()), 1)
    return {"precision": float(precision), "recall": float(recall),
            "f1": float(2 * precision * recall / max(precision + recall, 1e-12)),
            "flagged_share": float(flagged.mean()),
            "tp": tp, "fp": fp, "fn": int(y.sum()) - tp, "tn": int(len(y)) - int(y.sum()) - fp}


def metrics(y, p, threshold: float) -> dict[str, float]:
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    c = confusion(y, p >= threshold)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "precision": c["precision"],
        "recall": c["recall"],
        "f1": c["f1"],
        "lift_10": lift_at(y, p, 0.10),
        "lift_20": lift_at(y, p, 0.20),
        "threshold": float(threshold),
        "flagged_share": c["flagged_share"],
        "tp": c["tp"], "fp": c["fp"], "fn": c["fn"], "tn": c["tn"],
        "base_rate": float(y.mean()),
        "mean_score": float(p.mean()),  # the rate the probabilities expect, beside base_rate
        "n": int(len(y)),
    }


def curves(y, p, bins: int = 10) -> dict[str, list]:
    """ROC, precision-recall, calibration (by decile of score) and cumulative gains."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    fpr, tpr, _ = roc_curve(y, p)
    prec, rec, _ = precision_recall_curve(y, p)
    order = np.argsort(-p, kind="stable")
    gains = np.concatenate([[0], np.cumsum(y[order]) / max(y.sum(), 1)])
    share = np.linspace(0, 1, len(gains))
    idx = np.unique(np.linspace(0, len(gains) - 1, 101).astype(int))
    qs = np.quantile(p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(qs, p, side="right") - 1, 0, bins - 1)
    mean_p = [float(p[which == b].mean()) for b in range(bins) if (which == b).any()]
    mean_y = [float(y[which == b].mean()) for b in range(bins) if (which == b).any()]
    step = max(1, len(fpr) // 400)
    pstep = max(1, len(prec) // 400)
    return {
        "roc": [fpr[::step].tolist(), tpr[::step].tolist()],
        "pr": [rec[::pstep].tolist(), prec[::pstep].tolist()],
        "calibration": [mean_p, mean_y],
        "gains": [share[idx].tolist(), gains[idx].tolist()],
    }


def decile_table(y, p) -> list[dict]:
    """Per score decile (1 = highest scores): customers, mean score, positive rate, lift."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    parts = np.array_split(order, 10)
    base = max(y.mean(), 1e-12)
    return [{"decile": i + 1, "customers": len(ix), "mean_score": float(p[ix].mean()),
             "positive_rate": float(y[ix].mean()), "lift": float(y[ix].mean() / base)}
            for i, ix in enumerate(parts) if len(ix)]


WEAK_ROC_AUC = 0.6  # below it a ranking is close enough to chance to say so
TOO_GOOD_ROC_AUC = 0.99  # customers' next moves are not this predictable: above it, suspect a leak


def weak_signal_note(roc_auc: float, where: str) -> str:
    """A plain warning when the chosen model ranks customers little better than chance
    (ROC-AUC below 0.6 `where`), or nearly perfectly (0.99 and above, which customer
    behaviour does not allow: something in the data carries the outcome), or "" otherwise: a
    leaderboard alone does not tell an analyst that the winner of a weak field is still weak,
    or that a perfect one is too good to be true."""
    if not roc_auc == roc_auc:  # NaN: nothing to say
        return ""
    if roc_auc >= TOO_GOOD_ROC_AUC:
        return (f"The chosen model's ROC-AUC is {roc_auc:.3f} {where}: customers' behaviour is "
                f"not this predictable, so something in the data most likely carries the outcome "
                f"(a column recorded after it, such as a churn reason or a cancellation date, or "
                f"the label itself under another name). Check the data warnings and the feature "
                f"importance, and leave such columns out before trusting its scores.")
    if roc_auc >= WEAK_ROC_AUC:
        return ""
    return (f"The chosen model's ROC-AUC is {roc_auc:.3f} {where}, little better than the 0.5 of "
            f"chance: the features carry little signal for this question on this data. Treat "
            f"its scores as weak evidence; a longer history, another horizon or more columns "
            f"(sessions, products, amounts) may help.")
