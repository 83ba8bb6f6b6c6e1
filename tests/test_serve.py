"""The HTTP service: answers agree with batch scoring, errors are structured, auth, limits,
metrics, and a schemathesis run over the app's own OpenAPI schema."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import schemathesis
from schemathesis import GenerationMode, checks
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from winback.datasets import cdnow_config
from winback.data.canonical import load_events
from winback.frame import build_frame, score_cutoff
from winback.features import FeatureSpec
from winback.config import ProblemConfig, parse_date
from winback.score import score
from winback.bundle import write_atomic_dir
from winback.errors import WinbackError
from winback.serving.app import create_app
from winback.serving.scorer import CustomerScorer


@pytest.fixture(scope="module")
def app(cdnow_bundle, next_event_bundle):
    return create_app([cdnow_bundle, next_event_bundle], max_batch=50, max_body_bytes=200_000,
                      api_key="")


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


@pytest.fixture(scope="module")
def manifest(cdnow_bundle):
    return json.loads((cdnow_bundle / "manifest.json").read_text())


@pytest.fixture(scope="module")
def test_cutoff_rows(manifest, cdnow_bundle):
    """Batch scores and model rows of CDNOW at the bundle's test cutoff, where the stored
    population fits are the ones batch scoring refits."""
    test = next(c for c in manifest["cutoffs"] if c["role"] == "test")
    when = parse_date(test["time"][:10], "cutoff")
    cfg = cdnow_config()
    log = load_events(cfg)
    scores = score(cfg, cdnow_bundle, cutoff=when.strftime("%Y-%m-%d"), log=log)
    spec_d = dict(manifest["feature_spec"])
    spec_d.pop("columns")
    frame = build_frame(log, score_cutoff(when, manifest["problem"]["horizon_days"]),
                        ProblemConfig(**manifest["problem"]), FeatureSpec.from_dict(spec_d),
                        with_labels=False)
    return when, log, scores, frame


def _features(frame: pd.DataFrame, columns: list[str], i: int) -> dict:
    row = frame.iloc[i]
    return {c: (None if pd.isna(row[c]) else float(row[c])) for c in columns}


def test_features_score_like_batch_scoring(client, manifest, test_cutoff_rows):
    when, _, scores, frame = test_cutoff_rows
    columns = manifest["feature_spec"]["columns"]
    by_id = scores.set_index("customer_id")
    picks = np.random.default_rng(0).choice(len(frame), 8, replace=False)
    body = {"customers": [{"customer_id": str(frame["customer_id"].iloc[i]),
                           "features": _features(frame, columns, i)} for i in picks]}
    r = client.post("/v1/score/batch", json=body)
    assert r.status_code == 200, r.text
    for sent, out in zip(body["customers"], r.json()["results"]):
        expected = by_id.loc[out["customer_id"]]
        assert out["probability"] == pytest.approx(expected["probability"], abs=1e-5)
        assert out["segment"] == expected["segment"] and out["action"] == expected["action"]
        assert 1 <= out["decile"] <= 10
        assert out["flagged"] == bool(expected["flagged"])  # the same rule as batch scoring
        assert out["missing_features"] == [c for c, v in sent["features"].items() if v is None]


def test_raw_events_score_like_batch_scoring(client, test_cutoff_rows):
    """The service computes features from posted events with the bundle's own definitions."""
    when, log, scores, _ = test_cutoff_rows
    ids = scores["customer_id"].iloc[[0, 5, 500, 5000, 20000]].tolist()
    events = log.table.filter(log.table.customer_id.isin(ids)).execute()
    for cid in ids:
        mine = events[events["customer_id"].astype(str) == cid]
        body = {"customer_id": cid, "cutoff": when.isoformat() + "Z", "reasons": False,
                "events": [{"event_time": t.isoformat(), "event_type": "purchase", "amount": a,
                            "quantity": q, "order_id": o}
                           for t, a, q, o in zip(mine["event_time"], mine["amount"], mine["quantity"],
                                                 mine["order_id"])]}
        r = client.post("/v1/score", json=body)
        assert r.status_code == 200, r.text
        expected = scores.set_index("customer_id").loc[cid, "probability"]
        assert r.json()["probability"] == pytest.approx(expected, abs=1e-5) and r.json()["note"] is None
    # events without the quantities and order ids the model was trained with still score, with a note
    body["events"] = [{k: v for k, v in e.items() if k not in ("quantity", "order_id")} for e in body["events"]]
    r = client.post("/v1/score", json=body)
    assert r.status_code == 200 and r.json()["probability"] is not None
    assert r.json()["note"].startswith("the events carry no quantity, order_id, which the model was trained with")


