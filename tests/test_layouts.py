"""Ready-made layouts: REES46 event logs, CDNOW orders, UCI Online Retail invoices."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from winback.config import config_from_dict
from winback.data import load_events
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
         "UnitPrice": 2.55, "CustomerID": "17850"},
        {"InvoiceNo": "C536379", "StockCode": "D", "Quantity": -1, "InvoiceDate": "12/1/2010 9:41",
         "UnitPrice": 27.5, "CustomerID": "14527"},
        {"InvoiceNo": "536380", "StockCode": "22", "Quantity": 2, "InvoiceDate": "12/1/2010 9:45",
         "UnitPrice": 1.0, "CustomerID": None},
    ]
    cfg = config_from_dict({"source": {"path": str(write_csv(tmp_path, rows)), "layout": "online_retail",
                                       "drop_missing_customers": True}})
    log = load_events(cfg)
    got = log.table.order_by("event_time").execute()
    assert list(got.event_type) == ["purchase", "return"]
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
