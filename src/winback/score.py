"""Score customers with a bundle, streaming: features leave the engine in Arrow record batches,
are scored chunk by chunk and spilled to a temporary Parquet file, and DuckDB ranks them and
writes the result to its destination in one go (see `winback.sinks`). Memory holds one chunk
plus three numbers per buyer (for the population's BG/NBD fit), whatever the number of customers.

Two inputs: an event log at a cutoff (the bundle's features computed by the engine), or a
Parquet file of ready features (computed elsewhere, e.g. in a warehouse).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from winback.bundle import load_bundle
from winback.config import Config, ProblemConfig, moment_text, parse_date
from winback.data.canonical import EventLog, load_events
from winback.data.sources import arrow_batches
from winback.drift import Drift, DriftCounter
from winback.errors import ConfigError, DataError
from winback.evaluate import decision_of, flag_sql
from winback.features import FeatureSpec
from winback.frame import (BGNBD_FEATURES, check_one_file_per_customer, feature_tables, finish_frame,
                           fit_population_bgnbd, score_cutoff)
from winback.labels import observed_end, population_table
from winback.models.bgnbd import BGNBD, PURCHASE_FEATURES
from winback.models.gamma_gamma import GammaGamma
from winback.reasons import reason_columns
from winback.segments import SegmentRule, assign, risk_of, segment_value, value_inputs
from winback.sinks import output_kind, write_query
from winback.threads import set_model_threads

CHUNK_ROWS = 65_536
# what a score row already holds: a kept column may not take one of these names
SCORE_COLUMNS = ("customer_id", "probability", "rank", "decile", "flagged", "cutoff", "value", "segment",
                 "action", "reason_1", "reason_2", "reason_3")


class ScoreRun(NamedTuple):
    """What a batch scoring wrote: where, how many customers, the event-log cutoff (None for
    ready features), and how those customers compare with the model's test population (None
    for a bundle trained before winback kept it)."""

    where: str
    rows: int
    cutoff: dt.datetime | None
    drift: Drift | None


def kept_columns(keep: Sequence[str], available: Sequence[str], where: str,
                 taken: Sequence[str] = SCORE_COLUMNS) -> list[str]:
    """The columns `--keep` copies beside each score, each once, checked before any work: in
    `available` (what `where` holds), and not a name the scores use."""
    from winback.errors import did_you_mean

    wanted = list(dict.fromkeys(k.strip() for k in keep if k.strip()))
    for name in wanted:
        if name in taken:
            raise ConfigError(f"--keep '{name}': the scores already have a column of that name.")
        if name not in available:
            raise ConfigError(f"--keep '{name}' is not a column of {where}.{did_you_mean(name, available)}")
    return wanted


Progress = Callable[[str], None]
IN_POPULATION = "_in_population"


def explains(bundle_dir: Path) -> tuple[bool, str]:
    """(whether an event-log bundle's model gives each score its reasons, the model's name),
    from its files without loading the model: BG/NBD when its references were kept, models
    with contributions (logistic regression, LightGBM); not the monthly sequence networks."""
    import json

    from winback.bundle import read_manifest
    from winback.models import REGISTRY
    from winback.models.base import Candidate

    entry = read_manifest(bundle_dir).get("model", {})
    name = str(entry.get("name", ""))
    if name == "bgnbd":
        stored = json.loads((Path(bundle_dir) / entry["file"]).read_text())
        return "reference_customers" in stored, name
    model = REGISTRY.get(name)
    return model is not None and model.contributions is not Candidate.contributions, name


class _Bundle:
    """A customer bundle opened for batch scoring."""

    def __init__(self, bundle_dir: Path, ready_features: bool = False, reasons: bool = True):
        self.dir = Path(bundle_dir)
        self.keep: list[str] = []  # columns of the scored rows copied beside each score
        self.reasons = reasons  # reason_1..3 where the model has contributions
        self.manifest, self.model, self.calibrator = load_bundle(self.dir)
        kind = self.manifest.get("kind")
        if kind == "customer_table":
            if ready_features:
                raise ConfigError(f"Bundle '{bundle_dir}' was trained on customer tables, which are "
                                  f"scored from the config's [table] sources, not --features: point "
                                  f"table.sources at the customers to score and run `winback score` "
                                  f"without --features.")
            raise ConfigError(f"Bundle '{bundle_dir}' was trained on customer tables; score it with "
                              f"the customer-table config ([table]) it was trained with.")
        if kind == "next_event":
            raise ConfigError(f"Bundle '{bundle_dir}' is a next-event bundle; score it with a "
                              f"next_event config{'' if not ready_features else ', not --features'}.")
        self.problem = ProblemConfig(**self.manifest["problem"])
        self.spec, self.columns = FeatureSpec.from_bundle(self.manifest["feature_spec"])
        self.rule = (SegmentRule.from_dict(self.manifest["segments"]["rule"])
                     if self.manifest.get("segments") else None)
        self.decision = decision_of(self.manifest)
        # the features the model reads (BG/NBD: its three purchase features, of all it was given)
        self.inputs = list(PURCHASE_FEATURES) if self.model.name == "bgnbd" else self.columns

    def drift_counter(self, when: dt.datetime | None = None) -> DriftCounter | None:
        """Counts the scored customers against the test population (bundles trained before
        winback kept one have none). A new model helps unless scoring at `when` is already
        within a horizon of the model's test cutoff, the latest a log's labels allow."""
        ref = self.manifest.get("drift_reference")
        if not ref:
            return None
        test = next((c for c in self.manifest.get("cutoffs", []) if c.get("role") == "test"), None)
        latest = (when is not None and test is not None and "window_end" in test and
                  when <= parse_date(test["window_end"], "window_end") + dt.timedelta(days=1))
        return DriftCounter(ref, self.inputs, retrain_helps=not latest)

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        if self.model.name == "bgnbd":
            p = self.model.predict_proba(frame)[:, 1]
        else:
            p = self.model.predict_matrix(frame[self.columns].to_numpy(dtype=float))
        return self.calibrator.transform(p) if self.calibrator is not None else p

    def scored(self, frame: pd.DataFrame, gamma_gamma) -> pd.DataFrame:
        """customer_id, probability (and value, segment, action) for one chunk of model rows."""
        missing = [c for c in self.inputs if c not in frame.columns]
        if missing:
            raise DataError(
                f"The data lacks features the model was trained on: {', '.join(missing[:8])}. Score "
                f"with data in the same layout as training (source.layout = "
                f"'{self.manifest['source']['layout']}').")
        p = self.probabilities(frame)
        out = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).array, "probability": p})
        if "cutoff" in frame.columns:
            out["cutoff"] = frame["cutoff"].to_numpy()
        if self.rule is not None:
            value = self._value(frame, gamma_gamma)
            segs = assign(self.rule, risk_of(self.problem.name, p), value)
            out["value"] = value
            out["segment"], out["action"] = segs["segment"].array, segs["action"].array
        if self.reasons:
            X = frame[self.inputs].to_numpy(dtype=float)
            if self.model.name == "bgnbd":  # exact Shapley values of its three purchase features
                contributions = self.model.purchase_contributions(frame)
            else:  # TreeSHAP, or a linear model's exact ones
                contributions = self.model.contributions(X)
            if contributions is not None:
                out = out.assign(**reason_columns(contributions, self.inputs, X))
        for name in self.keep:
            out[name] = frame[name].to_numpy()
        return out

    def _value(self, frame: pd.DataFrame, gamma_gamma) -> np.ndarray:
        def col(name: str) -> np.ndarray:
            if name not in frame.columns:
                raise DataError(f"The data lacks '{name}', which the value axis of this bundle's "
                                f"segments needs.")
            return frame[name].to_numpy(dtype=float)

        return segment_value(self.rule, col, gamma_gamma)

    def stored_gamma_gamma(self):
        return GammaGamma.from_params((self.manifest.get("population") or {}).get("gamma_gamma"))


def _read_parquet(path: Path) -> str:
    """DuckDB's read_parquet over `path`, quoted for SQL."""
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def _ranked_query(path: Path, columns: list[str], decision: dict, rows: int) -> str:
    """Rank 1 = highest probability (ties by customer id), decile 1 = the top tenth of the
    `rows` customers, flagged = the bundle's decision rule (see evaluate.flags). The count is
    given, not counted by a second window (a quarter of the query's time on a million rows)."""
    # quoted: a kept feature's name may hold spaces ('channel is ads', an attribute's level)
    rest = "".join(", " + '"' + c.replace('"', '""') + '"' for c in columns if c not in ("customer_id", "probability"))
    return (f"SELECT customer_id, probability, rank, "
            f"LEAST(10, (rank - 1) * 10 // n + 1)::BIGINT AS decile, "
            f"{flag_sql(decision)} AS flagged{rest} FROM ("
            f"SELECT *, row_number() OVER (ORDER BY probability DESC, customer_id) AS rank, "
            f"{int(rows)}::BIGINT AS n FROM {_read_parquet(path)}) "
            f"ORDER BY rank")


