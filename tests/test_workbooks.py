"""Spreadsheet workbooks as sources: typed cells, sheets, customer tables, clear errors."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from winback.cli import main
from winback.config import config_from_dict
from winback.data import load_events
from winback.errors import ConfigError, DataError

openpyxl = pytest.importorskip("openpyxl")


def write_workbook(path, sheets: dict[str, list[list]]) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)


ORDERS = [
    ["Order ID", "Customer ID", "Order Date", "Total", "Note", "", "Total"],
    [1001, 17850, dt.datetime(2024, 1, 5, 10, 30), 12.5, " gift ", "a", 1],
    [1002, 17851, dt.datetime(2024, 1, 6), 7, None, 5, 2],
    [1003, None, dt.datetime(2024, 2, 7, 23, 59, 59), 0.25, "ok", dt.datetime(2024, 1, 1), 3],
]


def test_a_sheet_reads_with_the_types_its_cells_have(tmp_path):
    """Number cells are numbers (whole ones integers: ids stay ids, not 17850.0), date cells
    timestamps, a column of mixed cells text as a CSV export writes it, trimmed; a blank header
    is column_<n> and a repeated one gets _1."""
    from winback.data.workbooks import sheet_frame

    write_workbook(tmp_path / "orders.xlsx", {"Orders": ORDERS})
    frame = sheet_frame(str(tmp_path / "orders.xlsx"), "Orders")
    assert list(frame.columns) == ["Order ID", "Customer ID", "Order Date", "Total", "Note", "column_6", "Total_1"]
    assert str(frame["Customer ID"].dtype) == "Int64" and frame["Customer ID"].tolist()[:2] == [17850, 17851]
    assert frame["Customer ID"].isna().tolist() == [False, False, True]
    assert frame["Order Date"].tolist() == [pd.Timestamp("2024-01-05 10:30"), pd.Timestamp("2024-01-06"),
                                            pd.Timestamp("2024-02-07 23:59:59")]
    assert frame["Total"].tolist() == [12.5, 7.0, 0.25]
    assert frame["Note"].tolist()[0] == "gift" and pd.isna(frame["Note"].tolist()[1])
    assert frame["column_6"].tolist() == ["a", "5", "2024-01-01"]


def test_an_order_workbook_trains_like_a_csv_export(tmp_path, capsys, monkeypatch):
    """init on a workbook with two sheets says which it reads, maps the German headers and
    statuses, and validate reads its date cells as times, without a time_format."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    n = 2500
    rows = [["Bestellnummer", "Kundennummer", "Bestelldatum", "Umsatz", "Status"]] + [
        [1000 + i, int(rng.integers(1, 400)),
         dt.datetime(2023, 1, 1) + dt.timedelta(minutes=int(rng.integers(0, 540 * 1440))),
         round(float(rng.uniform(5, 300)), 2), str(rng.choice(["Abgeschlossen", "Storniert"], p=[0.9, 0.1]))]
        for i in range(n)]
    write_workbook(tmp_path / "bestellungen.xlsx", {"Bestellungen": rows, "Notizen": [["Notiz"], ["x"]]})
    assert main(["init", "--path", "bestellungen.xlsx"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Read sheet 'Bestellungen' of 2 (Bestellungen, Notizen)" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('customer_id = "Kundennummer"', 'event_time = "Bestelldatum"', 'event_type = "Status"',
                 '"Abgeschlossen" = "purchase"'):
        assert line in lines, line
    assert not any(line.startswith("time_format") for line in lines)
    assert main(["validate"]) == 0
    sales = sum(r[4] == "Abgeschlossen" for r in rows[1:])
    assert f"{n:,} events of" in " ".join(capsys.readouterr().out.split())
    log = load_events(config_from_dict({"source": {
        "path": str(tmp_path / "bestellungen.xlsx"), "event_types": {"Abgeschlossen": "purchase"},
        "columns": {"customer_id": "Kundennummer", "event_time": "Bestelldatum", "event_type": "Status"}}}))
    assert log.summary["event_types"]["purchase"] == sales
    assert log.start == min(r[2] for r in rows[1:])


def test_sheets_are_named_and_checked(tmp_path):
    write_workbook(tmp_path / "shop.xlsx", {"Notes": [["text"], ["hello"]], "Orders": ORDERS})
    source = {"path": str(tmp_path / "shop.xlsx"), "columns": {"customer_id": "Customer ID",
                                                               "event_time": "Order Date", "amount": "Total"},
              "drop_missing_customers": True}
    log = load_events(config_from_dict({"source": {**source, "sheet": "Orders"}}))
    assert sorted(log.table.execute()["customer_id"]) == [17850, 17851]  # integer ids stay integers
    with pytest.raises(ConfigError, match=r"no sheet 'Order'.*'Orders'.*Its sheets: Notes, Orders"):
        load_events(config_from_dict({"source": {**source, "sheet": "Order"}}))
    with pytest.raises(DataError, match="no column 'Customer ID'"):  # the first sheet is read by default
        load_events(config_from_dict({"source": source}))


def test_a_damaged_workbook_or_one_on_spark_is_named(tmp_path):
    (tmp_path / "broken.xlsx").write_bytes(b"this is no zip archive")
    cfg = config_from_dict({"source": {"path": str(tmp_path / "broken.xlsx")}})
    with pytest.raises(DataError, match="Cannot read .* as a spreadsheet workbook.*save it again"):
        load_events(cfg)
    from winback.data.engines import engine_table

    cfg = config_from_dict({"source": {"path": str(tmp_path / "orders.xlsx"), "backend": "spark"}})
    with pytest.raises(ConfigError, match="spreadsheet workbook, which winback reads on DuckDB"):
        engine_table(None, cfg)


def test_a_customer_table_reads_from_a_workbook_sheet(tmp_path):
    """A CRM's customer list saved from Excel: the sheet is named in [[table.sources]]."""
    from winback.data.tables import LABEL, load_customer_table

    rows = [["Kunde", "Umsatz", "Plan", "Churn"]] + [[i, 10.0 * i, "basic" if i % 2 else "pro", "ja" if i % 3 else "nein"]
                                                     for i in range(1, 61)]
    write_workbook(tmp_path / "crm.xlsx", {"Info": [["about"]], "Kunden": rows})
    cfg = config_from_dict({"problem": {"name": "repeat_purchase"},
                            "table": {"key": "Kunde", "label": "Churn", "positive": ["ja"], "negative": ["nein"],
                                      "sources": [{"path": "crm.xlsx", "sheet": "Kunden"}]}},
                           base_dir=tmp_path)
    table = load_customer_table(cfg)
    assert len(table.frame) == 60 and "Umsatz" in table.numeric and "Plan" in table.categorical
    assert table.frame[LABEL].sum() == 40


def test_date_and_time_cells_in_two_columns_read_together(tmp_path):
    """A till's workbook: date cells in 'Datum', time cells in 'Uhrzeit' (source.time_of_day)."""
    rows = [["Kunde", "Datum", "Uhrzeit", "Betrag"],
            ["a", dt.datetime(2024, 1, 5), dt.time(14, 30), 10.0],
            ["b", dt.datetime(2024, 7, 1), dt.time(9, 5, 7), 20.0]]
    write_workbook(tmp_path / "kasse.xlsx", {"Kasse": rows})
    log = load_events(config_from_dict({"source": {
        "path": str(tmp_path / "kasse.xlsx"), "time_of_day": "Uhrzeit", "timezone": "Europe/Berlin",
        "columns": {"customer_id": "Kunde", "event_time": "Datum", "amount": "Betrag"}}}))
    times = sorted(log.table.execute()["event_time"])
    assert times == [pd.Timestamp("2024-01-05 13:30"), pd.Timestamp("2024-07-01 07:05:07")]


def test_a_sheet_with_a_title_above_its_header(tmp_path, capsys, monkeypatch):
    """A report sheet with its title and period in the first rows (one cell each, an empty
    row after): the error names them and skip_rows (non-empty rows above the header); init
    writes it, and the sheet reads from its header."""
    rows = [["Sales report"], ["Period: 2024"], [], *ORDERS]
    write_workbook(tmp_path / "report.xlsx", {"Orders": rows})
    columns = {"customer_id": "Customer ID", "event_time": "Order Date", "amount": "Total", "order_id": "Order ID"}
    doc = {"path": str(tmp_path / "report.xlsx"), "layout": "events", "columns": columns,
           "drop_missing_customers": True}
    with pytest.raises(DataError, match=r"starts with 2 line\(s\) above its header \('Sales report', 'Period: "
                                         r"2024'\): its header is non-empty row 3.*Set source.skip_rows = 2"):
        load_events(config_from_dict({"source": doc}))
    log = load_events(config_from_dict({"source": {**doc, "skip_rows": 2}}))
    assert log.summary["rows"] == 2 and sorted(log.table.customer_id.execute()) == [17850, 17851]
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--path", "report.xlsx"]) == 0
    assert "wrote skip_rows = 2" in " ".join(capsys.readouterr().out.split())
    assert "skip_rows = 2" in (tmp_path / "winback.toml").read_text().splitlines()


def test_a_sheet_header_that_repeats_a_mapped_name_is_named(tmp_path):
    """ORDERS' header holds 'Total' twice (an amount, then a count): mapping 'Total' reads the
    first, and the summary says the next, 'Total_1', holds other values."""
    write_workbook(tmp_path / "orders.xlsx", {"Orders": ORDERS})
    doc = {"path": str(tmp_path / "orders.xlsx"), "layout": "events", "drop_missing_customers": True,
           "columns": {"customer_id": "Customer ID", "event_time": "Order Date", "amount": "Total"}}
    note = load_events(config_from_dict({"source": doc})).summary["repeated_columns"]
    assert "amount reads the first of the columns named 'Total' (the next is 'Total_1'), and they differ in 3 of 3" in note


def test_sheets_with_one_header_read_as_one_table(tmp_path, capsys, monkeypatch):
    """UCI Online Retail II writes a year per sheet: init read the first year only. Sheets that
    share one header are now read together (sheet = "*", which init writes), a column typed
    otherwise in one sheet is text; sheets whose columns differ are an error naming them."""
    from winback.data.workbooks import sheet_copy

    monkeypatch.chdir(tmp_path)
    header = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
    first = [header] + [[f"5{i:05d}", "85123A", 2, dt.datetime(2010, 1, 1) + dt.timedelta(days=i), 2.55,
                         13000 + i % 40, "United Kingdom"] for i in range(300)]
    second = [header] + [[f"6{i:05d}", 22423, 1, dt.datetime(2010, 11, 1) + dt.timedelta(days=i % 300), 12.75,
                          13000 + i % 50, "France"] for i in range(300)]
    write_workbook(tmp_path / "online_retail_II.xlsx", {"Year 2009-2010": first, "Year 2010-2011": second})
    assert main(["init", "--path", "online_retail_II.xlsx"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("Read all 2 sheets of the workbook (Year 2009-2010, Year 2010-2011), which have the same "
            "columns, as one table: wrote sheet = \"*\" in [source]") in out
    assert 'sheet = "*"' in (tmp_path / "winback.toml").read_text().splitlines()
    assert main(["validate"]) == 0
    assert "600 events of 50 customers" in " ".join(capsys.readouterr().out.split())
    stacked = pd.read_parquet(sheet_copy(str(tmp_path / "online_retail_II.xlsx"), "*"))
    assert len(stacked) == 600 and str(stacked["StockCode"].dtype) in ("string", "object")
    assert stacked["StockCode"].tolist()[299:301] == ["85123A", "22423"]  # the second year's numbers as text
    write_workbook(tmp_path / "two.xlsx", {"A": first, "B": [header[:-1] + ["Land"]] + [r[:-1] + ["FR"] for r in second[1:]]})
    with pytest.raises(DataError, match=r"Sheet 'B' of .* lacks 'Country'; has 'Land' besides the columns of sheet 'A'"):
        sheet_copy(str(tmp_path / "two.xlsx"), "*")
