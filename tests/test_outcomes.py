"""`winback outcomes`: scores of a cutoff against what the customers did in the horizon after it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from winback.cli import main
from winback.datasets import cdnow_config, cdnow_path
from winback.errors import DataError, WinbackError
from winback.outcomes import auc_standard_error, outcomes
from winback.project import Project
from winback.score import score_to


@pytest.fixture(scope="module")
def scores_at_test_cutoff(cdnow_bundle, tmp_path_factory):
    """CDNOW scored at the bundle's own test cutoff, as a user would have on 1997-10-01."""
    path = tmp_path_factory.mktemp("outcomes") / "scores.parquet"
    score_to(cdnow_config(), cdnow_bundle, str(path), cutoff="1997-10-01", reasons=False)
    return path


def test_the_scores_of_the_test_cutoff_turn_out_as_the_leaderboard_says(cdnow_bundle, scores_at_test_cutoff, tmp_path):
    """The same customers, labels and probabilities as the model's test: every figure equal."""
    result = outcomes(cdnow_config(output_dir=str(tmp_path)), scores_at_test_cutoff, cdnow_bundle)
    manifest = json.loads((cdnow_bundle / "manifest.json").read_text())
    row = next(r for r in manifest["leaderboard"] if r["candidate"] == manifest["best"])
    r = result.realized
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "lift_10", "lift_20"):
        assert r[metric] == pytest.approx(row[metric], abs=1e-12), metric
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (row["tp"], row["fp"], row["fn"], row["tn"])
    assert r["n"] == 23_570 and r["positives"] == 7_058
    level, text = result.verdict()
    assert level == "as_tested" and "as well as the model's test promised" in text
    assert result.deciles["customers"].sum() == 23_570 and list(result.deciles["decile"]) == list(range(1, 11))
    assert result.deciles["rate"].iloc[0] > 2 * result.deciles["rate"].iloc[-1]  # the top tenth bought far more
    assert set(result.segments["segment"]) >= {"Valuable and loyal", "Valuable, slipping away"}
    assert result.segments["customers"].sum() == 23_570
    # CDNOW's held-out labels cover 91 to 203 days: the window term carries them to 273 days,
    # where a validation-only calibration expected 4,824 outcomes of the 7,058 (68 %)
    assert manifest["calibration"]["window"]["fitted_on_days"] == [91.0, 119.0, 147.0, 175.0, 203.0]
    assert 0.85 < r["expected_positives"] / r["positives"] < 1.0
    written = json.loads(result.path.read_text())
    assert result.path.name == "outcomes-1997-10-01.json" and written["verdict"] == "as_tested"
    assert written["realized"]["roc_auc"] == r["roc_auc"]
    page = result.page.read_text()  # the page beside it: self-contained, the verdict and the chart
    assert result.page.name == "outcomes-1997-10-01.html" and "ranked the customers as well as the model" in page
    assert page.count("data:image/png;base64,") == 1 and "http://" not in page and "https://" not in page
    assert "Valuable, slipping away" in page and f"{r['positives']:,}" in page
    assert not any("in-sample" in n for n in result.notes)  # the test cutoff is out of sample


def test_scores_of_a_date_inside_the_training_windows_are_called_in_sample(cdnow_bundle, tmp_path):
    """Scores backdated to 1997-08-01: the 273 days after it overlap the label windows the model
    was fitted and calibrated on (its training cutoffs' from 1997-03-12 and its validation
    cutoff's, through 1997-09-30), so the outcomes flatter it, and the note says so."""
    from winback.outcomes import learnt_overlap

    path = tmp_path / "early.parquet"
    score_to(cdnow_config(), cdnow_bundle, str(path), cutoff="1997-08-01", reasons=False)
    result = outcomes(cdnow_config(output_dir=str(tmp_path)), path, cdnow_bundle, write=False)
    note = next(n for n in result.notes if "in-sample" in n)
    assert "overlaps, from 1997-08-01 to 1997-09-30, the label windows the model learnt from" in note
    assert "Scores at the test cutoff 1997-10-01 or later are measured out of sample" in note
    manifest = json.loads((cdnow_bundle / "manifest.json").read_text())
    import datetime as dt

    # a horizon that ends before the first training cutoff overlaps no label window
    assert learnt_overlap(manifest, dt.datetime(1997, 1, 1), dt.datetime(1997, 3, 12)) == ""
    assert learnt_overlap(manifest, dt.datetime(1997, 1, 1), dt.datetime(1997, 3, 13)) != ""