class _Spool:
    """Scored chunks appended to a temporary Parquet file, then ranked into the output."""

    def __init__(self, tmp: Path):
        self.path = tmp / "scored.parquet"
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        self.columns: list[str] = []
        self.closed = False

    def add(self, chunk: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
            self.columns = list(chunk.columns)
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows += len(chunk)

    def close(self) -> None:
        """Finish the spooled file; scoring nobody is an error."""
        if self.writer is None:
            raise DataError("No customer to score.")
        if not self.closed:
            self.writer.close()
            self.closed = True

    def write(self, output: str, table: str | None, decision: dict) -> str:
        self.close()
        return _copy_out(_ranked_query(self.path, self.columns, decision, self.rows), output, table)


def _copy_out(query: str, output: str, table: str | None) -> str:
    """Run `query` (over spooled Parquet) on a fresh DuckDB in UTC into the destination."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        return write_query(con, query, output, table)
    finally:
        con.close()


def _require_trained_columns(log: EventLog, bundle: _Bundle) -> None:
    """The log must hold every canonical column the training log had. The canonical table has
    all of them, empty where unmapped, so a log without sessions would otherwise score with zero
    sessions, views and products for everyone, and the model would read that as inactivity."""
    lacking = sorted(set(bundle.spec.available) - set(log.available))
    if lacking:
        layout = bundle.manifest.get("source", {}).get("layout", "")
        raise DataError(
            f"{log.source_name} has no column for {', '.join(lacking)}, which the log this model "
            f"was trained on had{f' (layout {layout!r})' if layout else ''}: every feature built "
            f"from them would read as no activity. Map them in [source.columns], or train a model "
            f"on this source."
        )


def _scoring_time(log: EventLog, cutoff: str | None) -> dt.datetime:
    end = observed_end(log.end)
    when = parse_date(cutoff, "--cutoff") if cutoff else end
    if when > end:
        raise DataError(
            f"Scoring cutoff {moment_text(when)} is after the data, whose last event is on "
            f"{log.end:%Y-%m-%d}: the days in between would read as days without activity for "
            f"every customer and lower every probability. Leave --cutoff out to score at the end "
            f"of the data ({end:%Y-%m-%d}), or score a source that reaches the cutoff."
        )
    if when <= log.start:
        raise DataError(
            f"Scoring cutoff {moment_text(when)} is not after the data's first event "
            f"({moment_text(log.start)}): features need events before the cutoff. Choose a date "
            f"after {log.start:%Y-%m-%d}, up to {end:%Y-%m-%d}."
        )
    return when


def _feature_batches(log: EventLog, bundle: _Bundle, when: dt.datetime,
                     chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """Every customer with history before `when`, flagged when in the problem's population;
    file by file when the source is partitioned by customer (each file's population is its
    customers')."""
    ids = []
    for table, feats in zip(log.parts or (log.table,), feature_tables(log, when, bundle.spec)):
        pop = population_table(table, when, bundle.problem).mutate(**{IN_POPULATION: ibis.literal(True)})
        joined = feats.left_join(pop, "customer_id").drop("customer_id_right")
        for batch in arrow_batches(log.con, joined, chunk_rows):
            if log.parts:
                ids.append(batch.column("customer_id"))
            yield batch
    if ids:
        check_one_file_per_customer(pa.chunked_array(ids).to_pandas(), log.source_name)


def score_to(cfg: Config, bundle_dir: Path, output: str, table: str | None = None,
             cutoff: str | None = None, log: EventLog | None = None,
             chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None,
             reasons: bool = True, keep: Sequence[str] = ()) -> "ScoreRun":
    """Score every customer in the problem's population at the cutoff (default: the end of the
    data) and write customer_id, probability, rank, decile, cutoff (value, segment, action,
    reason_1..3, and the features named in `keep`) to `output`; returns where, how many rows,
    the cutoff, and how the customers compare with the model's test population."""
    output_kind(output)  # a bad destination fails before any work
    set_model_threads(cfg.engine.threads)
    bundle = _Bundle(bundle_dir, reasons=reasons)
    log = log or load_events(cfg)
    _require_trained_columns(log, bundle)
    when = _scoring_time(log, cutoff)
    if keep:
        bundle.keep = kept_columns(keep, _scored_features(log, bundle, when), "the features at the cutoff")
    c = score_cutoff(when, bundle.problem.horizon_days)
    tmp = Path(tempfile.mkdtemp(prefix="winback-score-"))
    try:
        # pass 1: features of every customer to disk; BG/NBD inputs of every buyer in memory
        features_path = tmp / "features.parquet"
        writer = None
        bg_parts: list[np.ndarray] = []
        gg_parts: list[np.ndarray] = []
        seen = 0
        for batch in _feature_batches(log, bundle, when, chunk_rows):
            seen += batch.num_rows
            if bundle.spec.bgnbd:
                bg_parts.append(np.column_stack([batch.column(n).to_numpy(zero_copy_only=False)
                                                 for n in ("purchase_days", "purchase_tenure_days",
                                                           "purchase_recency_days")]).astype(float))
            keep = batch.filter(pa.compute.fill_null(batch.column(IN_POPULATION), False))
            if "avg_order_value" in keep.schema.names:
                gg_parts.append(np.column_stack([keep.column(n).to_numpy(zero_copy_only=False)
                                                 for n in ("n_orders", "avg_order_value")]).astype(float))
            if writer is None:
                writer = pq.ParquetWriter(features_path, keep.schema)
            writer.write_batch(keep)
            if progress:
                progress(f"{seen:,} customers' features computed")
        if writer is None:
            raise DataError(f"No customer has events before {when:%Y-%m-%d}.")
        writer.close()
        bgnbd = _fit_bgnbd(np.vstack(bg_parts)) if bg_parts else None
        gamma_gamma = GammaGamma.fit_or_none(*np.vstack(gg_parts).T) if gg_parts else None
        # pass 2: model rows chunk by chunk -> scored spool
        spool = _Spool(tmp)
        drift = bundle.drift_counter(when)
        for batch in pq.ParquetFile(features_path).iter_batches(batch_size=chunk_rows):
            frame = finish_frame(batch.to_pandas().drop(columns=[IN_POPULATION]), c, bundle.spec, bgnbd)
            scored = bundle.scored(frame, gamma_gamma)
            if drift is not None:
                drift.add(frame, scored["probability"].to_numpy())
            spool.add(scored)
            if progress:
                progress(f"{spool.rows:,} customers scored")
        if spool.rows == 0:
            raise DataError(f"No customer qualifies for '{bundle.problem.name}' at {when:%Y-%m-%d}.")
        where = spool.write(output, table, bundle.decision)
        return ScoreRun(where, spool.rows, when, drift.result() if drift is not None else None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _scored_features(log: EventLog, bundle: _Bundle, when: dt.datetime) -> list[str]:
    """The features each scored row holds, from the feature expression's schema (nothing is
    computed), the label window and BG/NBD's."""
    names = [n for n in feature_tables(log, when, bundle.spec)[0].schema().names if n != "customer_id"]
    return names + ["label_window_days"] + (list(BGNBD_FEATURES) if bundle.spec.bgnbd else [])


def _fit_bgnbd(summary: np.ndarray) -> BGNBD | None:
    """The population's BG/NBD at the cutoff, from (purchase_days, tenure, recency) per customer."""
    return fit_population_bgnbd(pd.DataFrame(summary, columns=["purchase_days", "purchase_tenure_days",
                                                               "purchase_recency_days"]))


def score_features_to(bundle_dir: Path, features: Path, output: str, table: str | None = None,
                      chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None,
                      reasons: bool = True, keep: Sequence[str] = ()) -> "ScoreRun":
    """Score a Parquet or CSV file (or folder / glob of files) of ready features: customer_id plus
    the bundle's feature columns. Segments use the bundle's stored population fits."""
    output_kind(output)
    bundle = _Bundle(bundle_dir, ready_features=True, reasons=reasons)
    dataset = _ready_features(features, bundle.columns)
    names = set(dataset.schema.names)
    if "customer_id" not in names:
        raise DataError(f"'{features}' has no customer_id column.")
    bundle.keep = kept_columns(keep, dataset.schema.names, f"'{features}'")
    needed = ["customer_id", *bundle.inputs, *(value_inputs(bundle.rule) if bundle.rule is not None else [])]
    if bundle.model.name == "bgnbd":
        needed += [c for c in ("label_window_days",) if c in names]
    missing = [c for c in dict.fromkeys(needed) if c not in names]
    if missing:
        from winback.errors import did_you_mean

        whose = "the model needs" if missing[0] in bundle.inputs else "the segments' value axis reads"
        raise DataError(f"'{features}' lacks {len(missing)} feature(s) {whose}, e.g. "
                        f"'{missing[0]}'.{did_you_mean(missing[0], names)}")
    not_numbers = [f"'{c}' ({dataset.schema.field(c).type})" for c in dict.fromkeys(needed[1:])
                   if not _is_number_type(dataset.schema.field(c).type)]
    if not_numbers:
        raise DataError(f"'{features}': features must be numbers (or null), but "
                        f"{', '.join(not_numbers[:5])}{' ...' if len(not_numbers) > 5 else ''} "
                        f"{'is' if len(not_numbers) == 1 else 'are'} not. Cast them to numbers "
                        f"where they are computed.")
    gamma_gamma = bundle.stored_gamma_gamma()
    total = dataset.count_rows()
    tmp = Path(tempfile.mkdtemp(prefix="winback-score-"))
    try:
        spool = _Spool(tmp)
        drift = bundle.drift_counter()
        for batch in _batches(dataset, list(dict.fromkeys(needed + bundle.keep)), chunk_rows, features):
            frame = batch.to_pandas()
            _refuse_infinite_features(frame, list(dict.fromkeys(needed[1:])), features)
            if bundle.model.name == "bgnbd" and "label_window_days" not in frame.columns:
                frame["label_window_days"] = bundle.problem.horizon_days
            scored = bundle.scored(frame, gamma_gamma)
            if drift is not None:
                drift.add(frame, scored["probability"].to_numpy())
            spool.add(scored)
            if progress:
                progress(f"{spool.rows:,}/{total:,} customers scored")
        _refuse_repeated_customers(spool, features)
        return ScoreRun(spool.write(output, table, bundle.decision), spool.rows, None,
                        drift.result() if drift is not None else None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")


def _ready_features(features: Path, columns: list[str]):
    """A pyarrow dataset over a Parquet or CSV file, a folder of them, or a glob. CSV ids are
    read as text (00042 stays 00042) and the model's columns as numbers, so that a column empty
    in the first rows is not typed null and a stray word is an error naming it."""
    import glob

    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    text = str(features)
    if glob.has_magic(text):
        files: list[str] | str = sorted(glob.glob(text))
        if not files:
            raise DataError(f"No file matches the ready features '{features}'.")
        names = list(files)
    elif Path(text).is_dir():
        files = text
        names = [p.name for p in Path(text).iterdir() if not p.name.startswith((".", "_"))]
    else:
        files, names = text, [text]
    if names and all(n.lower().endswith(CSV_SUFFIXES) for n in names):
        delimiter = "\t" if all(n.lower().endswith(".tsv") for n in names) else ","
        fmt = ds.CsvFileFormat(
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={"customer_id": pa.string(), **{c: pa.float64() for c in columns}}))
    else:
        fmt = ds.ParquetFileFormat()
    try:
        return ds.dataset(files, format=fmt)
    except (FileNotFoundError, pa.ArrowInvalid) as exc:
        if "conversion error" in str(exc):  # the first CSV block is read to find the columns
            raise DataError(f"'{features}': features must be numbers (or empty): {exc}") from exc
        raise DataError(f"Cannot read ready features from '{features}' (Parquet or CSV): {exc}") from exc


def _batches(dataset, columns: list[str], chunk_rows: int, features: Path) -> Iterator[pa.RecordBatch]:
    """The dataset's record batches; a CSV value that is not a number fails here, mid-read."""
    batches = dataset.to_batches(columns=columns, batch_size=chunk_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise DataError(f"'{features}': features must be numbers (or empty): {exc}") from exc
        yield batch


def _refuse_infinite_features(frame: pd.DataFrame, columns: list[str], features: Path) -> None:
    """An infinite feature gives no probability (NaN) yet a rank and a segment: an error instead."""
    values = frame[columns].to_numpy(dtype=float)
    rows, cols = np.nonzero(np.isinf(values))
    if len(rows):
        ids = ", ".join(repr(str(v)) for v in frame["customer_id"].iloc[np.unique(rows)[:5]])
        names = ", ".join(f"'{columns[j]}'" for j in np.unique(cols)[:5])
        raise DataError(f"'{features}': infinite feature values for customer(s) {ids} in {names}. "
                        f"Features must be finite numbers, or null where unknown.")


def _is_number_type(t: pa.DataType) -> bool:
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t) or pa.types.is_null(t))


def _refuse_repeated_customers(spool: _Spool, features: Path) -> None:
    """Ready features come from elsewhere and may hold a customer twice (a join that fanned
    out, files that overlap); a scored table with repeated ids would rank them twice and break
    the joins it feeds, so that is an error naming some of them."""
    spool.close()
    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT customer_id, count(*) FROM {_read_parquet(spool.path)} "
                           f"GROUP BY customer_id HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT 5").fetchall()
        if rows:
            n = con.execute(f"SELECT count(*) - count(DISTINCT customer_id) FROM "
                            f"{_read_parquet(spool.path)}").fetchone()[0]
    finally:
        con.close()
    if rows:
        shown = ", ".join(f"'{cid}' ({k} rows)" for cid, k in rows)
        raise DataError(f"'{features}' holds {n:,} repeated row(s) of customers already in it, e.g. "
                        f"{shown}: ready features need one row per customer.")


def score(cfg: Config, bundle_dir: Path, cutoff: str | None = None,
          log: EventLog | None = None, reasons: bool = True, keep: Sequence[str] = ()) -> pd.DataFrame:
    """The scores as a DataFrame (customer_id, probability, rank, decile, cutoff, ...), ranked;
    the same streaming path as `winback score`, through a temporary Parquet file."""
    tmp = Path(tempfile.mkdtemp(prefix="winback-scores-"))
    try:
        run = score_to(cfg, bundle_dir, str(tmp / "scores.parquet"), cutoff=cutoff, log=log,
                       reasons=reasons, keep=keep)
        out = pd.read_parquet(tmp / "scores.parquet")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["cutoff"] = pd.to_datetime(out["cutoff"]).astype("datetime64[us]")
    # the customers against the test population (winback.drift.drift_from_dict reads it back)
    out.attrs["drift"] = run.drift.as_dict() if run.drift is not None else None
    return out


def write_frame(frame: pd.DataFrame, output: str, table: str | None = None) -> str:
    """A scored DataFrame (customer tables, next-event sessions) to any destination."""
    output_kind(output)
    tmp = Path(tempfile.mkdtemp(prefix="winback-scores-"))
    try:
        path = tmp / "frame.parquet"
        frame.to_parquet(path, index=False)
        return _copy_out(f"SELECT * FROM {_read_parquet(path)}", output, table)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_scores(scores: pd.DataFrame, path: Path) -> Path:
    """Kept for callers that hold scores in memory: a .parquet or .csv file, atomically."""
    return Path(write_frame(scores, str(path)))


__all__ = ["score", "score_to", "score_features_to", "write_frame", "write_scores"]
