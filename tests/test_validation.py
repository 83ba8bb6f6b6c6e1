"""Every validation rule stops with a message naming the file, column and rows."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from winback.config import ProblemConfig, config_from_dict, load_config, parse_date
from winback.data import load_events
from winback.errors import ConfigError, DataError, LabelError
from winback.labels import Cutoff, check_labels, plan_cutoffs

from conftest import events_config, write_csv


def test_clean_orders_load(orders):
    log = load_events(events_config(orders))
    assert log.summary["rows"] == 4
    assert log.summary["customers"] == 3
    assert log.summary["event_types"] == {"purchase": 4}
    assert log.start == dt.datetime(2024, 1, 5, 10)


def test_missing_column_suggests_closest(tmp_path):
    path = write_csv(tmp_path, [{"customerid": "a", "event_time": "2024-01-01", "amount": 1}])
    with pytest.raises(DataError) as e:
        load_events(events_config(path))
    msg = str(e.value)
    assert "events.csv" in msg and "'customer_id'" in msg and "Did you mean 'customerid'" in msg


def test_unparseable_timestamps_name_rows(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": 1},
            {"customer_id": "b", "event_time": "not a date", "amount": 1},
            {"customer_id": "c", "event_time": "2024-13-45", "amount": 1}]
    with pytest.raises(DataError) as e:
        load_events(events_config(write_csv(tmp_path, rows)))
    msg = str(e.value)
    assert "2 values in column 'event_time' are not timestamps" in msg
    assert "row 2" in msg and "'not a date'" in msg and "row 3" in msg
    assert "time_format" in msg


def test_time_format_parses_other_layouts(tmp_path):
    rows = [{"customer_id": "a", "event_time": "05/01/2024 10:00", "amount": 1}]
    log = load_events(events_config(write_csv(tmp_path, rows), time_format="%d/%m/%Y %H:%M"))
    assert log.start == dt.datetime(2024, 1, 5, 10)


@pytest.mark.parametrize("unit, scale", [("unix_s", 1), ("unix_ms", 1_000), ("unix_us", 1_000_000)])
def test_unix_timestamps(tmp_path, unit, scale):
    """Counts since 1970-01-01 UTC, in text (CSV) or as Parquet integers, fractions kept."""
    seconds = int(dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc).timestamp())
    rows = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0],
                         "event_time": [seconds * scale, seconds * scale + scale // 2]})
    csv = load_events(events_config(write_csv(tmp_path, rows), time_format=unit))
    rows.to_parquet(tmp_path / "events.parquet")
    parquet = load_events(events_config(tmp_path / "events.parquet", time_format=unit))
    for log in (csv, parquet):
        assert log.start == dt.datetime(2024, 1, 5, 10)
        times = sorted(log.table.execute().event_time)
        assert times[1] - times[0] == pd.Timedelta(seconds=0.5 if scale > 1 else 0)
    fractional = rows.assign(event_time=[f"{seconds}.25", str(seconds)])
    log = load_events(events_config(write_csv(tmp_path, fractional), time_format="unix_s"))
    assert max(log.table.execute().event_time) == pd.Timestamp(2024, 1, 5, 10, 0, 0, 250000)


@pytest.mark.parametrize("values, unit", [([1704448800, 1704448801], "unix_s"),
                                          ([1704448800000, 1704448800500], "unix_ms")])
def test_unix_timestamps_without_format_name_the_format(tmp_path, values, unit):
    rows = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0], "event_time": values})
    rows.to_parquet(tmp_path / "events.parquet")
    with pytest.raises(DataError) as e:
        load_events(events_config(tmp_path / "events.parquet"))
    msg = str(e.value)
    assert f"event_time={values[0]}" in msg and f"source.time_format = '{unit}'" in msg


@pytest.mark.parametrize("values, named", [
    (["19970101", "19970112"], "source.time_format = '%Y%m%d'"),
    (["25/01/2024 14:30", "6/2/2024 9:05"], "source.time_format = '%d/%m/%Y %H:%M'"),
    (["01.02.2024", "13.02.2024"], "source.time_format = '%d.%m.%Y'"),
    (["05/01/2024", "06/01/2024"], "day first ('%d/%m/%Y') or month first ('%m/%d/%Y')"),
    (["1/13/2024 2:30 PM", "12/1/2010 8:26 AM"], "source.time_format = '%m/%d/%Y %I:%M %p'"),
    (["Jan 5, 2024", "May 13, 2024"], "source.time_format = '%b %d, %Y'"),
    (["5 January 2024 14:30", "13 May 2024 09:00"], "source.time_format = '%d %B %Y %H:%M'"),
    (["2024-01-05 2:30:00 PM", "2024-01-05 11:00:00 AM"], "source.time_format = '%Y-%m-%d %I:%M:%S %p'"),
    (["45296.5", "45297"], "spreadsheet serial dates"),
])
def test_usual_date_formats_are_named(tmp_path, values, named):
    """Compact (CDNOW's 19970101) and day-month dates are named with the format that reads them;
    when no day above 12 tells day-first from month-first, both are named and neither set."""
    rows = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0], "event_time": values})
    with pytest.raises(DataError) as e:
        load_events(events_config(write_csv(tmp_path, rows)))
    from winback.scaffold import FIXES

    assert named in str(e.value)
    applied = FIXES[0][1].search(str(e.value))  # what `winback init` writes and reads again
    if "day first" in named or "serial" in named:
        assert applied is None
    else:
        fmt = named.split("'")[1]
        assert applied.group(1) == fmt
        log = load_events(events_config(write_csv(tmp_path, rows), time_format=fmt))
        assert log.start == min(dt.datetime.strptime(v, fmt) for v in values)


def test_iso_times_with_text_after_them_are_not_misread(tmp_path):
    """DuckDB's cast drops whatever follows an ISO time: '2:30:00 PM' read as 02:30 and a zone
    abbreviation as UTC. Such times are named, with the format or the setting that reads them,
    and with the format the afternoon is the afternoon."""
    rows = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0],
                         "event_time": ["2024-01-05 2:30:00 PM", "2024-01-06 10:00:00 IST"]})
    with pytest.raises(DataError, match=r"row 1: event_time='2024-01-05 2:30:00 PM'; row 2: "):
        load_events(events_config(write_csv(tmp_path, rows)))
    # IST is India's, Ireland's or Israel's time: not read (CET and PST are, as their offsets)
    with pytest.raises(DataError, match=r"end in a zone winback does not read \(IST\).*source.timezone"):
        load_events(events_config(write_csv(tmp_path, rows.iloc[[1]])))
    cet = load_events(events_config(write_csv(tmp_path, rows.iloc[[1]].replace("IST", "CET", regex=True))))
    assert cet.start == dt.datetime(2024, 1, 6, 9, 0)
    log = load_events(events_config(write_csv(tmp_path, rows.iloc[[0]]), time_format="%Y-%m-%d %I:%M:%S %p"))
    assert log.start == dt.datetime(2024, 1, 5, 14, 30)


def test_unix_format_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'unix_ms'"):
        events_config(tmp_path / "e.csv", time_format="unix_msec")
    with pytest.raises(ConfigError, match="does not apply to unix_s"):
        events_config(tmp_path / "e.csv", time_format="unix_s", timezone="+02:00")
    with pytest.raises(ConfigError, match="source.decimal must be"):
        events_config(tmp_path / "e.csv", decimal=";")


def test_decimal_comma(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-05", "amount": "12,50"},
            {"customer_id": "b", "event_time": "2024-01-06", "amount": "0,75"}]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False, sep=";")
    with pytest.raises(DataError) as e:
        load_events(events_config(path))
    assert "amount='12,50'" in str(e.value) and "source.decimal = ','" in str(e.value)
    log = load_events(events_config(path, decimal=","))
    assert sorted(log.table.execute().amount) == [0.75, 12.5]


@pytest.mark.parametrize("written, settings, want", [
    (["$2,080.25", "$177.46", "$ 3.50"], {"currency": "$", "thousands": ","}, [3.5, 177.46, 2080.25]),
    (["1.234,50 €", "12,00 €", "0,75 €"], {"currency": "€", "thousands": ".", "decimal": ","}, [0.75, 12.0, 1234.5]),
    (["1\u202f234,50", "12,5", "1 000 000"], {"thousands": " ", "decimal": ","}, [12.5, 1234.5, 1e6]),
    (["CHF 1'234.50", "CHF 80.00", "CHF 5"], {"currency": "CHF", "thousands": "'"}, [5.0, 80.0, 1234.5]),
    (["USD 1,234.50", "USD 7"], {"currency": "USD", "thousands": ","}, [7.0, 1234.5]),
    (["1 234,50 kr", "99,00 kr"], {"currency": "kr", "thousands": " ", "decimal": ","}, [99.0, 1234.5]),
])
def test_amounts_as_shops_format_them(tmp_path, written, settings, want):
    """'$2,080.25', '1.234,50 €', "CHF 1'234.50": the error names the settings that read them
    (which init applies), and with them the amounts are the numbers meant."""
    from winback.data.numbers import setting_text

    rows = [{"customer_id": f"c{i}", "event_time": f"2024-01-0{i + 1}", "amount": v} for i, v in enumerate(written)]
    path = write_csv(tmp_path, rows)
    with pytest.raises(DataError) as e:
        load_events(events_config(path))
    for key, value in settings.items():
        assert f"source.{key} = {setting_text(value)}" in str(e.value), (key, str(e.value))
    assert sorted(load_events(events_config(path, **settings)).table.execute().amount) == pytest.approx(want)


def test_amounts_that_read_two_ways_or_mix_currencies_are_named_not_guessed(tmp_path):
    """'1,234' alone is 1234 (thousands) or 1.234 (decimal comma): both are named, neither in
    the form `init` applies. Amounts in dollars and euros cannot be summed: said so."""
    from winback.scaffold import FIXES

    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": "1,234"},
            {"customer_id": "b", "event_time": "2024-01-02", "amount": "2,500"}]
    with pytest.raises(DataError) as e:
        load_events(events_config(write_csv(tmp_path, rows)))
    message = str(e.value)
    assert "decimal to ','" in message and "thousands to ','" in message and "do not tell which" in message
    assert not any(rx.search(message) for _, rx in FIXES)
    rows[1]["amount"] = "12,50"  # a value only a decimal comma reads settles it
    with pytest.raises(DataError, match="source.decimal = ','"):
        load_events(events_config(write_csv(tmp_path, rows)))
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": "$12"},
            {"customer_id": "b", "event_time": "2024-01-02", "amount": "€10"}]
    with pytest.raises(DataError, match=r"different currency signs \(\$, €\)"):
        load_events(events_config(write_csv(tmp_path, rows)))
    # with currency = "$", a euro amount is still no number: named, not read as 10 dollars
    with pytest.raises(DataError, match="amount='€10'"):
        load_events(events_config(write_csv(tmp_path, rows), currency="$"))
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": "12 pcs"}]  # a unit is no currency
    with pytest.raises(DataError) as e:
        load_events(events_config(write_csv(tmp_path, rows)))
    assert "currency" not in str(e.value)


def test_number_settings_are_checked(tmp_path):
    for settings, words in [({"thousands": ";"}, "thousands must be one of"),
                            ({"thousands": ","}, None), ({"thousands": ",", "decimal": ","}, "one mark cannot be both"),
                            ({"currency": "$ "}, "the sign or code alone"), ({"currency": "1$"}, "without digits")]:
        if words is None:
            events_config(tmp_path / "e.csv", **settings)
            continue
        with pytest.raises(ConfigError, match=words):
            events_config(tmp_path / "e.csv", **settings)


def test_python_and_sql_read_formatted_numbers_alike():
    """The hint infers settings in Python (NumberFormat.read); the data is read in SQL
    (text_number). Both must agree on every value, or a named fix would not read the file."""
    import ibis

    from winback.data.numbers import NumberFormat, text_number

    values = ["$2,080.25", "1.234,50 €", "CHF 1'234.50", "1 234,50", "1\u00a0234,50", "12,5", "1,234",
              "-$3.5", "$-3.5", "1,2,3", "12 pcs", "1,234,567.89", "-1.234,5", " 12 ", "1e3", ".5", "5.",
              "inf", "nan", "1 234 567", "12,3456", "+7", "", "1,23,456", "€", "12.5%"]
    formats = [NumberFormat(), NumberFormat(","), NumberFormat(".", ",", "$"), NumberFormat(",", ".", "€"),
               NumberFormat(".", " "), NumberFormat(",", " ", "EUR"), NumberFormat(".", "'", "CHF")]
    table = ibis.memtable({"v": values})
    con = ibis.duckdb.connect()
    for fmt in formats:
        sql = con.execute(table.select(n=text_number(table.v, fmt)))["n"].tolist()
        python = [fmt.read(v) for v in values]
        assert [None if pd.isna(n) else n for n in sql] == pytest.approx(python), fmt


def test_iso_overrides_a_layouts_time_format(tmp_path):
    """online_retail expects 12/1/2010 8:26; an export with ISO dates is told to say 'iso'."""
    rows = pd.DataFrame({"InvoiceNo": ["536365", "536366"], "StockCode": ["85123A", "71053"],
                         "Quantity": [2, 3], "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-02 09:00:00"],
                         "UnitPrice": [2.55, 3.39], "CustomerID": ["17850", "13047"]})
    path = write_csv(tmp_path, rows, "retail.csv")
    with pytest.raises(DataError) as e:
        load_events(config_from_dict({"source": {"path": str(path), "layout": "online_retail"}}))
    assert "ISO 8601" in str(e.value) and "source.time_format = 'iso'" in str(e.value)
    log = load_events(config_from_dict({"source": {"path": str(path), "layout": "online_retail",
                                                   "time_format": "iso"}}))
    assert log.start == dt.datetime(2010, 12, 1, 8, 26)


def test_mixed_time_zones(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01 10:00:00 UTC", "amount": 1},
            {"customer_id": "b", "event_time": "2024-01-01 10:00:00+02:00", "amount": 1},
            {"customer_id": "c", "event_time": "2024-01-01 10:00:00", "amount": 1}]
    with pytest.raises(DataError, match=r"some timestamps carry a time zone and others none \(1 rows "
                                        r"without a zone, 1 rows with '\+02:00', 1 rows with 'UTC'\)"):
        load_events(events_config(write_csv(tmp_path, rows)))


def test_each_time_with_its_own_offset_is_converted(tmp_path):
    """A shop's export through daylight saving (Shopify writes '2024-01-05 10:00:00 +0100' and
    '... +0200' in summer) holds instants: each row's offset converts it. It was refused as
    mixing time zones."""
    rows = [{"customer_id": "a", "event_time": "2024-01-05 10:00:00 +0100", "amount": 1},
            {"customer_id": "b", "event_time": "2024-07-05 10:00:00 +0200", "amount": 1},
            {"customer_id": "c", "event_time": "2024-07-05T03:30:00-05:30", "amount": 1},
            {"customer_id": "d", "event_time": "2024-07-06 10:00:00Z", "amount": 1}]
    log = load_events(events_config(write_csv(tmp_path, rows)))
    got = log.table.order_by("customer_id").execute()["event_time"].tolist()
    assert got == [pd.Timestamp("2024-01-05 09:00"), pd.Timestamp("2024-07-05 08:00"),
                       pd.Timestamp("2024-07-05 09:00"), pd.Timestamp("2024-07-06 10:00")]


def test_single_offset_is_converted_to_utc(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01 10:00:00+02:00", "amount": 1}]
    log = load_events(events_config(write_csv(tmp_path, rows)))
    assert log.start == dt.datetime(2024, 1, 1, 8)


def test_empty_input(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("customer_id,event_time,amount\n")
    with pytest.raises(DataError, match="has no rows"):
        load_events(events_config(path))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_events(events_config(tmp_path / "nope.csv"))


def test_a_damaged_spreadsheet_or_an_unknown_format_is_named(tmp_path):
    (tmp_path / "orders.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(DataError, match=r"as a spreadsheet workbook.*damaged, password-protected"):
        load_events(events_config(tmp_path / "orders.xlsx"))
    with pytest.raises(ConfigError, match="Cannot tell the format of .*orders.xml"):
        load_events(events_config(tmp_path / "orders.xml"))


def test_negative_purchase_amounts(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": 10},
            {"customer_id": "b", "event_time": "2024-01-02", "amount": -3}]
    with pytest.raises(DataError) as e:
        load_events(events_config(write_csv(tmp_path, rows)))
    assert "1 purchase rows have a negative amount" in str(e.value)
    assert "row 2" in str(e.value) and "source.negative_amounts = 'return'" in str(e.value)
    # an order table has no event type to map: the fix is a setting, not [source.event_types]
    assert "[source.event_types]" not in str(e.value)


def test_refunds_in_an_order_table_read_as_returns_or_are_dropped(tmp_path):
    """Refunds written as negative totals in an order table: negative_amounts = "return" makes
    them return events (counted in n_returns, never in spend or labels); "drop" leaves them
    out and says how many. A log with event types names their mapping as another fix."""
    from winback.features import FeatureSpec, build_features

    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": 10},
            {"customer_id": "a", "event_time": "2024-01-03", "amount": -4},
            {"customer_id": "b", "event_time": "2024-01-02", "amount": 7},
            {"customer_id": "b", "event_time": "2024-01-04", "amount": None}]
    path = write_csv(tmp_path, rows)
    log = load_events(events_config(path, negative_amounts="return"))
    assert log.summary["event_types"] == {"purchase": 3, "return": 1}
    spec = FeatureSpec(available=tuple(log.available), bgnbd=False)
    f = build_features(log.table, dt.datetime(2024, 2, 1), spec).execute().set_index("customer_id")
    assert (f.loc["a", "spend"], f.loc["a", "n_returns"], f.loc["a", "n_orders"]) == (10.0, 1, 1)
    log = load_events(events_config(path, negative_amounts="drop"))
    assert log.summary["rows"] == 3 and log.summary["dropped_negative_amounts"] == 1  # the empty amount stays
    with pytest.raises(ConfigError, match="Did you mean 'return'"):
        events_config(path, negative_amounts="returns")
    typed = [{**r, "kind": "purchase"} for r in rows]
    with pytest.raises(DataError, match=r"or map their event type to 'return' in \[source.event_types\]"):
        load_events(events_config(write_csv(tmp_path, typed), columns={
            "customer_id": "customer_id", "event_time": "event_time", "amount": "amount", "event_type": "kind"}))


def test_non_numeric_amount(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": "12,50"}]
    with pytest.raises(DataError, match="column 'amount' .* are not numbers"):
        load_events(events_config(write_csv(tmp_path, rows)))


def test_duplicates_error_then_drop(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": 10}] * 2 + [
        {"customer_id": "b", "event_time": "2024-01-02", "amount": 5}]
    path = write_csv(tmp_path, rows)
    with pytest.raises(DataError) as e:
        load_events(events_config(path))
    assert "1 rows are exact duplicates" in str(e.value) and "row 2 repeats row 1" in str(e.value)
    log = load_events(events_config(path, duplicates="drop"))
    assert log.summary["rows"] == 2 and log.summary["duplicate_rows"] == 1
    assert load_events(events_config(path, duplicates="keep")).summary["rows"] == 3


def test_missing_customer_ids(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2024-01-01", "amount": 1},
            {"customer_id": None, "event_time": "2024-01-02", "amount": 1}]
    path = write_csv(tmp_path, rows)
    with pytest.raises(DataError, match="1 rows have no customer id"):
        load_events(events_config(path))
    summary = load_events(events_config(path, drop_missing_customers=True)).summary
    assert summary["rows"] == 1 and summary["dropped_without_customer"] == 1  # said, not silent


def test_future_timestamps(tmp_path):
    rows = [{"customer_id": "a", "event_time": "2999-01-01", "amount": 1}]
    with pytest.raises(DataError, match="in the future"):
        load_events(events_config(write_csv(tmp_path, rows)))


def test_unknown_config_key_suggests(tmp_path):
    cfg = tmp_path / "winback.toml"
    cfg.write_text('[source]\npath = "x.csv"\nlayot = "cdnow"\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert "winback.toml" in str(e.value) and "'layot'" in str(e.value)
    assert "Did you mean 'layout'" in str(e.value)
    # a config of another name is named as it is, once (the message said winback.toml too)
    other = tmp_path / "eu.toml"
    other.write_text(cfg.read_text())
    with pytest.raises(ConfigError) as e:
        load_config(other)
    assert str(e.value).startswith(f"{other}: Unknown key 'layot' in [source]") and "winback.toml" not in str(e.value)


def test_unknown_section_and_types():
    with pytest.raises(ConfigError, match="Did you mean 'problem'"):
        config_from_dict({"problme": {}})
    with pytest.raises(ConfigError, match=r"'problem.horizon_days' must be a whole number \(no quotes\), got '90'"):
        config_from_dict({"problem": {"horizon_days": "90"}})
    with pytest.raises(ConfigError, match="'train.refit' must be true or false, got 'yes'"):
        config_from_dict({"train": {"refit": "yes"}})
    with pytest.raises(ConfigError, match="Did you mean 'repeat_purchase'"):
        config_from_dict({"problem": {"name": "repeat_purchases"}})
    with pytest.raises(ConfigError, match="not a canonical column"):
        load_events(config_from_dict({"source": {"path": "x.csv", "columns": {"custmer": "a"}}}))


def test_first_purchase_has_no_bgnbd_candidate():
    """BG/NBD needs purchase histories; first_purchase customers have none (it used to crash
    while fitting)."""
    with pytest.raises(ConfigError, match="bgnbd candidate cannot predict first_purchase"):
        config_from_dict({"problem": {"name": "first_purchase"},
                          "train": {"candidates": ["logistic", "bgnbd"]}})
    assert "bgnbd" not in config_from_dict({"problem": {"name": "first_purchase"}}).candidates
    assert "bgnbd" in config_from_dict({"problem": {"name": "repeat_purchase"}}).candidates


def test_first_purchase_on_an_order_table_says_why_it_cannot_work():
    """Every CDNOW row is a purchase: no visitor who has not bought exists at any cutoff, so
    the advice is the problem, not 'move the cutoff later'."""
    from winback.datasets import cdnow_config
    from winback.train import train

    cfg = cdnow_config()
    cfg.problem.name = "first_purchase"
    with pytest.raises(ConfigError, match="holds purchases only \\(an order table\\)"):
        train(cfg, report=False)


def test_first_purchase_on_orders_with_returns_says_why_it_cannot_work(tmp_path):
    """UCI Online Retail's invoices hold sales and returns ('C' invoices): a return follows a
    sale, so there is still no visitor who has not bought (it said 'move the cutoff later')."""
    from winback.train import train

    rows = []
    for c in range(40):
        for k in range(3):
            day = 1 + 20 * k + c % 7
            rows.append((f"{536365 + 3 * c + k}", "85123A", 2, f"{1 + day // 28}/{1 + day % 28}/2011 9:{c % 60:02d}",
                         2.55, float(12346 + c)))
        rows.append((f"C{536365 + 3 * c}", "85123A", -1, f"3/{1 + c % 28}/2011 10:00", 2.55, float(12346 + c)))
    pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice",
                                "CustomerID"]).to_csv(tmp_path / "retail.csv", index=False)
    cfg = config_from_dict({"source": {"path": "retail.csv", "layout": "online_retail"},
                            "problem": {"name": "first_purchase", "horizon_days": 14, "cutoff_step_days": 7,
                                        "train_cutoffs": 2, "min_history_days": 7}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="holds purchases and returns only \\(an order table\\)"):
        train(cfg, report=False)


def test_cutoff_outside_data():
    problem = ProblemConfig(horizon_days=30, test_cutoff="2030-01-01")
    with pytest.raises(DataError, match="outside the data"):
        plan_cutoffs(problem, dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30))
    problem = ProblemConfig(horizon_days=90, test_cutoff="2024-06-01")
    with pytest.raises(DataError, match="runs past the end of the data"):
        plan_cutoffs(problem, dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30))


def test_scoring_cutoff_outside_the_data_says_which_side_and_why():
    from types import SimpleNamespace

    from winback.score import _scoring_time

    log = SimpleNamespace(start=dt.datetime(2024, 1, 1, 9), end=dt.datetime(2024, 6, 30, 18))
    assert _scoring_time(log, None) == dt.datetime(2024, 7, 1)  # midnight after the last day
    assert _scoring_time(log, "2024-07-01") == dt.datetime(2024, 7, 1)
    with pytest.raises(DataError, match="after the data.*read as days without activity.*Leave --cutoff out.*2024-07-01"):
        _scoring_time(log, "2024-07-02")
    with pytest.raises(DataError, match=r"not after the data's first event \(2024-01-01 09:00:00 UTC\)"
                                        ".*after 2024-01-01, up to 2024-07-01"):
        _scoring_time(log, "2023-12-01")
    # an offset is converted to UTC and read back with its time, not as the day before
    with pytest.raises(DataError, match="cutoff 2024-07-01 22:00:00 UTC is after"):
        _scoring_time(log, "2024-07-02T00:00:00+02:00")


def test_a_cutoff_reads_back_with_its_time_unless_midnight():
    from winback.config import moment_text

    assert moment_text(dt.datetime(1998, 1, 1)) == "1998-01-01"
    assert moment_text(parse_date("1998-01-01T00:00:00+02:00", "--cutoff")) == "1997-12-31 22:00:00 UTC"


def test_one_class_labels():
    cut = Cutoff(dt.datetime(2024, 3, 1), dt.datetime(2024, 4, 1), "test")
    with pytest.raises(LabelError, match="one class only"):
        check_labels(pd.DataFrame({"customer_id": ["a", "b"], "label": [0, 0]}), cut, ProblemConfig())
    with pytest.raises(LabelError, match="No customer"):
        check_labels(pd.DataFrame({"customer_id": [], "label": []}), cut, ProblemConfig())


def test_files_of_a_glob_are_combined_by_column_name_and_widest_type(tmp_path):
    """Exports change over time: ids written as integers, then as text; columns reordered or
    added. The files are combined by name, not by the first file's schema."""
    pd.DataFrame({"customer_id": [1, 2], "event_time": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                  "amount": [10.0, 20.0]}).to_parquet(tmp_path / "2024-01.parquet")
    pd.DataFrame({"amount": [30.0, 5.0], "customer_id": ["x7", "1"],
                  "event_time": pd.to_datetime(["2024-02-01", "2024-02-03"])}).to_parquet(tmp_path / "2024-02.parquet")
    log = load_events(events_config(tmp_path / "*.parquet"))
    rows = log.table.order_by("event_time").execute()
    assert rows["customer_id"].tolist() == ["1", "2", "x7", "1"] and rows["amount"].tolist() == [10, 20, 30, 5]
    assert log.summary["customers"] == 3
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "a.csv").write_text("customer_id,event_time,amount\na,2024-01-01,10\n")
    (tmp_path / "csv" / "b.csv").write_text("amount,event_time,customer_id\n7.5,2024-01-05,b\n")
    rows = load_events(events_config(tmp_path / "csv" / "*.csv")).table.order_by("event_time").execute()
    assert rows["customer_id"].tolist() == ["a", "b"] and rows["amount"].tolist() == [10.0, 7.5]
    # a column the mapping reads must be in every file: one lacking it would read as empty values
    (tmp_path / "csv" / "c.csv").write_text("customer_id,event_time,note\nc,2024-01-09,extra\n")
    with pytest.raises(DataError, match=r"1 file\(s\) of .*csv.* lack .*c\.csv lacks 'amount'.*amount = \"\""):
        load_events(events_config(tmp_path / "csv" / "*.csv"))


