"""Typed project configuration, read from `winback.toml`.

The file has four tables: ``[source]`` (where the events are and how their columns map to
winback's canonical event table), ``[problem]`` (what to predict, horizon and cutoffs),
``[features]``, ``[train]`` and ``[output]``. Unknown keys are errors, with the closest
valid key suggested, because a misspelt key silently ignored is a wrong model trained.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from winback.errors import ConfigError, did_you_mean

PROBLEMS = ("repeat_purchase", "return_visit", "first_purchase")
CANDIDATES = ("logistic", "lightgbm", "bgnbd")
DUPLICATE_POLICIES = ("error", "drop", "keep")


@dataclass
class SourceConfig:
    """Where the raw data lives and how it maps to canonical events.

    `columns` maps canonical names (customer_id, event_time, event_type, amount, quantity,
    price, order_id, session_id, product_id, brand, category) to column names in the source;
    it overrides the layout's ready-made mapping. `timezone` is the zone of timestamps that
    carry none: "UTC" or a fixed offset such as "+02:00".
    """

    path: str = ""
    format: str = ""  # csv | parquet | duckdb; inferred from the extension when empty
    table: str = ""  # table name inside a DuckDB database file
    layout: str = "events"  # rees46 | cdnow | online_retail | events
    delimiter: str = ""
    time_format: str = ""  # strptime format; empty means ISO 8601
    timezone: str = "UTC"
    duplicates: str = "error"  # error | drop | keep
    drop_missing_customers: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=dict)  # source value -> canonical
    passthrough: list[str] = field(default_factory=list)


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


@dataclass
class FeatureConfig:
    windows_days: list[int] = field(default_factory=lambda: [7, 30, 90, 180])
    trend_window_days: int = 30
    bgnbd: bool = True  # add BG/NBD expected purchases and P(alive) as features


@dataclass
class TrainConfig:
    candidates: list[str] = field(default_factory=lambda: list(CANDIDATES))
    seed: int = 42
    calibration: str = "sigmoid"  # sigmoid | none
    threshold: float = 0.0  # 0 means: choose the F1-best threshold on the validation cutoff
    selection_metric: str = "roc_auc"
    # shares of customers held out of training: validation rows (selection, calibration,
    # threshold) and early-stopping rows, both taken at the validation cutoff
    validation_share: float = 0.2
    early_stopping_share: float = 0.1
    # after selection, fit every candidate again on all customers (boosting keeps the rounds
    # early stopping chose); the validation figures are those of the first fit
    refit: bool = True


@dataclass
class OutputConfig:
    dir: str = "winback-out"


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    problem: ProblemConfig = field(default_factory=ProblemConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    base_dir: Path = field(default=Path("."), repr=False)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

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
                f"Unknown key '{key}' in [{where}] of winback.toml.{did_you_mean(key, names)} "
                f"Valid keys: {', '.join(names)}."
            )
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"[{where}.{key}] must be a table.")
            kwargs[key] = _build(hint, value, f"{where}.{key}" if where else key)
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
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    else:  # pragma: no cover - every field has one of the types above
        ok = True
    if not ok:
        raise ConfigError(
            f"'{key}' in winback.toml must be {getattr(hint, '__name__', str(hint))}, "
            f"got {value!r}."
        )
    return value


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
            f"Config file '{path}' does not exist. Create one with `winback init --layout rees46` "
            f"(or cdnow, online_retail, events)."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"'{path}' is not valid TOML: {exc}.") from exc
    try:
        return config_from_dict(data, base_dir=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def validate_config(cfg: Config) -> None:
    """Checks that do not need the data."""
    p = cfg.problem
    if p.name not in PROBLEMS:
        raise ConfigError(
            f"Unknown problem '{p.name}'.{did_you_mean(p.name, PROBLEMS)} "
            f"Choose one of: {', '.join(PROBLEMS)}."
        )
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
    for c in cfg.train.candidates:
        if c not in CANDIDATES:
            raise ConfigError(
                f"Unknown candidate '{c}' in train.candidates.{did_you_mean(c, CANDIDATES)} "
                f"Available: {', '.join(CANDIDATES)}."
            )
    if not cfg.train.candidates:
        raise ConfigError("train.candidates is empty; name at least one of " + ", ".join(CANDIDATES))
    if cfg.train.calibration not in ("sigmoid", "none"):
        raise ConfigError("train.calibration must be 'sigmoid' or 'none'.")
    v, e = cfg.train.validation_share, cfg.train.early_stopping_share
    if not (0 < v < 1 and 0 < e < 1 and v + e < 0.8):
        raise ConfigError(
            f"train.validation_share ({v}) and train.early_stopping_share ({e}) must each be "
            f"between 0 and 1 and together below 0.8, so that most customers are left to train on."
        )
    if cfg.source.duplicates not in DUPLICATE_POLICIES:
        raise ConfigError(
            f"source.duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, "
            f"got '{cfg.source.duplicates}'."
        )
    if any(w <= 0 for w in cfg.features.windows_days) or not cfg.features.windows_days:
        raise ConfigError("features.windows_days must be a non-empty list of positive days.")


def parse_date(value: str, key: str) -> dt.datetime:
    """A naive UTC datetime from 'YYYY-MM-DD' or an ISO timestamp."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{key} = '{value}' is not a date; write it as YYYY-MM-DD.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed
