"""Next event in a session (issue #4 acceptance): every candidate on a held-out later period of
a 2 M-event synthetic REES46-layout log.

Samples are the last k = 5 events of a session; the target is the next event type or "end".
Training samples come from events before the split day (a tenth of the sessions held out for
early stopping), test samples from events on and after it. Training is capped at 500,000
samples (sessions drawn at random) to keep the run to a few minutes on two cores.

    python benchmarks/next_event.py [--rows 2000000] [--max-train 500000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
from _common import CACHE, print_table, write_result

from winback.config import config_from_dict
from winback.data.canonical import load_events
from winback.datasets import generate_rees46
from winback.nextevent.dataset import CLASSES, Vocabulary, samples_table, to_samples
from winback.nextevent.models import candidates, evaluate

K = 5
START, DAYS, SPLIT_DAY = "2019-10-01", 150, 120


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--max-train", type=int, default=500_000)
    args = ap.parse_args()
    path = CACHE / f"rees46_{args.rows}_nextevent.parquet"
    if not path.exists():
        generate_rees46(path, rows=args.rows, seed=5, start=START, days=DAYS)
    log = load_events(config_from_dict({"source": {"path": str(path), "layout": "rees46"}}))
    split = dt.datetime.fromisoformat(START) + dt.timedelta(days=SPLIT_DAY)
    start = time.perf_counter()
    train_frame = samples_table(log.table, K, end=split).execute()
    test_frame = samples_table(log.table, K, start=split).execute()
    build_seconds = time.perf_counter() - start
    vocab = Vocabulary().fit(train_frame, K)
    train_all, test = to_samples(train_frame, K, vocab), to_samples(test_frame, K, vocab)
    rng = np.random.default_rng(0)
    sessions = np.unique(train_all.session)
    rng.shuffle(sessions)
    per_session = len(train_all) / len(sessions)
    keep = set(sessions[: int(args.max_train / per_session)])
    held = set(list(keep)[: len(keep) // 10])
    rows = np.array([s in keep for s in train_all.session])
    is_valid = np.array([s in held for s in train_all.session])
    train = train_all.subset(np.where(rows & ~is_valid)[0])
    valid = train_all.subset(np.where(is_valid)[0])
    results, seconds, params = {}, {}, {}
    for model in candidates(seed=0):
        t = time.perf_counter()
        model.fit(train, valid)
        results[model.name] = evaluate(test.target, model.predict_proba(test))
        seconds[model.name] = time.perf_counter() - t
        params[model.name] = model.parameter_count() if hasattr(model, "parameter_count") else None
    markov = results["markov"]
    table = [[n, f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}", f"{r['purchase_recall']:.4f}",
              f"{r['log_loss']:.4f}", f"{r['macro_f1'] - markov['macro_f1']:+.4f}",
              f"{r['log_loss'] - markov['log_loss']:+.4f}", f"{seconds[n]:.0f}"]
             for n, r in results.items()]
    print_table(["candidate", "accuracy", "macro-F1", "purchase recall", "log loss",
                 "macro-F1 vs markov", "log loss vs markov", "fit s"], table)
    best = results["cnn_bigru"]
    print(f"\nCNN-BiGRU vs Markov: macro-F1 {best['macro_f1'] - markov['macro_f1']:+.4f}, log loss "
          f"{best['log_loss'] - markov['log_loss']:+.4f}; train {len(train):,} samples, valid "
          f"{len(valid):,}, test {len(test):,} (events from {split:%Y-%m-%d}); samples built in "
          f"{build_seconds:.1f}s")
    path_out = write_result("next_event", {
        "candidates": results, "fit_seconds": seconds, "parameters": params, "classes": list(CLASSES),
        "samples": {"train": len(train), "valid": len(valid), "test": len(test)},
        "k": K, "rows": args.rows, "split": split.isoformat(),
        "cnn_bigru_vs_markov": {"macro_f1": best["macro_f1"] - markov["macro_f1"],
                                "log_loss": best["log_loss"] - markov["log_loss"]},
    })
    print(f"wrote {path_out}")


if __name__ == "__main__":
    main()
