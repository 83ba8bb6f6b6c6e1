"""Streaming batch scoring: chunks give the same scores as one pass, every destination (Parquet,
CSV, DuckDB, PostgreSQL) gets the same rows, ready features score like the event log, and a
failed run leaves the previous output as it was."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import psycopg
import pytest

from winback.cli import main
from winback.config import ProblemConfig, config_from_dict, parse_date
from winback.data.canonical import load_events
from winback.datasets import cdnow_config
from winback.errors import DataError
from winback.features import FeatureSpec
from winback.frame import build_frame, score_cutoff
from winback.score import score_to
from winback.sinks import describe_output


@pytest.fixture(scope="module")
def log():
    return load_events(cdnow_config())


@pytest.fixture(scope="module")
def reference(cdnow_bundle, log, tmp_path_factory):
    """Scores in one chunk as large as the data, to compare streamed runs with."""
    path = tmp_path_factory.mktemp("ref") / "ref.parquet"
    score_to(cdnow_config(), cdnow_bundle, str(path), log=log, chunk_rows=1_000_000)
    return pd.read_parquet(path)


def test_small_chunks_give_the_same_scores(cdnow_bundle, log, reference, tmp_path):
    seen = []
    where, rows, _, _ = score_to(cdnow_config(), cdnow_bundle, str(tmp_path / "s.parquet"), log=log,
                              chunk_rows=2_000, progress=seen.append)
    streamed = pd.read_parquet(where)
    assert rows == len(reference) == 23_570 and len(seen) >= 2 * (23_570 // 2_000)
    pd.testing.assert_frame_equal(streamed, reference, check_exact=False, rtol=1e-6)
    assert streamed["rank"].tolist() == list(range(1, rows + 1))
    assert streamed["probability"].is_monotonic_decreasing
    assert streamed.groupby("decile").size().between(2_356, 2_358).all()


def test_scores_carry_each_customers_top_three_reasons(cdnow_bundle, log, reference, tmp_path):
    """reason_1..3 from the chosen model's contributions (TreeSHAP, or a linear model's exact
    ones), as the service gives them: the strongest first, 'feature = value (raises|lowers the
    probability)'; --no-reasons leaves them out."""
    import re

    import numpy as np

    from winback.score import _Bundle

    bundle = _Bundle(cdnow_bundle)
    assert bundle.model.name in ("logistic", "lightgbm")
    pattern = re.compile(r"^(\w+) = (\S+) \((raises|lowers) the probability\)$")
    assert reference["reason_1"].str.match(pattern).all() and reference["reason_3"].notna().mean() > 0.9
    # the top customer's reasons, at the test cutoff, are the features its contributions rank first
    m = json.loads((cdnow_bundle / "manifest.json").read_text())
    test = next(c for c in m["cutoffs"] if c["role"] == "test")
    spec = dict(m["feature_spec"])
    columns = spec.pop("columns")
    frame = build_frame(log, score_cutoff(parse_date(test["time"][:10], "cutoff"), m["problem"]["horizon_days"]),
                        ProblemConfig(**m["problem"]), FeatureSpec.from_dict(spec), with_labels=False)
    assert set(columns) <= set(frame.columns)
    at_end = pd.read_parquet(score_to(cdnow_config(), cdnow_bundle, str(tmp_path / "r.parquet"), log=log,
                                      cutoff=test["time"][:10])[0])
    row = frame.set_index("customer_id").loc[[at_end.customer_id.iloc[0]], columns].to_numpy(dtype=float)
    contrib = bundle.model.contributions(row)[0]
    top = [columns[j] for j in np.argsort(-np.abs(contrib), kind="stable")[:3]]
    named = [pattern.match(at_end[f"reason_{k}"].iloc[0]) for k in (1, 2, 3)]
    assert [r.group(1) for r in named] == top
    assert [r.group(3) for r in named] == ["raises" if contrib[columns.index(c)] > 0 else "lowers" for c in top]
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "--no-reasons", "-o",
                 str(tmp_path / "plain.csv"), "-q"]) == 0
    plain = pd.read_csv(tmp_path / "plain.csv", dtype={"customer_id": str})
    assert list(plain.columns) == [c for c in reference.columns if not c.startswith("reason_")]
    assert plain["probability"].to_numpy() == pytest.approx(reference["probability"].to_numpy(), abs=1e-12)


