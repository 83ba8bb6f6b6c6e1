"""What reading refunds, repeats and normalised tables right costs: the stripe and ga4
layouts' extra step, and lookups.

    python benchmarks/layouts.py --payments 1000000 --ga4-events 3000000 --order-lines 2000000 \
        --shopify-lines 1000000

The stripe layout makes a refund a row of its own on its own date, and the ga4 layout drops a
purchase GA4 recorded again under its transaction id. Both read the source once more than a
plain mapping. Writes, once (cached under benchmarks/.cache), a synthetic Stripe payments export
(5 % refunded, 6 % failed) and a synthetic GA4 export as nested Parquet (5 % purchases, 2 % of
them recorded twice). Then times `load_events` (every check of `winback validate` and the copy
every cutoff reads), each in a fresh process, for the layout against the same source without
its step: the `events` layout mapping Stripe's columns by name (which dates a refund as its
payment), and the ga4 layout with the step switched off (which counts a repeat's revenue again).
Olist-shaped CSV files (order lines; orders with a customer_id new with each; customers naming the
person) are read with two [[source.lookups]] against one file of the same lines joined beforehand.
A Shopify orders export (each order's fields on its first line only; refunds dated where the
order was cancelled) is read with the shopify layout against the same lines with every order's
fields on each line, mapped by name.
"""

from __future__ import annotations

import argparse

from _common import CACHE, print_table, run_child, write_result

from winback.scaffold import OLIST_COLUMNS  # the mapping `winback init` writes for Olist's export

LOAD = """
import time, dataclasses
from winback.config import config_from_dict
from winback.data.canonical import load_events
from winback.data.layouts import LAYOUTS
if {plain_ga4}:
    LAYOUTS["ga4"] = dataclasses.replace(LAYOUTS["ga4"], expand=None, expand_note=None)
t0 = time.perf_counter()
log = load_events(config_from_dict({{"source": {source}}}))
RESULT = {{"seconds": time.perf_counter() - t0, "events": log.summary["rows"],
          "purchases": log.summary["event_types"].get("purchase", 0),
          "returns": log.summary["event_types"].get("return", 0)}}
"""

STRIPE_COLUMNS = {"customer_id": "Customer ID", "event_time": "Created date (UTC)", "order_id": "id",
                  "amount": "Converted Amount", "event_type": "Status"}


