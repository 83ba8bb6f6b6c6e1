"""One object for a winback project, for notebooks and pipelines.

A project is a config (`winback.toml`, a bundled dataset's, or one built in code) plus the
steps the command line runs on it. Which pipeline a step takes (event log, customer table,
next event in a session) follows from the config, so a caller writes the same three lines for
any of them, and the command line dispatches through the same code.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from winback.bundle import write_atomic_file
from winback.config import Config, check_problem_name, load_config, validate_config
from winback.errors import ConfigError, DataError, WinbackError, did_you_mean
from winback.progress import Steps

EVENT_LOG, CUSTOMER_TABLE, NEXT_EVENT = "event_log", "customer_table", "next_event"
# the first line of a winback.toml that Project.from_frame wrote, and may write again
FRAME_MARK = "# written by winback.Project.from_frame"
OUTPUT_SECTION = '[output]\ndir = "winback-out"\n'
PROBLEM_LINE = re.compile(r'^name = "[a-z_]+"', re.M)  # the first: [problem] comes before any other name


def _joined_frames(join: Sequence[Any] | Mapping[str, Any], main: str) -> dict[str, Any]:
    """`from_frame`'s other tables by the file each is written to: a mapping's names (a file
    name of letters, digits, '-' and '_'), or table_2, table_3 ... for a list."""
    if isinstance(join, Mapping):
        files = {}
        for name, frame in join.items():
            stem = str(name).removesuffix(".parquet")
            if not re.fullmatch(r"[\w-]+", stem):
                raise ConfigError(f"join: '{name}' cannot name a file; use letters, digits, '-' and '_' "
                                  f"(e.g. 'market_money').")
            files[f"{stem}.parquet"] = frame
    elif isinstance(join, (list, tuple)):
        files = {f"table_{i}.parquet": frame for i, frame in enumerate(join, start=2)}
    else:
        raise ConfigError(f"join takes a list of frames or a dict of them keyed by name, not "
                          f"{type(join).__name__}.")
    if main in files:
        raise ConfigError(f"join: '{main.removesuffix('.parquet')}' is the main table's own name; name the "
                          f"joined table otherwise.")
    if not files:
        raise ConfigError("join is empty: give the other tables' frames, or leave join out.")
    return files


@dataclass(frozen=True)
class Written:
    """Where `Project.score_to` wrote, how many rows, the event-log cutoff scored at, the
    scores themselves when they were built in memory (customer tables, sessions), and how the
    customers scored compare with the model's test population (winback.drift.Drift; None for
    sessions and for bundles trained before winback kept it)."""

    where: str
    rows: int
    cutoff: dt.datetime | None
    frame: pd.DataFrame | None
    drift: Any = None


class Project:
    """A winback project: `validate`, `train`, `score`, `score_to` and `app`.

    >>> project = Project.from_dataset("cdnow", output_dir="out")
    >>> result = project.train()            # leaderboard, bundle, report under out/
    >>> scores = project.score()            # DataFrame: customer_id, probability, rank, ...
    """

    def __init__(self, config: Config):
        validate_config(config)
        self.config = config
        self.setup_notes: list[str] = []

    @classmethod
    def from_toml(cls, path: str | Path) -> "Project":
        return cls(load_config(path))

    @classmethod
    def from_dataset(cls, name: str, output_dir: str | Path = "winback-out") -> "Project":
        """A bundled dataset (cdnow, cdnow_sample, oneclick, audiobooks) with its ready config."""
        from winback.datasets import dataset_config

        return cls(dataset_config(name, output_dir=str(Path(output_dir).resolve())))

    @classmethod
    def from_frame(cls, frame: Any, *, output_dir: str | Path = "winback-out", table: bool = False,
                   layout: str | None = None, columns: dict[str, str] | None = None, key: str | None = None,
                   label: str | None = None, problem: str | None = None, quiet: bool = False,
                   join: Sequence[Any] | Mapping[str, Any] | None = None) -> "Project":
        """A DataFrame already in a notebook (pandas or polars, or a pyarrow Table): events
        or orders (one row each), or with `table=True` one row per customer. It is written once as Parquet to
        `output_dir/input/`, and set up as `winback init` sets up a file (the layout recognised
        by its columns, columns mapped by name, the horizon fitted to its time span; a table's
        key, label and value column read off it, or the `key` and `label` named; an event
        log's `columns` map winback's names to the frame's, {"customer_id": "who"}, and the
        rest are guessed around them; `problem` names what to predict, else repeat_purchase,
        or activity_decline for a table whose label is a loss), with that config in
        `output_dir/winback.toml`
        so the same project runs from the command line (`winback train --config ...`). What was
        guessed, to check, is in `.setup_notes`, and printed unless `quiet`. Calling it again on
        the same `output_dir` writes both again; a winback.toml written otherwise is never
        overwritten.

        `join` (with `table=True`) adds the project's other tables, as `init --join` does:
        frames keyed by a name (written as `input/<name>.parquet`) or listed (`input/table_2...`),
        each joined on the key as it is, or pivoted by its period column when it holds a row per
        customer and period (One Click's revenue and minutes per month)."""
        from winback.data.frames import frame_to_parquet
        from winback.scaffold import customer_table_note, scaffold_for

        if problem is not None:
            check_problem_name(problem)
        out = Path(output_dir).expanduser().resolve()
        if out.exists() and not out.is_dir():
            raise ConfigError(f"output_dir '{out}' is a file, not a folder.")
        toml = out / "winback.toml"
        if toml.exists() and not toml.read_text(encoding="utf-8", errors="replace").startswith(FRAME_MARK):
            raise ConfigError(f"'{toml}' exists and was not written by Project.from_frame, so it is left as "
                              f"it is: choose another output_dir, or Project.from_toml('{toml}') to use it.")
        name = "customers.parquet" if table else "events.parquet"
        joined = _joined_frames(join, name) if join is not None else {}
        if joined and not table:
            raise ConfigError("Joined tables (join=) are for customer tables (table=True); an event log "
                              "is one frame.")
        notes = frame_to_parquet(frame, out / "input" / name)
        table_note = ""
        if not table and layout is None and not columns:  # one row per customer: a table, as init reads it
            table_note = customer_table_note(f"input/{name}", out, shown="the DataFrame",
                                             otherwise='layout="events"')
            if table_note:
                table, name = True, "customers.parquet"
                (out / "input" / "events.parquet").replace(out / "input" / name)
        for other, one in joined.items():
            notes += [f"{other}: {n}" for n in frame_to_parquet(one, out / "input" / other)]
        scaffold, _ = scaffold_for(f"input/{name}", out, table=table, layout=layout, columns=columns,
                                   key=key, label=label, joins=[f"input/{n}" for n in joined] or None)
        if OUTPUT_SECTION not in scaffold.text:
            raise AssertionError("the init template's [output] section changed")
        text = (f"{FRAME_MARK} from a DataFrame of {len(frame):,} rows.\n"
                + scaffold.text.replace(OUTPUT_SECTION, '[output]\ndir = "."                      '
                                        '# this folder: bundle/, report.html\n'))
        if problem:
            text = PROBLEM_LINE.sub(f'name = "{problem}"', text, count=1)
        write_atomic_file(toml, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        project = cls.from_toml(toml)
        written = ", ".join(str(out / "input" / n) for n in [name, *joined])
        project.setup_notes = [*(f"DataFrame: {n}." for n in notes), *([table_note] if table_note else []),
                               *scaffold.notes,
                               f"Wrote {toml} and {written}."]
        if not quiet:
            console = Steps().console
            for note in project.setup_notes:
                console.print(note)
        return project

    @property
    def kind(self) -> str:
        """'event_log', 'customer_table' or 'next_event': which pipeline the steps take."""
        if self.config.problem.name == NEXT_EVENT:
            return NEXT_EVENT
        return CUSTOMER_TABLE if self.config.is_table else EVENT_LOG

    @property
    def bundle_dir(self) -> Path:
        """Where `train` writes the model bundle, and what `score` reads by default."""
        return self.config.resolve(self.config.output.dir) / "bundle"

    def validate(self, frame: Any = None) -> dict[str, Any]:
        """Read and check the source, or `frame` in its place (new customers or events, read
        with this project's settings); the summary `winback validate` prints. Raises a
        DataError or ConfigError naming the problem."""
        if frame is not None:
            with self._reading(frame) as (project, notes):
                summary = project.validate()
            return {**summary, "notes": notes + list(summary.get("notes", []))}
        if self.kind == CUSTOMER_TABLE:
            from winback.data.tables import LABEL, load_customer_table

            from winback.bundle import read_manifest
            from winback.score_table import scorable_table

            scorer = ((self.bundle_dir / "manifest.json").exists()
                      and read_manifest(self.bundle_dir).get("kind") == CUSTOMER_TABLE)
            try:
                table = load_customer_table(self.config, label_optional=True)
            except DataError as exc:
                if not scorer:
                    raise
                # a file the model's formats read (dates whose days are all 12 or under, in
                # the training file's order): `score` reads it, `train` would stop on it
                read = scorable_table(self.config, self.bundle_dir)
                return self._table_summary(read.table, read.notes + [
                    f"the project's model ({self.bundle_dir}) can score them, reading them as its "
                    f"training file was read; on its own the file does not read ({exc}), so "
                    f"`winback train` would stop on it"], labelled=False)
            labelled = LABEL in table.frame.columns
            notes = list(table.notes)
            if not labelled and scorer:
                # customers to score, and the project's model to score them: read them as it
                # will, so that what would stop or mislead `score` is said now
                read = scorable_table(self.config, self.bundle_dir)
                table = read.table  # typed as the model reads it (its codes stay categories)
                notes = read.notes + [f"the project's model ({self.bundle_dir}) can score them"]
            return self._table_summary(table, notes, labelled)
        from winback.data.canonical import load_events, log_notes
        from winback.data.layouts import LAYOUTS, event_types_advice

        log = load_events(self.config, materialize=False)  # read once; no copy to keep
        advice = (event_types_advice(log.summary["event_types"], log.summary["event_type_column"])
                  if "event_type" in log.available and not LAYOUTS[self.config.source.layout].names_event_types
                  else "")
        attributes = ""
        if self.config.features.attributes:
            from winback.features.attributes import attributes_note

            # as training counts the levels: the customers before the test cutoff
            from winback.labels import plan_cutoffs

            try:
                before = plan_cutoffs(self.config.problem, log.start, log.end).test.time
            except WinbackError:  # a log too short for the problem: train says why
                before = log.end + dt.timedelta(seconds=1)
            attributes = attributes_note(log.table, before, self.config.features.attributes)
        return {**log.summary, "source": log.source_name, "event_types_advice": advice,
                **log_notes(log.table, log.summary), "attributes": attributes}

    @staticmethod
    def _table_summary(table, notes: list[str], labelled: bool) -> dict[str, Any]:
        from winback.data.tables import LABEL

        return {"customers": len(table.frame), "numeric": list(table.numeric),
                "categorical": list(table.categorical),
                "positive_rate": float(table.frame[LABEL].mean()) if labelled else None,
                "notes": notes, "warnings": list(table.warnings)}

    def train(self, *, steps: Steps | None = None, report: bool = True, verbose: bool = False):
        """Train, compare and write the bundle (and report) under output.dir. Returns the
        pipeline's result: `.leaderboard`, `.best`, `.bundle_dir`, `.report_path`, `.manifest`.
        Quiet but for warnings unless `verbose`, which shows each step's progress and time as
        `winback train` does (minutes of tuning on a customer table are otherwise silent)."""
        steps = steps or Steps(quiet=not verbose)
        if self.kind == CUSTOMER_TABLE:
            from winback.train_table import train_table

            return train_table(self.config, steps=steps, report=report)
        if self.kind == NEXT_EVENT:
            from winback.nextevent.pipeline import train_next_event

            return train_next_event(self.config, steps=steps, report=report)
        from winback.train import train

        return train(self.config, steps=steps, report=report)

    def backtest(self, *, folds: int = 4, step_days: int | None = None, steps: Steps | None = None,
                 verbose: bool = False):
        """Train and measure at `folds` test cutoffs, `step_days` apart (default: the cutoff
        step), the latest the one `train` uses: each candidate's test metrics per fold, which
        one validation chose, and their mean and spread, written to `<output.dir>/backtest.json`.
        Event logs' customer problems only."""
        from winback.backtest import backtest

        return backtest(self.config, folds=folds, step_days=step_days, steps=steps or Steps(quiet=not verbose))

    def outcomes(self, scores: str | Path, *, bundle: str | Path | None = None,
                 cutoff: str | None = None, table: str | None = None, write: bool = True,
                 frame: Any = None):
        """What the customers in a scores file (`score_to`'s; or `table` of a DuckDB file or
        PostgreSQL URL) did in the horizon after their cutoff, against their scores: realized
        ROC-AUC beside the model's test figure, expected against actual outcomes per decile and
        segment, how the flagged customers did. An event log's customers need the log to reach
        the end of that horizon (written to `<output.dir>/outcomes-<cutoff>.json`); a customer
        table's are measured on the table's label column as it reads now (`outcomes.json`).
        `frame` stands in for the project's source, as in `score`: the log as it is now, or the
        table with the outcomes filled in."""
        from winback.outcomes import outcomes

        if self.kind not in (EVENT_LOG, CUSTOMER_TABLE):
            raise ConfigError("Outcomes are measured for the customers of an event log or a customer "
                              "table; this project is a next-event model.")
        bundle_dir = Path(bundle) if bundle else self.bundle_dir
        if frame is not None:
            with self._reading(frame) as (project, notes):
                return outcomes(project.config, scores, bundle_dir, cutoff=cutoff, table=table,
                                write=write, notes=notes)
        return outcomes(self.config, scores, bundle_dir, cutoff=cutoff, table=table, write=write)

    def score(self, bundle: str | Path | None = None, *, cutoff: str | None = None,
              reasons: bool = True, progress: Callable[[str], None] | None = None,
              frame: Any = None, keep: Sequence[str] = ()) -> pd.DataFrame:
        """Scores as a DataFrame: customers of an event log at `cutoff` (default: the end of the
        data) or every row of a customer table (with their top `reasons`; what loading noticed,
        such as categories the model never saw, in `.attrs["notes"]`, and how the customers
        compare with the model's test population in `.attrs["drift"]`, which
        `winback.drift.drift_from_dict` reads), or the live sessions of
        a next-event log. `frame` stands in for the project's source: new customers, or the
        log as it is today, read with the project's settings (what `--input` does); for a
        project of several tables, a list of frames in `[[table.sources]]` order or a dict
        keyed by their paths. `keep` names features (event logs) or the table's columns
        (customer tables) to copy beside each score, e.g. `["recency_days", "spend"]`."""
        bundle_dir = Path(bundle) if bundle else self.bundle_dir
        if frame is not None:
            with self._reading(frame) as (project, notes):
                scores = project.score(bundle_dir, cutoff=cutoff, reasons=reasons, progress=progress,
                                       keep=keep)
            if notes:
                scores.attrs["notes"] = notes + list(scores.attrs.get("notes", []))
            return scores
        if self.kind == CUSTOMER_TABLE:
            from winback.score_table import score_table

            self._no_cutoff(cutoff)
            return score_table(self.config, bundle_dir, reasons=reasons, progress=progress, keep=keep)
        if self.kind == NEXT_EVENT:
            from winback.nextevent.pipeline import score_next_event

            if keep:
                raise ConfigError("--keep applies to customers' scores, not to live sessions.")
            return score_next_event(self.config, bundle_dir, cutoff=cutoff)
        from winback.score import score

        return score(self.config, bundle_dir, cutoff=cutoff, reasons=reasons, keep=keep)

    def score_to(self, output: str, *, table: str | None = None, bundle: str | Path | None = None,
                 cutoff: str | None = None, reasons: bool = True,
                 progress: Callable[[str], None] | None = None, frame: Any = None,
                 keep: Sequence[str] = ()) -> "Written":
        """Write scores to a .parquet / .csv file, a DuckDB file or a PostgreSQL URL (`table`
        naming the table). Event logs stream, so their scores never sit in memory whole; the
        other pipelines keep their frame in the result. `frame` is scored in place of the
        project's source, as in `score`."""
        from winback.score import write_frame
        from winback.sinks import describe_output

        describe_output(output, table)  # a bad destination fails before any work
        bundle_dir = Path(bundle) if bundle else self.bundle_dir
        if frame is not None:
            with self._reading(frame) as (project, _):
                return project.score_to(output, table=table, bundle=bundle_dir, cutoff=cutoff,
                                        reasons=reasons, progress=progress, keep=keep)
        if self.kind == EVENT_LOG:
            from winback.score import score_to

            run = score_to(self.config, bundle_dir, output, table, cutoff=cutoff,
                           progress=progress, reasons=reasons, keep=keep)
            return Written(run.where, run.rows, run.cutoff, None, run.drift)
        frame = self.score(bundle_dir, cutoff=cutoff, reasons=reasons, progress=progress, keep=keep)
        from winback.drift import drift_from_dict

        return Written(write_frame(frame, output, table), len(frame), None, frame,
                       drift_from_dict(frame.attrs.get("drift")))

    def app(self, bundle: str | Path | None = None):
        """The HTTP service (FastAPI) for this project's bundle, as `winback serve` runs it; hand
        it to any ASGI server, or to FastAPI's TestClient."""
        from winback.serving.app import create_app

        return create_app([Path(bundle) if bundle else self.bundle_dir])

    @contextmanager
    def _reading(self, frame: Any) -> Iterator[tuple["Project", list[str]]]:
        """This project reading `frame` (written to a temporary Parquet file, removed after)
        instead of its source, and what writing it changed, as notes. A project of several
        tables takes one frame per `[[table.sources]]`: a list in their order, or a dict keyed
        by each source's path as the config writes it."""
        from winback.data.frames import frame_to_parquet

        frames = self._frames_per_source(frame)
        with tempfile.TemporaryDirectory(prefix="winback-frame-") as folder:
            paths, notes = [], []
            for i, (name, one) in enumerate(frames):
                path = Path(folder) / f"input{i}.parquet"
                what = f"The DataFrame for {name}" if name else "The DataFrame to read"
                notes += [f"DataFrame{f' ({name})' if name else ''}: {n}"
                          for n in frame_to_parquet(one, path, what)]
                paths.append(str(path))
            config = copy.deepcopy(self.config)
            config.read_from(paths)
            yield Project(config), notes

    def _frames_per_source(self, frame: Any) -> list[tuple[str, Any]]:
        """(source name, frame) per source read: the frame itself for an event log or a single
        table (no name), or the frames of a list or dict, checked against `[[table.sources]]`."""
        sources = [s.path for s in self.config.table.sources] if self.config.is_table else []
        if len(sources) <= 1:
            if isinstance(frame, (list, tuple, dict)):
                raise ConfigError(f"This project reads one {'table' if sources else 'event log'}: "
                                  f"pass one DataFrame, not a {type(frame).__name__} of them.")
            return [("", frame)]
        listed = ", ".join(f"{i}. '{p}'" for i, p in enumerate(sources, 1))
        if isinstance(frame, dict):
            unknown = [k for k in frame if k not in sources]
            if unknown:
                raise ConfigError(f"No [[table.sources]] entry is '{unknown[0]}'."
                                  f"{did_you_mean(str(unknown[0]), sources)} The keys are the sources' "
                                  f"paths as the config writes them: {listed}.")
            missing = [p for p in sources if p not in frame]
            if missing:
                raise ConfigError(f"No DataFrame for '{missing[0]}': this project reads "
                                  f"{len(sources)} tables ({listed}), and each needs one.")
            return [(p, frame[p]) for p in sources]
        if isinstance(frame, (list, tuple)):
            if len(frame) != len(sources):
                raise ConfigError(f"{len(frame)} DataFrame(s) for {len(sources)} tables: this project "
                                  f"reads {listed}; pass one per table, in that order, or a dict "
                                  f"keyed by those paths.")
            return list(zip(sources, frame))
        raise ConfigError(f"This project reads {len(sources)} tables ({listed}): pass a list of "
                          f"{len(sources)} DataFrames in that order, or a dict keyed by those paths.")

    @staticmethod
    def _no_cutoff(cutoff: str | None) -> None:
        if cutoff:
            from winback.errors import ConfigError

            raise ConfigError("A cutoff applies to event logs; a customer table is scored as it is.")

    def __repr__(self) -> str:
        where = self.config.source.path or ", ".join(s.path for s in self.config.table.sources)
        return f"Project({self.kind}, {self.config.problem.name}, {where!r})"
