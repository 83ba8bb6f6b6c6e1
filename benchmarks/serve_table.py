"""Serving a customer-table model: one customer at a time, in process and over HTTP.

One Click trained as `winback train --dataset oneclick` does (the default ensemble; cached), its
customers scored one per call from ready features:

(a) in process, p50 / p99 over CALLS calls: the probability, the probability with decile and
    segment, and with the three reasons; beside the peers in the same run, the paths the
    service took before, so each gain is a ratio on this machine: for the probability, the
    request as a one-row DataFrame, which each member's preprocessing reads; for the reasons,
    the background sample drawn, encoded and predicted on every call, with two BLAS threads
    (see winback.threads);
(b) HTTP POST /v1/score from a second process (benchmarks/_loadgen.py), one uvicorn worker,
    concurrency 1, without and with reasons.

    python benchmarks/serve_table.py [--calls 2000] [--http-requests 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
from _common import CACHE, print_table, write_result
from serve import HERE, free_port, timed, wait_ready

from winback.data.tables import load_customer_table
from winback.datasets import oneclick_config
from winback.serving.scorer import CustomerScorer
from winback.tabular import pipeline
from winback.tabular.explain import explain


def bundle() -> Path:
    out = CACHE / "serve-table-oneclick"
    if not (out / "bundle" / "manifest.json").exists():
        from winback.train_table import train_table

        train_table(oneclick_config(output_dir=str(out)), report=False)
    return out / "bundle"


def customers() -> list[dict]:
    """One Click's customers as a client sends them: categories as text, numbers as numbers."""
    table = load_customer_table(oneclick_config(), with_labels=False)
    return [{c: (None if pd.isna(v) else (str(v) if c in table.categorical else float(v))) for c, v in r.items()}
            for r in table.frame[table.features].to_dict("records")]


def in_process(path: Path, rows: list[dict], calls: int) -> dict:
    scorer = CustomerScorer(path)

    def frame_path(r):  # the peer: what the service did before (a frame, preprocessed per member)
        return scorer.model.predict_proba(scorer._inputs([r]).frame())[:, 1]

    def reasons_before(r):  # the peer: what the service did before, the background sample drawn,
        # encoded and predicted on every call, from the one-row frame, with two BLAS threads
        with patch.object(pipeline, "blas_for", lambda rows: nullcontext()):
            scorer.score_features([r])
            return explain(scorer.model, scorer._inputs([r]).frame(), background, seed=seed)

    assert all(np.array_equal(scorer.probabilities([r]), frame_path(r)) for r in rows[:20])
    seed = int(scorer.manifest["tuning"]["seed"])
    background = pd.read_parquet(path / scorer.manifest["background"])
    few = max(50, calls // 10)
    result = {"probability": timed(lambda r: scorer.probabilities([r]), rows, calls, warmup=50),
              "probability_decile_segment": timed(lambda r: scorer.score_features([r]), rows, calls, warmup=50),
              "with_reasons": timed(lambda r: scorer.score_features([r], reasons=True), rows, few, warmup=50),
              "frame_path_probability": timed(frame_path, rows, calls, warmup=50),
              "reasons_before": timed(reasons_before, rows, few, warmup=50)}
    return {**result, "model": scorer.model.name, "members": [m.name for m in scorer.model.members]}


def http(path: Path, row: dict, requests: int) -> dict:
    results = {}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "winback.cli", "serve", "--bundle", str(path),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        with tempfile.TemporaryDirectory() as tmp:
            for reasons, n in ((False, requests), (True, max(50, requests // 10))):
                body = Path(tmp) / "body.json"
                body.write_text(json.dumps({"customer_id": "c1", "features": row, "reasons": reasons}))
                out = subprocess.run([sys.executable, str(HERE / "_loadgen.py"), "--port", str(port),
                                      "--body", str(body), "-c", "1", "-n", str(n), "--warmup", "50"],
                                     check=True, capture_output=True, text=True)
                r = json.loads(out.stdout)
                if set(r["statuses"]) != {"200"}:
                    raise RuntimeError(f"non-200 answers: {r['statuses']}")
                results["with_reasons" if reasons else "probability_decile_segment"] = {
                    k: r[k] for k in ("p50_ms", "p99_ms", "rps", "requests")}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="in-process calls per measure")
    p.add_argument("--http-requests", type=int, default=2000)
    a = p.parse_args()
    path = bundle()
    rows = customers()
    proc = in_process(path, rows, a.calls)
    web = http(path, rows[0], a.http_requests)
    ms = "{p50:.3f} / {p99:.3f}"
    table = [
        ["in process: probability", ms.format(**proc["probability"]), ms.format(**proc["frame_path_probability"]),
         f"{proc['frame_path_probability']['p50'] / proc['probability']['p50']:.1f}x"],
        ["in process: + decile, segment", ms.format(**proc["probability_decile_segment"]), "", ""],
        ["in process: + three reasons", ms.format(**proc["with_reasons"]), ms.format(**proc["reasons_before"]),
         f"{proc['reasons_before']['p50'] / proc['with_reasons']['p50']:.1f}x"],
        ["HTTP, concurrency 1: + decile, segment",
         f"{web['probability_decile_segment']['p50_ms']:.2f} / {web['probability_decile_segment']['p99_ms']:.2f}", "", ""],
        ["HTTP, concurrency 1: + three reasons",
         f"{web['with_reasons']['p50_ms']:.2f} / {web['with_reasons']['p99_ms']:.2f}", "", ""],
    ]
    print(f"model: {proc['model']} ({', '.join(proc['members'])}); One Click, one customer per call")
    print_table(["measure (ms)", "winback p50 / p99", "before, same run: p50 / p99", "p50 ratio"], table)
    write_result("serve_table", {"in_process": proc, "http": web, "calls": a.calls,
                                 "http_requests": a.http_requests})


if __name__ == "__main__":
    main()
