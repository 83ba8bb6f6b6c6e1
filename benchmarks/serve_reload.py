"""What serving a retrained model costs the requests around it.

One `winback serve` (one worker, `--reload-every 0.5`) on CDNOW's LightGBM bundle (cached, as
benchmarks/serve.py trains it) answers POST /v1/score for one customer from ready features,
at concurrency 1 from a second process (benchmarks/_loadgen.py), in rounds of REQUESTS answers.
In every other round a thread writes the bundle again into the served folder once a second, as
`winback train` does (whole, then renamed into place), so the service loads and swaps in a
model about once a second while it answers; the rounds between are the peer, in the same
server. Also: how long after a write the new model answers (`GET /v1/model` polled), against
the setting's bound of two looks.

    python benchmarks/serve_reload.py [--requests 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import print_table, write_result
from serve import HERE, bundle_for, free_port, wait_ready

from winback.bundle import write_atomic_dir

RELOAD_S = 0.5


def model_written(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/model", timeout=5) as r:
        return json.loads(r.read())["customer"]["created_at"]


def rewrite(source: Path, served: Path, created_at: str) -> None:
    """The source bundle written whole into `served`, its manifest marked `created_at`."""
    def fill(tmp: Path) -> None:
        for f in source.iterdir():
            shutil.copy(f, tmp / f.name)
        m = json.loads((tmp / "manifest.json").read_text())
        (tmp / "manifest.json").write_text(json.dumps({**m, "created_at": created_at}))
    write_atomic_dir(served, fill)


def load_round(port: int, body: Path, requests: int) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "_loadgen.py"), "--port", str(port), "--body", str(body),
                          "-c", "1", "-n", str(requests)], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    if set(r["statuses"]) != {"200"}:
        raise RuntimeError(f"non-200 answers: {r['statuses']}")
    return r


def reloads(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        lines = r.read().decode().splitlines()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines
               if line.startswith('winback_model_reloads_total{role="customer",result="loaded"'))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    source = bundle_for("lightgbm")
    columns = json.loads((source / "manifest.json").read_text())["feature_spec"]["columns"]
    with tempfile.TemporaryDirectory() as tmp:
        served, body = Path(tmp) / "bundle", Path(tmp) / "body.json"
        shutil.copytree(source, served)
        body.write_text(json.dumps({"features": {c: 1.0 for c in columns}}))
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "winback.cli", "serve", "--bundle", str(served),
                                 "--port", str(port), "--reload-every", str(RELOAD_S)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows, runs = [], {"steady": [], "swapping": []}
        try:
            wait_ready(port, proc)
            load_round(port, body, 500)  # warm-up
            delays = []
            for i in range(5):  # from a write to the new model's first answer
                stamp = f"2100-01-01T00:00:0{i}+00:00"
                start = time.perf_counter()
                rewrite(source, served, stamp)
                while model_written(port) != stamp:
                    time.sleep(0.01)
                delays.append(time.perf_counter() - start)
            for _ in range(args.rounds):
                for mode in ("steady", "swapping"):
                    stop, before = threading.Event(), reloads(port)

                    def writer() -> None:
                        n = 0
                        while not stop.wait(1.0):
                            n += 1
                            rewrite(source, served, f"2200-01-01T00:00:00.{n:06d}+00:00")
                    thread = threading.Thread(target=writer)
                    if mode == "swapping":
                        thread.start()
                    r = load_round(port, body, args.requests)
                    stop.set()
                    if mode == "swapping":
                        thread.join()
                    r["reloads"] = reloads(port) - before
                    runs[mode].append(r)
                    rows.append([mode, f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['rps']:,.0f}",
                                 r["reloads"], f"{r['seconds']:.1f}"])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print_table(["rounds", "p50 ms", "p99 ms", "requests/s", "models swapped in", "seconds"], rows)
    print(f"a write to its first answer: {min(delays):.2f} to {max(delays):.2f} s "
          f"(--reload-every {RELOAD_S}: at most two looks, {2 * RELOAD_S:.1f} s, plus the load)")
    write_result("serve_reload", {"bundle": "CDNOW LightGBM", "reload_every_s": RELOAD_S,
                                  "requests_per_round": args.requests, "rounds": runs,
                                  "write_to_served_s": delays})


if __name__ == "__main__":
    main()
