"""Ready-made layouts: REES46 event logs, CDNOW orders, UCI Online Retail invoices."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from winback.config import config_from_dict
from winback.data import load_events
from winback.errors import DataError
from winback.datasets import cdnow_config, generate_rees46

from conftest import write_csv


def test_cdnow_bundled_loads_with_its_config():
    log = load_events(cdnow_config())
    assert log.summary["rows"] == 69_659 and log.summary["customers"] == 23_570
    assert log.start == dt.datetime(1997, 1, 1) and log.end == dt.datetime(1998, 6, 30)
    assert log.summary["duplicate_rows"] == 255  # identical same-day orders, kept on purpose


def test_online_retail_returns_are_not_purchases(tmp_path):
    rows = [
        {"InvoiceNo": "536365", "StockCode": "85123A", "Quantity": 6, "InvoiceDate": "12/1/2010 8:26",
         "UnitPrice": 2.55, "CustomerID": "17850.0"},
        {"InvoiceNo": "C536379", "StockCode": "D", "Quantity": -1, "InvoiceDate": "12/1/2010 9:41",
         "UnitPrice": 27.5, "CustomerID": "14527.0"},
        {"InvoiceNo": "536380", "StockCode": "22", "Quantity": 2, "InvoiceDate": "12/1/2010 9:45",
         "UnitPrice": 1.0, "CustomerID": None},
        # the export's 'Adjust bad debt' line: a negative price and no customer; dropped with the
        # guests, it no longer stops the run as a negative purchase
        {"InvoiceNo": "A563185", "StockCode": "B", "Quantity": 1, "InvoiceDate": "8/12/2011 14:50",
         "UnitPrice": -11062.06, "CustomerID": None},
    ]
    cfg = config_from_dict({"source": {"path": str(write_csv(tmp_path, rows)), "layout": "online_retail",
                                       "drop_missing_customers": True}})
    log = load_events(cfg)
    got = log.table.order_by("event_time").execute()
    assert list(got.event_type) == ["purchase", "return"]
    assert list(got.customer_id) == ["17850", "14527"]  # pandas' CSV wrote them 17850.0
    assert got.amount.tolist() == [6 * 2.55, -27.5]
    assert got.event_time.iloc[0] == pd.Timestamp("2010-12-01 08:26")


def test_synthetic_rees46_is_deterministic_and_loads(tmp_path):
    a = generate_rees46(tmp_path / "a.parquet", rows=20_000, seed=3)
    b = generate_rees46(tmp_path / "b.parquet", rows=20_000, seed=3)
    fa, fb = pd.read_parquet(a), pd.read_parquet(b)
    pd.testing.assert_frame_equal(fa, fb)
    assert 20_000 <= len(fa) < 21_000
    assert set(fa.event_type) == {"view", "cart", "remove_from_cart", "purchase"}
    share = fa.event_type.value_counts(normalize=True)
    assert share["view"] > share["cart"] > share["purchase"] > 0.005
    log = load_events(config_from_dict({"source": {"path": str(a), "layout": "rees46"}}))
    assert log.summary["rows"] == len(fa)
    assert {"session_id", "brand", "category", "product_id"} <= log.available
    # integer ids stay integers (cheap to group by); Parquet text is taken as written
    schema = log.table.schema()
    assert schema["customer_id"].is_integer() and schema["product_id"].is_integer()
    assert schema["session_id"].is_string()
    orders = log.table.filter(log.table.event_type == "purchase").select("order_id", "session_id").execute()
    assert len(orders) and (orders.order_id == orders.session_id).all()


def test_csv_text_is_trimmed_and_ids_are_text(tmp_path):
    rows = [{"customer_id": " 7 ", "date": "19970101", "number_of_cds": "1", "dollar_value": " 9.5"},
            {"customer_id": "7", "date": "19970301", "number_of_cds": "2", "dollar_value": "3"}]
    cfg = config_from_dict({"source": {"path": str(write_csv(tmp_path, rows)), "layout": "cdnow"}})
    got = load_events(cfg).table.execute()
    assert got.customer_id.tolist() == ["7", "7"] and got.amount.tolist() == [9.5, 3.0]


def test_json_lines_read_as_typed_flat_columns(tmp_path):
    """Tracker exports as JSON lines: ids that are numbers in some events and text in others
    are text, ISO times with zones are UTC, and nested objects are dotted columns, so a nested
    GA 360 export reads with the ga_sessions layout exactly as the flattened one does."""
    import json

    import numpy as np

    from winback.datasets import generate_ga_sessions

    (tmp_path / "events.jsonl").write_text(
        '{"user": 17, "ts": "2024-03-01T10:00:00+02:00", "kind": "purchase", "revenue": 12.5}\n'
        '{"user": "u-9", "ts": "2024-03-02T08:30:00Z", "kind": "view", "revenue": null}\n', encoding="utf-8")
    log = load_events(config_from_dict({"source": {
        "path": str(tmp_path / "events.jsonl"), "layout": "events",
        "columns": {"customer_id": "user", "event_time": "ts", "event_type": "kind", "amount": "revenue"}}}))
    rows = log.table.order_by("event_time").execute()
    assert rows["customer_id"].tolist() == ["17", "u-9"]
    assert rows["event_time"].tolist() == [pd.Timestamp("2024-03-01 08:00"), pd.Timestamp("2024-03-02 08:30")]
    assert rows["amount"].tolist()[0] == 12.5 and log.summary["event_types"] == {"purchase": 1, "view": 1}

    flat = pd.read_parquet(generate_ga_sessions(tmp_path / "ga.parquet", visitors=300, seed=4))
    with open(tmp_path / "ga.jsonl", "w", encoding="utf-8") as out:
        for record in flat.to_dict(orient="records"):
            nested: dict = {}
            for key, value in record.items():
                if isinstance(value, float) and np.isnan(value):
                    value = None
                elif isinstance(value, (np.integer, np.bool_)):
                    value = value.item()
                head, _, field = key.partition(".")
                if field:
                    nested.setdefault(head, {})[field] = value
                else:
                    nested[key] = value
            out.write(json.dumps(nested) + "\n")

    def canonical(path):
        table = load_events(config_from_dict({"source": {"path": str(path), "layout": "ga_sessions"}})).table
        return table.execute().sort_values(["customer_id", "event_time", "session_id"]).reset_index(drop=True)

    from_json, from_parquet = canonical(tmp_path / "ga.jsonl"), canonical(tmp_path / "ga.parquet")
    assert len(from_json) == len(flat) and (from_json["event_type"] == "purchase").any()
    pd.testing.assert_frame_equal(from_json, from_parquet, check_dtype=False)


def test_ga_visit_times_are_utc_whatever_the_configured_zone(tmp_path):
    """GA's visitStartTime is seconds since 1970: the derived time must not move when a user sets
    source.timezone (for, say, other wall-time columns of the export)."""
    from winback.datasets import generate_ga_sessions

    path = generate_ga_sessions(tmp_path / "ga.parquet", visitors=50, seed=2)
    utc = load_events(config_from_dict({"source": {"path": str(path), "layout": "ga_sessions"}}))
    berlin = load_events(config_from_dict({"source": {"path": str(path), "layout": "ga_sessions",
                                                      "timezone": "Europe/Berlin"}}))
    assert utc.start == berlin.start and utc.end == berlin.end


@pytest.mark.parametrize("header, want", [
    (["Order Number", "Order Date", "Customer User", "Order Total"],  # WooCommerce
     {"customer_id": "Customer User", "event_time": "Order Date", "order_id": "Order Number", "amount": "Order Total"}),
    (["Kundennummer", "Bestelldatum", "Umsatz", "Menge", "Artikelnummer"],  # a German shop system
     {"customer_id": "Kundennummer", "event_time": "Bestelldatum", "amount": "Umsatz", "quantity": "Menge",
      "product_id": "Artikelnummer"}),
    (["id_cliente", "fecha_pedido", "importe", "cantidad"],
     {"customer_id": "id_cliente", "event_time": "fecha_pedido", "amount": "importe", "quantity": "cantidad"}),
    (["event", "properties.time", "properties.distinct_id", "properties.amount"],  # Mixpanel
     {"customer_id": "properties.distinct_id", "event_time": "properties.time", "event_type": "event",
      "amount": "properties.amount"}),
    (["type", "event", "userId", "timestamp", "properties.revenue"],  # Segment: type is track | page
     {"customer_id": "userId", "event_time": "timestamp", "event_type": "event", "amount": "properties.revenue"}),
    (["client", "date", "montant", "quantité", "commande"],
     {"customer_id": "client", "event_time": "date", "amount": "montant", "quantity": "quantité", "order_id": "commande"}),
    # an item count is a quantity, not a product; a customer's type (new / returning) is no event type
    (["Order #", "Date", "Customer ID", "Customer type", "Item Count", "Net Sales"],
     {"customer_id": "Customer ID", "event_time": "Date", "quantity": "Item Count", "amount": "Net Sales"}),
    # a shipping, tax or discount amount is not what the order was worth
    (["Order Number", "Order Date", "Customer User ID", "Order Shipping Amount", "Order Tax Amount",
      "Discount Amount", "Order Total Amount"],
     {"order_id": "Order Number", "event_time": "Order Date", "customer_id": "Customer User ID",
      "amount": "Order Total Amount"}),
    # a German log's 'ereignis' (event) column is its event type; it was left unread, so
    # every view counted as a purchase (and 'Événement', 'Gebeurtenis')
    (["kunde", "zeitpunkt", "ereignis", "betrag"],
     {"customer_id": "kunde", "event_time": "zeitpunkt", "event_type": "ereignis", "amount": "betrag"}),
    (["client", "date", "Événement", "montant"],
     {"customer_id": "client", "event_time": "date", "event_type": "Événement", "amount": "montant"}),
    (["klant", "tijdstip", "gebeurtenis", "bedrag"],
     {"customer_id": "klant", "event_type": "gebeurtenis", "amount": "bedrag"}),
    # a unit price beside a quantity is the price (amount = price x quantity), where it was
    # mapped as the amount and a line of 3 units counted one; without a quantity it is the amount
    (["order_id", "customer_email", "order_date", "sku", "qty", "unit_price"],
     {"customer_id": "customer_email", "event_time": "order_date", "product_id": "sku", "quantity": "qty",
      "price": "unit_price"}),
    (["order_id", "customer_email", "order_date", "unit_price"],
     {"customer_id": "customer_email", "event_time": "order_date", "amount": "unit_price"}),
    (["order_id", "customer_email", "order_date", "qty", "unit_price", "line_total"],
     {"customer_id": "customer_email", "event_time": "order_date", "quantity": "qty", "amount": "line_total"}),
    # 'Coffee' holds the letters of 'fee', 'Private' those of 'vat': sales still
    (["Customer", "Date", "Private Sales", "Coffee Sales"],
     {"customer_id": "Customer", "event_time": "Date", "amount": "Private Sales"}),
    # 'Account' holds the letters of 'count': it is an id still
    (["Account ID", "Created", "Revenue", "ItemCount"],
     {"customer_id": "Account ID", "event_time": "Created", "amount": "Revenue"}),
    # Etsy's sold orders: the order's type (online / in person) is no event type
    (["Sale Date", "Order ID", "Buyer User ID", "Number of Items", "Currency", "Order Value", "Order Type",
      "Payment Type"],
     {"customer_id": "Buyer User ID", "event_time": "Sale Date", "order_id": "Order ID",
      "quantity": "Number of Items", "amount": "Order Value"}),
    # Magento's sales_order: the order number is increment_id, not order_currency_code; the
    # amount the one in the base currency
    (["entity_id", "increment_id", "customer_email", "created_at", "order_currency_code", "grand_total",
      "base_grand_total"],
     {"order_id": "increment_id", "customer_id": "customer_email", "event_time": "created_at",
      "amount": "base_grand_total"}),
    # BigCommerce writes each total with and without tax: the amount is one (before tax), and
    # a total quantity is no amount
    (["Order ID", "Customer ID", "Customer Email", "Order Date", "Subtotal (inc tax)", "Subtotal (ex tax)",
      "Tax Total", "Shipping Cost (inc tax)", "Order Total (inc tax)", "Order Total (ex tax)", "Total Quantity"],
     {"order_id": "Order ID", "customer_id": "Customer ID", "event_time": "Order Date",
      "amount": "Subtotal (ex tax)", "quantity": "Total Quantity"}),
    (["Receipt No", "Buyer Email", "Date", "Total Quantity", "Total incl. VAT"],
     {"customer_id": "Buyer Email", "event_time": "Date", "amount": "Total incl. VAT", "quantity": "Total Quantity"}),
])
def test_init_maps_shop_headers_by_name(tmp_path, header, want):
    from winback.scaffold import guess_columns

    pd.DataFrame([["1"] * len(header)], columns=header).to_csv(tmp_path / "export.csv", index=False)
    columns, _ = guess_columns("export.csv", tmp_path)
    assert {k: v for k, v in columns.items() if k in want} == want
    assert "Item Count" not in (columns.get("product_id"), columns.get("order_id"))
    assert columns.get("event_type") not in ("Customer type", "Order Type", "Payment Type")


@pytest.mark.parametrize("status, kind", [
    ("Completed", "purchase"), ("Processing", "purchase"), ("paid", "purchase"), ("succeeded", "purchase"),
    ("partially_refunded", "purchase"), ("Teilweise erstattet", "purchase"), ("In Bearbeitung", "purchase"),
    ("Payée", "purchase"), ("Refunded", "return"), ("Rückerstattet", "return"), ("Remboursée", "return"),
    ("Pending payment", "other"), ("On hold", "other"), ("Cancelled", "other"), ("Failed", "other"),
    ("voided", "other"), ("Unpaid", "other"), ("Incomplete", "other"), ("Storniert", "other"),
    ("Zahlung ausstehend", "other"), ("checkout-draft", "other"), ("New", None),
    # PrestaShop, BigCommerce, Magento, Stripe
    ("Payment accepted", "purchase"), ("Payment error", "other"), ("Awaiting check payment", "other"),
    ("On backorder (not paid)", "other"), ("On backorder (paid)", "purchase"), ("Awaiting Payment", "other"),
    ("Awaiting Fulfillment", "purchase"), ("Awaiting Shipment", "purchase"), ("Disputed", "other"),
    ("closed", "return"), ("holded", "other"), ("payment_review", None), ("Uncaptured", "other"),
    ("Terminée", "purchase"), ("Terminated", None), ("Suspended", "other"),
    # Olist (Brazil) and Mercado Pago: approved and invoiced orders are paid
    ("approved", "purchase"), ("invoiced", "purchase"), ("Aprovado", "purchase"), ("Faturado", "purchase"),
    ("Entregue", "purchase"), ("Not approved", "other"), ("Reprovado", "other"), ("Desaprobado", "other"),
    ("unavailable", None), ("created", None),
])
def test_order_statuses_read_as_sales_refunds_or_no_sale(status, kind):
    """A failed, pending or cancelled order is no sale, and its words are tested before those of
    paid ones ('Pending payment' holds 'pay', 'Unpaid' holds 'paid'); a partial refund is
    still the order it was."""
    from winback.data.layouts import order_status_kind

    assert order_status_kind(status) == kind


@pytest.mark.parametrize("column, status", [
    ("Order Status", True), ("Financial Status", True), ("payment_status", True), ("Statut", True),
    ("Bestellstatus", True), ("State", True), ("Fulfillment Status", False), ("Billing State", False),
    ("Customer Status", False), ("Shipping Province", False), ("Estado/Provincia de facturación", False),
])
def test_status_columns_are_told_by_name(column, status):
    from winback.data.layouts import is_status_column

    assert is_status_column(column) is status


def test_init_reads_the_status_beside_a_coarser_state(tmp_path):
    """Magento writes 'state' and 'status'; the status is read, and a column of US states named
    'State' is none."""
    from winback.scaffold import guess_columns

    pd.DataFrame({"increment_id": ["1", "2", "3"], "customer_id": ["a", "b", "a"],
                  "created_at": ["2024-01-01", "2024-01-02", "2024-01-03"],
                  "state": ["complete", "processing", "canceled"], "status": ["complete", "shipped", "canceled"],
                  "base_grand_total": [1.0, 2.0, 3.0]}).to_csv(tmp_path / "sales_order.csv", index=False)
    assert guess_columns("sales_order.csv", tmp_path)[0]["event_type"] == "status"
    pd.DataFrame({"customer_id": ["a", "b"], "created_at": ["2024-01-01", "2024-01-02"], "State": ["CA", "NY"]}
                 ).to_csv(tmp_path / "us.csv", index=False)
    assert "event_type" not in guess_columns("us.csv", tmp_path)[0]


def test_a_column_of_us_states_is_no_order_status():
    from winback.data.layouts import order_statuses

    assert order_statuses({"CA": 5, "NY": 2, "TX": 1}) == ({}, [])
    # a refunded order is the sale it was when placed: the row dates the order, not the refund
    assert order_statuses({"Completed": 5, "Failed": 2, "Refunded": 1, "purchase": 3}) == (
        {"Completed": "purchase", "Refunded": "purchase"}, ["Failed"])


SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Cancelled at,Id,Lineitem discount,"
    "Refunded Amount\n"
    "#1001,ann@x.com,paid,2024-01-05 10:00:00 +0100,fulfilled,EUR,45.00,50.00,2024-01-05 10:00:00 +0100,"
    "2,Mug,20.00,MUG-1,,11,5.00,0.00\n"
    "#1001,ann@x.com,,,,,,,,1,Card,10.00,,,,0,\n"  # the order's second line: its fields left blank
    "#1002,bob@x.com,refunded,2024-02-01 09:00:00 +0100,fulfilled,EUR,30.00,35.00,2024-02-01 09:00:00 +0100,"
    "1,Bowl,30.00,BOWL-1,,12,0,35.00\n"
    "#1003,ann@x.com,voided,,unfulfilled,EUR,20.00,25.00,2024-03-01 12:00:00 +0100,1,Mug,20.00,MUG-1,"
    "2024-03-01 13:00:00 +0100,13,0,0.00\n"
    "#1004,cy@x.com,pending,,unfulfilled,EUR,20.00,25.00,2024-07-01 12:00:00 +0200,1,Mug,20.00,MUG-1,,14,0,0.00\n"
    "#1005,,paid,2024-07-02 12:00:00 +0200,fulfilled,EUR,5.00,5.00,2024-07-02 12:00:00 +0200,1,Pin,5.00,PIN,,15,0,"
    "0.00\n"
    # 10.00 of a 50.00 order refunded: each line keeps four fifths of its amount
    "#1006,dee@x.com,partially_refunded,2024-08-01 12:00:00 +0200,fulfilled,EUR,50.00,50.00,"
    "2024-08-01 12:00:00 +0200,2,Mug,20.00,MUG-1,,16,0,10.00\n"
    "#1006,,,,,,,,,1,Pin,10.00,PIN,,,0,\n"
    # refunded by cancelling the order nine days later (shipping too): a sale, then its refund
    "#1007,eve@x.com,refunded,2024-09-01 12:00:00 +0200,fulfilled,EUR,30.00,35.00,2024-09-01 12:00:00 +0200,"
    "1,Mug,20.00,MUG-1,2024-09-10 09:00:00 +0200,17,0,35.00\n"
    "#1007,,,,,,,,,1,Pin,10.00,PIN,,,0,\n")
SHOPIFY_EVENTS = [  # customer, UTC time, type, order, product, amount (quantity x price - discount)
    ("ann@x.com", "2024-01-05 09:00", "purchase", "#1001", "Card", 10.0),
    ("ann@x.com", "2024-01-05 09:00", "purchase", "#1001", "MUG-1", 35.0),
    # refunded, but the export gives no date for it: the sale it was
    ("bob@x.com", "2024-02-01 08:00", "purchase", "#1002", "BOWL-1", 30.0),
    ("ann@x.com", "2024-03-01 11:00", "cancelled", "#1003", "MUG-1", 20.0),
    ("cy@x.com", "2024-07-01 10:00", "pending", "#1004", "MUG-1", 20.0),
    ("dee@x.com", "2024-08-01 10:00", "purchase", "#1006", "MUG-1", 40.0),
    ("dee@x.com", "2024-08-01 10:00", "purchase", "#1006", "PIN", 10.0),
    ("eve@x.com", "2024-09-01 10:00", "purchase", "#1007", "MUG-1", 20.0),
    ("eve@x.com", "2024-09-01 10:00", "purchase", "#1007", "PIN", 10.0),
    ("eve@x.com", "2024-09-10 07:00", "return", "#1007", "MUG-1", 20.0),
    ("eve@x.com", "2024-09-10 07:00", "return", "#1007", "PIN", 10.0),
]


def shopify_events(events: pd.DataFrame) -> list:
    events = events.sort_values(["event_time", "product_id"], key=lambda c: c.astype(str))
    return [(c, f"{pd.Timestamp(t):%Y-%m-%d %H:%M}", k, o, p, a) for c, t, k, o, p, a in zip(
        events.customer_id, events.event_time, events.event_type, events.order_id, events.product_id,
        events.amount)]


def test_shopify_orders_export_reads_line_items_with_their_orders_fields(tmp_path):
    """Shopify writes an order's status, email and time on its first line only: every line item
    takes them from its order, so a two-line paid order is two purchases of one order (each
    line's amount net of its discount). A refunded order was a sale when placed: its refund is
    a return of each line's share on the day the order was cancelled, and a refund the export
    gives no date (no Cancelled at) is not read, and said so. A voided (cancelled) or pending
    order is no sale; a line without a SKU is its product's name, and a point-of-sale order
    without an email is dropped."""
    (tmp_path / "orders_export.csv").write_text(SHOPIFY)
    cfg = config_from_dict({"source": {"path": str(tmp_path / "orders_export.csv"), "layout": "shopify",
                                       "drop_missing_customers": True}})
    log = load_events(cfg)
    assert shopify_events(log.table.execute()) == SHOPIFY_EVENTS
    assert log.summary["dropped_without_customer"] == 1
    note = log.summary["layout_note"]
    assert note.startswith("2 of the 3 refunded orders have no refund date") and "stripe layout" in note
    # features at a cutoff between the sale and its refund see the sale and not the refund
    history = log.table.filter(log.table.event_time < pd.Timestamp("2024-09-05")).execute()
    eve = history[history.customer_id == "eve@x.com"]
    assert list(eve.event_type) == ["purchase", "purchase"]


def test_shopify_partial_refund_dated_by_cancellation_takes_each_lines_share(tmp_path):
    """A partial refund of a cancelled order (10.00 of a 50.00 order) is a return of each
    line's share of it, on the cancellation's day; an order cancelled once paid with nothing
    refunded is the sale it was; the export without Cancelled at or
    Refunded Amount reads every paid order as the sale it was."""
    (tmp_path / "orders_export.csv").write_text(
        "Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,Cancelled at,"
        "Refunded Amount\n"
        "#1,dee@x.com,partially_refunded,2024-08-01 12:00:00 +0000,2,Mug,20.00,2024-08-03 12:00:00 +0000,10.00\n"
        "#1,,,,1,Pin,10.00,,\n"
        # cancelled once paid, and nothing refunded: the sale stands
        "#2,dee@x.com,paid,2024-08-05 12:00:00 +0000,1,Cup,5.00,2024-08-06 12:00:00 +0000,0.00\n")
    cfg = config_from_dict({"source": {"path": str(tmp_path / "orders_export.csv"), "layout": "shopify"}})
    log = load_events(cfg)
    assert shopify_events(log.table.execute()) == [
        ("dee@x.com", "2024-08-01 12:00", "purchase", "#1", "Mug", 40.0),
        ("dee@x.com", "2024-08-01 12:00", "purchase", "#1", "Pin", 10.0),
        ("dee@x.com", "2024-08-03 12:00", "return", "#1", "Mug", 8.0),
        ("dee@x.com", "2024-08-03 12:00", "return", "#1", "Pin", 2.0),
        ("dee@x.com", "2024-08-05 12:00", "purchase", "#2", "Cup", 5.0),
    ]
    assert log.summary["layout_note"] == ""
    # the same item on two lines of one order: two lines as written, no repeat of each other
    (tmp_path / "twice.csv").write_text(
        "Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem name,Lineitem price\n"
        "#1,dee@x.com,paid,2024-08-01 12:00:00 +0000,1,Mug,20.00\n#1,,,,1,Mug,20.00\n")
    twice = load_events(config_from_dict({"source": {"path": str(tmp_path / "twice.csv"), "layout": "shopify"}}))
    assert list(twice.table.execute().amount) == [20.0, 20.0] and twice.summary["duplicate_rows"] == 0
    # a cancellation time that is no time is named by the rows of the file whose refunds it dates
    text = (tmp_path / "orders_export.csv").read_text()
    (tmp_path / "orders_export.csv").write_text(text.replace("2024-08-03 12:00:00 +0000", "2024-08-33 12:00:00 +0000"))
    with pytest.raises(DataError, match=r"column 'Created at or Cancelled at \(order\)' are not timestamps\. "
                                        r"First rows: row 1: .*='2024-08-33 12:00:00 \+0000'; row 2: "):
        load_events(cfg)
    (tmp_path / "bare.csv").write_text(
        "Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem price\n"
        "#1,dee@x.com,refunded,2024-08-01 12:00:00 +0000,2,20.00\n")
    cfg = config_from_dict({"source": {"path": str(tmp_path / "bare.csv"), "layout": "shopify"}})
    log = load_events(cfg)
    events = log.table.execute()
    assert list(events.event_type) == ["purchase"] and list(events.amount) == [40.0]
    assert log.summary["layout_note"].startswith("1 of the 1 refunded orders has no refund date")


PAYPAL_HEADER = ('"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
                 '"From Email Address","To Email Address","Transaction ID","Item Title","Balance Impact"')
PAYPAL = PAYPAL_HEADER + "\n" + "\n".join([
    '"01/05/2024","10:00:00","PST","Ann Lee","Express Checkout Payment","Completed","USD","1,250.00","-36.55",'
    '"1,213.45","Ann@x.com","shop@me.com","1A","Lamp","Credit"',
    '"01/08/2024","09:30:00","PST","Ann Lee","Payment Refund","Completed","USD","-50.00","1.45","-48.55",'
    '"shop@me.com","ann@x.com","2B","","Debit"',
    '"03/01/2024","12:00:00","PST","Bob Roe","Website Payment","Pending","USD","20.00","-0.88","19.12",'
    '"bob@x.com","shop@me.com","3C","Mug","Credit"',
    '"07/01/2024","08:15:00","PDT","Bob Roe","Website Payment","Completed","USD","20.00","-0.88","19.12",'
    '"bob@x.com","shop@me.com","4D","Mug","Credit"',
    '"07/02/2024","11:00:00","PDT","","General Withdrawal","Completed","USD","-1,000.00","0.00","-1,000.00",'
    '"shop@me.com","","5E","","Debit"',
    '"07/03/2024","11:00:00","PDT","Box Co","Express Checkout Payment","Completed","USD","-80.00","0.00",'
    '"-80.00","shop@me.com","sales@boxco.com","6F","Boxes","Debit"',  # the shop buying boxes
    '"07/04/2024","13:00:00","PDT","Cy Doe","General Authorization","Pending","USD","30.00","0.00","30.00",'
    '"cy@x.com","shop@me.com","7G","","Memo"',
    '"07/05/2024","14:00:00","PDT","","Hold on Balance for Dispute Investigation","Completed","USD","-20.00",'
    '"0.00","-20.00","shop@me.com","","8H","","Debit"',
    '"07/06/2024","10:00:00","PDT","Dee Fox","Subscription Payment","Completed","USD","9.99","-0.59","9.40",'
    '"dee@x.com","shop@me.com","9I","Club","Credit"',
    '"07/07/2024","10:00:00","PDT","Box Co","Payment Refund","Completed","USD","80.00","0.00","80.00",'
    '"sales@boxco.com","shop@me.com","10J","","Credit"',  # the supplier refunding the shop
]) + "\n"
PAYPAL_EVENTS = [  # customer, UTC time, type, order, amount
    ("ann@x.com", "2024-01-05 18:00", "purchase", "1A", 1250.0),
    ("ann@x.com", "2024-01-08 17:30", "return", "2B", -50.0),
    ("bob@x.com", "2024-03-01 20:00", "pending", "3C", 20.0),
    ("bob@x.com", "2024-07-01 15:15", "purchase", "4D", 20.0),
    ("dee@x.com", "2024-07-06 17:00", "purchase", "9I", 9.99),
]


def payment_events(events: pd.DataFrame) -> list:
    events = events.sort_values("event_time")
    return [(c, f"{pd.Timestamp(t):%Y-%m-%d %H:%M}", k, o, a) for c, t, k, o, a in zip(
        events.customer_id, events.event_time, events.event_type, events.order_id, events.amount)]


def test_paypal_activity_download_reads_customers_payments_and_refunds(tmp_path):
    """PayPal's activity download holds every movement of the account: a completed payment in
    is a purchase of its payer (its e-mail in lower case), a refund out a return of its payee
    (the From Email Address of a refund is the shop's own), a pending payment an event of its
    payer and no sale; withdrawals, holds, authorisations and the shop's own payments to a
    supplier belong to no customer and are dropped. Each row is read in its TimeZone (PST,
    PDT), and its hour features on that clock."""
    (tmp_path / "Download.CSV").write_text(PAYPAL)
    cfg = config_from_dict({"source": {"path": str(tmp_path / "Download.CSV"), "layout": "paypal",
                                       "drop_missing_customers": True, "thousands": ",",
                                       "timezone_column": "TimeZone", "timezone": "America/Los_Angeles"}})
    log = load_events(cfg)
    events = log.table.execute()
    assert payment_events(events) == PAYPAL_EVENTS
    assert log.summary["dropped_without_customer"] == 5
    assert sorted(pd.to_datetime(events.local_time).dt.hour) == [8, 9, 10, 10, 12]


STRIPE_HEADER = ("ID,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Converted Amount,"
                 "Converted Amount Refunded,Converted Currency,Decline Reason,Description,Fee,Refunded date (UTC),"
                 "Status,Customer ID,Customer Description,Customer Email,Invoice ID,Disputed Amount,"
                 "Dispute Status,Dispute Date (UTC)")
STRIPE = STRIPE_HEADER + "\n" + "\n".join([
    # paid in euros: spend is what reached the account, in dollars
    'ch_1,2024-01-05 10:00:00,"1,150.00",0.00,eur,true,"1,250.00",0.00,usd,,Lamp,36.55,,Paid,cus_A,,Ann@X.com,,,,',
    # refunded in part ten days later: the payment, and a return of 20 dollars on the refund's day
    "ch_2,2024-02-01 09:00:00,60.00,20.00,usd,true,60.00,20.00,usd,,Mug,2.04,2024-02-11 12:00:00,Paid,cus_A,,ann@x.com,,,,",
    # a second Stripe customer of the same person (Checkout made a new one), refunded in full
    "ch_3,2024-03-01 08:00:00,30.00,30.00,usd,true,30.00,30.00,usd,,Cap,1.17,2024-03-02 08:00:00,Refunded,cus_B,,ann@x.com,,,,",
    "ch_4,2024-03-05 08:00:00,45.00,0.00,usd,false,45.00,0.00,usd,insufficient_funds,Cap,0.00,,Failed,cus_C,,bob@x.com,,,,",
    # authorised and never captured: no sale, and the authorisation's release no return
    "ch_5,2024-03-06 08:00:00,45.00,45.00,usd,false,45.00,45.00,usd,,Cap,0.00,2024-03-13 08:00:00,Refunded,cus_C,,"
    "bob@x.com,,,,",
    # a guest with an e-mail but no Stripe customer
    "ch_6,2024-04-01 18:30:00,12.50,0.00,usd,true,12.50,0.00,usd,,Pin,0.66,,Paid,,,Cy@x.com,,,,",
    # nobody: no customer, no e-mail
    "ch_7,2024-04-02 18:30:00,12.50,0.00,usd,true,12.50,0.00,usd,,Pin,0.66,,Paid,,,,,,,",
    # a dispute lost a month later: the money went back then
    "ch_8,2024-05-01 07:00:00,80.00,0.00,usd,true,80.00,0.00,usd,,Bag,2.62,,Paid,cus_D,,dee@x.com,,80.00,lost,2024-06-01 07:00:00",
    # a dispute won: the sale stands
    "ch_9,2024-05-02 07:00:00,70.00,0.00,usd,true,70.00,0.00,usd,,Bag,2.33,,Paid,cus_D,,dee@x.com,,70.00,won,2024-06-02 07:00:00",
]) + "\n"
STRIPE_EVENTS = [  # customer, UTC time, type, order, amount
    ("ann@x.com", "2024-01-05 10:00", "purchase", "ch_1", 1250.0),
    ("ann@x.com", "2024-02-01 09:00", "purchase", "ch_2", 60.0),
    ("ann@x.com", "2024-02-11 12:00", "return", "ch_2", -20.0),
    ("ann@x.com", "2024-03-01 08:00", "purchase", "ch_3", 30.0),
    ("ann@x.com", "2024-03-02 08:00", "return", "ch_3", -30.0),
    ("bob@x.com", "2024-03-05 08:00", "failed", "ch_4", 45.0),
    ("bob@x.com", "2024-03-06 08:00", "uncaptured", "ch_5", 45.0),
    ("cy@x.com", "2024-04-01 18:30", "purchase", "ch_6", 12.5),
    ("dee@x.com", "2024-05-01 07:00", "purchase", "ch_8", 80.0),
    ("dee@x.com", "2024-05-02 07:00", "purchase", "ch_9", 70.0),
    ("dee@x.com", "2024-06-01 07:00", "return", "ch_8", -80.0),
]


def test_stripe_payments_export_dates_refunds_and_disputes_when_they_happened(tmp_path):
    """Stripe's payments export writes, on a payment's row, what was later refunded of it and
    when, and whether a dispute was lost: a paid, captured payment is a purchase at its own
    time, of its Converted Amount (the account's currency), and its refund or lost dispute a
    return on that later date. Features at a cutoff in between see the purchase and not the
    refund. Failed and uncaptured payments are events of their customer and no sale; the
    customer is the e-mail in lower case (one person may have two Stripe customers), else the
    Stripe customer; a payment of neither is dropped."""
    (tmp_path / "unified_payments.csv").write_text(STRIPE)
    cfg = config_from_dict({"source": {"path": str(tmp_path / "unified_payments.csv"), "layout": "stripe",
                                       "drop_missing_customers": True, "thousands": ","}})
    log = load_events(cfg)
    events = log.table.execute()
    assert payment_events(events) == STRIPE_EVENTS
    assert log.summary["layout_note"] == ""  # every refund dated (an uncaptured one's release is none)
    assert log.summary["dropped_without_customer"] == 1
    assert log.summary["mixed_currencies"] == ""  # eur and usd payments, read in usd

    from winback.features import FeatureSpec, build_features

    spec = FeatureSpec(available=tuple(log.available), bgnbd=False)
    before_refund = build_features(log.table, dt.datetime(2024, 2, 5), spec).execute().set_index("customer_id")
    assert before_refund.loc["ann@x.com", ["n_orders", "n_returns", "spend"]].tolist() == [2, 0, 1310.0]
    after = build_features(log.table, dt.datetime(2024, 2, 12), spec).execute().set_index("customer_id")
    assert after.loc["ann@x.com", ["n_orders", "n_returns"]].tolist() == [2, 1]

    # an export without its customer columns filled: said with the column, each row once
    frame = pd.read_csv(io.StringIO(STRIPE), dtype=str)
    frame[["Customer ID", "Customer Email"]] = None
    frame.to_csv(tmp_path / "unified_payments.csv", index=False)
    with pytest.raises(DataError, match=r"no rows are left after dropping rows without a customer id "
                                        r"\(column 'Customer Email or ID \(Stripe\)' is empty in every row\)"):
        load_events(cfg)
    lenient = config_from_dict({"source": {"path": str(tmp_path / "unified_payments.csv"), "layout": "stripe",
                                           "thousands": ","}})
    with pytest.raises(DataError, match=r"9 rows have no customer id .* First rows: row 1: [^;]*; "
                                        r"row 2: [^;]*; row 3: "):
        load_events(lenient)
    # a refund date that is no time is named by the row of the file that holds it
    (tmp_path / "unified_payments.csv").write_text(STRIPE.replace("2024-02-11 12:00:00", "11/02/2024 noon"))
    with pytest.raises(DataError, match=r"1 values in column 'Created, Refunded or Dispute date \(Stripe\)' "
                                        r"are not timestamps\. First rows: row 2: .*='11/02/2024 noon'"):
        load_events(cfg)
    # a payment exported twice is named by the file's rows, though the refunds before it made
    # rows of their own (it was named as row 6: of the payments and refunds the layout made)
    lines = STRIPE.splitlines()
    (tmp_path / "unified_payments.csv").write_text("\n".join([*lines[:5], lines[4], *lines[5:]]) + "\n")
    with pytest.raises(DataError, match=r"exact duplicates of another row \(row 4; row 5 repeats row 4\)"):
        load_events(cfg)


def test_stripe_older_export_without_refund_dates_keeps_each_payment(tmp_path):
    """An older export ('id', 'Created (UTC)', no refund date): a refunded payment is still the
    purchase it was, since the day of its refund is unknown; a source without the payment time
    under either name is refused with the names to export."""
    old = ("id,Created (UTC),Amount,Amount Refunded,Currency,Status,Customer ID,Customer Email\n"
           "ch_1,2019-08-20 10:20:30,10.00,10.00,usd,Refunded,cus_A,a@x.com\n"
           "ch_2,2019-09-20 10:20:30,15.00,0.00,eur,Paid,cus_A,a@x.com\n")
    (tmp_path / "payments.csv").write_text(old)
    cfg = config_from_dict({"source": {"path": str(tmp_path / "payments.csv"), "layout": "stripe"}})
    log = load_events(cfg)
    assert payment_events(log.table.execute()) == [
        ("a@x.com", "2019-08-20 10:20", "purchase", "ch_1", 10.0),
        ("a@x.com", "2019-09-20 10:20", "purchase", "ch_2", 15.0)]
    assert log.summary["layout_note"].startswith("1 of the 1 refunded payments has no refund date")
    # no converted amounts to read: dollars and euros are summed as one, and validate says so
    assert "come in 2 currencies by column 'Currency'" in log.summary["mixed_currencies"]
    (tmp_path / "payments.csv").write_text(old.replace("Created (UTC)", "Created"))
    with pytest.raises(DataError, match=r"'Created date \(UTC\)'"):
        load_events(cfg)


def ga4_rows() -> list[dict]:
    """A GA4 export's events of two visitors: a session with an item view, a cart add of two
    items and a purchase, recorded twice; a page view; a refund; a consent-mode ping with no
    visitor id."""
    def event(second, name, visitor, session, ecommerce=None, items=()):
        return {"event_date": "20240105", "event_timestamp": 1704448800_000000 + second * 1_000_000 + 123,
                "event_name": name, "user_pseudo_id": visitor, "user_id": None,
                "event_params": [{"key": "page_location", "value": {"string_value": "https://shop/p", "int_value": None}},
                                 {"key": "ga_session_id", "value": {"string_value": None, "int_value": session}}],
                "ecommerce": ecommerce or {"transaction_id": None, "purchase_revenue": None, "refund_value": None},
                "items": [{"item_id": i, "item_brand": b, "item_category": "Mugs"} for i, b in items]}

    return [event(0, "session_start", "111.1", 1704448800),
            event(5, "view_item", "111.1", 1704448800, items=[("SKU1", "Acme")]),
            event(9, "add_to_cart", "111.1", 1704448800, items=[("SKU1", "Acme"), ("SKU2", "Acme")]),
            event(30, "purchase", "111.1", 1704448800,
                  {"transaction_id": "T1", "purchase_revenue": 42.5, "refund_value": None},
                  items=[("SKU1", "Acme"), ("SKU2", "Acme")]),
            # the confirmation page reloaded: GA4 records the purchase again, one order still
            event(95, "purchase", "111.1", 1704448800,
                  {"transaction_id": "T1", "purchase_revenue": 42.5, "refund_value": None},
                  items=[("SKU1", "Acme"), ("SKU2", "Acme")]),
            event(3600, "page_view", "222.2", 1704452400),
            event(7200, "refund", "111.1", 1704456000, {"transaction_id": "T1", "purchase_revenue": None,
                                                         "refund_value": 42.5}),
            event(7300, "page_view", None, 1704456100),
            event(7400, "purchase", "222.2", 1704452400,  # GA4 recorded no transaction id
                  {"transaction_id": "(not set)", "purchase_revenue": 10.0, "refund_value": None})]


GA4_EVENTS = [  # customer, UTC time, type, session, order, product, brand, amount
    ("111.1", "2024-01-05 10:00:00", "session_start", "111.1-1704448800", None, None, None, None),
    ("111.1", "2024-01-05 10:00:05", "view", "111.1-1704448800", None, "SKU1", "Acme", None),
    ("111.1", "2024-01-05 10:00:09", "cart", "111.1-1704448800", None, None, None, None),
    ("111.1", "2024-01-05 10:00:30", "purchase", "111.1-1704448800", "T1", None, None, 42.5),
    ("222.2", "2024-01-05 11:00:00", "page_view", "222.2-1704452400", None, None, None, None),
    ("111.1", "2024-01-05 12:00:00", "return", "111.1-1704456000", "T1", None, None, 42.5),
    ("222.2", "2024-01-05 12:03:20", "purchase", "222.2-1704452400", "222.2@1704456200000123", None, None, 10.0),
]


def ga4_events(events: pd.DataFrame) -> list:
    events = events.sort_values("event_time")

    def value(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v

    return [tuple(value(v) for v in (c, f"{pd.Timestamp(t):%Y-%m-%d %H:%M:%S}", k, s, o, p, b, a))
            for c, t, k, s, o, p, b, a in zip(events.customer_id, events.event_time, events.event_type,
                                              events.session_id, events.order_id, events.product_id,
                                              events.brand, events.amount)]


def test_ga4_export_reads_as_json_lines_and_nested_parquet(tmp_path):
    """GA4's BigQuery export, as JSON lines (nested fields flattened) or Parquet (structs and
    lists as such): every event of its visitor (user_pseudo_id), GA4's e-commerce events as
    winback's types (page_view stays itself), the session from the ga_session_id parameter,
    revenue and transaction of purchases and refunds (a purchase without one, '(not set)', an
    order of its own; one recorded again under its transaction id, the one purchase), and the
    item of an event about one item; a ping without a visitor id is dropped."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = ga4_rows()
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "events.parquet")
    for name in ("events.jsonl", "events.parquet"):
        cfg = config_from_dict({"source": {"path": str(tmp_path / name), "layout": "ga4",
                                           "drop_missing_customers": True}})
        log = load_events(cfg)
        assert ga4_events(log.table.execute()) == GA4_EVENTS, name
        assert log.summary["dropped_without_customer"] == 1
        assert log.summary["layout_note"].startswith("1 of the 2 purchase events with a transaction id repeat one")
        assert {"session_id", "product_id", "brand", "category", "amount"} <= log.available


def test_ga4_errors_name_the_exports_rows_after_a_repeated_purchase(tmp_path):
    """The layout drops a purchase recorded again (row 5): rows after it are still named by
    their line in the export (they were named one line early), and a derived column by what
    it reads ('_ga4_revenue' was shown)."""
    import json

    rows = ga4_rows()
    rows.insert(7, dict(rows[6]))  # the refund of row 7, written again on row 8
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    cfg = config_from_dict({"source": {"path": str(path), "layout": "ga4", "drop_missing_customers": True}})
    with pytest.raises(DataError, match=r"1 rows are exact duplicates of another row \(row 7; row 8 repeats row 7\)"):
        load_events(cfg)
    rows[7]["event_timestamp"] = None
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"1 rows have no time in column 'event_timestamp'\. First rows: row 8: "
                                        r"event_timestamp=\(empty\), user_pseudo_id='111\.1', "
                                        r"ecommerce\.purchase_revenue or refund_value=42\.5\."):
        load_events(cfg)


