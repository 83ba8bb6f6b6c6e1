"""`winback init`: a winback.toml written from what the source shows.

Reading the source when it is there turns the template's placeholders into a config that
validates and trains as written: the layout its columns match; the horizon fitted to the log's
time span; for the `events` layout, columns mapped by name and look-alike event types by word;
the settings a failed read names as its fix (a unix time or date format, a decimal comma,
thousands separators, a currency sign, an encoding, ISO dates, refunds as returns, dropping rows
without a customer); for customer tables, the key, the label with its values, the encoding and
how numbers are written. Every guess comes back as a note to print.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from rich.markup import escape

from winback.config import ProblemConfig
from winback.data.numbers import NumberFormat, described
from winback.errors import ConfigError, WinbackError, closest, did_you_mean

EVENT_TEMPLATE = """# winback project: see README.md for every key.
[source]
path = {path}
layout = "{layout}"            # rees46 | cdnow | online_retail | ga_sessions | ga4 | shopify | paypal | stripe | events
backend = "duckdb"             # duckdb | spark | postgres | bigquery (then table = "..." and [source.connection])
{extra}
# sheet = "Orders"             # a workbook's sheet (.xlsx, .xls, .ods): empty = its first
# time_format = "unix_ms"      # empty = the layout's (ISO 8601); a strptime format; iso; unix_s | unix_ms | unix_us
# timezone = "Europe/Berlin"   # zone of times written without one: UTC (default), "+02:00" or a zone name
# decimal = ","                # numbers written 12,50
# thousands = ","              # numbers written 1,234.50 (with decimal = ",": thousands = "." for 1.234,50)
# currency = "$"               # a sign or code written with the amounts ($12.50, 12,50 EUR)
{columns}

[problem]
name = "repeat_purchase"       # repeat_purchase | return_visit | first_purchase | activity_decline | next_event
# decline_measure = "orders"   # activity_decline: events | orders | spend in the horizon,
# decline_share = 0.8          # below this share of the same-length window before the cutoff
horizon_days = {horizon}
train_cutoffs = 4
cutoff_step_days = {step}
min_history_days = {history}
# test_cutoff = "2020-01-01"   # default: the end of the data minus the horizon

[features]
windows_days = [7, 30, 90, 180]
{attributes}

[train]
# candidates = ["logistic", "lightgbm", "bgnbd"]   # default: the problem's own (no bgnbd for
#                                                  # first_purchase; markov, lightgbm... for next_event)
seed = 42
# threshold_rule = "contacts"  # f1 | recall | contacts | profit | accuracy: who `winback score` flags
# contact_share = 0.2          # contacts: the share of customers a campaign can reach
# backtest_folds = 4           # also train at 4 test cutoffs: stability over time in the report

[output]
dir = "winback-out"
"""


MORE_TABLES = """
# [[table.sources]]            # more tables, joined on the key; pivot long ones by period
# path = "revenue.csv"
# pivot_column = "period"
# pivot_values = ["revenue"]
"""

TABLE_TEMPLATE = """# winback project on customer tables: see README.md, "Customer tables".
[problem]
{problem_line}

[table]
key = {key}
{label_line}
{values}{categorical}

[[table.sources]]
path = {path}{settings}
# fixes = {{ "plan" = {{ "premuim" = "premium" }} }}
{joined}
# [[table.filters]]
# column = "revenue"
# op = ">"
# value = 0

[segments]
{value_line}

[train]
trials = 15                    # Optuna trials per candidate
# trials_by_candidate = {{ svc = 4, mlp = 3 }}   # fewer for candidates slow on a large table
seed = 42

