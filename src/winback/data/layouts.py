"""Ready-made column mappings for the layouts winback knows.

A layout names which source column feeds each canonical column, how timestamps are written,
and how event types are derived. Users override any of it in ``[source.columns]``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis

from winback.errors import DataError, WinbackError

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
# each event's wall time in its own zone, kept beside the UTC event_time when a column names
# each row's zone (source.timezone_column): the hour and weekday a chain's till saw
LOCAL_TIME = "local_time"
# the source's row (1 = the first after the header) of a row a layout's `expand` made, which
# errors about its values name
SOURCE_ROW = "_source_row"
REQUIRED = ("customer_id", "event_time")
PURCHASE = "purchase"
RETURN = "return"
# the event types features and labels read, and words that name them in other logs; the
# first match wins, so "remove" comes before "cart" (RemoveFromCart is not an add)
EVENT_TYPE_WORDS = {  # English, then German, French, Spanish, Italian and Dutch, without accents
    "remove_from_cart": ("remove", "entfern", "supprim", "retir", "elimin", "rimoss", "rimoz", "verwijder"),
    "return": ("return", "refund", "cancel", "chargeback", "ruckgabe", "rucksend", "erstatt", "storn",
               "retour", "rembours", "annul", "devol", "devuel", "reembols", "rimbors", "restituz", "terugbetaal"),
    # before the purchase words: a German cart is an 'Einkaufswagen', which holds 'Kauf'
    "cart": ("cart", "basket", "productadded", "itemadded",  # Segment's "Product Added"
             "warenkorb", "einkaufswagen", "panier", "carrito", "carrello", "winkelwagen", "winkelmand"),
    # a checkout counts once completed (Shopify's checkout_completed), not when begun; a
    # payment or charge in a payments export (Square's Payment, Stripe's charge) is a sale
    "purchase": ("purchase", "order", "buy", "transaction", "checkoutcomplete", "completedcheckout",
                 "sale", "payment", "charge", "kauf", "bestell", "zahlung", "achat", "commande",
                 "paiement", "compra", "pedido", "pago", "acquist", "ordine", "pagament", "aankoop",
                 "betaling"),
    "view": ("view", "visit", "detail", "impression", "ansicht", "angesehen", "aufgerufen", "vue",
             "consult", "vista", "visto", "visualizz", "bekeken", "weergave"),
}
# steps on the way to a purchase (GA4's begin_checkout and add_payment_info, the pixel's
# InitiateCheckout, session_start): mapped to nothing rather than counted as what they lead to
STEP_WORDS = ("begin", "start", "initiat", "paymentinfo", "addpayment", "paymentmethod",
              "paymentdetail", "shipping")
# what did not happen: a failed payment or declined order is no purchase
UNDONE_WORDS = ("fail", "declin", "error", "void", "abandon", "expire", "fehlgeschlagen", "abgelehnt",
                "echou", "refuse", "fallid", "rechaz", "fallit", "rifiut", "mislukt", "geweigerd")
# what happens to an order after it is placed (Klaviyo's Fulfilled Order, Shipped Order):
# the same purchase again, so counting it would count the order twice
AFTER_WORDS = ("fulfil", "shipped", "shipment", "deliver", "dispatch")  # not "ship": membership
# a purchase event per line item (Klaviyo's Ordered Product, Segment's Product Purchased)
# beside one per order: the order's is the purchase
LINE_WORDS = ("product", "item", "lineitem", "sku")  # not "line": an Online Purchase is an order


def suggested_event_types(counts: dict[str, int]) -> dict[str, str]:
    """Source event types that look like a canonical one they are not mapped to
    ({"Purchase": "purchase", "AddToCart": "cart"}), for the [source.event_types] advice."""
    out = {}
    for value in counts:
        if value is None or value in EVENT_TYPE_WORDS:
            continue
        plain = _plain_word(value)
        if any(w in plain for w in STEP_WORDS + UNDONE_WORDS + AFTER_WORDS):
            continue
        for canonical, words in EVENT_TYPE_WORDS.items():
            if any(w in plain for w in words):
                out[str(value)] = canonical
                break
    purchases = [v for v, c in out.items() if c == PURCHASE]
    lines = [v for v in purchases if any(w in _plain_word(v) for w in LINE_WORDS)]
    if lines and (len(lines) < len(purchases) or PURCHASE in counts):
        for v in lines:  # one purchase per order, not one more per line item
            del out[v]
    return out


# A column of order statuses (WooCommerce's Order Status, Shopify's Financial Status, Stripe's
# Status) says which rows of an order table are purchases. Words in English, German, French,
# Spanish, Italian and Dutch, without accents; the first group that matches wins, so a status
# that is not a sale ("Pending payment", "unpaid", "Failed") is caught before the words of paid
# ones, and a partial refund is still the order it was.
NOT_A_SALE = "other"
ORDER_STATUS_WORDS = (
    (NOT_A_SALE, ("pend", "hold", "unpaid", "notpaid", "cancel", "fail", "void", "draft", "declin",
                  "expir", "abandon", "trash", "storn", "annul", "anul", "rechaz", "attente",
                  "attesa", "wacht", "offen", "ausstehend", "nonpag", "impay", "nietbetaald",
                  "incomplet", "uncaptur", "awaitingpay", "awaitingcheck", "awaitingbank",
                  "awaitingcash", "error", "disput", "fraud", "block", "verification", "quot",
                  "unapprov", "notapprov", "disapprov", "desaprov", "desaprob", "reprov")),
    (PURCHASE, ("partial", "teilweise", "partiel", "parcial", "parzial", "gedeelte")),
    # Magento closes an order by refunding it in full
    (RETURN, ("refund", "return", "erstatt", "retour", "rembours", "reembols", "devuel", "devolu",
              "rimbors", "terugbetaal", "closed")),
    (PURCHASE, ("complet", "process", "paid", "ship", "deliver", "fulfil", "succe", "captur",
                "accept", "authori", "settled", "pickup", "salesorder", "abgeschlossen", "bezahlt",
                "versand", "versendet", "geliefert", "erledigt", "bearbeitung", "termine", "paye",
                "expedi", "livr", "encours", "pagad", "pagat", "enviad", "entregad", "procesa",
                "spedit", "consegn", "lavorazione", "evas", "voltooid", "betaald", "verzonden",
                "geleverd", "verwerking", "approv", "aprov", "aprob", "invoic", "faturad", "entregue")),
)
# column names of order statuses; a fulfilment or shipping status says nothing of payment, and
# an address's state or province nothing of the order
STATUS_COLUMN = re.compile(r"status|statut|estado|stato\b|zustand|^(order[ _-]?|payment[ _-]?)?state$", re.I)
NOT_PAYMENT_STATUS = re.compile(r"(fulfil|ship|deliver|versand|liefer|livraison|envio|spedizion|"
                                r"verzend|return|refund|risk|customer|account|email|newsletter|"
                                r"subscri|market|billing|address|provinc|region|country|pais|city)", re.I)


def _plain_word(value: object) -> str:
    """Letters only, lower case, accents dropped: 'Payée' and 'payee' match the same word."""
    text = unicodedata.normalize("NFKD", str(value)).lower()
    return "".join(ch for ch in text if ch.isalpha() and not unicodedata.combining(ch))


def order_status_kind(value: object) -> str | None:
    """'purchase', 'return' or NOT_A_SALE for an order status, None for a word it knows not."""
    plain = _plain_word(value)
    for kind, words in ORDER_STATUS_WORDS:
        if any(w in plain for w in words):
            return kind
    return None


def is_status_column(name: str) -> bool:
    """Whether a column's name says it holds order or payment statuses."""
    return bool(STATUS_COLUMN.search(name.strip())) and not NOT_PAYMENT_STATUS.search(name)