def test_a_page_that_fails_leaves_nothing_written(cdnow_bundle, scores_at_test_cutoff, tmp_path, monkeypatch):
    import winback.report

    def broken(result):
        raise RuntimeError("no page")

    monkeypatch.setattr(winback.report, "outcomes_page", broken)
    with pytest.raises(RuntimeError, match="no page"):
        outcomes(cdnow_config(output_dir=str(tmp_path)), scores_at_test_cutoff, cdnow_bundle)
    assert not list(tmp_path.glob("outcomes*"))


def test_a_ranking_that_did_not_hold_up_is_a_warning(cdnow_bundle, scores_at_test_cutoff, tmp_path):
    scores = pd.read_parquet(scores_at_test_cutoff)
    scores["probability"] = np.random.default_rng(0).permutation(scores["probability"].to_numpy())
    shuffled = tmp_path / "shuffled.parquet"
    scores.to_parquet(shuffled)
    result = outcomes(cdnow_config(output_dir=str(tmp_path)), shuffled, cdnow_bundle, write=False)
    level, text = result.verdict()
    assert level == "worse" and abs(result.realized["roc_auc"] - 0.5) < 0.02
    assert "train it again on recent data" in text and result.path is None


def test_outcomes_wait_for_the_whole_horizon(cdnow_bundle, tmp_path):
    late = tmp_path / "late.parquet"
    score_to(cdnow_config(), cdnow_bundle, str(late), cutoff="1998-01-01", reasons=False)
    with pytest.raises(DataError, match=r"known once the log runs through 1998-09-30 .* 92 day\(s\) short"):
        outcomes(cdnow_config(output_dir=str(tmp_path)), late, cdnow_bundle)


def test_scores_files_that_cannot_be_measured(cdnow_bundle, scores_at_test_cutoff, tmp_path):
    cfg = cdnow_config(output_dir=str(tmp_path))
    scores = pd.read_parquet(scores_at_test_cutoff)
    cases = {
        "no_probability.parquet": (scores.drop(columns=["probability"]), "lacks probability"),
        "two_cutoffs.parquet": (pd.concat([scores.head(5), scores.tail(5).assign(cutoff=pd.Timestamp("1997-09-01"))]),
                                "holds scores of 2 cutoffs"),
        "twice.parquet": (pd.concat([scores.head(5), scores.head(2)]), "more than once"),
        "strangers.parquet": (scores.head(50).assign(customer_id=lambda d: "x" + d["customer_id"]),
                              "None of the 50 customers"),
        "no_cutoff.parquet": (scores.drop(columns=["cutoff"]), "name the date the customers were scored at with --cutoff"),
    }
    for name, (frame, words) in cases.items():
        frame.to_parquet(tmp_path / name)
        with pytest.raises(DataError, match=words):
            outcomes(cfg, tmp_path / name, cdnow_bundle, write=False)
    # a file without its cutoff is measured at the date given; a wrong date for a file with one is refused
    given = outcomes(cfg, tmp_path / "no_cutoff.parquet", cdnow_bundle, cutoff="1997-10-01", write=False)
    assert given.realized["roc_auc"] == outcomes(cfg, scores_at_test_cutoff, cdnow_bundle, write=False).realized["roc_auc"]
    with pytest.raises(DataError, match="is not the cutoff the scores"):
        outcomes(cfg, scores_at_test_cutoff, cdnow_bundle, cutoff="1997-09-01", write=False)