def test_posted_times_give_their_own_clock_to_a_row_clock_bundle(cdnow_bundle):
    """A bundle trained with each row's own clock (source.timezone_column) reads a posted
    time's offset as its wall clock: Sunday 22:00-05:00 is a weekend evening there, where a
    bundle on the UTC clock sees a Monday night (03:00); a time without a zone is on the
    bundle's clock either way."""
    import dataclasses
    import datetime as dt

    from winback.serving.scorer import CustomerScorer

    scorer = CustomerScorer(cdnow_bundle)
    events = [{"event_time": dt.datetime(1997, 3, 2, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
               "event_type": "purchase", "amount": 10.0},
              {"event_time": dt.datetime(1997, 3, 4, 7, 0), "event_type": "purchase", "amount": 5.0}]
    when = dt.datetime(1997, 6, 1)
    shares = ["weekend_share", "hour_night_share", "hour_morning_share", "hour_evening_share"]
    utc, _ = scorer.features_from_events([("c1", events)], when)
    assert utc[shares].iloc[0].tolist() == pytest.approx([0, 0.5, 0.5, 0])  # Mon 03:00, Tue 07:00
    scorer.spec = dataclasses.replace(scorer.spec, row_clock=True)
    own, _ = scorer.features_from_events([("c1", events)], when)
    assert own[shares].iloc[0].tolist() == pytest.approx([0.5, 0, 0.5, 0.5])  # Sun 22:00, Tue 07:00
    naive = [{**e, "event_time": e["event_time"].replace(tzinfo=None)} for e in events]
    own, _ = scorer.features_from_events([("c1", naive)], when)  # no zone: the bundle's clock (UTC)
    assert own[shares].iloc[0].tolist() == pytest.approx([0.5, 0, 0.5, 0.5])  # Sun 22:00 UTC, Tue 07:00


def test_reasons_are_the_linear_contributions(client, manifest, test_cutoff_rows):
    _, _, _, frame = test_cutoff_rows
    feats = _features(frame, manifest["feature_spec"]["columns"], 3)
    out = client.post("/v1/score", json={"features": feats}).json()
    reasons = out["reasons"]
    assert len(reasons) == 3 and {r["direction"] for r in reasons} <= {"raises", "lowers"}
    sizes = [abs(r["contribution"]) for r in reasons]
    assert sizes == sorted(sizes, reverse=True)
    for r in reasons:
        assert (r["contribution"] > 0) == (r["direction"] == "raises")
        assert r["value"] == feats[r["feature"]]


def test_customer_outside_the_population_gets_a_note(client):
    r = client.post("/v1/score", json={"customer_id": "v", "cutoff": "1998-01-01",
                                       "events": [{"event_time": "1997-03-01", "event_type": "view"}]})
    assert r.status_code == 200
    assert r.json()["probability"] is None and "no purchase before the cutoff" in r.json()["note"]


def test_next_event_changes_with_the_session(client):
    session = [{"event_type": "view", "event_time": "2026-01-05T10:00:00Z", "price": 20.0}]
    first = client.post("/v1/next-event", json={"events": session}).json()
    session += [{"event_type": "cart", "event_time": "2026-01-05T10:01:00Z", "price": 20.0},
                {"event_type": "purchase", "event_time": "2026-01-05T10:02:00Z", "price": 20.0}]
    later = client.post("/v1/next-event", json={"events": session}).json()
    for out in (first, later):
        assert set(out["probabilities"]) == {"view", "cart", "remove_from_cart", "purchase", "end"}
        assert sum(out["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        assert out["churn_alert"] == (out["p_purchase_in_session"] < out["churn_threshold"])
    assert first["probabilities"] != later["probabilities"] and later["events_used"] == 3


def test_model_description(client, manifest):
    info = client.get("/v1/model").json()
    c = info["customer"]
    assert c["best"] == manifest["best"] and c["fingerprint"] == manifest["fingerprint"]
    assert c["features"] == manifest["feature_spec"]["columns"] and len(c["cutoffs"]) >= 3
    assert {r["candidate"] for r in c["leaderboard"]} == {"logistic", "lightgbm"}
    assert info["next_event"]["sequence_length"] == 4 and info["max_batch"] == 50


@pytest.mark.parametrize("body, status, code, words", [
    ({"features": {"n_evnts": 1}}, 422, "unknown_feature", "Did you mean 'n_events'"),
    ({"features": {"n_events": "many"}}, 422, "invalid_request", "valid number"),
    ({}, 422, "invalid_request", "exactly one of"),
    ({"features": {}, "events": []}, 422, "invalid_request", "at least 1 item"),
    ({"features": {"n_events": 1}, "colour": "red"}, 422, "invalid_request", "colour"),
    # an event field named as a shop's export names it: told winback's name for it
    ({"customer_id": "a", "events": [{"event_time": "1997-03-01", "price": 5.0}]},
     422, "invalid_request", "unknown event field 'price'. Send it as 'amount'."),
    ({"customer_id": "a", "events": [{"event_time": "1997-03-01", "user_id": "a"}]},
     422, "invalid_request", "The customer is the request's customer_id"),
    ({"customer_id": "a", "events": [{"event_time": "1997-03-01", "amout": 5.0}]},
     422, "invalid_request", "Did you mean 'amount'?"),
    ({"customer_id": "a", "events": [{"event_time": "yesterday"}]}, 422, "invalid_request", "event_time"),
    ({"events": [{"event_time": "1997-03-01"}]}, 422, "invalid_request", "customer_id"),
    ({"customer_id": "a", "cutoff": "1997-01-01", "events": [{"event_time": "1997-03-01"}]},
     422, "invalid_request", "no event before the cutoff"),
    # the source logs' rule: a refund is a return event, not a negative purchase
    ({"customer_id": "a", "events": [{"event_time": "1997-03-01", "amount": -5.0}]},
     422, "invalid_request", "purchase's amount cannot be negative"),
    # sums of a few such amounts would overflow to infinity
    ({"customer_id": "a", "events": [{"event_time": "1997-03-01", "amount": 1e308}]},
     422, "invalid_request", "less than or equal to 1000000000000"),
    # Python's JSON reader takes Infinity and NaN: Infinity was a server error (500)
    ({"features": {"n_events": float("inf")}}, 422, "invalid_request", "finite number"),
    ({"features": {"n_events": float("nan")}}, 422, "invalid_request", "finite number"),
    ({"customer_id": "a", "events": [{"event_time": "1997-03-01", "amount": float("nan")}]},
     422, "invalid_request", "finite number"),
])
def test_bad_requests_get_structured_errors(client, body, status, code, words):
    # json.dumps writes Infinity and NaN as Python's reader (and some clients) do
    r = client.post("/v1/score", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and words in (err["message"] + json.dumps(err["details"]))


def test_malformed_json_oversize_bodies_and_unknown_routes(client):
    r = client.post("/v1/score", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = client.post("/v1/score", content=b"[" + b"1," * 150_000 + b"1]",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "200,000 bytes" in r.json()["error"]["message"]

    def chunks():
        for _ in range(100):
            yield b" " * 4096

    r = client.post("/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413  # no Content-Length: counted while reading
    r = client.post("/v1/score/batch", json={"customers": [{"features": {"n_events": 1}}] * 51})
    assert r.status_code == 422 and "at most 50" in r.json()["error"]["message"]
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/score")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_api_key(cdnow_bundle):
    secured = TestClient(create_app([cdnow_bundle], api_key="s3cret"))
    body = {"features": {"n_events": 3}}
    assert secured.post("/v1/score", json=body).status_code == 401
    r = secured.post("/v1/score", json=body, headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert secured.post("/v1/score", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert secured.post("/v1/score", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert secured.get("/healthz").status_code == 200  # probes need no key
    assert secured.post("/v1/next-event", json={"events": []}, headers={"X-API-Key": "s3cret"}).status_code == 422


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and len(ready["models"]) == 2
    for _ in range(3):
        client.post("/v1/score", json={"features": {"n_events": 2}})
    client.post("/v1/score", json={"features": {"bogus": 2}})
    text = client.get("/metrics").text
    assert 'winback_requests_total{route="/v1/score",method="POST",status="200"' in text
    assert 'winback_requests_total{route="/v1/score",method="POST",status="422"' in text
    assert 'winback_request_seconds_bucket{route="/v1/score",method="POST"' in text and 'le="+Inf"' in text
    count = [line for line in text.splitlines()
             if line.startswith('winback_request_seconds_count{route="/v1/score",method="POST"')]
    assert count and int(count[0].split()[-1]) >= 4


def test_page_is_self_contained(client):
    html = client.get("/").text
    assert "Score a customer" in html and "Next-event playground" in html and "logistic" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert "<script src" not in html and "<link" not in html


def test_openapi_documents_every_error(app):
    spec = app.openapi()
    for path, ops in spec["paths"].items():
        for op in ops.values():
            if path.startswith("/v1/"):
                assert {"401", "413", "422"} <= set(op["responses"]), path
                ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorOut")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(app, mode):
    """Requests generated from the app's own OpenAPI schema, valid and invalid, never get a 5xx
    or an answer that breaks the schema (status, content type, body)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # no parameters: nothing to make invalid
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call()
            assert response.status_code < 500, (operation.label, response.text)
            if response.status_code == 413:
                # too large for the body limit: refused before validation (schemathesis's
                # negative-data check does not count 413 as a rejection)
                assert response.json()["error"]["code"] == "too_large"
                return
            # a schema-valid request may still be refused for what the schema cannot say (a
            # customer with no event before the cutoff); every other check applies
            case.validate_response(response, excluded_checks=[checks.positive_data_acceptance])

        check()


def _retrained(tmp_path, name: str, windows_days: list[int] | None = None) -> Path:
    """Another CDNOW model, logistic regression on the 1/10 sample: with the same features, or
    with other windows."""
    from winback.train import train

    cfg = cdnow_config("sample", output_dir=str(tmp_path / name))
    cfg.train.candidates = ["logistic"]
    if windows_days:
        cfg.features.windows_days = windows_days
    return train(cfg, report=False).bundle_dir


def _write_into(target: Path, source: Path, change=None) -> None:
    """As `winback train` writes a bundle: whole, then renamed into place."""
    def fill(tmp: Path) -> None:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        if change:
            change(tmp)
    write_atomic_dir(target, fill)


def test_a_retrained_model_is_served_without_a_restart(cdnow_bundle, next_event_bundle, tmp_path):
    served = tmp_path / "bundle"
    shutil.copytree(cdnow_bundle, served)
    app = create_app([served], api_key="", reload_s=0)
    client, watcher = TestClient(app), app.state.watcher
    customer = {"features": {"n_orders": 3, "recency_days": 40, "tenure_days": 200, "spend": 90.0,
                             "purchase_days": 3, "purchase_recency_days": 40, "purchase_tenure_days": 200}}
    before = client.post("/v1/score", json=customer).json()
    assert watcher.check() == [] and client.get("/readyz").json()["not_reloaded"] == {}
    new = _retrained(tmp_path, "sample")
    _write_into(served, new)
    # a folder is read once it stays the same from one look to the next
    assert watcher.check() == [] and watcher.check() == ["customer"]
    info = client.get("/v1/model").json()["customer"]
    new_manifest = json.loads((new / "manifest.json").read_text())
    assert (info["fingerprint"], info["best"]) == (new_manifest["fingerprint"], "logistic")
    assert info["fingerprint"] != json.loads((cdnow_bundle / "manifest.json").read_text())["fingerprint"]
    after = client.post("/v1/score", json=customer).json()
    expected = CustomerScorer(new).score_features([customer["features"]])[0]
    assert after["probability"] == pytest.approx(expected.probability, abs=1e-12)
    assert after["probability"] != pytest.approx(before["probability"], abs=1e-6)
    assert client.get("/readyz").json() == {"status": "ready", "models": ["customer:logistic"],
                                            "not_reloaded": {}}
    assert f"Trained {new_manifest['created_at']}" in client.get("/").text  # the page shows the model served

    # bundles it cannot serve: the model before stays, /readyz says why, and each is tried once
    def future_format(tmp: Path) -> None:
        m = json.loads((tmp / "manifest.json").read_text())
        (tmp / "manifest.json").write_text(json.dumps({**m, "format": 999}))

    for source, change, words in ((new, future_format, "has format 999"),
                                  (next_event_bundle, None, "is a next-event bundle"),
                                  (tmp_path / "sample" / "bundle", lambda tmp: (tmp / "logistic.json").write_text("{"),
                                   "does not load (JSONDecodeError")):
        _write_into(served, source, change)
        assert watcher.check() == [] and watcher.check() == [] and watcher.check() == []
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and words in ready["not_reloaded"]["customer"]
        assert client.post("/v1/score", json=customer).json()["probability"] == after["probability"]
    refused = [line for line in client.get("/metrics").text.splitlines()
               if line.startswith("winback_model_reloads_total")]
    assert [line.split(" ")[-1] for line in refused] == ["1", "3"]  # loaded once; each refusal once
    # a model with other features would need another request schema: refused until a restart
    _write_into(served, new)  # the files of the model served, written again (read again or not)
    watcher.check(), watcher.check()
    assert client.get("/readyz").json()["not_reloaded"] == {}
    served.rename(tmp_path / "aside")  # the served model's own folder, kept aside
    shutil.copytree(_retrained(tmp_path, "windows", windows_days=[30, 90]), served)
    watcher.check(), watcher.check()
    assert "restart the service" in client.get("/readyz").json()["not_reloaded"]["customer"]
    shutil.rmtree(served)
    (tmp_path / "aside").rename(served)  # put back: nothing left to say, nothing to load
    assert watcher.check() == [] and client.get("/readyz").json()["not_reloaded"] == {}
    # the first model written back: served again, and nothing is left to say
    _write_into(served, cdnow_bundle)
    assert watcher.check() == [] and watcher.check() == ["customer"]
    assert client.post("/v1/score", json=customer).json() == before
    assert client.get("/readyz").json()["not_reloaded"] == {}


def test_the_service_looks_for_a_new_model_while_it_serves(cdnow_bundle, tmp_path):
    served = tmp_path / "bundle"
    shutil.copytree(cdnow_bundle, served)
    new = _retrained(tmp_path, "sample")
    with TestClient(create_app([served], api_key="", reload_s=0.05)) as client:  # starts the watcher
        _write_into(served, new)
        fingerprint = json.loads((new / "manifest.json").read_text())["fingerprint"]
        for _ in range(200):
            if client.get("/v1/model").json()["customer"]["fingerprint"] == fingerprint:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the new model was not served within 10 s")
    with pytest.raises(WinbackError, match="--reload-every must be 0"):
        create_app([served], reload_s=-1)


def test_the_service_compares_the_customers_it_scores_with_the_test_population(cdnow_bundle, test_cutoff_rows):
    _, _, _, frame = test_cutoff_rows
    client = TestClient(create_app([cdnow_bundle], max_batch=1000, api_key="", reload_s=0))
    columns = client.get("/v1/model").json()["customer"]["features"]
    sample = frame.sample(2_000, random_state=3)  # customers in id order joined first: a sample
    rows = [_features(sample, columns, i) for i in range(len(sample))]

    def post(rows):
        for start in range(0, len(rows), 500):
            body = {"customers": [{"features": r} for r in rows[start:start + 500]], "reasons": False}
            assert client.post("/v1/score/batch", json=body).status_code == 200

    assert client.get("/v1/drift").json()["message"] == "No customer scored since the model was loaded."
    post(rows[:150])
    early = client.get("/v1/drift").json()
    assert early["level"] == "too_few" and early["customers"] == 150  # the self-test is not counted
    assert early["min_customers"] == 202 and "from 202 on, a shift is more than chance" in early["message"]
    assert "winback_input_psi" not in client.get("/metrics").text
    post(rows[150:])
    calm = client.get("/v1/drift").json()
    assert calm["customers"] == 2_000 and calm["level"] == "ok" and calm["largest_psi"] < 0.05
    assert calm["score"]["psi"] < 0.05
    # half as many again, each a year older: the age is named, first
    post([{**r, "tenure_days": r["tenure_days"] + 365, "purchase_tenure_days": r["purchase_tenure_days"] + 365}
          for r in rows])
    moved = client.get("/v1/drift").json()
    assert moved["level"] == "warning" and list(moved["columns"])[:2] in (
        ["tenure_days", "purchase_tenure_days"], ["purchase_tenure_days", "tenure_days"])
    assert "since the model was loaded" in moved["message"]
    metrics = client.get("/metrics").text
    assert "\nwinback_drift_customers 4000\n" in metrics and 'winback_input_psi{feature="tenure_days"' in metrics


def test_workers_add_up_their_requests_and_customers(cdnow_bundle, test_cutoff_rows, tmp_path):
    """Two apps sharing a folder stand for two worker processes behind one port: each one's
    /metrics and /v1/drift describe the requests and customers of both."""
    _, _, _, frame = test_cutoff_rows
    one, two = (create_app([cdnow_bundle], api_key="", reload_s=0, state_dir=tmp_path) for _ in range(2))
    alone = create_app([cdnow_bundle], api_key="", reload_s=0)
    first, second, single = TestClient(one), TestClient(two), TestClient(alone)
    columns = first.get("/v1/model").json()["customer"]["features"]
    sample = frame.sample(1_200, random_state=5)
    rows = [_features(sample, columns, i) for i in range(len(sample))]
    older = [{**r, "tenure_days": r["tenure_days"] + 200} for r in rows[:400]]  # a shift to find
    for client, part in ((first, rows[:700]), (second, rows[700:] + older), (single, rows + older)):
        for start in range(0, len(part), 300):
            body = {"customers": [{"features": r} for r in part[start:start + 300]], "reasons": False}
            assert client.post("/v1/score/batch", json=body).status_code == 200
    first.post("/v1/score", json={"features": {"bogus": 1}})  # a 422 on the first worker only
    two.state.shared.write()  # what the second worker's thread writes every second
    both, reference = first.get("/v1/drift").json(), single.get("/v1/drift").json()
    assert both["customers"] == reference["customers"] == 1_600
    assert both["level"] == reference["level"] == "warning"
    for c, v in reference["columns"].items():
        assert both["columns"][c]["psi"] == pytest.approx(v["psi"], abs=1e-12), c
    assert both["score"]["psi"] == pytest.approx(reference["score"]["psi"], abs=1e-12)
    assert both["columns"]["tenure_days"]["now"] == reference["columns"]["tenure_days"]["now"]
    one.state.shared.write()
    text = second.get("/metrics").text
    assert 'winback_requests_total{route="/v1/score/batch",method="POST",status="200"} 6' in text
    assert 'winback_requests_total{route="/v1/score",method="POST",status="422"} 1' in text
    assert "\nwinback_drift_customers 1600\n" in text and 'winback_input_psi{feature="tenure_days"}' in text
    assert text.count("winback_process_start_time_seconds{pid=") == 1  # one per process, and both apps are in this one
    # a worker on another model (one that has not reloaded yet, say) is left out of the comparison
    saved = next(tmp_path.glob(f"{two.state.shared.name}.npz"))
    with np.load(saved) as z:
        arrays = dict(z)
    np.savez(saved, **{**arrays, "model": np.array("another model")})
    assert first.get("/v1/drift").json()["customers"] == 700
    # a file that would need pickle to read is skipped, not read
    np.savez(saved, **{**arrays, "model": np.array([{"x": 1}], dtype=object)})
    assert first.get("/v1/drift").json()["customers"] == 700


def test_a_symlink_repointed_to_another_version_is_served(cdnow_bundle, tmp_path):
    """A deployment that keeps each version in a folder of its own and a `current` link."""
    import os

    new = _retrained(tmp_path, "v2")
    current = tmp_path / "current"
    current.symlink_to(cdnow_bundle)
    app = create_app([current], api_key="", reload_s=0)
    client, watcher = TestClient(app), app.state.watcher
    (tmp_path / "next").symlink_to(new)
    os.replace(tmp_path / "next", current)  # repointed at once
    assert watcher.check() == [] and watcher.check() == ["customer"]
    served = client.get("/v1/model").json()["customer"]["fingerprint"]
    assert served == json.loads((new / "manifest.json").read_text())["fingerprint"]


def test_winback_serve_with_two_workers_answers_for_both(cdnow_bundle, tmp_path):
    """The command itself: two uvicorn worker processes, whichever answers /metrics gives the
    requests of both; the workers' folder goes when the service stops."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    env.pop("WINBACK_STATE_DIR", None)
    service = subprocess.Popen(
        [sys.executable, "-c", "import sys; from winback.cli import main; sys.exit(main(sys.argv[1:]))",
         "serve", "--bundle", str(cdnow_bundle), "--workers", "2", "--port", str(port), "--reload-every", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def get(path: str) -> str:
        with urllib.request.urlopen(url + path, timeout=10) as r:
            return r.read().decode()

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get("/readyz")
                break
            except OSError:
                assert service.poll() is None and time.monotonic() < deadline, service.stdout.read()
                time.sleep(0.3)
        body = json.dumps({"features": {"n_events": 2}}).encode()
        for _ in range(40):  # a connection each, as the kernel spreads them over the workers
            request = urllib.request.Request(url + "/v1/score", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as r:
                assert r.status == 200
        time.sleep(2.5)  # each worker writes its counts every second
        for _ in range(6):
            text = get("/metrics")
            assert 'winback_requests_total{route="/v1/score",method="POST",status="200"} 40' in text
            assert text.count("winback_process_start_time_seconds{pid=") == 2
    finally:
        service.send_signal(signal.SIGINT)
        out, _ = service.communicate(timeout=60)
    assert service.returncode == 0, out
    assert list(scratch.iterdir()) == []  # the workers' folder is gone


def test_a_named_workers_folder_starts_empty_of_a_previous_service(tmp_path, monkeypatch):
    from winback.cli import _workers_folder
    from winback.errors import WinbackError

    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "worker-123-abcd.json").write_text('{"metrics": {}}')  # a previous service's counts
    (folder / "notes.txt").write_text("mine")
    monkeypatch.setenv("WINBACK_STATE_DIR", str(folder))
    with _workers_folder(make=True) as used:
        assert used == folder and sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").exists()  # a folder the user named is kept
    monkeypatch.setenv("WINBACK_STATE_DIR", str(folder / "notes.txt" / "under-a-file"))
    with pytest.raises(WinbackError, match="cannot use it as the workers' shared folder"):
        with _workers_folder(make=True):
            pass
    monkeypatch.delenv("WINBACK_STATE_DIR")
    with _workers_folder(make=False) as none:
        assert none is None
