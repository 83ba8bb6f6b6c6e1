"""`Project.from_frame` and scoring a DataFrame: a notebook's data without writing files by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import winback
from winback.cli import main
from winback.data.frames import frame_to_parquet
from winback.datasets import load_cdnow
from winback.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def orders():
    return load_cdnow("sample")


@pytest.fixture(scope="module")
def trained(orders, tmp_path_factory):
    out = tmp_path_factory.mktemp("frame")
    project = winback.Project.from_frame(orders, output_dir=out, quiet=True)
    project.config.train.candidates = ["logistic"]
    project.train(report=False)
    return project, out


def test_an_order_frame_is_set_up_as_init_sets_up_its_file(trained, orders):
    project, out = trained
    text = (out / "winback.toml").read_text()
    assert text.startswith(winback.project.FRAME_MARK) and f"{len(orders):,} rows" in text
    assert project.config.source.layout == "cdnow" and project.kind == "event_log"
    assert project.bundle_dir == out / "bundle" and (out / "bundle" / "manifest.json").exists()
    assert any("cdnow layout" in n for n in project.setup_notes)
    assert any("horizon fits" in n for n in project.setup_notes)
    summary = project.validate()
    assert summary["rows"] == len(orders) and summary["customers"] == orders["customer_id"].nunique()
    # the written config runs from the command line as it is
    assert main(["validate", "-c", str(out / "winback.toml")]) == 0


def test_scoring_a_frame_equals_scoring_the_same_rows_from_the_source(trained, orders):
    project, _ = trained
    from_source = project.score(reasons=False).set_index("customer_id")["probability"]
    shuffled = orders.sample(frac=1.0, random_state=3)
    from_frame = project.score(frame=shuffled, reasons=False).set_index("customer_id")["probability"]
    pd.testing.assert_series_equal(from_frame.sort_index(), from_source.sort_index())
    # the log as it stood at the end of 1997 is scored at its end, as the source is at that date
    earlier = orders[orders["date"] < "1998-01-01"]
    written = project.score_to(str(project.bundle_dir.parent / "s.csv"), frame=earlier, reasons=False)
    assert str(written.cutoff.date()) == "1998-01-01" and written.rows == earlier["customer_id"].nunique()
    at_cutoff = project.score(cutoff="1998-01-01", reasons=False)
    scored = pd.read_csv(project.bundle_dir.parent / "s.csv", dtype={"customer_id": str})
    assert np.allclose(scored.set_index("customer_id")["probability"].sort_index(),
                       at_cutoff.set_index("customer_id")["probability"].sort_index())


def test_rerunning_overwrites_its_own_config_never_a_hand_written_one(trained, orders, tmp_path):
    project, out = trained
    again = winback.Project.from_frame(orders.head(5000), output_dir=out, quiet=True)
    assert "5,000 rows" in (out / "winback.toml").read_text()
    assert again.validate()["rows"] == 5000
    (tmp_path / "winback.toml").write_text("# mine\n")
    with pytest.raises(ConfigError, match="not written by Project.from_frame"):
        winback.Project.from_frame(orders, output_dir=tmp_path, quiet=True)
    assert (tmp_path / "winback.toml").read_text() == "# mine\n"
    assert not (tmp_path / "input").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        winback.Project.from_frame(orders, output_dir=tmp_path / "file", quiet=True)


def _churn_table(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    tenure = rng.integers(1, 72, n)
    monthly = rng.normal(60, 20, n).round(2)
    plan = rng.choice(["Basic", "Pro"], n)
    churn = rng.random(n) < 1 / (1 + np.exp(1 + 0.05 * tenure - (plan == "Basic")))
    return pd.DataFrame({"tenure_months": tenure, "MonthlyCharges": monthly, "plan": plan,
                         "contract": [1 if i % 7 else "none" for i in range(n)],
                         "Churn": np.where(churn, "Yes", "No")},
                        index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id"))


def test_a_customer_frame_indexed_by_customer(tmp_path):
    table = _churn_table()
    project = winback.Project.from_frame(table, output_dir=tmp_path, table=True, quiet=True)
    cfg = project.config
    assert project.kind == "customer_table" and cfg.table.key == "customer_id" and cfg.table.label == "Churn"
    assert cfg.table.positive == ["Yes"] and cfg.problem.name == "activity_decline"
    assert cfg.segments.value_column == "MonthlyCharges"
    assert "DataFrame: the index (customer_id) is read as a column." in project.setup_notes
    assert any("'contract'" in n and "as text" in n for n in project.setup_notes)
    cfg.train.trials, cfg.train.candidates = 2, ["logistic"]
    project.train(report=False)
    new = table.drop(columns="Churn").iloc[:25]
    scores = project.score(frame=new, reasons=False)
    assert len(scores) == 25 and set(scores["customer_id"]) == set(new.index)
    assert "DataFrame: the index (customer_id) is read as a column" in scores.attrs["notes"]
    summary = project.validate(frame=new)
    assert summary["customers"] == 25 and summary["positive_rate"] is None
    assert any("can score them" in n for n in summary["notes"])


def test_a_customer_frame_without_table_true_is_read_as_a_table(tmp_path):
    """One row per customer and no event time: a table, as `winback init` reads such a file;
    layout="events" asks for the event log instead."""
    table = _churn_table()
    project = winback.Project.from_frame(table, output_dir=tmp_path, quiet=True)
    assert project.kind == "customer_table" and project.config.table.label == "Churn"
    assert any(n.startswith("Read the DataFrame as a customer table (one row per customer)") for n in project.setup_notes)
    assert sorted(p.name for p in (tmp_path / "input").iterdir()) == ["customers.parquet"]
    with pytest.raises(DataError):  # no event time: the event log it asked for cannot read
        winback.Project.from_frame(table, output_dir=tmp_path / "log", layout="events", quiet=True).validate()


def test_frames_that_cannot_be_tables(tmp_path):
    path = tmp_path / "x.parquet"
    with pytest.raises(DataError, match="must be a pandas or polars DataFrame or a pyarrow Table, got builtins.list"):
        frame_to_parquet([1, 2], path)
    with pytest.raises(DataError, match="is empty"):
        frame_to_parquet(pd.DataFrame({"a": []}), path)
    with pytest.raises(DataError, match="appear more than once as text"):
        frame_to_parquet(pd.DataFrame([[1, 2]], columns=[1, "1"]), path)
    clash = pd.DataFrame({"customer_id": [1]}, index=pd.Index([1], name="customer_id"))
    with pytest.raises(DataError, match="index 'customer_id' is also one of its columns"):
        frame_to_parquet(clash, path)
    assert not path.exists() and not list(tmp_path.iterdir())  # nothing half-written


def test_frame_columns_become_a_table(tmp_path):
    wide = pd.DataFrame({("revenue", "jan"): [1.0, 2.0], ("revenue", "feb"): [3.0, 4.0], (7, ""): [5, 6]})
    notes = frame_to_parquet(wide, tmp_path / "w.parquet")
    assert list(pd.read_parquet(tmp_path / "w.parquet").columns) == ["revenue_jan", "revenue_feb", "7"]
    assert notes == ["the column levels are joined with '_' (revenue_jan, revenue_feb, 7)"]
    mixed = pd.DataFrame({"id": ["a", "b", "c"], "zip": [1234, "AB-12", None], "tags": [["x"], [], None]})
    notes = frame_to_parquet(mixed, tmp_path / "m.parquet")
    back = pd.read_parquet(tmp_path / "m.parquet")
    assert back["zip"].tolist()[:2] == ["1234", "AB-12"] and back["zip"].isna().tolist()[2]
    assert list(back["tags"].iloc[0]) == ["x"]  # a list column is a list column, not text
    assert notes == ["1 column(s) mixing numbers and text are read as text ('zip')"]
    ids = pd.DataFrame({"a": [1, 2]}, index=["c1", "c2"])  # unnamed, but ids: kept
    assert "read as a column 'index'" in frame_to_parquet(ids, tmp_path / "i.parquet")[0]
    assert pd.read_parquet(tmp_path / "i.parquet")["index"].tolist() == ["c1", "c2"]
    by_row = pd.DataFrame({"a": [1, 2, 3]}).iloc[1:]  # a filtered row number is no column
    assert frame_to_parquet(by_row, tmp_path / "r.parquet") == []
    assert list(pd.read_parquet(tmp_path / "r.parquet").columns) == ["a"]


def test_frames_for_a_project_of_several_tables(tmp_path):
    """One Click reads four tables: a list of four frames in [[table.sources]] order, or a dict
    keyed by their paths, score as the files do; anything else says what it needs."""
    from winback.datasets import dataset_dir

    project = winback.Project.from_dataset("oneclick", output_dir=tmp_path)
    project.config.train.trials = 2
    project.config.train.candidates = ["logistic"]
    project.train(report=False)
    names = [s.path for s in project.config.table.sources]
    assert names == ["market_file.csv", "market_money.csv", "market_time.csv", "money.csv"]
    frames = {n: pd.read_csv(dataset_dir("oneclick") / n) for n in names}
    files = project.score(reasons=False).set_index("id")["probability"]
    by_dict = project.score(frame=frames, reasons=False)
    notes = by_dict.attrs["notes"]
    assert notes[0] == ("kept 1,297 of 1,300 customers where revenue_prev2 > 0 and revenue_prev > 0 "
                        "and revenue_current > 0")
    # the frames hold the training table's rows, found as the files' are: scored in-sample
    assert len(notes) == 2 and notes[1].startswith("972 of the 1,297 customers scored (75%) are rows the "
                                                   "model was trained on")
    by_list = project.score(frame=[frames[n] for n in names], reasons=False).set_index("id")["probability"]
    assert np.array_equal(by_dict.set_index("id")["probability"].loc[files.index], files)
    assert np.array_equal(by_list.loc[files.index], files)
    fewer = {**frames, "market_file.csv": frames["market_file.csv"].head(100)}
    kept = sum(str(i) in files.index for i in fewer["market_file.csv"]["id"])  # after the revenue filter
    assert 90 < kept < 100 and project.validate(frame=fewer)["customers"] == kept
    listed = "1. 'market_file.csv', 2. 'market_money.csv', 3. 'market_time.csv', 4. 'money.csv'"
    with pytest.raises(ConfigError, match=f"This project reads 4 tables \\({listed}\\): pass a list of 4"):
        project.score(frame=pd.DataFrame({"id": [1]}))
    with pytest.raises(ConfigError, match="3 DataFrame\\(s\\) for 4 tables"):
        project.score(frame=[frames[n] for n in names[:3]])
    with pytest.raises(ConfigError, match="No DataFrame for 'money.csv'"):
        project.score(frame={n: frames[n] for n in names[:3]})
    with pytest.raises(ConfigError, match="No \\[\\[table.sources\\]\\] entry is 'money.cvs'. Did you mean 'money.csv'"):
        project.score(frame={**frames, "money.cvs": frames["money.csv"]})
    one_table = winback.Project.from_dataset("audiobooks", output_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match="reads one table: pass one DataFrame, not a list"):
        one_table.score(frame=[frames["money.csv"]])


def test_a_customer_frame_with_its_other_tables_joined(tmp_path):
    """One Click's four tables as frames: from_frame(join=...) writes each and sets them up as
    `init --join` sets up the files (the long ones pivoted by period, the misspelt period fixed,
    profit the value), reads the same customers as the bundled config, trains and scores the
    frames again; a join without a table, a name that is no file name or the main table's, or
    an empty join says what it needs."""
    from winback.data.tables import load_customer_table
    from winback.datasets import dataset_dir, oneclick_config

    frames = {n: pd.read_csv(dataset_dir("oneclick") / f"{n}.csv")
              for n in ("market_file", "market_money", "market_time", "money")}
    others = {n: f for n, f in frames.items() if n != "market_file"}
    project = winback.Project.from_frame(frames["market_file"], output_dir=tmp_path / "dict", table=True,
                                         join=others, quiet=True)
    sources = project.config.table.sources
    assert [s.path for s in sources] == ["input/customers.parquet", "input/market_money.parquet",
                                         "input/market_time.parquet", "input/money.parquet"]
    assert (sources[1].pivot_column, sources[1].pivot_values) == ("Период", ["Выручка"])
    assert sources[2].fixes == {"Период": {"предыдцщий_месяц": "предыдущий_месяц"}}
    assert project.config.segments.value_column == "Прибыль" and project.config.problem.name == "activity_decline"
    assert any("market_money.parquet: one row per customer and 'Период'" in n for n in project.setup_notes)
    read = load_customer_table(project.config).frame.set_index("id").sort_index()
    bundled = load_customer_table(oneclick_config()).frame.set_index("id").sort_index()
    assert len(read) == 1300 and len(bundled) == 1297  # the bundled config filters revenue > 0
    assert read.loc[bundled.index, "Выручка_текущий_месяц"].to_numpy() == pytest.approx(
        bundled["revenue_current"].to_numpy())
    assert read.loc[bundled.index, "Прибыль"].to_numpy() == pytest.approx(bundled["Прибыль"].to_numpy())
    project.config.train.trials = 2
    project.config.train.candidates = ["logistic"]
    project.train(report=False)
    files = project.score(reasons=False).set_index("id")["probability"]
    again = project.score(frame={"input/customers.parquet": frames["market_file"],
                                 **{f"input/{n}.parquet": f for n, f in others.items()}}, reasons=False)
    assert np.array_equal(again.set_index("id")["probability"].loc[files.index], files)
    listed = winback.Project.from_frame(frames["market_file"], output_dir=tmp_path / "list", table=True,
                                        join=list(others.values()), quiet=True)
    assert [s.path for s in listed.config.table.sources][1:] == [
        "input/table_2.parquet", "input/table_3.parquet", "input/table_4.parquet"]
    for kwargs, message in (({"join": others}, "Joined tables \\(join=\\) are for customer tables"),
                            ({"table": True, "join": {"../money": frames["money"]}}, "cannot name a file"),
                            ({"table": True, "join": {"customers": frames["money"]}}, "the main table's own name"),
                            ({"table": True, "join": {}}, "join is empty"),
                            ({"table": True, "join": frames["money"]}, "join takes a list of frames or a dict")):
        with pytest.raises(ConfigError, match=message):
            winback.Project.from_frame(frames["market_file"], output_dir=tmp_path / "bad", quiet=True, **kwargs)
    assert not (tmp_path / "bad" / "winback.toml").exists()


def test_polars_and_arrow_frames(orders, tmp_path):
    import polars as pl
    import pyarrow as pa

    project = winback.Project.from_frame(pl.from_pandas(orders), output_dir=tmp_path / "pl", quiet=True)
    assert project.config.source.layout == "cdnow"
    assert project.validate()["rows"] == len(orders)
    table = pa.Table.from_pandas(orders, preserve_index=False)
    assert frame_to_parquet(table, tmp_path / "a.parquet") == []
    assert pd.read_parquet(tmp_path / "a.parquet").equals(orders.reset_index(drop=True))
    with pytest.raises(DataError, match="polars LazyFrame, a query not yet run: pass `frame.collect"):
        frame_to_parquet(pl.from_pandas(orders).lazy(), tmp_path / "b.parquet")
    with pytest.raises(DataError, match="is empty"):
        frame_to_parquet(pl.DataFrame({"a": []}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match="appear more than once"):
        frame_to_parquet(pa.table([[1], [2]], names=["a", "a"]), tmp_path / "b.parquet")
    with pytest.raises(DataError, match="pandas or polars DataFrame or a pyarrow Table, got builtins.dict"):
        frame_to_parquet({"a": [1]}, tmp_path / "b.parquet")


def test_a_spark_frame_is_read_where_it_is(tmp_path):
    """A Spark DataFrame (its class as pyspark names it: starting a JVM here would add 15 s) is
    not collected into one process: the error says how to read it on Spark."""
    spark_frame = type("DataFrame", (), {"__module__": "pyspark.sql.classic.dataframe",
                                        "toArrow": lambda self: None})()
    with pytest.raises(DataError, match='is a Spark DataFrame: save it as a table .* source.backend = "spark"'):
        frame_to_parquet(spark_frame, tmp_path / "s.parquet")
    assert not list(tmp_path.iterdir())


def test_a_frame_with_its_own_names_mapped_by_the_caller(orders, tmp_path):
    """Names no guess reads (`who`, `when_it_happened`) are mapped by `columns`; the amount is
    still guessed from its name, and the project trains on the CDNOW orders as they were."""
    renamed = orders.rename(columns={"customer_id": "who", "date": "when_it_happened", "dollar_value": "revenue"})
    project = winback.Project.from_frame(renamed[["who", "when_it_happened", "revenue"]], output_dir=tmp_path,
                                         columns={"customer_id": "who", "event_time": "when_it_happened"},
                                         quiet=True)
    assert project.config.source.layout == "events"
    assert project.config.source.columns == {"customer_id": "who", "event_time": "when_it_happened",
                                             "amount": "revenue"}
    with pytest.raises(DataError, match="21 rows are exact duplicates of another row"):
        project.validate()  # the events layout asks; CDNOW's own says they are genuine
    project.config.source.duplicates = "keep"
    assert project.validate()["customers"] == orders["customer_id"].nunique()
    with pytest.raises(ConfigError, match="has no column 'whom'. Did you mean 'who'"):
        winback.Project.from_frame(renamed, output_dir=tmp_path, columns={"customer_id": "whom"}, quiet=True)


def test_a_customer_frame_with_its_key_and_label_named(tmp_path):
    table = _churn_table().reset_index().assign(newsletter=lambda f: np.where(f.index % 3, "Yes", "No"))
    project = winback.Project.from_frame(table, output_dir=tmp_path, table=True, key="customer_id",
                                         label="newsletter", quiet=True)
    assert project.config.table.label == "newsletter" and project.config.problem.name == "repeat_purchase"
    with pytest.raises(ConfigError, match="The label 'plans' is not a column of input/customers.parquet"):
        winback.Project.from_frame(table, output_dir=tmp_path, table=True, label="plans", quiet=True)


def test_the_problem_named_for_a_frame(orders, tmp_path):
    project = winback.Project.from_frame(orders, output_dir=tmp_path / "a", problem="activity_decline", quiet=True)
    assert project.config.problem.name == "activity_decline"
    assert 'name = "activity_decline"' in (tmp_path / "a" / "winback.toml").read_text()
    with pytest.raises(ConfigError, match="Unknown problem 'churn'"):
        winback.Project.from_frame(orders, output_dir=tmp_path / "b", problem="churn", quiet=True)
    assert not (tmp_path / "b").exists()