def test_files_partitioned_by_customer_score_as_one_log(cdnow_bundle, reference, tmp_path):
    """CDNOW split into three CSV files by customer: scored file by file with
    source.partitioned_by_customer, the scores are those of the whole log; a customer in two
    files stops the run before anything is written."""
    import dataclasses

    from winback.datasets import cdnow_path

    lines = cdnow_path("master").read_text().splitlines()
    folder = tmp_path / "orders"
    folder.mkdir()
    for i in range(3):
        (folder / f"part-{i}.csv").write_text("\n".join(
            [lines[0]] + [line for line in lines[1:] if int(line.split(",")[0]) % 3 == i]) + "\n")
    cfg = cdnow_config()
    cfg = dataclasses.replace(cfg, source=dataclasses.replace(cfg.source, path=str(folder),
                                                              partitioned_by_customer=True))
    where, rows, _, _ = score_to(cfg, cdnow_bundle, str(tmp_path / "s.parquet"), chunk_rows=5_000)
    pd.testing.assert_frame_equal(pd.read_parquet(where), reference, check_exact=False, rtol=1e-6)
    (folder / "part-3.csv").write_text("\n".join(lines[:3]) + "\n")  # two customers again
    with pytest.raises(DataError, match="has events in more than one file"):
        score_to(cfg, cdnow_bundle, str(tmp_path / "t.parquet"), chunk_rows=5_000)
    assert not (tmp_path / "t.parquet").exists()


def test_duckdb_table_and_csv_hold_the_same_rows(cdnow_bundle, reference, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    for _ in range(2):  # the second run replaces the table whole
        assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o", str(db),
                     "--table", "scores", "-q"]) == 0
    with duckdb.connect(str(db)) as con:
        table = con.sql("SELECT * FROM scores ORDER BY rank").df()
        assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 1
    assert table["customer_id"].tolist() == reference["customer_id"].tolist()
    assert table["probability"].to_numpy() == pytest.approx(reference["probability"].to_numpy(), abs=1e-9)
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o",
                 str(tmp_path / "s.csv"), "-q"]) == 0
    csv = pd.read_csv(tmp_path / "s.csv", dtype={"customer_id": str})
    assert csv["customer_id"].tolist() == reference["customer_id"].tolist()
    assert list(csv.columns) == list(reference.columns)
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o",
                 str(tmp_path / "s.csv.gz"), "-q"]) == 0
    gz = pd.read_csv(tmp_path / "s.csv.gz", dtype={"customer_id": str})  # gzipped CSV
    pd.testing.assert_frame_equal(gz, csv)


def test_scores_to_standard_output_for_a_pipe(cdnow_bundle, reference, tmp_path, capsys):
    """`-o -` writes the CSV alone on standard output (`winback score ... -o - | head`); the
    progress and the summary go to standard error."""
    import io

    capsys.readouterr()
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o", "-"]) == 0
    captured = capsys.readouterr()
    piped = pd.read_csv(io.StringIO(captured.out), dtype={"customer_id": str})
    assert piped["customer_id"].tolist() == reference["customer_id"].tolist()
    assert piped["probability"].to_numpy() == pytest.approx(reference["probability"].to_numpy(), abs=1e-9)
    assert "Scored 23,570 customers" in captured.err and "standard output" in captured.err


