"""Typed project configuration, read from `winback.toml`.

The file has four tables: ``[source]`` (where the events are and how their columns map to
winback's canonical event table), ``[problem]`` (what to predict, horizon and cutoffs),
``[features]``, ``[train]`` and ``[output]``. Unknown keys are errors, with the closest
valid key suggested, because a misspelt key silently ignored is a wrong model trained.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from winback.errors import ConfigError, did_you_mean

PROBLEMS = ("repeat_purchase", "return_visit", "first_purchase", "activity_decline", "next_event")
# next event in a session (seed 001)
NEXT_EVENT_CANDIDATES = ("most_frequent", "markov", "lightgbm", "lstm", "gru", "cnn", "cnn_bigru")
CANDIDATES = ("logistic", "lightgbm", "bgnbd")
# opt-in for event logs: recurrent networks over monthly features (PyTorch, the `deep` extra)
SEQUENCE_CANDIDATES = ("lstm", "gru")
# customer tables (no cutoffs): the seeds' model zoo, tuned with Optuna by cross-validation
TABLE_CANDIDATES = ("logistic", "svc", "knn", "tree", "lightgbm", "catboost", "mlp", "ensemble")
# networks: PyTorch comes with the `deep` extra, so a plain install's defaults leave them out
NETWORK_CANDIDATES = ("mlp", "lstm", "gru", "cnn", "cnn_bigru")
IMBALANCE = ("auto", "none", "class_weight", "undersample", "smote")
ACTIVITY_MEASURES = ("events", "orders", "spend")
FILTER_OPS = (">", ">=", "<", "<=", "==", "!=")
DUPLICATE_POLICIES = ("error", "drop", "keep")
BAD_LINE_POLICIES = ("error", "skip")
THRESHOLD_RULES = ("f1", "recall", "contacts", "profit", "accuracy")  # how train.threshold is chosen
NEGATIVE_AMOUNT_POLICIES = ("error", "return", "drop")
# source.time_format values for numbers since 1970-01-01 UTC, and microseconds per unit
UNIX_TIME_FORMATS = {"unix_s": 1_000_000, "unix_ms": 1_000, "unix_us": 1}


@dataclass
class LookupConfig:
    """A table whose columns join each event by a key: the customer behind an order (Olist's
    customer_unique_id), an order's date and status behind its lines. Read like the source (a
    file or glob, or `table` on the engine), it must hold one row per key; its columns then read
    as the source's own in [source.columns]. Lookups join in order, so one may key on a column
    an earlier one brought."""

    path: str = ""
    table: str = ""  # a table on the source's engine (or in the DuckDB file at `path`)
    format: str = ""
    sheet: str = ""
    delimiter: str = ""
    skip_rows: int = 0
    encoding: str = ""
    key: str = ""  # the events' column to join on
    lookup_key: str = ""  # the same in this table, when named otherwise; default: key
    columns: list[str] = field(default_factory=list)  # bring only these; default: every column
    rename: dict[str, str] = field(default_factory=dict)  # a brought column's new name

    def where(self) -> str:
        return self.table if self.table and not self.path else self.path


@dataclass
class SourceConfig:
    """Where the raw data lives and how it maps to canonical events.

    `columns` maps canonical names (customer_id, event_time, event_type, amount, quantity,
    price, order_id, session_id, product_id, brand, category) to column names in the source;
    it overrides the layout's ready-made mapping. `timezone` is the zone of timestamps that
    carry none: "UTC" or a fixed offset such as "+02:00".
    """

    path: str = ""
    format: str = ""  # csv | parquet | json | duckdb | excel; inferred from the extension when empty
    sheet: str = ""  # the sheet of a workbook (.xlsx, .xls, .ods); empty = its first
    table: str = ""  # a table in a DuckDB file, or on the backend (schema.table allowed)
    backend: str = "duckdb"  # duckdb | spark | postgres | bigquery: where features run
    connection: dict[str, str] = field(default_factory=dict)  # the backend's settings
    layout: str = "events"  # rees46 | cdnow | online_retail | ga_sessions | ga4 | shopify | paypal | stripe | events
    delimiter: str = ""
    # lines above the header (a report's title, its date range), skipped: CSV lines, or the
    # non-empty rows of a workbook's sheet
    skip_rows: int = 0
    encoding: str = ""  # CSV text: utf-8 (default), latin-1, cp1252 (Windows), utf-16, or any Python codec
    # a CSV line with more or fewer fields than the header: error (naming it) | skip (counted, said)
    bad_lines: str = "error"
    decimal: str = "."  # "," for numbers written 12,50 (CSV)
    thousands: str = ""  # "," for 1,234.50; "." for 1.234,50; " " or "'" (text numbers)
    currency: str = ""  # a sign or code written with amounts ("$", "€", "EUR"), dropped
    time_format: str = ""  # strptime format; empty means ISO 8601; unix_s | unix_ms | unix_us
    # a column with the time of day when the date is in event_time's own column (Square's and
    # many tills' Date + Time): read as "<date> <time>", which time_format then describes
    time_of_day: str = ""
    timezone: str = "UTC"
    # a column naming each row's zone (a chain's tills in several zones: Square's 'Time Zone');
    # its blank rows are read in `timezone`
    timezone_column: str = ""
    duplicates: str = "error"  # error | drop | keep
    drop_missing_customers: bool = False
    missing_customer_ids: list[str] = field(default_factory=list)  # ids meaning "no customer" (guests as 0)
    lowercase_customer_ids: bool = False  # John@x.com and john@x.com are one customer (emails as ids)
    negative_amounts: str = "error"  # purchases with a negative amount: error | return | drop
    # each file holds every event of its customers (written partitioned or bucketed by a hash of
    # the customer id): features are built file by file, in memory each file needs
    partitioned_by_customer: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=dict)  # source value -> canonical
    passthrough: list[str] = field(default_factory=list)
    lookups: list[LookupConfig] = field(default_factory=list)  # [[source.lookups]]


@dataclass
class ProblemConfig:
    """What to predict. Days are calendar days; cutoffs are UTC dates (exclusive bounds)."""

    name: str = "repeat_purchase"
    horizon_days: int = 90
    test_cutoff: str = ""  # default: end of data minus the horizon
    train_cutoffs: int = 4
    cutoff_step_days: int = 30
    min_history_days: int = 30
    # When a full horizon does not fit before the test cutoff, shorten the training label
    # windows so they end at the test cutoff (needed on short histories such as CDNOW).
    truncate_train_windows: bool = True
    qualifying_events: list[str] = field(default_factory=list)  # return_visit; empty = all
    # activity_decline: activity in [cutoff, cutoff + horizon) below `decline_share` of the
    # same-length window before the cutoff, for customers active in that earlier window
    decline_measure: str = "orders"  # events | orders | spend
    decline_share: float = 0.8
    # next_event: events of the session the model reads, the alert threshold on P(purchase in
    # the session), how recent a session's last event must be to count as live when scoring,
    # and a cap on training samples (whole sessions)
    sequence_length: int = 5
    churn_threshold: float = 0.05
    session_timeout_minutes: int = 30
    max_train_samples: int = 500_000


@dataclass
class FeatureConfig:
    windows_days: list[int] = field(default_factory=lambda: [7, 30, 90, 180])
    trend_window_days: int = 30
    bgnbd: bool = True  # add BG/NBD expected purchases and P(alive) as features
    # months of monthly features (seq_m{k}_*) for the lstm / gru candidates; 0 = none, or 12
    # when a sequence candidate is chosen
    sequence_months: int = 0
    # the shop's clock for hour and weekday features ("America/New_York", "+10:00"); empty =
    # source.timezone. Events are stored in UTC; an evening in New York is a night in UTC
    timezone: str = ""
    # source columns that describe the customer (country, acquisition channel, signup date),
    # read as each customer's latest value before the cutoff (winback.features.attributes)
    attributes: list[str] = field(default_factory=list)

    def clock(self, source_timezone: str) -> str:
        return self.timezone.strip() or source_timezone

    def row_clock(self, source: "SourceConfig") -> bool:
        """Hour and weekday on each event's own clock: the source names each row's zone
        (source.timezone_column) and no one clock is set here."""
        return bool(source.timezone_column.strip()) and not self.timezone.strip()


@dataclass
class TrainConfig:
    # empty: every candidate of the input kind (CANDIDATES for event logs, TABLE_CANDIDATES
    # for customer tables)
    candidates: list[str] = field(default_factory=list)
    seed: int = 42
    calibration: str = "sigmoid"  # sigmoid | none
    threshold: float = 0.0  # a fixed decision threshold; 0 means: by threshold_rule
    # how the threshold is chosen on held-out customers: f1 (F1-best) | recall (find at least
    # target_recall of the positives) | contacts (flag the top contact_share of customers) |
    # profit (value_per_positive per flagged positive minus cost_per_contact per flagged one)
    threshold_rule: str = "f1"
    target_recall: float = 0.8
    contact_share: float = 0.2
    value_per_positive: float = 0.0
    cost_per_contact: float = 0.0
    selection_metric: str = "roc_auc"
    # shares of customers held out of training: validation rows (selection, calibration,
    # threshold) and early-stopping rows, both taken at the validation cutoff
    validation_share: float = 0.2
    early_stopping_share: float = 0.1
    # after selection, fit every candidate again on all customers (boosting keeps the rounds
    # early stopping chose); the validation figures are those of the first fit
    refit: bool = True
    # customer tables: stratified test share, CV folds on the rest, Optuna budget per candidate
    test_share: float = 0.25
    cv_folds: int = 5
    trials: int = 15
    # fewer (or more) trials for some candidates: slow ones (SVC, the MLP on 14,084 audiobook
    # customers) get a budget the machine's speed does not decide, unlike timeout_s
    trials_by_candidate: dict[str, int] = field(default_factory=dict)
    timeout_s: float = 0.0  # whole tuning budget in seconds; 0 = trials only
    # event logs: `train` also runs a backtest at this many test cutoffs (0 = none), each
    # backtest_step_days before the next (0 = problem.cutoff_step_days), for the report
    backtest_folds: int = 0
    backtest_step_days: int = 0

    def trials_of(self, candidate: str) -> int:
        return self.trials_by_candidate.get(candidate, self.trials)
    imbalance: str = "auto"  # auto (tuned) | none | class_weight | undersample | smote


@dataclass
class TableSourceConfig:
    """One input table of a customer-table project, keyed by customer.

    `fixes` maps a column to {wrong value: right value} (typos), applied before anything else.
    With `pivot_column`, rows are (customer, period, values...): each value column becomes one
    column per period, named `<prefix or value column>_<pivot_names[period] or period>`.
    """

    path: str = ""
    key: str = ""  # default: table.key
    sheet: str = ""  # the sheet of a workbook (.xlsx, .xls, .ods); empty = its first
    delimiter: str = ""
    skip_rows: int = 0  # title lines above the header (non-empty rows in a workbook)
    encoding: str = ""  # utf-8 (default), latin-1, cp1252, utf-16, or any Python codec
    bad_lines: str = "error"  # error | skip: CSV lines with more or fewer fields than the header
    decimal: str = "."
    thousands: str = ""
    currency: str = ""
    date_format: str = ""  # strptime format of dates not written ISO ('%d/%m/%Y'); empty: found from the values
    # a column's own ({ "Last Order" = "%d/%m/%Y" }): read as dates in it, before date_format
    date_formats: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # keep only these (besides the key)
    rename: dict[str, str] = field(default_factory=dict)
    fixes: dict[str, dict] = field(default_factory=dict)
    pivot_column: str = ""
    pivot_values: list[str] = field(default_factory=list)
    pivot_names: dict[str, str] = field(default_factory=dict)
    pivot_prefix: str = ""


@dataclass
class TableFilterConfig:
    """Keep rows where `column op value` holds (e.g. revenue_prev2 > 0)."""

    column: str = ""
    op: str = ">"
    value: Any = 0


@dataclass
class TableConfig:
    """Customer tables: one row per customer after joining `sources` on the key.

    The label column's values map to 1 (`positive`) and 0 (`negative`; empty means every other
    value). With neither list the label must already be 0/1 (or true/false). Text columns are
    categorical, numbers numeric; `categorical` forces a column to be categorical. Missing
    numbers take the training median plus a missing indicator. Date columns become
    `days_since_<column>`: days before `as_of` (empty: the latest date in the table's date
    columns), since a date as text would be a category of its own for nearly every customer.
    """

    key: str = "customer_id"
    label: str = ""
    positive: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    missing_indicators: bool = True
    as_of: str = ""  # the date the table describes; date columns become days before it
    sources: list[TableSourceConfig] = field(default_factory=list)
    filters: list[TableFilterConfig] = field(default_factory=list)


@dataclass
class SegmentConfig:
    """Risk x value quadrants. Risk is the model's probability, high at or above
    `risk_threshold` (0: the model's decision threshold); value is `value_column` (a profit or
    revenue column), high at or above `value_threshold` (0: its median)."""

    value_column: str = ""
    risk_threshold: float = 0.0
    value_threshold: float = 0.0
    names: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)


@dataclass
class OutputConfig:
    dir: str = "winback-out"


@dataclass
class TrackingConfig:
    """MLflow tracking of `winback train`: a local store in mlruns/ beside winback.toml unless
    MLFLOW_TRACKING_URI is set; `--no-track` turns it off for one run."""

    enabled: bool = True


@dataclass
class EngineConfig:
    """The embedded DuckDB's bounds: features of logs larger than RAM spill to `temp_directory`.
    An empty memory_limit leaves DuckDB's own default (80 % of RAM). `threads` is DuckDB's, and
    LightGBM's and CatBoost's too; 0 = every core for DuckDB and LightGBM, two for CatBoost,
    whose models depend on their thread count (winback.threads)."""

    memory_limit: str = ""  # e.g. "6GB"
    temp_directory: str = ""  # default: <system temp>/winback-spill
    threads: int = 0


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    problem: ProblemConfig = field(default_factory=ProblemConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    table: TableConfig = field(default_factory=TableConfig)
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    base_dir: Path = field(default=Path("."), repr=False)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def output_dir(self, create: bool = True) -> Path:
        """output.dir (created when `create`). Checked before a run spends minutes training, so
        a path that is a file or cannot be written stops it at once, and nothing is made for a
        run that then fails."""
        out = self.resolve(self.output.dir)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"output.dir '{out}' is a file, not a folder: name a folder for the "
                              f"bundle and report (--out or output.dir).")
        parent = next(p for p in (out, *out.parents) if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise ConfigError(f"output.dir '{out}' cannot be written ('{parent}' is not a writable "
                              f"folder): name a folder you can write to (--out or output.dir).")
        if create:
            out.mkdir(parents=True, exist_ok=True)
        return out

    def read_from(self, paths: list[str]) -> None:
        """The same project reading other files (`--input`): next month's customers scored or
        checked by the model trained on this month's, without a second winback.toml. A
        customer-table project takes one path per `[[table.sources]]`, in their order (the
        columns, fixes, pivots and filters stay theirs); an event log takes one path or glob.
        Paths are relative to where the command runs, as a user typing them means."""
        resolved = [p if "://" in p else str(Path(p).expanduser().resolve()) for p in paths]
        for given, path in zip(paths, resolved):
            pattern = any(c in path for c in "*?[")
            if "://" not in path and not (glob.glob(path) if pattern else Path(path).exists()):
                raise ConfigError(f"--input '{given}' does not exist"
                                  + (" (no file matches the pattern)" if pattern else "")
                                  + f"; paths are read from the folder the command runs in ({Path.cwd()}).")
        if self.table.sources:
            if len(resolved) != len(self.table.sources):
                listed = ", ".join(f"{i}. {s.path}" for i, s in enumerate(self.table.sources, 1))
                raise ConfigError(f"--input was given {len(resolved)} time(s), but this project reads "
                                  f"{len(self.table.sources)} table(s): give one --input per "
                                  f"[[table.sources]], in their order ({listed}).")
            for source, path in zip(self.table.sources, resolved):
                source.path = path
            return
        if len(resolved) != 1:
            raise ConfigError(f"--input was given {len(resolved)} times, but an event log is one "
                              f"source: give it once (a glob such as 'events/*.parquet' reads several "
                              f"files).")
        self.source.path = resolved[0]

    @property
    def is_table(self) -> bool:
        """A customer-table project (``[[table.sources]]``) rather than an event log."""
        return bool(self.table.sources)

    @property
    def candidates(self) -> list[str]:
        """The configured candidates, or every one of the input kind (the networks only when
        PyTorch is installed: it comes with the `deep` extra; CatBoost with the `catboost` one)."""
        if self.train.candidates:
            return list(self.train.candidates)
        return [c for c in self._default_candidates() if not _missing_extra(c)]

    def _default_candidates(self) -> tuple[str, ...]:
        if self.problem.name == "next_event":
            return NEXT_EVENT_CANDIDATES
        if not self.is_table:
            return tuple(c for c in CANDIDATES if not (c == "bgnbd" and self.problem.name == "first_purchase"))
        return TABLE_CANDIDATES

    @property
    def candidate_notes(self) -> list[str]:
        """What `train` says of default candidates left out for want of PyTorch or CatBoost, so
        that a plain install's leaderboard does not pass for the whole zoo."""
        if self.train.candidates:
            return []
        notes = []
        for extra, library in (("deep", "PyTorch"), ("catboost", "CatBoost")):
            left = [c for c in self._default_candidates() if _missing_extra(c) == extra]
            if left:
                notes.append(f"{', '.join(left)} left out: {'it needs' if len(left) == 1 else 'they need'} "
                             f"{library}, which is not installed (pip install 'winback[{extra}]')")
        return notes

    @property
    def sequence_months(self) -> int:
        """Months of monthly features to build: as configured, or 12 for a sequence candidate."""
        if self.features.sequence_months or not any(c in SEQUENCE_CANDIDATES for c in self.candidates):
            return self.features.sequence_months
        return 12

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("base_dir")
        return d


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    """Dataclass `cls` from a TOML table, rejecting unknown keys and wrong types."""
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "base_dir"]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(
                f"Unknown key '{key}' in [{where}] of the config.{did_you_mean(key, names)} "
                f"Valid keys: {', '.join(names)}."
            )
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"[{where}.{key}] must be a table.")
            kwargs[key] = _build(hint, value, f"{where}.{key}" if where else key)
            continue
        args = getattr(hint, "__args__", ())
        if getattr(hint, "__origin__", None) is list and args and dataclasses.is_dataclass(args[0]):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"[[{where}.{key}]] must be a list of tables.")
            kwargs[key] = [_build(args[0], v, f"{where}.{key}[{i}]") for i, v in enumerate(value)]
            continue
        kwargs[key] = _check_type(value, hint, f"{where}.{key}" if where else key)
    return cls(**kwargs)


