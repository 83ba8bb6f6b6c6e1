"""The web page in a real browser: Debian's Chromium driven by Playwright against a live uvicorn
server. Scores a customer through the form and plays three events in the next-event playground;
a screenshot lands in test-artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from winback.serving.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("WINBACK_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))


@pytest.fixture(scope="module")
def live_url(cdnow_bundle, next_event_bundle):
    yield from _serve(create_app([cdnow_bundle, next_event_bundle], api_key=""))


def _serve(app):
    """A live uvicorn server for `app` on a free port: its URL, until the generator closes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(live_url):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed; `make test` installs Debian's chromium package.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(live_url + "/")
        yield page
        browser.close()


def test_score_a_customer_through_the_form(page):
    assert "logistic" in page.locator("table[aria-label=Leaderboard]").inner_text()
    # the customers this service scored, against the test population: none yet
    page.wait_for_function("document.querySelector('#drift').innerText.includes('No customer scored')",
                           timeout=10_000)
    page.click("#score-btn")
    page.wait_for_function("document.querySelector('#drift').innerText.includes('1 customer scored since "
                           "the model was loaded: too few to compare')", timeout=10_000)
    page.wait_for_selector("#probability", timeout=10_000)
    shown = page.inner_text("#probability")
    assert shown.endswith("%") and 0 <= float(shown.rstrip(" %")) <= 100
    assert "decile" in page.inner_text("#score-result")
    # the same form from raw events
    page.click("#tab-events")
    page.fill("#cutoff", "1998-01-01T00:00:00Z")
    page.fill("#events", "1997-02-03T10:00:00Z, purchase, 25\n1997-06-10T10:00:00Z, purchase, 40")
    page.click("#score-btn")
    page.wait_for_function("document.querySelector('#score-result').innerText.includes('%')",
                           timeout=10_000)
    assert "Top reasons" in page.inner_text("#score-result")


def test_playground_prediction_changes_with_each_click(page):
    seen = []
    for i, event in enumerate(["view", "cart", "purchase"]):
        page.click(f"#ne-buttons button[data-event={event}]")
        page.wait_for_function(f"document.querySelectorAll('#ne-session .chip').length === {i + 1} && "
                               f"document.querySelector('#ne-next') !== null", timeout=10_000)
        # wait until the answer for this click has replaced the previous one
        page.wait_for_function("(prev) => document.querySelector('#ne-result').innerText !== prev",
                               arg=seen[-1] if seen else "", timeout=10_000)
        seen.append(page.inner_text("#ne-result"))
    assert len(set(seen)) == 3, seen
    assert page.locator("#ne-session .chip").all_inner_texts() == ["view", "cart", "purchase"]
    assert "P(purchase later in this session)" in seen[-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "serve-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_swagger_docs_open_without_internet(page, live_url):
    """/docs renders from the service's own copy of Swagger UI: every request the page makes goes
    to the service (any other host is aborted), and the operations are listed."""
    outside = []

    def only_local(route):
        if route.request.url.startswith(live_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    try:
        page.goto(live_url + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/v1/score", "/v1/score/batch", "/v1/next-event"} <= {p.strip() for p in paths}
        assert outside == []
    finally:
        page.unroute("**/*")


def test_the_form_sends_a_customers_attributes(page, tmp_path_factory):
    """A model trained with features.attributes: the events tab has an input per attribute,
    and what is typed there reaches the model (an email customer scores above an ads one)."""
    from test_attributes import _shop
    from winback.cli import main

    config = _shop(tmp_path_factory.mktemp("browser-attributes"), customers=600)
    assert main(["train", "-c", str(config), "-q", "--no-track"]) == 0
    served = _serve(create_app([config.parent / "out" / "bundle"], api_key=""))
    url = next(served)
    tab = page.context.browser.new_page()  # the module's browser: one Playwright per process
    try:
        tab.goto(url + "/")
        tab.click("#tab-events")
        assert tab.locator("input.attribute").count() == 3
        tab.fill("#cutoff", "2024-07-01T00:00:00Z")
        tab.fill("#events", "2024-06-01T10:00:00Z, purchase, 30\n2024-06-20T10:00:00Z, purchase, 25")
        shown = {}
        for channel in ("email", "ads"):
            tab.fill("input[data-name=channel]", channel)
            tab.fill("input[data-name=age]", "40")
            tab.evaluate("document.querySelector('#score-result').replaceChildren()")
            tab.click("#score-btn")
            tab.wait_for_selector("#probability", timeout=10_000)
            shown[channel] = float(tab.inner_text("#probability").rstrip(" %"))
        assert shown["email"] > shown["ads"]
    finally:
        tab.close()
        served.close()
