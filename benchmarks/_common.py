"""Shared helpers for benchmarks: tables, JSON results, child-process timing with peak RSS."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache"


def machine() -> dict:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {**payload, "machine": machine(), "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(payload, indent=2))
    return path


def cached_rees46(rows: int) -> Path:
    """The default synthetic REES46-layout log of `rows` events, generated once under CACHE
    (featurize.py and workflow.py read the same file)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"rees46_{rows}.parquet"
    if not path.exists():
        from winback.datasets import generate_rees46

        t = time.perf_counter()
        generate_rees46(path, rows=rows, progress=lambda n: print(f"\rgenerating {n:,} rows", end="", flush=True))
        print(f"\ngenerated {path} in {time.perf_counter() - t:.0f}s")
    return path


def run_child(code: str) -> dict:
    """Run Python `code` in a fresh process; it must print one JSON line with its result.
    Adds the child's peak RSS (MB): VmHWM, its own since exec. getrusage's maxrss keeps the
    forked parent's (a benchmark that generated its data in-process reported 738 MB for every
    child); it is the fallback off Linux."""
    wrapper = code + """
import resource, json as _j, re as _re
try:
    _peak = int(_re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
except (OSError, AttributeError):
    _peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(_j.dumps({**RESULT, 'peak_rss_mb': _peak}))
"""
    out = subprocess.run([sys.executable, "-c", wrapper], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(headers: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
