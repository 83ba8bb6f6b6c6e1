"""Console progress: a spinner per step and its duration, so long work never looks hung."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


class Steps:
    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = console or Console(stderr=True)

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        if self.quiet:
            yield
            return
        start = time.perf_counter()
        with self.console.status(f"{message}..."):
            yield
        self.console.print(f"[green]✓[/] {message} [dim]({time.perf_counter() - start:.1f}s)[/]")

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)
