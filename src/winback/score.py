"""Score customers with a bundle at a cutoff (default: the end of the data)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from winback.bundle import load_bundle, write_atomic_file
from winback.config import Config, ProblemConfig, parse_date
from winback.data.canonical import EventLog, load_events
from winback.errors import ConfigError, DataError
from winback.evaluate import rank_and_decile
from winback.features import FeatureSpec
from winback.frame import build_frame, score_cutoff
from winback.labels import observed_end
from winback.segments import (PREDICTED_ORDERS, PREDICTED_SPEND, SegmentRule, assign, event_value,
                              risk_of)

OUTPUT_FORMATS = {".parquet": "parquet", ".csv": "csv"}


def score(cfg: Config, bundle_dir: Path, cutoff: str | None = None,
          log: EventLog | None = None) -> pd.DataFrame:
    """customer_id, probability, rank (1 = most likely), decile (1 = top tenth)."""
    manifest, model, calibrator = load_bundle(bundle_dir)
    if manifest.get("kind") == "customer_table":
        raise ConfigError(f"Bundle '{bundle_dir}' was trained on customer tables; score it with "
                          f"the customer-table config ([table]) it was trained with.")
    log = log or load_events(cfg)
    end = observed_end(log.end)
    when = parse_date(cutoff, "--cutoff") if cutoff else end
    if not log.start < when <= end:
        raise DataError(
            f"Scoring cutoff {when:%Y-%m-%d} is outside the data ({log.start:%Y-%m-%d} to "
            f"{log.end:%Y-%m-%d}); features need events before it. Choose a date in that range."
        )
    problem = ProblemConfig(**manifest["problem"])
    spec_d = dict(manifest["feature_spec"])
    columns = spec_d.pop("columns")
    spec = FeatureSpec.from_dict(spec_d)
    frame = build_frame(log, score_cutoff(when, problem.horizon_days), problem, spec, with_labels=False)
    if frame.empty:
        raise DataError(f"No customer qualifies for '{problem.name}' at {when:%Y-%m-%d}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing and model.name != "bgnbd":
        raise DataError(
            f"The data lacks features the model was trained on: {', '.join(missing[:8])}. Score "
            f"with data in the same layout as training (source.layout = '{manifest['source']['layout']}')."
        )
    p = model.predict_proba(frame if model.name == "bgnbd" else frame[columns])[:, 1]
    if calibrator is not None:
        p = calibrator.transform(p)
    rank, decile = rank_and_decile(p)
    out = pd.DataFrame({"customer_id": frame["customer_id"].astype(str), "probability": p,
                        "rank": rank, "decile": decile})
    out["cutoff"] = when
    if manifest.get("segments"):
        rule = SegmentRule.from_dict(manifest["segments"]["rule"])
        named = "" if rule.value_column in (PREDICTED_SPEND, PREDICTED_ORDERS) else rule.value_column
        value, _ = event_value(frame, named)
        segs = assign(rule, risk_of(problem.name, p), value)
        out["value"] = value
        out["segment"], out["action"] = segs["segment"].to_numpy(), segs["action"].to_numpy()
    return out.sort_values("rank").reset_index(drop=True)


def write_scores(scores: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"Cannot write '{path}': use a .parquet or .csv file name.")
    if fmt == "parquet":
        return write_atomic_file(path, lambda tmp: scores.to_parquet(tmp, index=False))
    return write_atomic_file(path, lambda tmp: scores.to_csv(tmp, index=False))


__all__ = ["score", "write_scores"]
