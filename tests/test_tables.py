"""Customer tables: loading (fixes, pivots, joins, filters, labels) and their errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from winback.config import config_from_dict, validate_config
from winback.data.tables import LABEL, load_customer_table
from winback.datasets import dataset_config
from winback.errors import ConfigError, DataError
from winback.tabular.preprocess import Preprocessor


@pytest.mark.parametrize("name", ["oneclick", "audiobooks", "cdnow"])
def test_a_bundled_datasets_relative_output_folder_is_where_the_caller_runs(name, tmp_path, monkeypatch):
    """The table configs read their files from the package's dataset folder; a relative output
    folder used to follow them there, so dataset_config("oneclick", output_dir="out") wrote its
    bundle inside the installed package."""
    monkeypatch.chdir(tmp_path)
    cfg = dataset_config(name, output_dir="out")
    assert cfg.output_dir(create=False) == tmp_path / "out"


def test_oneclick_tables_are_fixed_pivoted_joined_and_filtered():
    table = load_customer_table(dataset_config("oneclick"))
    f = table.frame.set_index("id")
    assert len(f) == 1297 and f[LABEL].mean() == pytest.approx(0.3816, abs=1e-3)
    assert table.notes == ["kept 1,297 of 1,300 customers where revenue_prev2 > 0 and "
                           "revenue_prev > 0 and revenue_current > 0"]
    assert set(f["Тип сервиса"]) == {"премиум", "стандарт"}  # 'стандартт' fixed
    row = f.loc["215349"]
    assert (row.revenue_prev2, row.revenue_prev, row.revenue_current) == (4472.0, 5216.0, 4971.6)
    assert (row.minutes_prev, row.minutes_current) == (12.0, 10.0)  # 'предыдцщий_месяц' fixed
    assert row["Прибыль"] == pytest.approx(4.16) and row[LABEL] == 1
    assert table.categorical == ["Тип сервиса", "Разрешить сообщать", "Популярная_категория"]
    assert "Покупательская активность" not in f.columns


def test_audiobooks_keeps_missing_review_scores():
    table = load_customer_table(dataset_config("audiobooks"))
    assert len(table.frame) == 14084 and table.frame[LABEL].mean() == pytest.approx(0.1588, abs=1e-3)
    assert table.frame["review_score"].isna().sum() > 10_000 and table.categorical == []


def _project(tmp_path, tables: dict[str, pd.DataFrame], **table):
    for name, frame in tables.items():
        frame.to_csv(tmp_path / name, index=False)
    spec = {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
            "sources": [{"path": name} for name in tables]}
    spec.update(table)
    return config_from_dict({"table": spec}, base_dir=tmp_path)


PEOPLE = pd.DataFrame({"cid": [1, 2, 3, 4], "churned": ["yes", "no", "no", "yes"],
                       "plan": ["gold", "basic", "basic", "gold"], "visits": [3, 5, 1, 8]})


def test_missing_column_suggests_the_closest(tmp_path):
    cfg = _project(tmp_path, {"people.csv": PEOPLE}, label="churn")
    with pytest.raises(DataError, match="no column 'churn'.*Did you mean 'churned'"):
        load_customer_table(cfg)


def test_winbacks_row_counter_is_not_listed_as_a_column(tmp_path):
    cfg = _project(tmp_path, {"people.csv": PEOPLE}, label="churn")
    with pytest.raises(DataError) as err:
        load_customer_table(cfg)
    assert "Columns: cid, churned, plan, visits." in str(err.value) and "__winback" not in str(err.value)


def test_a_table_to_score_validates_without_its_label(tmp_path):
    from winback.project import Project

    cfg = _project(tmp_path, {"people.csv": PEOPLE.drop(columns="churned")})
    summary = Project(cfg).validate()
    assert summary["customers"] == 4 and summary["positive_rate"] is None
    assert any("no label column 'churned'" in n and "scored, not trained on" in n for n in summary["notes"])
    with pytest.raises(DataError, match="no column 'churned'"):  # training still needs it
        load_customer_table(cfg)
    labelled = Project(_project(tmp_path, {"people.csv": PEOPLE})).validate()
    assert labelled["positive_rate"] == 0.5 and not labelled["notes"]


def test_label_values_outside_both_lists_are_named(tmp_path):
    people = PEOPLE.assign(churned=["yes", "no", "maybe", "yes"])
    with pytest.raises(DataError, match=r"neither table.positive nor table.negative: \['maybe'\].*3"):
        load_customer_table(_project(tmp_path, {"people.csv": people}))


def test_mostly_numeric_column_with_a_typo_names_the_rows(tmp_path):
    people = pd.DataFrame({"cid": range(20), "churned": ["yes", "no"] * 10,
                           "visits": [str(i) for i in range(19)] + ["seven"]})
    with pytest.raises(DataError, match=r"'visits' holds numbers except in 1 row\(s\) \(customers 19\)"):
        load_customer_table(_project(tmp_path, {"people.csv": people}))


def test_a_column_listed_as_categorical_stays_text_whatever_it_holds(tmp_path):
    people = pd.DataFrame({"cid": range(20), "churned": ["yes", "no"] * 10,
                           "visits": [str(i) for i in range(19)] + ["seven"],
                           "zip": [f"0{1000 + i}" for i in range(20)]})
    table = load_customer_table(_project(tmp_path, {"people.csv": people}, categorical=["visits", "zip"]))
    assert table.categorical == ["visits", "zip"]  # the advice of the error above works
    assert table.frame["zip"].iloc[0] == "01000" and table.frame["visits"].iloc[-1] == "seven"


def test_categories_lose_stray_spaces_and_case_twins_are_said(tmp_path):
    """'Pro ' and 'Pro' are one category (a CSV's stray space), 'NA' is missing as in a numeric
    column; 'pro' beside 'Pro' is said, with the fix, and left as written."""
    people = pd.DataFrame({"cid": range(8), "churned": ["yes", "no"] * 4,
                           "plan": ["Pro ", "Pro", "pro", "basic", "NA", "", "Pro", "basic"]})
    table = load_customer_table(_project(tmp_path, {"people.csv": people}))
    assert table.frame["plan"].tolist()[:4] == ["Pro", "Pro", "pro", "basic"]
    assert table.frame["plan"].isna().tolist() == [False] * 4 + [True, True, False, False]
    note = next(n for n in table.notes if "letter case" in n)
    assert "'plan': 'Pro' (3) and 'pro' (1)" in note and 'fixes = { "plan" = { "pro" = "Pro" } }' in note
    fixed = load_customer_table(_project(tmp_path, {"people.csv": people},
                                         sources=[{"path": "people.csv", "fixes": {"plan": {"pro": "Pro"}}}]))
    assert fixed.frame["plan"].value_counts()["Pro"] == 4
    assert not any("letter case" in n for n in fixed.notes)


def test_numbers_with_a_decimal_comma_name_the_setting(tmp_path):
    people = PEOPLE.assign(spend=["12,5", "3", "", "7,25"])
    with pytest.raises(DataError, match=r"column 'spend' \('12,5', '7,25'\) holds numbers written "
                                        r"with a decimal comma\. Set decimal = \",\""):
        load_customer_table(_project(tmp_path, {"people.csv": people}))
    comma = _project(tmp_path, {"people.csv": people})
    comma.table.sources[0].decimal = ","
    assert load_customer_table(comma).frame["spend"].tolist()[:2] == [12.5, 3.0]
    kept = load_customer_table(_project(tmp_path, {"people.csv": people}, categorical=["spend"]))
    assert kept.frame["spend"].iloc[0] == "12,5"
    # thousands written 1,234.50 are not taken for decimal commas, nor kept as a text column
    people = PEOPLE.assign(spend=["1,234.50", "3", "$4", ""])
    with pytest.raises(DataError, match=r"column 'spend' \('\$4', '1,234.50'\) holds numbers written with a "
                                        r"currency sign \('\$'\) and with commas between thousands\. Set "
                                        r"currency = \"\$\" and thousands = \",\""):
        load_customer_table(_project(tmp_path, {"people.csv": people}))
    dollars = _project(tmp_path, {"people.csv": people})
    dollars.table.sources[0].currency, dollars.table.sources[0].thousands = "$", ","
    assert load_customer_table(dollars).frame["spend"].tolist()[:3] == [1234.5, 3.0, 4.0]
    # '1,500' alone reads two ways: both are named
    with pytest.raises(DataError, match=r"reads? two ways: set decimal = \",\" or thousands = \",\""):
        load_customer_table(_project(tmp_path, {"people.csv": PEOPLE.assign(spend=["1,500", "3", "4", "2,250"])}))
    # amounts in two currencies are not one number column
    with pytest.raises(DataError, match=r"mixes currency signs \(\$, €\)"):
        load_customer_table(_project(tmp_path, {"people.csv": PEOPLE.assign(spend=["$1", "€3", "$4", "$2"])}))


def test_duplicated_customers_are_an_error(tmp_path):
    people = pd.concat([PEOPLE, PEOPLE.iloc[[1]]])
    with pytest.raises(DataError, match="1 customer id.*appear more than once.*2"):
        load_customer_table(_project(tmp_path, {"people.csv": people}))


def test_empty_lines_are_skipped_and_a_row_without_an_id_is_shown(tmp_path):
    """A spreadsheet export's blank lines (every cell empty) are skipped with a note; a row with
    values but no customer id (a totals line) is an error that shows it. Before, one blank line
    was 'a customer id that appears more than once', with no id to show."""
    cfg = _project(tmp_path, {"people.csv": PEOPLE})
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE.to_csv(index=False) + ",,,\n , ,,\n")
    table = load_customer_table(cfg)
    assert len(table.frame) == 4
    assert "skipped 2 empty row(s) of 'people.csv'" in table.notes
    path.write_text(PEOPLE.to_csv(index=False) + "Total,,,17\n")  # a spreadsheet's totals line
    table = load_customer_table(cfg)
    assert len(table.frame) == 4 and "skipped the totals line(s) 'Total' of 'people.csv'" in table.notes
    path.write_text(PEOPLE.to_csv(index=False) + ",,,\n,,,17\n")
    with pytest.raises(DataError, match=r"1 row\(s\) have values but no customer id in 'cid' \(e.g. visits = '17'\)"):
        load_customer_table(cfg)


def test_pivot_with_an_unknown_period_suggests_a_fix(tmp_path):
    spend = pd.DataFrame({"cid": [1, 1, 2, 2, 3, 3, 4, 4],
                          "period": ["prev", "current", "prev", "current", "prev", "currnet", "prev", "current"],
                          "spend": [1, 2, 3, 4, 5, 6, 7, 8]})
    cfg = _project(tmp_path, {"people.csv": PEOPLE, "spend.csv": spend})
    cfg.table.sources[1].pivot_column = "period"
    cfg.table.sources[1].pivot_values = ["spend"]
    cfg.table.sources[1].pivot_names = {"prev": "prev", "current": "current"}
    with pytest.raises(DataError, match=r"'currnet' \(did you mean 'current'\?\)"):
        load_customer_table(cfg)
    cfg.table.sources[1].fixes = {"period": {"currnet": "current"}}
    f = load_customer_table(cfg).frame.set_index("cid")
    assert f.loc["3", "spend_current"] == 6 and f.loc["4", "spend_prev"] == 7


def test_filters_and_left_join_keep_every_customer_of_the_first_table(tmp_path):
    extra = pd.DataFrame({"cid": [1, 2], "score": [0.5, 0.7]})
    cfg = _project(tmp_path, {"people.csv": PEOPLE, "extra.csv": extra},
                   filters=[{"column": "visits", "op": ">=", "value": 2}])
    table = load_customer_table(cfg)
    assert table.frame["cid"].tolist() == ["1", "2", "4"]
    assert table.frame["score"].isna().tolist() == [False, False, True]
    assert "kept 3 of 4 customers where visits >= 2" in table.notes[0]


def test_config_errors_for_tables():
    with pytest.raises(ConfigError, match="Unknown key 'lable'.*Did you mean 'label'"):
        config_from_dict({"table": {"lable": "x", "sources": [{"path": "a.csv"}]}})
    with pytest.raises(ConfigError, match="op must be one of"):
        config_from_dict({"table": {"label": "y", "positive": ["1"], "sources": [{"path": "a.csv"}],
                                    "filters": [{"column": "x", "op": "=>", "value": 1}]}})
    with pytest.raises(ConfigError, match="table.positive must list .* when table.negative is set"):
        config_from_dict({"table": {"label": "y", "negative": ["0"], "sources": [{"path": "a.csv"}]}})
    with pytest.raises(ConfigError, match="Unknown candidate 'bgnbd' in train.candidates for customer tables"):
        config_from_dict({"table": {"label": "y", "positive": ["1"], "sources": [{"path": "a.csv"}]},
                          "train": {"candidates": ["bgnbd"]}})
    with pytest.raises(ConfigError, match="train.imbalance must be one of.*Did you mean 'smote'"):
        config_from_dict({"train": {"imbalance": "smoet"}})
    with pytest.raises(ConfigError, match="names 'svm', which is no tuned candidate.*Did you mean 'svc'"):
        config_from_dict({"train": {"trials_by_candidate": {"svm": 4}}})
    with pytest.raises(ConfigError, match="trials_by_candidate.mlp must be a whole number of trials, at least 1"):
        config_from_dict({"train": {"trials_by_candidate": {"mlp": 0}}})
    with pytest.raises(ConfigError, match="'train.trials_by_candidate' must be a table of whole numbers"):
        config_from_dict({"train": {"trials_by_candidate": {"mlp": "3"}}})


def test_empty_table_is_an_error(tmp_path):
    (tmp_path / "people.csv").write_text("cid,churned,visits\n")
    cfg = config_from_dict({"table": {"key": "cid", "label": "churned", "positive": ["yes"],
                                      "sources": [{"path": "people.csv"}]}}, base_dir=tmp_path)
    with pytest.raises(DataError, match="has no rows"):
        load_customer_table(cfg)


def test_preprocessor_imputes_flags_encodes_and_round_trips():
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0, 5.0], "c": pd.array(["a", "b", "a", None], dtype="string")})
    p = Preprocessor(["x"], ["c"]).fit(train)
    assert p.names == ["x", "x (missing)", "c=a", "c=b"]
    assert p.sources == ["x", "x", "c", "c"]
    new = pd.DataFrame({"x": [np.nan], "c": pd.array(["zzz"], dtype="string")})
    raw = p._raw(new)[0]
    assert raw.tolist() == [3.0, 1.0, 0.0, 0.0]  # training median, flagged, unseen category
    q = Preprocessor.from_dict(p.to_dict())
    assert np.allclose(q.transform(train), p.transform(train))


def test_latin1_table_source_reads_with_its_encoding(tmp_path):
    people = PEOPLE.assign(city=["Köln", "Málaga", "Zürich", "Nîmes"])
    people.to_csv(tmp_path / "people.csv", index=False, encoding="latin-1")
    spec = {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"]}
    cfg = config_from_dict({"table": {**spec, "sources": [{"path": "people.csv"}]}}, base_dir=tmp_path)
    with pytest.raises(DataError, match="not UTF-8 text.*\\[\\[table.sources\\]\\] entry"):
        load_customer_table(cfg)
    cfg = config_from_dict({"table": {**spec, "sources": [{"path": "people.csv", "encoding": "latin-1"}]}},
                           base_dir=tmp_path)
    assert sorted(load_customer_table(cfg).frame["city"]) == ["Köln", "Málaga", "Nîmes", "Zürich"]
    cfg = config_from_dict({"table": {**spec, "sources": [{"path": "people.csv", "encoding": "cp-9999"}]}},
                           base_dir=tmp_path)
    with pytest.raises(DataError, match="encoding 'cp-9999' is not one Python knows"):
        load_customer_table(cfg)
    # Cyrillic Windows exports (One Click's own language) read through a UTF-8 copy
    PEOPLE.assign(city=["Москва", "Казань", "Пермь", "Омск"]).to_csv(tmp_path / "people.csv", index=False,
                                                                    encoding="cp1251")
    cfg = config_from_dict({"table": {**spec, "sources": [{"path": "people.csv", "encoding": "cp1251"}]}},
                           base_dir=tmp_path)
    assert sorted(load_customer_table(cfg).frame["city"]) == ["Казань", "Москва", "Омск", "Пермь"]


def test_a_label_that_is_already_0_or_1_needs_no_lists(tmp_path):
    people = PEOPLE.assign(churned=[1, 0, 0, 1])
    cfg = _project(tmp_path, {"people.csv": people}, positive=[], negative=[])
    assert load_customer_table(cfg).frame.sort_values("cid")[LABEL].tolist() == [1, 0, 0, 1]
    booleans = PEOPLE.assign(churned=[True, False, False, True])
    cfg = _project(tmp_path, {"people.csv": booleans}, positive=[], negative=[])
    assert load_customer_table(cfg).frame.sort_values("cid")[LABEL].tolist() == [1, 0, 0, 1]
    cfg = _project(tmp_path, {"people.csv": PEOPLE}, positive=[], negative=[])  # yes / no
    with pytest.raises(DataError, match=r"4 row.*list the value\(s\) that mean 1 in table.positive"):
        load_customer_table(cfg)


def test_a_label_column_named_label_and_an_empty_column_train(tmp_path):
    # 'label' was winback's own name for the 0/1 outcome, so a user's 'label' column was
    # dropped as the source of it; a column empty in every row crashed the decimal-comma sniff
    people = pd.DataFrame({"cid": range(6), "label": ["yes", "no"] * 3, "visits": [1, 2, 3, 4, 5, 6],
                           "notes": [None] * 6})
    table = load_customer_table(_project(tmp_path, {"people.csv": people}, label="label"))
    assert table.frame[LABEL].tolist() == [1, 0] * 3 and table.numeric == ["visits"]
    assert "notes" not in table.frame.columns and table.notes == ["left out 'notes': empty in every row"]
    # a feature called 'label' beside another label column is the user's, not overwritten
    both = people.rename(columns={"label": "churned"}).assign(label=[9, 8, 7, 6, 5, 4])
    table = load_customer_table(_project(tmp_path, {"people.csv": both}))
    assert table.frame["label"].tolist() == [9, 8, 7, 6, 5, 4] and table.frame[LABEL].tolist() == [1, 0] * 3


def test_filter_values_of_the_wrong_kind_and_settings_that_contradict(tmp_path):
    # each crashed with an IbisTypeError or gave a misleading message
    cfg = _project(tmp_path, {"people.csv": PEOPLE}, filters=[{"column": "plan", "op": ">", "value": 0}])
    with pytest.raises(DataError, match="column 'plan' holds text, so '> 0' cannot compare it with a number"):
        load_customer_table(cfg)
    cfg = _project(tmp_path, {"people.csv": PEOPLE}, filters=[{"column": "visits", "op": ">", "value": "many"}])
    with pytest.raises(DataError, match="column 'visits' holds numbers, but the filter compares it with the text 'many'"):
        load_customer_table(cfg)
    cfg = _project(tmp_path, {"people.csv": PEOPLE}, filters=[{"column": "visits", "op": ">", "value": "2"}])
    assert sorted(load_customer_table(cfg).frame["visits"]) == [3, 5, 8]  # "2" in the TOML reads as 2
    with pytest.raises(DataError, match="table.drop lists 'churned', the table's label, which is never a feature"):
        load_customer_table(_project(tmp_path, {"people.csv": PEOPLE}, drop=["churned"]))
    with pytest.raises(ConfigError, match="positive and table.negative both list 'yes'"):
        _project(tmp_path, {"people.csv": PEOPLE}, negative=["yes", "no"])


def test_a_table_glob_reads_every_file_and_each_must_hold_every_column(tmp_path):
    (tmp_path / "parts").mkdir()
    PEOPLE.iloc[:2].to_csv(tmp_path / "parts" / "a.csv", index=False)
    PEOPLE.iloc[2:].to_csv(tmp_path / "parts" / "b.csv", index=False)
    cfg = config_from_dict({"table": {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                                      "sources": [{"path": "parts/*.csv"}]}}, base_dir=tmp_path)
    assert sorted(load_customer_table(cfg).frame["cid"]) == ["1", "2", "3", "4"]
    PEOPLE.iloc[2:].drop(columns="visits").to_csv(tmp_path / "parts" / "b.csv", index=False)
    with pytest.raises(DataError, match=r"b.csv has no column 'visits', which other files of the glob have"):
        load_customer_table(cfg)


def test_a_float_key_in_parquet_reads_as_whole_ids(tmp_path):
    PEOPLE.assign(cid=PEOPLE["cid"].astype(float)).to_parquet(tmp_path / "people.parquet")
    cfg = config_from_dict({"table": {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                                      "sources": [{"path": "people.parquet"}]}}, base_dir=tmp_path)
    assert load_customer_table(cfg).frame["cid"].tolist() == ["1", "2", "3", "4"]


def test_missing_marks_are_missing_and_infinite_values_are_named(tmp_path):
    """NA / NaN / NULL / #N/A (R, pandas, Excel) are missing values to impute; 'inf' parsed as a
    float and failed the models ('Input X contains NaN')."""
    people = PEOPLE.assign(visits=["3", "NA", "#N/A", "8"], spend=["1.5", "NaN", "null", "2"])
    table = load_customer_table(_project(tmp_path, {"people.csv": people}))
    assert table.numeric == ["visits", "spend"]
    assert table.frame["visits"].isna().tolist() == [False, True, True, False]
    bad = pd.DataFrame({"cid": range(20), "churned": ["yes", "no"] * 10,
                        "visits": [str(i) for i in range(19)] + ["inf"]})
    with pytest.raises(DataError, match=r"column 'visits' holds numbers except in 1 row\(s\) \(customers 19\)"):
        load_customer_table(_project(tmp_path, {"people.csv": bad}))
    bad.assign(visits=[float(i) for i in range(19)] + [float("-inf")]).to_parquet(tmp_path / "people.parquet")
    cfg = config_from_dict({"table": {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                                      "sources": [{"path": "people.parquet"}]}}, base_dir=tmp_path)
    with pytest.raises(DataError, match="column 'visits' holds infinite values"):
        load_customer_table(cfg)


def test_dates_percentages_and_identifiers_in_a_crm_export(tmp_path):
    """A CRM export: ISO dates become days before the table's date (as_of, or the latest date
    in them), '12%' is 0.12, and an email column, different for every customer, is left out
    unless listed in table.categorical. A typed Parquet date column reads like ISO text."""
    n = 40
    people = pd.DataFrame({"cid": range(n), "churned": ["yes", "no"] * (n // 2),
                           "email": [f"u{i}@shop.com" for i in range(n)],
                           "signup": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
                           "last_order": [f"2024-06-{1 + i % 30:02d} 10:30:00" for i in range(n)],
                           "discount": [f"{i % 20} %" if i % 2 else f"{i % 20}%" for i in range(n)]})
    table = load_customer_table(_project(tmp_path, {"people.csv": people}))
    f = table.frame.set_index("cid")
    assert "email" not in f.columns and any("left out 'email'" in note for note in table.notes)
    assert "days before 2024-06-30" in " ".join(table.notes)  # the latest date in them
    assert f.loc["0", "days_since_signup"] == 181.4375 and f.loc["1", "days_since_last_order"] == 28.0
    assert f.loc["3", "discount"] == pytest.approx(0.03) and "discount" in table.numeric
    assert {"days_since_signup", "days_since_last_order"} <= set(table.numeric)
    cfg = _project(tmp_path, {"people.csv": people}, as_of="2024-07-31", categorical=["email"])
    f = load_customer_table(cfg).frame.set_index("cid")
    assert f.loc["0", "days_since_signup"] == 212.0 and f.loc["7", "email"] == "u7@shop.com"
    typed = people.assign(signup=pd.to_datetime(people.signup).dt.date)
    typed.to_parquet(tmp_path / "people.parquet")
    spec = {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"], "sources": [{"path": "people.parquet"}]}
    f = load_customer_table(config_from_dict({"table": spec}, base_dir=tmp_path)).frame.set_index("cid")
    assert f.loc["0", "days_since_signup"] == 181.4375
    with pytest.raises(ConfigError, match="table.as_of = '31/07/2024' is not a date"):
        validate_config(_project(tmp_path, {"people.csv": people}, as_of="31/07/2024"))
    # a text column where only some values are dates stays text, as before
    mixed = people.assign(signup=["2024-01-01"] * (n - 1) + ["soon"])
    assert "signup" in load_customer_table(_project(tmp_path, {"people.csv": mixed})).categorical


def _dated(tmp_path, dates: list[str], **source):
    """A table whose one feature is `last_order`, written as `dates`; as_of 2024-07-01."""
    n = len(dates)
    people = pd.DataFrame({"cid": range(n), "churned": ["yes", "no"] * (n // 2), "last_order": dates})
    people.to_csv(tmp_path / "people.csv", index=False)
    spec = {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
            "sources": [{"path": "people.csv", **source}], "as_of": "2024-07-01"}
    return config_from_dict({"table": spec}, base_dir=tmp_path)


@pytest.mark.parametrize("written, days", [
    ("{d:02d}/06/2024", "day first, a day above 12 among them"),
    ("06/{d:02d}/2024 14:30", "month first, with a time"),
    ("{d}.6.2024", "German dots, unpadded"),
    ("2024/06/{d:02d}", "year first with slashes"),
    ("Jun {d}, 2024", "a month's name first"),
    ("{d} Jun 2024", "a month's name between"),
    ("6/{d}/2024 2:30 PM", "month first, a 12-hour clock"),
])
def test_dates_written_otherwise_than_iso_become_days(tmp_path, written, days):
    """A CRM export's day-first or month-first dates are dates, not a category with a value for
    nearly every customer; the format is found from the values (a day above 12 decides)."""
    dates = [written.format(d=1 + i % 30) for i in range(40)]
    f = load_customer_table(_dated(tmp_path, dates)).frame.set_index("cid")
    first = 30 - 14.5 / 24 if ("14:30" in written or "PM" in written) else 30  # 1 June (at 14:30) to 1 July
    assert f.loc["0", "days_since_last_order"] == pytest.approx(first)
    assert f.loc["13", "days_since_last_order"] == pytest.approx(first - 13)


def test_ambiguous_day_month_dates_ask_for_date_format(tmp_path):
    dates = [f"{1 + i % 12:02d}/{1 + i % 7:02d}/2024" for i in range(40)]  # no field above 12
    with pytest.raises(DataError, match=r"'last_order' holds dates written day first \('%d/%m/%Y'\) or "
                                        r"month first \('%m/%d/%Y'\).*Set date_formats = \{ \"last_order\" = "
                                        r"\"%d/%m/%Y\" \} \(or \"%m/%d/%Y\"\).*or date_format = '%d/%m/%Y'"):
        load_customer_table(_dated(tmp_path, dates))
    # customer 12 has '01/06/2024': 6 January read month first, 1 June read day first
    for date_format, written in (("%m/%d/%Y", "2024-01-06"), ("%d/%m/%Y", "2024-06-01")):
        f = load_customer_table(_dated(tmp_path, dates, date_format=date_format)).frame.set_index("cid")
        days = (pd.Timestamp("2024-07-01") - pd.Timestamp(written)).days
        assert f.loc["12", "days_since_last_order"] == pytest.approx(days)


def test_scoring_reads_dates_in_the_training_files_format(tmp_path):
    """Training's file told day-first (a day above 12); a file to score whose days are all 12 or
    under reads the same way, from the bundle, instead of stopping on the ambiguity."""
    from winback.score_table import scorable_table, score_table
    from winback.train_table import train_table

    rng = np.random.default_rng(1)
    n = 200
    day = rng.integers(1, 29, n)
    churn = np.where(rng.random(n) < day / 29, "yes", "no")
    pd.DataFrame({"cid": range(n), "churned": churn, "last_order": [f"{d:02d}/06/2024" for d in day]}
                 ).to_csv(tmp_path / "people.csv", index=False)
    spec = {"problem": {"name": "activity_decline"},
            "table": {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                      "as_of": "2024-07-01", "sources": [{"path": "people.csv"}]},
            "train": {"candidates": ["logistic"], "trials": 1}, "tracking": {"enabled": False}}
    result = train_table(config_from_dict(spec, base_dir=tmp_path), report=False)
    manifest = json.loads((result.bundle_dir / "manifest.json").read_text())
    assert manifest["data"]["date_formats"] == {"last_order": "%d/%m/%Y"}
    pd.DataFrame({"cid": ["a", "b"], "last_order": ["01/06/2024", "12/06/2024"]}).to_csv(tmp_path / "new.csv", index=False)
    new = {**spec, "table": {**spec["table"], "sources": [{"path": "new.csv"}]}}
    with pytest.raises(DataError, match="day first"):  # on its own, the file does not tell
        load_customer_table(config_from_dict(new, base_dir=tmp_path), with_labels=False)
    read = scorable_table(config_from_dict(new, base_dir=tmp_path), result.bundle_dir).frame.set_index("cid")
    assert read.loc["a", "days_since_last_order"] == 30 and read.loc["b", "days_since_last_order"] == 19
    scored = score_table(config_from_dict(new, base_dir=tmp_path), result.bundle_dir, reasons=False)
    assert len(scored) == 2 and scored["probability"].between(0, 1).all()
    # validate says what score does (it stopped on the ambiguity), and that train would stop
    from winback.project import Project

    project = Project(config_from_dict(new, base_dir=tmp_path))
    assert project.bundle_dir == result.bundle_dir
    summary = project.validate()
    assert summary["customers"] == 2 and summary["positive_rate"] is None
    assert any("can score them, reading them as its training file was read" in n and "day first" in n
               and "`winback train` would stop on it" in n for n in summary["notes"])


def test_each_column_of_dates_can_have_its_own_format(tmp_path):
    """One export, two columns of dates in two shapes whose days are all 12 or under: one
    date_format cannot read both, date_formats reads each in its own; a column named there is
    read as dates whatever its values look like (20240105 is no number of orders)."""
    n = 24
    people = pd.DataFrame({"cid": range(n), "churned": ["yes", "no"] * (n // 2),
                           "signup": [f"{1 + i % 12:02d}/02/2023" for i in range(n)],
                           "last_order": [f"06/{1 + i % 12:02d}/2024 14:30" for i in range(n)],
                           "first_seen": [f"202301{1 + i % 12:02d}" for i in range(n)]})
    people.to_csv(tmp_path / "people.csv", index=False)

    def load(**source):
        spec = {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                "sources": [{"path": "people.csv", **source}], "as_of": "2024-07-01"}
        return load_customer_table(config_from_dict({"table": spec}, base_dir=tmp_path))

    with pytest.raises(DataError, match="'last_order' holds values that date_format '%d/%m/%Y' does not read"):
        load(date_format="%d/%m/%Y")
    table = load(date_formats={"signup": "%d/%m/%Y", "last_order": "%m/%d/%Y %H:%M", "first_seen": "%Y%m%d"})
    f = table.frame.set_index("cid")
    # customer 3: signup 4 February 2023, last order 4 June 2024 at 14:30, first seen 4 January 2023
    assert f.loc["3", "days_since_signup"] == (pd.Timestamp("2024-07-01") - pd.Timestamp("2023-02-04")).days
    assert f.loc["3", "days_since_last_order"] == pytest.approx(27 - 14.5 / 24)
    assert f.loc["3", "days_since_first_seen"] == (pd.Timestamp("2024-07-01") - pd.Timestamp("2023-01-04")).days
    assert table.date_formats == {"signup": "%d/%m/%Y", "last_order": "%m/%d/%Y %H:%M", "first_seen": "%Y%m%d"}
    assert "first_seen" in load(date_formats={"signup": "%d/%m/%Y", "last_order": "%m/%d/%Y %H:%M"}
                                ).numeric  # without its format, a number like any other
    # a column's own format before the file's: date_format reads signup, last_order its own
    f = load(date_format="%m/%d/%Y", date_formats={"last_order": "%d/%m/%Y %H:%M"}).frame.set_index("cid")
    assert f.loc["3", "days_since_signup"] == (pd.Timestamp("2024-07-01") - pd.Timestamp("2023-04-02")).days
    assert f.loc["3", "days_since_last_order"] == pytest.approx(86 - 14.5 / 24)  # 6 April
    with pytest.raises(DataError, match="'last_order' holds values that the date format given for it "
                                        r"\('%Y%m%d'\) does not read \(customers 0, 1, 2"):
        load(date_format="%d/%m/%Y", date_formats={"last_order": "%Y%m%d"})
    with pytest.raises(DataError, match="date_formats names 'last_ordre', which is not one of its columns; it can "
                                        "only name columns of dates written as text. Did you mean 'last_order'"):
        load(date_formats={"last_ordre": "%d/%m/%Y"})
    with pytest.raises(DataError, match="date_formats names 'cid', which is the key"):
        load(date_formats={"cid": "%d/%m/%Y"})
    with pytest.raises(ConfigError, match=r"date_formats.signup 'dd/mm' names no day, month or year"):
        validate_config(config_from_dict({"table": {"key": "cid", "label": "churned", "sources": [
            {"path": "people.csv", "date_formats": {"signup": "dd/mm"}}]}}, base_dir=tmp_path))


def test_date_format_that_does_not_read_a_value_names_the_customer(tmp_path):
    dates = [f"{1 + i % 28:02d}/06/2024" for i in range(40)]
    with pytest.raises(DataError, match=r"'last_order' holds values that date_format '%m/%d/%Y' does not read "
                                        r"\(customers 12, 13, 14"):
        load_customer_table(_dated(tmp_path, dates, date_format="%m/%d/%Y"))
    with pytest.raises(ConfigError, match="date_format 'dd/mm/yyyy' names no day, month or year"):
        validate_config(_dated(tmp_path, dates, date_format="dd/mm/yyyy"))
    # dates with an impossible day in no usual format stay text, as before
    odd = dates[:-1] + ["31/02/2024"]
    assert "last_order" in load_customer_table(_dated(tmp_path, odd)).categorical


def test_true_false_columns_read_as_1_0_with_or_without_gaps(tmp_path):
    """pandas made a Parquet true/false column with a gap text ('True', 'False': categories)
    and one without numbers, so the same column changed kind from one table to the next."""
    gappy = pd.array([True, False, None, True], dtype="boolean")
    PEOPLE.assign(vip=gappy, paid=[True, True, False, False], flag=[True, False, True, False]
                  ).to_parquet(tmp_path / "people.parquet")
    cfg = config_from_dict({"table": {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                                      "categorical": ["flag"], "sources": [{"path": "people.parquet"}],
                                      "filters": [{"column": "paid", "op": "==", "value": True}]}},
                           base_dir=tmp_path)
    table = load_customer_table(cfg)
    assert table.boolean == ["vip", "paid"] and set(table.boolean) <= set(table.numeric)
    f = table.frame.set_index("cid")
    assert f["vip"].tolist() == [1.0, 0.0] and f["paid"].tolist() == [1.0, 1.0]
    assert table.categorical == ["plan", "flag"] and f["flag"].tolist() == ["True", "False"]
    # the whole column, gap included, without the filter
    del cfg.table.filters[:]
    assert load_customer_table(cfg).frame["vip"].isna().tolist() == [False, False, True, False]


def test_number_codes_kept_as_categories_read_as_a_file_writes_them(tmp_path):
    """A Parquet code column with a gap is float: its categories were '7.0', which a CSV's '7'
    did not meet."""
    PEOPLE.assign(region=[7.0, None, 12.0, 7.0], store=[1, 2, 3, 1]).to_parquet(tmp_path / "people.parquet")
    cfg = config_from_dict({"table": {"key": "cid", "label": "churned", "positive": ["yes"], "negative": ["no"],
                                      "categorical": ["region", "store"], "sources": [{"path": "people.parquet"}]}},
                           base_dir=tmp_path)
    f = load_customer_table(cfg).frame
    assert f["region"].fillna("-").tolist() == ["7", "-", "12", "7"] and f["store"].tolist() == ["1", "2", "3", "1"]


def test_row_numbers_and_second_ids_are_left_out_of_training(tmp_path):
    """A file sorted by outcome, with its row number as a column (RowNumber, pandas' 'Unnamed:
    0'): a model learns the label from where a customer sits in the file."""
    n = 40
    people = pd.DataFrame({"Unnamed: 0": range(n), "cid": [f"c{i}" for i in range(n)], "RowNumber": range(1, n + 1),
                           "churned": ["yes"] * 20 + ["no"] * 20, "NumOfProducts": [1, 2, 3, 4] * 10,
                           "points": np.arange(n) * 7 + 3, "visits": np.linspace(0, 1, n),
                           "email": [f"p{i}@shop.example" for i in range(n)]})
    table = load_customer_table(_project(tmp_path, {"people.csv": people}))
    assert table.numeric == ["NumOfProducts", "points", "visits"] and table.categorical == []
    assert table.notes == ["left out 'Unnamed: 0', 'RowNumber': a different whole number for every "
                           "customer, named like an id or a row number, from which a model learns only "
                           "the file's order (a leak, where the file is sorted by outcome); give them "
                           "another name with `rename` to keep them",
                           "left out 'email': a different text for (nearly) every customer, like an id "
                           "or an email, which no model can learn from (list it in table.categorical to "
                           "keep it)"]
    kept = _project(tmp_path, {"people.csv": people},
                    sources=[{"path": "people.csv", "rename": {"RowNumber": "rank"}}])
    assert "rank" in load_customer_table(kept).numeric
    # a table to score keeps its columns (the model reads only its own)
    assert "RowNumber" in load_customer_table(_project(tmp_path, {"people.csv": people}), with_labels=False).numeric


def test_a_column_that_tells_the_label_on_its_own_is_a_warning(tmp_path):
    """A churn reason only churners have, a cancellation a few days after the outcome: recorded
    after it, they are leaks that make a model look perfect and fail on customers to score."""
    rng = np.random.default_rng(0)
    n = 200
    churned = rng.random(n) < 0.3
    people = pd.DataFrame({"cid": range(n), "churned": np.where(churned, "yes", "no"),
                           "reason": np.where(churned, rng.choice(["price", "service"], n), ""),
                           "days_to_cancel": np.where(churned, rng.integers(1, 30, n), np.nan),
                           "visits": rng.poisson(3, n) + 2 * (~churned), "plan": rng.choice(["a", "b"], n)})
    table = load_customer_table(_project(tmp_path, {"people.csv": people}))
    assert len(table.warnings) == 1 and table.notes == []
    assert table.warnings[0].startswith(
        "'days_to_cancel' (where it is empty, ROC-AUC 1.000), 'reason' (its categories, ROC-AUC 1.000) "
        "tell the label almost perfectly on their own")
    assert "visits" not in table.warnings[0] and "list such columns in table.drop" in table.warnings[0]
    dropped = _project(tmp_path, {"people.csv": people}, drop=["reason", "days_to_cancel"])
    assert load_customer_table(dropped).warnings == []
    assert load_customer_table(_project(tmp_path, {"people.csv": people}), with_labels=False).warnings == []


def test_customers_whose_label_is_empty_are_left_out_of_training_and_scored(tmp_path):
    """A CRM table holds this quarter's customers, outcome not known yet, beside last quarter's:
    training stopped on them ("drop them or fill them"), though they are the ones to score."""
    people = pd.DataFrame({"cid": range(8), "churned": ["yes", "no", None, "no", "yes", "", "no", "yes"],
                           "visits": [3, 5, 1, 8, 2, 7, 4, 6]})
    cfg = _project(tmp_path, {"people.csv": people})
    table = load_customer_table(cfg)
    assert table.frame["cid"].tolist() == ["0", "1", "3", "4", "6", "7"]
    assert table.frame[LABEL].tolist() == [1, 0, 0, 1, 0, 1]
    assert table.notes == ["left out 2 of 8 customers whose 'churned' is empty (2, 5): an outcome "
                           "not known yet is nothing to learn or test on; `winback score` scores them"]
    scored = load_customer_table(cfg, with_labels=False)  # what `winback score` reads
    assert scored.frame["cid"].tolist() == [str(i) for i in range(8)] and LABEL not in scored.frame.columns
    outcomes = load_customer_table(cfg, for_training=False)  # `winback outcomes`: kept, missing
    assert len(outcomes.frame) == 8 and outcomes.frame[LABEL].isna().sum() == 2
    nobody = people.assign(churned=None)
    with pytest.raises(DataError, match=r"'churned' is empty in every row \(8\): there is no outcome"):
        load_customer_table(_project(tmp_path, {"people.csv": nobody}))


def test_a_wide_table_of_numbers_reads_as_a_narrow_one_does(tmp_path):
    """A table of many text columns tells its plain numbers in one cheap pass (a 300-column
    table took 24 s to read, now 14 s); percentages, dates, 'inf' and stray values among them
    are read and refused as in a narrow table."""
    rng = np.random.default_rng(2)
    n = 40
    wide = pd.DataFrame({f"x{i}": rng.normal(size=n).round(3) for i in range(25)})
    wide.insert(0, "cid", range(n))
    wide["churned"] = ["yes", "no"] * (n // 2)
    wide["share"] = [f"{v}%" for v in rng.integers(0, 100, n)]
    wide["joined"] = [f"2024-01-{1 + i % 28:02d}" for i in range(n)]
    wide["odd"] = ["inf"] + [str(v) for v in range(1, n)]
    wide.loc[3, "x1"] = None
    table = load_customer_table(_project(tmp_path, {"people.csv": wide}, categorical=["odd"]))
    f = table.frame.set_index("cid")
    assert f["x0"].tolist() == wide["x0"].tolist() and np.isnan(f.loc["3", "x1"])
    assert f.loc["0", "share"] == pytest.approx(int(wide.loc[0, "share"][:-1]) / 100)
    assert "days_since_joined" in f.columns and "x24" in table.numeric and "odd" in table.categorical
    wide["x7"] = wide["x7"].astype(str)
    wide.loc[5, "x7"] = "n/v"
    with pytest.raises(DataError, match=r"column 'x7' holds numbers except in 1 row\(s\) \(customers 5\)"):
        load_customer_table(_project(tmp_path, {"people.csv": wide.drop(columns="odd")}))
    wide.loc[5, "x7"] = "inf"
    with pytest.raises(DataError, match=r"column 'x7' holds numbers except in 1 row"):
        load_customer_table(_project(tmp_path, {"people.csv": wide.drop(columns="odd")}))
