"""[[source.lookups]]: columns events borrow by key from other tables (an order line's order,
an order's customer), checked so that no event is lost or counted twice."""

from __future__ import annotations

import pandas as pd
import pytest

from winback.cli import main
from winback.config import config_from_dict
from winback.data.canonical import load_events
from winback.errors import ConfigError, DataError

# Olist's shape: lines know their order; orders know a customer_id made anew for each order;
# customers map it to the person (customer_unique_id)
LINES = """order_id,order_item_id,product_id,price
o1,1,p1,10.00
o1,2,p2,5.50
o2,1,p1,20.00
o3,1,p3,7.25
o4,1,p2,3.00
"""
ORDERS = """order_id,customer_id,order_status,order_purchase_timestamp
o1,c1,delivered,2018-01-05 10:00:00
o2,c2,delivered,2018-03-01 12:30:00
o3,c3,canceled,2018-02-10 08:00:00
o4,c4,delivered,2018-04-20 18:45:00
"""
CUSTOMERS = """customer_id,customer_unique_id,customer_city
c1,ann,sao paulo
c2,ann,sao paulo
c3,bob,rio de janeiro
c4,cid,curitiba
"""
OLIST_EVENTS = [  # (person, time, type, amount, order)
    ("ann", "2018-01-05 10:00:00", "purchase", 5.5, "o1"),
    ("ann", "2018-01-05 10:00:00", "purchase", 10.0, "o1"),
    ("ann", "2018-03-01 12:30:00", "purchase", 20.0, "o2"),
    ("bob", "2018-02-10 08:00:00", "cancel", 7.25, "o3"),
    ("cid", "2018-04-20 18:45:00", "purchase", 3.0, "o4"),
]


def olist_source(folder) -> dict:
    return {"path": str(folder / "items.csv"), "layout": "events",
            "columns": {"customer_id": "customer_unique_id", "event_time": "order_purchase_timestamp",
                        "amount": "price", "order_id": "order_id", "product_id": "product_id",
                        "event_type": "order_status"},
            "event_types": {"delivered": "purchase", "canceled": "cancel"},
            "lookups": [{"path": str(folder / "orders.csv"), "key": "order_id"},
                        {"path": str(folder / "customers.csv"), "key": "customer_id",
                         "columns": ["customer_unique_id"]}]}


@pytest.fixture
def olist(tmp_path):
    (tmp_path / "items.csv").write_text(LINES)
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    return tmp_path


def events_of(table: pd.DataFrame) -> list:
    rows = table.sort_values(["customer_id", "event_time", "amount"])
    return [(r.customer_id, f"{r.event_time:%Y-%m-%d %H:%M:%S}", r.event_type, round(float(r.amount), 2), r.order_id)
            for r in rows.itertuples()]


def load(source: dict):
    return load_events(config_from_dict({"source": source}))


def test_order_lines_borrow_their_order_and_the_person_behind_it(olist):
    log = load(olist_source(olist))
    assert events_of(log.table.execute()) == OLIST_EVENTS
    # Olist's customer_id is new with each order: the person's two orders are one customer's
    assert log.summary["customers"] == 3
    assert log.summary["lookup_note"] == ""
    assert "orders.csv on order_id" in log.source_name and "customers.csv on customer_id" in log.source_name


