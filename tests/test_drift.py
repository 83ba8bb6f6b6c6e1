"""The scored customers against the model's test population: PSI by hand, bins, chunks, missing
values and categories, and the message `winback score` prints, on CDNOW and One Click."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from winback.cli import main
from winback.datasets import cdnow_config
from winback.drift import DriftCounter, drift_from_dict, psi, reference
from winback.score import score, score_to


def test_psi_by_hand():
    then, now = [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]
    by_hand = (0.2 - 0.5) * math.log(0.2 / 0.5) + 0 + (0.5 - 0.2) * math.log(0.5 / 0.2)
    assert psi(then, now) == pytest.approx(by_hand, abs=1e-12) and psi(then, then) == 0
    assert math.isfinite(psi([1.0, 0.0], [0.0, 1.0]))  # an empty bin on one side stays finite


def _drift(ref_frame, frame, numeric=("x",), categorical=(), chunks=1, scores=None):
    ref = reference(ref_frame, list(numeric), list(categorical),
                    scores=None if scores is None else scores[0], tested_on="the test rows")
    counter = DriftCounter(ref, [*numeric, *categorical])
    for i, part in enumerate(np.array_split(np.arange(len(frame)), chunks)):
        counter.add(frame.iloc[part], None if scores is None else scores[1][part])
    return counter.result()


def test_the_same_population_does_not_move_and_a_shifted_one_does():
    rng = np.random.default_rng(0)
    then = pd.DataFrame({"x": rng.exponential(30, 20_000)})
    same = pd.DataFrame({"x": rng.exponential(30, 20_000)})
    later = pd.DataFrame({"x": rng.exponential(30, 20_000) + 40})  # everyone 40 days older
    calm, moved = _drift(then, same), _drift(then, later)
    assert calm.largest < 0.01 and calm.message()[0] == "ok"
    assert moved.largest > 1 and moved.message()[0] == "warning"
    assert "x (PSI" in moved.message()[1] and "train it again" in moved.message()[1]
    # the median said is the population's
    assert moved.shifts[0].now == f"median {np.median(later.x):.3g}"
    # counting in chunks gives the figures of one pass
    assert _drift(then, later, chunks=7).largest == pytest.approx(moved.largest, abs=1e-12)
    # some shift: a note, not a warning
    slightly = pd.DataFrame({"x": rng.exponential(45, 20_000)})  # a mean half as large again
    some = _drift(then, slightly)
    assert 0.1 <= some.largest < 0.25 and some.message()[0] == "note"


def test_discrete_values_missing_values_and_categories():
    rng = np.random.default_rng(1)
    orders = rng.choice([1, 1, 1, 2, 2, 3, 5], 5_000).astype(float)  # tenths collapse to few edges
    ref = reference(pd.DataFrame({"n": orders}), ["n"])
    assert ref["columns"]["n"]["edges"] == sorted(set(ref["columns"]["n"]["edges"]))
    assert _drift(pd.DataFrame({"n": orders}), pd.DataFrame({"n": rng.permutation(orders)}), ["n"]).largest < 1e-9
    # a column the new export leaves empty: the missing share is a bin of its own
    emptied = _drift(pd.DataFrame({"n": orders}), pd.DataFrame({"n": np.full(5_000, np.nan)}), ["n"])
    assert emptied.largest > 5 and emptied.shifts[0].now == "all missing"
    # categories: the commonest levels, then the rest, then missing
    plan = pd.DataFrame({"plan": rng.choice(["basic", "premium"], 4_000, p=[0.7, 0.3])})
    flipped = pd.DataFrame({"plan": rng.choice(["basic", "premium", "gold"], 4_000, p=[0.2, 0.3, 0.5])})
    drift = _drift(plan, flipped, numeric=(), categorical=("plan",))
    assert drift.largest > 1 and drift.shifts[0].then == "mostly 'basic'"
    assert drift.shifts[0].now == "mostly other levels"


def test_scores_shift_is_said_but_decides_nothing():
    """Scoring the rows a model was fitted on moves its scores with no new customer."""
    rng = np.random.default_rng(2)
    x = pd.DataFrame({"x": rng.normal(0, 1, 3_000)})
    drift = _drift(x, x, scores=(rng.uniform(0.3, 0.7, 3_000), rng.uniform(0, 1, 3_000)))
    assert drift.score.psi > 0.1 and drift.largest < 1e-9 and drift.message()[0] == "ok"
    again = drift_from_dict(json.loads(json.dumps(drift.as_dict())))
    assert again == drift


def test_cdnow_at_the_test_cutoff_and_at_the_end_of_the_data(cdnow_bundle, tmp_path):
    manifest = json.loads((cdnow_bundle / "manifest.json").read_text())
    test = next(c for c in manifest["cutoffs"] if c["role"] == "test")["time"][:10]
    assert manifest["drift_reference"]["tested_on"] == f"the customers at the test cutoff {test}"
    # the very population the model was tested on: no column moves at all
    at_test = score_to(cdnow_config(), cdnow_bundle, str(tmp_path / "t.parquet"), cutoff=test, reasons=False)
    assert at_test.drift.rows == 23_570 and at_test.drift.largest < 1e-9 and at_test.drift.score.psi < 1e-9
    assert at_test.drift.message()[0] == "ok"
    # nine months on, CDNOW's single cohort of 1997 has aged past anything the model saw; the
    # model is as recent as the log allows, so the message does not ask for a new one
    later = score(cdnow_config(), cdnow_bundle, reasons=False)
    drift = drift_from_dict(later.attrs["drift"])
    assert {s.column for s in drift.shifts[:2]} == {"tenure_days", "purchase_tenure_days"}
    assert drift.shifts[0].psi > 5 and not drift.retrain_helps
    level, text = drift.message()
    assert level == "warning" and "already the latest the log allows" in text
    later.to_parquet(tmp_path / "kept.parquet")  # the attrs stay JSON, which pandas writes


def test_score_prints_the_comparison(cdnow_bundle, tmp_path, capsys):
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o", str(tmp_path / "s.csv"),
                 "--cutoff", "1998-01-01", "--no-reasons", "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: The 23,570 customers scored differ from those the model was tested on" in out
    assert "tenure_days (PSI" in out


def test_a_service_counts_one_customer_at_a_time_as_a_batch_does():
    """ServedDrift (a request at a time, blocks of 256 counted at once) gives the PSI of
    DriftCounter (chunks) for the same rows, missing values and all."""
    from winback.drift import ServedDrift

    rng = np.random.default_rng(4)
    then = pd.DataFrame({"a": rng.exponential(30, 5_000), "b": rng.normal(0, 1, 5_000),
                         "c": rng.choice([1.0, 2.0, 3.0], 5_000)})
    now = pd.DataFrame({"a": rng.exponential(40, 3_001), "b": rng.normal(0.3, 1, 3_001),
                        "c": rng.choice([1.0, 2.0, 3.0, np.nan], 3_001)})
    scores = (rng.uniform(size=5_000), rng.uniform(0.1, 1, size=3_001))
    batch = _drift(then, now, numeric=("a", "b", "c"), scores=scores)
    ref = reference(then, ["a", "b", "c"], scores=scores[0], tested_on="the test rows")
    served = ServedDrift(ref, ["z", "c", "b", "a"])  # a request's own column order
    X = np.column_stack([np.zeros(len(now)), now[["c", "b", "a"]].to_numpy()])
    for i in range(0, 1_000):
        served.add(X[i:i + 1], scores[1][i:i + 1])
    served.add(X[1_000:2_500], scores[1][1_000:2_500])  # a batch request
    for i in range(2_500, len(now)):
        served.add(X[i:i + 1], scores[1][i:i + 1])
    found = served.result()
    assert found.rows == batch.rows == 3_001
    assert {s.column: s.psi for s in found.shifts} == pytest.approx({s.column: s.psi for s in batch.shifts}, abs=1e-12)
    assert found.score.psi == pytest.approx(batch.score.psi, abs=1e-12)
    assert "since the model was loaded" in found.message()[1]
    few = ServedDrift(ref, ["a", "b", "c"])
    assert few.result() is None
    few.add(now[["a", "b", "c"]].to_numpy()[:200], scores[1][:200])
    assert few.result().message()[0] == "too_few" and few.customers == 200 and few.needed == 209


def test_too_few_customers_or_too_small_a_test_population_are_not_compared():
    """Two samples of one population show a PSI of about 10 x (1/n_then + 1/n_now) by chance."""
    from winback.drift import needed

    assert needed(200) is None and needed(325) == 520 and needed(23_570) == 202
    rng = np.random.default_rng(5)
    then = pd.DataFrame({"x": rng.exponential(30, 325)})
    level, text = _drift(then, pd.DataFrame({"x": rng.exponential(30, 300)})).message()
    assert level == "too_few" and "300 customers scored: too few to compare" in text and "from 520 on" in text
    assert _drift(then, pd.DataFrame({"x": rng.exponential(30, 600)})).message()[0] == "ok"
    tiny = _drift(then.head(150), pd.DataFrame({"x": rng.exponential(30, 5_000)}))
    assert tiny.message()[0] == "too_few" and "is too small to compare" in tiny.message()[1]
    # a noise-only sample of a few dozen customers would otherwise look like a shift
    assert _drift(then, pd.DataFrame({"x": rng.exponential(30, 40)})).largest > 0.1


def test_row_hashes_match_a_row_read_another_way_and_no_other():
    from winback.hashing import row_hashes

    trained = pd.DataFrame({"n": [5, 7, None], "plan": ["basic", "gold", None]})
    again = pd.DataFrame({"n": [5.0, 7.0, np.nan], "plan": pd.Categorical(["basic", "gold", None])})
    keys = pd.Series([101, 102, 103])
    assert (row_hashes(keys, trained, {"plan"}) == row_hashes(keys.astype(str), again, {"plan"})).all()
    # another customer with the same values, or the same customer with a new value: new rows
    moved = row_hashes(pd.Series([101, 999, 103]), again.assign(n=[5.0, 7.0, 1.0]), {"plan"})
    assert list(moved == row_hashes(keys, trained, {"plan"})) == [True, False, False]
