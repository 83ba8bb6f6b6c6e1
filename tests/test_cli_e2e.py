"""End-to-end: the CLI on real bundled data."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from winback.cli import main
from winback.datasets import dataset_dir

CDNOW_CSV = dataset_dir("cdnow") / "cdnow_master.csv"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out


def test_demo_writes_bundle_report_and_scores(demo):
    manifest = json.loads((demo / "bundle" / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["fingerprint"]
    assert {c["role"] for c in manifest["cutoffs"]} == {"train", "valid", "test"}
    test_cut = next(c for c in manifest["cutoffs"] if c["role"] == "test")
    assert all(c["window_end"] <= test_cut["time"] for c in manifest["cutoffs"] if c["role"] != "test")
    board = {r["candidate"]: r for r in manifest["leaderboard"]}
    assert set(board) == {"logistic", "lightgbm", "bgnbd"}
    # published reference on this protocol: BG/NBD 0.763, logistic regression 0.771
    assert board["bgnbd"]["roc_auc"] == pytest.approx(0.763, abs=0.005)
    assert max(r["roc_auc"] for r in board.values()) > 0.765
    html = (demo / "report.html").read_text()
    assert "Leaderboard" in html and html.count("data:image/png;base64,") >= 5
    assert "http://" not in html and "https://" not in html  # opens offline
    # CDNOW's training windows are truncated (91 days at validation vs a 273-day horizon)
    assert "labels cover 91 to 203 days" in html and "carried to 273 days by a window term" in html
    scores = pd.read_csv(demo / "scores.csv", dtype={"customer_id": str})
    assert len(scores) == 23_570 and scores["rank"].tolist() == list(range(1, 23_571))
    assert scores.probability.between(0, 1).all() and scores.probability.is_monotonic_decreasing
    assert sorted(scores.decile.unique()) == list(range(1, 11))
    # flagged = at or above the chosen model's F1-best threshold
    assert (scores.flagged == (scores.probability >= manifest["threshold"])).all()
    assert manifest["decision"]["rule"] == "f1" and 0 < scores.flagged.mean() < 1
    # risk x value segments: value is predicted spend (BG/NBD x Gamma-Gamma) over the horizon
    assert scores.segment.nunique() == 4 and scores.action.notna().all()
    assert (scores.value >= 0).all() and scores.value.corr(scores.probability, method="spearman") > 0.5
    assert manifest["segments"]["rule"]["value_column"] == "predicted spend"
    assert sum(s["customers"] for s in manifest["segments"]["sizes"]) == 23_570
    assert 'id="segments"' in html and "Valuable, slipping away" in html
    assert not list(demo.glob(".*tmp*"))


def test_score_cli_with_bundle(demo, tmp_path):
    out = tmp_path / "s.parquet"
    assert main(["score", "--dataset", "cdnow", "--bundle", str(demo / "bundle"), "--cutoff",
                 "1998-01-01", "-o", str(out), "-q"]) == 0
    s = pd.read_parquet(out)
    assert len(s) == 23_570 and (s.cutoff == pd.Timestamp("1998-01-01")).all()
    # without --bundle, the bundle `train` wrote for the project (<output.dir>/bundle) is read
    default = tmp_path / "default.parquet"
    assert main(["score", "--dataset", "cdnow", "--out", str(demo), "--cutoff", "1998-01-01",
                 "-o", str(default), "-q"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(default), s)


def test_score_and_serve_without_bundle_or_project(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no winback.toml here
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    # serve has no --dataset: it asks for a bundle, not for the bundled data
    assert "No --bundle given, and no winback.toml here" in err and "name one with --bundle" in err
    assert main(["score", "--features", str(tmp_path / "f.parquet"), "-o", str(tmp_path / "x.csv")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "No --bundle given" in err and "winback.toml' does not exist" in err
    assert "`winback init <your file>`" in err and "`--dataset cdnow`" in err
    # a project that has not been trained yet: its default bundle is not there
    (tmp_path / "winback.toml").write_text(f'[source]\npath = "{CDNOW_CSV}"\nlayout = "cdnow"\n')
    assert main(["serve", "--out", str(tmp_path / "never")]) == 2
    assert f"'{tmp_path / 'never' / 'bundle'}' is not a winback bundle" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    cfg = tmp_path / "winback.toml"
    cfg.write_text(f'[source]\npath = "{tmp_path / "missing.csv"}"\n[output]\ndir = "{tmp_path / "out"}"\n')
    assert main(["train", "--config", str(cfg), "-q"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["score", "--config", str(cfg), "--bundle", str(tmp_path), "-o", str(tmp_path / "x.csv")]) == 2
    assert "not a winback bundle" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_init_then_validate(tmp_path, capsys):
    from winback.datasets import cdnow_path

    cfg = tmp_path / "winback.toml"
    assert main(["init", "--layout", "cdnow", "--path", str(cdnow_path("sample")), "--config", str(cfg)]) == 0
    text = cfg.read_text()
    assert 'duplicates = "keep"' in text
    # the sample file has an extra sample_id column; the cdnow mapping ignores it
    assert main(["validate", "--config", str(cfg)]) == 0
    assert "6,919 events of 2,357 customers" in capsys.readouterr().out


def test_init_fits_the_horizon_to_a_short_log(tmp_path, capsys):
    """A 150-day log cannot hold four 90-day cutoffs: init writes settings that train accepts."""
    import tomllib

    from winback.config import load_config
    from winback.data.canonical import load_events
    from winback.datasets import generate_rees46
    from winback.labels import plan_cutoffs

    generate_rees46(tmp_path / "events.parquet", rows=20_000, days=150)
    cfg_path = tmp_path / "winback.toml"
    # no --layout: the REES46 columns are recognised
    assert main(["init", "--path", "events.parquet", "--config", str(cfg_path)]) == 0
    out = capsys.readouterr().out
    assert "too short for a 90-day horizon" in out and "Recognised the rees46 layout" in out
    assert tomllib.loads(cfg_path.read_text())["source"]["layout"] == "rees46"
    problem = tomllib.loads(cfg_path.read_text())["problem"]
    assert (problem["horizon_days"], problem["cutoff_step_days"]) == (30, 14)
    cfg = load_config(cfg_path)
    log = load_events(cfg, materialize=False)
    assert len(plan_cutoffs(cfg.problem, log.start, log.end).train) == 3
    # a source that is not there yet keeps the defaults and says so
    other = tmp_path / "later.toml"
    assert main(["init", "--layout", "rees46", "--path", "later/*.parquet", "--config", str(other)]) == 0
    assert "does not exist yet" in capsys.readouterr().out
    assert tomllib.loads(other.read_text())["problem"]["horizon_days"] == 90


def test_a_log_bgnbd_cannot_describe_trains_without_it(tmp_path, capsys, monkeypatch):
    """A candidate that cannot be fitted (here BG/NBD, made to diverge as it does on a log where
    every customer buys at one rate) is left out: the run says why on the console and in the
    report, and the other candidates carry on."""
    from winback.models.bgnbd import BGNBD

    def diverge(self, x, t_x, T):
        raise ValueError("BG/NBD diverged on these customers (r = 2e+05, alpha = 1e+06)")

    monkeypatch.setattr(BGNBD, "fit_summary", diverge)  # the population features too
    assert main(["train", "--dataset", "cdnow", "--out", str(tmp_path / "out"), "--no-track"]) == 0
    manifest = json.loads((tmp_path / "out" / "bundle" / "manifest.json").read_text())
    assert "diverged" in manifest["skipped_candidates"]["bgnbd"]
    assert sorted(r["candidate"] for r in manifest["leaderboard"]) == ["lightgbm", "logistic"]
    assert "bgnbd is left out of the leaderboard" in capsys.readouterr().err
    assert "bgnbd is not on the leaderboard: BG/NBD diverged" in \
        (tmp_path / "out" / "report.html").read_text()


def test_an_output_folder_that_is_a_file_stops_the_run_before_training(tmp_path, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    for dataset in ("cdnow", "oneclick"):
        assert main(["train", "--dataset", dataset, "--out", str(blocker), "-q", "--no-track"]) == 2
        err = capsys.readouterr().err
        assert "is a file, not a folder" in err and "Fitting" not in err
    assert blocker.read_text() == "not a folder"


def test_serve_on_a_taken_port_says_so(demo, capsys):
    import socket

    out = demo
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", "--bundle", str(out / "bundle"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"Cannot listen on 127.0.0.1:{port}" in err and "--port" in err
    # a port past 65535 used to start a service on another port than the one it announced
    for args, message in ((["--port", "70000"], "--port must be between 1 and 65535"),
                          (["--max-batch", "0"], "--max-batch must be at least 1"),
                          (["--max-body-bytes", "10"], "--max-body-bytes must be at least 1024")):
        assert main(["serve", "--bundle", str(out / "bundle"), *args]) == 2
        assert message in capsys.readouterr().err


def test_init_maps_a_log_with_its_own_names_and_formats(tmp_path, capsys, monkeypatch):
    """cust / ts (milliseconds since 1970) / kind (View, AddToCart, Purchase) / amount with a
    decimal comma: init maps the columns by name, applies the settings the read names as
    fixes, maps the event types, and the config it writes trains as written."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    n = 6_000
    start = int(pd.Timestamp("2024-01-01", tz="UTC").timestamp() * 1000)
    pd.DataFrame({"cust": [f"u{i}" for i in rng.integers(0, 600, n)],
                  "ts": start + rng.integers(0, 360 * 86_400_000, n),
                  "kind": rng.choice(["View", "AddToCart", "Purchase"], n, p=[0.6, 0.2, 0.2]),
                  "amount": [f"{v:.2f}".replace(".", ",") for v in rng.gamma(2, 20, n)]}
                 ).to_csv("log.csv", index=False, sep=";")
    assert main(["init", "--layout", "events", "--path", "log.csv"]) == 0
    out = capsys.readouterr().out
    assert "customer_id = 'cust', event_time = 'ts', event_type = 'kind'" in out
    text = (tmp_path / "winback.toml").read_text()
    for line in ('customer_id = "cust"', 'event_time = "ts"', 'event_type = "kind"', 'amount = "amount"',
                 'time_format = "unix_ms"', 'decimal = ","', '"Purchase" = "purchase"', '"AddToCart" = "cart"'):
        assert line in text.splitlines(), line
    assert main(["train", "-q", "--no-track"]) == 0
    manifest = json.loads((tmp_path / "winback-out" / "bundle" / "manifest.json").read_text())
    assert manifest["data"]["event_types"]["purchase"] > 1000