def _check_type(value: Any, hint: Any, key: str) -> Any:
    origin = getattr(hint, "__origin__", None)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        ok = isinstance(value, str)
    elif origin is list:
        ok = isinstance(value, list)
    elif origin is dict:
        inner = hint.__args__[1]
        want = dict if getattr(inner, "__origin__", inner) is dict else int if inner is int else str
        ok = isinstance(value, dict) and all(isinstance(v, want) and not isinstance(v, bool)
                                             for v in value.values())
        if not ok and want is int:
            raise ConfigError(f"'{key}' must be a table of whole numbers ({{ svc = 4 }}), got {value!r}.")
    elif hint is Any:
        ok = isinstance(value, (int, float, str, bool))
    else:  # pragma: no cover - every field has one of the types above
        ok = True
    if not ok:
        name = getattr(hint, "__name__", str(hint))
        raise ConfigError(f"'{key}' must be {TYPE_WORDS.get(name, name)}, got {value!r}.")
    return value


TYPE_WORDS = {"int": "a whole number (no quotes)", "float": "a number (no quotes)",
              "str": "text in quotes", "bool": "true or false", "list": "a list [...]",
              "dict": "a table { ... }"}


def config_from_dict(data: dict[str, Any], base_dir: Path = Path(".")) -> Config:
    """Build and check a Config from a parsed TOML document."""
    cfg = _build(Config, data, "")
    cfg.base_dir = base_dir
    validate_config(cfg)
    return cfg


