"""The modelling frame at a cutoff: population, label, features and BG/NBD features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from winback.config import ProblemConfig
from winback.data.canonical import EventLog
from winback.features import FeatureSpec, build_features
from winback.features.monthly import PREFIX as MONTHLY_PREFIX
from winback.labels import Cutoff, check_labels, label_table, population_table
from winback.models.bgnbd import BGNBD

ID_COLUMNS = ("customer_id", "label", "cutoff", "label_window_days")


def feature_spec_for(log: EventLog, windows_days, trend_window_days: int, bgnbd: bool,
                     sequence_months: int = 0) -> FeatureSpec:
    return FeatureSpec(windows_days=tuple(windows_days), trend_window_days=trend_window_days,
                       available=tuple(sorted(log.available)), bgnbd=bgnbd,
                       sequence_months=sequence_months)


def add_bgnbd_features(frame: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD fitted on every buyer at this cutoff (unsupervised, point-in-time), then P(alive),
    expected purchases and P(purchase) over each row's label window as features."""
    buyers = features[features["purchase_days"] > 0]
    out = frame.copy()
    if len(buyers) < 10:
        for c in ("bgnbd_p_alive", "bgnbd_expected_purchases", "bgnbd_p_purchase"):
            out[c] = np.nan
        return out
    model = BGNBD().fit(buyers)
    has = out["purchase_days"].fillna(0) > 0
    extra = model.transform(out.loc[has])
    for c in extra.columns:
        out[c] = np.nan
        out.loc[has, c] = extra[c]
    return out


def build_frame(log: EventLog, cutoff: Cutoff, problem: ProblemConfig, spec: FeatureSpec,
                with_labels: bool = True) -> pd.DataFrame:
    """One row per customer in the population at the cutoff. Labels only when asked."""
    feats = build_features(log.table, cutoff.time, spec).execute()
    if with_labels:
        pop = label_table(log.table, cutoff, problem).execute()
        check_labels(pop, cutoff, problem)
    else:
        pop = population_table(log.table, cutoff.time, problem).execute()
    frame = pop.merge(feats, on="customer_id", how="left")
    monthly = [c for c in frame.columns if c.startswith(MONTHLY_PREFIX)]
    frame[monthly] = frame[monthly].fillna(0)  # no event in a month is zero activity
    frame["label_window_days"] = cutoff.window_days
    frame["cutoff"] = cutoff.time
    if spec.bgnbd:
        frame = add_bgnbd_features(frame, feats)
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Model inputs: every numeric column that is not an id, the label or the window."""
    return [c for c in frame.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]


def score_cutoff(time: dt.datetime, horizon_days: int) -> Cutoff:
    return Cutoff(time, time + dt.timedelta(days=horizon_days), "score")