def order_statuses(counts: dict[str, int]) -> tuple[dict[str, str], list[str]]:
    """[source.event_types] for a column of order statuses ({"Completed": "purchase",
    "Refunded": "purchase"}) and the statuses read as no sale, which keep their own name: events
    of the customer, never purchases. ({}, []) when no status reads as a purchase: then the
    column is no order status.

    A refunded order is the sale it was when placed: the status is the order's on the day of
    the export, and the row dates the order, not its refund, so reading it as a return on the
    order's day would show a backtest's features refunds made after the cutoff (while at
    scoring time the latest orders are not refunded yet)."""
    mapping: dict[str, str] = {}
    others: list[str] = []
    for value in counts:
        if value is None or value in (PURCHASE, RETURN):  # winback's own already
            continue
        kind = order_status_kind(value)
        if kind == NOT_A_SALE or kind is None:
            others.append(str(value))
        elif str(value) != PURCHASE:
            mapping[str(value)] = PURCHASE
    if PURCHASE not in mapping.values() and PURCHASE not in counts:
        return {}, []
    return mapping, others


def refunded_sales(event_types: dict[str, str]) -> list[str]:
    """The order statuses of refunded orders among those `order_statuses` maps to sales."""
    return [k for k, v in event_types.items() if v == PURCHASE and order_status_kind(k) == RETURN]


REFUNDED_AS_SALES = ("are read as the sales they were when placed: a status is the order's on the day of "
                     "the export, and the row dates the order, not its refund, so a return on the order's "
                     "day would show a backtest's features refunds made after its cutoff.")


def event_types_advice(counts: dict[str, int], column: str = "") -> str:
    """A [source.event_types] block mapping look-alike types, or "" when there is none; when
    the event type comes from a `column` of order statuses, the statuses that are sales,
    refunded ones included (a cancelled order is no sale there, not a return)."""
    found = order_statuses(counts)[0] if is_status_column(column) else suggested_event_types(counts)
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
    # rows that hold more than one event become one row each, before `derive` (a Stripe
    # payment refunded later: the payment, and its refund on the day it was made), and rows
    # that repeat an event are dropped (GA4's purchase recorded twice); the rows carry the
    # columns named in `expand_columns`, which `derive` reads, and on DuckDB SOURCE_ROW, the
    # row of the source each came from (load_events numbers the rows of a layout that has
    # expand_columns)
    expand: Callable[[ibis.Table], ibis.Table] | None = None
    expand_columns: tuple[str, ...] = ()
    # what `expand` dropped or left unread, said by validate and train ("" when nothing): rows
    # are never left out unsaid. It reads the source's rows and those `expand` made (a copy on
    # DuckDB, where the order fields Shopify's layout fills are read without their windows)
    expand_note: Callable[[ibis.Table, ibis.Table], str] | None = None
    # the column naming the currency of the amounts, of a source with these columns, where
    # the layout picks the amount among several (Stripe: Converted Amount, in Converted
    # Currency, or else Amount in Currency)
    currency_column: Callable[[list[str]], str] | None = None

    @property
    def names_event_types(self) -> bool:
        """Whether the layout derives winback's event types itself (GA4's view_item is a view,
        its page_view is not): init and validate suggest no mapping of look-alike names."""
        return self.derive is not None and "event_type" in self.columns

    def columns_in(self, present: list[str]) -> dict[str, str]:
        """The layout's mapping, with each column absent from `present` read under an
        alternative name that is there."""
        return {k: (v if v in present else next((a for a in self.alternatives.get(k, ()) if a in present), v))
                for k, v in self.columns.items()}

    def matches(self, present: list[str]) -> bool:
        """Whether a source with these columns is in this layout: every raw column it derives
        from, and every other column it maps (under some name)."""
        derived: set[str] = set()
        if self.derive and all(c in present for c in self.derive_needs):
            try:
                derived = set(self.derive(ibis.table({c: "string" for c in present})))
            except WinbackError:  # a column it reads is not there under any of its names
                return False
        return all(c in present for c in self.derive_needs) and all(
            v in present or v in derived for v in self.columns_in(present).values())