[output]
dir = "winback-out"
"""


class _Unaccented:
    """A name pattern matched on the text with its accents taken off, so that 'Gekündigt',
    'Résilié' and 'Abgewandert' meet patterns written in plain letters (the label of a German
    churn table was read as a repeat purchase, which turned its segments' risk around)."""

    def __init__(self, pattern: re.Pattern):
        self.pattern = pattern

    def search(self, text: str):
        plain = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
        return self.pattern.search(plain)


# a label that names a loss (churned, cancelled, left): its 1 is the bad outcome, so the risk of
# the segments is its probability (activity_decline), not one minus it
LOSS_NAMES = _Unaccented(re.compile(
    r"(churn|attrition|cancel|(?<![a-z])left(?![a-z_ -])|exited|lapse|declin|decreas|lost|inactiv|unsubscri|"
    r"defect|leav|abwander|abgewandert|k(u|ue)ndig|resili|baja|abbandon|disdett|opgezeg|"
    r"отток|снизил|сниж|ушел|ушла|ушли)", re.I))                   # Russian: churn, decreased, left
# a numeric column of what a customer is worth, for the value axis of the segments
VALUE_NAMES = _Unaccented(re.compile(
    r"(revenue|profit|spend|spent|charges|sales|value|clv|ltv|(?<![a-z])(mrr|arr|acv|arpu|fees?)(?![a-z])|"
    r"umsatz|gewinn|ausgaben|"                      # German
    r"chiffre|depense|revenu|benefice|"             # French
    r"ingreso|gasto|facturacion|ventas|importe|"    # Spanish
    r"ricav|spesa|fatturato|"                       # Italian
    r"omzet|winst|uitgave|"                         # Dutch
    r"выручк|прибыл|доход|расход|"                  # Russian
    r"amount|betrag|montant|monto|importo|bedrag)", re.I))  # an amount (CashbackAmount, Gesamtbetrag)
# ...but not a time spent ('HourSpendOnApp'), a change in value ('OrderAmountHikeFromlastYear',
# a percentage) or a score ('SpendingScore', 1 to 100): none is what a customer is worth
NOT_VALUE_NAMES = _Unaccented(re.compile(
    r"(hour|minute|second|(?<![a-z])time|duration|stunde|minut|zeit|heure|temps|tiempo|tempo|"
    r"hike|growth|change|increase|decrease|delta|pct|percent|ratio|rate(?![a-z])|share|score)", re.I))


def is_value_name(column: str) -> bool:
    """A column named as what a customer is worth (revenue, profit, spend, MRR, an amount)."""
    return bool(VALUE_NAMES.search(column)) and not NOT_VALUE_NAMES.search(column)


# a value per period (MonthlyCharges, MRR, annual fee) is what a lost customer takes away; a
# total to date (TotalCharges) mostly counts tenure, and long-standing customers leave least
RECURRING_VALUE = _Unaccented(re.compile(r"(monthly|per[ _-]?month|(?<![a-z])(mrr|arr)(?![a-z])|recurring|annual|"
                                         r"yearly|per[ _-]?year|monat|mensuel|mensual|mensile|maand|"
                                         r"jahr|annuel|anual|annuale|jaarlijk)", re.I))
KEY_NAMES = re.compile(r"(^id$|_id$|^id_|customer|client|user|member|^cid$)", re.I)
# a label written as an answer (Churned: Yes / No): the yes is 1, however rare, since the
# column's name says what it is; in English, German, French, Spanish, Italian, Portuguese,
# Dutch, Polish and Russian
YES_WORDS = frozenset({"yes", "y", "ja", "j", "oui", "si", "sí", "sim", "tak", "да"})
NO_WORDS = frozenset({"no", "n", "nein", "non", "não", "nao", "nee", "nie", "нет"})
OUTCOME_NAMES = re.compile(r"(label|target|^y$|outcome)", re.I)
# two-valued columns that describe the customer, never what to predict (the Mall customers
# table's Gender was taken for its label, having no other column of two values)
DESCRIPTOR_NAMES = _Unaccented(re.compile(
    r"(gender|(?<![a-z])sex(?![a-z])|sexe|sexo|geschlecht|genre|marital|married|partner|dependents|"
    r"senior|citizen|smoker|children|kids|mobile|device|paperless)", re.I))
LABEL_NAMES = re.compile(r"(label|target|churn|^y$|class|outcome|bought|purchas|again|activ|"
                         r"response|decrease|retain|return|convert)", re.I)


def toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(toml_str(v) for v in values) + "]"


def _raw_table(path: str, base_dir: Path) -> tuple:
    """(the source as read, no mapping; the source settings that read it: `encoding` when it
    is not UTF-8, `skip_rows` when title lines stand above its header), or (None, {}) while no
    file matches `path` yet. A file that is not UTF-8 is read again in the encoding its error
    names; a file that cannot be read raises its DataError."""
    from winback.config import SourceConfig
    from winback.data.sources import connect, matching_files, open_source, title_lines

    full = Path(path) if Path(path).is_absolute() else base_dir / path
    if not matching_files(full):
        return None, {}
    settings: dict = {}
    try:
        table = open_source(connect(), SourceConfig(path=str(full)), full)
    except WinbackError as exc:
        named = ENCODING_FIX.search(str(exc))
        if not named:
            raise
        settings["encoding"] = named.group(1)
        table = open_source(connect(), SourceConfig(path=str(full), **settings), full)
    titled = title_lines(SourceConfig(path=str(full), **settings), full, list(table.columns))
    if titled:
        settings["skip_rows"] = titled[0]
        table = open_source(connect(), SourceConfig(path=str(full), **settings), full)
    return table, settings


def _skip_note(settings: dict) -> str:
    """init's line on title lines it skips."""
    k = settings.get("skip_rows")
    return f"{k} title line(s) stand above its header: wrote skip_rows = {k}." if k else ""


def _written_numbers(table, columns: list[str]) -> tuple[NumberFormat | None, list[str]]:
    """The one way of writing numbers (decimal comma, currency, thousands) that reads every text
    column of numbers among `columns` written otherwise than plainly, when there is one, and
    those columns; (None, []) when none is, or when two ways disagree."""
    from winback.data.tables import formatted_number_columns

    formatted = formatted_number_columns(table, [c for c in columns if table[c].type().is_string()])
    formats = {inferred.fmt for inferred, _ in formatted.values()
               if inferred.fmt is not None and inferred.other is None}
    if len(formats) != 1:
        return None, []
    fmt = formats.pop()
    return fmt, [c for c, (inferred, _) in formatted.items() if inferred.fmt == fmt]


def table_guess(path: str, base_dir: Path, key: str | None = None, label: str | None = None) -> dict:
    """table.key, table.label and its values for `init --table`, read off the file when it
    exists: the key is a column unique on every row (one named like an id first), the label a
    column with two values (one named like a target first), unless `key` and `label` name them.
    Values other than 0/1 are listed, the rarer as 1, with a note to check it."""
    guess = {"key": key or "customer_id", "label": label or "label_column", "positive": ["1"], "negative": ["0"]}
    try:
        table, read_settings = _raw_table(path, base_dir)
        encoding = read_settings.get("encoding", "")
        if table is None:
            return {**guess, "note": f"[yellow]{escape(path)} does not exist yet[/]: set table.key "
                                     f"and table.label by hand."}
        # values counted as loading reads them: without stray spaces (' yes' is 'yes'), and
        # without the empty lines it skips
        from winback.data.tables import empty_row

        table = table.filter(~empty_row(table))
        stats = table.aggregate(rows=table.count(), **{f"n{i}": (table[c].strip() if table[c].type().is_string()
                                                                 else table[c]).nunique()
                                                       for i, c in enumerate(table.columns)},
                                **{f"m{i}": table[c].isnull().sum()
                                   for i, c in enumerate(table.columns)}).execute().iloc[0]
    except WinbackError as exc:
        return {**guess, "note": f"[yellow]Could not read {escape(path)}[/] ({escape(str(exc))})."}
    cols = list(table.columns)
    rows = int(stats["rows"])
    unique = [c for i, c in enumerate(cols) if int(stats[f"n{i}"]) == rows and not int(stats[f"m{i}"])]
    keys = [key] if key else sorted(unique, key=lambda c: not KEY_NAMES.search(c))
    binary = [c for i, c in enumerate(cols) if int(stats[f"n{i}"]) == 2 and c not in keys[:1]
              and not (DESCRIPTOR_NAMES.search(c) and not LABEL_NAMES.search(c) and not LOSS_NAMES.search(c))]
    descriptive = [c for i, c in enumerate(cols) if int(stats[f"n{i}"]) == 2 and c not in keys[:1] and c not in binary]
    # a name that says outcome or loss (Exited, Churn, target) before one that merely could
    # (IsActiveMember, a feature of the Kaggle bank table, before its Exited label)
    label_given = bool(label)
    labels = [label] if label else sorted(binary, key=lambda c: (
        not (OUTCOME_NAMES.search(c) or LOSS_NAMES.search(c)), not LABEL_NAMES.search(c)))
    _check_named(path, cols, [int(stats[f"n{i}"]) for i in range(len(cols))], key, label)
    notes = []
    loss_value = ""  # a label's value that names the loss (Churned), where its name does not
    if read_settings:
        guess["source_settings"] = read_settings
    if encoding:
        notes.append(f"it is not UTF-8: wrote encoding = \"{encoding}\"")
    if read_settings.get("skip_rows"):
        notes.append(f"{read_settings['skip_rows']} title line(s) stand above its header: wrote skip_rows = "
                     f"{read_settings['skip_rows']}")
    if keys:
        guess["key"] = keys[0]
    else:
        notes.append("no column is unique on every row: set table.key to the customer id")
    if labels:
        label = labels[0]
        guess["label"] = label
        if not (label_given or OUTCOME_NAMES.search(label) or LOSS_NAMES.search(label)
                or LABEL_NAMES.search(label)):
            notes.append(f"no column is named as an outcome (churn, target, purchased again...): took "
                         f"'{label}', the first of two values; name the label with --label if it is "
                         f"another")
        # as table loading reads a label: stripped (' no' is 'no')
        text = table[label].cast("string").strip()
        counts = (table.group_by(_v=text).aggregate(n=table.count()).filter(text.notnull())
                  .order_by("n").execute())
        found = [str(v) for v in counts["_v"]]
        if set(found) <= {"0", "1", "true", "false", "True", "False", "0.0", "1.0"}:
            guess["positive"] = guess["negative"] = []
        else:
            answers = {v.lower() for v in found}
            losses = [v for v in found if LOSS_NAMES.search(v)]
            if answers & YES_WORDS and answers & NO_WORDS:  # yes / no: the yes, however common
                found.sort(key=lambda v: v.lower() not in YES_WORDS)
                notes.append(f"'{found[0]}' is taken to mean 1, what '{label}' says: swap positive "
                             f"and negative if '{found[1]}' does")
            elif len(losses) == 1:  # Churn: Retained / Churned; Status: Active / Churned
                found.sort(key=lambda v: v != losses[0])
                if LOSS_NAMES.search(label):
                    named = f"the loss '{label}' names"
                else:  # the value, not the column, names the loss
                    named, loss_value = "the loss it names", found[0]
                notes.append(f"'{found[0]}' is taken to mean 1, {named}: swap positive and negative "
                             f"if '{found[1]}' does")
            else:
                notes.append(f"'{found[0]}' (the rarer value) is taken to mean 1: swap positive and "
                             f"negative if '{found[1]}' does")
            guess["positive"], guess["negative"] = found[:1], found[1:]
    elif descriptive:
        notes.append(f"no column reads as an outcome ({', '.join(repr(c) for c in descriptive[:3])} "
                     f"{'describes' if len(descriptive) == 1 else 'describe'} the customer): set "
                     f"table.label to the column to predict, or name it with --label")
    else:
        notes.append("no column has exactly two values: set table.label to the column to predict")
    loss = guess["label"] if labels and LOSS_NAMES.search(guess["label"]) else loss_value
    if loss:
        guess["problem"] = "activity_decline"
        notes.append(f"'{loss}' names a loss: wrote problem.name = \"activity_decline\", so a "
                     f"customer's risk in the segments is the probability of it (with repeat_purchase it "
                     f"would be one minus that)")
    fmt, readable = _written_numbers(table, [c for c in cols if c != guess["key"]])
    if fmt is not None:
        guess["source_settings"] = {**guess.get("source_settings", {}), **fmt.changes(NumberFormat())}
        notes.append(f"{', '.join(repr(c) for c in readable)} {'holds' if len(readable) == 1 else 'hold'} "
                     f"numbers written {described(fmt, NumberFormat())[0]}: wrote "
                     + ", ".join(f'{k} = "{v}"' for k, v in fmt.changes(NumberFormat()).items()))
    notes += _date_guess(table, [c for c in cols if table[c].type().is_string()
                                 and c not in (guess["key"], guess["label"], *readable)], guess)
    named = [c for c in cols if c not in (guess["key"], guess["label"]) and is_value_name(c)]
    if named:  # CSV is read as text: a value column is one whose every written value is a number
        text = {c: table[c].cast("string").strip() for c in named}
        bad = table.aggregate(**{f"b{i}": (text[c].notnull() & (text[c] != "")
                                           & text[c].try_cast("float64").isnull()).sum()
                                 for i, c in enumerate(named)}).execute().iloc[0]
        named = [c for i, c in enumerate(named) if not int(bad[f"b{i}"]) or c in readable]
    named.sort(key=lambda c: not RECURRING_VALUE.search(c))  # stable: file order otherwise
    value = named[0] if named else ""
    if value:
        guess["value_column"] = value
        others = [c for c in named if c != value]
        notes.append(f"'{value}' is the value axis of the risk x value segments (segments.value_column"
                     + (f"; also a value: {', '.join(repr(c) for c in others[:3])}" if others else "") + ")")
    codes = _code_columns(table, [c for c in cols if c not in (guess["key"], guess["label"], value)])
    if codes:
        guess["categorical"] = codes
        notes.append(f"{', '.join(repr(c) for c in codes)} {'holds' if len(codes) == 1 else 'hold'} "
                     f"whole numbers and {'is' if len(codes) == 1 else 'are'} named like a code: "
                     f"wrote table.categorical, so that each value is a category (a region 7 is "
                     f"not between 6 and 8); take {'it' if len(codes) == 1 else 'them'} out if "
                     f"they are amounts")
    what = f"key = '{guess['key']}', label = '{guess['label']}'"
    return {**guess, "note": f"Read {escape(path)}: {escape(what)}"
                             + "".join(f"; {escape(n)}" for n in notes) + "."}


PIVOT_MAX_VALUES = 24  # periods (months, quarters) a long table is pivoted by, at most
PERIOD_NAMES = _Unaccented(re.compile(r"(period|month|quarter|week|year|monat|quartal|jahr|mois|trimestre|"
                                      r"annee|(?<![a-z])(mes|ano)(?![a-z])|maand|jaar|период|месяц|квартал|"
                                      r"(?<![а-я])год)", re.I))


def joined_guess(path: str, base_dir: Path, key: str) -> dict:
    """The [[table.sources]] entry of a table joined on the main table's `key`, read off the
    file: taken as it is when it holds one row per customer, pivoted when it holds one row per
    customer and period (`revenue.csv`: id, month, revenue), by the text column with the fewest
    values that tells a customer's rows apart, each number column becoming one column per
    period. Returns the entry's settings and a note of what was read."""
    from winback.data.tables import empty_row

    table, settings = _raw_table(path, base_dir)
    if table is None:
        raise ConfigError(f"--join '{path}' does not exist; paths are read from the folder the config is "
                          f"written to ({base_dir}).")
    table = table.filter(~empty_row(table))
    cols = list(table.columns)
    entry: dict = {"path": path, **settings}
    own_key = key if key in cols else next((c for c in cols if c.casefold() == key.casefold()), None)
    if own_key is None:
        raise ConfigError(f"--join '{path}' has no column '{key}', the key of the main table "
                          f"(its columns: {', '.join(cols)}).{did_you_mean(key, cols)} Rename it, or name "
                          f"the table's own customer column with `key = \"...\"` in its [[table.sources]] "
                          f"entry by hand.")
    if own_key != key:
        entry["key"] = own_key
    others = [c for c in cols if c != own_key]
    fmt, readable = _written_numbers(table, others)
    if fmt is not None:
        entry.update(fmt.changes(NumberFormat()))
    text = {c: table[c].cast("string").strip() for c in others}
    stats = table.aggregate(
        rows=table.count(), keys=table[own_key].nunique(),
        **{f"n{i}": text[c].nunique() for i, c in enumerate(others)},
        **{f"pairs{i}": (table[own_key].cast("string") + "\x1f" + text[c].fill_null("")).nunique()
           for i, c in enumerate(others)},
        **{f"bad{i}": (text[c].notnull() & (text[c] != "") & text[c].try_cast("float64").isnull()).sum()
           for i, c in enumerate(others)}).execute().iloc[0]
    rows, keys = int(stats["rows"]), int(stats["keys"])
    numbers = [c for i, c in enumerate(others) if not int(stats[f"bad{i}"]) or c in readable]
    if rows == keys:
        return {"entry": entry, "numbers": numbers, "long": False,
                "note": f"{escape(path)}: one row per customer, joined on '{escape(own_key)}' as it is"}
    # a text column (a month's name or date), or one of numbers named as a period (month 1 to
    # 12): other numbers are values, which may differ between a customer's rows by chance
    periods = [c for i, c in enumerate(others)
               if (c not in numbers or PERIOD_NAMES.search(c))
               and 2 <= int(stats[f"n{i}"]) <= PIVOT_MAX_VALUES and int(stats[f"pairs{i}"]) == rows]
    if not periods or not [c for c in numbers if c not in periods]:
        return {"entry": entry, "numbers": numbers, "long": True,
                "note": f"[yellow]{escape(path)}: {rows:,} rows for {keys:,} customers, and no text column "
                        f"tells a customer's rows apart[/]: set its pivot_column and pivot_values by hand, "
                        f"or sum it to one row per customer before joining"}
    period = min(periods, key=lambda c: (c in numbers, int(stats[f"n{others.index(c)}"])))
    values = [c for c in numbers if c != period]
    entry.update(pivot_column=period, pivot_values=values)
    found = sorted(str(v) for v in table.select(v=text[period]).distinct().execute()["v"].dropna())
    named = ", ".join(f"{stem}_{v}" for stem in values[:2] for v in found[:3])
    return {"entry": entry, "numbers": [], "long": True, "periods": found,
            "note": f"{escape(path)}: one row per customer and '{escape(period)}' ({len(found)} values: "
                    f"{escape(', '.join(found))}), pivoted into {escape(named)}"
                    f"{', ...' if len(found) > 3 or len(values) > 2 else ''} (name them with pivot_prefix and "
                    f"pivot_names; a value written two ways is fixed with fixes.{escape(period)})"}


def _check_named(path: str, cols: list[str], distinct: list[int], key: str | None, label: str | None) -> None:
    """The key and label the user named are columns of the table, the label one of two values."""
    for what, name in (("key", key), ("label", label)):
        if name and name not in cols:
            raise ConfigError(f"The {what} '{name}' is not a column of {path}.{did_you_mean(name, cols)} "
                              f"Its columns: {', '.join(cols)}.")
    if key and label == key:
        raise ConfigError(f"'{key}' cannot be both the key and the label.")
    if label and distinct[cols.index(label)] != 2:
        raise ConfigError(f"The label '{label}' has {distinct[cols.index(label)]:,} different values, not two: "
                          f"name the column whose values say 1 or 0 (yes / no, churned / stayed).")


def _date_guess(table, columns: list[str], guess: dict) -> list[str]:
    """date_formats for the columns of dates that read day first and month first alike (no day
    above 12 among them), which `winback validate` would stop on. Where another column of the
    file is written in the same shape and a day above 12 settles its order, the export's order
    is taken for them too (guess['date_formats']); otherwise both readings are written commented
    for the user to choose (guess['date_choices']): a wrong guess would swap days and months
    without a word."""
    from winback.data.tables import date_columns, either_way

    dated = date_columns(table, columns)
    unsettled = {c: fits for c, fits in dated.items() if either_way(fits)}
    if not unsettled:
        return []
    settled = {c: fits[0] for c, fits in dated.items() if len(fits) == 1}
    chosen, open_ = {}, {}
    for col, fits in unsettled.items():
        alike = {f for f in fits for s in settled.values() if f.split(" ")[0] == s.split(" ")[0]}
        if len(alike) == 1:
            chosen[col] = alike.pop()
        else:
            open_[col] = fits
    notes = []
    if chosen:
        guess["date_formats"] = chosen
        shapes = {g.split(" ")[0] for g in chosen.values()}
        by = [c for c, f in settled.items() if f.split(" ")[0] in shapes]
        notes.append(f"{', '.join(repr(c) for c in chosen)} {'holds' if len(chosen) == 1 else 'hold'} dates "
                     f"that read day first or month first alike; {', '.join(repr(c) for c in by)} "
                     f"{'is' if len(by) == 1 else 'are'} written the same way and a day above 12 tells "
                     f"the order: wrote date_formats = {_inline(chosen)}")
    if open_:
        guess["date_choices"] = open_
        notes.append(f"{', '.join(repr(c) for c in open_)} {'holds' if len(open_) == 1 else 'hold'} dates "
                     f"that read day first or month first alike, and nothing in the file tells which: "
                     f"choose in the date_formats line written commented in winback.toml")
    return notes


def _inline(formats: dict[str, str]) -> str:
    """A TOML inline table of column -> format."""
    return "{ " + ", ".join(f"{toml_str(c)} = {toml_str(f)}" for c, f in formats.items()) + " }"


# a column of whole numbers named like one of these is a code (a region, a store, a plan), whose
# numbers are labels, not amounts
CODE_NAMES = re.compile(r"(?<![a-z])(zip|plz|region|district|province|country|state|store|shop|branch|outlet|"
                        r"channel|segment|cluster|group|class|type|kind|device|area|plan)s?(?![a-z])"
                        r"|code|postal|postcode|categor|(?<![a-z])id$", re.I)
# ... unless the name says it counts or sums ('discount_code_count', 'n_store_visits')
NOT_A_CODE = re.compile(r"count|number[ _-]?of|(?<![a-z])(n|num|nb)[ _-]|qty|quantit|amount|total|"
                        r"(?<![a-z])sum(?![a-z])|days|tenure|visits", re.I)
MAX_CODES = 50  # distinct values a code column may hold to be one-hot encoded; more is an id


def _code_columns(table, columns: list[str]) -> list[str]:
    """Columns named like a code (camelCase read as words) whose written values are all whole
    numbers, from 3 to MAX_CODES of them: read as numbers, the models would order them."""
    import ibis

    from winback.data.tables import name_words

    words = {c: name_words(c) for c in columns}
    named = [c for c in columns if CODE_NAMES.search(words[c]) and not NOT_A_CODE.search(words[c])]
    if not named:
        return []
    numbers = {}
    for c in named:
        col = table[c]
        if col.type().is_string():
            text = col.strip()
            text = ibis.ifelse(text == "", ibis.null("string"), text)
            numbers[c] = (text, text.try_cast("float64"))
        elif col.type().is_numeric():
            numbers[c] = (col, col.cast("float64"))
    if not numbers:
        return []
    stats = table.aggregate(**{f"w{i}": written.count() for i, (written, _) in enumerate(numbers.values())},
                            **{f"k{i}": (number.notnull() & (number == number.round())).sum()
                               for i, (_, number) in enumerate(numbers.values())},
                            **{f"d{i}": number.nunique() for i, (_, number) in enumerate(numbers.values())}
                            ).execute().iloc[0]
    return [c for i, c in enumerate(numbers)
            if int(stats[f"w{i}"]) and int(stats[f"k{i}"]) == int(stats[f"w{i}"])
            and 3 <= int(stats[f"d{i}"]) <= MAX_CODES]


# columns of an `events` source, by name: patterns in order of preference (an exact id before
# any column that mentions it), canonical columns claimed in this order (a column serves once)
COLUMN_NAMES = {  # English first, then the usual German, French, Spanish, Italian and Dutch words
    "customer_id": (r"^(customer|client|user|visitor|member|buyer|shopper|account|cust|kunden?|klant|cliente)"
                    r"([ _-]?user)?[ _-]?(id|no|nr|number|nummer|numero|key)?$|^(uid|cid)$|^customer[ _-]?user([ _-]?id)?$"
                    r"|^(id|num|numero|nr)[ _-]?(customer|client|cliente|kunde|klant)$",
                    r"^(full[ _-]?visitor|user[ _-]?pseudo|client|visitor)[ _-]?id$",  # GA360, GA4
                    r"(^|\.)distinct[ _-]?id$",                                         # Mixpanel
                    r"^e-?mail([ _-]?address)?$|(customer|client|buyer|billing|purchaser|shopper)[ _-]?e-?mail"
                    r"|^(customer|client|buyer|member|shopper)[ _-]?(user[ _-]?name|login|handle)$"),  # shop exports
    "event_time": (r"(timestamp|date[ _-]?time|^ts$|time|_at$|created|occurred|zeitpunkt|zeitstempel)",
                   r"(date|datum|fecha)"),
    # the event's own name before a column of call kinds (Segment's type = track | page)
    # English, German, French, Spanish, Italian and Dutch ('ereignis' was read as no event
    # type, so a German log's views counted as purchases)
    "event_type": (r"^(event|ereignis|[eé]v[eé]nement|evento|gebeurtenis)([ _-]?(type|name|typ|art|tipo|naam))?$",
                   r"^(type|action|kind|activity|typ|aktion|aktivit[aä]t|tipo|acci[oó]n|azione|actie)$",
                   r"(event|type|action|kind|activity|ereignis|aktion|[eé]v[eé]nement|gebeurtenis)"),
    "order_id": (r"(order|invoice|transaction|receipt|bestellung|bestell|rechnung|commande|facture|pedido|"
                 r"factura|ordine|bestelling)[ _-]?(id|no|nr|number|nummer|numero)?$|^increment[ _-]?id$",
                 r"(order|invoice|transaction|receipt|bestell|rechnung|commande|pedido|ordine)"),
    "session_id": (r"(session|visit|sitzung)[ _-]?(id|key)?$", r"(session|visit)"),
    "product_id": (r"(product|item|sku|article|artikel|produkt|produit|producto|prodotto)"
                   r"[ _-]?(id|no|nr|code|number|nummer)?$|stock[ _-]?code",
                   r"(product|item|sku|article|artikel|produkt|produit|producto|prodotto)"),
    "amount": (r"(amount|revenue|value|total|spend|sales|sum|umsatz|betrag|gesamt|montant|importe|monto|"
               r"importo|bedrag)", r"(price|preis|prix|precio|prezzo|prijs)"),
    "quantity": (r"(qty|quantity|units|menge|anzahl|quantit|cantidad|aantal)",
                 r"(items?|articles?|artikel|products?)[ _-]?(count|sold)|^count$"
                 r"|number[ _-]?of[ _-]?(items|units|articles|products)"),
}
# a column named like a time is only ever the event time (event_date is not the event type)
TIME_LIKE = re.compile(r"(time|date|_at$|^ts$|datum|zeit|fecha)", re.I)
# a count of items is a quantity, never an id ('Item Count' is not a product)
# ('Account ID', 'Discount' and 'Country' hold the letters of 'count' and are no counts)
COUNT = r"(((?<![a-z])|items?|products?|orders?|lines?|articles?)count(s|er)?(?![a-z]))"
COUNT_LIKE = re.compile(COUNT + r"|anzahl|aantal|number[ _-]?of|num[ _-]?items|^n[ _-]?items$", re.I)
# what an id is not, however loosely its name matches ('order_currency_code', 'Order Status')
NOT_AN_ID = re.compile(r"(currenc|status|state|type|total|amount|qty|quantity|price|tax|discount|"
                       r"note|comment)|" + COUNT, re.I)
ID_COLUMNS = ("customer_id", "order_id", "session_id", "product_id")
# what names a number that is not an amount ('Sales Record Number', 'Receipt No', 'Total Quantity')
NUMBERING = re.compile(r"(number|nummer|numero|record|(?<![a-z])(id|no|nr)\.?$|qty|quantit|menge|anzahl|"
                       r"cantidad|aantal)", re.I)
# amounts that are not what the customer spent on the order ('Shipping Amount', 'Tax Total',
# 'Discount Amount', 'Amount Refunded', a tip or a fee)
NOT_SPEND = re.compile(r"(tax|(?<![a-z])vat(?![a-z])|mwst|steuer|shipping|versand|discount|rabatt|coupon|"
                       r"refund|(?<![a-z])(tips?|fees?)(?![a-z])|balance|outstanding)", re.I)
# an amount said to be with or without tax ('Order Total (ex tax)', 'Subtotal incl. VAT') is
# still the amount; one without tax is preferred
TAX_QUALIFIER = re.compile(r"\(?\s*(inc|incl|including|ex|exc|excl|excluding|plus|without|before|pre|after)"
                           r"\.?[ _-]*(tax|taxes|vat|gst|mwst|ust)\s*\)?", re.I)
WITHOUT_TAX = re.compile(r"(ex|exc|excl|excluding|without|before|pre)\.?[ _-]*(tax|taxes|vat|gst|mwst|ust)", re.I)
# the type of something other than the event ('Customer type': new or returning)
OTHER_TYPE = re.compile(r"(customer|client|user|member|account|payment|order|sale|transaction|device|"
                        r"browser|traffic|source|medium|channel|shipping|delivery|product|item|price|"
                        r"tax|discount|coupon)", re.I)


def _fits(canonical: str, column: str, loose: bool) -> bool:
    """Whether a column a name pattern found can hold `canonical`: a time only the event time,
    a count only a quantity, and a loosely named type only the event's."""
    if canonical != "event_time" and TIME_LIKE.search(column):
        return False
    if canonical != "quantity" and COUNT_LIKE.search(column):
        return False
    if canonical in ID_COLUMNS and loose and NOT_AN_ID.search(column):
        return False
    if canonical == "amount" and (NOT_SPEND.search(TAX_QUALIFIER.sub(" ", column)) or NUMBERING.search(column)):
        return False
    return not (canonical == "event_type" and loose and OTHER_TYPE.search(column))


def _best_column(canonical: str, present: list[str], taken: set[str]) -> str | None:
    patterns = COLUMN_NAMES[canonical]
    if canonical == "amount":  # spend before tax where the export writes both
        present = sorted(present, key=lambda c: not WITHOUT_TAX.search(c))
    for i, pattern in enumerate(patterns):
        rx = re.compile(pattern, re.I)
        loose = i == len(patterns) - 1 and len(patterns) > 1
        found = next((c for c in present if c not in taken and rx.search(c) and _fits(canonical, c, loose)),
                     None)
        if found:
            return found
    return None


def canonical_column(name: str) -> str | None:
    """winback's column that a source column so named is mapped to by `init` (price and
    revenue: amount; user_session: session_id), or None."""
    return next((c for c in COLUMN_NAMES if _best_column(c, [name], set())), None)


def _status_column(table, present: list[str], taken: set[str]) -> str | None:
    """The column of order statuses (WooCommerce's 'Order Status', Stripe's 'Status') whose
    values read as such, to take the event type from in an order table; None if there is none."""
    from winback.data.canonical import status_counts
    from winback.data.layouts import is_status_column

    candidates = [c for c in present if c not in taken and is_status_column(c)]
    # Magento writes a coarse 'state' beside the 'status' shops set: the status says more
    ranked = sorted(candidates, key=lambda c: "stat" not in c.lower() or "state" in c.lower())
    return next((c for c in ranked if status_counts(table, c) is not None), None)


ENCODING_FIX = re.compile(r"Set its encoding to '(latin-1|cp1252)'")
# settings a failed read names as its fix, applied by `init` and tried again
FIXES = (("time_format", re.compile(r"source\.time_format = '([^']+)'")),
         ("decimal", re.compile(r"source\.decimal = '(,)'")),
         ("thousands", re.compile(r"source\.thousands = ['\"](.)['\"]")),
         ("currency", re.compile(r"source\.currency = '([^']+)'")),
         ("encoding", ENCODING_FIX),
         ("negative_amounts", re.compile(r"source\.negative_amounts = '(return)'")),
         ("drop_missing_customers", re.compile(r"Set source\.drop_missing_customers = (true)")),
         ("table", re.compile(r"set source\.table = '([^']+)', its only table")))


# Olist's Brazilian e-commerce export (Kaggle): order lines, orders, and customers, whose
# customer_id is new with every order; the person is customer_unique_id
OLIST_FILES = {"items": "olist_order_items_dataset.csv", "orders": "olist_orders_dataset.csv",
               "customers": "olist_customers_dataset.csv"}
OLIST_COLUMNS = {"customer_id": "customer_unique_id", "event_time": "order_purchase_timestamp",
                 "amount": "price", "order_id": "order_id", "product_id": "product_id",
                 "event_type": "order_status"}


def olist_export(path: str, base_dir: Path) -> dict[str, str] | None:
    """The three Olist files as the config names them, when `path` is their folder or one of
    them and all three are there; else None."""
    given = Path(path)
    full = given if given.is_absolute() else base_dir / given
    folder, named = (full, given) if full.is_dir() else (full.parent, given.parent)
    if not full.is_dir() and full.name not in OLIST_FILES.values():
        return None
    if not all((folder / name).is_file() for name in OLIST_FILES.values()):
        return None
    return {k: str(named / name) for k, name in OLIST_FILES.items()}


def olist_scaffold(files: dict[str, str], base_dir: Path, status=nullcontext) -> Scaffold:
    """A config joining Olist's order lines to their orders and the person behind each."""
    lookups = [{"path": files["orders"], "key": "order_id"},
               {"path": files["customers"], "key": "customer_id", "columns": ["customer_unique_id"]}]
    scaffold = event_scaffold(files["items"], "events", base_dir, status, dict(OLIST_COLUMNS), lookups)
    scaffold.notes.insert(0, "Recognised Olist's export: each order line is read with its order "
                             "(time, status) and its customer's customer_unique_id, the person "
                             "(customer_id is new with every order, so no one would ever come back).")
    return scaffold


def customer_table_note(path: str, base_dir: Path, shown: str = "",
                        otherwise: str = "`winback init --layout events --force`") -> str:
    """A note saying why the source is taken for a customer table (one row per customer), or ""
    when it reads as an event log (`shown` names the source, `otherwise` how to read it as one).
    An event log needs several rows of a customer to label anything, so a customer column unique
    on every row means a table, provided no column names an event time, or a two-valued column
    is named like an outcome (Churn, Exited) beside a date (a signup date)."""
    try:
        table, _ = _raw_table(path, base_dir)
    except WinbackError:
        return ""  # reading it as an event log says why
    if table is None:
        return ""
    from winback.data.tables import empty_row

    present = list(table.columns)
    customer = ("customer_id" if "customer_id" in present else _best_column("customer_id", present, set())
                or next((c for c in present if KEY_NAMES.search(c)), None))  # One Click's 'id'
    if customer is None:
        return ""
    table = table.filter(~empty_row(table))
    timed = ("event_time" in present or _best_column("event_time", present, {customer}) is not None
             or _holds_times(table, [c for c in present if c != customer]))
    outcome = [c for c in present if c != customer
               and (OUTCOME_NAMES.search(c) or LOSS_NAMES.search(c) or LABEL_NAMES.search(c))]
    if timed and not outcome:
        return ""
    stats = table.aggregate(rows=table.count(), ids=table[customer].nunique(),
                            missing=table[customer].isnull().sum(),
                            **{f"o{i}": table[c].nunique() for i, c in enumerate(outcome)}).execute().iloc[0]
    rows = int(stats["rows"])
    if rows < 2 or int(stats["ids"]) != rows or int(stats["missing"]):
        return ""
    two_valued = [c for i, c in enumerate(outcome) if int(stats[f"o{i}"]) == 2]
    if timed and not two_valued:
        return ""
    why = (f"no column holds event times and '{customer}' is unique on every row" if not timed else
           f"'{customer}' is unique on every row and '{two_valued[0]}' has two values, as an outcome does")
    return escape(f"Read {shown or path} as a customer table (one row per customer): {why}. "
                  f"{otherwise} reads it as an event log instead.")


def _holds_times(table, columns: list[str]) -> bool:
    """Whether a column holds dates or times, whatever its name ('when'): typed so, written
    in ISO on every filled row, or in a shape `init --table` reads as a date."""
    from winback.data.tables import date_columns

    if any(table[c].type().is_timestamp() or table[c].type().is_date() for c in columns):
        return True
    texts = [c for c in columns if table[c].type().is_string()]
    if not texts:
        return False
    text = {c: table[c].strip() for c in texts}
    counts = table.aggregate(**{f"n{i}": t.count() for i, t in enumerate(text.values())},
                             **{f"t{i}": t.try_cast("timestamp").count() for i, t in enumerate(text.values())}
                             ).execute().iloc[0]
    if any(int(counts[f"n{i}"]) and int(counts[f"t{i}"]) == int(counts[f"n{i}"]) for i in range(len(texts))):
        return True
    return bool(date_columns(table, texts))


def guess_layout(path: str, base_dir: Path) -> tuple[str, str]:
    """The layout whose columns the source has (REES46, CDNOW, UCI Online Retail in either
    version, GA sessions) and a note saying so; `events` when none matches or the source
    cannot be read yet."""
    from winback.data.layouts import detect_layout

    try:
        table, _ = _raw_table(path, base_dir)
    except WinbackError:
        return "events", ""
    found = detect_layout(list(table.columns)) if table is not None else None
    if found is None:
        return "events", ""
    return found, (f"Recognised the {found} layout by its columns (--layout events maps them by "
                   f"name instead).")


# a column holding only the time of day, beside a date column (Square's Date and Time)
TIME_OF_DAY_NAME = re.compile(r"^(order[ _-]?|transaction[ _-]?|sale[ _-]?)?(time|uhrzeit|heure|hora|ora|tijd|"
                              r"time[ _-]of[ _-]day)$", re.I)
DATE_NAME = re.compile(r"(date|datum|fecha|^data$)", re.I)
CLOCK_VALUE = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s?[ap]\.?m\.?)?", re.I)