def test_keys_of_other_types_and_stray_spaces_still_match(tmp_path):
    """Integer ids in Parquet find their rows in a CSV lookup that writes them as text (a float
    column's '3.0' included)."""
    pd.DataFrame({"order": [1, 2, 3], "total": [10.0, 20.0, 30.0]}).to_parquet(tmp_path / "lines.parquet")
    (tmp_path / "orders.csv").write_text("order,buyer,placed\n 1 ,a,2024-01-01\n2,b,2024-01-02\n3.0,a,2024-01-03\n")
    log = load({"path": str(tmp_path / "lines.parquet"), "layout": "events",
                "columns": {"customer_id": "buyer", "event_time": "placed", "amount": "total"},
                "lookups": [{"path": str(tmp_path / "orders.csv"), "key": "order"}]})
    t = log.table.execute().sort_values("amount")
    assert t.customer_id.tolist() == ["a", "b", "a"]
    # and float ids (pandas' int column with a gap) against integer ones
    pd.DataFrame({"order": [1.0, 2.0, None], "total": [1.0, 2.0, 3.0], "buyer": ["x", "y", "z"],
                  "placed": ["2024-01-01"] * 3}).to_parquet(tmp_path / "f.parquet")
    pd.DataFrame({"order": [1, 2], "channel": ["web", "app"]}).to_parquet(tmp_path / "o.parquet")
    log = load({"path": str(tmp_path / "f.parquet"), "layout": "events", "passthrough": ["channel"],
                "columns": {"customer_id": "buyer", "event_time": "placed", "amount": "total"},
                "lookups": [{"path": str(tmp_path / "o.parquet"), "key": "order"}]})
    t = log.table.execute().sort_values("amount")
    assert t.channel.tolist()[:2] == ["web", "app"] and pd.isna(t.channel.tolist()[2])
    assert log.summary["lookup_note"] == ""  # an event without a key is not unmatched


def test_a_key_written_twice_in_a_lookup_stops_the_read(olist):
    (olist / "customers.csv").write_text(CUSTOMERS + "c2,ann,sao paulo\nc2,ann,santos\nc4,cid,curitiba\n")
    with pytest.raises(DataError) as e:
        load(olist_source(olist))
    msg = str(e.value)
    assert "customers.csv" in msg and "2 values of 'customer_id' in more than one row" in msg
    assert "'c2' (3 rows)" in msg and "'c4' (2 rows)" in msg and "counted again" in msg


def test_events_that_find_no_row_are_counted_and_named_in_errors(olist):
    (olist / "customers.csv").write_text("\n".join(CUSTOMERS.splitlines()[:3]) + "\n")  # c3, c4 gone
    with pytest.raises(DataError) as e:
        load(olist_source(olist))
    msg = str(e.value)
    # the items file's rows 4 and 5 (o3, o4), and why they have no customer
    assert "2 rows have no customer id in column 'customer_unique_id'" in msg
    assert "row 4: customer_unique_id=(empty); row 5" in msg
    assert "2 of 5 events (40.0 %) find no row in customers.csv on customer_id" in msg
    log = load({**olist_source(olist), "drop_missing_customers": True})
    assert log.summary["rows"] == 3 and log.summary["dropped_without_customer"] == 2
    assert "2 of 5 events (40.0 %) find no row in customers.csv" in log.summary["lookup_note"]


def test_a_bad_value_from_a_lookup_names_the_sources_row(olist):
    (olist / "orders.csv").write_text(ORDERS.replace("2018-02-10 08:00:00", "10/02/2018 8h"))
    with pytest.raises(DataError) as e:
        load(olist_source(olist))
    msg = str(e.value)
    assert "1 values in column 'order_purchase_timestamp' are not timestamps" in msg
    assert "row 4: order_purchase_timestamp='10/02/2018 8h'" in msg and "with orders.csv on order_id" in msg


def test_column_names_that_clash_are_renamed_or_refused(olist):
    (olist / "orders.csv").write_text(ORDERS.replace("order_status", "product_id"))
    with pytest.raises(ConfigError) as e:
        load(olist_source(olist))
    assert "brings 'product_id', which the events already have" in str(e.value)
    assert 'rename = { "product_id" = "product_id_1" }' in str(e.value)
    source = olist_source(olist)
    source["lookups"][0]["rename"] = {"product_id": "order_status"}
    assert events_of(load(source).table.execute()) == OLIST_EVENTS


