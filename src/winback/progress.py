"""Console progress: a spinner per step and its duration, so long work never looks hung."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


class Steps:
    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = console or Console(stderr=True)

    @contextmanager
    def step(self, message: str) -> Iterator[Callable[[str], None]]:
        """Spinner while the block runs; the block may call the yielded function with a
        detail (e.g. "3/6: 1997-05-07") to show where a long step is."""
        if self.quiet:
            yield lambda detail: None
            return
        start = time.perf_counter()
        with self.console.status(f"{message}...") as status:
            yield lambda detail: status.update(f"{message}: {detail}")
        self.console.print(f"[green]✓[/] {message} [dim]({time.perf_counter() - start:.1f}s)[/]")

    def note(self, message: str) -> None:
        """A warning the run carries on after (a candidate left out, a suspicious customer id):
        printed even when quiet, which silences progress only."""
        self.console.print(message)