def test_init_reads_amounts_written_with_a_currency_and_thousands(tmp_path, capsys, monkeypatch):
    """A shop export's '$2,080.25': init applies the currency sign and the separator the read
    names, one after the other, and the amounts validate as the numbers meant."""
    monkeypatch.chdir(tmp_path)
    amounts = ["$2,080.25", "$177.46", "$1,108.57"] * 40
    pd.DataFrame({"Customer ID": [f"C{i % 30}" for i in range(len(amounts))],
                  "Created at": pd.date_range("2024-01-01", periods=len(amounts), freq="3D").strftime("%Y-%m-%d %H:%M:%S"),
                  "Total": amounts}).to_csv("orders.csv", index=False)
    assert main(["init", "--layout", "events", "--path", "orders.csv"]) == 0
    assert "Set thousands = ',' and currency = '$' to read it." in " ".join(capsys.readouterr().out.split())
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    assert 'thousands = ","' in lines and 'currency = "$"' in lines
    from winback.config import load_config
    from winback.data import load_events

    log = load_events(load_config(tmp_path / "winback.toml"))
    assert float(log.table.amount.sum().execute()) == pytest.approx(40 * (2080.25 + 177.46 + 1108.57))


def test_init_writes_a_working_config_for_a_german_excel_export(tmp_path, capsys, monkeypatch):
    """Windows-1252 text, German headers, 05.01.2024 14:30 dates and '1.234,50 €' amounts, as
    Excel writes them in Germany: init maps the columns by their German names and applies the
    encoding, date format, decimal comma, thousands point and currency the reads name."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    amounts = rng.uniform(3, 3000, 600).round(2)
    written = [f"{a:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + " €" for a in amounts]
    times = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 500 * 1440, 600), unit="min")
    pd.DataFrame({"Kundennummer": [f"K{i}" for i in rng.integers(0, 80, 600)],
                  "Bestelldatum": times.strftime("%d.%m.%Y %H:%M"), "Umsatz": written,
                  "Menge": rng.integers(1, 5, 600)}).to_csv("bestellungen.csv", sep=";", index=False,
                                                            encoding="cp1252")
    assert main(["init", "--path", "bestellungen.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("customer_id = 'Kundennummer', event_time = 'Bestelldatum', amount = 'Umsatz', "
            "quantity = 'Menge'") in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('encoding = "cp1252"', 'time_format = "%d.%m.%Y %H:%M"', 'decimal = ","',
                 'thousands = "."', 'currency = "€"'):
        assert line in lines, line
    from winback.config import load_config
    from winback.data import load_events

    log = load_events(load_config(tmp_path / "winback.toml"))
    assert float(log.table.amount.sum().execute()) == pytest.approx(amounts.sum())


def test_init_writes_a_working_config_for_a_segment_export(tmp_path, capsys, monkeypatch):
    """A Segment (or RudderStack) track export as JSON lines: the event name is `event`, not
    `type` (track / page), revenue and order ids nest under properties, anonymous events have
    no userId. init maps them, maps 'Product Added' and 'Order Completed' to cart and purchase,
    and drops the anonymous rows, saying so."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    with open("segment.jsonl", "w") as out:
        for i in range(3000):
            name = str(rng.choice(["Product Viewed", "Product Added", "Order Completed", "Checkout Started"],
                                  p=[0.6, 0.2, 0.1, 0.1]))
            record = {"type": "track", "event": name, "anonymousId": f"a{i}",
                      "userId": f"u{rng.integers(0, 300)}" if rng.random() > 0.1 else None,
                      "timestamp": (pd.Timestamp("2023-01-01") + pd.Timedelta(seconds=int(rng.integers(0, 400 * 86400)))
                                    ).isoformat() + "Z", "properties": {"product_id": f"p{rng.integers(0, 50)}"}}
            if name == "Order Completed":
                record["properties"].update(order_id=f"o{i}", revenue=float(rng.uniform(5, 300)))
            out.write(json.dumps(record) + "\n")
    assert main(["init", "--path", "segment.jsonl"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Set drop_missing_customers = true to read it" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('customer_id = "userId"', 'event_type = "event"', 'amount = "properties.revenue"',
                 'order_id = "properties.order_id"', "drop_missing_customers = true",
                 '"Product Added" = "cart"', '"Order Completed" = "purchase"'):
        assert line in lines, line
    assert main(["validate"]) == 0
    assert "rows without a customer id dropped" in capsys.readouterr().out


def test_train_warns_of_one_id_holding_every_guest(tmp_path, capsys, monkeypatch):
    """Users often train without `winback validate`: train says so too when one id (here a
    shop's guest 0) holds a third of the events, even with -q (a cron job's log)."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(6)
    n = 4000
    pd.DataFrame({"customer_id": np.where(rng.random(n) < 0.35, 0, rng.integers(1, 600, n)),
                  "event_time": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540 * 1440, n), unit="min")
                                 ).strftime("%Y-%m-%d %H:%M"),
                  "amount": rng.uniform(5, 200, n).round(2)}).to_csv("orders.csv", index=False)
    assert main(["init", "--path", "orders.csv"]) == 0
    capsys.readouterr()
    assert main(["train", "--no-track", "-q"]) == 0  # quiet silences progress, not warnings
    err = " ".join(capsys.readouterr().err.split())  # progress and warnings go to stderr
    assert "customer '0' has" in err and "missing_customer_ids" in err and "✓" not in err


def _woocommerce_export(path: str, seed: int = 4) -> pd.DataFrame:
    """An order export as WooCommerce plugins write it: one row per order, whatever its status."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 4000
    statuses = ["Completed", "Processing", "Failed", "Cancelled", "Pending payment", "Refunded"]
    frame = pd.DataFrame({
        "Order Number": np.arange(1000, 1000 + n),
        "Order Status": rng.choice(statuses, n, p=[0.62, 0.1, 0.1, 0.08, 0.05, 0.05]),
        "Order Date": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540 * 1440, n), unit="min")
                       ).strftime("%Y-%m-%d %H:%M"),
        "Customer User ID": rng.integers(1, 500, n),
        "Order Total Amount": rng.uniform(5, 200, n).round(2),
        "Item Count": rng.integers(1, 5, n)})
    frame.to_csv(path, index=False)
    return frame