def _online_retail_event_type(cols: dict[str, ibis.Value]) -> ibis.Value:
    cancelled = cols["order_id"].startswith("C") | (cols["quantity"] < 0)
    return ibis.ifelse(cancelled, RETURN, PURCHASE)


GA_NEEDS = ("fullVisitorId", "visitId", "visitStartTime", "totals.transactions",
            "totals.transactionRevenue")
EPOCH = ibis.timestamp("1970-01-01 00:00:00")
# columns the ga_sessions layout derives, named as errors about their values show them
GA_TIME = "visitStartTime (as a time)"
GA_REVENUE = "totals.transactionRevenue (in units, not micros)"
GA_ORDERS = "totals.transactions (as a number)"


def _ga_columns(raw: ibis.Table) -> dict[str, ibis.Value]:
    """One canonical event per GA visit: a purchase when it had transactions (revenue from
    micros), a view otherwise; the session is the visitor's visit."""
    def number(col: str) -> ibis.Value:
        c = raw[col]
        return c.cast("string").try_cast("int64") if c.type().is_string() else c.cast("int64")

    orders = number("totals.transactions").fill_null(0)
    seconds = number("visitStartTime")
    return {
        GA_TIME: EPOCH + seconds.as_interval("s"),
        "_ga_session": raw["fullVisitorId"].cast("string").concat("-", raw["visitId"].cast("string")),
        "_ga_type": ibis.ifelse(orders > 0, PURCHASE, "view"),
        GA_REVENUE: ibis.ifelse(orders > 0, number("totals.transactionRevenue").cast("float64")
                                   / 1_000_000, ibis.null("float64")),
        GA_ORDERS: orders.cast("float64"),
    }


# Google Analytics 4's BigQuery export (events_YYYYMMDD tables, or their JSON lines or Parquet
# copies): one row per event, its parameters as a list of key/value pairs and its e-commerce
# fields and items nested (flattened to 'ecommerce.purchase_revenue' from JSON lines)
# the revenue of GA4's purchases and refunds, named as errors about its values show it
GA4_REVENUE = "ecommerce.purchase_revenue or refund_value"
GA4_NEEDS = ("event_timestamp", "event_name", "user_pseudo_id", "event_params")
# GA4's recommended e-commerce events as winback's; every other event (page_view,
# session_start, begin_checkout, scroll) keeps its name: activity of the visitor, no sale
GA4_EVENT_TYPES = {"view_item": "view", "add_to_cart": "cart", "remove_from_cart": "remove_from_cart",
                   "purchase": PURCHASE, "refund": RETURN}


def _nested(raw: ibis.Table, parent: str, field: str, dtype: str) -> ibis.Value:
    """A nested field (`ecommerce.purchase_revenue`): its flattened column (JSON lines), the
    field of its struct column (BigQuery, Parquet), or null when the export has neither."""
    flat = f"{parent}.{field}"
    if flat in raw.columns:
        return raw[flat].cast(dtype)
    if parent in raw.columns and raw[parent].type().is_struct() and field in raw[parent].type().names:
        return raw[parent][field].cast(dtype)
    return ibis.null(dtype)


def _ga4_transaction(raw: ibis.Table) -> ibis.Value:
    """An e-commerce event's transaction id, null where GA4 recorded none ('(not set)')."""
    return _nested(raw, "ecommerce", "transaction_id", "string").strip().nullif("").nullif("(not set)")


def _ga4_purchases(raw: ibis.Table) -> tuple[ibis.Table, ibis.Table]:
    """The events with their transaction id (`_ga4_tid`), and the purchases among them that
    have one: those a repeat can be told of."""
    marked = raw.mutate(_ga4_tid=_ga4_transaction(raw))
    return marked, marked.filter((marked["event_name"].cast("string") == "purchase") & marked._ga4_tid.notnull())