def test_damaged_parquet_files_are_clear_errors(tmp_path, capsys):
    """A copy cut short fails when opened; one damaged in the middle fails part-way through the
    read. Both end as an error naming the file, exit status 2, no traceback."""
    from winback.cli import main

    frame = pd.DataFrame({"customer_id": [f"c{i % 500}" for i in range(60_000)],
                          "event_time": pd.date_range("2024-01-01", periods=60_000, freq="min"),
                          "amount": np.arange(60_000, dtype=float)})
    frame.to_parquet(tmp_path / "good.parquet", row_group_size=10_000)
    data = bytearray((tmp_path / "good.parquet").read_bytes())
    (tmp_path / "short.parquet").write_bytes(data[: len(data) // 2])
    for i in range(len(data) // 3, len(data) // 3 + 4_000):
        data[i] = (data[i] * 7 + 13) % 256
    (tmp_path / "damaged.parquet").write_bytes(data)
    for name in ("short.parquet", "damaged.parquet"):
        config = tmp_path / f"{name}.toml"
        config.write_text(f'[source]\npath = "{name}"\nlayout = "events"\n[source.columns]\n'
                          'customer_id = "customer_id"\nevent_time = "event_time"\namount = "amount"\n')
        assert main(["validate", "-c", str(config)]) == 2
        out = capsys.readouterr().err
        assert name in out and "damaged or cut short" in out and "Traceback" not in out


def test_unmapped_event_types_are_named_with_the_mapping_that_fixes_them(tmp_path, capsys):
    """A log whose purchases are 'Purchase' has no 'purchase': validate suggests the
    [source.event_types] block, train stops with it, and the block makes the run work."""
    from winback.cli import main
    from winback.data.layouts import suggested_event_types

    assert suggested_event_types({"View": 1, "AddToCart": 1, "RemoveFromCart": 1, "Purchase": 1,
                                  "order_cancelled": 1, "purchase": 1, "login": 1}) == {
        "View": "view", "AddToCart": "cart", "RemoveFromCart": "remove_from_cart",
        "Purchase": "purchase", "order_cancelled": "return"}
    # GA4 and shop-platform names: a begun checkout is not a purchase (it was mapped to one)
    assert suggested_event_types({"page_view": 1, "add_to_cart": 1, "begin_checkout": 1,
                                  "add_payment_info": 1, "InitiateCheckout": 1, "session_start": 1,
                                  "checkout_completed": 1}) == {
        "page_view": "view", "add_to_cart": "cart", "checkout_completed": "purchase"}
    # payments exports (Square's Payment and Refund, Stripe's charge); what failed is no sale
    assert suggested_event_types({"Payment": 1, "Refund": 1, "charge": 1, "payout": 1, "Payment Failed": 1,
                                  "Order Failed": 1, "charge.dispute.chargeback": 1, "payment_info_entered": 1}) == {
        "Payment": "purchase", "Refund": "return", "charge": "purchase", "charge.dispute.chargeback": "return"}
    # Klaviyo writes each order as Placed Order, one Ordered Product per line and a Fulfilled
    # Order later: only the first is the purchase (all three were, counting an order 3 times)
    assert suggested_event_types({"Viewed Product": 1, "Added to Cart": 1, "Started Checkout": 1,
                                  "Placed Order": 1, "Ordered Product": 1, "Fulfilled Order": 1,
                                  "Cancelled Order": 1, "Refunded Order": 1, "Opened Email": 1}) == {
        "Viewed Product": "view", "Added to Cart": "cart", "Placed Order": "purchase",
        "Cancelled Order": "return", "Refunded Order": "return"}
    # a membership is bought, and an online purchase is an order
    assert suggested_event_types({"Membership Purchased": 1, "Online Purchase": 1, "Order Shipped": 1}) == {
        "Membership Purchased": "purchase", "Online Purchase": "purchase"}
    # a log whose only purchase event is per product keeps it
    assert suggested_event_types({"Product Viewed": 1, "Product Purchased": 1}) == {
        "Product Viewed": "view", "Product Purchased": "purchase"}
    # a European shop's own words (accents or not); a German cart, 'Einkaufswagen', holds 'Kauf'
    assert suggested_event_types({"Vue produit": 1, "Ajouté au panier": 1, "Supprimé du panier": 1, "Achat": 1,
                                  "Commande annulée": 1, "Paiement refusé": 1}) == {
        "Vue produit": "view", "Ajouté au panier": "cart", "Supprimé du panier": "remove_from_cart",
        "Achat": "purchase", "Commande annulée": "return"}
    assert suggested_event_types({"Ansicht": 1, "In den Einkaufswagen": 1, "Aus dem Warenkorb entfernt": 1,
                                  "Kauf": 1, "Rückgabe": 1, "Zahlung fehlgeschlagen": 1}) == {
        "Ansicht": "view", "In den Einkaufswagen": "cart", "Aus dem Warenkorb entfernt": "remove_from_cart",
        "Kauf": "purchase", "Rückgabe": "return"}
    assert suggested_event_types({"Vista de producto": 1, "Añadido al carrito": 1, "Compra": 1, "Devolución": 1,
                                  "Acquisto": 1, "Aankoop": 1, "Toegevoegd aan winkelwagen": 1}) == {
        "Vista de producto": "view", "Añadido al carrito": "cart", "Compra": "purchase", "Devolución": "return",
        "Acquisto": "purchase", "Aankoop": "purchase", "Toegevoegd aan winkelwagen": "cart"}
    rng = np.random.default_rng(7)
    n = 6_000
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 360 * 1440, n), unit="min")
    pd.DataFrame({"cust": [f"u{i}" for i in rng.integers(0, 600, n)],
                  "ts": times.strftime("%Y-%m-%d %H:%M:%S"),
                  "kind": rng.choice(["View", "AddToCart", "Purchase"], n, p=[0.6, 0.2, 0.2]),
                  "amount": rng.gamma(2, 20, n).round(2)}).to_csv(tmp_path / "kinds.csv", index=False)
    config = tmp_path / "winback.toml"
    config.write_text('[source]\npath = "kinds.csv"\nlayout = "events"\nduplicates = "keep"\n'
                      '[source.columns]\ncustomer_id = "cust"\nevent_time = "ts"\n'
                      'event_type = "kind"\namount = "amount"\n'
                      '[problem]\nhorizon_days = 30\ncutoff_step_days = 30\n')
    lines = ['[source.event_types]', '"View" = "view"', '"AddToCart" = "cart"', '"Purchase" = "purchase"']
    block = "\n".join(lines)
    assert main(["validate", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(line in out for line in lines)
    assert main(["train", "-c", str(config), "-q", "--no-track"]) == 2
    err = capsys.readouterr().err
    assert "has event type 'purchase'" in err and all(line in err.splitlines() for line in lines)
    config.write_text(config.read_text() + block + "\n")
    assert main(["train", "-c", str(config), "-q", "--no-track"]) == 0


def test_latin1_csv_and_a_config_with_a_bom(tmp_path):
    """A Windows export in Latin-1 is named as such with the setting that reads it; a
    winback.toml saved by Notepad (with a byte-order mark) reads like any other."""
    rows = pd.DataFrame({"customer_id": ["a", "b"], "event_time": ["2024-01-05", "2024-01-06"],
                         "amount": [1.0, 2.0], "note": ["café £", "crème"]})
    path = tmp_path / "events.csv"
    rows.to_csv(path, index=False, encoding="latin-1")
    with pytest.raises(DataError, match="is not UTF-8 text. Set its encoding to 'latin-1'"):
        load_events(events_config(path))
    log = load_events(events_config(path, encoding="latin-1", passthrough=["note"]))
    assert sorted(log.table.execute()["note"]) == ["café £", "crème"]
    with pytest.raises(ConfigError, match="source.encoding 'cp-9999' is not one Python knows"):
        events_config(path, encoding="cp-9999")
    config = tmp_path / "winback.toml"
    config.write_bytes('[source]\npath = "events.csv"\nencoding = "latin-1"\n'
                       '[source.columns]\ncustomer_id = "customer_id"\nevent_time = "event_time"\n'
                       .encode("utf-8-sig"))
    assert load_config(config).source.encoding == "latin-1"


@pytest.mark.parametrize("encoding, note, named", [
    ("cp1252", "€ 12 – “sale”", "'cp1252'"),  # Windows: €, dashes and curly quotes are bytes Latin-1 leaves unused
    ("cp1251", "Москва", "'latin-1'"),  # Cyrillic Windows: the hint cannot tell it from Latin-1
    ("shift_jis", "東京", "'cp1252'"),  # its lead bytes look like Windows-1252's: the hint names others too
    ("utf-16", "café", None),  # DuckDB reads UTF-16 itself
])
def test_csv_in_any_encoding_python_knows(tmp_path, encoding, note, named):
    """Encodings DuckDB lacks are read through a UTF-8 copy, gzipped files too; the error for a
    file that is not UTF-8 names 'cp1252' when it holds Windows-1252's own characters."""
    import gzip

    rows = pd.DataFrame({"customer_id": ["a", "b"], "event_time": ["2024-01-05", "2024-01-06"],
                         "amount": [1.0, 2.0], "note": [note, "x"]})
    path = tmp_path / "events.csv"
    rows.to_csv(path, index=False, encoding=encoding)
    if named:
        with pytest.raises(DataError, match=f"is not UTF-8 text. Set its encoding to {named}"):
            load_events(events_config(path))
    log = load_events(events_config(path, encoding=encoding, passthrough=["note"]))
    assert sorted(log.table.execute()["note"]) == sorted([note, "x"])
    zipped = tmp_path / "events.csv.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    log = load_events(events_config(zipped, encoding=encoding, passthrough=["note"]))
    assert sorted(log.table.execute()["note"]) == sorted([note, "x"])


def test_windows_text_read_as_latin1_names_cp1252(tmp_path):
    rows = pd.DataFrame({"customer_id": ["a"], "event_time": ["2024-01-05"], "amount": [1.0], "note": ["€"]})
    path = tmp_path / "events.csv"
    rows.to_csv(path, index=False, encoding="cp1252")
    with pytest.raises(DataError, match="is not Latin-1 text.*Set its encoding to 'cp1252'"):
        load_events(events_config(path, encoding="latin-1"))
    path.write_bytes(path.read_bytes().replace("€".encode("cp1252"), b"\x81"))  # a byte cp1252 leaves undefined
    with pytest.raises(DataError, match="is not cp1252 text: byte") as e:
        load_events(events_config(path, encoding="cp1252"))
    assert "b'\\x81' at offset 52" in str(e.value)


def test_qualifying_events_the_log_lacks_are_named(tmp_path):
    from winback.datasets import cdnow_config
    from winback.train import train

    cfg = cdnow_config()
    cfg.problem.name, cfg.problem.qualifying_events = "return_visit", ["purchas"]
    with pytest.raises(ConfigError, match="lists 'purchas'.*every label would be 0.*Did you mean 'purchase'"):
        train(cfg, report=False)
    cfg.problem.qualifying_events = ["purchase", "cartt"]
    with pytest.raises(ConfigError, match="lists 'cartt'"):
        train(cfg, report=False)


def test_a_log_of_customers_and_times_only(tmp_path):
    """customer_id and event_time, nothing else (every row a purchase, no amounts): it used to
    crash in validation, on a check of negative amounts it has none of."""
    rows = [{"customer_id": c, "event_time": f"2024-01-{d:02d}"} for c, d in (("a", 1), ("a", 5), ("b", 3))]
    log = load_events(config_from_dict({"source": {"path": str(write_csv(tmp_path, rows))}}))
    assert log.summary["rows"] == 3 and log.summary["event_types"] == {"purchase": 3}
    assert log.summary["amount_sum"] is None


def test_passthrough_cannot_reuse_a_canonical_name(tmp_path, orders):
    # listing a mapped column again (or one named like a canonical column) crashed the select
    with pytest.raises(ConfigError, match=r"passthrough lists 'customer_id', but it is carried already, "
                                          r"as winback's 'customer_id' \(read from 'customer_id'\)"):
        load_events(events_config(orders, passthrough=["customer_id"]))
    rows = pd.read_csv(orders).assign(brand="acme")
    path = write_csv(tmp_path, rows, "with_brand.csv")
    with pytest.raises(ConfigError, match="lists 'brand', but it is carried already, as winback's 'brand'"):
        load_events(events_config(path, passthrough=["brand"]))
    unmapped = {"customer_id": "customer_id", "event_time": "event_time", "amount": "amount", "brand": ""}
    with pytest.raises(ConfigError, match="lists 'brand', but winback's own 'brand' column has that name.*"
                                          r"map it in \[source.columns\]"):
        load_events(events_config(path, passthrough=["brand"], columns=unmapped))
    # a column named as a canonical one is read as that with the events layout, unless unmapped
    assert set(load_events(events_config(path)).table.execute()["brand"]) == {"acme"}
    assert load_events(events_config(path, columns=unmapped)).table.execute()["brand"].isna().all()


def test_columns_named_as_winbacks_own_are_read(tmp_path):
    """A log whose header uses winback's names (amount, event_type, order_id) needs no
    [source.columns]: those columns used to be left unread, and amounts were silently missing.
    A column already read for another canonical one is not read twice."""
    rows = pd.DataFrame({"customer_id": ["a", "a", "b"], "event_time": ["2024-01-01", "2024-01-02", "2024-01-03"],
                         "event_type": ["view", "purchase", "purchase"], "amount": [0.0, 12.5, 3.0],
                         "order_id": ["o1", "o1", "o2"]})
    log = load_events(config_from_dict({"source": {"path": str(write_csv(tmp_path, rows))}}))
    assert {"amount", "event_type", "order_id"} <= log.available
    assert log.summary["event_types"] == {"purchase": 2, "view": 1}
    events = log.table.execute()
    assert events.amount.sum() == 15.5 and sorted(events.order_id) == ["o1", "o1", "o2"]
    log = load_events(config_from_dict({"source": {"path": str(write_csv(tmp_path, rows)),
                                                   "columns": {"session_id": "order_id"}}}))
    assert "session_id" in log.available and "order_id" in log.available  # derived, not read twice
    assert log.table.execute().order_id.isna().sum() == 1  # orders from sessions: the view has none


def test_one_id_for_every_guest_is_named_and_can_be_read_as_missing(tmp_path):
    """WooCommerce writes guests as customer 0: validate names an id holding a share of the
    events no shopper does; missing_customer_ids reads it as no customer, on text and integer
    ids alike."""
    from winback.project import Project

    rng = np.random.default_rng(6)
    n = 3000
    ids = np.where(rng.random(n) < 0.3, 0, rng.integers(1, 400, n))
    rows = pd.DataFrame({"customer_id": ids, "amount": rng.uniform(5, 200, n).round(2),
                         "event_time": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"))})
    for path in (write_csv(tmp_path, rows), tmp_path / "events.parquet"):
        rows.to_parquet(tmp_path / "events.parquet")
        summary = Project(events_config(path)).validate()
        note = summary["dominant_customer"]
        assert note.startswith(("customer '0' has ", "customer 0 has ")) and "missing_customer_ids" in note
        with pytest.raises(DataError, match="rows have no customer id"):
            load_events(events_config(path, missing_customer_ids=["0"]))
        log = load_events(events_config(path, missing_customer_ids=["0"], drop_missing_customers=True))
        assert log.summary["dropped_without_customer"] == int((ids == 0).sum())
        assert Project(events_config(path, missing_customer_ids=["0"], drop_missing_customers=True)
                       ).validate()["dominant_customer"] == ""
    # train says it too, and keeps it in the bundle and the report for those who read them later
    from winback.progress import Steps
    from winback.train import train

    cfg = events_config(tmp_path / "events.parquet")
    cfg.train.candidates = ["logistic"]
    cfg.output.dir = str(tmp_path / "out")
    result = train(cfg, steps=Steps(quiet=True))
    assert result.manifest["data"]["warnings"] == [note]
    html = result.report_path.read_text()
    assert '<tr class="warning"><td>warning</td><td>customer 0 has ' in html and "missing_customer_ids" in html


def test_a_folder_of_parts_is_a_source(tmp_path):
    """A dataset Spark or pandas wrote in parts (events/month=2024-01/part-0.parquet, with
    _SUCCESS and .crc files beside them) reads from its folder; a folder mixing formats or
    holding none is named as such."""
    folder = tmp_path / "events"
    for month in ("2024-01", "2024-02"):
        (folder / f"month={month}").mkdir(parents=True)
        pd.DataFrame({"customer_id": ["a", "b"], "event_time": pd.to_datetime([f"{month}-03", f"{month}-09"]),
                      "amount": [1.0, 2.0]}).to_parquet(folder / f"month={month}" / "part-0.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / "month=2024-01" / ".part-0.parquet.crc").write_bytes(b"\x00")
    for path in (folder, str(folder) + "/"):
        log = load_events(events_config(path))
        assert log.summary["rows"] == 4 and log.summary["customers"] == 2
    write_csv(folder, [{"customer_id": "c", "event_time": "2024-03-01", "amount": 1.0}], "extra.csv")
    with pytest.raises(ConfigError, match=r"several formats \(csv, parquet\)"):
        load_events(events_config(folder))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no CSV, Parquet or JSON files"):
        load_events(events_config(tmp_path / "empty"))


def test_emails_typed_in_two_cases_are_named_and_can_be_one_customer(tmp_path):
    """John@x.com one day and john@x.com the next: validate names such ids, and
    lowercase_customer_ids = true reads each pair as one customer."""
    from winback.project import Project

    rows = pd.DataFrame({"customer_id": ["John@x.com", "john@x.com", "mary@y.com", "Mary@Y.com", "bob@z.com"],
                         "event_time": ["2024-01-01", "2024-02-01", "2024-01-03", "2024-03-01", "2024-01-04"],
                         "amount": [5.0, 6.0, 7.0, 2.0, 1.0]})
    path = write_csv(tmp_path, rows)
    note = Project(events_config(path)).validate()["case_twins"]
    assert note.startswith("2 customer id(s) differ from another only in letter case (e.g. 'John@x.com' and "
                           "'john@x.com')") and "lowercase_customer_ids = true" in note
    summary = Project(events_config(path, lowercase_customer_ids=True)).validate()
    assert summary["customers"] == 3 and summary["case_twins"] == ""
    # train says what validate says (it used to leave this note out)
    from winback.data.canonical import log_notes

    log = load_events(events_config(path))
    notes = log_notes(log.table, log.summary)
    assert notes["case_twins"] == note and list(notes)[:3] == ["skipped_lines", "lookup_note", "layout_note"]


def test_blank_and_missing_marks_are_no_customer(tmp_path):
    """' ', 'NULL', 'n/a', 'nan' (str() of a pandas NaN) as customer ids are missing ids, not
    one customer who gathers every guest's events."""
    rows = pd.DataFrame({"customer_id": ["a", " ", "NULL", "n/a", "nan", "None", "b"],
                         "event_time": [f"2024-01-0{d}" for d in range(1, 8)], "amount": range(1, 8)})
    path = write_csv(tmp_path, rows)
    with pytest.raises(DataError, match="5 rows have no customer id.*row 2: customer_id=''; row 3: customer_id='NULL'"):
        load_events(events_config(path))
    log = load_events(events_config(path, drop_missing_customers=True))
    assert sorted(log.table.execute().customer_id) == ["a", "b"] and log.summary["dropped_without_customer"] == 5


@pytest.mark.parametrize("section, values, message", [
    ("features", {"windows_days": [30, 30]}, "windows_days lists 30 more than once"),
    ("features", {"trend_window_days": 0}, "trend_window_days must be a positive"),
    ("train", {"contact_share": 0}, r"contact_share .* must be in \(0, 1\]"),
    ("train", {"target_recall": 1.5}, r"target_recall must be in \(0, 1\]"),
    ("problem", {"min_history_days": -1}, "min_history_days must be 0 or more"),
    ("train", {"candidates": ["logistic", "logistic"]}, "lists logistic more than once"),
    ("train", {"seed": -1}, "train.seed must be between 0"),
    ("train", {"selection_metric": "acc"}, "selection_metric must be one of roc_auc.*got 'acc'"),
    ("segments", {"names": {"high_risk": "x"}}, "Unknown segment 'high_risk' in segments.names. Did you mean"),
    ("segments", {"actions": {"vip": "x"}}, "Unknown segment 'vip' in segments.actions"),
])
def test_settings_that_would_fail_late_or_mislead_are_config_errors(tmp_path, section, values, message):
    """Each was accepted: a seed of -1 or an unknown selection metric failed after every model
    was fitted; a misspelt segment key was ignored; a contact share of 0 flagged nobody."""
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"source": {"path": str(tmp_path / "e.csv"), "layout": "cdnow"}, section: values})


def test_selection_reads_the_held_out_customers_of_every_cutoff():
    """A candidate a hair ahead on the validation cutoff alone, and at chance on the same
    customers at the training cutoffs, loses to one that ranks them well at every cutoff; a
    cutoff with too few customers of a label is left out of the mean."""
    from winback.train import MIN_PER_CLASS, CandidateResult, leaderboard, selection_score

    rng = np.random.default_rng(0)
    cutoffs = np.repeat(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]), [300, 300, 40])
    labels = np.r_[rng.integers(0, 2, 600), np.ones(40, dtype=int)]
    labels[600:600 + MIN_PER_CLASS - 1] = 0  # the third cutoff: too few customers without the outcome
    held = pd.DataFrame({"cutoff": cutoffs, "label": labels})
    chance = rng.random(640)
    good = np.clip(0.6 * labels + 0.4 * rng.random(640), 0, 1)
    a = selection_score("roc_auc", {"roc_auc": 0.76}, held, chance, 0.5)
    b = selection_score("roc_auc", {"roc_auc": 0.75}, held, good, 0.5)
    from sklearn.metrics import roc_auc_score

    first, second = slice(0, 300), slice(300, 600)
    assert a == pytest.approx(np.mean([0.76, roc_auc_score(labels[first], chance[first]),
                                       roc_auc_score(labels[second], chance[second])]))
    assert b > 0.9 > 0.65 > a
    assert selection_score("roc_auc", {"roc_auc": 0.76}, held, None, 0.5) == 0.76
    results = {name: CandidateResult(name, None, None, {"roc_auc": v}, {"roc_auc": 0.7}, np.zeros(1), s)
               for name, v, s in (("a", 0.76, a), ("b", 0.75, b))}
    board = leaderboard(results, "roc_auc")
    assert board["candidate"].tolist() == ["b", "a"] and board["valid_roc_auc"].tolist() == [0.75, 0.76]


def test_selection_by_a_loss_picks_the_lowest():
    from winback.train import CandidateResult, leaderboard

    def result(name, roc, loss):
        m = {"roc_auc": roc, "log_loss": loss}
        return CandidateResult(name, None, None, m, m, np.zeros(1))

    results = {"a": result("a", 0.80, 0.50), "b": result("b", 0.75, 0.40)}
    assert leaderboard(results, "roc_auc")["candidate"].tolist() == ["a", "b"]
    board = leaderboard(results, "log_loss")
    assert board["candidate"].tolist() == ["b", "a"]  # was sorted as if higher were better
    assert board["valid_roc_auc"].tolist() == [0.75, 0.80]  # the report and console always show it
    with pytest.raises(ConfigError, match="applies to event logs"):
        config_from_dict({"table": {"key": "id", "label": "y", "sources": [{"path": "t.csv"}]},
                          "train": {"selection_metric": "pr_auc"}})


def test_ids_stored_as_floats_read_without_the_decimal(tmp_path):
    """pandas writes an integer id column with a gap as float64; 4189.0 is customer 4189."""
    rows = pd.DataFrame({"customer_id": [4189.0, 12.0, 7.5, np.nan], "amount": [1.0, 2.0, 3.0, 4.0],
                         "event_time": ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]})
    rows.to_parquet(tmp_path / "events.parquet")
    log = load_events(events_config(tmp_path / "events.parquet", drop_missing_customers=True))
    assert sorted(log.table.execute()["customer_id"]) == ["12", "4189", "7.5"]


def test_a_table_in_a_duckdb_file_reads_and_trains(tmp_path, orders):
    """DuckDB file sources failed outright: ibis 12's list_tables calls a method DuckDB 2 removed.
    Tables outside the main schema are named schema.table; a wrong name lists the tables."""
    import duckdb

    db = tmp_path / "shop's.duckdb"  # a quote in the path is escaped
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TABLE events AS SELECT * FROM read_csv('{orders}', all_varchar = true)")
        con.execute("CREATE SCHEMA sales")
        con.execute("CREATE TABLE sales.orders AS SELECT * FROM events")
    n = len(pd.read_csv(orders))
    assert load_events(events_config(db, table="events")).summary["rows"] == n
    assert load_events(events_config(db, table="sales.orders")).summary["rows"] == n
    with pytest.raises(DataError, match=r"has no table 'orders'\. It is in another schema: "
                                        r"table = 'sales.orders'\. Tables: events, sales.orders\."):
        load_events(events_config(db, table="orders"))
    with pytest.raises(DataError, match="has no table 'sales.ordrs'. Did you mean 'sales.orders'"):
        load_events(events_config(db, table="sales.ordrs"))
    with pytest.raises(ConfigError, match="source.table must name the table"):
        load_events(events_config(db))


def test_infinite_and_nan_amounts_are_named_not_trained_on(tmp_path):
    """'inf' and 'NaN' parse as floats: they passed validation and training then failed in
    scikit-learn ('Input X contains NaN'). Now they are values that are not numbers."""
    rows = pd.DataFrame({"customer_id": ["a", "b", "c"], "event_time": ["2024-01-05", "2024-01-06", "2024-01-07"],
                         "amount": ["12.5", "inf", "NaN"]})
    with pytest.raises(DataError, match=r"2 values in column 'amount' \(mapped to 'amount'\) are not numbers. "
                                        r"First rows: row 2: amount='inf'; row 3: amount='NaN'"):
        load_events(events_config(write_csv(tmp_path, rows)))
    typed = rows.assign(amount=[12.5, float("inf"), 3.0])
    typed.to_parquet(tmp_path / "events.parquet")
    with pytest.raises(DataError, match="1 values in column 'amount'.*row 2: amount=inf"):
        load_events(events_config(tmp_path / "events.parquet"))


def test_a_header_repeated_inside_the_file_is_named(tmp_path, orders):
    """`cat a.csv b.csv` keeps b's header as a data row: named as joined exports, not as a
    timestamp format to set."""
    text = orders.read_text()
    joined = tmp_path / "joined.csv"
    joined.write_text(text + text)
    with pytest.raises(DataError, match=r"row \d+: event_time='event_time'. Row \d+ repeats the header, so "
                                        r"the file looks like several exports joined end to end"):
        load_events(events_config(joined))


def test_rows_without_a_time_are_named(tmp_path, orders):
    """A total line at the end of an export (no time) was read as an event of customer 'Total'."""
    rows = pd.concat([pd.read_csv(orders), pd.DataFrame({"customer_id": ["Total"], "amount": [999.0]})])
    with pytest.raises(DataError, match=r"1 rows have no time in column 'event_time'. First rows: row \d+: "
                                        r"event_time=\(empty\), customer_id='Total', amount='999.0'"):
        load_events(events_config(write_csv(tmp_path, rows, "with_total.csv")))


def test_the_shops_clock_defaults_to_the_source_zone_and_is_checked(tmp_path):
    """Hour and weekday features read features.timezone, or else source.timezone (the zone the
    shop's times were written in); a bundle keeps it, so scoring reads the same clock, and a
    bundle from before the setting reads UTC."""
    from winback.config import config_from_dict
    from winback.features import FeatureSpec

    cfg = config_from_dict({"source": {"path": "x.csv", "timezone": "Europe/Berlin"}})
    assert cfg.features.clock(cfg.source.timezone) == "Europe/Berlin"
    cfg = config_from_dict({"source": {"path": "x.csv"}, "features": {"timezone": "America/New_York"}})
    assert cfg.features.clock(cfg.source.timezone) == "America/New_York"
    with pytest.raises(ConfigError, match=r"features.timezone = 'America/NewYork' is not a time zone.*"
                                          r"the shop's clock.*America/New_York"):
        config_from_dict({"source": {"path": "x.csv"}, "features": {"timezone": "America/NewYork"}})
    spec = FeatureSpec(timezone="Australia/Sydney")
    assert FeatureSpec.from_dict(spec.to_dict()).timezone == "Australia/Sydney"
    old = {k: v for k, v in spec.to_dict().items() if k != "timezone"}
    assert FeatureSpec.from_dict(old).timezone == "UTC"


def test_zone_names_from_shop_exports_read_as_the_zones_they_mean(tmp_path):
    """Square (Rails) and Windows tools name zones in their own words; source.timezone and
    features.timezone take them as written, and the times are read in the IANA zone they mean
    (daylight saving included). A name that means no zone is still an error."""
    from winback.config import config_from_dict
    from winback.data.canonical import zone_setting
    from winback.data.zones import iana_zone

    assert iana_zone("Pacific Time (US & Canada)") == "America/Los_Angeles"
    assert iana_zone("(UTC-05:00) Eastern Time (US & Canada)") == "America/New_York"
    assert iana_zone("W. Europe Standard Time") == "Europe/Berlin"
    assert iana_zone("London") == "Europe/London" and iana_zone("Kuala Lumpur") == "Asia/Kuala_Lumpur"
    assert iana_zone("Beijing") == "Asia/Shanghai" and iana_zone("Europe/Paris") == "Europe/Paris"
    assert iana_zone("Pacific") is None and iana_zone("Mars/Olympus") is None and iana_zone("") is None
    assert zone_setting("UTC") == 0 and zone_setting("Coordinated Universal Time") == 0
    assert zone_setting("Central Time (US & Canada)") == "America/Chicago"
    # an abbreviation is the offset it names; one that is an IANA zone of its own stays that
    assert zone_setting("PDT") == -7 * 3600 and zone_setting("aest") == 10 * 3600
    assert zone_setting("EST") == "EST" and zone_setting("CET") == "CET"
    with pytest.raises(ConfigError, match=r"'Eastern Time \(US and Canada\)' is not a time zone.*Did you mean 'Eastern Time \(US & Canada\)'"):
        config_from_dict({"source": {"path": "x.csv", "timezone": "Eastern Time (US and Canada)"}})

    rows = [{"customer_id": "a", "event_time": "2024-01-15 09:00:00", "amount": "1"},   # PST, UTC-8
            {"customer_id": "a", "event_time": "2024-07-15 09:00:00", "amount": "1"}]   # PDT, UTC-7
    path = write_csv(tmp_path, rows, "till.csv")
    log = load_events(events_config(path, timezone="Pacific Time (US & Canada)"))
    times = sorted(log.table.event_time.execute())
    assert times == [pd.Timestamp("2024-01-15 17:00"), pd.Timestamp("2024-07-15 16:00")]


def test_a_time_zone_column_names_zones_or_is_an_error(tmp_path):
    """source.timezone_column: a value that names no zone is named with its rows (its times
    would be hours off), as is a column that is not there; unix times need no zone."""
    from winback.config import config_from_dict

    rows = [{"customer_id": "a", "event_time": "2024-01-15 09:00:00", "amount": "1", "tz": "Mars Time"},
            {"customer_id": "b", "event_time": "2024-01-15 09:00:00", "amount": "1", "tz": "London"}]
    path = write_csv(tmp_path, rows, "till.csv")
    with pytest.raises(DataError, match=r"column 'tz' \(source.timezone_column\): 1 value names no time "
                                        r"zone: 'Mars Time' \(1 rows\)"):
        load_events(events_config(path, timezone_column="tz"))
    with pytest.raises(DataError, match=r"no column 'zone'.*source.timezone_column"):
        load_events(events_config(path, timezone_column="zone"))
    # a zone column names zones as source.timezone does: EST and CET are zones (they were not)
    rows[0]["tz"] = "EST"
    rows[1]["tz"] = "CET"
    log = load_events(events_config(write_csv(tmp_path, rows, "till.csv"), timezone_column="tz"))
    assert sorted(log.table.event_time.execute()) == [pd.Timestamp("2024-01-15 08:00"),
                                                      pd.Timestamp("2024-01-15 14:00")]
    with pytest.raises(ConfigError, match="source.timezone_column does not apply to unix_s"):
        config_from_dict({"source": {"path": "x.csv", "time_format": "unix_s", "timezone_column": "tz"}})


def test_an_orders_total_written_on_each_of_its_lines_is_named(tmp_path, capsys, monkeypatch):
    """A line-item export that writes the order's total on every line (WooCommerce's 'Order
    Total Amount'): summed per line, each order's spend counted once per line. validate says
    so; mapped to the line's price instead, it does not."""
    from winback.cli import main

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    prices = {"MUG": 20.0, "BOWL": 30.0, "CARD": 5.0, "PIN": 3.0}
    rows = []
    for order in range(120):
        customer = f"c{rng.integers(0, 40)}@x.com"
        when = pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 300 * 1440)))
        items = rng.choice(list(prices), int(rng.integers(1, 4)), replace=False)
        total = sum(prices[i] for i in items) + 5.0
        rows += [{"Order ID": 1000 + order, "Order Date": f"{when:%Y-%m-%d %H:%M}", "Billing Email": customer,
                  "SKU": i, "Item Cost": prices[i], "Order Total Amount": total} for i in items]
    pd.DataFrame(rows).to_csv("lines.csv", index=False)
    mapping = ('[source]\npath = "lines.csv"\n[source.columns]\ncustomer_id = "Billing Email"\n'
               'event_time = "Order Date"\norder_id = "Order ID"\nproduct_id = "SKU"\n')
    (tmp_path / "winback.toml").write_text(mapping + 'amount = "Order Total Amount"\n')
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"amount 'Order Total Amount' is the same on every line of (\d+) of the \1 orders with "
                     r"several products \(100 %\)", out)
    (tmp_path / "winback.toml").write_text(mapping + 'price = "Item Cost"\n')
    assert main(["validate"]) == 0
    assert "same on every line" not in capsys.readouterr().out
    # init, which maps the order total by its name, says so before the first train
    assert main(["init", "--path", "lines.csv", "--config", "guessed.toml"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "amount = 'Order Total Amount'" in out and "Check the amount: amount 'Order Total Amount' is the same" in out


def test_a_blank_time_of_day_is_midnight_as_the_format_writes_it(tmp_path):
    """With source.time_of_day, a row whose time is blank reads as its date at midnight, written
    the way the time_format writes times (it used to be unread under a time_format)."""
    from winback.data.canonical import _midnight

    assert [_midnight(f) for f in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%d.%m.%Y %H:%M", "", "%Y%m%d")] == [
        "00:00:00", "12:00 AM", "00:00", "", ""]
    rows = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0], "Date": ["1/5/2024", "1/6/2024"],
                         "Time": ["2:30 PM", None]})
    log = load_events(events_config(write_csv(tmp_path, rows), time_of_day="Time", time_format="%m/%d/%Y %I:%M %p",
                                    columns={"customer_id": "customer_id", "event_time": "Date", "amount": "amount"}))
    assert sorted(log.table.event_time.execute()) == [pd.Timestamp("2024-01-05 14:30"), pd.Timestamp("2024-01-06")]


