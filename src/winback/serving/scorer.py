"""Bundles loaded once and scored request by request: the engine behind `winback serve`.

A customer bundle (event log or customer table) answers "how likely is this customer to come
back, buy, or drift away", from ready features or from raw recent events. Raw events go through
the bundle's own feature spec (the same Ibis expressions as training, on an in-memory DuckDB),
with the population models the bundle stores (BG/NBD, Gamma-Gamma, decile edges from the test
cutoff), because one customer is not a population to fit them on. A next-event bundle answers
"what will this session do next".
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from winback.bundle import load_bundle, read_manifest
from winback.config import ProblemConfig
from winback.data.layouts import CANONICAL_TYPES, LOCAL_TIME
from winback.data.tables import category_value
from winback.drift import ServedDrift
from winback.errors import WinbackError, did_you_mean
from winback.evaluate import decile_of, decision_of
from winback.reasons import REASONS
from winback.serving.schemas import Event


class _Scratch:
    """An in-memory DuckDB for request data, opened on first use and used by one request at a
    time (a DuckDB connection is not shared between threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con = None

    @contextmanager
    def connection(self):
        with self._lock:
            if self._con is None:
                from winback.data.sources import connect

                self._con = connect()
            yield self._con


class RequestError(WinbackError):
    """A request the model cannot answer as sent (unknown feature, wrong value type); `code` is
    the error code the service answers with."""

    code = "invalid_request"


class UnknownFeature(RequestError):
    code = "unknown_feature"


@dataclass
class Scored:
    """One customer's answer; `note` says why a customer has no probability, or what lowers the
    reliability of the one it has (event fields missing, categories never trained on)."""

    customer_id: str | None
    probability: float | None
    decile: int | None = None
    flagged: bool | None = None
    segment: str | None = None
    action: str | None = None
    value: float | None = None
    reasons: list[dict[str, Any]] | None = None
    missing_features: list[str] = field(default_factory=list)
    note: str | None = None


def _utc_naive(t: dt.datetime) -> dt.datetime:
    try:
        return t.astimezone(dt.timezone.utc).replace(tzinfo=None) if t.tzinfo else t
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        raise RequestError(f"{t.isoformat()} is outside the range of dates winback handles.") from None


def _add_wall_times(frame: pd.DataFrame, times: Sequence[dt.datetime], row_clock: bool) -> None:
    """For a bundle whose hour features read each event's own clock (row_clock): the posted
    times' wall clocks as written, where they name their zone, as `local_time`; times without
    one (and every time for other bundles) are on the bundle's clock."""
    walls = [t.replace(tzinfo=None) if t.tzinfo else None for t in times]
    if row_clock and any(w is not None for w in walls):
        frame[LOCAL_TIME] = pd.to_datetime(walls).astype("datetime64[us]")


def _add_attributes(frame: pd.DataFrame, events: Sequence[Mapping[str, Any]],
                    attributes: Sequence[tuple[str, str, tuple[str, ...]]]) -> None:
    """The model's customer attributes as columns of the request's events, typed as the
    features read them (winback.features.attributes); an attribute the model does not read
    is an error naming those it does."""
    from winback.errors import did_you_mean
    from winback.features.attributes import CATEGORY, TIME

    known = [column for column, _, _ in attributes]
    for e in events:
        unknown = [k for k in (e.get("attributes") or {}) if k not in known]
        if unknown:
            reads = (f"it reads {', '.join(repr(k) for k in known)}" if known
                     else "it was trained without features.attributes")
            raise RequestError(f"unknown attribute '{unknown[0]}': the model does not read it "
                               f"({reads}).{did_you_mean(unknown[0], known)}")
    for column, kind, _ in attributes:
        values = pd.Series([(e.get("attributes") or {}).get(column) for e in events], dtype=object)
        if kind == CATEGORY:
            frame[column] = values.map(lambda v: None if v is None else str(v)).astype("string")
            continue
        try:
            if kind == TIME:
                parsed = pd.to_datetime(values, utc=True, format="ISO8601")
                frame[column] = parsed.dt.tz_localize(None).astype("datetime64[us]")
            else:
                frame[column] = pd.to_numeric(values).astype(float)
        except (ValueError, TypeError):
            wanted = "a date or time as ISO 8601" if kind == TIME else "a number"
            shown = next((v for v in values if v is not None and not _reads_as(v, kind)), values.tolist())
            raise RequestError(f"attribute '{column}' is {shown!r}; the model reads it as {wanted}.") from None


def _reads_as(value: Any, kind: str) -> bool:
    from winback.features.attributes import TIME

    try:
        pd.to_datetime(value, format="ISO8601") if kind == TIME else float(value)
        return True
    except (ValueError, TypeError):
        return False


def _shown(value: Any) -> Any:
    """A value as JSON can carry it: NaN, None and pandas' NA (a missing text value) are null."""
    if value is None or (pd.api.types.is_scalar(value) and not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def top_reasons(contrib: np.ndarray, columns: Sequence[str], row: Mapping[str, Any],
                k: int = REASONS) -> list[dict[str, Any]]:
    """The k features that moved this score most: name, value, direction, contribution."""
    order = np.argsort(-np.abs(contrib), kind="stable")[:k]
    return [{"feature": columns[j], "value": _shown(row.get(columns[j])),
             "direction": "raises" if contrib[j] > 0 else "lowers",
             "contribution": float(contrib[j])} for j in order if contrib[j] != 0]


@dataclass
class TableRows:
    """Customers sent to a customer-table model: each column's values as the table loader
    reads them (categories as trimmed text or None, numbers as floats), and the code matrix
    (`Preprocessor.codes`' layout) that the models score."""

    data: dict[str, Any]
    codes: np.ndarray
    columns: list[str]
    categorical: set[str]

    def frame(self) -> pd.DataFrame:
        """The rows as the frame batch scoring reads (what the explainer takes)."""
        return pd.DataFrame({c: pd.array(self.data[c], dtype="string") if c in self.categorical
                             else self.data[c] for c in self.columns})


IN_SAMPLE_NOTE = ("this customer's row (the same id and values) is one the model was trained on: its "
                  "score is in-sample, surer than the model's test figures vouch for")


class CustomerScorer:
    """Scores customers with an event-log or customer-table bundle."""

    def __init__(self, bundle_dir: Path):
        self.bundle_dir = Path(bundle_dir)
        self.manifest, self.model, self.calibrator = load_bundle(self.bundle_dir)
        m = self.manifest
        self.kind = m.get("kind", "event_log")
        if self.kind == "next_event":
            raise WinbackError(f"'{bundle_dir}' is a next-event bundle, not a customer model.")
        self.problem = m["problem"]["name"]
        self.edges = m.get("decile_edges")
        # one customer at a time: at or above the bundle's threshold, which for a contact
        # budget is the score where that share of the test population starts
        self.threshold = float(decision_of(m)["threshold"])
        if self.kind == "customer_table":
            from winback.tabular.categories import numeric_codes, pooled_categories, trained_categories

            self.columns = list(m["feature_columns"])
            self.categorical = set(m["data"]["categorical"])
            self.categories = trained_categories(self.model)
            self.pooled = pooled_categories(self.model)
            # columns that take JSON true/false: numeric ones that were true/false in the
            # training table (1/0; older bundles do not say, and take numbers only), and
            # categories spelt true/false in it (a CSV's 'TRUE')
            self.boolean = set(m["data"].get("boolean", []))
            self.booleans = self.boolean | {c for c, known in self.categories.items()
                                            if {k.lower() for k in known} & {"true", "false"}}
            # category columns of codes written as numbers take JSON numbers too
            self.coded = numeric_codes(self.categories)
            from winback.tabular.explain import ColumnCodes

            self._codes = ColumnCodes(self.model.members[0].preprocessor)
            self._level_index = {c: {v: float(i) for i, v in enumerate(levels)}
                                 for c, levels in self._codes.levels.items()}
            # the training rows' hashes (id and values), to say when a request is one of them
            from winback.hashing import trained_rows

            self._trained_rows = trained_rows(self.bundle_dir, m)
        else:
            from winback.features import FeatureSpec
            from winback.models.bgnbd import BGNBD

            self.spec, self.columns = FeatureSpec.from_bundle(m["feature_spec"])
            self.categorical = set()
            self.booleans = set()
            self.coded = set()
            self._problem_config = ProblemConfig(**m["problem"])
            stored = (m.get("population") or {}).get("bgnbd")
            self._bgnbd = BGNBD.from_dict(stored) if stored else None
            self._horizon = float(m["problem"]["horizon_days"])  # the label window BG/NBD predicts
        self.index = {c: i for i, c in enumerate(self.columns)}
        self._rule = None
        if m.get("segments"):
            from winback.segments import SEGMENTS, SegmentRule

            self._rule = SegmentRule.from_dict(m["segments"]["rule"])
            self._names = [self._rule.names[k] for k in SEGMENTS]
            self._actions = [self._rule.actions[k] for k in SEGMENTS]
        # what a score reads, to name what a request left out: the model's inputs (BG/NBD's
        # are its three purchase features) and the value axis'; and the inputs whose drift is
        # watched, as `winback score` watches them (every column, but BG/NBD's three)
        self._read, watch = self.columns, None
        if self.kind != "customer_table" and self.model.name == "bgnbd":
            from winback.models.bgnbd import PURCHASE_FEATURES
            from winback.segments import value_inputs

            wanted = set(PURCHASE_FEATURES) | set(value_inputs(self._rule) if self._rule else [])
            self._read, watch = [c for c in self.columns if c in wanted], list(PURCHASE_FEATURES)
        from winback.models.gamma_gamma import GammaGamma

        self._gamma_gamma = GammaGamma.from_params((m.get("population") or {}).get("gamma_gamma"))
        self._scratch = _Scratch()
        # the customers scored since the model was loaded, against its test population
        ref = m.get("drift_reference")
        self.drift = ServedDrift(ref, self.columns, watch=watch) if ref else None
        self._background: pd.DataFrame | None = None
        self._prepared = None  # a customer table's permutation-SHAP background, when first asked

    # -- ready features -------------------------------------------------------------------
    def _check_names(self, rows: Sequence[Mapping[str, Any]]) -> None:
        known = self.index
        for i, row in enumerate(rows):
            unknown = [k for k in row if k not in known]
            if unknown:
                where = f"customer {i + 1}: " if len(rows) > 1 else ""
                raise UnknownFeature(f"{where}unknown feature '{unknown[0]}'."
                                   f"{did_you_mean(unknown[0], self.columns)} GET /v1/model lists "
                                   f"the {len(self.columns)} features of this model.")

    def _matrix(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = np.full((len(rows), len(self.columns)), np.nan)
        for i, row in enumerate(rows):
            for name, value in row.items():
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise RequestError(f"feature '{name}' must be a number or null, got "
                                       f"{type(value).__name__} {value!r}.")
                X[i, self.index[name]] = value
        return X

    def _table_rows(self, rows: Sequence[Mapping[str, Any]]) -> "TableRows":
        from winback.tabular.categories import boolean_category, code_text

        data: dict[str, Any] = {}
        for c in self.columns:
            values = [row.get(c) for row in rows]
            if c in self.categorical:
                # JSON true/false meet the training table's spelling of them ('TRUE' in a CSV),
                # and numbers a code's ('7' for 7 or 7.0)
                data[c] = [category_value(boolean_category(v, self.categories.get(c, [])) if isinstance(v, bool)
                                          else code_text(v) if isinstance(v, (int, float)) else v)
                           for v in values]
            else:
                truth = c in self.boolean  # a true/false column of the training table: 1/0
                for v in values:
                    if v is not None and ((isinstance(v, bool) and not truth) or not isinstance(v, (int, float))):
                        raise RequestError(f"feature '{c}' is numeric: send a number"
                                           f"{', true, false' if truth else ''} or null, got {v!r}.")
                data[c] = np.array([np.nan if v is None else float(v) for v in values])
        codes = np.empty((len(rows), len(self._codes.columns)))
        for j, c in enumerate(self._codes.columns):
            if c in self._level_index:  # a category: its index among the model's, NaN if unknown
                index = self._level_index[c]
                codes[:, j] = [np.nan if v is None else index.get(v, np.nan) for v in data[c]]
            else:
                codes[:, j] = data[c]
        return TableRows(data, codes, self.columns, self.categorical)

    def _unseen_notes(self, inputs: "TableRows") -> list[str | None]:
        """Per customer: the categories sent that the model was not trained on, if any."""
        from winback.tabular.categories import unseen_note

        notes: list[list[str]] = [[] for _ in range(len(inputs.codes))]
        for c, known in self.categories.items():
            if c in self.pooled:  # rare values are pooled by design (a surname): nothing to say
                continue
            seen = set(known)
            for i, v in enumerate(inputs.data[c]):
                if v is not None and v not in seen:
                    notes[i].append(unseen_note(c, {v: 1}, known))
        return ["; ".join(n) if n else None for n in notes]

    def _in_training(self, ids: Sequence[str | None], inputs: "TableRows") -> list[bool]:
        """Per customer: whether its id and values are a row the model was fitted on (hashed as
        `winback train` hashed them: 50 microseconds a customer). Rows without an id are not."""
        if self._trained_rows is None or not any(i is not None for i in ids):
            return [False] * len(ids)
        from winback.hashing import among, hash_rows

        at = [k for k, i in enumerate(ids) if i is not None]
        data = inputs.data if len(at) == len(ids) else {c: [inputs.data[c][k] for k in at] for c in self.columns}
        hashes = hash_rows([ids[k] for k in at], self.columns, data, self.categorical)
        out = [False] * len(ids)
        for k, hit in zip(at, among(hashes, self._trained_rows).tolist()):
            out[k] = hit
        return out

    def _inputs(self, rows: Sequence[Mapping[str, Any]]) -> "TableRows | np.ndarray":
        """What the model reads: the rows' values and codes for customer tables, a float matrix
        for event logs."""
        self._check_names(rows)
        return self._table_rows(rows) if self.kind == "customer_table" else self._matrix(rows)

    def probabilities(self, rows: Sequence[Mapping[str, Any]],
                      inputs: "TableRows | np.ndarray | None" = None) -> np.ndarray:
        """P(positive outcome) per row of features; the in-process fast path."""
        X = self._inputs(rows) if inputs is None else inputs
        if self.kind == "customer_table":
            # the models read the codes as the explainer's masked rows are read (the same
            # matrix as from a frame, to the bit): a frame per request, and each member's
            # pandas preprocessing of it, took 7 of a customer's 7.5 ms (One Click's ensemble)
            return self.model.predict_proba_codes(X.codes, self._codes.columns, self._codes.levels)
        if self.model.name == "bgnbd":
            p = self.model.history_probability(self._purchase_history(X), self._horizon)
        else:
            p = self.model.predict_matrix(X)
        return self.calibrator.transform(p) if self.calibrator is not None else p

    def _purchase_history(self, X: np.ndarray) -> np.ndarray:
        """The rows' purchase histories, as BG/NBD reads them."""
        from winback.models.bgnbd import PURCHASE_FEATURES, history_of

        return history_of(X[:, [self.index[c] for c in PURCHASE_FEATURES]])

    def _values(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        from winback.segments import segment_value

        def col(name: str) -> np.ndarray:
            return np.array([np.nan if r.get(name) is None else float(r[name]) for r in rows])

        return segment_value(self._rule, col, self._gamma_gamma)

    def _reasons(self, rows: Sequence[Mapping[str, Any]],
                 X: "TableRows | np.ndarray") -> list[list[dict[str, Any]]] | None:
        if self.kind == "customer_table":
            from winback.tabular.explain import Background, exact_explainer, explain, explain_codes

            seed = int(self.manifest["tuning"]["seed"])
            if self._background is None:  # read once, on the first request that wants reasons
                self._background = pd.read_parquet(self.bundle_dir / self.manifest["background"])
            if exact_explainer(self.model):
                values = explain(self.model, X.frame(), self._background, seed=seed).values
            else:  # the request's codes against a background sample drawn and predicted once
                if self._prepared is None:
                    self._prepared = Background.of(self.model, self._background, seed)
                values = explain_codes(self.model, X.codes, self._prepared).values
            cols = list(values.columns)
            return [top_reasons(values.iloc[i].to_numpy(), cols, rows[i]) for i in range(len(rows))]
        columns = self.columns
        if self.model.name == "bgnbd":
            from winback.models.bgnbd import PURCHASE_FEATURES

            columns = list(PURCHASE_FEATURES)
            contrib = self.model.history_contributions(self._purchase_history(X), self._horizon)
        else:
            contrib = self.model.contributions(X)
        if contrib is None:
            return None
        return [top_reasons(contrib[i], columns, rows[i]) for i in range(len(rows))]

    def score_features(self, rows: Sequence[Mapping[str, Any]], ids: Sequence[str | None] | None = None,
                       reasons: bool = False, track: bool = True) -> list[Scored]:
        """Scores of rows of features; `track`: count them in `drift` (the self-test does not)."""
        X = self._inputs(rows)
        p = self.probabilities(rows, X)
        if track and self.drift is not None:
            if self.kind == "customer_table":
                self.drift.add_columns(X.data, p)
            else:
                self.drift.add(X, p)
        ids = ids or [None] * len(rows)
        deciles = decile_of(p, self.edges) if self.edges else [None] * len(rows)
        out = [Scored(ids[i], float(p[i]), None if deciles[i] is None else int(deciles[i]),
                      flagged=bool(p[i] >= self.threshold),
                      missing_features=[c for c in self._read if rows[i].get(c) is None])
               for i in range(len(rows))]
        if self.kind == "customer_table":
            for s, note, trained in zip(out, self._unseen_notes(X), self._in_training(ids, X)):
                s.note = "; ".join(n for n in (note, IN_SAMPLE_NOTE if trained else None) if n) or None
        if self._rule is not None:
            from winback.segments import risk_of, segment_codes

            with np.errstate(over="ignore", invalid="ignore"):  # absurd inputs: no value, no noise
                value = self._values(rows)
            codes = segment_codes(self._rule, risk_of(self.problem, p), value)
            for i, s in enumerate(out):
                s.segment, s.action = self._names[codes[i]], self._actions[codes[i]]
                s.value = float(value[i]) if np.isfinite(value[i]) else None
        if reasons:
            found = self._reasons(rows, X)
            for s, r in zip(out, found or []):
                s.reasons = r
        return out

    # -- raw events -----------------------------------------------------------------------
    def features_from_events(self, customers: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
                             cutoff: dt.datetime) -> tuple[pd.DataFrame, list[str]]:
        """The bundle's features at `cutoff` for each customer's events (only events before the
        cutoff count), and the ids that are in the problem's population there."""
        if self.kind == "customer_table":
            raise RequestError("This model scores customer-table rows: send `features`, not events.")
        from winback.data.canonical import EventLog
        from winback.frame import build_frame, score_cutoff

        rows = []
        for cid, events in customers:
            for e in events:
                rows.append({**{c: e.get(c) for c in CANONICAL_TYPES}, "customer_id": cid,
                             "event_time": _utc_naive(e["event_time"])})
        frame = pd.DataFrame(rows, columns=list(CANONICAL_TYPES))
        _add_wall_times(frame, [e["event_time"] for _, events in customers for e in events], self.spec.row_clock)
        for c, t in CANONICAL_TYPES.items():
            if t == "string":
                frame[c] = frame[c].astype("string")
            elif t == "float64":
                frame[c] = frame[c].astype(float)
        frame["event_time"] = pd.to_datetime(frame["event_time"]).astype("datetime64[us]")
        _add_attributes(frame, [e for _, events in customers for e in events], self.spec.attributes)
        problem = self._problem_config
        with self._scratch.connection() as con:
            table = con.create_table("request_events", frame, temp=True, overwrite=True)
            log = EventLog(con, table, frozenset(self.spec.available), "request")
            feats = build_frame(log, score_cutoff(cutoff, problem.horizon_days), problem, self.spec,
                                with_labels=False, bgnbd=self._bgnbd)
        return feats, feats["customer_id"].astype(str).tolist()

    def score_events(self, customers: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
                     cutoff: dt.datetime | None = None, reasons: bool = False) -> list[Scored]:
        when = _utc_naive(cutoff) if cutoff else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for cid, events in customers:
            if not any(_utc_naive(e["event_time"]) < when for e in events):
                raise RequestError(f"customer '{cid}' has no event before the cutoff "
                                   f"{when:%Y-%m-%d %H:%M}: features need history before it.")
        try:
            feats, eligible = self.features_from_events(customers, when)
        except OverflowError:  # a cutoff so late that its horizon passes year 9999
            raise RequestError(f"cutoff {when.isoformat()} is too late: its horizon passes the "
                               f"last date winback handles.") from None
        rows = [{c: _shown(v) for c, v in r.items()} for r in feats[self.columns].to_dict("records")] \
            if len(feats) else []
        by_id = dict(zip(eligible, self.score_features(rows, eligible, reasons))) if rows else {}
        out = []
        for cid, events in customers:
            if cid in by_id:
                absent = [c for c in OPTIONAL_EVENT_FIELDS
                          if c in self.spec.available and all(e.get(c) is None for e in events)]
                absent += [column for column, _, _ in self.spec.attributes
                           if all((e.get("attributes") or {}).get(column) is None for e in events)]
                if absent:
                    by_id[cid].note = (f"the events carry no {', '.join(absent)}, which the model was "
                                       f"trained with: the features built from them read as none, "
                                       f"which lowers the score's reliability")
                out.append(by_id[cid])
            else:
                out.append(Scored(cid, None, note=f"not in the '{self.problem}' population at "
                                  f"{when:%Y-%m-%d}: {POPULATION_RULES.get(self.problem, 'no qualifying history')}"))
        return out

    # -- description ----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "kind": self.kind, "problem": m["problem"], "best": m["best"],
            "selection": m.get("selection"), "threshold": m.get("threshold"),
            "leaderboard": m.get("leaderboard"), "cutoffs": m.get("cutoffs"),
            "features": self.columns, "features_read": self._read,
            "categorical_features": sorted(self.categorical),
            "boolean_features": sorted(self.booleans),
            "feature_spec": m.get("feature_spec"), "fingerprint": m.get("fingerprint"),
            "created_at": m.get("created_at"), "winback_version": m.get("winback_version"),
            "segments": m.get("segments"), "importance": m.get("importance"),
            "explainer": self.explainer,
            # what an event's `attributes` may hold: column -> category, number or time
            "attributes": ({column: kind for column, kind, _ in self.spec.attributes}
                           if self.kind != "customer_table" else {}),
        }

    @property
    def explainer(self) -> str | None:
        if self.kind == "customer_table":
            return self.manifest.get("explainer")
        if self.model.name == "bgnbd":
            return ("exact Shapley values of its three purchase features"
                    if getattr(self.model, "background_", None) is not None else None)
        return {"lightgbm": "TreeSHAP (LightGBM pred_contrib)",
                "logistic": "linear contributions (exact SHAP)"}.get(self.model.name)

    def example_features(self) -> dict[str, Any]:
        """A typical customer (the bundle's stored medians) for forms and docs."""
        if self.kind == "customer_table":
            bg = pd.read_parquet(self.bundle_dir / self.manifest["background"])
            return {c: _shown(bg[c].iloc[0]) for c in self.columns}
        medians = self.manifest.get("feature_medians") or {}
        return {c: medians.get(c) for c in self._read}  # what the score reads (BG/NBD: a few)


# the optional fields of a posted event (event_type defaults to purchase, so its absence cannot
# be told): a customer whose events all omit one the training log had gets a note
OPTIONAL_EVENT_FIELDS = tuple(f for f in Event.model_fields if f not in ("event_time", "event_type"))

POPULATION_RULES = {
    "repeat_purchase": "no purchase before the cutoff",
    "first_purchase": "already bought before the cutoff (or no visit)",
    "return_visit": "no qualifying event before the cutoff",
    "activity_decline": "no activity in the window before the cutoff",
}


class NextEventScorer:
    """Next-event probabilities and the churn alert for one live session."""

    def __init__(self, bundle_dir: Path):
        from winback.nextevent.pipeline import load_next_event_bundle

        self.bundle_dir = Path(bundle_dir)
        self.manifest, self.model, self.churn = load_next_event_bundle(bundle_dir)
        self.k = int(self.manifest["k"])
        self.classes = list(self.manifest["classes"])
        self._scratch = _Scratch()

    def predict(self, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The session so far, oldest first -> P(next event), the likeliest, P(purchase later
        in the session) and the alert flag."""
        from winback.nextevent.dataset import EVENT_TYPES, Vocabulary, samples_table, to_samples

        if not events:
            raise RequestError("send at least one event of the session.")
        bad = [e["event_type"] for e in events if e["event_type"] not in EVENT_TYPES]
        if bad:
            raise RequestError(f"event_type '{bad[0]}' is not a session event; use one of "
                               f"{', '.join(EVENT_TYPES)}.")
        frame = pd.DataFrame({
            "customer_id": pd.array(["session"] * len(events), dtype="string"),
            "session_id": pd.array(["session"] * len(events), dtype="string"),
            "event_time": pd.to_datetime([_utc_naive(e["event_time"]) for e in events]).astype("datetime64[us]"),
            "event_type": pd.array([e["event_type"] for e in events], dtype="string"),
            "amount": [np.nan if e.get("price") is None else float(e["price"]) for e in events],
            "brand": pd.array([e.get("brand") for e in events], dtype="string"),
            "category": pd.array([e.get("category") for e in events], dtype="string"),
        })
        row_clock = bool(self.manifest.get("row_clock", False))
        _add_wall_times(frame, [e["event_time"] for e in events], row_clock)
        with self._scratch.connection() as con:
            table = con.create_table("session_events", frame, temp=True, overwrite=True)
            samples = samples_table(table, self.k, timezone=self.manifest.get("timezone", "UTC"),
                                    row_clock=row_clock).execute()
        last = samples.sort_values("position").tail(1)
        s = to_samples(last.assign(target="end", purchase_later=0), self.k,
                       Vocabulary(self.manifest["vocabulary"]))
        probs = self.model.predict_proba(s)[0]
        p_buy = float(self.churn.predict(s)[0])
        threshold = float(self.manifest["problem"]["churn_threshold"])
        return {"probabilities": {c: float(v) for c, v in zip(self.classes, probs)},
                "next_event": self.classes[int(np.argmax(probs))],
                "p_purchase_in_session": p_buy, "churn_alert": p_buy < threshold,
                "churn_threshold": threshold, "events_used": min(len(events), self.k)}

    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {"kind": "next_event", "problem": m["problem"], "best": m["best"],
                "selection": m.get("selection"), "leaderboard": m.get("leaderboard"),
                "classes": self.classes, "sequence_length": self.k, "test_cutoff": m.get("test_cutoff"),
                "fingerprint": m.get("fingerprint"), "churn": m.get("churn"),
                "created_at": m.get("created_at"), "winback_version": m.get("winback_version")}


def load_scorers(paths: Sequence[Path]) -> tuple[CustomerScorer | None, NextEventScorer | None]:
    """At most one customer bundle and one next-event bundle, each loaded once."""
    customer = next_event = None
    for path in paths:
        path = Path(path)
        if read_manifest(path).get("kind") == "next_event":
            if next_event is not None:
                raise WinbackError("Pass at most one next-event bundle.")
            next_event = NextEventScorer(path)
        else:
            if customer is not None:
                raise WinbackError("Pass at most one customer bundle (event log or customer table).")
            customer = CustomerScorer(path)
    return customer, next_event
