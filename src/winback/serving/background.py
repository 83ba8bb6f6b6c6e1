"""A service's periodic chores (looking for a retrained model, sharing a worker's counts)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Every:
    """Calls `tick` every `interval_s` seconds in a daemon thread, from `start` until `stop`.
    `tick` handles its own errors: a chore that fails once must be tried again next time."""

    def __init__(self, name: str, interval_s: float, tick: Callable[[], None]):
        self.name, self.interval_s, self.tick = name, interval_s, tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()
