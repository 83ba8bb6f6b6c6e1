"""Score a customer table with a customer-table bundle: probability, rank, decile, segment,
action and the top three reasons (SHAP) per customer.

What loading and scoring noticed (the table's filters, categories the model was not trained on)
comes back in the frame's `attrs["notes"]`, which `winback score` prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from winback.bundle import load_bundle
from winback.config import Config
from winback.data.tables import CustomerTable, load_customer_table
from winback.drift import Drift, DriftCounter
from winback.errors import ConfigError, DataError
from winback.evaluate import decision_of, flags, rank_and_decile
from winback.segments import SegmentRule, assign, risk_of
from winback.tabular.categories import pooled_categories, trained_categories, unseen_in_frame
from winback.tabular.explain import exact_explainer, explain, top_reasons
from winback.threads import set_model_threads


EXPLAIN_CHUNK = 100  # customers per permutation-SHAP call: a progress line every second or so
FAST_EXPLAIN_CHUNK = 20_000  # with tree or linear SHAP, where each call's set-up is what costs


@dataclass
class Scorable:
    """A customer table read as the bundle's model reads it, with what reading it noticed."""

    manifest: dict
    model: Any
    table: CustomerTable  # as loaded, the model's category columns as text
    frame: pd.DataFrame   # the loaded table, the model's numeric columns as numbers
    X: pd.DataFrame       # the model's columns
    notes: list[str]


def scorable_table(cfg: Config, bundle_dir: Path) -> Scorable:
    """Load the config's table for the bundle's model: its category columns stay text, its
    number columns are numbers (or an error naming the customers), and the notes say which
    categories the model never saw. `winback validate` runs this on a table to score too."""
    manifest, model, _ = load_bundle(bundle_dir)
    if manifest.get("kind") != "customer_table":
        raise ConfigError(f"Bundle '{bundle_dir}' was trained on an event log; score it with an "
                          f"event-log config ([source]), not a customer table.")
    if not cfg.is_table:
        raise ConfigError("This bundle scores customer tables: the config needs [[table.sources]] "
                          "(use the training config, or --dataset).")
    # a column the model learnt as categories stays text, even where today's values all read
    # as numbers ('1' must meet the category '1', not the number 1.0)
    # ... and dates written otherwise than ISO are read in the training file's format, which a
    # few customers' days (all 12 or under) would not tell (older bundles: found again)
    table = load_customer_table(cfg, with_labels=False, categorical=manifest["data"]["categorical"],
                                date_formats=manifest["data"].get("date_formats", {}))
    frame = table.frame
    missing = [c for c in manifest["feature_columns"] if c not in frame.columns]
    if missing:
        raise DataError(f"The customer table lacks column(s) the model was trained on: "
                        f"{', '.join(missing)}.")
    frame = _as_trained(frame, manifest, table.key)
    X = frame[manifest["feature_columns"]]
    notes = list(table.notes) + unseen_in_frame(X, trained_categories(model), pooled_categories(model))
    return Scorable(manifest, model, table, frame, X, notes)