def test_online_retail_ii_reads_with_the_online_retail_layout(tmp_path):
    """UCI's Online Retail II names three columns otherwise ('Invoice', 'Price', 'Customer ID')
    and, converted from its spreadsheet, writes ISO times: the layout reads it with
    time_format = "iso", cancellations as returns and float ids without the '.0'."""
    from winback.config import config_from_dict
    from winback.data import load_events

    (tmp_path / "online_retail_II.csv").write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,LIGHT,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n"
        "C489449,22087,PAPER,-12,2009-12-01 10:33:00,0.85,16321.0,Australia\n"
        "489435,22350,CAT,12,2010-12-01 07:46:00,2.55,13085.0,United Kingdom\n"
        "489436,22350,CAT,1,2010-12-05 07:46:00,2.55,,United Kingdom\n")
    cfg = config_from_dict({"source": {"path": str(tmp_path / "online_retail_II.csv"), "layout": "online_retail",
                                       "time_format": "iso", "drop_missing_customers": True}})
    events = load_events(cfg).table.execute().sort_values("event_time")
    assert events.customer_id.tolist() == ["13085", "16321", "13085"]
    assert events.event_type.tolist() == ["purchase", "return", "purchase"]
    assert events.amount.tolist() == pytest.approx([12 * 6.95, -12 * 0.85, 12 * 2.55])