def test_init_counts_only_the_orders_a_status_calls_sales(tmp_path, capsys, monkeypatch):
    """A WooCommerce export holds failed, cancelled and pending orders too: every row used to be
    read as a purchase (and 'Item Count' as the product). init now reads the event type from
    'Order Status': paid ones are purchases, refunded ones too (the sales they were when placed:
    the export dates no refund), the rest events of their customer."""
    monkeypatch.chdir(tmp_path)
    frame = _woocommerce_export("orders.csv")
    assert main(["init", "--path", "orders.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Orders are sales by their 'Order Status'" in out
    assert "Refunded orders ('Refunded') are read as the sales they were when placed" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('event_type = "Order Status"', 'quantity = "Item Count"', '"Completed" = "purchase"',
                 '"Processing" = "purchase"', '"Refunded" = "purchase"',
                 "# refunded, read as the sales they were when placed (the export dates no refund): Refunded"):
        assert line in lines, line
    assert not any(line.startswith(("product_id", '"Failed"', '"Cancelled"')) for line in lines)
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    sales = int(frame["Order Status"].isin(["Completed", "Processing", "Refunded"]).sum())
    assert f"event types purchase {sales:,}" in out and "note:" not in out
    assert main(["train", "--no-track", "-q"]) == 0


def test_init_recognises_a_ga4_export_and_maps_no_event_type_further(tmp_path, capsys, monkeypatch):
    """init on GA4's JSON lines: the ga4 layout, its pings without a visitor dropped, and no
    [source.event_types] (page_view is no product view); validate advises no mapping either,
    and says which purchases it reads as one recorded twice."""
    import json

    from test_layouts import ga4_rows

    monkeypatch.chdir(tmp_path)
    (tmp_path / "events_20240105.jsonl").write_text("\n".join(json.dumps(r) for r in ga4_rows()) + "\n")
    assert main(["init", "--path", "events_20240105.jsonl"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Recognised the ga4 layout" in out
    text = (tmp_path / "winback.toml").read_text()
    assert "drop_missing_customers = true" in text.splitlines() and "[source.event_types]" not in text
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "7 events of 2 customers" in out and "page_view 2" not in out and "are not mapped" not in out
    assert "note: 1 of the 2 purchase events with a transaction id repeat one" in out  # the reload, said


def test_init_recognises_a_stripe_payments_export(tmp_path, capsys, monkeypatch):
    """init on Stripe's unified_payments.csv: the stripe layout (the payment's id as the order,
    where the events layout took the mostly empty Invoice ID), the thousands separator of its
    amounts and guests without an e-mail dropped; validate reads refunds as returns."""
    from test_layouts import STRIPE

    monkeypatch.chdir(tmp_path)
    (tmp_path / "unified_payments.csv").write_text(STRIPE)
    assert main(["init", "--path", "unified_payments.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Recognised the stripe layout" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    assert any(line.startswith('layout = "stripe" ') for line in lines)
    for line in ('thousands = ","', "drop_missing_customers = true"):
        assert line in lines, line
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "11 events of 4 customers" in out and "purchase 6" in out and "return 3" in out, out
    assert "note:" not in out


def test_init_recognises_a_paypal_activity_download(tmp_path, capsys, monkeypatch):
    """init on PayPal's Download.CSV: the paypal layout (payers and payees as customers, the
    account's own movements dropped), its TimeZone column of PST and PDT as each row's zone,
    and the thousands separator of its amounts; validate then reads it as written."""
    from test_layouts import PAYPAL

    monkeypatch.chdir(tmp_path)
    (tmp_path / "Download.CSV").write_text(PAYPAL)
    assert main(["init", "--path", "Download.CSV"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Recognised the paypal layout" in out and "wrote timezone_column = 'TimeZone'" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    assert any(line.startswith('layout = "paypal" ') for line in lines)
    for line in ('timezone_column = "TimeZone"', 'timezone = "America/Los_Angeles"', 'thousands = ","',
                 "drop_missing_customers = true"):
        assert line in lines, line
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "5 events of 3 customers" in out and "5 rows without a customer id dropped" in out


def test_init_recognises_a_shopify_export_and_maps_no_status_again(tmp_path, capsys, monkeypatch):
    """The shopify layout reads its statuses itself: init must not map its 'cancelled' orders to
    returns as it would an event log's 'Order Cancelled'."""
    from test_layouts import SHOPIFY

    monkeypatch.chdir(tmp_path)
    (tmp_path / "orders_export.csv").write_text(SHOPIFY)
    assert main(["init", "--path", "orders_export.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Recognised the shopify layout" in out and "'cancelled'" in out and "'pending'" in out and "are no sale" in out
    assert "2 of the 3 refunded orders have no refund date" in out  # said before the first validate
    text = (tmp_path / "winback.toml").read_text()
    assert 'layout = "shopify"' in text and "[source.event_types]" not in text
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # refunded orders were sales; the one refund its cancellation dates is a return of each line
    assert all(f"{kind}," in out or f"{kind};" in out for kind in ("purchase 7", "cancelled 1", "return 2", "pending 1"))
    assert "2 of the 3 refunded orders have no refund date" in out


def test_validate_and_train_name_a_status_column_left_unread(tmp_path, capsys, monkeypatch):
    """A config written by hand (or by an older init) reads every order as a purchase: validate
    and train name the status column, the share it calls no sale, and the mapping to add."""
    monkeypatch.chdir(tmp_path)
    frame = _woocommerce_export("orders.csv")
    (tmp_path / "winback.toml").write_text(
        '[source]\npath = "orders.csv"\n[source.columns]\ncustomer_id = "Customer User ID"\n'
        'event_time = "Order Date"\namount = "Order Total Amount"\n')
    assert main(["validate"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    unread = int((~frame["Order Status"].isin(["Completed", "Processing", "Refunded"])).sum())
    assert f"column 'Order Status' says {unread:,} of them" in out
    assert 'event_type = "Order Status" [source.event_types] "Completed" = "purchase"' in out
    assert main(["train", "--no-track", "-q"]) == 0
    assert "column 'Order Status' says" in " ".join(capsys.readouterr().err.split())


def test_amounts_in_several_currencies_are_named(tmp_path, capsys, monkeypatch):
    """A Stripe payments export: amounts in usd, eur and jpy (a yen charge is 150 dollar
    charges' spend if summed as one) beside 'Converted Amount' in the account's currency. init
    maps the converted one and the Status; a config that sums 'Amount' is told what to map."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(8)
    n = 3000
    currency = rng.choice(["usd", "eur", "jpy"], n, p=[0.6, 0.3, 0.1])
    converted = rng.uniform(10, 200, n).round(2)
    pd.DataFrame({"id": [f"ch_{i}" for i in range(n)],
                  "Created (UTC)": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540 * 1440, n), unit="min")
                                    ).strftime("%Y-%m-%d %H:%M:%S"),
                  "Amount": np.where(currency == "jpy", converted * 150, converted).round(2),
                  "Currency": currency, "Converted Amount": converted, "Customer ID": rng.integers(1, 400, n),
                  "Status": rng.choice(["Paid", "Failed", "Refunded"], n, p=[0.85, 0.1, 0.05])}
                 ).to_csv("unified_payments.csv", index=False)
    assert main(["init", "--path", "unified_payments.csv"]) == 0
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    assert 'amount = "Converted Amount"' in lines and 'event_type = "Status"' in lines
    capsys.readouterr()
    assert main(["validate"]) == 0
    assert "note:" not in capsys.readouterr().out
    (tmp_path / "summed.toml").write_text(
        '[source]\npath = "unified_payments.csv"\n[source.columns]\ncustomer_id = "Customer ID"\n'
        'event_time = "Created (UTC)"\namount = "Amount"\nevent_type = "Status"\n'
        '[source.event_types]\n"Paid" = "purchase"\n"Refunded" = "return"\n')
    assert main(["validate", "-c", "summed.toml"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"come in 3 currencies by column 'Currency' \(USD \d+ %, EUR \d+ %, JPY \d+ %\)", out)
    assert "map amount to 'Converted Amount'" in out


def test_init_reads_a_date_and_a_time_of_day_in_two_columns(tmp_path, capsys, monkeypatch):
    """A till export (Square) writes Date and Time apart: 'Time' used to be guessed as the event
    time and fail to read. init now reads the date with its time of day, and the format, the
    dollar signs and the Payment / Refund types that go with them."""
    import dataclasses

    import numpy as np

    from winback.config import load_config
    from winback.data import load_events
    from winback.errors import DataError

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(12)
    n = 3000
    when = pd.Timestamp("2023-01-01 08:00") + pd.to_timedelta(rng.integers(0, 540 * 1440, n), unit="min")
    frame = pd.DataFrame({"Date": when.strftime("%m/%d/%Y"), "Time": when.strftime("%H:%M:%S"),
                          "Gross Sales": [f"${v:.2f}" for v in rng.uniform(4, 60, n)],
                          "Customer ID": [f"C{i:04d}" for i in rng.integers(0, 300, n)],
                          "Event Type": rng.choice(["Payment", "Refund"], n, p=[0.95, 0.05])})
    frame.to_csv("transactions.csv", index=False)
    assert main(["init", "--path", "transactions.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "time_of_day = 'Time' reads them together" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('time_of_day = "Time"', 'time_format = "%m/%d/%Y %H:%M:%S"', 'currency = "$"',
                 'event_time = "Date"', '"Payment" = "purchase"', '"Refund" = "return"'):
        assert line in lines, line
    cfg = load_config(tmp_path / "winback.toml")
    log = load_events(cfg)
    assert (log.start, log.end) == (when.min(), when.max())
    cfg = dataclasses.replace(cfg, source=dataclasses.replace(cfg.source, time_of_day="Hour"))
    with pytest.raises(DataError, match="no column 'Hour', which source.time_of_day"):
        load_events(cfg)


def test_init_reads_the_zone_a_till_export_names_and_its_net_sales(tmp_path, capsys, monkeypatch):
    """Square writes each payment's zone in Rails' words ('Pacific Time (US & Canada)') and its
    sales before and after discounts. init used to leave the times in UTC, eight hours off
    (hour features on the wrong clock, cutoffs cutting days in the wrong place), and to take
    Gross Sales, discounts included, for what customers spent."""
    import numpy as np

    from winback.config import load_config
    from winback.data import load_events

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(21)
    n = 2000
    when = (pd.Timestamp("2023-01-01 08:00") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 12 * 60, n), unit="min"))  # opening hours, 8 to 20
    gross = rng.uniform(4, 60, n).round(2)
    discount = np.where(rng.random(n) < 0.3, (gross * 0.2).round(2), 0.0)
    frame = pd.DataFrame({"Date": when.strftime("%Y-%m-%d"), "Time": when.strftime("%H:%M:%S"),
                          "Time Zone": "Pacific Time (US & Canada)",
                          "Gross Sales": gross, "Discounts": -discount, "Net Sales": gross - discount,
                          "Customer ID": [f"C{i:04d}" for i in rng.integers(0, 300, n)]})
    frame.to_csv("transactions.csv", index=False)
    assert main(["init", "--path", "transactions.csv"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Times are in 'Pacific Time (US & Canada)' by its 'Time Zone' column" in out
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('timezone = "America/Los_Angeles"', 'amount = "Net Sales"'):
        assert line in lines, line
    log = load_events(load_config(tmp_path / "winback.toml"))
    utc = when.tz_localize("America/Los_Angeles").tz_convert("UTC").tz_localize(None)
    assert (log.start, log.end) == (utc.min(), utc.max())
    spent = log.table.amount.sum().execute()
    assert spent == pytest.approx((gross - discount).sum(), rel=1e-9)

    # a chain's export in two zones: each row is read in its own
    frame["Time Zone"] = np.where(rng.random(n) < 0.6, "Eastern Time (US & Canada)", "London")
    frame.to_csv("chain.csv", index=False)
    assert main(["init", "--path", "chain.csv", "--config", "chain.toml", "--force"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"Times are in several zones by its 'Time Zone' column \('Eastern Time \(US & "
                     r"Canada\)' \([\d,]+ rows\), 'London' \([\d,]+ rows\)\): wrote timezone_column = 'Time Zone', "
                     r".* and timezone = 'America/New_York', the most common", out)
    lines = (tmp_path / "chain.toml").read_text().splitlines()
    assert 'timezone_column = "Time Zone"' in lines and 'timezone = "America/New_York"' in lines
    events = load_events(load_config(tmp_path / "chain.toml")).table.execute()
    zones = frame["Time Zone"].map({"London": "Europe/London", "Eastern Time (US & Canada)": "America/New_York"})
    expected = sorted(pd.Timestamp(f"{d} {t}").tz_localize(z).tz_convert("UTC").tz_localize(None)
                      for d, t, z in zip(frame.Date, frame.Time, zones))
    assert sorted(events.event_time) == expected

    # a zone column of offsets is read as such
    frame["Time Zone"] = "+02:00"
    frame.to_csv("offsets.csv", index=False)
    assert main(["init", "--path", "offsets.csv", "--config", "offsets.toml", "--force"]) == 0
    assert 'timezone = "+02:00"' in (tmp_path / "offsets.toml").read_text().splitlines()

    # PayPal labels each time PST or PDT: each row is read at its exact offset, and the shop's
    # clock is Los Angeles through winter and summer
    local = pd.to_datetime(frame.Date + " " + frame.Time).dt.tz_localize("America/Los_Angeles")
    frame["Time Zone"] = [t.tzname() for t in local]
    frame.to_csv("paypal.csv", index=False)
    assert main(["init", "--path", "paypal.csv", "--config", "paypal.toml", "--force"]) == 0
    lines = (tmp_path / "paypal.toml").read_text().splitlines()
    assert 'timezone_column = "Time Zone"' in lines and 'timezone = "America/Los_Angeles"' in lines
    events = load_events(load_config(tmp_path / "paypal.toml")).table.execute()
    assert sorted(events.event_time) == sorted(local.dt.tz_convert("UTC").dt.tz_localize(None))


def test_init_reads_an_ebay_orders_report(tmp_path, capsys, monkeypatch):
    """eBay's orders report: the buyer is 'Buyer Username' (no customer column was found),
    'Sales Record Number' is no amount (it was taken for one: 'sales'), and dates are written
    'Jan-05-24'."""
    from winback.config import load_config
    from winback.data import load_events

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ebay.csv").write_text(
        "Sales Record Number,Order Number,Buyer Username,Buyer Name,Buyer Email,Item Number,Item Title,"
        "Quantity,Sold For,Shipping And Handling,eBay Collected Tax,Total Price,Sale Date,Paid On Date\n"
        "1001,12-34567-89012,jdoe77,John Doe,jdoe@example.com,123456789012,Lamp,1,$45.00,$8.00,$3.60,$56.60,"
        "Jan-05-24,Jan-05-24\n"
        "1002,12-34567-89013,asmith,Ann Smith,ann@example.com,123456789013,Clock,2,$30.00,$5.00,$4.80,$69.80,"
        "Feb-11-24,Feb-11-24\n"
        "1003,12-34567-89014,jdoe77,John Doe,jdoe@example.com,123456789014,Bell,1,$12.00,$4.00,$0.96,$16.96,"
        "Mar-02-24,Mar-02-24\n")
    assert main(["init", "--path", "ebay.csv"]) == 0
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('customer_id = "Buyer Username"', 'amount = "Total Price"', 'event_time = "Sale Date"',
                 'time_format = "%b-%d-%y"', 'currency = "$"'):
        assert line in lines, line
    events = load_events(load_config(tmp_path / "winback.toml")).table.execute().sort_values("event_time")
    assert events.customer_id.tolist() == ["jdoe77", "asmith", "jdoe77"]
    assert events.amount.tolist() == [56.6, 69.8, 16.96]
    assert events.event_time.tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-11"),
                                          pd.Timestamp("2024-03-02")]


def test_a_model_near_chance_is_called_weak(tmp_path, capsys):
    """Purchases at random, one rate for everyone: whatever wins the leaderboard ranks near
    chance, and the console and the report say so rather than presenting it as a model."""
    import numpy as np

    from winback.evaluate import weak_signal_note

    assert weak_signal_note(0.75, "on the test cutoff") == "" and weak_signal_note(float("nan"), "") == ""
    assert "0.540 on the test part" in weak_signal_note(0.54, "on the test part")
    assert "0.995 on the test cutoff: customers' behaviour is not this predictable" in \
        weak_signal_note(0.995, "on the test cutoff") and weak_signal_note(0.985, "") == ""
    rng = np.random.default_rng(3)
    n = 12_000
    minutes = pd.to_timedelta(rng.integers(0, 360 * 1440, n), unit="min")
    pd.DataFrame({"customer_id": [f"u{i}" for i in rng.integers(0, 1200, n)],
                  "event_time": (pd.Timestamp("2024-01-01") + minutes).strftime("%Y-%m-%d %H:%M:%S"),
                  "amount": rng.gamma(2, 20, n).round(2)}).to_csv(tmp_path / "random.csv", index=False)
    config = tmp_path / "winback.toml"
    config.write_text('[source]\npath = "random.csv"\nduplicates = "keep"\n'
                      '[problem]\nhorizon_days = 30\ncutoff_step_days = 30\n')
    assert main(["train", "-c", str(config), "--no-track"]) == 0
    manifest = json.loads((tmp_path / "winback-out" / "bundle" / "manifest.json").read_text())
    assert manifest["candidates"][manifest["best"]]["test"]["roc_auc"] < 0.6
    assert "little better than the 0.5 of chance" in capsys.readouterr().out.replace("\n", " ")
    assert "little better than the 0.5 of chance" in (tmp_path / "winback-out" / "report.html").read_text()


def test_init_on_a_duckdb_file_names_its_only_table(tmp_path, monkeypatch, capsys):
    import duckdb

    monkeypatch.chdir(tmp_path)
    with duckdb.connect("shop.duckdb") as con:
        con.execute("CREATE SCHEMA sales")
        con.execute(f"CREATE TABLE sales.orders AS SELECT * FROM read_csv('{CDNOW_CSV}', all_varchar = true)")
    assert main(["init", "--layout", "cdnow", "--path", "shop.duckdb"]) == 0
    assert "Set table = 'sales.orders' to read it" in " ".join(capsys.readouterr().out.split())
    assert 'table = "sales.orders"' in (tmp_path / "winback.toml").read_text().splitlines()
    assert main(["validate"]) == 0


def test_init_maps_a_ga4_export(tmp_path, monkeypatch, capsys):
    """GA4's BigQuery export as JSON lines: user_pseudo_id, event_timestamp (microseconds),
    event_name, nested ecommerce. Columns used to be guessed as event_time = event_date and
    event_type = event_timestamp, with no customer id; begin_checkout was mapped to purchase."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    names = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase", "session_start"]
    t0 = 1_704_067_200_000_000
    with open("events.jsonl", "w") as f:
        for i in range(6_000):
            name = str(rng.choice(names, p=[0.4, 0.2, 0.15, 0.05, 0.1, 0.1]))
            f.write(json.dumps({
                "event_date": "20240101", "event_timestamp": int(t0 + rng.integers(0, 300 * 86_400_000_000)),
                "event_name": name, "user_pseudo_id": f"{rng.integers(1, 500)}.17000", "ga_session_id": int(rng.integers(1, 40)),
                "ecommerce": {"purchase_revenue": round(float(rng.uniform(5, 200)), 2) if name == "purchase" else None}}) + "\n")
    assert main(["init", "--layout", "events", "--path", "events.jsonl"]) == 0
    lines = (tmp_path / "winback.toml").read_text().splitlines()
    for line in ('customer_id = "user_pseudo_id"', 'event_time = "event_timestamp"', 'event_type = "event_name"',
                 'session_id = "ga_session_id"', 'amount = "ecommerce.purchase_revenue"', 'time_format = "unix_us"',
                 '"page_view" = "view"', '"add_to_cart" = "cart"'):
        assert line in lines, line
    assert not any(line.startswith('"begin_checkout"') for line in lines)
    assert main(["validate"]) == 0