def _ga4_rows(raw: ibis.Table) -> ibis.Table:
    """A purchase GA4 recorded again under the same transaction id (its confirmation page
    reloaded or revisited, or tagged twice: a known fault of GA4 exports) is one purchase: a
    visitor's later copies are dropped, which would otherwise count its revenue once more.
    The copies are found among the purchases alone, and the export's events stream past that
    short list once (benchmarks/layouts.py)."""
    marked, buys = _ga4_purchases(raw)
    firsts = buys.group_by(_ga4_visitor=buys["user_pseudo_id"], _ga4_t=buys._ga4_tid).aggregate(
        _ga4_first=buys["event_timestamp"].min())
    copies = buys.inner_join(firsts, [buys["user_pseudo_id"] == firsts._ga4_visitor, buys._ga4_tid == firsts._ga4_t])
    later = (copies.filter(copies["event_timestamp"] > copies._ga4_first)
             .select(_ga4_v=copies["user_pseudo_id"], _ga4_tt=copies._ga4_tid, _ga4_ts=copies["event_timestamp"])
             .distinct())
    kept = marked.anti_join(later, [marked["user_pseudo_id"] == later._ga4_v, marked._ga4_tid == later._ga4_tt,
                                    marked["event_timestamp"] == later._ga4_ts])
    return kept.drop("_ga4_tid")


def _ga4_repeats(raw: ibis.Table, expanded: ibis.Table) -> str:
    """How many purchases `_ga4_rows` reads as repeats of a visitor's earlier one."""
    _, buys = _ga4_purchases(raw)
    # one query (a warehouse bills each): visitor ids hold no '|', so each key is one pair
    buys = buys.filter(buys["user_pseudo_id"].notnull()).mutate(
        _ga4_key=buys["user_pseudo_id"].cast("string").concat("|", buys._ga4_tid))
    counts = buys.aggregate(total=buys.count(), orders=buys._ga4_key.nunique()).execute().iloc[0]
    total, orders = int(counts["total"]), int(counts["orders"] or 0)
    if total == orders:
        return ""
    return (f"{total - orders:,} of the {total:,} purchase events with a transaction id repeat one the same "
            f"visitor was recorded with before (GA4 records a purchase again when its confirmation page "
            f"is reloaded or tagged twice): each transaction is read as one purchase, its first.")


def _ga4_columns(raw: ibis.Table) -> dict[str, ibis.Value]:
    """Each GA4 event of its visitor (user_pseudo_id, the device's id: user_id is set only
    once a visitor logs in, so events before and after would be two customers): the
    e-commerce events as winback's types, purchases with their revenue and transaction, the
    session as the visitor's ga_session_id parameter, and the product, brand and category of
    an event about one item (an item view, a cart add)."""
    name = raw["event_name"].cast("string")
    kind = name.cases(*GA4_EVENT_TYPES.items(), else_=name)
    params = raw["event_params"]
    if params.type().is_array():
        session = params.filter(lambda p: p.key == "ga_session_id")[0]
        session_id = session.value.int_value.cast("string").coalesce(session.value.string_value)
    else:  # parameters the export wrote as text: no session to read
        session_id = ibis.null("string")
    revenue = ibis.cases((kind == PURCHASE, _nested(raw, "ecommerce", "purchase_revenue", "float64")),
                         (kind == RETURN, _nested(raw, "ecommerce", "refund_value", "float64")),
                         else_=ibis.null("float64"))
    visitor = raw["user_pseudo_id"].cast("string")
    # a purchase whose transaction GA4 did not record ('(not set)', common in its exports) is
    # an order of its own: one shared id counted all of a visitor's such purchases as one
    order = _ga4_transaction(raw)
    own = visitor.concat("@", raw["event_timestamp"].cast("string"))
    out = {"_ga4_type": kind, GA4_REVENUE: revenue,
           "_ga4_session": visitor.concat("-", session_id),
           "_ga4_order": ibis.ifelse(kind.isin([PURCHASE, RETURN]), order.coalesce(own), order)}
    items = raw["items"] if "items" in raw.columns and raw["items"].type().is_array() else None
    fields = items.type().value_type.names if items is not None and items.type().value_type.is_struct() else ()
    for column, item_field in (("_ga4_product", "item_id"), ("_ga4_brand", "item_brand"),
                               ("_ga4_category", "item_category")):
        # an event about one item only: a basket's first item is not the event's
        one = items.length() == 1 if item_field in fields else None
        out[column] = (ibis.ifelse(one, items[0][item_field].cast("string").nullif(""), ibis.null("string"))
                       if one is not None else ibis.null("string"))
    return out


# Shopify's orders export: one row per line item, with the order's own fields (financial
# status, email, time, totals) written on its first line only
SHOPIFY_NEEDS = ("Name", "Email", "Financial Status", "Created at", "Lineitem quantity", "Lineitem price")
SHOPIFY_SALES = ("paid", "partially_paid", "partially_refunded", "authorized")
# an order whose money was taken: one refunded later was a sale until its refund
SHOPIFY_PAID = (*SHOPIFY_SALES, "refunded")
SHOPIFY_PART = "_shopify_part"  # line | refund (expand_columns)
SHOPIFY_TIME = "Created at or Cancelled at (order)"  # named so in errors about its values
SHOPIFY_LINES = "_shopify_lines"  # the sum of the order's line amounts (expand fills it)
# the order's own fields, which Shopify writes on its first line only
SHOPIFY_ORDER_FIELDS = ("Email", "Financial Status", "Created at", "Cancelled at", "Refunded Amount")


def _shopify_filled(column: str) -> str:
    """The column `_shopify_rows` fills with each order's `column` on all of its lines, beside
    the column as written (which the duplicate check reads: two lines of one order are not
    repeats of each other for sharing their order's fields)."""
    return f"_shopify {column}"


