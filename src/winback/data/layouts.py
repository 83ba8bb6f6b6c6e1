"""Ready-made column mappings for the layouts winback knows.

A layout names which source column feeds each canonical column, how timestamps are written,
and how event types are derived. Users override any of it in ``[source.columns]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis

# canonical column -> ibis type; every canonical table has exactly these columns (plus
# passthrough attributes), with nulls where the source has no such information. Identifier
# columns (ID_COLUMNS) that are integers in the source stay int64: ids are only compared, and
# hashing integers is several times cheaper than hashing their text in every group-by.
CANONICAL_TYPES: dict[str, str] = {
    "customer_id": "string",
    "event_time": "timestamp",
    "event_type": "string",
    "amount": "float64",
    "quantity": "float64",
    "price": "float64",
    "order_id": "string",
    "session_id": "string",
    "product_id": "string",
    "brand": "string",
    "category": "string",
}
ID_COLUMNS = ("customer_id", "order_id", "session_id", "product_id")
REQUIRED = ("customer_id", "event_time")
PURCHASE = "purchase"
RETURN = "return"
# the event types features and labels read, and words that name them in other logs; the
# first match wins, so "remove" comes before "cart" (RemoveFromCart is not an add)
EVENT_TYPE_WORDS = {
    "remove_from_cart": ("remove",),
    "return": ("return", "refund", "cancel"),
    # a checkout counts once completed (Shopify's checkout_completed), not when begun
    "purchase": ("purchase", "order", "buy", "transaction", "checkoutcomplete", "completedcheckout",
                 "sale"),
    "cart": ("cart", "basket", "productadded", "itemadded"),  # Segment's "Product Added"
    "view": ("view", "visit", "detail", "impression"),
}
# steps on the way to a purchase (GA4's begin_checkout and add_payment_info, the pixel's
# InitiateCheckout, session_start): mapped to nothing rather than counted as what they lead to
STEP_WORDS = ("begin", "start", "initiat", "payment", "shipping")


def suggested_event_types(counts: dict[str, int]) -> dict[str, str]:
    """Source event types that look like a canonical one they are not mapped to
    ({"Purchase": "purchase", "AddToCart": "cart"}), for the [source.event_types] advice."""
    out = {}
    for value in counts:
        if value is None or value in EVENT_TYPE_WORDS:
            continue
        plain = "".join(ch for ch in str(value).lower() if ch.isalpha())
        if any(w in plain for w in STEP_WORDS):
            continue
        for canonical, words in EVENT_TYPE_WORDS.items():
            if any(w in plain for w in words):
                out[str(value)] = canonical
                break
    return out


def event_types_advice(counts: dict[str, int]) -> str:
    """A [source.event_types] block mapping look-alike types, or "" when there is none."""
    found = suggested_event_types(counts)
    if not found:
        return ""
    lines = "\n".join(f'"{k}" = "{v}"' for k, v in found.items())
    return f"[source.event_types]\n{lines}"


@dataclass(frozen=True)
class Layout:
    """How a family of sources maps to canonical events.

    `event_type` derives the canonical event type from the mapped columns when the layout has
    its own rule (UCI Online Retail: invoices starting with 'C' are cancellations);
    otherwise the mapped `event_type` column is used, or every row is a purchase (order tables).
    """

    name: str
    columns: dict[str, str]
    description: str
    time_format: str = ""
    event_type_rule: Callable[[dict[str, ibis.Value]], ibis.Value] | None = None
    init_options: dict[str, object] = field(default_factory=dict)
    # columns computed from raw ones before mapping (GA: seconds since 1970 to a timestamp,
    # revenue in micros to money), and the raw columns they read
    derive: Callable[[ibis.Table], dict[str, ibis.Value]] | None = None
    derive_needs: tuple[str, ...] = ()
    # other names a column has in some versions of the source (UCI's Online Retail II writes
    # 'Customer ID', 'Invoice' and 'Price'): used when the usual one is absent
    alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def columns_in(self, present: list[str]) -> dict[str, str]:
        """The layout's mapping, with each column absent from `present` read under an
        alternative name that is there."""
        return {k: (v if v in present else next((a for a in self.alternatives.get(k, ()) if a in present), v))
                for k, v in self.columns.items()}

    def matches(self, present: list[str]) -> bool:
        """Whether a source with these columns is in this layout: every raw column it derives
        from, and every other column it maps (under some name)."""
        derived = set(self.derive(ibis.table({c: "string" for c in present}))) if self.derive and all(
            c in present for c in self.derive_needs) else set()
        return all(c in present for c in self.derive_needs) and all(
            v in present or v in derived for v in self.columns_in(present).values())


def _online_retail_event_type(cols: dict[str, ibis.Value]) -> ibis.Value:
    cancelled = cols["order_id"].startswith("C") | (cols["quantity"] < 0)
    return ibis.ifelse(cancelled, RETURN, PURCHASE)


GA_NEEDS = ("fullVisitorId", "visitId", "visitStartTime", "totals.transactions",
            "totals.transactionRevenue")
EPOCH = ibis.timestamp("1970-01-01 00:00:00")


def _ga_columns(raw: ibis.Table) -> dict[str, ibis.Value]:
    """One canonical event per GA visit: a purchase when it had transactions (revenue from
    micros), a view otherwise; the session is the visitor's visit."""
    def number(col: str) -> ibis.Value:
        c = raw[col]
        return c.cast("string").try_cast("int64") if c.type().is_string() else c.cast("int64")

    orders = number("totals.transactions").fill_null(0)
    seconds = number("visitStartTime")
    return {
        "_ga_time": EPOCH + seconds.as_interval("s"),
        "_ga_session": raw["fullVisitorId"].cast("string").concat("-", raw["visitId"].cast("string")),
        "_ga_type": ibis.ifelse(orders > 0, PURCHASE, "view"),
        "_ga_revenue": ibis.ifelse(orders > 0, number("totals.transactionRevenue").cast("float64")
                                   / 1_000_000, ibis.null("float64")),
        "_ga_orders": orders.cast("float64"),
    }