def score_table(cfg: Config, bundle_dir: Path, reasons: bool = True,
                progress: Callable[[str], None] | None = None, keep: Sequence[str] = ()) -> pd.DataFrame:
    """Every row of the customer table scored (rank, decile, flag, segment, reasons), with the
    table's columns named in `keep` beside each score."""
    from winback.score import SCORE_COLUMNS, kept_columns

    set_model_threads(cfg.engine.threads)
    scorable = scorable_table(cfg, bundle_dir)
    manifest, model, frame, X, notes = (scorable.manifest, scorable.model, scorable.frame,
                                        scorable.X, scorable.notes)
    key = scorable.table.key
    keep = kept_columns(keep, [c for c in frame.columns if c != key], "the customer table",
                        taken=(key, *SCORE_COLUMNS[1:])) if keep else []
    p = model.predict_proba(X)[:, 1]
    rank, decile = rank_and_decile(p)
    out = pd.DataFrame({key: frame[key].astype(str), "probability": p, "rank": rank,
                        "decile": decile, "flagged": flags(p, rank, decision_of(manifest))})
    if manifest.get("segments"):
        rule = SegmentRule.from_dict(manifest["segments"]["rule"])
        if rule.value_column not in frame.columns:
            raise DataError(f"The customer table lacks the value column '{rule.value_column}' that "
                            f"segments use.")
        value = frame[rule.value_column].to_numpy(dtype=float)
        segs = assign(rule, risk_of(manifest["problem"]["name"], p), value)
        # the value axis beside the segment it decided, as event-log scores carry it
        out["value"] = value
        out["segment"], out["action"] = segs["segment"].array, segs["action"].array
    if reasons:
        background = pd.read_parquet(Path(bundle_dir) / manifest["background"])
        seed = int(manifest["tuning"]["seed"])
        parts = []
        size = FAST_EXPLAIN_CHUNK if exact_explainer(model) else EXPLAIN_CHUNK
        for start in range(0, len(X), size):
            chunk = X.iloc[start:start + size]
            parts.append(top_reasons(explain(model, chunk, background, seed=seed), chunk))
            if progress:
                progress(f"{min(start + size, len(X)):,}/{len(X):,} customers explained")
        out = pd.concat([out, pd.concat(parts).reset_index(drop=True)], axis=1)
    for name in keep:
        out[name] = frame[name].to_numpy()
    in_sample = _in_training(Path(bundle_dir), manifest, frame[key], X)
    if in_sample:
        notes = [*notes, in_sample]
    out = out.sort_values("rank").reset_index(drop=True)
    out.attrs["notes"] = notes
    drift = _drift(manifest, X, p)
    out.attrs["drift"] = drift.as_dict() if drift is not None else None
    return out


def _in_training(bundle_dir: Path, manifest: dict, keys: pd.Series, X: pd.DataFrame) -> str | None:
    """A note when some rows scored are rows the model was fitted on (the same key and values):
    their scores are in-sample, surer than the test figures vouch for. A later snapshot of the
    same customers has other values, and is new to the model."""
    from winback.hashing import among, row_hashes, trained_rows

    trained = trained_rows(bundle_dir, manifest)
    if trained is None:
        return None
    seen = int(among(row_hashes(keys, X, set(manifest["data"]["categorical"])), trained).sum())
    if not seen:
        return None
    whose = (f"the {len(keys) - seen:,} others and new customers" if seen < len(keys) else "new customers")
    return (f"{seen:,} of the {len(keys):,} customers scored ({seen / len(keys):.0%}) are rows the model "
            f"was trained on: their scores are in-sample (it fitted their outcomes), surer than its "
            f"test figures vouch for; those hold for {whose}.")


def _drift(manifest: dict, X: pd.DataFrame, p) -> Drift | None:
    """The scored rows against the model's test part (None for a bundle trained before winback
    kept it)."""
    ref = manifest.get("drift_reference")
    if not ref:
        return None
    counter = DriftCounter(ref, list(X.columns))
    counter.add(X, p)
    return counter.result()


TRUTH = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}


def _as_trained(frame: pd.DataFrame, manifest: dict, key: str) -> pd.DataFrame:
    """The columns the model read as numbers, as numbers: a true/false column of a Parquet file
    arrives as 'True' / 'False' text from a CSV, an empty column as text; a column that holds
    text here is an error naming the customers (the model would fail on it)."""
    boolean = set(manifest["data"].get("boolean", []))
    copied = False
    for c in manifest["data"]["numeric"]:
        if c not in frame.columns or pd.api.types.is_numeric_dtype(frame[c]):
            continue
        text = frame[c].astype("string").str.strip()
        if c in boolean:
            number = text.str.lower().map(TRUTH).astype("Float64")
        else:
            number = pd.to_numeric(text, errors="coerce").astype("Float64")
        bad = text.notna() & number.isna()
        if bad.any():
            shown = frame.loc[bad, [key, c]].head(5)
            examples = ", ".join(f"{k} ({v!r})" for k, v in zip(shown[key], shown[c]))
            kind = "true / false (or 1 / 0)" if c in boolean else "numbers"
            raise DataError(f"Column '{c}' held {kind} in the training table, but {int(bad.sum()):,} "
                            f"customer(s) here have other values: {examples}. Fix them, or leave "
                            f"them empty to score as unknown.")
        if not copied:  # the loaded table stays as loaded
            frame, copied = frame.copy(), True
        frame[c] = number.astype("float64")
    return frame
