"""Serving latency and throughput (issue #5 acceptance).

(a) in-process scoring of one customer from ready features, p50 / p99 over 10,000 calls, beside
    a bare booster's one-row predict (the peer: what any wrapper adds is the difference);
(b) HTTP POST /v1/score from a second process on 127.0.0.1 (benchmarks/_loadgen.py), at
    concurrency 1 and 32, with one and two uvicorn workers: p50, p99, requests per second;
(c) batch scoring of 1 M customers from a Parquet file of ready features (`winback score
    --features --no-reasons`) in rows per second, beside the bare booster on the same matrix in
    memory, and with each customer's top three reasons (the default).

Bundles: CDNOW repeat purchase, one with LightGBM and one with logistic regression (both cached).

    python benchmarks/serve.py [--batch-rows 1000000] [--http-requests 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from _common import CACHE, print_table, write_result

from winback.config import ProblemConfig, parse_date
from winback.data.canonical import load_events
from winback.datasets import cdnow_config
from winback.features import FeatureSpec
from winback.frame import build_frame, score_cutoff
from winback.serving.scorer import CustomerScorer

CALLS = 10_000
HERE = Path(__file__).parent


def bundle_for(model: str) -> Path:
    out = CACHE / f"serve-{model}"
    bundle = out / "bundle"
    if not (bundle / "manifest.json").exists():
        from winback.train import train

        cfg = cdnow_config(output_dir=str(out))
        cfg.train.candidates = [model]
        train(cfg, report=False)
    return bundle


def feature_rows(bundle: Path) -> tuple[pd.DataFrame, list[str]]:
    """CDNOW customers at the bundle's test cutoff, with the bundle's features."""
    m = json.loads((bundle / "manifest.json").read_text())
    test = next(c for c in m["cutoffs"] if c["role"] == "test")
    when = parse_date(test["time"][:10], "cutoff")
    spec = dict(m["feature_spec"])
    columns = spec.pop("columns")
    frame = build_frame(load_events(cdnow_config()), score_cutoff(when, m["problem"]["horizon_days"]),
                        ProblemConfig(**m["problem"]), FeatureSpec.from_dict(spec), with_labels=False)
    return frame, columns


def percentiles(seconds: np.ndarray) -> dict[str, float]:
    ms = seconds * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def timed(call, rows: list, calls: int, warmup: int = 200) -> dict[str, float]:
    """p50 / p99 of `call` over `calls` calls, one row each, cycling through `rows`."""
    for r in rows[:warmup]:
        call(r)
    times = np.empty(calls)
    for i in range(calls):
        r = rows[i % len(rows)]
        start = time.perf_counter()
        call(r)
        times[i] = time.perf_counter() - start
    return percentiles(times)


def in_process(bundle: Path) -> dict:
    scorer = CustomerScorer(bundle)
    frame, columns = feature_rows(bundle)
    rows = [{c: (None if pd.isna(v) else float(v)) for c, v in r.items()}
            for r in frame[columns].head(2000).to_dict("records")]
    out = {}
    for name, call in (
        ("probability", lambda r: scorer.probabilities([r])),
        ("probability_decile_segment", lambda r: scorer.score_features([r])),
        ("with_reasons", lambda r: scorer.score_features([r], reasons=True)),
    ):
        out[name] = timed(call, rows, CALLS)
    if scorer.model.name == "lightgbm":
        booster = scorer.model.booster_
        X = frame[columns].to_numpy(dtype=float)
        times = np.empty(CALLS)
        for i in range(CALLS):
            x = X[i % len(X)][None, :]
            start = time.perf_counter()
            booster.predict(x)
            times[i] = time.perf_counter() - start
        out["bare_booster_predict"] = percentiles(times)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"winback serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("winback serve did not become ready")


def http(bundle: Path, body_path: Path, requests: int) -> dict:
    results = {}
    for workers in (1, 2):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "winback.cli", "serve", "--bundle", str(bundle),
                                 "--port", str(port), "--workers", str(workers)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(port, proc)
            time.sleep(1.0 if workers > 1 else 0.2)  # let every worker finish starting
            for concurrency in ((1, 32) if workers == 1 else (32,)):
                n = requests // 4 if concurrency == 1 else requests
                out = subprocess.run([sys.executable, str(HERE / "_loadgen.py"), "--port", str(port),
                                      "--body", str(body_path), "-c", str(concurrency), "-n", str(n)],
                                     check=True, capture_output=True, text=True)
                r = json.loads(out.stdout)
                if set(r["statuses"]) != {"200"}:
                    raise RuntimeError(f"non-200 answers: {r['statuses']}")
                results[f"c{concurrency}_w{workers}"] = {k: r[k] for k in ("p50_ms", "p99_ms", "rps", "requests")}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return results


def batch(bundle: Path, rows: int) -> dict:
    """1 M customers: CDNOW feature rows resampled with a little noise, written once to Parquet."""
    from winback.score import score_features_to

    frame, columns = feature_rows(bundle)
    path = CACHE / f"serve-features-{rows}.parquet"
    if not path.exists():
        rng = np.random.default_rng(5)
        pick = rng.integers(0, len(frame), rows)
        X = frame[columns].to_numpy(dtype=float)[pick]
        X = X * rng.normal(1.0, 0.02, X.shape)
        out = pd.DataFrame(X, columns=columns)
        out.insert(0, "customer_id", [f"c{i:08d}" for i in range(rows)])
        out.to_parquet(path, index=False)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        scored = score_features_to(bundle, path, str(Path(tmp) / "scores.parquet"), reasons=False).rows
        seconds = time.perf_counter() - start
        start = time.perf_counter()  # the default: with each customer's top three reasons
        score_features_to(bundle, path, str(Path(tmp) / "scores.parquet"))
        with_reasons = time.perf_counter() - start
    X = pd.read_parquet(path, columns=columns).to_numpy(dtype=float)
    scorer = CustomerScorer(bundle)
    start = time.perf_counter()
    scorer.model.predict_matrix(X)
    bare = time.perf_counter() - start
    out = {"rows": scored, "seconds": seconds, "rows_per_s": scored / seconds,
           "seconds_with_reasons": with_reasons, "rows_per_s_with_reasons": scored / with_reasons,
           "bare_model_rows_per_s": rows / bare}
    if scorer.model.name == "lightgbm":
        # one scoring chunk: LightGBM's own TreeSHAP (the peer) against winback's, once per
        # decision pattern (models/treeshap.py), on the same rows
        from winback.score import CHUNK_ROWS

        chunk = X[:CHUNK_ROWS]
        start = time.perf_counter()
        own = scorer.model._predict(chunk, pred_contrib=True)[:, :-1]
        own_s = time.perf_counter() - start
        start = time.perf_counter()
        patterns = scorer.model.contributions(chunk)
        patterns_s = time.perf_counter() - start
        out["contributions"] = {"rows": len(chunk), "lightgbm_pred_contrib_s": own_s,
                                "winback_patterns_s": patterns_s, "speedup": own_s / patterns_s,
                                "max_abs_difference": float(np.abs(own - patterns).max())}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch-rows", type=int, default=1_000_000)
    p.add_argument("--http-requests", type=int, default=20_000)
    a = p.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    bundles = {m: bundle_for(m) for m in ("lightgbm", "logistic")}
    report: dict = {"models": {}}
    for name, bundle in bundles.items():
        print(f"[{name}] in-process latency ...", flush=True)
        entry = {"inprocess": in_process(bundle)}
        frame, columns = feature_rows(bundle)
        body = {"customer_id": "c1", "features": {c: (None if pd.isna(v) else float(v))
                                                  for c, v in frame[columns].iloc[7].items()},
                "reasons": False}
        body_path = CACHE / f"serve-body-{name}.json"
        body_path.write_text(json.dumps(body))
        print(f"[{name}] HTTP ...", flush=True)
        entry["http"] = http(bundle, body_path, a.http_requests)
        print(f"[{name}] batch {a.batch_rows:,} rows ...", flush=True)
        entry["batch"] = batch(bundle, a.batch_rows)
        report["models"][name] = entry
    lead = report["models"]["lightgbm"]
    payload = {
        "inprocess_ms": lead["inprocess"]["probability"],
        "http": {k: {"p50_ms": v["p50_ms"], "p99_ms": v["p99_ms"], "rps": v["rps"]}
                 for k, v in lead["http"].items()},
        "batch_rows_per_s": lead["batch"]["rows_per_s"],
        "reference_model": "lightgbm (CDNOW repeat purchase)",
        **report,
    }
    rows = []
    for name, e in report["models"].items():
        ip = e["inprocess"]
        rows.append([name, f"{ip['probability']['p50']:.3f} / {ip['probability']['p99']:.3f}",
                     f"{ip['probability_decile_segment']['p99']:.3f}", f"{ip['with_reasons']['p99']:.3f}",
                     *(f"{e['http'][k]['p50_ms']:.2f} / {e['http'][k]['p99_ms']:.2f} / {e['http'][k]['rps']:,.0f}"
                       for k in ("c1_w1", "c32_w1", "c32_w2")),
                     f"{e['batch']['rows_per_s']:,.0f} (bare {e['batch']['bare_model_rows_per_s']:,.0f})",
                     f"{e['batch']['rows_per_s_with_reasons']:,.0f}"])
    print_table(["model", "in-process p50/p99 ms", "+decile+segment p99", "+reasons p99",
                 "HTTP c1 w1 p50/p99/rps", "HTTP c32 w1", "HTTP c32 w2", "batch rows/s (--no-reasons)",
                 "batch with reasons"], rows)
    if "bare_booster_predict" in lead["inprocess"]:
        b = lead["inprocess"]["bare_booster_predict"]
        print(f"bare LightGBM one-row predict: p50 {b['p50']:.3f} ms, p99 {b['p99']:.3f} ms")
    c = lead["batch"].get("contributions")
    if c:
        print(f"TreeSHAP on {c['rows']:,} rows: LightGBM's pred_contrib {c['lightgbm_pred_contrib_s']:.2f} s, "
              f"winback's per pattern {c['winback_patterns_s']:.2f} s ({c['speedup']:.1f}x; largest "
              f"difference {c['max_abs_difference']:.1e})")
    print(f"wrote {write_result('serve', payload)}")


if __name__ == "__main__":
    os.environ.setdefault("WINBACK_API_KEY", "")
    main()