def stripe_export(payments: int):
    """unified_payments.csv: payments of payments // 20 customers over 18 months."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"stripe_payments_{payments}.csv"
    if not path.exists():
        import duckdb

        duckdb.sql(f"""COPY (SELECT 'ch_' || i AS id,
            strftime(TIMESTAMP '2023-01-01' + to_seconds((i * 7919) % (540 * 86400)), '%Y-%m-%d %H:%M:%S')
                AS "Created date (UTC)",
            printf('%.2f', 5 + (i * 13) % 20000 / 100.0) AS "Amount",
            CASE WHEN i % 20 = 3 THEN printf('%.2f', 5 + (i * 13) % 20000 / 100.0) ELSE '0.00' END
                AS "Amount Refunded",
            'usd' AS "Currency", CASE WHEN i % 17 = 5 THEN 'false' ELSE 'true' END AS "Captured",
            printf('%.2f', 5 + (i * 13) % 20000 / 100.0) AS "Converted Amount",
            CASE WHEN i % 20 = 3 THEN printf('%.2f', 5 + (i * 13) % 20000 / 100.0) ELSE '0.00' END
                AS "Converted Amount Refunded",
            'usd' AS "Converted Currency", 'Payment for Invoice' AS "Description",
            CASE WHEN i % 20 = 3 THEN strftime(TIMESTAMP '2023-01-01' + to_seconds((i * 7919) % (540 * 86400)
                + 86400 * (1 + i % 30)), '%Y-%m-%d %H:%M:%S') END AS "Refunded date (UTC)",
            CASE WHEN i % 20 = 3 THEN 'Refunded' WHEN i % 17 = 5 THEN 'Failed' ELSE 'Paid' END AS "Status",
            'cus_' || (i % {max(payments // 20, 1)}) AS "Customer ID",
            'user' || (i % {max(payments // 20, 1)}) || '@mail.com' AS "Customer Email"
            FROM range({payments}) t(i)) TO '{path}' (HEADER)""")
    return path


def ga4_export(events: int):
    """events_*.parquet: GA4's nested export of events // 15 visitors over 180 days."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"ga4_events_{events}.parquet"
    if not path.exists():
        import duckdb

        visitors = max(events // 15, 1)
        duckdb.sql(f"""COPY (SELECT
            1704067200000000 + ((i * 7919) % (180 * 86400)) * 1000000 + (i % 1000) AS event_timestamp,
            CASE WHEN i % 20 = 0 OR i % 1000 = 1 THEN 'purchase' WHEN i % 5 = 1 THEN 'view_item'
                 WHEN i % 5 = 2 THEN 'add_to_cart' ELSE 'page_view' END AS event_name,
            ((CASE WHEN i % 1000 = 1 THEN i - 1 ELSE i END) % {visitors})::VARCHAR || '.1' AS user_pseudo_id,
            [{{'key': 'ga_session_id', 'value': {{'string_value': NULL::VARCHAR,
               'int_value': ((i * 7919) % (180 * 86400)) // 1800}}}}] AS event_params,
            {{'transaction_id': CASE WHEN i % 20 = 0 OR i % 1000 = 1
                                     THEN 'T' || (CASE WHEN i % 1000 = 1 THEN i - 1 ELSE i END) END,
              'purchase_revenue': CASE WHEN i % 20 = 0 OR i % 1000 = 1 THEN 10 + i % 90 END::DOUBLE,
              'refund_value': NULL::DOUBLE}} AS ecommerce,
            [{{'item_id': 'SKU' || (i % 500), 'item_brand': 'Acme', 'item_category': 'Mugs'}}] AS items
            FROM range({events}) t(i)) TO '{path}' (FORMAT parquet)""")
    return path


def olist_export(lines: int) -> dict[str, str]:
    """Olist's three CSV files for `lines` order lines (about 1.15 lines an order, 1.5 orders a
    person over two years), and the lines joined to both beforehand."""
    CACHE.mkdir(parents=True, exist_ok=True)
    names = ("items", "orders", "customers", "joined")
    paths = {n: CACHE / f"olist_{n}_{lines}.csv" for n in names}
    if not all(p.exists() for p in paths.values()):
        import duckdb

        orders = int(lines / 1.15)
        con = duckdb.connect()
        con.sql(f"""CREATE TABLE orders AS SELECT 'o' || i AS order_id, 'c' || i AS customer_id,
            CASE WHEN i % 50 = 7 THEN 'canceled' WHEN i % 90 = 1 THEN 'shipped' ELSE 'delivered' END AS order_status,
            strftime(TIMESTAMP '2017-01-01' + to_seconds((i * 7919) % (720 * 86400)), '%Y-%m-%d %H:%M:%S')
                AS order_purchase_timestamp FROM range({orders}) t(i)""")
        con.sql(f"""CREATE TABLE customers AS SELECT 'c' || i AS customer_id,
            'u' || ((i * 2654435761) % {max(int(orders / 1.5), 1)}) AS customer_unique_id,
            lpad(((i * 31) % 99999)::VARCHAR, 5, '0') AS customer_zip_code_prefix, 'sao paulo' AS customer_city,
            'SP' AS customer_state FROM range({orders}) t(i)""")
        con.sql(f"""CREATE TABLE items AS SELECT 'o' || CASE WHEN i < {orders} THEN i ELSE (i * 7) % {orders} END
                AS order_id, 1 + (i >= {orders})::INT AS order_item_id, 'p' || (i * 13) % 30000 AS product_id,
            's' || (i % 3000) AS seller_id, printf('%.2f', 5 + (i * 17) % 50000 / 100.0) AS price,
            printf('%.2f', (i * 7) % 3000 / 100.0) AS freight_value FROM range({lines}) t(i)""")
        for name in ("items", "orders", "customers"):
            con.sql(f"COPY {name} TO '{paths[name]}' (HEADER)")
        con.sql(f"""COPY (SELECT items.*, o.order_status, o.order_purchase_timestamp, c.customer_unique_id
            FROM items JOIN orders o USING (order_id) JOIN customers c ON o.customer_id = c.customer_id)
            TO '{paths["joined"]}' (HEADER)""")
    return {n: str(p) for n, p in paths.items()}


def shopify_export(lines: int) -> dict[str, str]:
    """orders_export.csv for about `lines` line items (1 to 3 an order, 3 orders a customer):
    85 % paid, 5 % refunded (half of them by cancelling the order, which dates the refund),
    3 % partially refunded, 4 % voided and 3 % pending, each order's own fields on its first
    line only, as Shopify writes them; and the same lines with those fields on every line."""
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = {n: CACHE / f"shopify_{n}_{lines}.csv" for n in ("orders", "filled")}
    if not all(p.exists() for p in paths.values()):
        import duckdb

        orders = max(lines // 2, 1)
        con = duckdb.connect()
        con.sql(f"""CREATE TABLE o AS SELECT i, '#' || (1000 + i) AS name,
            'c' || ((i * 2654435761) % {max(orders // 3, 1)}) || '@shop.test' AS email,
            CASE WHEN i % 100 < 85 THEN 'paid' WHEN i % 100 < 90 THEN 'refunded'
                 WHEN i % 100 < 93 THEN 'partially_refunded' WHEN i % 100 < 97 THEN 'voided'
                 ELSE 'pending' END AS status,
            TIMESTAMP '2023-01-01' + to_seconds((i * 7919) % (540 * 86400)) AS created
            FROM range({orders}) t(i)""")
        con.sql("""CREATE TABLE l AS SELECT o.*, j, printf('%.2f', 5 + ((i + j) * 13) % 8000 / 100.0) AS price,
            'SKU-' || ((i * 31 + j) % 500) AS sku,
            CASE WHEN status = 'voided' OR (status = 'refunded' AND i % 2 = 0)
                 THEN strftime(created + INTERVAL 5 DAY, '%Y-%m-%d %H:%M:%S +0000') ELSE '' END AS cancelled,
            CASE WHEN status = 'partially_refunded' THEN '10.00' ELSE '0.00' END AS refunded_amount
            FROM o, (SELECT unnest(range(3)) AS j) r WHERE j <= i % 3""")
        for name, first_only in (("orders", True), ("filled", False)):
            def field(expr: str) -> str:
                return f"CASE WHEN j = 0 THEN {expr} ELSE '' END" if first_only else expr
            con.sql(f"""COPY (SELECT name AS "Name", {field('email')} AS "Email",
                {field('status')} AS "Financial Status",
                {field("strftime(created, '%Y-%m-%d %H:%M:%S +0000')")} AS "Created at",
                1 + j AS "Lineitem quantity", 'Item ' || sku AS "Lineitem name", price AS "Lineitem price",
                sku AS "Lineitem sku", {field('cancelled')} AS "Cancelled at",
                {field('refunded_amount')} AS "Refunded Amount"
                FROM l ORDER BY i, j) TO '{paths[name]}' (HEADER)""")
    return {n: str(p) for n, p in paths.items()}


SHOPIFY_FILLED_COLUMNS = {"customer_id": "Email", "event_time": "Created at", "event_type": "Financial Status",
                          "order_id": "Name", "product_id": "Lineitem sku", "quantity": "Lineitem quantity",
                          "price": "Lineitem price"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--payments", type=int, default=1_000_000)
    ap.add_argument("--ga4-events", type=int, default=3_000_000)
    ap.add_argument("--order-lines", type=int, default=2_000_000)
    ap.add_argument("--shopify-lines", type=int, default=1_000_000)
    args = ap.parse_args()
    shopify = shopify_export(args.shopify_lines)
    stripe = str(stripe_export(args.payments))
    ga4 = str(ga4_export(args.ga4_events))
    olist = olist_export(args.order_lines)
    olist_types = {"delivered": "purchase", "shipped": "purchase"}
    runs = {
        "stripe": dict(source={"path": stripe, "layout": "stripe", "drop_missing_customers": True}),
        "stripe_as_events": dict(source={"path": stripe, "layout": "events", "drop_missing_customers": True,
                                         "columns": STRIPE_COLUMNS,
                                         "event_types": {"Paid": "purchase", "Refunded": "return"}}),
        "ga4": dict(source={"path": ga4, "layout": "ga4", "drop_missing_customers": True}),
        "ga4_without_step": dict(source={"path": ga4, "layout": "ga4", "drop_missing_customers": True},
                                 plain_ga4=True),
        "olist_lookups": dict(source={"path": olist["items"], "layout": "events", "columns": OLIST_COLUMNS,
                                      "event_types": olist_types,
                                      "lookups": [{"path": olist["orders"], "key": "order_id"},
                                                  {"path": olist["customers"], "key": "customer_id",
                                                   "columns": ["customer_unique_id"]}]}),
        "olist_joined_beforehand": dict(source={"path": olist["joined"], "layout": "events",
                                                "columns": OLIST_COLUMNS, "event_types": olist_types}),
        "shopify": dict(source={"path": shopify["orders"], "layout": "shopify", "drop_missing_customers": True}),
        "shopify_filled_as_events": dict(source={
            "path": shopify["filled"], "layout": "events", "columns": SHOPIFY_FILLED_COLUMNS,
            "event_types": {"paid": "purchase", "refunded": "purchase", "partially_refunded": "purchase"}}),
    }
    results = {name: run_child(LOAD.format(source=repr(r["source"]), plain_ga4=r.get("plain_ga4", False)))
               for name, r in runs.items()}
    print_table(["source, read as", "events", "purchases", "returns", "seconds", "peak RSS MB"], [
        [name, f"{r['events']:,}", f"{r['purchases']:,}", f"{r['returns']:,}", f"{r['seconds']:.1f}",
         f"{r['peak_rss_mb']:.0f}"] for name, r in results.items()])
    ratios = {"stripe": results["stripe"]["seconds"] / results["stripe_as_events"]["seconds"],
              "ga4": results["ga4"]["seconds"] / results["ga4_without_step"]["seconds"],
              "olist": results["olist_lookups"]["seconds"] / results["olist_joined_beforehand"]["seconds"],
              "shopify": results["shopify"]["seconds"] / results["shopify_filled_as_events"]["seconds"]}
    print(f"\nstripe layout / events mapping: {ratios['stripe']:.2f}x; ga4 with / without the repeat "
          f"step: {ratios['ga4']:.2f}x; olist with lookups / joined beforehand: {ratios['olist']:.2f}x; "
          f"shopify layout / fields filled beforehand: {ratios['shopify']:.2f}x")
    out = write_result("layouts", {"payments": args.payments, "ga4_events": args.ga4_events,
                                   "order_lines": args.order_lines, "shopify_lines": args.shopify_lines,
                                   "runs": results, "time_ratio": ratios})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
