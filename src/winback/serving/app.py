"""The winback HTTP service: score customers, predict a session's next event, describe the model,
health, readiness and Prometheus metrics, and a web page at /.

Bundles are loaded when the app is created, and again when `winback train` writes a new model
into their folder (see serving/reload.py); every error is a JSON body
{"error": {"code", "message", "details"}}; bodies over the size limit are refused before they
are read whole; with WINBACK_API_KEY set, /v1/* needs the key in X-API-Key (or
`Authorization: Bearer`), compared in constant time. No endpoint takes a file path.
"""

import hmac
import json
import logging
import os
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from winback import __version__
from winback.errors import WinbackError
from winback.serving.metrics import Metrics
from winback.errors import did_you_mean
from winback.serving.schemas import (BatchOut, CustomerIn, DriftOut, ErrorOut, Event, Health, ModelInfo, NextEventOut,
                                     NextEventRequest, Ready, ScoreOut, request_models)
from winback.serving.reload import DEFAULT_RELOAD_S, BundleWatcher, Served, stamp
from winback.serving.shared import STATE_DIR_ENV, SharedCounts, alive
from winback.serving.scorer import CustomerScorer, NextEventScorer, RequestError, Scored, load_scorers

log = logging.getLogger("winback.serve")

API_KEY_ENV = "WINBACK_API_KEY"
DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_BODY_BYTES = 1_048_576
ERRORS = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media_type", 422: "invalid_request", 500: "internal"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in (
        (400, "The body could not be read (not UTF-8 JSON)."), (401, "Missing or wrong API key."), (404, "No such model in this service."),
        (413, "Body or batch too large."), (422, "The body is not a valid request."))}