def _shopify_order(raw: ibis.Table) -> Callable[[str], ibis.Value]:
    """A column's value on each line, from the order's first line where the line leaves it
    blank; read as written once `_shopify_rows` has filled each order's fields onto its lines
    (one pass of windows, where every expression reading them took its own)."""
    if SHOPIFY_PART in raw.columns:
        return lambda column: raw[_shopify_filled(column)]
    order = ibis.window(group_by=raw["Name"])

    def of_order(column: str) -> ibis.Value:
        text = _text(raw[column])
        return text.coalesce(text.max().over(order))

    return of_order


def _shopify_line_amount(raw: ibis.Table) -> ibis.Value:
    """A line's amount: quantity x price, less the discount on the line."""
    paid = _number(raw["Lineitem quantity"]) * _number(raw["Lineitem price"])
    if "Lineitem discount" in raw.columns:  # the discount on the line, as an amount
        paid = paid - _number(raw["Lineitem discount"]).fill_null(0)
    return paid


def _shopify_refunds(raw: ibis.Table) -> tuple[ibis.Value, ibis.Value]:
    """Whether each line's order was paid and then refunded (in full, or by a Refunded Amount),
    and whether that refund has a date: the export dates an order's cancellation (Cancelled at)
    and no refund, so only a refund made by cancelling the order has one."""
    of_order = _shopify_order(raw)
    status = of_order("Financial Status").lower()
    refunded = status == "refunded"
    if "Refunded Amount" in raw.columns:
        refunded = refunded | (of_order("Refunded Amount").try_cast("float64").fill_null(0) > 0)
    refunded = refunded & status.isin(SHOPIFY_PAID)
    dated = (of_order("Cancelled at").notnull() if "Cancelled at" in raw.columns
             else ibis.literal(False))
    return refunded.fill_null(False), dated


def _shopify_rows(raw: ibis.Table) -> ibis.Table:
    """Each line item with its order's fields, plus a row for its share of its order's refund
    on the day the order was cancelled. Reading a refunded order as a return on the day it was
    placed (as the export's status says, written on the day of the export) let features at a
    cutoff before the refund see it; a refund the export gives no date is not read, and the
    order stays the sale it was (_shopify_undated says how many)."""
    of_order = _shopify_order(raw)
    fields = {_shopify_filled(c): of_order(c) for c in SHOPIFY_ORDER_FIELDS if c in raw.columns}
    lines = raw.mutate(**fields, **{SHOPIFY_LINES: _shopify_line_amount(raw).sum().over(
        ibis.window(group_by=raw["Name"])), SHOPIFY_PART: ibis.literal("line")})
    if "Cancelled at" not in raw.columns:
        return lines
    refunded, dated = _shopify_refunds(lines)
    refunds = lines.filter(refunded & dated).mutate(**{SHOPIFY_PART: ibis.literal("refund")})
    return lines.union(refunds)


def _shopify_undated(raw: ibis.Table, expanded: ibis.Table) -> str:
    """How many refunded orders `_shopify_rows` reads no refund of, for want of its date: from
    its lines, which carry their order's fields (2 s of 10 s on 1 M lines went to filling them
    again from the source's rows)."""
    lines = expanded.filter(expanded[SHOPIFY_PART] == "line")
    refunded, dated = _shopify_refunds(lines)
    flagged = lines.mutate(_refunded=refunded, _undated=refunded & ~dated)
    counts = flagged.aggregate(refunded=flagged.Name.nunique(where=flagged._refunded),
                               undated=flagged.Name.nunique(where=flagged._undated)).execute().iloc[0]
    return _undated_note(int(counts["undated"] or 0), int(counts["refunded"] or 0), "order",
                         "the export dates a cancellation, in Cancelled at, and no refund", "sale",
                         " The stripe layout on the same shop's payments dates every refund.")


def _undated_note(undated: int, total: int, what: str, why: str, stays: str, more: str = "") -> str:
    """The note on the refunds a layout leaves unread for want of their date ("" when none)."""
    if not undated:
        return ""
    verb = "has" if undated == 1 else "have"
    return (f"{undated:,} of the {total:,} refunded {what}s {verb} no refund date ({why}): each stays "
            f"the {stays} it was, and its refund is not read, since dating it on the {what}'s day would "
            f"show it to features before it happened.{more}")


def _shopify_columns(raw: ibis.Table) -> dict[str, ibis.Value]:
    """Each line item with its order's customer, time and status: a line of a paid order is a
    purchase of its full amount when the order was placed, even if refunded later (the lines
    of an order cancelled unpaid, voided, pending or expired are events of their customer and
    no sale); a refund the order's cancellation dates is a return of each line's share of it on
    that day. A line without a SKU is its product's name."""
    of_order = _shopify_order(raw)
    part = raw[SHOPIFY_PART] if SHOPIFY_PART in raw.columns else ibis.literal("line")
    refund = part == "refund"
    status = of_order("Financial Status").lower()
    cancelled = (of_order("Cancelled at").notnull() if "Cancelled at" in raw.columns
                 else ibis.literal(False))
    kind = ibis.cases((refund, RETURN), (status.isin(SHOPIFY_PAID), PURCHASE), (cancelled, "cancelled"),
                      else_=status.fill_null("unknown"))
    name = _text(raw["Lineitem name"]) if "Lineitem name" in raw.columns else None
    product = (_text(raw["Lineitem sku"]) if "Lineitem sku" in raw.columns
               else ibis.null("string"))
    paid = _shopify_line_amount(raw)
    amount = paid
    if "Refunded Amount" in raw.columns:
        # a partial refund (a line sent back, a goodwill refund) takes its share from each
        # line, as much as the line was (refunded shipping or tax, not in the lines, too)
        refunded = of_order("Refunded Amount").try_cast("float64").fill_null(0)
        lines = (raw[SHOPIFY_LINES] if SHOPIFY_LINES in raw.columns
                 else paid.sum().over(ibis.window(group_by=raw["Name"])))
        share = ibis.cases((refunded <= 0, 1), (lines > 0, ibis.least(refunded / lines, 1)), else_=0)
        amount = ibis.ifelse(refund, paid * share, paid)
    when = of_order("Created at")
    if "Cancelled at" in raw.columns:
        when = ibis.ifelse(refund, of_order("Cancelled at"), when)
    return {"Email (order)": of_order("Email"), SHOPIFY_TIME: when,
            "Financial Status (order)": kind,
            "Lineitem (product)": product.coalesce(name) if name is not None else product,
            "Lineitem amount": amount}


