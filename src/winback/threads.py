"""Threads: how many the models use, and one BLAS thread while several libraries take turns.

An ensemble's members predict one after the other: CatBoost with its own thread pool,
LightGBM and scikit-learn's kernels with OpenMP, the SVC's kernel matrix with OpenBLAS. Each
pool's threads keep spinning for a while after their call, waiting for more work, and on a
machine with few cores they take the cores the next library's threads need. Measured on One
Click's ensemble (CatBoost, SVC, LightGBM; 2 cores), in the main thread: one customer's reasons
took 33 ms with two BLAS threads and 16.5 ms with one, and CatBoost's prediction of 1,500 rows
8.6 ms right after the others against 0.9 ms alone. The spinning is a fixed cost per call, so
large calls gain from the second thread instead: the ensemble predicted 1,500 rows in 12 to 14 ms
with one against 19 to 22 with two, 60,000 rows as fast either way (321 to 341 against 348 to
354 ms), and 200,000 rows (a batch's call of masked rows for SHAP) in 1.12 to 1.16 s against 1.04
to 1.06 s. Hence the limit applies to calls of fewer than SMALL_CALL_ROWS rows.

Only the main thread sets the limit. OpenBLAS does not take a thread count set from another
thread (measured: the call changes nothing), and the service's worker threads, where requests
are predicted, ran the same reasons in 19.7 ms with the limit left alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

SMALL_CALL_ROWS = 50_000
_depth = 0
_limiter: Any = None
_controller: Any = None


def _blas_controller():
    """threadpoolctl's view of the BLAS libraries loaded (numpy's and scipy's OpenBLAS), found
    once: finding them takes about 10 ms, limiting them then about 20 us."""
    global _controller
    if _controller is None:
        import numpy  # noqa: F401  (loaded first, so that its OpenBLAS is among those found)
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread inside, in the main thread; the original count is restored
    when the outermost use ends. Other threads run as they are."""
    global _depth, _limiter
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        _limiter = _blas_controller().limit(limits=1)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            _limiter.restore_original_limits()
            _limiter = None


def blas_for(rows: int) -> AbstractContextManager:
    """One BLAS thread for a call of fewer than SMALL_CALL_ROWS rows; a large call as it is."""
    return one_blas_thread() if rows < SMALL_CALL_ROWS else nullcontext()


# -- how many threads the models use ---------------------------------------------------------
# LightGBM, deterministic and with row-wise histograms, builds the same trees on any number of
# threads (tested), so it takes every core unless `[engine] threads` says otherwise. CatBoost's
# trees depend on its thread count (on a 50,000-row scratch fit, 1, 2 and 4 threads gave
# probabilities up to 0.34 apart), so it keeps REPRODUCIBLE_THREADS unless told: a seed then gives
# the same CatBoost model on any machine.
REPRODUCIBLE_THREADS = 2
_model_threads = 0


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (`taskset`, a container's cpuset),
    which a CPU quota alone does not narrow."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on macOS and Windows
        return os.cpu_count() or 1


def set_model_threads(threads: int) -> None:
    """The `[engine] threads` of the run that starts (0: not set). Each pipeline's entry point
    (train, score, ...) sets it from its config; a service keeps the default."""
    global _model_threads
    _model_threads = max(0, int(threads))


def lightgbm_threads() -> int:
    return _model_threads or available_cores()


FEW_ROWS = 256


def prediction_threads(rows: int) -> int:
    """LightGBM's and CatBoost's threads for predicting `rows` rows, whose result does not depend
    on the count (tested): one for a few rows (a service's customer or session), since OpenMP's
    idle threads spin after every call and take cores from the service's other workers for no
    gain on so little work; `[engine] threads` or every core otherwise."""
    return 1 if rows < FEW_ROWS else lightgbm_threads()


def catboost_threads() -> int:
    """CatBoost's threads for training."""
    return _model_threads or REPRODUCIBLE_THREADS