LAYOUTS: dict[str, Layout] = {
    "rees46": Layout(
        name="rees46",
        description="REES46 e-commerce event log (view, cart, remove_from_cart, purchase)",
        columns={
            "customer_id": "user_id",
            "event_time": "event_time",
            "event_type": "event_type",
            "price": "price",
            "product_id": "product_id",
            "session_id": "user_session",
            "brand": "brand",
            "category": "category_code",
        },
    ),
    "cdnow": Layout(
        name="cdnow",
        description="Order table: one row per order (CDNOW: customer_id, date, cds, dollars)",
        columns={
            "customer_id": "customer_id",
            "event_time": "date",
            "quantity": "number_of_cds",
            "amount": "dollar_value",
        },
        time_format="%Y%m%d",
        # identical lines are separate orders on the same day in CDNOW
        init_options={"duplicates": "keep"},
    ),
    "online_retail": Layout(
        name="online_retail",
        description="Invoice lines (UCI Online Retail); 'C' invoices and negative quantities "
        "are returns",
        columns={
            "customer_id": "CustomerID",
            "event_time": "InvoiceDate",
            "order_id": "InvoiceNo",
            "product_id": "StockCode",
            "quantity": "Quantity",
            "price": "UnitPrice",
        },
        time_format="%m/%d/%Y %H:%M",
        event_type_rule=_online_retail_event_type,
        alternatives={"customer_id": ("Customer ID",), "order_id": ("Invoice",), "price": ("Price",)},
        # guest checkouts have no CustomerID and cannot be attributed to anyone
        init_options={"drop_missing_customers": True},
    ),
    "ga_sessions": Layout(
        name="ga_sessions",
        description="Google Analytics 360 sessions, flattened (fullVisitorId, visitId, "
        "visitStartTime, totals.*, device.*, geoNetwork.*, trafficSource.*): one event per visit, "
        "a purchase when it had transactions",
        columns={
            "customer_id": "fullVisitorId",
            "event_time": "_ga_time",
            "event_type": "_ga_type",
            "amount": "_ga_revenue",
            "quantity": "_ga_orders",
            "session_id": "_ga_session",
        },
        derive=_ga_columns,
        derive_needs=GA_NEEDS,
    ),
    "events": Layout(
        name="events",
        description="Any log: map the columns yourself in [source.columns]",
        columns={"customer_id": "customer_id", "event_time": "event_time"},
    ),
}


def detect_layout(present: list[str]) -> str | None:
    """The ready layout a source's columns match (GA and invoice lines before the plainer
    ones), or None: then the `events` layout maps them by name."""
    for name in ("ga_sessions", "online_retail", "rees46", "cdnow"):
        if LAYOUTS[name].matches(present):
            return name
    return None