# PayPal's activity download (Download.CSV): every movement of the account, the shop's own
# (withdrawals, currency conversions, holds, its own purchases from suppliers) among its
# customers' payments and refunds. The customer is the other side: the payer of money coming
# in, the payee of a refund going out (whose From Email Address is the shop's own).
PAYPAL_NEEDS = ("Date", "Time", "Type", "Status", "Gross", "From Email Address", "To Email Address",
                "Transaction ID")
# money in from a customer: checkout, website, mobile, subscription, invoice, eBay payments
PAYPAL_SALE = r"payment|checkout|donation|subscription|invoice"
# money out to a customer: refunds and chargebacks
PAYPAL_RETURN = r"refund|chargeback|^payment reversal$"
# the account's own movements: a hold or its reversal, an authorisation before the capture
# (whose payment is a row of its own), withdrawals, conversions, fees, deposits
PAYPAL_NOT_CUSTOMER = r"hold|authori[sz]ation|withdraw|transfer|conversion|fee|deposit|bank|balance|release|cancel"
# a payment that went through; one later refunded or reversed was still made (its refund or
# chargeback is a row of its own)
PAYPAL_DONE = ("completed", "cleared", "refunded", "partially refunded", "reversed")


def _paypal_columns(raw: ibis.Table) -> dict[str, ibis.Value]:
    """Each customer's payments (purchases once completed; pending or denied ones events of
    their customer and no sale) and refunds (returns), at the date and time as written; the
    account's other movements belong to no customer, and init drops them
    (drop_missing_customers)."""
    kind = raw["Type"].cast("string").strip().lower()
    status = raw["Status"].cast("string").strip().lower()
    gross = raw["Gross"].cast("string").strip()
    out = gross.startswith("-") | gross.startswith("(")
    mine = kind.re_search(PAYPAL_NOT_CUSTOMER)
    refunding = kind.re_search(PAYPAL_RETURN)
    # a refund coming in (from a supplier the shop bought from) is no sale of anyone's
    sale = ~out & kind.re_search(PAYPAL_SALE) & ~refunding & ~mine
    refund = out & refunding & ~mine

    def email(column: str) -> ibis.Value:
        return raw[column].cast("string").strip().lower().nullif("")

    event = ibis.cases((refund, ibis.literal(RETURN)), (sale & status.isin(PAYPAL_DONE), ibis.literal(PURCHASE)),
                       (sale, status.nullif("").fill_null("unknown")), else_=ibis.null("string"))
    customer = ibis.cases((refund, email("To Email Address")), (sale, email("From Email Address")),
                          else_=ibis.null("string"))
    when = raw["Date"].cast("string").strip().concat(" ", raw["Time"].cast("string").strip())
    return {"Customer (PayPal)": customer, "Type (PayPal)": event, "Date Time (PayPal)": when}


# Stripe's payments export (Payments > Export, unified_payments.csv): one row per payment
# attempt, with what was refunded of it, when, and any dispute
STRIPE_NEEDS = ("Amount", "Amount Refunded", "Status", "Customer ID")
STRIPE_CREATED = ("Created date (UTC)", "Created (UTC)", "Created date")  # older exports: the others
STRIPE_REFUNDED = ("Refunded date (UTC)", "Refunded (UTC)", "Refunded date")
STRIPE_DISPUTED = ("Dispute Date (UTC)",)
STRIPE_PART = "_stripe_part"  # payment | refund | chargeback (expand_columns)
STRIPE_TIME = "Created, Refunded or Dispute date (Stripe)"  # named so in errors about its values
STRIPE_CUSTOMER = "Customer Email or ID (Stripe)"
STRIPE_AMOUNT = "Amount, Amount Refunded or Disputed Amount (Stripe)"
# a payment that went through: a refund or a dispute later is an event of its own
STRIPE_PAID = ("paid", "succeeded", "captured", "refunded", "partially refunded", "disputed")
STRIPE_READS = {c.lower() for c in (*STRIPE_NEEDS, *STRIPE_CREATED, *STRIPE_REFUNDED, *STRIPE_DISPUTED, "Captured",
                                    "Converted Amount", "Converted Amount Refunded", "Disputed Amount",
                                    "Dispute Status", "Customer Email")}


def _first_in(columns, names: tuple[str, ...]) -> str | None:
    """The first of `names` among `columns`, in any letter case (newer exports write 'ID')."""
    by_case = {c.lower(): c for c in columns}
    return next((by_case[n.lower()] for n in names if n.lower() in by_case), None)