def test_lookup_settings_are_checked_before_reading(olist):
    source = olist_source(olist)
    source["lookups"][1]["key"] = "customer"
    with pytest.raises(ConfigError, match="the events have no column 'customer' to join on.*customer_id"):
        load(source)
    source["lookups"][1]["key"] = "customer_id"
    source["lookups"][1]["lookup_key"] = "cust"
    with pytest.raises(DataError, match="customers.csv' has no column 'cust'"):
        load(source)
    source["lookups"][1] = {"path": str(olist / "customers.csv"), "key": "customer_id", "columns": ["customer_cty"]}
    with pytest.raises(ConfigError, match="has no column 'customer_cty' to bring. Did you mean 'customer_city'"):
        load(source)
    for entry, words in (({"path": "c.csv"}, "has no key"), ({"key": "order_id"}, "names no data"),
                         ({"path": "c.csv", "key": "k", "encodng": "latin-1"}, "Unknown key 'encodng'")):
        with pytest.raises(ConfigError, match=words):
            config_from_dict({"source": {"path": "x.csv", "lookups": [entry]}})
    with pytest.raises(ConfigError, match="a postgres source joins tables of its own database"):
        config_from_dict({"source": {"backend": "postgres", "table": "events", "connection": {"url": "postgresql://x/y"},
                                     "lookups": [{"path": "c.csv", "key": "k"}]}})


