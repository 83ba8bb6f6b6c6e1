"""Serve a retrained model without a restart.

`winback train` writes its bundle to a sibling folder and renames it into place, so a bundle's
folder always holds a whole model, old or new. Each worker looks at its bundles' folders every
few seconds; when one holds other files than the model it serves, and they stayed the same from
one look to the next (a folder copied into place by hand is read once the copy has finished),
the worker loads them in the background, runs the start-up self-test on them, and swaps the new
model in between two requests (a request in flight keeps the model it started with). A bundle that does not load, fails the self-test, or asks for other
request fields than the service was started with (another model kind, other features: the
OpenAPI schema and its checks are built once) is not served: the old model stays, /readyz and the
log say why, and it is not tried again until the folder changes once more.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from winback.serving.background import Every

log = logging.getLogger("winback.serve")

DEFAULT_RELOAD_S = 5.0

Stamp = tuple[Any, ...]


def stamp(bundle: Path) -> Stamp | None:
    """Which files the bundle folder holds now: the folder itself (a rename puts another in
    place) and each file's size and time. None while there is no manifest (a rename under way)."""
    bundle = Path(bundle)
    try:
        st = os.stat(bundle)
        if not (bundle / "manifest.json").is_file():
            return None
        files = []
        for root, _, names in os.walk(bundle):
            for name in names:
                f = os.stat(os.path.join(root, name))
                files.append((os.path.relpath(os.path.join(root, name), bundle), f.st_size, f.st_mtime_ns))
    except OSError:
        return None
    return st.st_dev, st.st_ino, tuple(sorted(files))


def interface(customer) -> tuple[Any, ...] | None:
    """What the request schema was built from: a new customer model must take the same bodies."""
    if customer is None:
        return None
    return (customer.kind, tuple(customer.columns), tuple(sorted(customer.categorical)),
            tuple(sorted(customer.booleans)), tuple(sorted(customer.coded)))


@dataclass(frozen=True)
class Served:
    """The models a worker answers with, and what is built from them; replaced whole."""

    customer: Any
    next_event: Any
    ready: list[str]
    page: str
    problems: dict[str, str] = field(default_factory=dict)  # role -> why its new bundle is not served


class BundleWatcher:
    """Swaps in a bundle when its folder holds a new model (see the module doc).

    `build(customer, next_event)` returns (self-test result, page) for a pair of scorers;
    `current()` and `publish(served)` read and replace what the routes answer with."""

    def __init__(self, paths: dict[str, Path], current: Callable[[], Served],
                 publish: Callable[[Served], None], build: Callable[[Any, Any], tuple[list[str], str]],
                 stamps: dict[str, Stamp | None], interval_s: float = DEFAULT_RELOAD_S,
                 on_result: Callable[[str, str], None] | None = None):
        self.paths, self.current, self.publish, self.build = paths, current, publish, build
        self.loaded = dict(stamps)  # the files each role's model was read from
        self.seen = dict(stamps)  # the files at the last look
        self.refused: dict[str, Stamp | None] = {}  # new files already tried and refused
        self.on_result = on_result or (lambda role, result: None)
        self._lock = threading.Lock()
        self._every = Every("winback-reload", interval_s, self._tick)

    def check(self) -> list[str]:
        """Look at every bundle once; the roles whose new model is now served. A folder is
        read when it holds what it held at the previous look."""
        swapped = []
        with self._lock:  # one check at a time (the thread, or a test calling it)
            for role, path in self.paths.items():
                now = stamp(path)
                settled, self.seen[role] = now == self.seen.get(role), now
                if now is not None and now == self.loaded.get(role) and role in self.current().problems:
                    served = self.current()  # the served model's own files put back: nothing to say
                    self.publish(replace(served, problems={r: m for r, m in served.problems.items() if r != role}))
                if (now is None or not settled or now == self.loaded.get(role)
                        or now == self.refused.get(role)):
                    continue
                if self._swap(role, path, now):
                    swapped.append(role)
        return swapped

    def _swap(self, role: str, path: Path, now: Stamp) -> bool:
        from winback.errors import WinbackError
        from winback.serving.scorer import CustomerScorer, NextEventScorer

        served = self.current()
        try:
            scorer = CustomerScorer(path) if role == "customer" else NextEventScorer(path)
            if role == "customer" and interface(scorer) != interface(served.customer):
                raise _Refused(f"the bundle now in {path} takes other request fields than the "
                               f"service was started with (another kind of model or other "
                               f"features); restart the service to serve it")
            pair = (scorer, served.next_event) if role == "customer" else (served.customer, scorer)
            ready, page = self.build(*pair)
            if f"{role}:{scorer.manifest['best']}" not in ready:
                raise _Refused(f"the bundle now in {path} failed the self-test (see the log)")
        except Exception as exc:  # noqa: BLE001 - whatever the new bundle does, the old one serves
            why = str(exc) if isinstance(exc, _Refused) else (
                f"the bundle now in {path} does not load ({type(exc).__name__}: {exc})")
            if not isinstance(exc, (_Refused, WinbackError)):  # a bug or a damaged file: the trace
                log.exception("reloading %s", path)
            log.error("still serving the previous %s model: %s", role, why)
            self.refused[role] = now
            self.publish(replace(served, problems={**served.problems, role: why}))
            self.on_result(role, "refused")
            return False
        self.loaded[role] = now
        self.refused.pop(role, None)
        problems = {r: p for r, p in served.problems.items() if r != role}
        self.publish(Served(*pair, ready=ready, page=page, problems=problems))
        log.info("now serving the %s model written %s (%s, fingerprint %s) from %s", role,
                 scorer.manifest.get("created_at"), scorer.manifest.get("best"),
                 scorer.manifest.get("fingerprint"), path)
        self.on_result(role, "loaded")
        return True

    def start(self) -> None:
        self._every.start()

    def stop(self) -> None:
        self._every.stop()

    def _tick(self) -> None:
        try:
            self.check()
        except Exception:  # noqa: BLE001 - the watcher must outlive a bad moment on disk
            log.exception("looking for a new bundle failed")


class _Refused(Exception):
    """A new bundle that loaded but is not served; its message says why."""