def _first_of(raw: ibis.Table, names: tuple[str, ...]) -> str | None:
    """The first of `names` the source has, in any letter case."""
    return _first_in(raw.columns, names)


def _text(col: ibis.Value) -> ibis.Value:
    """A column as trimmed text, null when empty (a typed warehouse column as its text)."""
    return col.cast("string").strip().nullif("")


def _as_text(col: ibis.Value) -> ibis.Value:
    """A column `_stripe_rows` made trimmed text already (any column, when a source is only
    being matched against the layout)."""
    return col if col.type().is_string() else col.cast("string")


def _stripe_captured(raw: ibis.Table) -> ibis.Value:
    """Whether a payment's money was taken: an authorisation never captured was not, and its
    release is written as a refund (an export without the column: every payment was)."""
    column = _first_of(raw, ("Captured",))
    return ibis.literal(True) if column is None else (_as_text(raw[column]).lower() != "false").fill_null(True)


def _stripe_rows(raw: ibis.Table) -> ibis.Table:
    """Each payment, plus a row for its refund on the refund's date and one for a lost dispute
    on the dispute's date. Dating them as the payment (as the payment's own row says, once
    refunded) would let features at a cutoff between the two see a refund yet to come."""
    # every column the layout reads, as trimmed text once (not in each expression reading it)
    read = [c for c in raw.columns if c.lower() in STRIPE_READS]
    raw = raw.mutate(**{c: _text(raw[c]) for c in read})
    parts = [raw.mutate(**{STRIPE_PART: ibis.literal("payment")})]
    refunded_at = _first_of(raw, STRIPE_REFUNDED)
    if refunded_at is not None:
        parts.append(raw.filter(raw[refunded_at].notnull() & _stripe_captured(raw))
                     .mutate(**{STRIPE_PART: ibis.literal("refund")}))
    disputed_at = _first_of(raw, STRIPE_DISPUTED)
    dispute = _first_of(raw, ("Dispute Status",))
    if disputed_at is not None and dispute is not None:
        lost = raw[dispute].lower() == "lost"
        parts.append(raw.filter(lost & raw[disputed_at].notnull())
                     .mutate(**{STRIPE_PART: ibis.literal("chargeback")}))
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def _stripe_undated(raw: ibis.Table, expanded: ibis.Table) -> str:
    """How many refunded payments `_stripe_rows` reads no refund of, for want of its date (an
    older export, or one without the Refunded date column): from its payment rows, whose
    columns it made trimmed text, with the refunded amount `_stripe_columns` reads."""
    payments = expanded.filter(expanded[STRIPE_PART] == "payment")
    refunded = _as_text(payments["Amount Refunded"])
    converted = _first_of(payments, ("Converted Amount Refunded",))
    if converted is not None:
        refunded = _as_text(payments[converted]).coalesce(refunded)
    paid = _as_text(payments["Status"]).lower().isin(STRIPE_PAID) & _stripe_captured(payments)
    some = (refunded.re_search("[1-9]") & paid).fill_null(False)
    refunded_at = _first_of(payments, STRIPE_REFUNDED)
    undated = some & (payments[refunded_at].isnull() if refunded_at else True)
    counts = payments.aggregate(refunded=some.sum(), undated=undated.sum()).execute().iloc[0]
    return _undated_note(int(counts["undated"] or 0), int(counts["refunded"] or 0), "payment",
                         "export the payments with 'Refunded date (UTC)'", "purchase")


def _stripe_currency(columns: list[str]) -> str:
    """The column of the currency of the amounts the stripe layout reads, or "" when they are
    in one currency: the account's, when the export has the converted amounts (2 s of reading
    a 1 M-payment export went to counting its one Converted Currency)."""
    return "" if _first_in(columns, ("Converted Amount",)) else _first_in(columns, ("Currency",)) or ""


def _stripe_columns(raw: ibis.Table) -> dict[str, ibis.Value]:
    """A paid and captured payment is a purchase of its customer at its creation time, of its
    amount in the account's currency (Converted Amount); a refund or a lost dispute is a return
    of what went back, at its own date; a failed, canceled, blocked or uncaptured payment is an
    event of its customer and no sale. The customer is the e-mail (one person who checked out
    twice may have two Stripe customers), else the Stripe customer id."""
    created = _first_of(raw, STRIPE_CREATED)
    if created is None:
        raise DataError("the stripe layout reads each payment's time from 'Created date (UTC)' ('Created "
                        "(UTC)' or 'Created date' in older exports), and the source has none of them: "
                        "export the payments with that column.")
    part = raw[STRIPE_PART] if STRIPE_PART in raw.columns else ibis.literal("payment")
    status = _as_text(raw["Status"]).lower()
    paid = status.isin(STRIPE_PAID)
    captured = _stripe_captured(raw)
    kind = ibis.cases((part != "payment", ibis.literal(RETURN)), (paid & captured, ibis.literal(PURCHASE)),
                      (paid, ibis.literal("uncaptured")), else_=status.fill_null("unknown"))

    def column(names: tuple[str, ...]) -> ibis.Value:
        found = _first_of(raw, names)
        return _as_text(raw[found]) if found is not None else ibis.null("string")

    def negative(text: ibis.Value) -> ibis.Value:  # money going back, as PayPal's refunds are
        return ibis.ifelse(text.startswith("-"), text.substr(1), ibis.literal("-").concat(text))

    amount = column(("Converted Amount",)).coalesce(column(("Amount",)))
    refunded = column(("Converted Amount Refunded",)).coalesce(column(("Amount Refunded",)))
    # a dispute is in the payment's own currency: the whole payment, in the account's, when it
    # was for all of it (as most are)
    disputed = ibis.ifelse(column(("Disputed Amount",)) == column(("Amount",)), amount,
                           column(("Disputed Amount",)))
    when = ibis.cases((part == "refund", column(STRIPE_REFUNDED)), (part == "chargeback", column(STRIPE_DISPUTED)),
                      else_=_as_text(raw[created]))
    customer = column(("Customer Email",)).lower().coalesce(column(("Customer ID",)))
    money = ibis.cases((part == "refund", negative(refunded)), (part == "chargeback", negative(disputed)),
                       else_=amount)
    return {STRIPE_CUSTOMER: customer, "Status (Stripe)": kind, STRIPE_TIME: when, STRIPE_AMOUNT: money}


