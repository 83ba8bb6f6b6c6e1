"""`winback train` / `winback score` for the next-event problem (problem.name = "next_event").

Training samples are events before the test cutoff, test samples events from it on (the last
`horizon_days` of the log by default); a tenth of the training sessions, chosen by a stable hash,
are held out for early stopping and model choice (lowest validation log loss). Beside the
chosen model a LightGBM estimates P(purchase later in the session), the churn alert: a live
session whose chance of a purchase falls below `problem.churn_threshold` is flagged.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.markup import escape

from winback import __version__
from winback.bundle import BUNDLE_FORMAT, MANIFEST, read_manifest, write_atomic_dir, write_atomic_file
from winback.config import Config, parse_date
from winback.data.canonical import EventLog, load_events
from winback.errors import ConfigError, DataError
from winback.hashing import stable_unit
from winback.labels import check_log_fits_problem, observed_end
from winback.nextevent import models as ne
from winback.nextevent.dataset import CLASSES, Vocabulary, samples_table, to_samples
from winback.progress import Steps
from winback.threads import set_model_threads

VALID_SHARE = 0.1


def _require_sessions(log: EventLog) -> None:
    missing = [c for c in ("session_id", "event_type") if c not in log.available]
    if missing:
        raise ConfigError(f"The next_event problem needs {' and '.join(missing)} in the source "
                          f"(map them in [source.columns], or use the rees46 layout).")


def train_next_event(cfg: Config, *, steps: Steps | None = None, log: EventLog | None = None,
                     report: bool = True) -> Any:
    from winback.train import TrainResult, say_data_warnings

    set_model_threads(cfg.engine.threads)
    steps = steps or Steps()
    cfg.output_dir(create=False)  # a bad output folder stops the run now, not after training
    p, t = cfg.problem, cfg.train
    if log is None:
        with steps.step(f"Reading and validating {cfg.source.path}"):
            log = load_events(cfg)
    say_data_warnings(log, steps)
    for note in cfg.candidate_notes:
        steps.note(f"[yellow]note:[/] {escape(note)}")
    _require_sessions(log)
    check_log_fits_problem(p, log)
    end = observed_end(log.end)
    cutoff = parse_date(p.test_cutoff, "problem.test_cutoff") if p.test_cutoff else \
        end - dt.timedelta(days=p.horizon_days)
    if not log.start < cutoff < end:
        raise DataError(f"The test cutoff {cutoff:%Y-%m-%d} is outside the data ({log.start:%Y-%m-%d} "
                        f"to {log.end:%Y-%m-%d}); set problem.test_cutoff or a shorter horizon_days.")
    k = p.sequence_length
    clock = cfg.features.clock(cfg.source.timezone)  # the hour and weekday the shop sees
    row_clock = cfg.features.row_clock(cfg.source)  # or each event's own, where rows name zones
    with steps.step(f"Session samples (last {k} events) before and after {cutoff:%Y-%m-%d}"):
        train_frame = samples_table(log.table, k, end=cutoff, timezone=clock, row_clock=row_clock).execute()
        test_frame = samples_table(log.table, k, start=cutoff, timezone=clock, row_clock=row_clock).execute()
    if len(train_frame) < 100 or len(test_frame) < 10:
        raise DataError(f"Too few session events: {len(train_frame):,} before and {len(test_frame):,} "
                        f"after the test cutoff {cutoff:%Y-%m-%d}.")
    vocab = Vocabulary().fit(train_frame, k)
    samples, test = to_samples(train_frame, k, vocab), to_samples(test_frame, k, vocab)
    u = stable_unit(samples.session, t.seed)
    cap = min(1.0, p.max_train_samples / len(samples))  # whole sessions, drawn by the same hash
    is_valid = u < VALID_SHARE * cap
    train = samples.subset(np.where(~is_valid & (u < cap))[0])
    valid = samples.subset(np.where(is_valid)[0])
    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, Any] = {}
    for name in cfg.candidates:
        with steps.step(f"Fitting {name}"):
            model = ne.make(name, t.seed).fit(train, valid)
            fitted[name] = model
            results[name] = {"valid": ne.evaluate(valid.target, model.predict_proba(valid)),
                             "test": ne.evaluate(test.target, model.predict_proba(test)),
                             "parameters": model.parameter_count() if hasattr(model, "parameter_count") else None}
    best = min(results, key=lambda n: results[n]["valid"]["log_loss"])
    with steps.step("Fitting the purchase-in-session model (churn alert)"):
        churn = ne.PurchaseInSession(seed=t.seed).fit(train, valid)
        from sklearn.metrics import roc_auc_score

        p_buy = churn.predict(test)
        churn_metrics = {"roc_auc": float(roc_auc_score(test.purchase_later, p_buy))
                         if len(np.unique(test.purchase_later)) == 2 else None,
                         "base_rate": float(test.purchase_later.mean()),
                         "threshold": p.churn_threshold,
                         "flagged_share": float((p_buy < p.churn_threshold).mean()),
                         "purchase_rate_flagged": float(test.purchase_later[p_buy < p.churn_threshold].mean())
                         if (p_buy < p.churn_threshold).any() else None}
    board = pd.DataFrame([{"candidate": n, **{m: r["test"][m] for m in ("accuracy", "macro_f1", "purchase_recall", "log_loss")},
                           "valid_log_loss": r["valid"]["log_loss"], "parameters": r["parameters"]}
                          for n, r in results.items()]).sort_values("valid_log_loss").reset_index(drop=True)
    manifest = {
        "winback_version": __version__, "kind": "next_event",
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "problem": vars(p).copy(), "source": dict(vars(cfg.source)), "fingerprint": log.fingerprint,
        "test_cutoff": cutoff.isoformat(), "classes": list(CLASSES), "k": k, "timezone": clock, "row_clock": row_clock,
        "vocabulary": vocab.values, "best": best,
        "selection": "lowest log loss on held-out sessions before the test cutoff",
        "samples": {"train": len(train), "valid": len(valid), "test": len(test)},
        "leaderboard": [{**r, "parameters": None if pd.isna(r["parameters"]) else int(r["parameters"])}
                        for r in board.to_dict(orient="records")],
        "candidates": results, "churn": churn_metrics,
    }
    out = cfg.output_dir()

    def fill(tmp: Path) -> None:
        entry = {"name": best, **fitted[best].save(tmp, best)}
        churn_entry = churn.save(tmp, "purchase_in_session")
        (tmp / MANIFEST).write_text(json.dumps({**manifest, "format": BUNDLE_FORMAT, "model": entry,
                                                "churn_model": churn_entry}, indent=2, default=str))

    with steps.step("Writing the model bundle"):
        bundle_dir = write_atomic_dir(out / "bundle", fill)
    report_path = None
    if report:
        with steps.step("Writing the report"):
            report_path = write_report(out / "report.html", manifest)
    return TrainResult(board, best, bundle_dir, report_path, manifest, {}, None, {})


def write_report(path: Path, manifest: dict[str, Any]) -> Path:
    from winback.report import _env

    html = _env().get_template("next_event_report.html.j2").render(
        m=manifest, best=manifest["best"], best_test=manifest["candidates"][manifest["best"]]["test"])
    return write_atomic_file(Path(path), lambda tmp: tmp.write_text(html, encoding="utf-8"))


def load_next_event_bundle(path: Path):
    """(manifest, next-event model, purchase-in-session model) of a checked bundle."""
    manifest = read_manifest(path)
    if manifest.get("kind") != "next_event":
        raise ConfigError(f"Bundle '{path}' is not a next-event bundle.")
    model = ne.load(Path(path), manifest["model"])
    churn = ne.PurchaseInSession.load(Path(path), manifest["churn_model"])
    return manifest, model, churn


def score_next_event(cfg: Config, bundle_dir: Path, cutoff: str | None = None,
                     log: EventLog | None = None) -> pd.DataFrame:
    """Live sessions at the cutoff (last event within problem.session_timeout_minutes): next-event
    probabilities, the most likely next event, P(purchase in the session) and the alert flag."""
    manifest, model, churn = load_next_event_bundle(bundle_dir)
    log = log or load_events(cfg)
    _require_sessions(log)
    # "now" is just after the last event: sessions are minutes long, a day boundary is too coarse
    when = parse_date(cutoff, "--cutoff") if cutoff else log.end + dt.timedelta(seconds=1)
    k = int(manifest["k"])
    frame = samples_table(log.table, k, end=when, timezone=manifest.get("timezone", "UTC"),
                          row_clock=bool(manifest.get("row_clock", False))).execute()
    timeout = dt.timedelta(minutes=int(manifest["problem"]["session_timeout_minutes"]))
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True).dt.tz_localize(None)
    live = frame[frame["event_time"] >= when - timeout]
    live = live.sort_values("position").groupby("session_id", sort=False).tail(1)
    if live.empty:
        raise DataError(f"No session has an event in the {timeout} before {when:%Y-%m-%d %H:%M}: "
                        f"nothing to score. Pass --cutoff inside the data.")
    s = to_samples(live.assign(target="end", purchase_later=0), k, Vocabulary(manifest["vocabulary"]))
    probs = model.predict_proba(s)
    p_buy = churn.predict(s)
    out = pd.DataFrame({"session_id": live["session_id"].astype(str).to_numpy(),
                        "customer_id": live["customer_id"].to_numpy(),
                        "last_event_time": live["event_time"].to_numpy()})
    for i, c in enumerate(CLASSES):
        out[f"p_{c}"] = probs[:, i]
    out["next_event"] = [CLASSES[i] for i in probs.argmax(axis=1)]
    out["p_purchase_in_session"] = p_buy
    out["churn_alert"] = p_buy < float(manifest["problem"]["churn_threshold"])
    return out.sort_values("p_purchase_in_session").reset_index(drop=True)