@pytest.mark.parametrize("header, layout", [
    ("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session", "rees46"),
    ("customer_id,date,number_of_cds,dollar_value", "cdnow"),
    ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country", "online_retail"),
    ("Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country", "online_retail"),
    ("customer_id,date,amount", None),
    ("fullVisitorId,visitId,visitNumber,visitStartTime,date,totals.visits,totals.transactions,"
     "totals.transactionRevenue,device.deviceCategory", "ga_sessions"),
    (SHOPIFY.splitlines()[0], "shopify"),
    (PAYPAL_HEADER.replace('"', ""), "paypal"),
    (STRIPE_HEADER, "stripe"),
    ("id,Created (UTC),Amount,Amount Refunded,Currency,Status,Customer ID,Customer Email", "stripe"),
    ("event_date,event_timestamp,event_name,event_params,user_pseudo_id,user_id,ecommerce,items", "ga4"),
])
def test_init_recognises_a_ready_layout_by_its_columns(tmp_path, header, layout):
    from winback.data.layouts import detect_layout
    from winback.scaffold import guess_layout

    assert detect_layout(header.split(",")) == layout
    (tmp_path / "export.csv").write_text(header + "\n")
    name, note = guess_layout("export.csv", tmp_path)
    assert name == (layout or "events") and (f"Recognised the {layout} layout" in note if layout else note == "")
