"""Request and response bodies of the winback service; their field docs are the API reference
that /docs and /openapi.json show."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool,
                      StrictStr, StringConstraints, WithJsonSchema, create_model, model_validator)

# numbers and flags are strict: lax parsing would take `false` for 0.0 or "yes" for true, which
# the schema (and a careful client) say is wrong


ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def _iso_text(value: Any) -> Any:
    """Only ISO 8601 text: lax parsing would also take numbers as seconds since 1970."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.match(ISO_PATTERN, value):
        raise ValueError("expected an ISO 8601 date or time, e.g. 2026-11-02T14:05:00Z")
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_text), WithJsonSchema(
    {"type": "string", "pattern": ISO_PATTERN, "examples": ["2026-11-02T14:05:00Z"]})]


MAX_MONEY = 1e12  # per event; beyond it sums of a few events overflow to infinity

# a strict float that is also finite: Python's JSON reader takes Infinity and NaN, which would
# reach the model (a server error) or read as a value that is not missing
Number = Annotated[float, Strict(), AllowInfNan(False)]


class Event(BaseModel):
    """One event of a customer, in winback's canonical columns."""

    model_config = ConfigDict(extra="forbid")

    event_time: Timestamp = Field(description="When it happened; ISO 8601. A time without a zone "
                                              "is UTC.")
    event_type: Literal["view", "cart", "remove_from_cart", "purchase", "return"] = Field(
        "purchase", description="What happened. Order tables have purchases only.")
    amount: Number | None = Field(None, ge=-MAX_MONEY, le=MAX_MONEY, description=(
        "Money of the event (order value or item price x quantity); purchases only count as "
        "spend and are never negative (a refund is a `return` event)."))
    quantity: Number | None = Field(None, ge=-MAX_MONEY, le=MAX_MONEY, description="Units, when known.")
    order_id: str | None = Field(None, max_length=200, description="Order or invoice id.")
    session_id: str | None = Field(None, max_length=200, description="Visit / session id.")
    product_id: str | None = Field(None, max_length=200)
    brand: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200)
    attributes: dict[str, Annotated[str, StringConstraints(max_length=200)] | Number | None] | None = Field(
        None, max_length=50, description=(
            "The customer's attributes on this event, for a model trained with "
            "features.attributes (GET /v1/model lists them): text, a number, or a date as ISO "
            "8601, e.g. {\"channel\": \"email\"}. The latest event that carries one counts."))

    @model_validator(mode="after")
    def _no_negative_purchase(self) -> "Event":
        # the same rule as a source log's: a negative purchase is a refund written as a sale
        if self.event_type == "purchase" and self.amount is not None and self.amount < 0:
            raise ValueError("a purchase's amount cannot be negative; send a refund as a "
                             "`return` event")
        return self


ONE_INPUT = {"oneOf": [{"required": ["features"]}, {"required": ["events"]}]}


class CustomerIn(BaseModel):
    """One customer to score: ready `features`, or raw recent `events` from which the bundle's
    own feature definitions compute them at `cutoff`. `features` is replaced, per service, by a
    model listing the bundle's own feature names (see `request_models`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=ONE_INPUT)

    customer_id: str | None = Field(None, max_length=200, description="Echoed back; required "
                                                                      "with events.")
    features: dict[str, float] = Field(None, description="Feature name -> value.")
    events: list[Event] = Field(None, min_length=1, max_length=10_000, description="The customer's "
                                "events, any order; only those before the cutoff count.")
    cutoff: Timestamp | None = Field(None, description="Score as of this instant (events only; "
                                                       "default now).")

    @model_validator(mode="after")
    def _one_input(self) -> "CustomerIn":
        if (self.features is None) == (self.events is None):
            raise ValueError("send exactly one of `features` or `events`")
        return self

    def feature_dict(self) -> dict[str, Any]:
        """Features as sent, keyed by the bundle's column names (aliases), unset ones left out."""
        f = self.features
        return f.model_dump(by_alias=True, exclude_unset=True) if isinstance(f, BaseModel) else dict(f)


def request_models(columns: list[str], categorical: set[str], max_batch: int,
                   booleans: set[str] = frozenset(), coded: set[str] = frozenset()):
    """(ScoreRequest, BatchRequest) whose `features` object lists this bundle's features, so the
    OpenAPI schema says exactly what a request may hold. Field names are positional (f0, f1...)
    with the column as alias, because columns need not be Python identifiers. `booleans`: the
    columns that were true/false in the training table, which take JSON true/false too;
    `coded`: category columns of codes written as numbers, which take JSON numbers too."""
    fields = {}
    for i, c in enumerate(columns):
        kind = "text (a category)" if c in categorical else "number"
        kind += ", or true / false" if c in booleans else ""
        kind += ", or the code as a number" if c in coded else ""
        value = ((StrictStr if c in categorical else Number) | (StrictBool if c in booleans else None)
                 | (Number if c in coded else None))
        fields[f"f{i}"] = (value | None,
                           Field(None, alias=c, description=f"{kind}; null or left out = unknown"))
    features = create_model("Features", __config__=ConfigDict(extra="forbid", populate_by_name=False),
                            **fields)
    customer = create_model(
        "Customer", __base__=CustomerIn,
        features=(features, Field(None, description="The bundle's features; GET /v1/model lists "
                                                    "them. Missing ones are scored as unknown.")))
    score = create_model(
        "ScoreRequest", __base__=customer,
        reasons=(StrictBool, Field(True, description="Add the top three reasons when the model has an "
                                               "explainer (costs time on customer-table models).")))
    batch = create_model(
        "BatchRequest", __config__=ConfigDict(extra="forbid"),
        customers=(list[customer], Field(min_length=1, max_length=max_batch,
                                         description=f"At most {max_batch:,} customers (--max-batch).")),
        reasons=(StrictBool, Field(False, description="Add the top three reasons per customer.")))
    return score, batch


