"""The whole user workflow on a 20 M-event REES46 log: `winback init`, `validate`, `train`.

    python benchmarks/workflow.py [--rows 20000000]
    python benchmarks/workflow.py --scale 100      # the first 100 M events of scale.py's parts,
                                                   # with DuckDB bounded to 6 GB as there


featurize.py and scale.py time the feature query alone; this times what a user runs, each
command in its own fresh process (so peak RSS is its own), on the config `init` writes from
the log. Writes benchmarks/results/workflow.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import cached_rees46, print_table, run_child, write_result

STEP = """
import time, json, pathlib, os
os.chdir("{folder}")
from winback.cli import main
t0 = time.perf_counter()
code = main({argv})
RESULT = {{"seconds": time.perf_counter() - t0, "exit": code}}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--scale", type=int, default=0,
                    help="millions of events from scale.py's cached parts (a glob of 10 M files)")
    args = ap.parse_args()
    if args.scale:
        from scale import size_folder

        source = str(size_folder(args.scale) / "*.parquet")
        args.rows = args.scale * 1_000_000
    else:
        source = str(cached_rees46(args.rows).resolve())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        steps = [("init", ["init", "--layout", "rees46", "--path", source]),
                 ("validate", ["validate"]),
                 ("train", ["train", "--no-track", "-q"])]
        for name, argv in steps:
            if name == "validate" and args.scale:  # the scale benchmark's memory bound
                with open(Path(folder) / "winback.toml", "a") as config:
                    config.write('\n[engine]\nmemory_limit = "6GB"\n')
            r = run_child(STEP.format(folder=folder, argv=repr(argv)))
            if r["exit"] != 0:
                raise SystemExit(f"winback {name} exited {r['exit']}")
            rows.append({"step": name, "seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]})
        manifest = json.loads((Path(folder) / "winback-out" / "bundle" / "manifest.json").read_text())
    best = manifest["best"]
    test = manifest["candidates"][best]["test"]
    print_table(["step", "seconds", "peak RSS MB"],
                [[r["step"], f"{r['seconds']:.1f}", f"{r['peak_rss_mb']:,.0f}"] for r in rows])
    print(f"\n{args.rows:,} events, {manifest['data']['customers']:,} customers; "
          f"{len(manifest['cutoffs'])} cutoffs, horizon {manifest['problem']['horizon_days']} days; "
          f"chosen {best}: test ROC-AUC {test['roc_auc']:.3f} on {test['n']:,} customers")
    out = write_result(f"workflow_{args.scale}M" if args.scale else "workflow", {
        "rows": args.rows, "customers": manifest["data"]["customers"], "steps": rows,
        "cutoffs": len(manifest["cutoffs"]), "horizon_days": manifest["problem"]["horizon_days"],
        "best": best, "test_roc_auc": test["roc_auc"],
        "leaderboard": {r["candidate"]: r["roc_auc"] for r in manifest["leaderboard"]},
        "seconds_total": sum(r["seconds"] for r in rows),
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"{time.perf_counter() - start:.0f} s")