def test_postgres_table(cdnow_bundle, reference, postgres_url):
    for _ in range(2):
        assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o",
                     postgres_url, "--table", "public.winback_scores", "-q"]) == 0
    with psycopg.connect(postgres_url) as con:
        rows = con.execute("SELECT customer_id, probability, rank, decile, segment FROM "
                           "winback_scores ORDER BY rank").fetchall()
        tables = con.execute("SELECT table_name FROM information_schema.tables WHERE "
                             "table_schema = 'public'").fetchall()
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'winback_scores'").fetchall())
    assert tables == [("winback_scores",)]  # no staging table left behind
    assert len(rows) == len(reference)
    assert [r[0] for r in rows] == reference["customer_id"].tolist()
    assert [r[1] for r in rows] == pytest.approx(reference["probability"].tolist(), abs=1e-12)
    assert types["probability"] == "double precision" and types["rank"] == "bigint"
    assert types["cutoff"].startswith("timestamp")


def test_postgres_password_is_never_printed():
    shown = describe_output("postgresql://winback:hunter2@db.example:5432/shop", "scores")
    assert "hunter2" not in shown and "winback:***@db.example" in shown


def test_ready_features_score_like_the_event_log(cdnow_bundle, log, tmp_path):
    manifest = json.loads((cdnow_bundle / "manifest.json").read_text())
    test = next(c for c in manifest["cutoffs"] if c["role"] == "test")
    when = parse_date(test["time"][:10], "cutoff")
    spec = dict(manifest["feature_spec"])
    columns = spec.pop("columns")
    frame = build_frame(log, score_cutoff(when, manifest["problem"]["horizon_days"]),
                        ProblemConfig(**manifest["problem"]), FeatureSpec.from_dict(spec),
                        with_labels=False)
    features = tmp_path / "features.parquet"
    frame[["customer_id", *columns]].assign(customer_id=lambda f: f["customer_id"].astype(str)) \
        .to_parquet(features, index=False)
    out = tmp_path / "from_features.parquet"
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(features), "-o",
                 str(out), "-q"]) == 0
    from_features = pd.read_parquet(out).set_index("customer_id")
    from_log = pd.read_parquet(score_to(cdnow_config(), cdnow_bundle, str(tmp_path / "log.parquet"),
                                        cutoff=when.strftime("%Y-%m-%d"), log=log)[0]).set_index("customer_id")
    joined = from_features.join(from_log.add_suffix("_log"))
    assert len(joined) == len(from_log)
    assert (joined["probability"] - joined["probability_log"]).abs().max() < 1e-5
    assert (joined["segment"] == joined["segment_log"]).mean() > 0.999


def test_ready_features_must_be_numbers_and_one_row_per_customer(cdnow_bundle, tmp_path, capsys):
    columns = json.loads((cdnow_bundle / "manifest.json").read_text())["feature_spec"]["columns"]
    good = pd.DataFrame({"customer_id": ["a", "b", "c"], **{c: [1.0, 2.0, None] for c in columns}})
    out = tmp_path / "scores.parquet"
    repeated = tmp_path / "repeated.parquet"
    pd.concat([good, good.iloc[[1, 1]]]).to_parquet(repeated, index=False)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(repeated), "-o", str(out), "-q"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "holds 2 repeated row(s)" in err and "'b' (3 rows)" in err and not out.exists()
    text = tmp_path / "text.parquet"
    good.assign(**{columns[0]: ["1", "x", None]}).to_parquet(text, index=False)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(text), "-o", str(out), "-q"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"features must be numbers (or null), but '{columns[0]}'" in err and "is not" in err
    infinite = tmp_path / "infinite.parquet"  # scored with no probability, yet ranked and segmented
    good.assign(**{columns[2]: [1.0, float("inf"), None]}).to_parquet(infinite, index=False)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(infinite), "-o", str(out), "-q"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"infinite feature values for customer(s) 'b' in '{columns[2]}'" in err and not out.exists()
    good.to_parquet(tmp_path / "good.parquet", index=False)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(tmp_path / "good.parquet"),
                 "-o", str(out), "-q"]) == 0
    assert sorted(pd.read_parquet(out)["customer_id"]) == ["a", "b", "c"]


def test_failed_run_keeps_the_previous_output(cdnow_bundle, tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"previous scores")
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"customer_id": ["a"], "n_events": [1.0]}).to_parquet(bad)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(bad), "-o", str(out)]) == 2
    assert "lacks" in capsys.readouterr().err
    assert out.read_bytes() == b"previous scores"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "scores.parquet"]


