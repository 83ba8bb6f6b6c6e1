"""Errors that reach the user.

Every problem with the user's input or configuration is raised as a :class:`WinbackError`
subclass whose message says what is wrong, where (file, column, rows) and what to do next.
The CLI prints the message without a traceback and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WinbackError(Exception):
    """Base class of every error whose message is meant for the user."""


class ConfigError(WinbackError):
    """`winback.toml` or a CLI option is wrong."""


class DataError(WinbackError):
    """The input data cannot be used as it is."""


class LabelError(WinbackError):
    """The labels at a cutoff cannot train or evaluate a model (e.g. one class only)."""


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `name` (case-insensitive), or None when nothing is close."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' or an empty string, to append to a message."""
    match = closest(name, choices)
    return f" Did you mean '{match}'?" if match else ""