def _error(status: int, message: str, code: str | None = None,
           details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code or ERRORS.get(status, "error"), "message": message,
                      "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


class GuardMiddleware:
    """Body size limit and per-route metrics, as plain ASGI (no per-request task or copy)."""

    def __init__(self, app, metrics: Metrics, max_body_bytes: int):
        self.app, self.metrics, self.max_body = app, metrics, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500
        too_large = False

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_body
                except ValueError:
                    too_large = False
                break
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge(self.max_body)
            return message

        try:
            if too_large:
                await _error(413, _TooLarge(self.max_body).detail)(scope, receive, send_status)
            else:
                await self.app(scope, limited_receive, send_status)
        finally:
            route = scope.get("route")
            self.metrics.observe(getattr(route, "path", "unmatched"), scope.get("method", ""),
                                 status, time.perf_counter() - start)


class _TooLarge(StarletteHTTPException):
    """A chunked body that grew past the limit while being read (FastAPI passes HTTP
    exceptions from body reading through to the handler)."""

    def __init__(self, limit: int):
        super().__init__(413, f"Body over the limit of {limit:,} bytes.")


def _scored(s: Scored) -> dict[str, Any]:
    return {"customer_id": s.customer_id, "probability": s.probability, "decile": s.decile,
            "flagged": s.flagged,
            "segment": s.segment, "action": s.action, "value": s.value, "reasons": s.reasons,
            "missing_features": s.missing_features, "note": s.note}


SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


def _mount_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's files served from the installed package, so that the reference
    opens where the service runs without internet (FastAPI's default loads them from a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import Response
    from swagger_ui_bundle import swagger_ui_path

    assets = {name: Path(swagger_ui_path, name).read_bytes() for name in SWAGGER_FILES}

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="winback API",
                                   swagger_js_url="/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/swagger-ui.css",
                                   swagger_favicon_url="data:,")

    @app.get("/docs/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in assets:
            raise StarletteHTTPException(404, f"No file {name} under /docs.")
        return Response(assets[name], media_type=SWAGGER_FILES[name],
                        headers={"Cache-Control": "public, max-age=86400"})


def create_app(bundles: Sequence[Path], max_batch: int = DEFAULT_MAX_BATCH,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, api_key: str | None = None,
               reload_s: float = DEFAULT_RELOAD_S, state_dir: Path | str | None = None) -> FastAPI:
    """The service for these bundles (at most one customer and one next-event bundle).
    `api_key` defaults to the WINBACK_API_KEY environment variable; empty means no auth.
    Every `reload_s` seconds while it serves (0: never) it looks for a retrained model in the
    bundles' folders; `app.state.watcher.check()` looks at once. `state_dir` (default: the
    WINBACK_STATE_DIR environment variable) is a folder shared by the service's worker
    processes, through which /metrics and /v1/drift add up all of them (serving/shared.py);
    without one they describe this process alone."""
    if max_batch < 1:
        raise WinbackError(f"--max-batch must be at least 1, got {max_batch}.")
    if max_body_bytes < 1024:
        raise WinbackError(f"--max-body-bytes must be at least 1024 (a request with one customer "
                           f"takes a few hundred bytes), got {max_body_bytes}.")
    if reload_s < 0:
        raise WinbackError(f"--reload-every must be 0 (never) or more seconds, got {reload_s}.")
    paths = [Path(b) for b in bundles]
    stamps = {p: stamp(p) for p in paths}  # before reading, so a model written meanwhile is seen
    customer, next_event = load_scorers(paths)
    key = (api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")).encode()
    metrics = Metrics()

    def build(customer: CustomerScorer | None, next_event: NextEventScorer | None) -> tuple[list[str], str]:
        return _self_test(customer, next_event), _render_page(customer, next_event, bool(key))

    served = Served(customer, next_event, *build(customer, next_event))

    def current() -> Served:
        return served

    def publish(new: Served) -> None:
        nonlocal served
        served = new  # one assignment: a request reads the old pair or the new one, never a mix

    roles = {role: scorer.bundle_dir for role, scorer in (("customer", customer), ("next_event", next_event))
             if scorer is not None}
    watcher = BundleWatcher(roles, current, publish, build,
                            {role: stamps[path] for role, path in roles.items()}, reload_s,
                            on_result=metrics.count_reload)
    state_dir = state_dir if state_dir is not None else os.environ.get(STATE_DIR_ENV) or None
    shared = SharedCounts(state_dir, lambda: (metrics, _drift_of(served.customer))) if state_dir else None

    def drift_now(scorer: CustomerScorer) -> Any:
        """The customers every worker has scored with this model, against its test population."""
        mine = _drift_of(scorer)
        if mine is None:
            return None
        model, tracker = mine
        return tracker.result(shared.drift_snapshots(model) if shared else ())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher.start()
        if shared is not None:
            shared.start()
        try:
            yield
        finally:
            watcher.stop()
            if shared is not None:
                shared.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="winback", version=__version__, redoc_url=None, docs_url=None,
        description="Score customers (come back, buy, drift away), predict a session's next "
                    "event, and read the model. Errors are JSON: {\"error\": {code, message, details}}."
                    + (" Send the API key in X-API-Key." if key else ""))

    def require_key(request: Request) -> None:
        if not key:
            return
        sent = request.headers.get("x-api-key")
        if sent is None:
            auth = request.headers.get("authorization", "")
            sent = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(sent.encode(), key):
            raise StarletteHTTPException(401, "Missing or wrong API key: send it in X-API-Key.")

    def need_customer() -> CustomerScorer:
        scorer = served.customer
        if scorer is None:
            raise StarletteHTTPException(404, "This service has no customer model; start it with a "
                                              "bundle from an event log or a customer table.")
        return scorer

    def need_next_event() -> NextEventScorer:
        scorer = served.next_event
        if scorer is None:
            raise StarletteHTTPException(404, "This service has no next-event model; train one with "
                                              "problem.name = 'next_event' and pass its bundle too.")
        return scorer

    async def score_all(scorer: CustomerScorer, items: Sequence[CustomerIn], reasons: bool) -> list[Scored]:
        """Feature rows in one call (fast, on the event loop, unless customer-table reasons are
        asked); event histories in one feature query in a worker thread (milliseconds)."""
        out: list[Scored | None] = [None] * len(items)
        feats = [i for i, c in enumerate(items) if c.features is not None]
        if feats:
            args = ([items[i].feature_dict() for i in feats], [items[i].customer_id for i in feats],
                    reasons)
            if reasons and scorer.kind == "customer_table":  # SHAP can take 50 ms a customer
                scored = await run_in_threadpool(scorer.score_features, *args)
            else:
                scored = scorer.score_features(*args)
            for i, s in zip(feats, scored):
                out[i] = s
        by_cutoff: dict[Any, list[int]] = {}
        for i, c in enumerate(items):
            if c.events is not None:
                if not c.customer_id:
                    raise RequestError(f"customer {i + 1}: `customer_id` is required with events.")
                by_cutoff.setdefault(c.cutoff, []).append(i)
        for cutoff, idx in by_cutoff.items():
            ids = [items[i].customer_id for i in idx]
            if len(set(ids)) < len(ids):
                raise RequestError("customer_id values repeat within the batch; send each "
                                   "customer's events once.")
            customers = [(items[i].customer_id, [e.model_dump() for e in items[i].events]) for i in idx]
            scored = await run_in_threadpool(scorer.score_events, customers, cutoff, reasons)
            for i, s in zip(idx, scored):
                out[i] = s
        return out  # type: ignore[return-value]

    v1 = {"dependencies": [Depends(require_key)], "responses": ERROR_RESPONSES}
    # the bodies list the customer model's own features (any names when there is none)
    ScoreRequest, BatchRequest = request_models(customer.columns if customer else [],
                                                customer.categorical if customer else set(),
                                                max_batch, customer.booleans if customer else set(),
                                                customer.coded if customer else set())

    @app.post("/v1/score", response_model=ScoreOut, tags=["score"], **v1,
              summary="Score one customer from features or recent events")
    async def score_one(body: ScoreRequest) -> Any:
        scorer = need_customer()
        return _scored((await score_all(scorer, [body], body.reasons))[0])

    @app.post("/v1/score/batch", response_model=BatchOut, tags=["score"], **v1,
              summary="Score up to --max-batch customers in one call")
    async def score_batch(body: BatchRequest) -> Any:
        scorer = need_customer()
        results = await score_all(scorer, body.customers, body.reasons)
        return {"results": [_scored(s) for s in results], "model": scorer.manifest["best"]}

    @app.post("/v1/next-event", response_model=NextEventOut, tags=["next event"], **v1,
              summary="Next-event probabilities and the churn alert for a live session")
    async def predict_next(body: NextEventRequest) -> Any:
        scorer = need_next_event()
        return await run_in_threadpool(scorer.predict, [e.model_dump() for e in body.events])

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"], **v1,
             summary="Problem, candidates, metrics, cutoffs, features and data fingerprint")
    async def model_info() -> Any:
        now = served
        return {"customer": now.customer.describe() if now.customer else None,
                "next_event": now.next_event.describe() if now.next_event else None,
                "max_batch": max_batch}

    @app.get("/v1/drift", response_model=DriftOut, tags=["model"], **v1,
             summary="The customers scored since the model was loaded, against its test population")
    async def drift() -> Any:
        scorer = need_customer()
        return _drift_out(scorer, drift_now(scorer))

    @app.get("/healthz", response_model=Health, tags=["ops"], summary="The process answers")
    async def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/readyz", response_model=Ready, tags=["ops"],
             responses={503: {"model": ErrorOut, "description": "Not ready."}},
             summary="Models loaded and answering")
    async def readyz() -> Any:
        now = served
        if not now.ready:
            return _error(503, "The models did not pass their start-up self-test; see the log.",
                          code="not_ready", details=[{"role": r, "message": m} for r, m in now.problems.items()] or None)
        return {"status": "ready", "models": now.ready, "not_reloaded": now.problems}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["ops"],
             summary="Prometheus text: request counts and latency histograms")
    async def prometheus() -> str:
        lines = (metrics.render() if shared is None else
                 metrics.render([metrics.snapshot(), *shared.metrics_snapshots()], live=alive))
        scorer = served.customer
        return lines + (_drift_lines(drift_now(scorer)) if scorer and scorer.drift else "")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> str:
        return served.page

    _mount_docs(app)

    known = customer.columns if customer else []

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", ""),
                    "type": e.get("type", "")} for e in exc.errors()]
        first = details[0] if details else {"location": "body", "message": "invalid", "type": ""}
        loc = first["location"].split(".")
        if first["type"] == "extra_forbidden" and len(loc) > 1 and loc[-2] == "features":
            return _error(422, f"unknown feature '{loc[-1]}'.{did_you_mean(loc[-1], known)} GET "
                               f"/v1/model lists the {len(known)} features of this model.",
                          code="unknown_feature", details=details)
        if first["type"] == "extra_forbidden" and len(loc) > 2 and loc[-3] == "events":
            return _error(422, f"{first['location']}: unknown event field '{loc[-1]}'.{event_field_hint(loc[-1])} "
                               f"An event's fields are winback's: {', '.join(Event.model_fields)}.",
                          details=details)
        return _error(422, f"{first['location']}: {first['message']}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"No route {request.method} {request.url.path}; see /docs."
        return _error(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(WinbackError)
    async def bad_request(request: Request, exc: WinbackError) -> JSONResponse:
        return _error(422, str(exc), code=getattr(exc, "code", "invalid_request"))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, f"Internal error ({type(exc).__name__}); the service log has the details.")

    app.add_middleware(GuardMiddleware, metrics=metrics, max_body_bytes=max_body_bytes)
    app.state.watcher = watcher
    app.state.shared = shared
    return app


def event_field_hint(name: str) -> str:
    """' Send it as ...' for an event field named as a shop's export names it (the name `init`
    maps to that column), else the closest of winback's own names; the customer's id belongs
    to the request, not to its events."""
    from winback.scaffold import canonical_column

    meant = canonical_column(name)
    if meant == "customer_id":
        return " The customer is the request's customer_id, not a field of its events."
    return f" Send it as '{meant}'." if meant in Event.model_fields else did_you_mean(name, list(Event.model_fields))


def _drift_of(scorer: CustomerScorer | None) -> tuple[str, Any] | None:
    """(an id of the model, its drift counter): workers add up counts of the same model only."""
    if scorer is None or scorer.drift is None:
        return None
    m = scorer.manifest
    return json.dumps([str(scorer.bundle_dir), m.get("created_at"), m.get("fingerprint")]), scorer.drift


def _drift_out(scorer: CustomerScorer, found: Any) -> dict[str, Any]:
    """/v1/drift's body: `found` is the Drift of every worker's customers (None before any)."""
    tracker = scorer.drift
    if tracker is None:
        return {"customers": 0, "min_customers": None, "level": "none",
                "message": "This bundle keeps no test population to compare with (it was trained "
                           "before winback kept one); train it again to have it."}
    if found is None:
        return {"customers": 0, "min_customers": tracker.needed, "tested_on": tracker.tested_on,
                "level": "too_few", "message": "No customer scored since the model was loaded."}
    level, message = found.message()
    out = {"customers": found.rows, "min_customers": tracker.needed, "tested_on": found.tested_on,
           "level": level, "message": message}
    if level == "too_few":
        return out
    d = found.as_dict()
    return {**out, "largest_psi": found.largest, "columns": d["columns"], "score": d["score"]}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _drift_lines(found: Any) -> str:
    """Prometheus gauges of the customer model's drift over every worker's customers (`found`:
    their Drift, None before any)."""
    lines = ["# HELP winback_drift_customers Customers scored since the model was loaded (by every "
             "worker), counted against its test population.", "# TYPE winback_drift_customers gauge",
             f"winback_drift_customers {found.rows if found is not None else 0}"]
    if found is not None and found.message()[0] != "too_few":
        lines += ["# HELP winback_input_psi Population stability index of each model input: the "
                  "customers scored since the model was loaded against its test population "
                  "(0.1: some shift, 0.25: a major one).", "# TYPE winback_input_psi gauge"]
        lines += [f'winback_input_psi{{feature="{_label(s.column)}"}} {s.psi:.6f}' for s in found.shifts]
        if found.score is not None:
            lines += ["# HELP winback_score_psi The same for the model's probability.",
                      "# TYPE winback_score_psi gauge", f"winback_score_psi {found.score.psi:.6f}"]
    return "\n".join(lines) + "\n"


def _self_test(customer: CustomerScorer | None, next_event: NextEventScorer | None) -> list[str]:
    """Score a typical customer and a one-event session; the names of the models that answered."""
    import datetime as dt

    ok = []
    try:
        if customer is not None:
            example = {k: v for k, v in customer.example_features().items() if v is not None}
            customer.score_features([example], track=False)
            ok.append(f"customer:{customer.manifest['best']}")
        if next_event is not None:
            next_event.predict([{"event_type": "view", "event_time": dt.datetime(2020, 1, 1)}])
            ok.append(f"next_event:{next_event.manifest['best']}")
    except Exception:
        log.exception("start-up self-test failed")
        return []
    return ok


def _render_page(customer: CustomerScorer | None, next_event: NextEventScorer | None,
                 needs_key: bool) -> str:
    from winback.serving.page import render_page

    return render_page(customer, next_event, needs_key)


def configure_log(level: str) -> None:
    """winback's service lines on standard error, as uvicorn writes its own: at info (a model
    swapped in is worth a line) unless the chosen level is quieter than warning."""
    logger = logging.getLogger("winback.serve")
    if not any(getattr(h, "_winback", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
        handler._winback = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO if level in ("warning", "info") else level.upper())


def app_from_env() -> FastAPI:
    """The app uvicorn workers import (`winback serve` passes its options in the environment)."""
    configure_log(os.environ.get("WINBACK_LOG_LEVEL", "warning"))
    bundles = [Path(p) for p in os.environ["WINBACK_BUNDLES"].split(os.pathsep) if p]
    return create_app(bundles, int(os.environ.get("WINBACK_MAX_BATCH", DEFAULT_MAX_BATCH)),
                      int(os.environ.get("WINBACK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
                      reload_s=float(os.environ.get("WINBACK_RELOAD_S", DEFAULT_RELOAD_S)))