def test_unknown_destination_fails_before_any_work(cdnow_bundle, capsys):
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o", "scores.xlsx"]) == 2
    assert ".duckdb" in capsys.readouterr().err
    assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o", "x.duckdb",
                 "--table", "drop table x;"]) == 2
    assert "plain table name" in capsys.readouterr().err


def test_cutoff_too_early_for_the_population_fit_still_scores(cdnow_bundle, log, tmp_path):
    """A day into CDNOW every buyer bought on the cutoff's last day: BG/NBD cannot be
    fitted, its features are unknown, and the customers are scored anyway (it used to crash)."""
    out = tmp_path / "early.parquet"
    where, rows, when, _ = score_to(cdnow_config(), cdnow_bundle, str(out), log=log,
                                 cutoff="1997-01-02")
    scores = pd.read_parquet(out)
    assert rows == len(scores) > 0 and scores.probability.between(0, 1).all()


def test_a_log_without_columns_the_model_was_trained_on_is_refused(cdnow_bundle, tmp_path):
    # canonical tables hold every column, empty where unmapped: a log without amounts scored
    # silently, with zero spend for everyone
    path = tmp_path / "visits.csv"
    pd.DataFrame({"customer_id": ["a", "b", "a"],
                  "event_time": ["1997-02-01", "1997-03-01", "1997-04-01"]}).to_csv(path, index=False)
    cfg = config_from_dict({"source": {"path": str(path), "layout": "events",
                                       "columns": {"customer_id": "customer_id", "event_time": "event_time"}}})
    with pytest.raises(DataError, match=r"visits.csv has no column for amount.*, which the log this model "
                                        r"was trained on had \(layout 'cdnow'\).*Map them in \[source.columns\]"):
        score_to(cfg, cdnow_bundle, str(tmp_path / "s.parquet"))
    assert not (tmp_path / "s.parquet").exists()


def test_ready_features_from_csv_and_globs(cdnow_bundle, tmp_path, capsys):
    """A glob failed (pyarrow does not expand them) and CSV was refused as 'not Parquet'; CSV ids
    stay text and a feature column empty in the first rows still reads as numbers."""
    columns = json.loads((cdnow_bundle / "manifest.json").read_text())["feature_spec"]["columns"]
    good = pd.DataFrame({"customer_id": ["007", "b", "c"], **{c: [1.0, 2.0, 3.0] for c in columns}})
    good[columns[0]] = [None, None, 4.0]
    good.iloc[:2].to_parquet(tmp_path / "part-1.parquet", index=False)
    good.iloc[2:].to_parquet(tmp_path / "part-2.parquet", index=False)
    out = tmp_path / "scores.parquet"
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(tmp_path / "part-*.parquet"),
                 "-o", str(out), "-q"]) == 0
    from_parquet = pd.read_parquet(out).set_index("customer_id")["probability"]
    good.to_csv(tmp_path / "features.csv", index=False)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(tmp_path / "features.csv"),
                 "-o", str(out), "-q"]) == 0
    from_csv = pd.read_parquet(out).set_index("customer_id")["probability"]
    assert sorted(from_csv.index) == ["007", "b", "c"]
    pd.testing.assert_series_equal(from_csv.sort_index(), from_parquet.sort_index())
    good.assign(**{columns[1]: ["1", "many", "3"]}).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(tmp_path / "bad.csv"),
                 "-o", str(tmp_path / "bad-scores.parquet"), "-q"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "features must be numbers (or empty)" in err and "many" in err
    assert not (tmp_path / "bad-scores.parquet").exists()
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(tmp_path / "none-*.parquet"),
                 "-o", str(out), "-q"]) == 2
    assert "No file matches" in capsys.readouterr().err