def _time_of_day(table, present: list[str], columns: dict[str, str]) -> str | None:
    """The time-of-day column when the event time was guessed as one beside a date column: the
    date then is the event time, and the two are read together (source.time_of_day)."""
    clock = columns.get("event_time", "")
    if not TIME_OF_DAY_NAME.match(clock.strip()):
        return None
    date = next((c for c in present if DATE_NAME.search(c) and c not in columns.values()), None)
    if date is None:
        return None
    import ibis

    values = table.select(v=table[clock].cast("string")).filter(ibis._.v.notnull()).limit(50).execute()["v"]
    if not len(values) or not all(CLOCK_VALUE.fullmatch(str(v).strip()) for v in values):
        return None
    columns["event_time"] = date
    return clock


# a column naming the zone of the export's times (Square's 'Time Zone')
TIME_ZONE_NAME = re.compile(r"^(time[ _-]?zone|tz|zeitzone|fuseau[ _-]horaire|zona[ _-]horaria|fuso[ _-]orario|"
                            r"tijdzone)$", re.I)
# the sales net of discounts, before tax and tips (Square's 'Net Sales' beside 'Gross Sales')
NET_SALES = re.compile(r"^net[ _-]?(sales|revenue)$", re.I)


def _zone_of_times(table, present: list[str]) -> tuple[dict[str, str], str]:
    """The zone settings a time-zone column calls for (Square writes Rails' names, 'Pacific Time
    (US & Canada)'): `timezone` when every row is in one zone, `timezone_column` when the rows
    are in several; and a note. ({}, note) when it names no zone, ({}, '') without such a column."""
    from winback.data.canonical import zone_values
    from winback.data.zones import clock_zone, zone_of

    def setting(value: str) -> str | None:  # a zone's IANA name, or an offset ('+02:00', 'PDT') as written
        zone = zone_of(value)
        return value.strip() if isinstance(zone, int) else zone

    column = next((c for c in present if TIME_ZONE_NAME.match(c.strip())), None)
    if column is None:
        return {}, ""
    counts = zone_values(table, column).head(20)
    if counts.empty:
        return {}, ""
    found = {setting(z) for z in counts.z}
    if len(found) == 1 and None not in found:
        zone = found.pop()
        return {"timezone": zone}, (f"Times are in {', '.join(repr(z) for z in counts.z)} by its "
                                    f"{column!r} column: wrote timezone = {zone!r}.")
    shown = ", ".join(f"{z!r} ({n:,} rows)" for z, n in zip(counts.z, counts.rows))
    if None in found:
        return {}, (f"Its {column!r} column names zones that are not known ({shown}): set "
                    f"source.timezone to the zone of its times, such as 'America/New_York'.")
    main = clock_zone(counts.z.iloc[0]) or setting(counts.z.iloc[0])  # PDT's clock: Los Angeles
    return {"timezone_column": column, "timezone": main}, (
        f"Times are in several zones by its {column!r} column ({shown}): wrote timezone_column = "
        f"{column!r}, which reads each row in its own (hour and weekday features read each "
        f"row's own clock too), and timezone = {main!r}, the most common: the zone of rows that "
        f"name none.")