def test_a_name_written_twice_in_the_header_is_named_when_its_columns_differ(tmp_path, capsys):
    """A sheet with two 'Date' columns (order date, ship date): the mapping reads the first,
    DuckDB names the second 'Date_1'; validate and train say so when they differ (comma or
    semicolon files), not when they repeat the same values, and 'Date_1' reads the second."""
    from winback.cli import main

    columns = {"customer_id": "Customer", "event_time": "Date", "amount": "Amount"}
    rows = ["a,2024-01-01,5,2024-01-04", "b,2024-01-02,6,2024-01-02", "a,2024-02-01,7,2024-02-03"]
    for sep in (",", ";"):
        path = tmp_path / f"orders{len(sep)}{ord(sep)}.csv"
        path.write_text("\n".join(r.replace(",", sep) for r in ["Customer,Date,Amount,Date", *rows]) + "\n")
        log = load_events(events_config(path, columns=columns))
        note = log.summary["repeated_columns"]
        assert re.search(r"event_time reads the first of the columns named 'Date' \(the next is 'Date_1'\), and "
                         r"they differ in 2 of 3 rows.*map that name in \[source.columns\]", note), note
    shipped = load_events(events_config(path, columns={**columns, "event_time": "Date_1"}))
    assert shipped.summary["repeated_columns"] == ""  # the repeat, mapped by its own name
    assert shipped.end == dt.datetime(2024, 2, 3)
    same = tmp_path / "same.csv"
    same.write_text("Customer,Date,Amount,Date\n" + "\n".join(r.rsplit(",", 1)[0] + "," + r.split(",")[1]
                                                              for r in rows) + "\n")
    assert load_events(events_config(same, columns=columns)).summary["repeated_columns"] == ""
    (tmp_path / "winback.toml").write_text(
        f'[source]\npath = "{path.name}"\nlayout = "events"\n[source.columns]\ncustomer_id = "Customer"\n'
        f'event_time = "Date"\namount = "Amount"\n')
    assert main(["validate", "--config", str(tmp_path / "winback.toml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "note: " in out and "has columns named alike in its header" in out


REPORT_ROWS = ["Order ID,Customer Email,Order Date,Total", "O1,a@x.com,2024-01-05 10:00,12.50",
               "O2,b@x.com,2024-02-01 09:00,7.25", "O3,a@x.com,2024-03-01 12:00,1.00"]


def test_title_lines_above_a_csv_header_are_named_and_skipped(tmp_path, capsys, monkeypatch):
    """A till's report starts with its title ('Sales report,,,' as a spreadsheet saves it): it
    was read as the header (columns 'Sales report', column1, ...). The error names the lines
    and skip_rows; skip_rows reads from the header; init writes it. A table whose header
    leaves names blank above rows of numbers is no report title."""
    from winback.cli import main

    path = tmp_path / "report.csv"
    path.write_text("Sales report,,,\nStore: Main,,,\n,,,\n" + "\n".join(REPORT_ROWS) + "\n")
    columns = {"customer_id": "Customer Email", "event_time": "Order Date", "amount": "Total", "order_id": "Order ID"}
    with pytest.raises(DataError, match=r"starts with 3 line\(s\) above its header \('Sales report', 'Store: "
                                         r"Main'\): its header is line 4 \(the columns read now are 'Sales report', "
                                         r"'column1'.*Set source.skip_rows = 3"):
        load_events(events_config(path, columns=columns))
    log = load_events(events_config(path, columns=columns, skip_rows=3))
    assert log.summary["rows"] == 3 and log.table.amount.sum().execute() == pytest.approx(20.75)

    monkeypatch.chdir(tmp_path)
    assert main(["init", "--path", "report.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "3 title line(s) stand above its header: wrote skip_rows = 3" in out
    assert "skip_rows = 3" in (tmp_path / "winback.toml").read_text().splitlines()
    assert main(["validate"]) == 0
    assert "3 events of 2 customers" in " ".join(capsys.readouterr().out.split())

    numbers = tmp_path / "numbers.csv"  # blank names over numbers: a table, read as written
    numbers.write_text("customer_id,,,\n1,2,3,4\n2,3,4,5\n")
    from winback.data.sources import title_lines

    assert title_lines(events_config(numbers).source, numbers, ["customer_id", "column1", "column2", "column3"]) is None


def test_title_lines_above_a_customer_tables_header(tmp_path, capsys, monkeypatch):
    """init --table and [[table.sources]] read a customer table below its title lines too."""
    from winback.cli import main

    (tmp_path / "customers.csv").write_text(
        "Customer export,,\nGenerated 2024-05-01,,\ncustomer_id,spend,churned\n"
        + "\n".join(f"c{i},{i * 1.5},{'yes' if i % 3 == 0 else 'no'}" for i in range(60)) + "\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--table", "--path", "customers.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 title line(s) stand above its header: wrote skip_rows = 2" in out
    text = (tmp_path / "winback.toml").read_text()
    assert "skip_rows = 2" in text.splitlines() and 'key = "customer_id"' in text and 'label = "churned"' in text
    assert main(["validate"]) == 0


def test_input_reads_other_files_with_the_projects_mapping(tmp_path, monkeypatch):
    """`--input`: one path per customer table, in order, or one for an event log; relative to
    where the command runs; a missing file or a wrong count is an error naming what to give."""
    from winback.sinks import describe_output

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for name in ("a.csv", "b.csv", "data/one.csv", "data/two.csv"):
        (tmp_path / name).write_text("id\n1\n")
    tables = config_from_dict({"table": {"key": "id", "label": "y", "sources": [{"path": "x.csv"}, {"path": "y.csv"}]}},
                              base_dir=tmp_path / "project")
    tables.read_from(["a.csv", "b.csv"])
    assert [s.path for s in tables.table.sources] == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    with pytest.raises(ConfigError, match=r"given 1 time\(s\), but this project reads 2 table\(s\).*"
                                          r"in their order \(1\. .*a\.csv, 2\. .*b\.csv\)"):
        tables.read_from(["a.csv"])
    with pytest.raises(ConfigError, match=r"--input 'c\.csv' does not exist; paths are read from"):
        tables.read_from(["a.csv", "c.csv"])
    log = config_from_dict({"source": {"path": "events.csv"}})
    log.read_from(["data/*.csv"])
    assert log.source.path == str(tmp_path / "data" / "*.csv")
    with pytest.raises(ConfigError, match=r"no file matches the pattern"):
        log.read_from(["data/*.parquet"])
    with pytest.raises(ConfigError, match=r"an event log is one source: give it once"):
        log.read_from(["a.csv", "b.csv"])
    # `score --table new.csv` meant --input; a table name for a file output is refused
    with pytest.raises(ConfigError, match=r"--table names the table of a DuckDB or PostgreSQL output.*--input"):
        describe_output("scores.parquet", "new.csv")
    assert describe_output("scores.duckdb", "s") == "table s in scores.duckdb"


def test_a_csv_line_with_a_stray_delimiter_is_named_not_misread(tmp_path, capsys):
    """A value holding the delimiter unquoted gives its line more fields than the header. Among
    the lines DuckDB sniffs, it read the file as one column (comma) or skipped the header and
    the rows above that line as if they were title lines (semicolon); further down, it failed
    with its own message. Each is now the file, the line and what to do."""
    from winback.cli import main

    header, good = "customer_id,event_time,amount", ["a,2024-01-05,10", "b,2024-01-06,12"]
    (tmp_path / "comma.csv").write_text("\n".join([header, *good, "c,2024-01-07,Smith, John", "d,2024-01-08,3"]) + "\n")
    with pytest.raises(DataError, match=r"comma\.csv' line 4 has 4 fields where its header has 3: "
                                        r"'c,2024-01-07,Smith, John'\. A value that holds the delimiter "
                                        r"\(comma\) must be in double quotes"):
        load_events(events_config(tmp_path / "comma.csv"))
    semi = "customer_id;event_time;amount\na;2024-01-05;10\nb;2024-01-06;1;5\nc;2024-01-07;3\n"
    (tmp_path / "semi.csv").write_text(semi)
    with pytest.raises(DataError, match=r"line 3 has 4 fields where its header has 3: 'b;2024-01-06;1;5'.*"
                                        r"\(semicolon\)"):
        load_events(events_config(tmp_path / "semi.csv"))
    with pytest.raises(DataError, match=r"line 3 has 4 fields"):  # the same with the delimiter named
        load_events(events_config(tmp_path / "semi.csv", delimiter=";"))
    # past the lines DuckDB sniffs (20,480), the failure comes while reading, from anywhere
    rows = [f"c{i % 50},2024-01-{1 + i % 28:02d},{i % 9 + 1}" for i in range(30_000)]
    rows.insert(25_000, "x,2024-01-02,1,5")
    (tmp_path / "late.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "winback.toml").write_text(
        '[source]\npath = "late.csv"\nlayout = "events"\n')
    assert main(["validate", "-c", str(tmp_path / "winback.toml")]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert "late.csv' line 25002 has 4 fields where its header has 3: 'x,2024-01-02,1,5'" in said
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(DataError, match=r"empty\.csv' is empty: it holds no header and no rows"):
        load_events(events_config(tmp_path / "empty.csv"))


def test_bad_lines_skip_reads_the_rest_and_says_which_lines_it_left_out(tmp_path, capsys):
    """bad_lines = "skip": the lines with more or fewer fields than the header are left out,
    counted and named in validate's notes (event logs) and the table's notes (customer tables)."""
    from winback.cli import main
    from winback.data.tables import load_customer_table

    rows = ["customer_id,event_time,amount"] + [f"c{i},2024-01-{1 + i % 28:02d},{i + 1}" for i in range(30)]
    rows.insert(3, "x,2024-01-02,1,5")  # an early line: it once made DuckDB read one column
    rows.append("y,2024-01-03")
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    skipping = events_config(tmp_path / "log.csv", bad_lines="skip")
    log = load_events(skipping)
    assert log.summary["rows"] == 30
    assert log.summary["skipped_lines"] == (
        "2 CSV line(s) with more or fewer fields than the header were skipped (bad_lines = \"skip\"): "
        "log.csv line 4: 'x,2024-01-02,1,5'; log.csv line 33: 'y,2024-01-03'")
    with pytest.raises(DataError, match=r"line 4 has 4 fields"):
        load_events(events_config(tmp_path / "log.csv"))
    (tmp_path / "winback.toml").write_text(
        '[source]\npath = "log.csv"\nlayout = "events"\nbad_lines = "skip"\n')
    assert main(["validate", "-c", str(tmp_path / "winback.toml")]) == 0
    assert "note: 2 CSV line(s) with more or fewer fields than the header were skipped" in capsys.readouterr().out
    with pytest.raises(ConfigError, match=r"source.bad_lines must be one of error, skip, got 'ignore'"):
        events_config(tmp_path / "log.csv", bad_lines="ignore")
    people = ["id,visits,left"] + [f"p{i},{i % 7},{'yes' if i % 3 else 'no'}" for i in range(40)]
    people.insert(10, "p99,3,no,extra")
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n")
    cfg = config_from_dict({"table": {"key": "id", "label": "left", "positive": ["yes"],
                                      "sources": [{"path": "people.csv", "bad_lines": "skip"}]}},
                           base_dir=tmp_path)
    table = load_customer_table(cfg)
    assert len(table.frame) == 40 and "p99" not in set(table.frame["id"])
    assert table.notes[0].startswith("1 CSV line(s) with more or fewer fields than the header were "
                                     "skipped (bad_lines = \"skip\"): people.csv line 11: 'p99,3,no,extra'")


def test_events_on_a_placeholder_date_are_named(tmp_path):
    """An export writes 1970-01-01 or 1900-01-01 for a missing date: such events gave their
    customers decades of history without a word from validate."""
    from winback.project import Project

    rows = pd.DataFrame({"customer_id": ["a", "b", "c", "a", "d"],
                         "event_time": ["2024-01-01", "1970-01-01 00:00:00", "1900-01-01", "2024-03-01", "1970-01-01"],
                         "amount": [5.0, 6.0, 7.0, 2.0, 1.0]})
    note = Project(events_config(write_csv(tmp_path, rows))).validate()["placeholder_dates"]
    assert note == ("3 event(s) fall on days that exports write for a missing date (1 on 1900-01-01, 2 on "
                    "1970-01-01), before the rest of the log, which starts 2024-01-01: read as real, they "
                    "give their customers decades of history and set the log's start. Fix or remove these "
                    "rows in the source.")
    rows["event_time"] = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-03-01", "2024-03-02"]
    assert Project(events_config(write_csv(tmp_path, rows))).validate()["placeholder_dates"] == ""