def test_a_csv_of_part_of_the_customers_keeps_their_ids(cdnow_bundle, scores_at_test_cutoff, tmp_path):
    """ids such as 00042 stay text; a file of some of the customers is measured on them, said."""
    part = pd.read_parquet(scores_at_test_cutoff).iloc[::3]
    part.to_csv(tmp_path / "part.csv", index=False)
    result = outcomes(cdnow_config(output_dir=str(tmp_path)), tmp_path / "part.csv", cdnow_bundle, write=False)
    assert result.realized["n"] == len(part)
    assert any(f"cover {len(part):,} of the 23,570" in n for n in result.notes)


def test_the_command_prints_the_deciles_and_the_verdict(cdnow_bundle, scores_at_test_cutoff, tmp_path, capsys):
    assert main(["outcomes", str(scores_at_test_cutoff), "--dataset", "cdnow", "--bundle", str(cdnow_bundle),
                 "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "bought again" in out and "as well as the model's test promised" in out
    assert (tmp_path / "outcomes-1997-10-01.json").exists()
    # --input: the log as it is now, where the project's config reads another export
    shorter = tmp_path / "to_1998_03.csv"
    lines = cdnow_path("master").read_text().splitlines(keepends=True)
    shorter.write_text("".join(lines[:1] + [x for x in lines[1:] if x.split(",")[1] < "19980301"]))
    cfg_path = tmp_path / "winback.toml"
    cfg_path.write_text(f'[source]\npath = "{shorter}"\nlayout = "cdnow"\nduplicates = "keep"\n'
                        f'[problem]\nname = "repeat_purchase"\nhorizon_days = 273\n[output]\ndir = "{tmp_path}"\n')
    common = ["outcomes", str(scores_at_test_cutoff), "--config", str(cfg_path), "--bundle", str(cdnow_bundle), "--quiet"]
    assert main(common) == 2 and "day(s) short" in capsys.readouterr().err
    assert main([*common, "--input", str(cdnow_path("master"))]) == 0
    assert "as well as the model's test promised" in capsys.readouterr().out
    assert main(["outcomes", str(tmp_path / "none.parquet"), "--dataset", "cdnow", "--bundle",
                 str(cdnow_bundle), "--out", str(tmp_path), "--quiet"]) == 2


def test_outcomes_are_for_customers_not_sessions(tmp_path):
    config = tmp_path / "winback.toml"
    config.write_text('[source]\npath = "events.csv"\n[problem]\nname = "next_event"\n')
    with pytest.raises(WinbackError, match="this project is a next-event model"):
        Project.from_toml(config).outcomes(Path("scores.parquet"))


def test_auc_standard_error_by_hanley_and_mcneil():
    """Their formula is exact for exponential scores: 2,000 draws of 100 positives and 100
    negatives (AUC 0.85) spread as it says."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(7)
    mean = 0.85 / 0.15  # P(Exp(mean) > Exp(1)) = mean / (1 + mean) = 0.85
    aucs = []
    for _ in range(2_000):
        pos, neg = rng.exponential(mean, 100), rng.exponential(1.0, 100)
        ranks = rankdata(np.r_[pos, neg])[:100]
        aucs.append((ranks.sum() - 100 * 101 / 2) / (100 * 100))
    assert np.mean(aucs) == pytest.approx(0.85, abs=0.005)
    assert np.std(aucs) == pytest.approx(auc_standard_error(0.85, 100, 100), rel=0.08)
    assert auc_standard_error(0.85, 400, 400) < auc_standard_error(0.85, 100, 100) / 1.9


def test_the_lines_speak_of_each_problem_s_outcome():
    import datetime as dt

    from winback.outcomes import Outcomes

    realized = {"roc_auc": 0.8, "positives": 300, "negatives": 700, "n": 1000, "base_rate": 0.3,
                "expected_positives": 297.0, "expected_sd": 14.0, "flagged": 200, "precision": 0.6, "recall": 0.4}
    deciles = pd.DataFrame({"decile": [1], "customers": [1000], "mean_probability": [0.3], "rate": [0.3], "lift": [1.0]})
    for problem, did, expected in (("return_visit", "came back", "come back"), ("activity_decline", "slowed down", "slow down")):
        result = Outcomes(dt.datetime(2024, 1, 1), dt.datetime(2024, 4, 1), problem, "lightgbm", realized, None, deciles, None)
        text = "\n".join(result.lines())
        assert f"customers to {expected} before 2024-04-01; 300 did" in text and "right on average" in text
        assert f"60% {did} (precision)" in text and "keeps no test figures" in text


def test_scores_written_to_a_database_table_are_read_back(cdnow_bundle, scores_at_test_cutoff, tmp_path,
                                                           postgres_url):
    """The CRM path: scores kept in a DuckDB file or a PostgreSQL table, measured from there."""
    cfg = cdnow_config(output_dir=str(tmp_path))
    expected = outcomes(cfg, scores_at_test_cutoff, cdnow_bundle, write=False).realized
    frame = pd.read_parquet(scores_at_test_cutoff)
    from winback.score import write_frame

    write_frame(frame, str(tmp_path / "crm.duckdb"), "scores_1997")
    write_frame(frame, postgres_url, "public.outcome_scores")
    for source, table in ((tmp_path / "crm.duckdb", "scores_1997"), (postgres_url, "public.outcome_scores")):
        found = outcomes(cfg, source, cdnow_bundle, table=table, write=False).realized
        assert found["roc_auc"] == pytest.approx(expected["roc_auc"], abs=1e-12)
        assert (found["tp"], found["fp"]) == (expected["tp"], expected["fp"])
    with pytest.raises(DataError, match="Cannot read the scores in table nowhere in"):
        outcomes(cfg, tmp_path / "crm.duckdb", cdnow_bundle, table="nowhere", write=False)
    with pytest.raises(DataError, match="--table names a table of a DuckDB file"):
        outcomes(cfg, scores_at_test_cutoff, cdnow_bundle, table="scores", write=False)
    secret = postgres_url.replace("postgres@", "postgres:hunter2@", 1)  # the test server trusts any password
    assert "hunter2" in secret
    with pytest.raises(DataError) as caught:
        outcomes(cfg, secret, cdnow_bundle, table="public.nowhere", write=False)
    assert "hunter2" not in str(caught.value) and "postgres:***@" in str(caught.value)


def test_a_tables_ids_stay_text_from_a_csv_of_scores(tmp_path):
    """A key written with leading zeros (000150) is text in the table; the scores' CSV must not
    read it back as the number 150, or no scored customer would meet their outcome."""
    from winback.config import config_from_dict

    rng = np.random.default_rng(2)
    n = 400
    table = pd.DataFrame({"customer": [f"{i:06d}" for i in range(n)], "visits": rng.poisson(5, n),
                          "spend": rng.gamma(2, 50, n).round(2)})
    table["churned"] = (0.3 * table.visits - 0.01 * table.spend + rng.normal(0, 1, n) > 0.5).astype(int)
    table.to_csv(tmp_path / "customers.csv", index=False)
    cfg = config_from_dict({"problem": {"name": "activity_decline"},
                            "table": {"key": "customer", "label": "churned",
                                      "sources": [{"path": str(tmp_path / "customers.csv")}]},
                            "train": {"trials": 2, "candidates": ["logistic"]},
                            "output": {"dir": str(tmp_path / "out")}})
    project = Project(cfg)
    project.train(report=False)
    project.score_to(str(tmp_path / "scores.csv"), reasons=False)
    assert pd.read_csv(tmp_path / "scores.csv", dtype=str)["customer"].str.len().eq(6).all()
    result = project.outcomes(tmp_path / "scores.csv", write=False)
    assert result.realized["n"] == 100 and result.cutoff is None  # the test quarter; the rest in-sample
    assert "Outcomes of the scores of the customer table" in repr(result)