class Reason(BaseModel):
    feature: str
    value: Any = Field(None, description="The customer's value of the feature.")
    direction: Literal["raises", "lowers"] = Field(description="Whether it raises or lowers the "
                                                               "probability.")
    contribution: float = Field(description="SHAP value (log-odds for event-log models, "
                                            "probability for customer tables).")


class ScoreOut(BaseModel):
    customer_id: str | None = None
    probability: float | None = Field(description="P(the problem's outcome), e.g. a repeat purchase "
                                                  "in the horizon; null when not in the population.")
    decile: int | None = Field(None, description="1 = the top tenth of the bundle's test population.")
    flagged: bool | None = Field(None, description="Whether to act on this customer: probability "
                                 "at or above the bundle's decision threshold (train.threshold_rule; "
                                 "for a contact budget, where that share of the test population "
                                 "starts).")
    segment: str | None = Field(None, description="Risk x value segment, when the bundle has them.")
    action: str | None = Field(None, description="The segment's recommended action.")
    value: float | None = Field(None, description="The segment value axis (predicted spend or a "
                                                  "value column).")
    reasons: list[Reason] | None = None
    missing_features: list[str] = Field(default_factory=list, description="Features the score "
                                        "reads (the model's inputs and the value axis') that were "
                                        "not sent: scored as unknown.")
    note: str | None = Field(None, description="Why there is no probability, when there is none; or "
                             "which event fields the model was trained with are missing from the "
                             "events; or which categories sent the model was not trained on (they "
                             "read as none of the ones it knows); or, for a customer-table model and "
                             "a request with customer_id, that the row is one the model was trained "
                             "on, so the score is in-sample.")


class BatchOut(BaseModel):
    results: list[ScoreOut]
    model: str = Field(description="The bundle's chosen candidate.")


class SessionEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: Literal["view", "cart", "remove_from_cart", "purchase"]
    event_time: Timestamp = Field(description="ISO 8601; no zone means UTC.")
    price: Number | None = Field(None, description="Price of the product the event is about.")
    brand: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200)


class NextEventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[SessionEvent] = Field(min_length=1, max_length=1000,
                                       description="The session so far, in time order.")


class NextEventOut(BaseModel):
    probabilities: dict[str, float] = Field(description="P(next event) per type; 'end' = the "
                                                        "session ends.")
    next_event: str
    p_purchase_in_session: float = Field(description="P(a purchase later in this session).")
    churn_alert: bool = Field(description="True when p_purchase_in_session is below the bundle's "
                                          "churn threshold: a session worth a nudge.")
    churn_threshold: float
    events_used: int = Field(description="How many of the latest events the model reads.")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable: invalid_request, unknown_feature, "
                                  "unauthorized, not_found, too_large, no_model, internal.")
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    models: list[str]
    not_reloaded: dict[str, str] = Field(default_factory=dict, description=(
        "By model role: why the model now in its bundle's folder is not served (the previous "
        "one still is). Empty when every folder's model is the one served."))


class ColumnShift(BaseModel):
    psi: float = Field(description="Population stability index against the test population.")
    then: str = Field(description="The test population's median (or commonest level), and missing share.")
    now: str = Field(description="The same for the customers scored since the model was loaded "
                                 "(the median of the last 2,048).")


class DriftOut(BaseModel):
    customers: int = Field(description="Customers scored since the model was loaded (the self-test not counted).")
    min_customers: int | None = Field(description=(
        "Customers needed before the comparison is made: two samples of one population show a "
        "PSI of about 10 x (1/n_test + 1/n) by chance, kept under 0.05. None: the test "
        "population is too small to compare with (200 customers or fewer)."))
    tested_on: str | None = Field(None, description="The population the model was tested on.")
    level: Literal["ok", "note", "warning", "too_few", "none"] = Field(description=(
        "ok: every input's PSI under 0.1; note: some under 0.25; warning: one at 0.25 or more; "
        "too_few: fewer customers than min_customers (or too small a test population); none: the "
        "bundle keeps no test population "
        "(trained before winback kept it)."))
    message: str
    largest_psi: float | None = None
    columns: dict[str, ColumnShift] = Field(default_factory=dict, description="Each input, largest PSI first.")
    score: ColumnShift | None = Field(None, description="The probability's own shift (decides nothing: see the README).")


class ModelInfo(BaseModel):
    customer: dict[str, Any] | None = Field(None, description="The customer model: problem, "
                                            "candidates, metrics, cutoffs, features, fingerprint.")
    next_event: dict[str, Any] | None = None
    max_batch: int
