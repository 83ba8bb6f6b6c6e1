"""One service's figures from all of its workers, for /metrics and /v1/drift.

`winback serve --workers N` runs N processes behind one port, and a request for /metrics or
/v1/drift reaches one of them, which knows only what it answered itself: a scrape saw a
different worker's counters each time, and the drift comparison covered a share of the
customers. So each worker writes what it has counted (requests, latencies, models reloaded, the
customers it compared with the test population) to files of its own in a folder the workers
share, when something changed: request counts at most once a second, drift counts every ten
seconds. The worker asked adds up its own counts and every other worker's files. Bins and
counters add up exactly; another worker's requests are at most a second old in the sum, its
customers ten seconds, and its latest 1,024 customers' values (of 2,048 kept) give the medians.

A worker that has stopped (uvicorn starts another in its place) leaves its files: its requests
still count, so a counter never goes down, and its customers still count for the model it was
serving. `winback serve` makes a fresh folder and removes it when it stops. Files are JSON and
`.npz` archives of plain arrays (read without pickle), written under a temporary name and renamed
into place, so a reader sees a whole file, this one or the previous.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from winback.serving.background import Every

log = logging.getLogger("winback.serve")

STATE_DIR_ENV = "WINBACK_STATE_DIR"
SHARE_EVERY_S = 1.0  # request counts: as fresh as a scrape can want
DRIFT_EVERY_S = 10.0  # drift counts
SHARED_RECENT = 1024  # each other worker's latest customers that the medians read
PREFIX = "worker-"


def alive(pid: int) -> bool:
    """Whether a process with this id runs (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear(folder: Path) -> None:
    """Remove the workers' files a previous service left in `folder` (nothing else in it)."""
    for path in Path(folder).glob(f"{PREFIX}*"):
        path.unlink(missing_ok=True)


def _replace(path: Path, write: Callable[[Any], None], mode: str) -> None:
    """Write a file under a temporary name beside it and rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SharedCounts:
    """This worker's files in the shared folder, and the other workers' read back.

    `counts()` gives what the worker counted now: its Metrics, and (model id, ServedDrift) of
    the customer model it serves, or None."""

    def __init__(self, folder: Path | str, counts: Callable[[], tuple[Any, tuple[str, Any] | None]],
                 every_s: float = SHARE_EVERY_S):
        self.folder = Path(folder)
        self.counts = counts
        self.name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"  # two apps of one process apart
        self._metrics_written: int | None = None  # Metrics.version last written
        self._drift_written: tuple[Any, ...] | None = None  # (model, customers) last written
        self._drift_written_at = -math.inf
        self._lock = threading.Lock()
        self._every = Every("winback-share", every_s, lambda: self._write_logged(now=False))
        self._failing = False  # said once in the log until a write succeeds again

    def write(self, now: bool = True) -> None:
        """Write this worker's counts that changed since they were last written. Drift counts
        (with the latest customers' values, for the medians) are written every DRIFT_EVERY_S
        seconds, unless `now`: they change with every customer, and a shift is no matter of
        seconds, while a file each second would wear a disk for nothing."""
        metrics, drift = self.counts()
        model, tracker = drift if drift is not None else (None, None)
        with self._lock:
            if metrics.version != self._metrics_written:
                version = metrics.version
                self.folder.mkdir(parents=True, exist_ok=True)
                _replace(self.folder / f"{self.name}.json",
                         lambda f: json.dump({"metrics": metrics.snapshot()}, f), "w")
                self._metrics_written = version
            counted = (model, tracker.customers if tracker is not None else 0)
            due = now or time.monotonic() - self._drift_written_at >= DRIFT_EVERY_S
            if counted == self._drift_written or not due:
                return
            path = self.folder / f"{self.name}.npz"
            if tracker is None:
                path.unlink(missing_ok=True)
            else:
                snap = tracker.snapshot()
                names = sorted(snap["categories"])
                arrays = {"model": np.array(model), "customers": np.array(snap["customers"]),
                          "counts": snap["counts"],
                          "recent": snap["recent"][-SHARED_RECENT:].astype(np.float32),
                          "category_names": np.array(names, dtype=str),
                          **{f"category_{i}": snap["categories"][c] for i, c in enumerate(names)}}
                self.folder.mkdir(parents=True, exist_ok=True)
                _replace(path, lambda f: np.savez(f, **arrays), "wb")
            self._drift_written, self._drift_written_at = counted, time.monotonic()

    def _others(self, suffix: str) -> list[Path]:
        return sorted(p for p in self.folder.glob(f"{PREFIX}*{suffix}") if p.stem != self.name)

    def metrics_snapshots(self) -> list[dict[str, Any]]:
        """Every other worker's request counts (a file being replaced is read as it was)."""
        out = []
        for path in self._others(".json"):
            try:
                out.append(json.loads(path.read_text())["metrics"])
            except (OSError, ValueError, KeyError):
                continue  # removed meanwhile, or not one of ours
        return out

    def drift_snapshots(self, model: str) -> list[dict[str, Any]]:
        """Every other worker's drift counts for the same model (`model`: its id)."""
        out = []
        for path in self._others(".npz"):
            try:
                with np.load(path, allow_pickle=False) as z:
                    if str(z["model"]) != model:
                        continue  # a worker on another model (before or after a reload)
                    names = [str(n) for n in z["category_names"]]
                    out.append({"customers": int(z["customers"]), "counts": z["counts"],
                                "recent": z["recent"],
                                "categories": {c: z[f"category_{i}"] for i, c in enumerate(names)}})
            except (OSError, ValueError, KeyError):
                continue
        return out

    def start(self) -> None:
        self._every.start()

    def stop(self) -> None:
        """Stop writing, after a last write: a worker that stops leaves its final counts."""
        self._every.stop()
        self._write_logged()

    def _write_logged(self, now: bool = True) -> None:
        try:
            self.write(now)
            self._failing = False
        except Exception:  # noqa: BLE001 - a full disk must not stop the service answering
            if not self._failing:
                log.exception("writing this worker's counts to %s failed; the other workers' "
                              "/metrics and /v1/drift miss them until a write succeeds", self.folder)
            self._failing = True