def guess_columns(path: str, base_dir: Path, settings: dict | None = None,
                  given: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """[source.columns] for an `events` source whose columns are not named canonically
    (cust, ts, revenue), matched by name around the mappings `given` by the user; (given, note)
    when the file cannot be read yet. Source settings the columns need (time_of_day) are put in
    `settings` when given."""
    given = dict(given or {})
    try:
        table, read_settings = _raw_table(path, base_dir)  # fit_source names the encoding it needs
    except WinbackError:
        return given, ""  # fit_source says why
    if table is None:
        return given, ""
    skipped = _skip_note(read_settings)
    if skipped and settings is not None:
        settings["skip_rows"] = read_settings["skip_rows"]
    present = list(table.columns)
    _check_given(given, present, path)
    columns: dict[str, str] = dict(given)
    from winback.data.canonical import CONVERTED_AMOUNT

    # an export in several currencies writes the amount in the account's currency beside them
    converted = next((c for c in present if CONVERTED_AMOUNT.search(c)), None)
    net = next((c for c in present if NET_SALES.match(c.strip())), None)
    for canonical in COLUMN_NAMES:
        taken = set(columns.values())
        if canonical in columns:
            continue
        found = (canonical if canonical in present and canonical not in taken
                 else _best_column(canonical, present, taken))
        spare = [c for c in (converted, net) if c and c not in taken]
        if canonical == "amount" and "amount" not in present and spare:
            found = spare[0]
        if found:
            columns[canonical] = found
    # a unit price beside a quantity is the price: amount = price x quantity (mapped as the
    # amount, a line of 3 units at 9.99 spent 9.99)
    unit_price = columns.get("amount")
    if ("amount" not in given and unit_price and "quantity" in columns and "price" not in columns
            and not re.search(COLUMN_NAMES["amount"][0], unit_price, re.I)
            and re.search(COLUMN_NAMES["amount"][1], unit_price, re.I)):
        columns["price"] = columns.pop("amount")
    status = None if "event_type" in columns else _status_column(table, present, set(columns.values()))
    if status:
        columns["event_type"] = status  # an order table's statuses say which rows are sales
    clock = _time_of_day(table, present, columns)
    if clock and settings is not None:
        settings["time_of_day"] = clock
    zone, zone_note = _zone_of_times(table, present)
    if settings is not None:
        settings.update(zone)
    zone_note = escape(zone_note)
    zone_note = " ".join(n for n in (skipped, zone_note) if n)
    guessed = {k: v for k, v in columns.items() if k != v and k not in given}
    if not guessed:  # the user's mappings, if any: names already canonical need none
        return given, zone_note
    return columns, ("Mapped columns by name: " + escape(", ".join(f"{k} = '{v}'" for k, v in guessed.items()))
                     + " (check them in \\[source.columns])."
                     + (f" Orders are sales by their {escape(repr(status))}: see \\[source.event_types]."
                        if status else "")
                     + (f" The date and the time of day are in two columns: time_of_day = "
                        f"{escape(repr(clock))} reads them together." if clock else "")
                     + (f" {zone_note}" if zone_note else ""))


def _check_given(given: dict[str, str], present: list[str], path: str) -> None:
    """The user's own mappings name winback's columns and the source's."""
    from winback.data.canonical import CANONICAL_COLUMNS

    for canonical, column in given.items():
        if canonical not in CANONICAL_COLUMNS:
            raise ConfigError(f"Column mapping '{canonical}' is none of winback's columns."
                              f"{did_you_mean(canonical, CANONICAL_COLUMNS)} They are: "
                              f"{', '.join(CANONICAL_COLUMNS)}.")
        if column not in present:
            raise ConfigError(f"Column mapping {canonical} = '{column}': {path} has no column '{column}'."
                              f"{did_you_mean(column, present)} Its columns: {', '.join(present)}.")


# a read that failed on a canonical column the mapping did not find ('customer_id' (mapped to ...))
MISSING_COLUMN = re.compile(r"has no column '[^']+' \(mapped to '([a-z_]+)'\)")


@dataclass
class SourceFit:
    """What reading the source taught `init`: the problem settings (fitted to its time span, or
    the defaults), a line saying so, the source settings a failed read named as its fix (applied
    and read again), and look-alike event types mapped to winback's."""

    problem: ProblemConfig
    note: str
    settings: dict[str, str] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=dict)
    no_sale: list[str] = field(default_factory=list)  # order statuses left as events, not purchases
    read: bool = False  # the source was read (not absent or unreadable)


