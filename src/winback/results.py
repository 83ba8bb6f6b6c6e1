"""How a training result shows itself: the chosen model, where it was written, the leaderboard.

A result carries the frames, models, scores and manifest a caller may want to dig into. Printed
whole, as a dataclass prints by default, that was pages of arrays in a notebook cell; the
command line and a notebook now show the same few columns of the leaderboard, per kind of
problem.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class BoardView:
    """Which leaderboard columns to show for a kind of problem, and how."""

    title: str
    columns: tuple[str, ...]
    text: tuple[str, ...] = ("candidate",)
    digits: int = 3
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, column: str) -> str:
        return dict(self.headers).get(column, column)


EVENT_VIEW = BoardView("Leaderboard (out-of-time test cutoff)",
                       ("candidate", "roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall",
                        "lift_10", "lift_20", "valid_roc_auc"))
TABLE_VIEW = BoardView("Leaderboard (chosen by cross-validation; test = held-out customers)",
                       ("candidate", "cv_roc_auc", "cv_std", "roc_auc", "pr_auc", "log_loss", "precision",
                        "recall", "lift_10", "imbalance"), text=("candidate", "imbalance"),
                       headers=(("roc_auc", "test_roc_auc"),))
NEXT_EVENT_VIEW = BoardView("Leaderboard (next event; test = events after the test cutoff)",
                            ("candidate", "accuracy", "macro_f1", "purchase_recall", "log_loss",
                             "valid_log_loss"), digits=4)


def selection_column(columns) -> str | None:
    """The leaderboard column the model was chosen on (`select_<metric>`); None for a bundle of
    an older version, chosen on its validation cutoff alone."""
    return next((c for c in columns if str(c).startswith("select_")), None)


def board_view(board: pd.DataFrame, kind: str) -> BoardView:
    """The view of `kind` ('event_log', 'customer_table', 'next_event'); an event log's also
    shows the figure the model was chosen on (`select_<metric>`: the metric over the held-out
    customers of every cutoff), or, for a bundle of an older version, its validation metric
    when it is not ROC-AUC."""
    if kind == "customer_table":
        return TABLE_VIEW
    if kind == "next_event":
        return NEXT_EVENT_VIEW
    select = selection_column(board.columns)
    chosen_on = ((select,) if select else
                 tuple(c for c in board.columns if c.startswith("valid_") and c != "valid_roc_auc"))
    return BoardView(EVENT_VIEW.title, EVENT_VIEW.columns + chosen_on)


def cell(value: Any, column: str, view: BoardView) -> str:
    return str(value) if column in view.text else f"{value:.{view.digits}f}"


def text_table(rows: list[list[str]], left: Callable[[int], bool]) -> list[str]:
    """Rows of cells (the header first) as aligned lines; column i left-aligned where `left(i)`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) if left(i) else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
            for row in rows]


def html_table(rows: list[list[str]], bold_first: bool = False) -> str:
    """Rows of cells (the header first) as an HTML table, escaped; the first body row in bold
    when `bold_first` (the chosen model)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join("<tr" + (' style="font-weight:bold"' if bold_first and i == 0 else "") + ">"
                   + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                   for i, row in enumerate(rows[1:]))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class ResultView:
    """`repr` and a notebook's HTML for a training result (`leaderboard`, `best`, `bundle_dir`,
    `report_path` and `manifest` are the result's own fields)."""

    leaderboard: pd.DataFrame
    best: str
    bundle_dir: Path
    report_path: Path | None
    manifest: dict[str, Any]

    def _view(self) -> tuple[BoardView, list[str]]:
        view = board_view(self.leaderboard, self.manifest.get("kind", "event_log"))
        return view, [c for c in view.columns if c in self.leaderboard.columns]

    def _summary(self) -> list[tuple[str, str]]:
        rows = [("best", self.best), ("bundle", str(self.bundle_dir))]
        return rows + ([("report", str(self.report_path))] if self.report_path else [])

    def _rows(self) -> tuple[BoardView, list[str], list[list[str]]]:
        view, columns = self._view()
        rows = [[view.header(c) for c in columns]] + [
            [cell(r[c], c, view) for c in columns] for _, r in self.leaderboard.iterrows()]
        return view, columns, rows

    def __repr__(self) -> str:
        view, columns, rows = self._rows()
        lines = [f"{type(self).__name__}: {view.title}"] + [f"  {k}: {v}" for k, v in self._summary()]
        return "\n".join(lines + ["  " + line for line in text_table(rows, lambda i: columns[i] in view.text)])

    def _repr_html_(self) -> str:
        view, _, rows = self._rows()
        summary = "".join(f"<li>{k}: <code>{html.escape(v)}</code></li>" for k, v in self._summary())
        return (f"<div><b>{html.escape(type(self).__name__)}</b>: {html.escape(view.title)}<ul>{summary}</ul>"
                f"{html_table(rows, bold_first=True)}</div>")
