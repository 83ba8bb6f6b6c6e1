"""`winback train` and `winback score` for the next_event problem on a small synthetic log."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import next_event_project

from winback.cli import main
from winback.config import config_from_dict
from winback.nextevent.dataset import Vocabulary, samples_table, to_samples
from winback.nextevent.pipeline import load_next_event_bundle


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return next_event_project(tmp_path_factory.mktemp("nextevent"), 40_000, 2, 60, 15,
                              ["most_frequent", "markov", "lightgbm", "cnn_bigru"])


def test_train_writes_bundle_and_report(project):
    manifest = json.loads((project / "winback-out" / "bundle" / "manifest.json").read_text())
    assert manifest["kind"] == "next_event" and manifest["k"] == 4
    assert {r["candidate"] for r in manifest["leaderboard"]} == {"most_frequent", "markov", "lightgbm", "cnn_bigru"}
    markov = manifest["candidates"]["markov"]["test"]
    best = manifest["candidates"][manifest["best"]]["test"]
    assert best["log_loss"] < manifest["candidates"]["most_frequent"]["test"]["log_loss"]
    assert markov["macro_f1"] > 0 and np.array(best["confusion"]).sum() == manifest["samples"]["test"]
    assert 0.5 < manifest["churn"]["roc_auc"] <= 1
    html = (project / "winback-out" / "report.html").read_text()
    assert 'id="confusion"' in html and 'id="churn"' in html and "nan" not in html


def test_bundle_reloads_to_identical_predictions(project):
    bundle = project / "winback-out" / "bundle"
    manifest, model, churn = load_next_event_bundle(bundle)
    from winback.data import load_events

    log = load_events(config_from_dict({"source": {"path": str(project / "events.parquet"), "layout": "rees46"}}))
    frame = samples_table(log.table, 4).execute().head(500)
    s = to_samples(frame, 4, Vocabulary(manifest["vocabulary"]))
    p1 = model.predict_proba(s)
    _, again, churn2 = load_next_event_bundle(bundle)
    assert np.array_equal(p1, again.predict_proba(s)) and np.allclose(p1.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(churn.predict(s), churn2.predict(s))


def test_score_lists_live_sessions_with_the_alert(project, tmp_path):
    out = tmp_path / "live.csv"
    assert main(["score", "-c", str(project / "winback.toml"), "--bundle",
                 str(project / "winback-out" / "bundle"), "-o", str(out), "-q"]) == 0
    live = pd.read_csv(out)
    probs = live[[c for c in live.columns if c.startswith("p_") and c != "p_purchase_in_session"]]
    assert len(live) >= 1 and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert set(live.columns) >= {"session_id", "next_event", "p_purchase_in_session", "churn_alert"}
    assert (live.churn_alert == (live.p_purchase_in_session < 0.05)).all()


def test_next_event_needs_sessions(tmp_path, capsys):
    pd.DataFrame({"customer_id": ["a", "b"], "event_time": ["2024-01-01", "2024-02-01"],
                  "amount": [1.0, 2.0]}).to_csv(tmp_path / "orders.csv", index=False)
    (tmp_path / "winback.toml").write_text(
        '[source]\npath = "orders.csv"\nlayout = "events"\n'
        '[source.columns]\ncustomer_id = "customer_id"\nevent_time = "event_time"\namount = "amount"\n'
        '[problem]\nname = "next_event"\nhorizon_days = 10\n')
    assert main(["train", "-c", str(tmp_path / "winback.toml"), "-q", "--no-track"]) == 2
    # brackets in messages are shown as written, not eaten as console markup
    err = " ".join(capsys.readouterr().err.split())
    assert "needs session_id and event_type" in err and "map them in [source.columns]" in err
