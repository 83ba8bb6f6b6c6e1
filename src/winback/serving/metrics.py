"""Request counts and latency histograms in the Prometheus text format.

Kept in the worker's memory: a plain dict and a lock cost well under a microsecond per request,
which matters when a request itself takes a tenth of a millisecond. `/metrics` adds up the
snapshots of every worker of the service (see serving/shared.py), since a scrape reaches only
one of them; a worker that has stopped keeps its counts there, so a counter never goes down.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self._reloads: dict[tuple[str, str], int] = defaultdict(int)
        self.started = time.time()
        self.version = 0  # grows with every change, so a worker writes its snapshot only then

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method)
        with self._lock:
            self._counts[(route, method, str(status))] += 1
            counts = self._buckets.get(key)
            if counts is None:
                counts = self._buckets[key] = [0] * (len(BUCKETS_S) + 1)
            counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
            self._sums[key] += seconds
            self.version += 1

    def count_reload(self, role: str, result: str) -> None:
        """A retrained bundle found in a folder: `loaded` (now served) or `refused`."""
        with self._lock:
            self._reloads[(role, result)] += 1
            self.version += 1

    def snapshot(self) -> dict[str, Any]:
        """This worker's counts as JSON-able lists, to add to other workers' in `render`."""
        with self._lock:
            return {"pid": os.getpid(), "started": self.started,
                    "requests": [[*k, n] for k, n in self._counts.items()],
                    "seconds": [[*k, list(v), self._sums[k]] for k, v in self._buckets.items()],
                    "reloads": [[*k, n] for k, n in self._reloads.items()]}

    def render(self, snapshots: Sequence[dict[str, Any]] | None = None,
               live: Callable[[int], bool] | None = None) -> str:
        """The service's series: the sums over `snapshots` (every worker's; default this
        worker's alone) and the start time of each worker `live` says is running."""
        snapshots = [self.snapshot()] if snapshots is None else snapshots
        counts: dict[tuple[str, ...], int] = defaultdict(int)
        buckets: dict[tuple[str, ...], list[int]] = {}
        sums: dict[tuple[str, ...], float] = defaultdict(float)
        reloads: dict[tuple[str, ...], int] = defaultdict(int)
        for snap in snapshots:
            for *key, n in snap["requests"]:
                counts[tuple(key)] += int(n)
            for route, method, per_bucket, total in snap["seconds"]:
                into = buckets.setdefault((route, method), [0] * (len(BUCKETS_S) + 1))
                for i, n in enumerate(per_bucket[:len(into)]):
                    into[i] += int(n)
                sums[(route, method)] += float(total)
            for *key, n in snap["reloads"]:
                reloads[tuple(key)] += int(n)
        lines = ["# HELP winback_requests_total HTTP requests by route, method and status.",
                 "# TYPE winback_requests_total counter"]
        for (route, method, status), n in sorted(counts.items()):
            lines.append(f'winback_requests_total{{route="{route}",method="{method}",status="{status}"}} {n}')
        lines += ["# HELP winback_request_seconds Time to answer a request, by route and method.",
                  "# TYPE winback_request_seconds histogram"]
        for (route, method), counts_ in sorted(buckets.items()):
            labels = f'route="{route}",method="{method}"'
            running = 0
            for bound, n in zip((*BUCKETS_S, float("inf")), counts_):
                running += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'winback_request_seconds_bucket{{{labels},le="{le}"}} {running}')
            lines.append(f"winback_request_seconds_sum{{{labels}}} {sums[(route, method)]:.6f}")
            lines.append(f"winback_request_seconds_count{{{labels}}} {running}")
        lines += ["# HELP winback_model_reloads_total Retrained bundles found in a served folder, by "
                  "model role and result (loaded: now served; refused: the previous model stays); "
                  "each worker loads its own copy, so each counts.",
                  "# TYPE winback_model_reloads_total counter"]
        lines += [f'winback_model_reloads_total{{role="{role}",result="{result}"}} {n}'
                  for (role, result), n in sorted(reloads.items())]
        running_now = {int(s["pid"]): s for s in sorted(snapshots, key=lambda s: float(s["started"]))
                       if live is None or live(int(s["pid"]))}  # by pid: the latest app of a process
        lines += ["# HELP winback_process_start_time_seconds When each worker of the service started.",
                  "# TYPE winback_process_start_time_seconds gauge"]
        lines += [f'winback_process_start_time_seconds{{pid="{pid}"}} {float(s["started"]):.0f}'
                  for pid, s in sorted(running_now.items())]
        return "\n".join(lines) + "\n"