def _number(col: ibis.Value) -> ibis.Value:
    """A Shopify number column (typed by Parquet or a warehouse, or CSV text) as float64."""
    return _text(col).try_cast("float64") if col.type().is_string() else col.cast("float64")


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
            "event_time": GA_TIME,
            "event_type": "_ga_type",
            "amount": GA_REVENUE,
            "quantity": GA_ORDERS,
            "session_id": "_ga_session",
        },
        derive=_ga_columns,
        derive_needs=GA_NEEDS,
    ),
    "ga4": Layout(
        name="ga4",
        description="Google Analytics 4 BigQuery export (event_timestamp, event_name, user_pseudo_id, "
        "event_params, ecommerce, items): every event of a visitor; view_item, add_to_cart, "
        "remove_from_cart, purchase and refund as winback's types",
        columns={
            "customer_id": "user_pseudo_id",
            "event_time": "event_timestamp",
            "event_type": "_ga4_type",
            "amount": GA4_REVENUE,
            "order_id": "_ga4_order",
            "session_id": "_ga4_session",
            "product_id": "_ga4_product",
            "brand": "_ga4_brand",
            "category": "_ga4_category",
        },
        time_format="unix_us",
        derive=_ga4_columns,
        derive_needs=GA4_NEEDS,
        expand=_ga4_rows,
        expand_note=_ga4_repeats,
        # cookieless pings (consent mode) carry no visitor id
        init_options={"drop_missing_customers": True},
    ),
    "shopify": Layout(
        name="shopify",
        description="Shopify orders export (Name, Email, Financial Status, Created at, Lineitem "
        "quantity / price / sku, Cancelled at, Refunded Amount): one purchase per line item of a "
        "paid order, refunded ones included; a refund is a return on the day its order was "
        "cancelled; orders cancelled unpaid, voided or pending no sale",
        columns={
            "customer_id": "Email (order)",
            "event_time": SHOPIFY_TIME,
            "event_type": "Financial Status (order)",
            "order_id": "Name",
            "product_id": "Lineitem (product)",
            "quantity": "Lineitem quantity",
            "price": "Lineitem price",
            "amount": "Lineitem amount",
        },
        derive=_shopify_columns,
        derive_needs=SHOPIFY_NEEDS,
        expand=_shopify_rows,
        expand_columns=(SHOPIFY_PART, SHOPIFY_LINES,
                        *(_shopify_filled(c) for c in SHOPIFY_ORDER_FIELDS)),
        expand_note=_shopify_undated,
        # point-of-sale orders without an email belong to no one the shop can reach
        init_options={"drop_missing_customers": True},
    ),
    "paypal": Layout(
        name="paypal",
        description="PayPal activity download (Date, Time, TimeZone, Type, Status, Gross, From / "
        "To Email Address, Transaction ID): completed payments in are purchases of their payer, "
        "refunds and chargebacks out returns of their payee; withdrawals, conversions, holds and "
        "the shop's own payments belong to no customer",
        columns={
            "customer_id": "Customer (PayPal)",
            "event_time": "Date Time (PayPal)",
            "event_type": "Type (PayPal)",
            "amount": "Gross",
            "order_id": "Transaction ID",
        },
        time_format="%m/%d/%Y %H:%M:%S",
        derive=_paypal_columns,
        derive_needs=PAYPAL_NEEDS,
        init_options={"drop_missing_customers": True},
    ),
    "stripe": Layout(
        name="stripe",
        description="Stripe payments export (Created date (UTC), Amount, Amount Refunded, Status, "
        "Customer ID / Email, Captured, Converted Amount, Refunded date (UTC)): paid payments are "
        "purchases, their refunds and lost disputes returns on their own dates; failed, canceled "
        "and uncaptured payments no sale",
        columns={
            "customer_id": STRIPE_CUSTOMER,
            "event_time": STRIPE_TIME,
            "event_type": "Status (Stripe)",
            "amount": STRIPE_AMOUNT,
            "order_id": "id",
        },
        alternatives={"order_id": ("ID",)},
        derive=_stripe_columns,
        derive_needs=STRIPE_NEEDS,
        expand=_stripe_rows,
        expand_columns=(STRIPE_PART,),
        expand_note=_stripe_undated,
        currency_column=_stripe_currency,
        # a payment of no Stripe customer and no e-mail (a guest's) belongs to no one
        init_options={"drop_missing_customers": True},
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
    for name in ("ga_sessions", "ga4", "shopify", "paypal", "stripe", "online_retail", "rees46", "cdnow"):
        if LAYOUTS[name].matches(present):
            return name
    return None