def fit_source(path: str, layout: str, options: dict, base_dir: Path,
               columns: dict[str, str] | None = None, status=nullcontext) -> SourceFit:
    """Read the source with `layout` (and `columns`) to fit the problem to it; `status` shows a
    spinner while it reads."""
    from winback.config import config_from_dict
    from winback.data.canonical import load_events
    from winback.data.sources import matching_files
    from winback.labels import suggest_cutoffs

    default = ProblemConfig()
    fixes: dict[str, str | bool] = {}

    def config():
        source = {"path": path, "layout": layout, **options, **fixes}
        if columns:
            source["columns"] = columns
        return config_from_dict({"source": source}, base_dir=base_dir.resolve())

    if not matching_files(config().resolve(path)):
        return SourceFit(default, f"[yellow]{escape(path)} does not exist yet[/]: the default "
                                  f"{default.horizon_days}-day horizon is written; `winback validate` "
                                  f"checks the source once it is there.")
    while True:
        try:
            with status(f"Reading {escape(path)} to fit the horizon to its time span"):
                log = load_events(config(), materialize=False)
            break
        except WinbackError as e:
            fix = next(((key, m.group(1)) for key, rx in FIXES if key not in fixes
                        for m in [rx.search(str(e))] if m), None)
            if fix is None:
                missing = MISSING_COLUMN.search(str(e))
                hint = (f" (`winback init --column {missing.group(1)}=<its column> --force` maps it here)"
                        if missing else "")
                return SourceFit(default, f"[yellow]Could not read {escape(path)} with the {layout} "
                                          f"layout[/] ({escape(str(e))}) The defaults are written. Fix "
                                          f"the source or \\[source.columns]{escape(hint)}, then run "
                                          f"`winback validate`.", fixes)
            fixes[fix[0]] = True if fix[1] == "true" else fix[1]
    from winback.data.layouts import (LAYOUTS, REFUNDED_AS_SALES, is_status_column, order_statuses,
                                      refunded_sales, suggested_event_types)

    event_types, no_sale = {}, []
    if "event_type" in log.available:
        if is_status_column(log.summary["event_type_column"]):
            event_types, no_sale = order_statuses(log.summary["event_types"])
        elif not LAYOUTS[layout].names_event_types:
            event_types = suggested_event_types(log.summary["event_types"])
    applied = (" Set " + " and ".join(f"{k} = " + ("true" if v is True else f"'{v}'") for k, v in fixes.items())
               + " to read it.") if fixes else ""
    if event_types:
        applied += " Mapped event types: " + ", ".join(f"'{k}' -> {v}" for k, v in event_types.items()) + "."
    refunded = refunded_sales(event_types)
    if refunded:
        applied += " Refunded orders (" + ", ".join(f"'{k}'" for k in refunded) + ") " + REFUNDED_AS_SALES
    if no_sale:
        applied += (" Orders " + ", ".join(f"'{k}'" for k in no_sale) + " are no sale: they stay events "
                    "of their customer, never purchases.")
    for said in (log.summary.get("lookup_note"), log.summary.get("layout_note")):
        if said:  # what the layout or the lookups leave unread, before the first validate
            applied += f" {said}"
    from winback.data.canonical import repeated_order_amounts

    repeated = repeated_order_amounts(log.table, log.summary)
    if repeated:  # an order's total on each of its lines: say so before the first train
        applied += f" Check the amount: {repeated}"
    applied = escape(applied)
    span = f"{log.start:%Y-%m-%d} to {log.end:%Y-%m-%d}"
    problem = suggest_cutoffs(log.start, log.end, default.train_cutoffs)
    if problem is None:
        note = (f"[yellow]The log spans only {span}[/]: too short for {default.train_cutoffs} "
                f"cutoffs even with a 7-day horizon. The defaults are written; `winback train` "
                f"needs more data.{applied}")
        return SourceFit(default, note, fixes, event_types, no_sale, read=True)
    if problem.horizon_days == default.horizon_days:
        note = f"The log spans {span}: a {problem.horizon_days}-day horizon fits.{applied}"
    else:
        note = (f"The log spans {span}, too short for a {default.horizon_days}-day horizon with "
                f"{default.train_cutoffs} cutoffs: wrote horizon_days = {problem.horizon_days}, "
                f"cutoff_step_days = {problem.cutoff_step_days}, min_history_days = "
                f"{problem.min_history_days}.{applied}")
    return SourceFit(problem, note, fixes, event_types, no_sale, read=True)