def test_a_bgnbd_bundle_scores_with_its_reasons_in_batch_and_in_the_service(log, tmp_path, capsys):
    """BG/NBD chosen alone: `winback score` writes each customer's three reasons (its purchase
    count, recency and tenure, exact Shapley values), the service gives the same ones for
    the same features, and the report shows what drives the model."""
    import re

    from winback.serving.scorer import CustomerScorer
    from winback.train import train

    cfg = cdnow_config(output_dir=str(tmp_path / "out"))
    cfg.train.candidates = ["bgnbd"]
    bundle = train(cfg, report=True).bundle_dir
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["best"] == "bgnbd"
    assert set(manifest["importance"]) == {"purchase_days", "purchase_recency_days", "purchase_tenure_days"}
    assert "share of the mean |contribution| to the log-odds" in (tmp_path / "out" / "report.html").read_text()
    scores = pd.read_parquet(score_to(cfg, bundle, str(tmp_path / "s.parquet"), log=log)[0])
    pattern = re.compile(r"^(purchase_days|purchase_recency_days|purchase_tenure_days) = \S+ "
                         r"\((raises|lowers) the probability\)$")
    for k in (1, 2, 3):
        assert scores[f"reason_{k}"].str.match(pattern).all(), k
    # the most likely buyer's reasons: her recent last purchase raises the chance
    top = scores.iloc[0]
    assert top["reason_1"].startswith("purchase_recency_days") and "raises" in top["reason_1"]
    end = parse_date(str(scores["cutoff"].iloc[0])[:10], "cutoff")
    frame = build_frame(log, score_cutoff(end, cfg.problem.horizon_days), cfg.problem,
                        FeatureSpec.from_bundle(manifest["feature_spec"])[0], with_labels=False)
    scorer = CustomerScorer(bundle)
    rows = frame.set_index("customer_id").loc[scores["customer_id"].iloc[[0, 500, 20_000]]]
    served = scorer.score_features([{c: (None if pd.isna(v) else float(v)) for c, v in row.items()
                                     if c in scorer.columns} for _, row in rows.iterrows()],
                                   list(rows.index), reasons=True)
    for s in served:
        batch = scores.set_index("customer_id").loc[s.customer_id]
        assert s.probability == pytest.approx(batch["probability"], abs=1e-9)
        assert [f"{r['feature']} ({r['direction']})" for r in s.reasons] == \
            [re.sub(r" = \S+ \((\w+) the probability\)", r" (\1)", batch[f"reason_{k}"]) for k in (1, 2, 3)]
        assert s.missing_features == []
    # three features make a score; what it left out is what the value axis reads, not the
    # 40-odd features BG/NBD never looks at
    three = {"purchase_days": 4.0, "purchase_recency_days": 12.0, "purchase_tenure_days": 300.0}
    alone = scorer.score_features([three], ["c1"], reasons=True)[0]
    assert 0 < alone.probability < 1 and len(alone.reasons) == 3
    assert sorted(alone.missing_features) == ["avg_order_value", "bgnbd_expected_purchases", "n_orders"]
    card = scorer.describe()  # GET /v1/model: what a score reads, and how it explains it
    assert sorted(card["features_read"]) == sorted(["purchase_days", "purchase_recency_days", "purchase_tenure_days",
                                                    "avg_order_value", "bgnbd_expected_purchases", "n_orders"])
    assert len(card["features"]) > 30 and card["explainer"] == "exact Shapley values of its three purchase features"
    assert list(scorer.example_features()) == card["features_read"]
    # a BG/NBD bundle from before the references were kept scores as it did, without reasons,
    # and says so where the command used to promise them
    import shutil

    from winback.cli import main as cli
    from winback.score import explains

    old = tmp_path / "old-bundle"
    shutil.copytree(bundle, old)
    stored = json.loads((old / "bgnbd.json").read_text())
    (old / "bgnbd.json").write_text(json.dumps({k: stored[k] for k in ("params", "time_unit_days")}))
    assert explains(bundle) == (True, "bgnbd") and explains(old) == (False, "bgnbd")
    assert cli(["score", "--dataset", "cdnow", "--bundle", str(old), "-o", str(tmp_path / "old.csv")]) == 0
    said = " ".join("".join(capsys.readouterr()).split())
    assert "with their top reasons" not in said and "train it again to get them" in said
    before = pd.read_csv(tmp_path / "old.csv", dtype={"customer_id": str})
    assert not any(c.startswith("reason_") for c in before.columns)
    assert before["probability"].to_numpy() == pytest.approx(scores["probability"].to_numpy(), abs=1e-12)
    # ready features need only what BG/NBD reads: the three, and score as the log does
    from winback.score import score_features_to

    ready = tmp_path / "three.parquet"
    three_only = ["customer_id", "purchase_days", "purchase_recency_days", "purchase_tenure_days"]
    frame[three_only].to_parquet(ready)
    with pytest.raises(DataError, match="lacks 3 feature.* the segments' value axis reads, e.g. 'bgnbd_expected"):
        score_features_to(bundle, ready, str(tmp_path / "ready.parquet"))
    assert not (tmp_path / "ready.parquet").exists()
    frame[three_only + ["bgnbd_expected_purchases", "n_orders", "avg_order_value"]].to_parquet(ready)
    where, rows, _, _ = score_features_to(bundle, ready, str(tmp_path / "ready.parquet"))
    from_ready = pd.read_parquet(where).set_index("customer_id").loc[scores["customer_id"]]
    assert rows == len(scores)
    assert from_ready["probability"].to_numpy() == pytest.approx(scores["probability"].to_numpy(), abs=1e-12)
    assert (from_ready["reason_1"].to_numpy() == scores["reason_1"].to_numpy()).all()


