"""Self-contained HTML report: plots embedded as PNG data URIs, no network needed to open it."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

from winback.bundle import write_atomic_file  # noqa: E402
from winback.evaluate import flag_all_note, weak_signal_note  # noqa: E402
from winback.results import selection_column  # noqa: E402
from winback.segments import RISK_PROBLEMS  # noqa: E402

COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a"]
PROBLEM_QUESTIONS = {
    "repeat_purchase": "Which customers who bought before {cutoff} will buy again before {end}?",
    "return_visit": "Which customers seen before {cutoff} will come back before {end}?",
    "first_purchase": "Which visitors who never bought before {cutoff} will make a first purchase "
                      "before {end}?",
    "activity_decline": "Which customers active in the window before {cutoff} will be markedly "
                        "less active in the same-length window to {end}?",
}


def _plain_text(plot):
    """Draw `plot` with names from the data as plain text. Matplotlib reads '$...$' as TeX
    math: it garbled a column called 'avg $ per order ($)' and failed the whole report (after
    training) on 'rev $ #1 $'."""
    @functools.wraps(plot)
    def drawn(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)
    return drawn


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@_plain_text
def _curve_plot(curves: dict[str, dict], key: str, title: str, xlabel: str, ylabel: str,
                diagonal: bool, best: str) -> str:
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    for i, (name, c) in enumerate(curves.items()):
        x, y = c["curves"][key]
        ax.plot(x, y, color=COLORS[i % len(COLORS)], lw=2.4 if name == best else 1.4,
                marker="o" if key == "calibration" else None, ms=3, label=name)
    if diagonal:
        ax.plot([0, 1], [0, 1], color="#8c959f", ls="--", lw=1, label="random" if key != "calibration" else "perfect")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)


IMPORTANCE_MEASURES = {"lightgbm": "share of the trees' gain", "logistic": "|standardised coefficient|",
                       "bgnbd": "share of the mean |contribution| to the log-odds"}


@_plain_text
def _importance_plot(importance: dict[str, float], best: str) -> str | None:
    if not importance:
        return None
    items = list(importance.items())[:15][::-1]
    fig, ax = plt.subplots(figsize=(6.2, 0.32 * len(items) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items], color=COLORS[0])
    ax.set(title=f"What drives the {best} model", xlabel=IMPORTANCE_MEASURES.get(best, "importance"))
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def horizon_caveat(manifest: dict[str, Any]) -> str:
    """A note when the validation labels cover a shorter window than the horizon.

    With too little history for a full training window, held-out labels cover truncated
    windows. Probabilities are then calibrated over those windows with a window term and carried
    to the horizon (models/calibration.py): an extrapolation, which the report names. Bundles
    of older versions calibrated on the validation window alone, and understated the horizon.
    """
    valid = next(c for c in manifest["cutoffs"] if c["role"] == "valid")
    days = (dt.datetime.fromisoformat(valid["window_end"]) - dt.datetime.fromisoformat(valid["time"])).days
    horizon = int(manifest["problem"]["horizon_days"])
    if days >= horizon:
        return ""
    window = (manifest.get("calibration") or {}).get("window")
    if window:
        fitted = window["fitted_on_days"]
        return (f"Too little history for a full {horizon}-day training window: the held-out customers' "
                f"labels cover {min(fitted):.0f} to {max(fitted):.0f} days, and the probabilities are "
                f"calibrated over those windows and carried to {horizon} days by a window term (an "
                f"extrapolation: check them with `winback outcomes` once a horizon has passed). "
                f"Rankings, gains and lift do not depend on it.")
    return (f"Too little history for a full {horizon}-day training window: probabilities are "
            f"calibrated on a {days}-day validation window and understate the chance over "
            f"{horizon} days (see the calibration curve). Rankings, gains and lift are unaffected.")


def _env() -> Environment:
    return Environment(loader=PackageLoader("winback", "report/templates"),
                       autoescape=select_autoescape(["html", "j2"]))


def _quality_plots(curves: dict[str, dict], best: str) -> dict[str, str]:
    return {
        "roc": _curve_plot(curves, "roc", "ROC", "false positive rate", "true positive rate", True, best),
        "pr": _curve_plot(curves, "pr", "Precision-recall", "recall", "precision", False, best),
        "calibration": _curve_plot(curves, "calibration", "Calibration (by score decile)",
                                   "predicted probability", "observed rate", True, best),
        "gains": _curve_plot(curves, "gains", "Cumulative gains", "share of customers contacted",
                             "share of positives reached", True, best),
    }


METRIC_LABELS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "lift_10": "lift@10%", "lift_20": "lift@20%",
                 "log_loss": "log loss", "brier": "Brier"}


def render(manifest: dict[str, Any], curves: dict[str, dict]) -> str:
    env = _env()
    best = manifest["best"]
    test = next(c for c in manifest["cutoffs"] if c["role"] == "test")
    question = PROBLEM_QUESTIONS[manifest["problem"]["name"]].format(
        cutoff=test["time"][:10], end=test["window_end"][:10])
    plots = _quality_plots(curves, best)
    # the figure the model was chosen on (the metric over every cutoff's held-out customers);
    # bundles of older versions have none
    select = selection_column((manifest.get("leaderboard") or [{}])[0])
    select_label = METRIC_LABELS.get(select[len("select_"):], select) if select else None
    return env.get_template("report.html.j2").render(
        m=manifest, best=best, question=question, plots=plots, select=select, select_label=select_label,
        horizon_caveat=horizon_caveat(manifest),
        weak_signal=weak_signal_note(manifest["candidates"][best]["test"]["roc_auc"], "on the test cutoff"),
        importance_plot=_importance_plot(manifest.get("importance", {}), best),
        importance_measure=IMPORTANCE_MEASURES.get(best, "importance"),
        best_metrics=manifest["candidates"][best]["test"], deciles=curves[best]["deciles"],
        flag_all=flag_all_note(manifest["candidates"][best]["test"], manifest),
        backtest_rows=_backtest_rows(manifest.get("backtest")),
        **_segment_context(manifest, f"Customers at the test cutoff {test['time'][:10]}"),
    )


def _backtest_rows(entry: dict[str, Any] | None) -> list[list[str]] | None:
    """The backtest's fold table (header first, the mean and spread last), as `winback
    backtest` prints it."""
    if not entry:
        return None
    from winback.backtest import BacktestResult, table_rows

    return table_rows(BacktestResult.from_dict(entry))


def write_report(path: Path, manifest: dict[str, Any], curves: dict[str, dict]) -> Path:
    html = render(manifest, curves)
    return write_atomic_file(Path(path), lambda tmp: tmp.write_text(html, encoding="utf-8"))


TABLE_QUESTIONS = {
    "activity_decline": "Whose activity will decrease?",
    "repeat_purchase": "Which customers will buy again?",
    "return_visit": "Which customers will come back?",
    "first_purchase": "Which visitors will make a first purchase?",
}
SHAP_TOP = 12


@_plain_text
def _shap_bar(importance: dict[str, float], best: str) -> str:
    items = list(importance.items())[:SHAP_TOP][::-1]
    fig, ax = plt.subplots(figsize=(5.4, 0.34 * len(items) + 1.1))
    ax.barh([k for k, _ in items], [v for _, v in items], color=COLORS[0])
    ax.set(title=f"Mean |SHAP| per column ({best})", xlabel="mean |SHAP value|")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


@_plain_text
def _shap_swarm(explanation, sample, columns: list[str]) -> str:
    """A beeswarm: one dot per customer and column, x = SHAP value, colour = the column's value
    (rank within the sample, blue low to red high; grey for categories)."""
    cols = columns[:SHAP_TOP][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(5.8, 0.34 * len(cols) + 1.1))
    for i, c in enumerate(cols):
        v = explanation.values[c].to_numpy()
        raw = sample[c]
        if pd.api.types.is_numeric_dtype(raw):
            colour = plt.cm.coolwarm(raw.rank(pct=True).fillna(0.5).to_numpy())
        else:
            colour = "#8c959f"
        ax.scatter(v, i + rng.uniform(-0.28, 0.28, len(v)), s=6, c=colour, alpha=0.7, lw=0)
    ax.axvline(0, color="#57606a", lw=0.8)
    ax.set_yticks(range(len(cols)), cols)
    ax.set(title="SHAP value per customer (colour: low → high value)", xlabel="SHAP value")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _segment_context(manifest: dict[str, Any], population: str) -> dict[str, Any]:
    """What the shared segments section needs; empty when the run has no segments."""
    if not manifest.get("segments"):
        return {}
    bad = manifest["problem"]["name"] in RISK_PROBLEMS
    return {"segment_plot": _segment_plot(manifest), "segment_population": population,
            "segment_risk": "the probability of the outcome" if bad else
            "one minus the probability of the outcome (the chance it does not happen)"}


@_plain_text
def _segment_plot(manifest: dict[str, Any]) -> str:
    seg = manifest["segments"]
    sizes = {s["key"]: s for s in seg["sizes"]}
    grid = [["high_risk_low_value", "high_risk_high_value"], ["low_risk_low_value", "low_risk_high_value"]]
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    counts = np.array([[sizes[k]["customers"] for k in row] for row in grid], dtype=float)
    top = max(counts.max(), 1) * 1.4
    ax.imshow(counts, cmap="Blues", vmin=0, vmax=top)
    for r, row in enumerate(grid):
        for c, k in enumerate(row):
            name = textwrap.fill(sizes[k]["name"], 16)
            ax.text(c, r, f"{name}\n{sizes[k]['customers']:,} ({100 * sizes[k]['share']:.0f} %)",
                    ha="center", va="center", fontsize=8,
                    color="white" if counts[r, c] > 0.45 * top else "black")  # legible on dark blue
    ax.set_xticks([0, 1], ["low value", "high value"])
    ax.set_yticks([0, 1], ["high risk", "low risk"])
    ax.set_title("Segment matrix (test customers)")
    return _png(fig)


def write_table_report(path: Path, manifest: dict[str, Any], curves: dict[str, dict],
                       explanation, sample) -> Path:
    """The customer-table report: leaderboard with CV, curves, SHAP plots, segments."""
    best = manifest["best"]
    columns = list(manifest["importance"])
    html = _env().get_template("table_report.html.j2").render(
        m=manifest, best=best, question=TABLE_QUESTIONS.get(manifest["problem"]["name"], ""),
        best_metrics=manifest["candidates"][best]["test"], best_cv=manifest["candidates"][best]["cv"],
        flag_all=flag_all_note(manifest["candidates"][best]["test"], manifest),
        weak_signal=weak_signal_note(manifest["candidates"][best]["test"]["roc_auc"], "on the test part"),
        plots=_quality_plots(curves, best), deciles=curves[best]["deciles"],
        shap_bar=_shap_bar(manifest["importance"], best),
        shap_swarm=_shap_swarm(explanation, sample, columns), shap_rows=len(sample),
        **_segment_context(manifest, "Test customers shown"),
    )
    return write_atomic_file(Path(path), lambda tmp: tmp.write_text(html, encoding="utf-8"))


@_plain_text
def _decile_bars(deciles: pd.DataFrame, outcome: str) -> str:
    """Expected (the mean probability) against actual outcome rate, per decile of the scores."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    x = deciles["decile"].to_numpy()
    ax.bar(x - 0.2, deciles["mean_probability"], width=0.4, color=COLORS[0], label="expected")
    ax.bar(x + 0.2, deciles["rate"], width=0.4, color=COLORS[2], label=outcome)
    ax.set(title="Expected and actual, by decile of the scores", xlabel="decile (1 = highest scores)",
           ylabel="share of customers", xticks=x)
    ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def outcomes_page(result) -> str:
    """The page of `winback outcomes` (an Outcomes), self-contained like the training report."""
    from winback import __version__
    from winback.config import moment_text

    level, verdict = result.verdict()
    html = _env().get_template("outcomes.html.j2").render(
        r=result, x=result.realized, t=result.tested, level=level, verdict=verdict,
        calibration=result.calibration_line(), flagged=result.flagged_line(),
        cutoff=moment_text(result.cutoff) if result.cutoff is not None else None,
        end=moment_text(result.window_end) if result.window_end is not None else None,
        outcome=result.outcome,
        deciles=result.deciles.to_dict("records"),
        segments=result.segments.to_dict("records") if result.segments is not None else None,
        decile_plot=_decile_bars(result.deciles, result.outcome), version=__version__)
    return html
