"""The service's web page: model summary, leaderboard, segment chart, a scoring form and the
next-event playground. One self-contained HTML document (inline CSS and JavaScript, no asset
from anywhere else), rendered once when the app starts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

LEADERBOARD_COLUMNS = {
    "event_log": ["candidate", "roc_auc", "pr_auc", "log_loss", "lift_10", "valid_roc_auc"],
    "customer_table": ["candidate", "cv_roc_auc", "roc_auc", "pr_auc", "log_loss", "lift_10"],
    "next_event": ["candidate", "accuracy", "macro_f1", "purchase_recall", "log_loss", "valid_log_loss"],
}


def _events_example(customer) -> str:
    """A few lines of the events textarea: time, type, amount (recent purchases)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    lines = [f"{(now - dt.timedelta(days=d)).isoformat()}Z, purchase, {a:.2f}"
             for d, a in ((200, 25.0), (120, 40.5), (35, 18.0))]
    return "\n".join(lines)


def render_page(customer, next_event, needs_key: bool) -> str:
    env = Environment(loader=PackageLoader("winback.serving", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    info: dict[str, Any] = {}
    if customer is not None:
        info = customer.describe()
        cols = LEADERBOARD_COLUMNS[customer.kind]
        info["board_columns"] = [c for c in cols if any(c in r for r in info["leaderboard"] or [])]
    ne_info = None
    if next_event is not None:
        ne_info = next_event.describe()
        ne_info["board_columns"] = [c for c in LEADERBOARD_COLUMNS["next_event"]
                                    if any(c in r for r in ne_info["leaderboard"] or [])]
    example = customer.example_features() if customer is not None else {}
    return env.get_template("page.html.j2").render(
        customer=info or None, next_event=ne_info, needs_key=needs_key,
        example_json=json.dumps(example, indent=1, ensure_ascii=False),
        events_example=_events_example(customer) if customer is not None and customer.kind != "customer_table" else "",
        classes=json.dumps(ne_info["classes"] if ne_info else []),
    )
