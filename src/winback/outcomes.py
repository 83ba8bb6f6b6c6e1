"""How did the customers scored at a cutoff turn out?

A model's test figures are a promise made at training time, on customers of the past. Once
the horizon after a scoring has passed, the event log holds what the scored customers then did,
and the scores file says what the model expected of them: `winback outcomes scores.parquet`
labels those customers exactly as training labels its test cutoff (the same problem, horizon
and population rules, from the bundle that scored them) and measures the scores against it.
A customer table's scores are measured on its label column once the table records it (rows
the model was fitted on are left out: their scores are in-sample).
It says whether the ranking held up as well as its test promised (ROC-AUC, with the chance
spread of both figures), whether the probabilities were right on average and per decile,
how the flagged customers did, and how each segment did: what a team that acted on the scores
needs before it trusts the next batch. It reads the label window after the cutoff, which is
what it is for: an evaluation after the fact, never an input to a model.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from winback.config import Config, ProblemConfig, moment_text, parse_date
from winback.errors import ConfigError, DataError, WinbackError
from winback.results import html_table, text_table

OUTCOME = {  # what a positive label means, for messages: (what they did, what was expected of them)
    "repeat_purchase": ("bought again", "buy again"),
    "return_visit": ("came back", "come back"),
    "first_purchase": ("bought", "buy"),
    "activity_decline": ("slowed down", "slow down"),
}
CHANCE_SDS = 2.0  # a difference of ROC-AUCs within this many standard errors is what chance allows
CALIBRATION_SDS = 3.0  # likewise for the count of outcomes against the sum of the probabilities


@dataclass(repr=False)
class Outcomes:
    """The scores of one cutoff against what happened in the horizon after it.

    `realized`: the metrics of the scores on the outcomes (ROC-AUC, PR-AUC, log loss, Brier,
    lift at 10 and 20 %, base rate; precision, recall and the confusion counts of the
    `flagged` column when the file has it); `tested`: the chosen model's test figures from its
    bundle; `deciles` and `segments`: customers, mean probability and outcome rate per score
    decile and per segment."""

    cutoff: dt.datetime | None  # None for a customer table's scores, which have no date
    window_end: dt.datetime | None
    problem: str
    model: str
    realized: dict[str, float]
    tested: dict[str, float] | None
    deciles: pd.DataFrame
    segments: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    path: Path | None = None  # the JSON written
    page: Path | None = None  # the HTML page written beside it

    @property
    def outcome(self) -> str:
        return OUTCOME.get(self.problem, ("had the outcome", ""))[0]

    def verdict(self) -> tuple[str, str]:
        """(level, text): 'as_tested', 'better' or 'worse' than the model's test ROC-AUC, with
        the chance spread of both figures (Hanley and McNeil's standard error)."""
        r = self.realized
        if self.tested is None:
            return "untested", (f"The scores ranked the customers with ROC-AUC {r['roc_auc']:.3f} on what "
                                f"they did; the bundle keeps no test figures to compare with.")
        t = self.tested
        spread = math.hypot(auc_standard_error(r["roc_auc"], r["positives"], r["negatives"]),
                            auc_standard_error(t["roc_auc"], t["positives"], t["negatives"]))
        gap = r["roc_auc"] - t["roc_auc"]
        both = (f"ROC-AUC {r['roc_auc']:.3f} on what the customers did, against {t['roc_auc']:.3f} "
                f"when the model was tested")
        if abs(gap) <= CHANCE_SDS * spread:
            return "as_tested", (f"The scores ranked the customers as well as the model's test promised: "
                                 f"{both} (a difference of {gap:+.3f}, within the {CHANCE_SDS * spread:.3f} "
                                 f"that chance allows).")
        if gap > 0:
            return "better", f"The scores ranked the customers better than the model's test: {both}."
        return "worse", (f"The scores ranked the customers worse than the model's test promised: {both} "
                         f"(more than the {CHANCE_SDS * spread:.3f} that chance allows). Customers or the "
                         f"shop have changed since the model's test: train it again on recent data "
                         f"(`winback train`), and see what moved (`winback score` compares the "
                         f"customers with those the model was tested on).")

    def calibration_line(self) -> str:
        """Expected against actual outcomes, and whether the gap is more than chance: the
        count of outcomes of independent customers varies by sqrt(sum p(1 - p)) around the sum
        of their probabilities."""
        r = self.realized
        expected, actual, spread = r["expected_positives"], r["positives"], r["expected_sd"]
        expected_of_them = OUTCOME.get(self.problem, ("", "have the outcome"))[1]
        by = f" before {moment_text(self.window_end)}" if self.window_end is not None else ""
        said = (f"It expected {expected:,.0f} of the {r['n']:,} customers to {expected_of_them}{by}; "
                f"{actual:,} did ({r['base_rate']:.1%}).")
        if abs(actual - expected) <= CALIBRATION_SDS * spread:
            return said + " The probabilities were right on average."
        way = "low" if actual > expected else "high"
        return (said + f" The probabilities were too {way} ({actual / max(expected, 1e-12):.2f} times as many "
                f"happened as they said, more than chance allows): read them as a ranking, and "
                f"each decile's outcome rate as its chance.")

    def flagged_line(self) -> str | None:
        r = self.realized
        if "flagged" not in r:
            return None
        return (f"Of the {r['flagged']:,} customers flagged, {r['precision']:.0%} {self.outcome} "
                f"(precision); they were {r['recall']:.0%} of all who did (recall).")

    def lines(self) -> list[str]:
        return [self.verdict()[1], self.calibration_line(), *filter(None, [self.flagged_line()]), *self.notes]

    def as_dict(self) -> dict[str, Any]:
        level, text = self.verdict()
        return {"cutoff": self.cutoff.isoformat() if self.cutoff is not None else None,
                "window_end": self.window_end.isoformat() if self.window_end is not None else None,
                "problem": self.problem, "model": self.model, "verdict": level, "message": text,
                "realized": self.realized, "tested": self.tested,
                "deciles": self.deciles.to_dict("records"),
                "segments": self.segments.to_dict("records") if self.segments is not None else None,
                "notes": self.notes}

    @property
    def scored(self) -> str:
        """Which scores these are, for titles: 'at <cutoff>', or 'of the customer table'."""
        return f"at {moment_text(self.cutoff)}" if self.cutoff is not None else "of the customer table"

    def __repr__(self) -> str:
        until = f" (until {moment_text(self.window_end)})" if self.window_end is not None else ""
        head = f"Outcomes of the scores {self.scored}{until}"
        return "\n".join([head, *text_table(decile_rows(self), lambda i: False), *self.lines()])

    def _repr_html_(self) -> str:
        return (f"<div><b>Outcomes</b> of the scores {html.escape(self.scored)}"
                f"{html_table(decile_rows(self))}"
                + "".join(f"<p>{html.escape(line)}</p>" for line in self.lines()) + "</div>")


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil (1982): the standard error of a ROC-AUC from its value and class sizes."""
    if positives < 1 or negatives < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc ** 2)
           + (negatives - 1) * (q2 - auc ** 2)) / (positives * negatives)
    return math.sqrt(max(var, 0.0))


def decile_rows(result: Outcomes) -> list[list[str]]:
    rows = [["decile", "customers", "expected", f"{result.outcome}", "lift"]]
    for r in result.deciles.to_dict("records"):
        rows.append([str(r["decile"]), f"{r['customers']:,}", f"{r['mean_probability']:.1%}",
                     f"{r['rate']:.1%}", f"{r['lift']:.2f}"])
    return rows


def segment_rows(result: Outcomes) -> list[list[str]]:
    rows = [["segment", "customers", "expected", f"{result.outcome}"]]
    for r in result.segments.to_dict("records") if result.segments is not None else []:
        rows.append([str(r["segment"]), f"{r['customers']:,}", f"{r['mean_probability']:.1%}", f"{r['rate']:.1%}"])
    return rows


def read_scores(source: str | Path, table: str | None = None, key: str = "customer_id") -> pd.DataFrame:
    """Scores `winback score -o` wrote: a Parquet or CSV file (ids in the `key` column read as
    text, so 00042 stays), or the table `table` (default winback_scores) of a DuckDB file or a
    PostgreSQL URL."""
    from winback.sinks import DEFAULT_TABLE, _identifier, output_kind

    text = str(source)
    try:
        kind = output_kind(text)
    except WinbackError:
        kind = "parquet" if Path(text).is_dir() else "unknown"
    if table and kind not in ("duckdb", "postgres"):
        raise DataError(f"--table names a table of a DuckDB file or a PostgreSQL database, not of '{text}'.")
    name = _identifier(table or DEFAULT_TABLE)
    where = scores_place(text, name)
    if kind not in ("postgres", "parquet", "csv", "csv_gz", "duckdb"):
        raise DataError(f"'{text}': scores are read from a .parquet or .csv file, a .duckdb file or a "
                        f"postgresql:// URL (with --table), as `winback score -o` writes them.")
    if kind != "postgres" and not Path(text).exists():
        raise DataError(f"No scores file at '{text}'.")
    try:
        if kind in ("csv", "csv_gz"):
            return pd.read_csv(text, dtype={key: str})
        if kind == "parquet":
            return pd.read_parquet(text)
        if kind == "duckdb":
            import duckdb

            with duckdb.connect(text, read_only=True) as con:
                return con.sql(f"SELECT * FROM {name}").df()
        return _read_postgres(text, name)
    except WinbackError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the reader says, name where it read
        raise DataError(f"Cannot read the scores in {where}: {str(exc).strip()}") from exc


def scores_place(source: str | Path, table: str | None = None) -> str:
    """Where scores are read from, for messages (a database URL without its password)."""
    from winback.sinks import DEFAULT_TABLE, describe_output, output_kind

    try:
        if output_kind(str(source)) in ("duckdb", "postgres"):
            return describe_output(str(source), table or DEFAULT_TABLE)
    except WinbackError:
        pass
    return f"'{source}'"


def _read_postgres(url: str, name: str) -> pd.DataFrame:
    try:
        import psycopg
    except ImportError as exc:
        raise DataError("Reading scores from PostgreSQL needs psycopg: pip install 'winback[postgres]'.") from exc
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {name}")
        columns = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def scores_cutoff(scores: pd.DataFrame, given: str | None, place: str) -> dt.datetime:
    """The one cutoff the scores were made at: their `cutoff` column, or `given` (`--cutoff`)."""
    if "cutoff" not in scores.columns:
        if not given:
            raise DataError(f"{place} has no cutoff column (scores of ready features, or written by "
                            f"another tool): name the date the customers were scored at with --cutoff.")
        return parse_date(given, "--cutoff")
    times = pd.to_datetime(scores["cutoff"].dropna().unique(), utc=True)
    if len(times) != 1:
        listed = ", ".join(moment_text(t.tz_convert(None).to_pydatetime()) for t in sorted(times)[:5])
        raise DataError(f"{place} holds scores of {len(times)} cutoffs ({listed}); measure one at a "
                        f"time (filter the file by its cutoff column).")
    found = times[0].tz_convert(None).to_pydatetime()
    if given and parse_date(given, "--cutoff") != found:
        raise DataError(f"--cutoff {given} is not the cutoff the scores in {place} were made at "
                        f"({moment_text(found)}); leave it out.")
    return found


def outcomes(cfg: Config, scores_path: str | Path, bundle_dir: Path, *, cutoff: str | None = None,
             table: str | None = None, log=None, write: bool = True, notes: Sequence[str] = ()) -> Outcomes:
    """Label the customers in `scores_path` (a file, or `table` of a DuckDB file or PostgreSQL
    URL) as the bundle's problem defines it and measure the scores on those labels (see the
    module doc): an event log's customers at their cutoff, from the project's log; a customer
    table's from the table's label column as it reads now. Written to
    `<output.dir>/outcomes-<cutoff>.json` (a customer table's to `outcomes.json`) unless `write`
    is False. `notes`: what reading the source noticed, said first."""
    from winback.bundle import read_manifest

    manifest = read_manifest(Path(bundle_dir))
    kind = manifest.get("kind", "event_log")
    if kind not in ("event_log", "customer_table"):
        raise DataError(f"'{bundle_dir}' is a model of live sessions: outcomes are measured for the "
                        f"customers of an event log or a customer table.")
    key = manifest["table"]["key"] if kind == "customer_table" else "customer_id"
    scores = read_scores(scores_path, table, key)
    place = scores_place(scores_path, table)
    if kind == "customer_table":
        if cutoff:
            raise DataError("--cutoff dates an event log's scores; a customer table's are measured "
                            "against the table's label column as it reads now: leave it out.")
        if not cfg.is_table:
            raise ConfigError(f"'{bundle_dir}' scores customer tables: their outcomes are read from the "
                              f"table, so the config needs [[table.sources]] (use the training config, or "
                              f"--dataset).")
    scores, unscored = _scored(scores, key, place)
    if kind == "customer_table":
        when = window_end = None
        joined, found = _table_outcomes(cfg, Path(bundle_dir), manifest, scores, place)
    else:
        joined, when, window_end, found = _log_outcomes(cfg, manifest, scores, place, cutoff, log)
    result = _measure(joined, manifest, when, window_end, [*notes, *unscored, *found])
    if write:
        from winback.bundle import write_atomic_file
        from winback.report import outcomes_page

        name = f"outcomes-{when:%Y-%m-%d}.json" if when is not None else "outcomes.json"
        target = cfg.output_dir() / name
        # both made before either is written: a page that fails to render leaves no JSON alone
        text = json.dumps(result.as_dict(), indent=2, default=str)
        page = outcomes_page(result)
        result.path = write_atomic_file(target, lambda tmp: tmp.write_text(text))
        result.page = write_atomic_file(target.with_suffix(".html"),
                                        lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return result


def _scored(scores: pd.DataFrame, key: str, place: str) -> tuple[pd.DataFrame, list[str]]:
    """The scored customers of a scores file (ids as text), checked: one row per customer,
    those without a probability left out and said."""
    missing = [c for c in (key, "probability") if c not in scores.columns]
    if missing:
        raise DataError(f"{place} lacks {', '.join(missing)}: it is not what `winback score` writes "
                        f"for this bundle.")
    scores = scores.assign(**{key: scores[key].astype(str)})
    repeated = scores[key][scores[key].duplicated()]
    if len(repeated):
        raise DataError(f"{place} scores {repeated.nunique():,} customer(s) more than once, e.g. "
                        f"{', '.join(repr(v) for v in repeated.unique()[:3])}.")
    notes = []
    unscored = int(scores["probability"].isna().sum())
    if unscored:
        notes.append(f"{unscored:,} customers in the file have no probability (outside the problem's "
                     f"population when scored) and are left out.")
        scores = scores[scores["probability"].notna()]
    if scores.empty:
        raise DataError(f"{place} holds no scored customer.")
    return scores, notes


def _log_outcomes(cfg: Config, manifest: dict, scores: pd.DataFrame, place: str, cutoff: str | None,
                  log) -> tuple[pd.DataFrame, dt.datetime, dt.datetime, list[str]]:
    """The scored customers of an event log (`_scored`'s) with their label a horizon after the
    scores' cutoff."""
    from winback.data.canonical import load_events
    from winback.labels import Cutoff, label_table, observed_end

    problem = ProblemConfig(**manifest["problem"])
    notes: list[str] = []
    when = scores_cutoff(scores, cutoff, place)
    window_end = when + dt.timedelta(days=problem.horizon_days)
    log = log or load_events(cfg)
    reached = observed_end(log.end)
    if reached < window_end:
        days = math.ceil((window_end - reached) / dt.timedelta(days=1))
        raise DataError(f"What the customers scored at {moment_text(when)} did is known once the log "
                        f"runs through {window_end - dt.timedelta(days=1):%Y-%m-%d} (the end of the "
                        f"{problem.horizon_days}-day horizon of the bundle's problem); "
                        f"{log.source_name} ends {moment_text(log.end)}, "
                        f"{days:,} day(s) short. Measure them when the log holds the whole horizon.")
    labels = label_table(log.table, Cutoff(when, window_end, "outcome"), problem).execute()
    labels = labels.assign(customer_id=labels["customer_id"].astype(str))
    joined = scores.merge(labels, on="customer_id", how="left")
    outside = int(joined["label"].isna().sum())
    if outside == len(joined):
        raise DataError(f"None of the {len(joined):,} customers in {place} is in the "
                        f"'{problem.name}' population of {log.source_name} at {moment_text(when)}: "
                        f"were they scored from another source, or at another date?")
    if outside:
        notes.append(f"{outside:,} scored customers are not in the '{problem.name}' population of the "
                     f"log at {moment_text(when)} as it reads now (events changed or removed since the "
                     f"scoring?) and are left out.")
        joined = joined[joined["label"].notna()]
    left = len(labels) - len(joined)
    if left > 0:
        notes.append(f"The scores cover {len(joined):,} of the {len(labels):,} customers in the "
                     f"population at {moment_text(when)}; the figures are theirs.")
    overlap = learnt_overlap(manifest, when, window_end)
    if overlap:
        notes.append(overlap)
    return joined, when, window_end, notes


def learnt_overlap(manifest: dict, when: dt.datetime, window_end: dt.datetime) -> str:
    """A note when the outcome window [when, window_end) overlaps a label window the model
    learnt from (its training and validation cutoffs': fitting, early stopping, selection,
    calibration and the threshold read them), so the figures are partly in-sample; "" when
    it does not. Scores at the test cutoff or later are always out of sample."""
    learnt = [(dt.datetime.fromisoformat(c["time"]), dt.datetime.fromisoformat(c["window_end"]))
              for c in manifest.get("cutoffs", []) if c.get("role") in ("train", "valid")]
    overlapping = [(start, end) for start, end in learnt if start < window_end and when < end]
    if not overlapping:
        return ""
    test = next((c["time"][:10] for c in manifest.get("cutoffs", []) if c.get("role") == "test"), None)
    start = max(when, min(s for s, _ in overlapping))
    end = min(window_end, max(e for _, e in overlapping)) - dt.timedelta(days=1)
    later = f" Scores at the test cutoff {test} or later are measured out of sample." if test else ""
    return (f"The horizon after {moment_text(when)} overlaps, from {start:%Y-%m-%d} to {end:%Y-%m-%d}, the "
            f"label windows the model learnt from (its training and validation cutoffs'): these outcomes "
            f"are partly in-sample, so the figures are kinder than new scores will see.{later}")


def _table_outcomes(cfg: Config, bundle_dir: Path, manifest: dict, scores: pd.DataFrame,
                    place: str) -> tuple[pd.DataFrame, list[str]]:
    """The scored customers of a customer table (`_scored`'s) with their label from the table
    as it reads now (the snapshot where the outcome is filled in). Rows the model was fitted on
    (the same key and values) are left out when the others allow a measure, since their scores
    are in-sample."""
    from winback.data.tables import LABEL, load_customer_table

    key = manifest["table"]["key"]
    notes: list[str] = []
    # the label checked as training checks it, the columns as the model reads them; nothing is
    # left out as training leaves out columns, since the model's columns are what it reads
    frame = load_customer_table(cfg, with_labels=True, label_optional=True, for_training=False,
                                categorical=manifest["data"]["categorical"],
                                date_formats=manifest["data"].get("date_formats", {})).frame
    label = cfg.table.label
    source = ", ".join(f"'{s.path}'" for s in cfg.table.sources)
    if LABEL not in frame.columns:
        raise DataError(f"The customer table ({source}) has no label column '{label}': outcomes are read "
                        f"from the table once they are known. Point the project at that table "
                        f"(--input), with '{label}' filled in for the customers scored.")
    in_sample = _in_sample(bundle_dir, manifest, frame, key)
    labels = pd.DataFrame({key: frame[key].astype(str).to_numpy(),
                           "label": pd.to_numeric(frame[LABEL], errors="coerce").to_numpy(dtype=float),
                           "in_sample": in_sample})
    joined = scores.merge(labels, on=key, how="left", indicator=True)
    outside = int((joined["_merge"] == "left_only").sum())
    unknown = int(((joined["_merge"] == "both") & joined["label"].isna()).sum())
    if outside == len(joined):
        raise DataError(f"None of the {len(joined):,} customers in {place} is in the customer table "
                        f"({source}) as it reads now: were they scored from another table, or is "
                        f"'{key}' written otherwise there?")
    if outside + unknown == len(joined):
        raise DataError(f"The customer table ({source}) has no outcome yet for any of the "
                        f"{len(joined):,} customers in {place} ('{label}' is empty for "
                        f"{unknown:,} of them): measure them once it is filled in.")
    if outside:
        notes.append(f"{outside:,} scored customers are not in the customer table as it reads now "
                     f"(removed, or left out by table.filters) and are left out.")
    if unknown:
        notes.append(f"{unknown:,} scored customers have no outcome in the table yet ('{label}' is "
                     f"empty) and are left out.")
    joined = joined[joined["label"].notna()].drop(columns="_merge")
    seen = joined["in_sample"].to_numpy(dtype=bool)
    fresh = joined.loc[~seen, "label"]
    if seen.any() and fresh.nunique() == 2:
        notes.append(f"{int(seen.sum()):,} of the {len(joined):,} customers are rows the model was trained "
                     f"on (the same '{key}' and values): their scores are in-sample (it fitted their "
                     f"outcomes), so they are left out and the figures are those of the {len(fresh):,} others.")
        joined = joined[~seen]
    elif seen.any():
        notes.append(f"{int(seen.sum()):,} of the {len(joined):,} customers are rows the model was "
                     f"trained on: their scores are in-sample (it fitted their outcomes), and the "
                     f"figures flatter the model.")
    return joined.drop(columns="in_sample"), notes


def _in_sample(bundle_dir: Path, manifest: dict, frame: pd.DataFrame, key: str) -> np.ndarray:
    """Which rows of the table are rows the model was fitted on (their key and values hash as a
    training row did). None of them where the table lacks a column of the model's or holds text
    where it read numbers: such a snapshot is not the one the model was fitted on."""
    from winback.hashing import among, row_hashes, trained_rows
    from winback.score_table import _as_trained

    none = np.zeros(len(frame), dtype=bool)
    trained = trained_rows(bundle_dir, manifest)
    columns = manifest["feature_columns"]
    if trained is None or any(c not in frame.columns for c in columns):
        return none
    try:
        X = _as_trained(frame, manifest, key)[columns]
    except DataError:
        return none
    return among(row_hashes(frame[key], X, set(manifest["data"]["categorical"])), trained)


def _measure(joined: pd.DataFrame, manifest: dict, when: dt.datetime | None,
             window_end: dt.datetime | None, notes: list[str]) -> Outcomes:
    """The scores of `joined` (probability and label per customer; the file's flagged, decile
    and segment where it has them) measured on its labels, beside the bundle's test figures."""
    from winback.evaluate import confusion, decision_of, metrics

    problem = manifest["problem"]["name"]
    y = joined["label"].to_numpy(dtype=int)
    p = joined["probability"].to_numpy(dtype=float)
    if y.min() == y.max():
        did = "" if y[0] else "did not "
        by = f" by {moment_text(window_end)}" if window_end is not None else ""
        at = f" at {moment_text(when)}" if when is not None else ""
        what = OUTCOME.get(problem, ("had the outcome", "have the outcome"))[int(not y[0])]
        raise DataError(f"Every one of the {len(y):,} customers scored{at} {did}{what}{by}: a ranking "
                        f"cannot be measured on one outcome.")
    realized = metrics(y, p, float(decision_of(manifest)["threshold"]))
    for name in ("precision", "recall", "f1", "tp", "fp", "fn", "tn", "flagged_share", "threshold"):
        realized.pop(name)  # the file's own `flagged` says which customers were flagged
    realized.update(positives=int(y.sum()), negatives=int(len(y) - y.sum()),
                    expected_positives=float(p.sum()), expected_sd=float(np.sqrt(np.sum(p * (1 - p)))))
    if "flagged" in joined.columns:
        flagged = joined["flagged"].fillna(False).to_numpy(dtype=bool)
        realized.update(flagged=int(flagged.sum()), **confusion(y, flagged))
    best = manifest.get("best")
    row = next((r for r in manifest.get("leaderboard", []) if r.get("candidate") == best), None)
    tested = None
    if row is not None and {"tp", "fn", "fp", "tn"} <= set(row):
        tested = {"roc_auc": float(row["roc_auc"]), "pr_auc": float(row["pr_auc"]),
                  "lift_10": float(row["lift_10"]), "positives": int(row["tp"] + row["fn"]),
                  "negatives": int(row["fp"] + row["tn"]),
                  "cutoff": next((c["time"] for c in manifest.get("cutoffs", []) if c["role"] == "test"), None)}
    return Outcomes(when, window_end, problem, str(best), realized, tested,
                    decile_frame(joined, y, p), segment_frame(joined, y), notes)


def decile_frame(joined: pd.DataFrame, y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Per decile the scores gave (1 = the highest tenth; recomputed from the probabilities
    when the file has none): customers, mean probability, outcome rate and its lift."""
    if "decile" in joined.columns and joined["decile"].notna().all():
        decile = joined["decile"].to_numpy(dtype=int)
    else:
        from winback.evaluate import rank_and_decile

        decile = rank_and_decile(p)[1]
    frame = pd.DataFrame({"decile": decile, "p": p, "y": y})
    out = (frame.groupby("decile").agg(customers=("y", "size"), mean_probability=("p", "mean"), rate=("y", "mean"))
           .reset_index())
    out["lift"] = out["rate"] / max(y.mean(), 1e-12)
    return out


def segment_frame(joined: pd.DataFrame, y: np.ndarray) -> pd.DataFrame | None:
    if "segment" not in joined.columns:
        return None
    frame = pd.DataFrame({"segment": joined["segment"].astype(str).to_numpy(),
                          "p": joined["probability"].to_numpy(dtype=float), "y": y})
    return (frame.groupby("segment", sort=False).agg(customers=("y", "size"), mean_probability=("p", "mean"),
                                                     rate=("y", "mean"))
            .reset_index().sort_values("customers", ascending=False, kind="stable").reset_index(drop=True))
