"""Rolling-origin backtest: the whole training flow again at earlier test cutoffs.

`winback train` measures each candidate once, at one test cutoff. One cutoff is one draw: a
season, a campaign or a kind month can flatter or sink a model, and the leaderboard cannot say
which. A backtest moves the test cutoff back `step_days` at a time and, at each, does exactly
what `train` does with `problem.test_cutoff` set there: training cutoffs whose label windows
end by that test cutoff, features from before each cutoff, the model chosen on validation,
calibrated and thresholded, then measured once on the fold's test customers. Nothing a fold
uses lies after its own test label window, so every fold is as out-of-time as the real test.
What comes out is each candidate's test metrics per fold, which one validation chose, and the
mean and spread over the folds.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from winback.config import Config
from winback.errors import ConfigError, DataError
from winback.labels import check_log_fits_problem, plan_cutoffs
from winback.progress import Steps
from winback.results import html_table, text_table
from winback.threads import set_model_threads

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "lift_10")
TITLE = ("Backtest (test ROC-AUC per test cutoff; * = chosen on validation; expected*: the "
         "positive rate the chosen model's probabilities expected)")


@dataclass(repr=False)
class BacktestResult:
    """`folds`: one row per fold and candidate (test cutoff, customers, positive rate, chosen
    on validation or not, test metrics); `summary`: per candidate, the mean, standard deviation
    and minimum of each metric over the folds and how often validation chose it; `path`: the
    JSON written beside the bundle; `step_days`: the days between test cutoffs."""

    folds: pd.DataFrame
    summary: pd.DataFrame
    path: Path | None
    step_days: int = 0

    def chosen(self) -> pd.DataFrame:
        """The candidate validation chose at each fold, with its test metrics: what `train`
        would have shipped at that date."""
        return self.folds[self.folds["chosen"]].reset_index(drop=True)

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> "BacktestResult":
        """The result `as_dict` wrote (a manifest's `backtest`, backtest.json)."""
        return cls(pd.DataFrame(entry["folds"]), pd.DataFrame(entry["summary"]), None, entry["step_days"])

    def __repr__(self) -> str:
        return "\n".join([TITLE, *text_table(table_rows(self), lambda i: i == 0), summary_line(self)])

    def _repr_html_(self) -> str:
        return (f"<div><b>Backtest</b>: {len(self.folds['fold'].unique())} test cutoffs"
                f"{html_table(table_rows(self))}<p>{html.escape(summary_line(self))}</p></div>")


@dataclass(frozen=True)
class FirstFold:
    """What `train` already measured at its own test cutoff: the backtest's first fold."""

    plan: Any
    board: pd.DataFrame
    labels: pd.Series


def backtest(cfg: Config, *, folds: int = 4, step_days: int | None = None, steps: Steps | None = None,
             log=None, write: bool = True, first: FirstFold | None = None, cache: dict | None = None,
             ) -> BacktestResult:
    """Train and measure at `folds` test cutoffs, the latest being the one `train` uses and
    each earlier by `step_days` (default: problem.cutoff_step_days); the result is written to
    `<output.dir>/backtest.json` when `write`. `train --backtest` hands over its own `log`, the
    `first` fold it measured and its frame `cache`, so that only the earlier folds are new work."""
    from winback.data.canonical import load_events
    from winback.train import (fit_candidates, leaderboard, plan_frames, project_spec, say_data_warnings,
                               split_frames)

    check_backtest(cfg, folds, step_days)
    set_model_threads(cfg.engine.threads)
    step = step_days or cfg.problem.cutoff_step_days
    steps = steps or Steps()
    cfg.output_dir(create=False)
    if log is None:
        with steps.step(f"Reading and validating {cfg.source.path}"):
            log = load_events(cfg)
    if first is None:
        say_data_warnings(log, steps)
        check_log_fits_problem(cfg.problem, log)
    spec = project_spec(cfg, log)
    cache = {} if cache is None else cache
    metric = cfg.train.selection_metric
    rows: list[dict[str, Any]] = []
    quiet = Steps(quiet=True, console=steps.console)  # the fold's own steps: notes only
    for k, (fold_cfg, plan) in enumerate(fold_plans(cfg, log, folds, step)):
        if k == 0 and first is not None:
            rows += fold_rows(1, first.plan, first.board, first.labels, metric)
            continue
        with steps.step(f"Backtest fold {k + 1}/{folds}: test cutoff {plan.test.time:%Y-%m-%d}") as show:
            frames = plan_frames(log, plan, fold_cfg, spec, show, cache=cache)
            show("fitting the candidates")
            parts = split_frames(fold_cfg, frames)
            results, _ = fit_candidates(fold_cfg, parts["train"], parts["stop"], parts["valid"], parts["test"],
                                        quiet, parts["refit"] if fold_cfg.train.refit else None,
                                        held=parts["held"])
        rows += fold_rows(k + 1, plan, leaderboard(results, metric), frames["test"]["label"], metric)
    table = pd.DataFrame(rows)
    result = BacktestResult(table, summarise(table), None, step)
    if write:
        result.path = write_json(cfg.output_dir() / "backtest.json", result, cfg)
    return result


def check_backtest(cfg: Config, folds: int, step_days: int | None) -> None:
    """What a backtest needs of the config, checked before any work."""
    if cfg.is_table or cfg.problem.name == "next_event":
        raise ConfigError("A backtest moves the test cutoff of an event log's customer problem "
                          "(repeat_purchase, return_visit, first_purchase, activity_decline). A customer "
                          "table is one snapshot: the spread to look at is its cross-validation "
                          "(cv_roc_auc and cv_std in `winback train`'s leaderboard)."
                          if cfg.is_table else
                          "A backtest moves the test cutoff of a customer problem; next_event is "
                          "measured on every event after its test cutoff, so `winback train` with "
                          "problem.test_cutoff set earlier gives the same for one date.")
    if folds < 2:
        raise ConfigError(f"A backtest needs at least 2 folds (test cutoffs), got {folds}.")
    if step_days is not None and step_days < 1:
        raise ConfigError(f"The backtest's step must be at least 1 day, got {step_days}.")


def fold_plans(cfg: Config, log, folds: int, step: int) -> list[tuple[Config, Any]]:
    """Each fold's config (the project's, its test cutoff moved back) and cutoff plan; a fold
    the log cannot hold stops the backtest before any fitting, saying how many fit."""
    latest = plan_cutoffs(cfg.problem, log.start, log.end).test.time
    plans = []
    for k in range(folds):
        fold_cfg = copy.deepcopy(cfg)
        fold_cfg.problem.test_cutoff = (latest - dt.timedelta(days=k * step)).strftime("%Y-%m-%d")
        try:
            plans.append((fold_cfg, plan_cutoffs(fold_cfg.problem, log.start, log.end)))
        except DataError as exc:
            advice = (f"Ask for at most {k} folds, or a shorter step" if k >= 2
                      else "Use a shorter step, or a shorter horizon")
            raise DataError(f"Only {k} of the {folds} backtest folds fit this log with a {step}-day step. "
                            f"At the test cutoff {fold_cfg.problem.test_cutoff}: {exc} {advice}.") from None
    return plans


def fold_rows(fold: int, plan, board: pd.DataFrame, labels: pd.Series, metric: str) -> list[dict[str, Any]]:
    return [{"fold": fold, "test_cutoff": plan.test.time.date().isoformat(), "customers": int(len(labels)),
             "positive_rate": float(labels.mean()), "candidate": r["candidate"], "chosen": bool(rank == 0),
             **{m: float(r[m]) for m in METRICS if m in board.columns},
             **({"expected_rate": float(r["mean_score"])} if "mean_score" in board.columns else {}),
             f"valid_{metric}": float(r[f"valid_{metric}"]),
             **({f"select_{metric}": float(r[f"select_{metric}"])} if f"select_{metric}" in board.columns else {})}
            for rank, r in board.iterrows()]


def as_dict(result: BacktestResult) -> dict[str, Any]:
    """The folds and the summary as JSON values (the manifest's `backtest`, backtest.json)."""
    def records(frame: pd.DataFrame) -> list[dict]:
        return json.loads(frame.to_json(orient="records", double_precision=15))  # pandas keeps 10 digits

    return {"step_days": result.step_days, "folds": records(result.folds), "summary": records(result.summary),
            "text": summary_line(result)}


def summarise(folds: pd.DataFrame) -> pd.DataFrame:
    """Per candidate: folds measured, times chosen, and the mean and sample standard deviation
    of each metric over the folds; the best mean ROC-AUC first."""
    out = []
    for name, group in folds.groupby("candidate", sort=False):
        row: dict[str, Any] = {"candidate": name, "folds": int(len(group)), "chosen": int(group["chosen"].sum())}
        for m in METRICS:
            if m in group.columns:
                row[f"{m}_mean"] = float(group[m].mean())
                row[f"{m}_std"] = float(group[m].std(ddof=1)) if len(group) > 1 else float("nan")
                row[f"{m}_min"] = float(group[m].min())
        out.append(row)
    return pd.DataFrame(out).sort_values("roc_auc_mean", ascending=False).reset_index(drop=True)


def write_json(path: Path, result: BacktestResult, cfg: Config) -> Path:
    """Written to a temporary name and renamed, as bundles and reports are."""
    from winback.bundle import write_atomic_file

    payload = {"problem": cfg.problem.name, "horizon_days": cfg.problem.horizon_days,
               "selection_metric": cfg.train.selection_metric, **as_dict(result),
               "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    return write_atomic_file(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2)))


def table_rows(result: BacktestResult) -> list[list[str]]:
    """Fold by fold: the test cutoff, its customers and positive rate, which candidate
    validation chose, and every candidate's test ROC-AUC (the chosen one marked *)."""
    names = list(result.summary["candidate"])
    expected = "expected_rate" in result.folds.columns  # backtests of older versions lack it
    rows = [["fold", "test cutoff", "customers", "positive", *(["expected*"] if expected else []),
             *[f"{n} roc_auc" for n in names]]]
    for fold, group in result.folds.groupby("fold", sort=True):
        first = group.iloc[0]
        by_name = {r["candidate"]: r for _, r in group.iterrows()}
        chosen = group[group["chosen"]].iloc[0]
        rows.append([str(fold), first["test_cutoff"], f"{first['customers']:,}", f"{first['positive_rate']:.1%}",
                     *([f"{chosen['expected_rate']:.1%}"] if expected else []),
                     *[(f"{by_name[n]['roc_auc']:.3f}" + ("*" if by_name[n]["chosen"] else " "))
                       if n in by_name else "-" for n in names]])
    rows.append(["mean ± sd", "", "", "", *([""] if expected else []),
                 *[f"{r['roc_auc_mean']:.3f} ± {r['roc_auc_std']:.3f}" for _, r in result.summary.iterrows()]])
    return rows


def summary_line(result: BacktestResult) -> str:
    chosen = result.chosen()
    best = result.summary.iloc[0]
    shipped = chosen["roc_auc"]
    line = (f"The model validation chose scored {shipped.mean():.3f} ± {shipped.std(ddof=1):.3f} test ROC-AUC "
            f"over {len(chosen)} test cutoffs ({shipped.min():.3f} to {shipped.max():.3f}); the best "
            f"candidate on average is {best['candidate']} ({best['roc_auc_mean']:.3f}), chosen at "
            f"{int(best['chosen'])} of them.")
    if "expected_rate" in chosen.columns:
        ratio = chosen["expected_rate"] / chosen["positive_rate"].clip(lower=1e-12)
        line += (f" Its probabilities expected {ratio.min():.2f} to {ratio.max():.2f} times the "
                 f"outcomes that came.")
    return line


__all__ = ["BacktestResult", "backtest"]
