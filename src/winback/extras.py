"""Which optional extras this install has, without importing them: what `winback --version`
says, so that a missing network candidate or backend is one command away from its reason."""

from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, version

# extra -> (module to look for, its distribution, what needs it)
EXTRAS = {
    "deep": ("torch", "torch", "the mlp candidate and the lstm, gru, cnn and cnn_bigru networks"),
    "catboost": ("catboost", "catboost", "the catboost candidate of customer tables"),
    "spark": ("pyspark", "pyspark", "source.backend = \"spark\""),
    "postgres": ("psycopg", "psycopg", "source.backend = \"postgres\" and postgresql:// score outputs"),
    "bigquery": ("google.cloud.bigquery", "google-cloud-bigquery", "source.backend = \"bigquery\""),
}


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (PyTorch takes about a second)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, a broken install, a hook hiding it
        return False


def extras_lines() -> list[str]:
    """One line per extra: installed (with its version) or how to install it, and what needs it."""
    lines = []
    for extra, (module, dist, needed_by) in EXTRAS.items():
        if installed(module):
            try:
                which = f"{dist} {version(dist)}"
            except PackageNotFoundError:
                which = dist
            lines.append(f"  {extra}: installed ({which}), for {needed_by}")
        else:
            lines.append(f"  {extra}: not installed (pip install 'winback[{extra}]'), needed for {needed_by}")
    return lines


def version_text(own_version: str) -> str:
    return "\n".join([f"winback {own_version}", "extras:", *extras_lines()])
