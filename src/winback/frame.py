"""The modelling frame at a cutoff: population, label, features and BG/NBD features."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from winback.config import ProblemConfig
from winback.data.canonical import EventLog
from winback.errors import DataError
from winback.features import FeatureSpec, build_features
from winback.features.monthly import PREFIX as MONTHLY_PREFIX
from winback.labels import Cutoff, check_labels, label_table, population_table
from winback.models.bgnbd import BGNBD, summarize_features

ID_COLUMNS = ("customer_id", "label", "cutoff", "label_window_days")


def feature_spec_for(log: EventLog, windows_days, trend_window_days: int, bgnbd: bool,
                     sequence_months: int = 0, timezone: str = "UTC", row_clock: bool = False) -> FeatureSpec:
    return FeatureSpec(windows_days=tuple(windows_days), trend_window_days=trend_window_days,
                       available=tuple(sorted(log.available)), bgnbd=bgnbd,
                       sequence_months=sequence_months, timezone=timezone, row_clock=row_clock)


def fit_population_bgnbd(features: pd.DataFrame) -> BGNBD | None:
    """BG/NBD on every buyer at a cutoff; None when too few have bought (fewer than 10 with a
    purchase before the cutoff's last day, as at a cutoff days after the log starts): the
    BG/NBD features are then missing, which every candidate reads as unknown."""
    buyers = features[features["purchase_days"] > 0]
    model = BGNBD()  # for features, not reasons: no reference customers to draw
    try:
        return model.fit_summary(*summarize_features(buyers, model.time_unit_days))
    except ValueError:
        return None


BGNBD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_purchases", "bgnbd_p_purchase")


def add_bgnbd_features(frame: pd.DataFrame, model: BGNBD | None) -> pd.DataFrame:
    """P(alive), expected purchases and P(purchase) over each row's label window as features,
    from BG/NBD fitted on every buyer at this cutoff (unsupervised, point-in-time), or a
    population fit stored in the bundle (a service scoring one customer has no population to
    fit on); NaN when there is no fit."""
    out = frame.copy()
    if model is None:
        for c in BGNBD_FEATURES:
            out[c] = np.nan
        return out
    has = out["purchase_days"].fillna(0) > 0
    extra = model.transform(out.loc[has])
    for c in extra.columns:
        out[c] = np.nan
        out.loc[has, c] = extra[c]
    return out


def feature_tables(log: EventLog, when: dt.datetime, spec: FeatureSpec) -> list[ibis.Table]:
    """The feature expressions of the log: one, or one per file when the source is partitioned
    by customer (a customer's features read that customer's events only, so each file's are
    exact, and a file needs a file's memory where the whole log would spill)."""
    return [build_features(t, when, spec) for t in (log.parts or (log.table,))]


def features_of(log: EventLog, when: dt.datetime, spec: FeatureSpec) -> pd.DataFrame:
    """One row per customer with history before `when`, file by file when partitioned."""
    frames = [t.execute() for t in feature_tables(log, when, spec)]
    feats = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if log.parts:
        check_one_file_per_customer(feats["customer_id"], log.source_name)
    return feats


def check_one_file_per_customer(ids, source_name: str) -> None:
    """A customer found in two files breaks source.partitioned_by_customer: each file's
    features would hold part of the customer's history."""
    ids = pd.Series(ids)
    twice = ids[ids.duplicated()]
    if len(twice):
        raise DataError(
            f"{source_name}: customer {twice.iloc[0]!r} (and {len(twice) - 1:,} more) has events in "
            f"more than one file, so source.partitioned_by_customer = true would split their "
            f"histories. Write the files partitioned by customer (e.g. Spark's "
            f"repartition(n, 'customer_id')), or remove the setting.")


def build_frame(log: EventLog, cutoff: Cutoff, problem: ProblemConfig, spec: FeatureSpec,
                with_labels: bool = True, bgnbd: BGNBD | None = None,
                fitted: dict | None = None) -> pd.DataFrame:
    """One row per customer in the population at the cutoff. Labels only when asked; BG/NBD
    features from `bgnbd` when given, else from a fit on this cutoff's buyers, which is put in
    `fitted["bgnbd"]` when a dict is passed (training keeps the test cutoff's fit for serving)."""
    feats = features_of(log, cutoff.time, spec)
    if with_labels:
        pop = label_table(log.table, cutoff, problem).execute()
        check_labels(pop, cutoff, problem)
    else:
        pop = population_table(log.table, cutoff.time, problem).execute()
    if spec.bgnbd:
        bgnbd = bgnbd or fit_population_bgnbd(feats)
        if fitted is not None:
            fitted["bgnbd"] = bgnbd
    frame = finish_frame(pop.merge(feats, on="customer_id", how="left"), cutoff, spec, bgnbd)
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def finish_frame(frame: pd.DataFrame, cutoff: Cutoff, spec: FeatureSpec,
                 bgnbd: BGNBD | None) -> pd.DataFrame:
    """Population rows joined to their features -> model rows: empty months are zero activity,
    the label window and cutoff, BG/NBD features (from `bgnbd`, NaN without one). Works on any
    chunk of customers, so batch scoring can stream."""
    monthly = [c for c in frame.columns if c.startswith(MONTHLY_PREFIX)]
    frame[monthly] = frame[monthly].fillna(0)  # no event in a month is zero activity
    frame["label_window_days"] = cutoff.window_days
    frame["cutoff"] = cutoff.time
    if spec.bgnbd:
        frame = add_bgnbd_features(frame, bgnbd)
    return frame


def population_models(frame: pd.DataFrame, bgnbd: BGNBD | None) -> dict:
    """The population fits a single customer is scored with, as plain numbers: BG/NBD (for
    its features) and Gamma-Gamma (for predicted spend), both from one cutoff's history."""
    from winback.models.gamma_gamma import GammaGamma

    gamma_gamma = None
    if "avg_order_value" in frame.columns:
        gamma_gamma = GammaGamma.fit_or_none(frame["n_orders"].to_numpy(dtype=float),
                                             frame["avg_order_value"].to_numpy(dtype=float))
    return {"bgnbd": bgnbd.to_dict() if bgnbd is not None else None,
            "gamma_gamma": gamma_gamma.params_ if gamma_gamma is not None else None}


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Model inputs: every numeric column that is not an id, the label or the window."""
    return [c for c in frame.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]


def score_cutoff(time: dt.datetime, horizon_days: int) -> Cutoff:
    return Cutoff(time, time + dt.timedelta(days=horizon_days), "score")