def test_validate_and_train_read_a_normalised_shop(olist, tmp_path, capsys):
    """The CLI on Olist-shaped files: orders of 1,500 people over a year and a half, their lines in one file."""
    import numpy as np

    rng = np.random.default_rng(3)
    lines, orders, customers = [], [], []
    for person in range(1500):
        for k in range(1 + rng.poisson(1.2)):
            n = len(orders)
            when = pd.Timestamp("2017-01-01") + pd.Timedelta(days=int(rng.integers(0, 540)))
            orders.append((f"o{n}", f"c{n}", "delivered", f"{when:%Y-%m-%d} 12:00:00"))
            customers.append((f"c{n}", f"p{person}", "x"))
            lines += [(f"o{n}", j + 1, f"p{rng.integers(9)}", round(float(rng.gamma(2, 30)), 2))
                      for j in range(1 + rng.poisson(0.4))]
    pd.DataFrame(lines, columns=LINES.splitlines()[0].split(",")).to_csv(olist / "items.csv", index=False)
    pd.DataFrame(orders, columns=ORDERS.splitlines()[0].split(",")).to_csv(olist / "orders.csv", index=False)
    pd.DataFrame(customers, columns=CUSTOMERS.splitlines()[0].split(",")).to_csv(olist / "customers.csv", index=False)
    toml = f'''[source]
path = "items.csv"
layout = "events"
columns = {{ customer_id = "customer_unique_id", event_time = "order_purchase_timestamp", amount = "price", order_id = "order_id" }}

[[source.lookups]]
path = "orders.csv"
key = "order_id"

[[source.lookups]]
path = "customers.csv"
key = "customer_id"
columns = ["customer_unique_id"]

[problem]
horizon_days = 90

[train]
candidates = ["logistic", "bgnbd"]

[output]
dir = "{tmp_path / 'out'}"
'''
    (olist / "winback.toml").write_text(toml)
    assert main(["validate", "-c", str(olist / "winback.toml")]) == 0
    out = capsys.readouterr().out
    assert f"{len(lines):,} events of 1,500" in " ".join(out.split())  # rich wraps at a space
    assert main(["train", "-c", str(olist / "winback.toml"), "-q", "--no-track"]) == 0
    assert main(["score", "-c", str(olist / "winback.toml"), "--bundle", str(tmp_path / "out" / "bundle"),
                 "-o", str(tmp_path / "scores.csv"), "-q"]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv")
    buyers = {c for (_, c, _) in customers}
    assert set(scores.customer_id) == buyers and scores.probability.between(0, 1).all()


def test_init_recognises_olists_export_and_reads_its_statuses(tmp_path, monkeypatch, capsys):
    """`winback init --path <Olist's folder>` (or one of its files) writes the lookups to the
    orders and to the person behind each, and maps Olist's statuses: an approved or invoiced
    order is paid, a created or unavailable one no sale."""
    folder = tmp_path / "olist"
    folder.mkdir()
    statuses = ["delivered", "shipped", "invoiced", "approved", "processing", "created", "unavailable", "canceled"]
    orders = ["order_id,customer_id,order_status,order_purchase_timestamp"]
    items = ["order_id,order_item_id,product_id,seller_id,price,freight_value"]
    customers = ["customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state"]
    for n in range(120):
        orders.append(f"o{n},c{n},{statuses[n % len(statuses)]},2017-{1 + n % 12:02d}-{1 + n % 28:02d} 10:00:00")
        items.append(f"o{n},1,p{n % 7},s1,{10 + n % 9}.50,4.20")
        customers.append(f"c{n},person{n % 45},01001,sao paulo,SP")
    (folder / "olist_orders_dataset.csv").write_text("\n".join(orders) + "\n")
    (folder / "olist_order_items_dataset.csv").write_text("\n".join(items) + "\n")
    (folder / "olist_customers_dataset.csv").write_text("\n".join(customers) + "\n")
    (folder / "olist_products_dataset.csv").write_text("product_id\np1\n")
    monkeypatch.chdir(tmp_path)
    for path in ("olist", "olist/olist_orders_dataset.csv"):
        assert main(["init", "--path", path, "--force"]) == 0
        out = capsys.readouterr().out
        assert "Recognised Olist's export" in out
        text = (tmp_path / "winback.toml").read_text()
        assert 'path = "olist/olist_order_items_dataset.csv"' in text
        assert 'customer_id = "customer_unique_id"' in text and 'event_type = "order_status"' in text
        assert '[[source.lookups]]\npath = "olist/olist_orders_dataset.csv"\nkey = "order_id"' in text
        assert 'key = "customer_id"\ncolumns = ["customer_unique_id"]' in text
        for paid in ("delivered", "shipped", "invoiced", "approved", "processing"):
            assert f'"{paid}" = "purchase"' in text
        no_sale = text.split("never purchases):")[1].splitlines()[0]
        assert sorted(no_sale.replace(" ", "").split(",")) == ["canceled", "created", "unavailable"]
    assert main(["validate"]) == 0
    assert "120 events of 45 customers" in " ".join(capsys.readouterr().out.split())
    # not Olist: a folder without all three files, or another file of the folder
    (folder / "olist_customers_dataset.csv").unlink()
    assert main(["init", "--path", "olist/olist_orders_dataset.csv", "--force"]) == 0
    assert "Recognised Olist's export" not in capsys.readouterr().out


def test_files_holding_whole_customers_join_their_lookups_file_by_file(olist):
    """With source.partitioned_by_customer each file is joined to the lookups as it is read,
    and the features stacked file by file equal those of one pass."""
    import datetime as dt

    from winback.features import FeatureSpec
    from winback.frame import features_of

    parts = olist / "lines"
    parts.mkdir()
    lines = pd.read_csv(olist / "items.csv")
    lines[lines.order_id != "o4"].to_parquet(parts / "part-0.parquet")  # ann's and bob's orders
    lines[lines.order_id == "o4"].to_parquet(parts / "part-1.parquet")  # cid's
    source = {**olist_source(olist), "path": str(parts)}
    whole = load(source)
    parted = load({**source, "partitioned_by_customer": True})
    assert len(parted.parts) == 2 and parted.fingerprint == whole.fingerprint
    spec = FeatureSpec(windows_days=(30, 90), available=tuple(sorted(whole.available)), bgnbd=False)
    when = dt.datetime(2018, 5, 1)
    want = features_of(whole, when, spec).sort_values("customer_id").reset_index(drop=True)
    got = features_of(parted, when, spec).sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)
    assert got.customer_id.tolist() == ["ann", "bob", "cid"] and got.spend.tolist() == [35.5, 0.0, 3.0]


def test_a_lookup_table_of_the_events_own_duckdb_file(olist):
    """Tables of one DuckDB file: a lookup that names a table and no path reads it from the
    file the events are a table of."""
    import duckdb

    db = olist / "shop.duckdb"
    with duckdb.connect(str(db)) as con:
        for name in ("items", "orders", "customers"):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{olist / (name + '.csv')}', all_varchar=true)")
    source = olist_source(olist)
    source.update(path=str(db), table="items")
    source["lookups"] = [{"table": "orders", "key": "order_id"},
                         {"table": "customers", "key": "customer_id", "columns": ["customer_unique_id"]}]
    log = load(source)
    assert events_of(log.table.execute()) == OLIST_EVENTS
    with pytest.raises(ConfigError, match="names a table but no file: set path to the DuckDB file"):
        config_from_dict({"source": {"path": "lines.csv", "lookups": [{"table": "orders", "key": "order_id"}]}})