def test_scores_keep_the_features_asked_for(cdnow_bundle, log, reference, tmp_path, capsys):
    """--keep copies features at the cutoff (BG/NBD's too) beside each score, as the model rows
    hold them; ready features keep any column of their file, text too. A misspelt name, or one
    the scores use, stops before anything is written."""
    kept = pd.read_parquet(score_to(cdnow_config(), cdnow_bundle, str(tmp_path / "k.parquet"), log=log,
                                    keep=["recency_days", "n_orders", "bgnbd_p_alive", "n_orders"])[0])
    assert list(kept.columns) == list(reference.columns) + ["recency_days", "n_orders", "bgnbd_p_alive"]
    pd.testing.assert_frame_equal(kept[reference.columns], reference, check_exact=False, rtol=1e-9)
    m = json.loads((cdnow_bundle / "manifest.json").read_text())
    spec = dict(m["feature_spec"])
    spec.pop("columns")
    end = parse_date(str(kept["cutoff"].iloc[0])[:10], "cutoff")
    frame = build_frame(log, score_cutoff(end, m["problem"]["horizon_days"]), ProblemConfig(**m["problem"]),
                        FeatureSpec.from_dict(spec), with_labels=False).set_index("customer_id")
    for name in ("recency_days", "n_orders"):
        assert kept[name].to_numpy() == pytest.approx(frame.loc[kept["customer_id"], name].to_numpy())
    assert kept["bgnbd_p_alive"].between(0, 1).all()
    for keep, message in (("recency_dys", "is not a column of the features at the cutoff. Did you mean 'recency_days'"),
                          ("decile", "the scores already have a column of that name")):
        assert main(["score", "--dataset", "cdnow", "--bundle", str(cdnow_bundle), "-o", str(tmp_path / "no.csv"),
                     "-q", "--keep", keep]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "no.csv").exists()
    # ready features: any column of the file, a text one too
    ready = frame.reset_index()[["customer_id", *m["feature_spec"]["columns"]]].assign(
        email=lambda f: f["customer_id"] + "@shop.example")
    ready.to_parquet(tmp_path / "ready.parquet")
    assert main(["score", "--bundle", str(cdnow_bundle), "--features", str(tmp_path / "ready.parquet"), "-o",
                 str(tmp_path / "ready.csv"), "-q", "--no-reasons", "--keep", "email,spend"]) == 0
    scored = pd.read_csv(tmp_path / "ready.csv", dtype={"customer_id": str})
    assert (scored["email"] == scored["customer_id"] + "@shop.example").all()
    assert scored["spend"].to_numpy() == pytest.approx(frame.loc[scored["customer_id"], "spend"].to_numpy())