@dataclass
class Scaffold:
    """The winback.toml text `init` writes, and what it found or guessed, to print."""

    text: str
    notes: list[str] = field(default_factory=list)


def _line(text: str, comment: str) -> str:
    return f"{text:<30} # {comment}"


def _toml_value(value) -> str:
    """A setting of a [[table.sources]] entry as TOML: text, a number, a list or nested tables."""
    if isinstance(value, list):
        return toml_list(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_str(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(value) if isinstance(value, int) else toml_str(str(value))


def _joined_entries(joins: list[str], base_dir: Path, key: str) -> tuple[str, list[str], str]:
    """The [[table.sources]] entries of the tables joined to the main one, their notes, and a
    value column found among their numbers when the main table has none."""
    guesses = [joined_guess(j, base_dir, key) for j in joins]
    # a period one long table writes otherwise than the others (One Click's market_time.csv
    # writes 'предыдцщий_месяц'): the table with the most periods is the reference, and a period
    # of another that the reference lacks is fixed to the reference's closest one it lacks itself
    for column in {g["entry"]["pivot_column"] for g in guesses if g["entry"].get("pivot_column")}:
        same = [g for g in guesses if g["entry"].get("pivot_column") == column]
        reference = max(same, key=lambda g: len(g["periods"]))
        for g in same:
            if g is reference:
                continue
            free = [v for v in reference["periods"] if v not in g["periods"]]
            fixes = {v: m for v in g["periods"] if v not in reference["periods"] and (m := closest(v, free))}
            if fixes:
                g["entry"]["fixes"] = {column: fixes}
                g["note"] += (f"; wrote fixes for {', '.join(repr(k) for k in fixes)}, which "
                              f"{escape(reference['entry']['path'])} writes {', '.join(repr(m) for m in fixes.values())} "
                              f"(its columns are named so)")
    text = "".join("\n[[table.sources]]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in g["entry"].items())
                   + "\n" for g in guesses)
    values = [c for g in guesses if not g["long"] for c in g["numbers"] if is_value_name(c)]
    return text, [g["note"] for g in guesses], values[0] if values else ""


def table_scaffold(path: str, base_dir: Path, key: str | None = None, label: str | None = None,
                   joins: list[str] | None = None) -> Scaffold:
    """A customer-table config: key, label and its values read off the file when it exists
    (the `key` and `label` named, when they are), and the tables of `joins` joined on its key,
    each as it is or pivoted by period (see joined_guess)."""
    guess = table_guess(path, base_dir, key=key, label=label)
    joined, join_notes, joined_value = _joined_entries(joins, base_dir, guess["key"]) if joins else (MORE_TABLES, [], "")
    if joined_value and not guess.get("value_column"):
        guess["value_column"] = joined_value
        join_notes.append(f"'{joined_value}' is the value axis of the risk x value segments "
                          f"(segments.value_column)")
    values = ("\n".join([_line(f"positive = {toml_list(guess['positive'])}", "its values that mean 1"),
                         _line(f"negative = {toml_list(guess['negative'])}", "its values that mean 0")])
              if guess["positive"] else
              _line("# positive = []", "the label is 0/1 (or true/false): no lists needed"))
    settings = "".join(f"\n{k} = {v if isinstance(v, int) else toml_str(v)}"
                       for k, v in guess.get("source_settings", {}).items())
    if guess.get("date_formats"):
        settings += "\n" + _line(f"date_formats = {_inline(guess['date_formats'])}",
                                 "read in the order the file's other dates are written")
    for col, fits in guess.get("date_choices", {}).items():
        settings += ("\n" + _line(f"# date_formats = {_inline({col: fits[0]})}",
                                  f"or {toml_str(fits[1])}: no day above 12 tells which; "
                                  f"set the one the export writes"))
    problem = guess.get("problem", "repeat_purchase")
    categorical = ("\n" + _line(f"categorical = {toml_list(guess['categorical'])}",
                                 "codes: each value a category, not a number")
                   if guess.get("categorical") else "")
    text = TABLE_TEMPLATE.format(path=toml_str(path), key=toml_str(guess["key"]), values=values, settings=settings,
                                 categorical=categorical, joined=joined,
                                 label_line=_line(f"label = {toml_str(guess['label'])}",
                                                  "the column to predict"),
                                 problem_line=_line(f"name = {toml_str(problem)}",
                                                    "what the label means: repeat_purchase | activity_decline "
                                                    "(1 = a loss: risk is its probability)"),
                                 value_line=_line(f"value_column = {toml_str(guess.get('value_column', ''))}",
                                                  "a profit or revenue column for risk x value segments"))
    return Scaffold(text, [n for n in (_sheets(path, base_dir, "its [[table.sources]] entry"), guess["note"],
                                       *join_notes) if n])


def event_scaffold(path: str, layout: str, base_dir: Path, status=nullcontext,
                   columns: dict[str, str] | None = None, lookups: list[dict] | None = None,
                   given: dict[str, str] | None = None) -> Scaffold:
    """An event-log config for `layout`, fitted to the source when it can be read (`status`
    shows a spinner while it is); `columns` and `lookups`, when given, are a known export's
    mapping (Olist's) rather than one guessed from the names; `given` are the user's own
    mappings, the rest guessed around them (for the `events` layout) or the layout's."""
    from winback.data.layouts import LAYOUTS

    options = dict(LAYOUTS[layout].init_options)
    stacked = _stacks_sheets(path, base_dir)
    if stacked:
        options["sheet"] = "*"
    if columns is not None:
        note = ""
    elif layout == "events":
        columns, note = guess_columns(path, base_dir, options, given)
    else:
        columns, note = dict(given or {}), _layout_zone(path, base_dir, options)
        try:
            table = _raw_table(path, base_dir)[0] if given else None
        except WinbackError:
            table = None  # fit_source says why
        if table is not None:
            _check_given(columns, list(table.columns), path)
    read_options = {**options, "lookups": lookups} if lookups else options
    fit = fit_source(path, layout, read_options, base_dir, columns, status)
    options.update(fit.settings)
    extra = "\n".join(f"{k} = " + (str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int)
                                   else toml_str(str(v))) for k, v in options.items())
    if columns:
        mapping = ("[source.columns]             # canonical name = \"column in your file\"\n"
                   + "\n".join(f"{k} = {toml_str(v)}" for k, v in columns.items()))
    else:
        mapping = ("# [source.columns]             # canonical name = \"column in your file\" "
                   "(overrides the layout)\n# customer_id = \"user_id\"")
    if fit.event_types:
        mapping += ("\n[source.event_types]          # your event type = winback's\n"
                    + "\n".join(f"{toml_str(k)} = {toml_str(v)}" for k, v in fit.event_types.items()))
    from winback.data.layouts import refunded_sales

    refunded = refunded_sales(fit.event_types)
    if refunded:
        mapping += ("\n# refunded, read as the sales they were when placed (the export dates no refund): "
                    + ", ".join(refunded))
    if fit.no_sale:
        mapping += ("\n# no sale, kept as events of their customer (never purchases): "
                    + ", ".join(fit.no_sale))
    for lookup in lookups or []:
        mapping += "\n\n[[source.lookups]]" + "".join(
            f"\n{k} = " + (toml_list(v) if isinstance(v, list) else toml_str(v)) for k, v in lookup.items())
    found = attribute_columns(path, base_dir, layout, columns or {}) if fit.read else []
    attributes = (f"# attributes = {toml_list(found)}   # one value per customer in this file: read as "
                  f"customer attributes (README, \"Customer attributes\")" if found else
                  "# attributes = []             # columns describing each customer (a channel, a country, "
                  "a signup date): README, \"Customer attributes\"")
    said = (f"{', '.join(repr(c) for c in found)} {'holds' if len(found) == 1 else 'hold'} one value "
            f"per customer, as a customer's country or channel does: uncomment features.attributes to "
            f"read {'it' if len(found) == 1 else 'them'} as customer attributes (not if "
            f"{'it was' if len(found) == 1 else 'they were'} written after the fact, such as a churn "
            f"flag).") if found else ""
    text = EVENT_TEMPLATE.format(path=toml_str(path), layout=layout, extra=extra, columns=mapping,
                                 horizon=fit.problem.horizon_days, step=fit.problem.cutoff_step_days,
                                 history=fit.problem.min_history_days, attributes=attributes)
    return Scaffold(text, [n for n in (_sheets(path, base_dir, stacked=stacked), note, fit.note, escape(said)) if n])


# a column is offered as a customer attribute when it holds few values (a country, a channel),
# one per customer for nearly every customer with several events, seen on enough of them
MAX_ATTRIBUTE_LEVELS = 50
MIN_CONSTANT_SHARE = 0.95
MIN_REPEAT_CUSTOMERS = 20


def attribute_columns(path: str, base_dir: Path, layout: str, columns: dict[str, str]) -> list[str]:
    """The source's unmapped text columns that hold one value per customer (Online Retail's
    Country, a GA export's device and country): what `init` offers as features.attributes.
    Offered, not written, since a column filled in after the fact (a churn flag) is as constant."""
    from winback.data.layouts import LAYOUTS, SOURCE_ROW

    try:
        raw, _ = _raw_table(path, base_dir)
    except WinbackError:
        return []
    if raw is None:
        return []
    layout_def = LAYOUTS[layout]
    mapping = {**layout_def.columns, **columns}
    mapping.update({k: v for k, v in layout_def.columns_in(list(raw.columns)).items() if k not in columns})
    customer = mapping.get("customer_id")
    if not customer or customer not in raw.columns:
        return []
    mapped = set(mapping.values())
    text = [c for c in raw.columns if c not in mapped and c != SOURCE_ROW and raw[c].type().is_string()]
    if not text:
        return []
    distinct = raw.aggregate(**{f"d{i}": raw[c].nunique() for i, c in enumerate(text)}).execute().iloc[0]
    few = [c for i, c in enumerate(text) if 2 <= int(distinct[f"d{i}"]) <= MAX_ATTRIBUTE_LEVELS][:10]
    if not few:
        return []
    per = raw.group_by(raw[customer]).aggregate(
        n=raw.count(), **{f"k{i}": raw[c].nunique() for i, c in enumerate(few)})
    repeat = per.filter(per.n >= 2)
    shares = repeat.aggregate(m=repeat.count(), **{
        f"k{i}": (repeat[f"k{i}"] <= 1).ifelse(1, 0).sum() for i in range(len(few))}).execute().iloc[0]
    customers = int(shares["m"])
    if customers < MIN_REPEAT_CUSTOMERS:
        return []
    return [c for i, c in enumerate(few) if int(shares[f"k{i}"]) >= MIN_CONSTANT_SHARE * customers]


def scaffold_for(path: str, base_dir: Path, *, table: bool = False, layout: str | None = None,
                 status=nullcontext, columns: dict[str, str] | None = None, key: str | None = None,
                 label: str | None = None, joins: list[str] | None = None) -> tuple[Scaffold, str]:
    """The config `init` writes for `path` (read from `base_dir` when relative): a customer
    table's (its `key` and `label` as given, else guessed), Olist's export's, or an event log's
    in `layout` (recognised by the source's columns when None; `events` when `columns` maps
    some of them), with the step to take next."""
    from winback.data.layouts import LAYOUTS

    table_note = ""
    if not table and layout is None and not columns:  # Telco's or a bank's churn CSV, without --table
        table_note = customer_table_note(path, base_dir)
        table = bool(table_note)
    if table:
        if columns:
            raise ConfigError("Column mappings are for event logs; a customer table takes its key and "
                              "label (--key, --label) and keeps its own column names.")
        scaffold = table_scaffold(path, base_dir, key=key, label=label, joins=joins)
        if table_note:
            scaffold.notes.insert(0, table_note)
        return scaffold, ("Check table.key, table.label and its values, then `winback validate` and "
                          "`winback train`.")
    if key or label:
        raise ConfigError("A key and a label are for customer tables (--table); an event log's customer "
                          "column is mapped as customer_id.")
    if joins:
        raise ConfigError("Joined tables (--join) are for customer tables (--table); an event log reads "
                          "one source (a glob reads several files of it).")
    next_step = "Next: `winback validate` then `winback train`."
    if layout is None and not columns and (olist := olist_export(path, base_dir)):
        return olist_scaffold(olist, base_dir, status=status), next_step
    recognised = ""
    if layout is None and columns:
        layout = "events"
    if layout is None:
        layout, recognised = guess_layout(path, base_dir)
    if layout not in LAYOUTS:
        raise WinbackError(f"Unknown layout '{layout}'.{did_you_mean(layout, LAYOUTS)} "
                           f"Known layouts: {', '.join(LAYOUTS)}.")
    scaffold = event_scaffold(path, layout, base_dir, status=status, given=columns)
    if recognised:
        scaffold.notes.insert(0, recognised)
    return scaffold, next_step


def _layout_zone(path: str, base_dir: Path, options: dict) -> str:
    """The zone settings of a ready layout's source that names its zones in a column (PayPal's
    TimeZone: PST and PDT), put in `options`; the note saying so."""
    try:
        table, read_settings = _raw_table(path, base_dir)
    except WinbackError:
        return ""  # fit_source says why
    if table is None:
        return ""
    if read_settings.get("skip_rows"):
        options["skip_rows"] = read_settings["skip_rows"]
    zone, note = _zone_of_times(table, list(table.columns))
    options.update(zone)
    return escape(" ".join(n for n in (_skip_note(read_settings), note) if n))


def _workbook(path: str, base_dir: Path) -> str | None:
    """The workbook file `path` names, or None when it names none (yet)."""
    from winback.data.workbooks import is_workbook

    full = Path(path).expanduser()
    full = full if full.is_absolute() else base_dir / full
    return str(full) if is_workbook(path) and full.is_file() else None


def _sheets(path: str, base_dir: Path, where: str = "[source]", stacked: bool | None = None) -> str:
    """Which sheet of a workbook with several is read, for init to say: all of them when
    `stacked` (init wrote sheet = "*"); None when init did not look at their headers."""
    from winback.data.workbooks import sheet_note

    file = _workbook(path, base_dir)
    if file is None:
        return ""
    try:
        return escape(sheet_note(file, where, stacked))
    except WinbackError:
        return ""  # reading the source says what is wrong with it


def _stacks_sheets(path: str, base_dir: Path) -> bool:
    """A workbook whose sheets share one header (a year per sheet, as UCI Online Retail II):
    init reads them all, sheet = "*"."""
    from winback.data.workbooks import same_header

    file = _workbook(path, base_dir)
    try:
        return file is not None and same_header(file)
    except WinbackError:
        return False