def load_config(path: str | Path) -> Config:
    """Read `winback.toml`; every error names the file and the key."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"Config file '{path}' does not exist. Create one with `winback init <your file>` (an event "
            f"log, an order table or a customer table: init recognises which by its columns), or try "
            f"the bundled data with `--dataset cdnow` (or oneclick, audiobooks)."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"'{path}' is not valid TOML: {exc}.") from exc
    try:
        return config_from_dict(data, base_dir=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# what people call the problems winback solves, and which one it is
PROBLEM_WORDS = {
    "churn": "activity_decline (activity in the horizon below a share of the window before) or "
             "repeat_purchase (the churners are those who do not buy again: its segments' risk is "
             "one minus the probability)",
    "retention": "repeat_purchase or return_visit",
    "repurchase": "repeat_purchase", "next_purchase": "repeat_purchase", "reorder": "repeat_purchase",
    "conversion": "first_purchase", "convert": "first_purchase", "acquisition": "first_purchase",
    "return": "return_visit", "revisit": "return_visit", "comeback": "return_visit",
    "decline": "activity_decline", "attrition": "activity_decline", "lapse": "activity_decline",
    "next_action": "next_event", "next_step": "next_event", "clickstream": "next_event",
}


def check_problem_name(name: str) -> None:
    """An unknown problem name, with the problem it most likely means ('churn': activity_decline
    or repeat_purchase) or the closest spelling."""
    if name in PROBLEMS:
        return
    word = re.sub(r"[^a-z]+", "_", name.lower()).strip("_")
    meant = next((v for k, v in PROBLEM_WORDS.items() if k in word), None)
    hint = f" For '{name}', use {meant}." if meant else did_you_mean(name, PROBLEMS)
    raise ConfigError(f"Unknown problem '{name}'.{hint} Choose one of: {', '.join(PROBLEMS)}.")


def validate_config(cfg: Config) -> None:
    """Checks that do not need the data."""
    p = cfg.problem
    check_problem_name(p.name)
    for key in ("horizon_days", "cutoff_step_days"):
        if getattr(p, key) <= 0:
            raise ConfigError(f"problem.{key} must be a positive number of days.")
    if p.train_cutoffs < 2:
        raise ConfigError(
            "problem.train_cutoffs must be at least 2: the latest is the validation cutoff "
            "(early stopping, calibration, model choice) and the others train."
        )
    if p.test_cutoff:
        parse_date(p.test_cutoff, "problem.test_cutoff")
    known = TABLE_CANDIDATES if cfg.is_table else CANDIDATES + SEQUENCE_CANDIDATES
    kind = "customer tables" if cfg.is_table else "event logs"
    if p.name == "next_event":
        known, kind = NEXT_EVENT_CANDIDATES, "the next_event problem"
        if not 1 <= p.sequence_length <= 50:
            raise ConfigError("problem.sequence_length must be between 1 and 50 events.")
        if not 0 < p.churn_threshold < 1:
            raise ConfigError("problem.churn_threshold must be between 0 and 1.")
        if p.session_timeout_minutes <= 0 or p.max_train_samples < 1000:
            raise ConfigError("problem.session_timeout_minutes must be positive and "
                              "problem.max_train_samples at least 1000.")
    for c in cfg.train.candidates:
        if c not in known:
            raise ConfigError(
                f"Unknown candidate '{c}' in train.candidates for {kind}.{did_you_mean(c, known)} "
                f"Available: {', '.join(known)}."
            )
    if "catboost" in cfg.train.candidates and not catboost_installed():
        raise ConfigError("train.candidates lists catboost, but CatBoost is not installed: "
                          "pip install 'winback[catboost]', or remove it from the list.")
    if p.name == "first_purchase" and "bgnbd" in cfg.train.candidates:
        raise ConfigError(
            "The bgnbd candidate cannot predict first_purchase: BG/NBD models how often existing "
            "buyers buy again, and this problem's customers have never bought. Remove 'bgnbd' from "
            "train.candidates (logistic and lightgbm read the visitors' browsing features)."
        )
    if p.decline_measure not in ACTIVITY_MEASURES:
        raise ConfigError(f"problem.decline_measure must be one of {', '.join(ACTIVITY_MEASURES)}, "
                          f"got '{p.decline_measure}'.")
    if not 0 < p.decline_share <= 1:
        raise ConfigError(f"problem.decline_share must be in (0, 1], got {p.decline_share}.")
    _validate_table_settings(cfg)
    _validate_threshold_rule(cfg.train)
    if cfg.train.backtest_folds or cfg.train.backtest_step_days:
        from winback.backtest import check_backtest

        if cfg.train.backtest_folds == 1 or cfg.train.backtest_folds < 0 or cfg.train.backtest_step_days < 0:
            raise ConfigError(f"train.backtest_folds must be 0 (no backtest) or at least 2, and "
                              f"train.backtest_step_days 0 (the cutoff step) or more; got "
                              f"{cfg.train.backtest_folds} and {cfg.train.backtest_step_days}.")
        if cfg.train.backtest_folds:
            check_backtest(cfg, cfg.train.backtest_folds, cfg.train.backtest_step_days or None)
    if cfg.train.calibration not in ("sigmoid", "none"):
        raise ConfigError("train.calibration must be 'sigmoid' or 'none'.")
    v, e = cfg.train.validation_share, cfg.train.early_stopping_share
    if not (0 < v < 1 and 0 < e < 1 and v + e < 0.8):
        raise ConfigError(
            f"train.validation_share ({v}) and train.early_stopping_share ({e}) must each be "
            f"between 0 and 1 and together below 0.8, so that most customers are left to train on."
        )
    if cfg.source.negative_amounts not in NEGATIVE_AMOUNT_POLICIES:
        raise ConfigError(
            f"source.negative_amounts must be one of {', '.join(NEGATIVE_AMOUNT_POLICIES)}, got "
            f"'{cfg.source.negative_amounts}'.{did_you_mean(cfg.source.negative_amounts, NEGATIVE_AMOUNT_POLICIES)}"
        )
    if cfg.source.bad_lines not in BAD_LINE_POLICIES:
        raise ConfigError(f"source.bad_lines must be one of {', '.join(BAD_LINE_POLICIES)}, got "
                          f"'{cfg.source.bad_lines}'.")
    if cfg.source.bad_lines == "skip" and cfg.source.backend != "duckdb":
        raise ConfigError(f"source.bad_lines = \"skip\" applies to files DuckDB reads; the "
                          f"{cfg.source.backend} backend reads the source its own way.")
    if cfg.source.duplicates not in DUPLICATE_POLICIES:
        raise ConfigError(
            f"source.duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, "
            f"got '{cfg.source.duplicates}'."
        )
    from winback.data.numbers import source_number_format  # winback.data imports this module
    from winback.data.sources import encoding_problem

    if encoding_problem(cfg.source.encoding):
        raise ConfigError(f"source.{encoding_problem(cfg.source.encoding)}.")

    problem = source_number_format(cfg.source).problem()
    if problem:
        raise ConfigError(f"source.{problem}.")
    if cfg.source.time_format.startswith("unix") and cfg.source.time_format not in UNIX_TIME_FORMATS:
        raise ConfigError(f"source.time_format '{cfg.source.time_format}' is not a unix format."
                          f"{did_you_mean(cfg.source.time_format, UNIX_TIME_FORMATS)} Unix formats "
                          f"are {', '.join(UNIX_TIME_FORMATS)}.")
    if cfg.source.time_of_day and cfg.source.time_format in UNIX_TIME_FORMATS:
        raise ConfigError(f"source.time_of_day joins a date and a time of day written as text; "
                          f"{cfg.source.time_format} times are whole instants already. Remove one.")
    if cfg.source.time_format in UNIX_TIME_FORMATS and cfg.source.timezone_column:
        raise ConfigError(f"source.timezone_column does not apply to {cfg.source.time_format} "
                          f"timestamps: a count since 1970-01-01 UTC is an instant already. Remove it.")
    if cfg.source.time_format in UNIX_TIME_FORMATS and cfg.source.timezone.upper() != "UTC":
        raise ConfigError(f"source.timezone = '{cfg.source.timezone}' does not apply to "
                          f"{cfg.source.time_format} timestamps: a count since 1970-01-01 UTC is "
                          f"an instant already. Remove source.timezone.")
    from winback.data.canonical import zone_setting
    from winback.data.engines import check_engine_settings

    zone_setting(cfg.source.timezone)  # a zone that is neither an offset nor a known name
    if cfg.source.partitioned_by_customer and (cfg.source.backend != "duckdb" or cfg.source.table):
        raise ConfigError("source.partitioned_by_customer = true reads files one at a time on DuckDB; "
                          "a table, or a Spark, PostgreSQL or BigQuery source, is spread by the "
                          "engine itself. Remove the setting.")
    if cfg.features.timezone.strip():
        zone_setting(cfg.features.timezone, "features.timezone")

    check_engine_settings(cfg)
    _validate_lookups(cfg.source)
    if cfg.engine.threads < 0:
        raise ConfigError("engine.threads must be 0 (every core) or positive.")
    if not 0 <= cfg.features.sequence_months <= 60:
        raise ConfigError("features.sequence_months must be between 0 and 60.")
    if any(w <= 0 for w in cfg.features.windows_days) or not cfg.features.windows_days:
        raise ConfigError("features.windows_days must be a non-empty list of positive days.")
    _no_repeats(cfg.features.windows_days, "features.windows_days")
    _no_repeats(cfg.features.attributes, "features.attributes")
    from winback.data.layouts import CANONICAL_TYPES, LOCAL_TIME

    if cfg.is_table and cfg.features.attributes:
        raise ConfigError("features.attributes reads customer attributes off an event log's events; "
                          "every column of a customer table is a feature already. Remove it, or "
                          "list a column to leave out in table.drop.")
    if cfg.problem.name == "next_event" and cfg.features.attributes:
        raise ConfigError("features.attributes feeds the customer models (repeat_purchase, "
                          "return_visit, first_purchase, activity_decline); next_event reads a "
                          "session's own events and would leave them unread. Remove it.")
    canonical = [a for a in cfg.features.attributes if a in CANONICAL_TYPES or a == LOCAL_TIME]
    if canonical:
        raise ConfigError(f"features.attributes lists '{canonical[0]}', one of winback's own event "
                          f"columns, which its features read already; list the source's columns "
                          f"that describe the customer (a country, a channel, a signup date).")
    if cfg.features.trend_window_days <= 0:
        raise ConfigError("features.trend_window_days must be a positive number of days (the last "
                          "window of the trend features, compared with the one before it).")
    if p.min_history_days < 0:
        raise ConfigError(f"problem.min_history_days must be 0 or more days, got {p.min_history_days}.")
    _no_repeats(cfg.train.candidates, "train.candidates")
    if not 0 <= cfg.train.seed < 2**32:
        raise ConfigError(f"train.seed must be between 0 and 2**32 - 1, got {cfg.train.seed}.")
    _validate_selection_metric(cfg)
    validate_segment_keys(cfg.segments)


def _validate_lookups(source: SourceConfig) -> None:
    from winback.data.sources import encoding_problem

    warehouse = source.backend in ("postgres", "bigquery")
    for i, lookup in enumerate(source.lookups):
        where = f"[[source.lookups]] entry {i + 1}" + (f" ('{lookup.where()}')" if lookup.where() else "")
        if not lookup.key.strip():
            raise ConfigError(f"{where} has no key: name the events' column it joins on "
                              f"(key = \"order_id\"), and lookup_key if the table names it otherwise.")
        if not (lookup.path or lookup.table):
            raise ConfigError(f"{where} names no data: set path (a file or glob) or table.")
        if warehouse and not lookup.table:
            raise ConfigError(f"{where}: a {source.backend} source joins tables of its own database; "
                              f"set table (schema.table) rather than path.")
        if source.backend == "duckdb" and not lookup.path and not source.table:
            raise ConfigError(f"{where} names a table but no file: set path to the DuckDB file that "
                              f"holds it (a table without a path is read from the events' own DuckDB "
                              f"file, when source.table names one).")
        if encoding_problem(lookup.encoding):
            raise ConfigError(f"{where}: {encoding_problem(lookup.encoding)}.")
        if lookup.skip_rows < 0:
            raise ConfigError(f"{where}: skip_rows must be 0 or more lines.")
        empty = [k for k, v in lookup.rename.items() if not v.strip()]
        if empty:
            raise ConfigError(f"{where}: rename gives '{empty[0]}' an empty name.")
        _no_repeats(lookup.columns, f"{where}: columns")


def _no_repeats(values: list, key: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
    if repeated:
        raise ConfigError(f"{key} lists {', '.join(map(str, repeated))} more than once.")


# what `train.selection_metric` may name, and whether a higher value is better
SELECTION_METRICS = {"roc_auc": True, "pr_auc": True, "lift_10": True, "lift_20": True,
                     "log_loss": False, "brier": False}


def _validate_selection_metric(cfg: Config) -> None:
    metric = cfg.train.selection_metric
    if metric not in SELECTION_METRICS:
        raise ConfigError(f"train.selection_metric must be one of {', '.join(SELECTION_METRICS)}, got "
                          f"'{metric}'.{did_you_mean(metric, SELECTION_METRICS)}")
    if cfg.is_table and metric != "roc_auc":
        raise ConfigError(f"train.selection_metric = '{metric}' applies to event logs: customer-table "
                          f"candidates are tuned and chosen on their cross-validated ROC-AUC. Remove "
                          f"the setting.")


def validate_segment_keys(seg: "SegmentConfig") -> None:
    """Segment names and actions are keyed by the four quadrants; another key would be ignored."""
    from winback.segments import SEGMENTS

    for where, mapping in (("names", seg.names), ("actions", seg.actions)):
        for key in mapping:
            if key not in SEGMENTS:
                raise ConfigError(f"Unknown segment '{key}' in segments.{where}."
                                  f"{did_you_mean(key, SEGMENTS)} Segments are {', '.join(SEGMENTS)}.")


def _validate_threshold_rule(t: TrainConfig) -> None:
    if t.threshold_rule not in THRESHOLD_RULES:
        raise ConfigError(f"train.threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, got "
                          f"'{t.threshold_rule}'.{did_you_mean(t.threshold_rule, THRESHOLD_RULES)}")
    if not 0 <= t.threshold < 1:
        raise ConfigError(f"train.threshold must be in [0, 1) (0 = chosen by threshold_rule), got {t.threshold}.")
    if not 0 < t.target_recall <= 1:
        raise ConfigError(f"train.target_recall must be in (0, 1], got {t.target_recall}.")
    if not 0 < t.contact_share <= 1:
        raise ConfigError(f"train.contact_share (the share of customers a campaign can reach) must be "
                          f"in (0, 1], got {t.contact_share}.")
    if t.threshold_rule == "profit" and not (t.value_per_positive > 0 and t.cost_per_contact >= 0):
        raise ConfigError(
            "threshold_rule = 'profit' needs train.value_per_positive > 0 (what one flagged customer "
            "with the outcome is worth) and train.cost_per_contact >= 0 (what flagging one costs); "
            f"got {t.value_per_positive} and {t.cost_per_contact}."
        )


def _validate_table_settings(cfg: Config) -> None:
    t = cfg.train
    if not 0 < t.test_share < 0.9:
        raise ConfigError(f"train.test_share must be between 0 and 0.9, got {t.test_share}.")
    if t.cv_folds < 2:
        raise ConfigError(f"train.cv_folds must be at least 2, got {t.cv_folds}.")
    if t.trials < 1:
        raise ConfigError(f"train.trials must be at least 1, got {t.trials}.")
    tuned = [c for c in TABLE_CANDIDATES if c != "ensemble"]
    for name, n in t.trials_by_candidate.items():
        if name not in tuned:
            raise ConfigError(f"train.trials_by_candidate names '{name}', which is no tuned candidate of "
                              f"customer tables.{did_you_mean(name, tuned)} Tuned: {', '.join(tuned)}.")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"train.trials_by_candidate.{name} must be a whole number of trials, at "
                              f"least 1, got {n!r}.")
    if t.timeout_s < 0:
        raise ConfigError(f"train.timeout_s must be 0 (no limit) or positive, got {t.timeout_s}.")
    if t.imbalance not in IMBALANCE:
        raise ConfigError(f"train.imbalance must be one of {', '.join(IMBALANCE)}, got "
                          f"'{t.imbalance}'.{did_you_mean(t.imbalance, IMBALANCE)}")
    if not cfg.is_table:
        return
    tab = cfg.table
    if not tab.label:
        raise ConfigError("table.label must name the column to predict.")
    both = sorted({str(v) for v in tab.positive} & {str(v) for v in tab.negative})
    if both:
        raise ConfigError(f"table.positive and table.negative both list {', '.join(map(repr, both))}: "
                          f"a label value means 1 or 0, not both.")
    if tab.negative and not tab.positive:
        raise ConfigError(f"table.positive must list the value(s) of '{tab.label}' that mean 1 "
                          f"when table.negative is set.")
    if tab.as_of:
        parse_date(tab.as_of, "table.as_of")  # checked now, not only once a date column needs it
    for i, src in enumerate(tab.sources):
        if not src.path:
            raise ConfigError(f"table.sources[{i}].path is empty.")
        if src.bad_lines not in BAD_LINE_POLICIES:
            raise ConfigError(f"table.sources[{i}].bad_lines must be one of "
                              f"{', '.join(BAD_LINE_POLICIES)}, got '{src.bad_lines}'.")
        for name, fmt in [("date_format", src.date_format),
                          *((f"date_formats.{c}", f) for c, f in src.date_formats.items())]:
            if fmt and not re.search(r"%[dmyYbB]", fmt) or name != "date_format" and not fmt:
                raise ConfigError(f"table.sources[{i}].{name} '{fmt}' names no day, month or year: "
                                  f"write it as strptime does ('%d/%m/%Y', '%m/%d/%Y %H:%M').")
        if bool(src.pivot_column) != bool(src.pivot_values):
            raise ConfigError(f"table.sources[{i}] ({src.path}): pivot_column and pivot_values "
                              f"go together.")
        for col, fix in src.fixes.items():
            if not all(isinstance(v, str) for v in fix.values()):
                raise ConfigError(f"table.sources[{i}].fixes.{col} must map text to text.")
    for i, f in enumerate(tab.filters):
        if f.op not in FILTER_OPS:
            raise ConfigError(f"table.filters[{i}].op must be one of {' '.join(FILTER_OPS)}, "
                              f"got '{f.op}'.")
        if not f.column:
            raise ConfigError(f"table.filters[{i}].column is empty.")


def parse_date(value: str, key: str) -> dt.datetime:
    """A naive UTC datetime from 'YYYY-MM-DD' or an ISO timestamp."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{key} = '{value}' is not a date; write it as YYYY-MM-DD.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def moment_text(when: dt.datetime) -> str:
    """A cutoff as the user should read it back: the date alone at midnight, else the UTC time
    too (a cutoff given as 1998-01-01T00:00+02:00 is 1997-12-31 22:00 UTC, not 1997-12-31)."""
    if when.time() == dt.time(0):
        return f"{when:%Y-%m-%d}"
    return f"{when:%Y-%m-%d %H:%M:%S} UTC"


def _missing_extra(candidate: str) -> str | None:
    """The extra a candidate needs and this install lacks: `deep` for the networks, `catboost`
    for CatBoost; None when it can run."""
    if candidate in NETWORK_CANDIDATES and not torch_installed():
        return "deep"
    if candidate == "catboost" and not catboost_installed():
        return "catboost"
    return None


def catboost_installed() -> bool:
    """Whether CatBoost (the `catboost` extra) can be imported, without importing it."""
    from winback.extras import installed

    return installed("catboost")


def torch_installed() -> bool:
    """Whether PyTorch (the `deep` extra) can be imported, without importing it."""
    from winback.extras import installed

    return installed("torch")
