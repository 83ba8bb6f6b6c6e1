"""`winback` command line: init, validate, train, score, serve, demo."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from winback import __version__
from winback.extras import version_text
from winback.config import moment_text
from winback.datasets import DATASETS
from winback.data.sources import damaged_text, is_read_failure
from winback.errors import WinbackError

console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True)

def _leaderboard(board, kind: str = "event_log") -> Table:
    """A leaderboard as a console table, the columns of its kind (as a result shows them in a
    notebook), numbers rounded, the first row (the chosen model) in bold."""
    from winback.results import board_view, cell

    view = board_view(board, kind)
    columns = [c for c in view.columns if c in board.columns]
    t = Table(title=view.title)
    for c in columns:
        t.add_column(view.header(c), justify="left" if c in view.text else "right")
    for i, (_, r) in enumerate(board.iterrows()):
        t.add_row(*[cell(r[c], c, view) for c in columns], style="bold" if i == 0 else None)
    return t


def _config(args):
    from winback.config import load_config, validate_config
    from winback.datasets import dataset_config

    if getattr(args, "dataset", None):
        cfg = dataset_config(args.dataset, output_dir=str(Path(args.out or "winback-out").resolve()))
    else:
        cfg = load_config(args.config)
        if getattr(args, "out", None):
            cfg.output.dir = str(Path(args.out).resolve())
    if getattr(args, "input", None):
        cfg.read_from(args.input)
    if getattr(args, "trials", None) is not None:  # every candidate's, per-candidate budgets too
        cfg.train.trials = args.trials
        cfg.train.trials_by_candidate = {}
    if getattr(args, "timeout", None) is not None:
        cfg.train.timeout_s = args.timeout
    if getattr(args, "backtest", None) is not None:
        cfg.train.backtest_folds = args.backtest
    validate_config(cfg)
    return cfg


def _mapping(text: str) -> tuple[str, str]:
    name, sep, column = text.partition("=")
    if not sep or not name.strip() or not column.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=COLUMN (such as customer_id=who)")
    return name.strip(), column.strip()


def cmd_init(args) -> int:
    from winback.scaffold import scaffold_for

    if args.source and args.path and args.source != args.path:
        raise WinbackError(f"Two sources: '{args.source}' and --path '{args.path}'. Give one; a "
                           "customer table's other tables go in --join.")
    path = args.source or args.path or "data/events.csv"
    target = Path(args.config)
    if target.exists() and not args.force:
        raise WinbackError(f"'{target}' exists; use --force to overwrite it.")
    scaffold, next_step = scaffold_for(path, target.parent, table=args.table, layout=args.layout,
                                       status=console.status, columns=dict(args.column), key=args.key,
                                       label=args.label, joins=args.join)
    target.write_text(scaffold.text)
    for note in scaffold.notes:
        console.print(note)
    console.print(f"Wrote {target}. {next_step}")
    return 0


def cmd_validate(args) -> int:
    from winback.data.canonical import EVENT_NOTES, SUMMARY_NOTES
    from winback.project import CUSTOMER_TABLE, Project

    project = Project(_config(args))
    s = project.validate()
    if project.kind == CUSTOMER_TABLE:
        console.print(f"[green]OK[/] {s['customers']:,} customers, {len(s['numeric'])} numeric and "
                      f"{len(s['categorical'])} categorical columns"
                      + (f", {100 * s['positive_rate']:.1f} % positive" if s["positive_rate"] is not None else "")
                      + "".join(f"; {escape(n)}" for n in s["notes"]) + ".")
        for warning in s["warnings"]:
            console.print(f"[yellow]warning:[/] {escape(warning)}")
        return 0
    console.print(f"[green]OK[/] {s['source']}: {s['rows']:,} events of {s['customers']:,} customers, "
                  f"{s['first_event']:%Y-%m-%d} to {s['last_event']:%Y-%m-%d}; event types "
                  + ", ".join(f"{k} {v:,}" for k, v in s["event_types"].items())
                  + f"; {s['duplicate_rows']:,} duplicated rows (policy {s['duplicates_policy']})"
                  + (f"; {s['dropped_without_customer']:,} rows without a customer id dropped"
                     if s.get("dropped_without_customer") else "")
                  + (f"; {s['dropped_negative_amounts']:,} purchases with a negative amount dropped"
                     if s.get("dropped_negative_amounts") else "") + ".")
    for note in (s.get(key) for key in (*SUMMARY_NOTES, *EVENT_NOTES)):
        if note:
            console.print("[yellow]note:[/] " + escape(note))
    if s.get("attributes"):
        console.print(escape(s["attributes"]) + ".")
    if s["event_types_advice"]:
        console.print("[yellow]note:[/] features and labels read winback's event types (view, cart, "
                      "remove_from_cart, purchase, return); these look like them but are not "
                      "mapped. Add to winback.toml:\n" + escape(s["event_types_advice"]))
    return 0


def _track(args, cfg, result) -> None:
    """Log the run to MLflow unless turned off; a tracking failure never loses the bundle."""
    if args.no_track or not cfg.tracking.enabled:
        return
    from winback.tracking import log_run

    project = Path.cwd() if args.dataset else cfg.base_dir
    try:
        run_id = log_run(cfg.to_dict(), result.manifest, result.leaderboard, result.bundle_dir,
                         result.report_path, project)
    except Exception as exc:  # the model is written; say why the run was not tracked
        err.print(f"[yellow]warning:[/] MLflow tracking failed ({type(exc).__name__}: {escape(str(exc))}); the "
                  f"bundle and report are written. Use --no-track to skip tracking.")
        return
    console.print(f"MLflow run: {run_id} (experiment 'winback')")


def _decision_line(manifest: dict, where: str) -> str:
    """Who the chosen model flags at its threshold, and how well, in one line."""
    from winback.evaluate import flag_all_note

    m = manifest["candidates"][manifest["best"]]["test"]
    note = flag_all_note(m, manifest)
    return (f"Threshold {m['threshold']:.3f} ({escape(manifest['threshold_rule'])}): flags "
            f"{m['tp'] + m['fp']:,} of {m['n']:,} customers on the {where} "
            f"({m['flagged_share']:.1%}), precision {m['precision']:.1%}, recall {m['recall']:.1%}"
            + (f"\n[yellow]note:[/] {escape(note)}" if note else ""))


def _value_line(segments: dict | None) -> str:
    """How well the segments' value axis picked next period's spenders, in one line."""
    check = (segments or {}).get("value_check")
    if not check or check["capture"]["top_tenth"]["value"] is None:
        return ""
    top = check["capture"]["top_tenth"]
    what = "spend" if check["measure"] == "spend" else "orders"
    days = f"{check['window_days']:.0f}"
    naive = (f"the last {days} days' top tenth {top['previous_window']:.1%}" if top["previous_window"] is not None
             else f"no {what} in the last {days} days to rank by")
    return (f"Value ({escape(segments['rule']['value_column'])}): its top tenth made {top['value']:.1%} of the "
            f"next {days} days' {what} at the test cutoff ({naive}, hindsight {top['hindsight']:.1%})")


def cmd_train(args) -> int:
    from winback.progress import Steps
    from winback.results import selection_column
    from winback.project import CUSTOMER_TABLE, NEXT_EVENT, Project

    project = Project(_config(args))
    result = project.train(steps=Steps(quiet=args.quiet))
    if project.kind == NEXT_EVENT:
        console.print(_leaderboard(result.leaderboard, project.kind))
        console.print(f"Best: [bold]{result.best}[/] (lowest log loss on held-out sessions)")
    elif project.kind == CUSTOMER_TABLE:
        console.print(_leaderboard(result.leaderboard, project.kind))
        console.print(f"Best: [bold]{result.best}[/] (chosen by cross-validation on the training part)")
        console.print(_decision_line(result.manifest, "test part"))
    else:
        console.print(_leaderboard(result.leaderboard))
        chosen_on = selection_column(result.leaderboard.columns)
        console.print(f"Best: [bold]{result.best}[/] (chosen on {chosen_on}: the held-out customers of every cutoff)")
        console.print(_decision_line(result.manifest, "test cutoff"))
        if "backtest" in result.manifest:
            console.print("Backtest: " + escape(result.manifest["backtest"]["text"]))
        value = _value_line(result.manifest.get("segments"))
        if value:
            console.print(value)
    if project.kind != NEXT_EVENT:
        from winback.evaluate import weak_signal_note

        where = "on the test part" if project.kind == CUSTOMER_TABLE else "on the test cutoff"
        weak = weak_signal_note(result.manifest["candidates"][result.best]["test"]["roc_auc"], where)
        if weak:
            console.print(f"[yellow]warning:[/] {escape(weak)}")
    console.print(f"Bundle: {result.bundle_dir}")
    if result.report_path:
        console.print(f"Report: {result.report_path}")
    _track(args, project.config, result)
    return 0


def cmd_backtest(args) -> int:
    from winback.backtest import TITLE, summary_line, table_rows
    from winback.progress import Steps
    from winback.project import Project

    result = Project(_config(args)).backtest(folds=args.folds, step_days=args.step_days,
                                             steps=Steps(quiet=args.quiet))
    console.print(_rows_table(TITLE, table_rows(result), left=lambda i, _: i < 2, bold_last=True))
    console.print(escape(summary_line(result)))
    console.print(f"Written: {result.path}")
    return 0


def cmd_outcomes(args) -> int:
    from winback.outcomes import decile_rows, scores_place, segment_rows
    from winback.progress import Steps
    from winback.project import Project

    project = Project(_config(args))
    place = scores_place(args.scores, args.table)  # a database URL without its password
    with Steps(quiet=args.quiet).step(f"Labelling the customers in {place} with what they did"):
        result = project.outcomes(args.scores, bundle=args.bundle, cutoff=args.cutoff, table=args.table)
    for title, rows in ((f"Outcomes of the scores {result.scored}, by decile", decile_rows(result)),
                        ("... and by segment", segment_rows(result))):
        if len(rows) > 1:
            console.print(_rows_table(title, rows, left=lambda i, header: i == 0 and header != "decile"))
    worse = result.verdict()[0] == "worse"
    for i, line in enumerate(result.lines()):
        mark = "[yellow]warning:[/] " if i == 0 and worse else "[yellow]note:[/] " if line in result.notes else ""
        console.print(mark + escape(line))
    if result.path:
        console.print(f"Written: {result.path} and the page {result.page}")
    return 0


def _rows_table(title: str, rows: list[list[str]], left, bold_last: bool = False) -> Table:
    """Rows of text cells (the header first) as a table; column i, headed h, left-aligned
    where `left(i, h)`."""
    t = Table(title=title)
    for i, header in enumerate(rows[0]):
        t.add_column(header, justify="left" if left(i, header) else "right")
    for i, row in enumerate(rows[1:]):
        t.add_row(*row, style="bold" if bold_last and i == len(rows) - 2 else None)
    return t


def _project_bundle(args) -> Path:
    """The bundle `winback train` wrote for the project (<output.dir>/bundle), which `score` and
    `serve` read when no --bundle is given: train, then score, with the same config."""
    from winback.project import Project

    if not hasattr(args, "dataset") and not Path(args.config).exists():  # serve: no --dataset to suggest
        raise WinbackError(f"No --bundle given, and no {args.config} here to find the project's bundle by: "
                           f"name one with --bundle (the folder `winback train` wrote, such as "
                           f"winback-out/bundle).")
    try:
        return Project(_config(args)).bundle_dir
    except WinbackError as exc:
        raise WinbackError(f"No --bundle given, and the project's bundle cannot be found: {exc}") from exc


def _kept(args) -> list[str]:
    """--keep's names: comma-separated, the option repeatable."""
    return [name for value in args.keep or [] for name in value.split(",") if name.strip()]


def cmd_score(args) -> int:
    from winback.progress import Steps
    from winback.project import CUSTOMER_TABLE, EVENT_LOG, NEXT_EVENT, Project
    from winback.score import explains, score_features_to
    from winback.sinks import STDOUT, describe_output

    where = describe_output(args.output, args.table)  # a bad destination fails before any work
    steps = Steps(quiet=args.quiet)
    # with the scores on standard output, the summary goes to standard error: a pipe gets CSV only
    say = err.print if args.output == STDOUT else console.print
    if args.features:
        if args.cutoff:
            raise WinbackError("--cutoff applies to event logs; ready features are scored as they are.")
        bundle = Path(args.bundle) if args.bundle else _project_bundle(args)
        with steps.step(f"Scoring ready features from {args.features}") as show:
            run = score_features_to(bundle, Path(args.features), args.output,
                                    args.table, progress=show, reasons=not args.no_reasons,
                                    keep=_kept(args))
        say(f"Scored {run.rows:,} customers: {run.where}")
        _say_drift(run.drift, say)
        return 0
    project = Project(_config(args))
    unexplained = ""  # the event-log model that gives no reasons, when it gives none
    if project.kind == EVENT_LOG and not args.no_reasons:
        explained, name = explains(Path(args.bundle) if args.bundle else project.bundle_dir)
        unexplained = "" if explained else name
    what = {CUSTOMER_TABLE: "Scoring customers" + ("" if args.no_reasons else " and explaining each score"),
            NEXT_EVENT: "Scoring live sessions"}.get(
        project.kind, f"Scoring customers{'' if args.no_reasons or unexplained else ' with their top reasons'} "
                      f"into {where}")
    with steps.step(what) as show:
        written = project.score_to(args.output, table=args.table, bundle=args.bundle,
                                   cutoff=args.cutoff, reasons=not args.no_reasons, progress=show,
                                   keep=_kept(args))
    for note in written.frame.attrs.get("notes", []) if written.frame is not None else []:
        say("[yellow]note:[/] " + escape(note))
    if unexplained == "bgnbd":
        say("[yellow]note:[/] this BG/NBD bundle was trained before BG/NBD kept what its reasons need, "
            "so the scores have no reason_1..3: train it again to get them.")
    elif unexplained:
        say(f"[yellow]note:[/] the {escape(unexplained)} model gives no reasons, so the scores have no "
            f"reason_1..3 (logistic regression, LightGBM and BG/NBD give them).")
    if project.kind == NEXT_EVENT:
        say(f"Scored {written.rows:,} live sessions "
                      f"({int(written.frame['churn_alert'].sum()):,} flagged as unlikely to buy): "
                      f"{written.where}")
    elif written.cutoff is not None:
        say(f"Scored {written.rows:,} customers at {moment_text(written.cutoff)}: {written.where}")
    else:
        say(f"Scored {written.rows:,} customers: {written.where}")
    _say_drift(written.drift, say)
    return 0


def _say_drift(drift, say) -> None:
    """One line on how the customers scored compare with the model's test population."""
    if drift is None:
        return
    level, text = drift.message()
    say({"ok": "", "too_few": "", "note": "[yellow]note:[/] ", "warning": "[yellow]warning:[/] "}[level]
        + escape(text))


def _check_port(host: str, port: int) -> None:
    """Fail with the fix when the address is taken or unusable, before announcing a service
    that would not start (uvicorn's own message comes after ours, with exit status 3)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WinbackError(f"--host '{host}' is not an address this machine knows ({exc.strerror}).") from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise WinbackError(f"Cannot listen on {host}:{port} ({exc.strerror}); another service "
                               f"(another winback serve?) may hold it: choose another with --port."
                               ) from exc


def cmd_serve(args) -> int:
    import os

    import uvicorn

    from winback.serving.app import configure_log, create_app

    bundles = [str(Path(b).resolve()) for b in args.bundle or [_project_bundle(args)]]
    if args.workers < 1:
        raise WinbackError("--workers must be at least 1.")
    if not 1 <= args.port <= 65535:
        raise WinbackError(f"--port must be between 1 and 65535, got {args.port}.")
    configure_log(args.log_level)
    # fails here on a bad bundle or a negative --reload-every
    app = create_app(bundles, args.max_batch, args.max_body_bytes, reload_s=args.reload_every)
    _check_port(args.host, args.port)
    console.print(f"winback service on http://{args.host}:{args.port}/ (API reference at /docs); "
                  f"{args.workers} worker(s); Ctrl-C stops it.")
    # where the workers add up /metrics and /v1/drift (one worker needs none unless it is named)
    with _workers_folder(make=args.workers > 1):
        if args.workers == 1:
            uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
            return 0
        os.environ.update(WINBACK_BUNDLES=os.pathsep.join(bundles), WINBACK_MAX_BATCH=str(args.max_batch),
                          WINBACK_MAX_BODY_BYTES=str(args.max_body_bytes),
                          WINBACK_RELOAD_S=str(args.reload_every), WINBACK_LOG_LEVEL=args.log_level)
        uvicorn.run("winback.serving.app:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level)
    return 0


@contextlib.contextmanager
def _workers_folder(make: bool):
    """The workers' shared folder, named to them in WINBACK_STATE_DIR: the folder the variable
    already names (emptied of a previous service's files, since this one's counters start at
    zero), or when `make`, a fresh temporary one, removed after; else None."""
    import os
    import shutil
    import tempfile

    from winback.serving.shared import STATE_DIR_ENV, clear

    given = os.environ.get(STATE_DIR_ENV)
    if given:
        folder = Path(given)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            clear(folder)
        except OSError as exc:
            raise WinbackError(f"{STATE_DIR_ENV}={given}: cannot use it as the workers' shared "
                               f"folder ({exc.strerror or exc}); name a writable folder or unset it.") from exc
        yield folder
        return
    if not make:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="winback-serve-"))
    os.environ[STATE_DIR_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(STATE_DIR_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def cmd_demo(args) -> int:
    from winback.datasets import cdnow_config
    from winback.progress import Steps
    from winback.train import train

    out = Path(args.out).resolve()
    console.print("[bold]winback demo[/]: CDNOW orders (23,570 customers, 1997-1998). Will a "
                  "customer buy again in the 39 weeks after 1997-10-01?")
    result = train(cdnow_config(output_dir=str(out)), steps=Steps(quiet=args.quiet))
    console.print(_leaderboard(result.leaderboard))
    from winback.score import score, write_scores

    scores = score(cdnow_config(output_dir=str(out)), result.bundle_dir)
    scores_path = write_scores(scores, out / "scores.csv")
    console.print(f"Best: [bold]{result.best}[/]; bundle {result.bundle_dir}; scores {scores_path}")
    from winback.drift import drift_from_dict

    _say_drift(drift_from_dict(scores.attrs.get("drift")), console.print)
    console.print(f"Report: [bold]{result.report_path}[/]")
    console.print(f"Serve it: winback serve --bundle {result.bundle_dir}")
    console.print("How stable is it? winback backtest --dataset cdnow (the same flow at earlier test cutoffs)")
    console.print(f"Did the scores come true? winback score --dataset cdnow --bundle {result.bundle_dir} "
                  f"--cutoff 1997-10-01 -o past.parquet, then winback outcomes past.parquet --dataset cdnow "
                  f"--bundle {result.bundle_dir} (what those customers did in the 273 days after)")
    return 0


class _VersionAction(argparse.Action):
    """`--version`: the version and the extras, looked up only when asked (argparse's own
    action wants the text on every run, and reflows its lines)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text(__version__))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="winback", description="Which customers will come back, and what to do about it.")
    p.add_argument("--version", action=_VersionAction, help="the version, and which optional extras are installed")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, dataset: bool = True):
        sp.add_argument("--config", "-c", default="winback.toml", help="project config (default winback.toml)")
        if dataset:
            sp.add_argument("--dataset", choices=list(DATASETS), help="use a bundled dataset and its ready config")
        sp.add_argument("--out", help="output folder (overrides output.dir)")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress output (warnings still print, on standard error)")

    def add_input(sp, what: str = "e.g. new customers to score"):  # the project's config over other files
        sp.add_argument("--input", "-i", action="append", metavar="PATH",
                        help=f"read this file (glob) instead of the config's source, {what}; a project "
                             f"of several tables takes one --input per table, in order")

    sp = sub.add_parser("init", help="write a winback.toml for a layout")
    sp.add_argument("--layout", default=None,
                    help="rees46, cdnow, online_retail, ga_sessions, ga4, shopify, paypal, stripe or events "
                         "(default: recognised by the source's columns, else events)")
    sp.add_argument("source", nargs="?", metavar="PATH",
                    help="source file or glob (or the folder of Olist's export); the same as --path")
    sp.add_argument("--path", help="source file or glob (default data/events.csv, a template to edit)")
    sp.add_argument("--table", action="store_true", help="a customer-table project instead of an event log")
    sp.add_argument("--column", action="append", metavar="NAME=COLUMN", type=_mapping, default=[],
                    help="event logs: map one of winback's columns to the source's (customer_id=who); "
                         "repeat it for more, the others are guessed around them")
    sp.add_argument("--key", help="customer tables: the customer id column (default: guessed)")
    sp.add_argument("--label", help="customer tables: the column to predict (default: guessed)")
    sp.add_argument("--join", action="append", metavar="PATH", default=[],
                    help="customer tables: another table joined on the key, as it is or pivoted by period "
                         "when it holds one row per customer and period; repeat it for more")
    sp.add_argument("--config", "-c", default="winback.toml")
    sp.add_argument("--force", action="store_true")
    sp.set_defaults(func=cmd_init)
    sp = sub.add_parser("validate", help="read and check the source, print a summary")
    common(sp)
    add_input(sp)
    sp.set_defaults(func=cmd_validate)
    sp = sub.add_parser("train", help="labels, features, candidates, leaderboard, bundle, report")
    common(sp)
    sp.add_argument("--trials", type=int, help="customer tables: Optuna trials of every candidate (train.trials; "
                    "overrides train.trials_by_candidate)")
    sp.add_argument("--timeout", type=float, help="customer tables: whole tuning budget in seconds (train.timeout_s)")
    sp.add_argument("--no-track", action="store_true", help="do not log this run to MLflow")
    sp.add_argument("--backtest", type=int, metavar="FOLDS",
                    help="event logs: also train and measure at this many test cutoffs, for the report "
                         "(train.backtest_folds; see `winback backtest`)")
    sp.set_defaults(func=cmd_train)
    sp = sub.add_parser("backtest", help="train and measure at several earlier test cutoffs")
    common(sp)
    sp.add_argument("--folds", type=int, default=4, help="how many test cutoffs, the latest first (default 4)")
    sp.add_argument("--step-days", type=int, help="days between test cutoffs (default problem.cutoff_step_days)")
    sp.set_defaults(func=cmd_backtest)
    sp = sub.add_parser("score", help="score customers with a bundle")
    common(sp)
    add_input(sp)
    sp.add_argument("--bundle", help="bundle folder written by `winback train` (default: the project's, "
                    "<output.dir>/bundle)")
    sp.add_argument("--cutoff", help="score at this date (default: the end of the data)")
    sp.add_argument("--output", "-o", default="scores.parquet",
                    help="a .parquet, .csv or .csv.gz file, a .duckdb file, a postgresql:// URL, or - for CSV on standard output")
    sp.add_argument("--table", help="table name for a DuckDB or PostgreSQL output (default winback_scores)")
    sp.add_argument("--features", help="score a Parquet or CSV file (folder, glob) of ready features instead of the source")
    sp.add_argument("--no-reasons", action="store_true",
                    help="skip the top three reasons per customer (SHAP; the slow part on customer tables)")
    sp.add_argument("--keep", action="append", metavar="COLUMNS",
                    help="copy these columns beside each score, comma-separated: features of an event "
                         "log at the cutoff (e.g. recency_days,n_orders,spend), columns of a customer "
                         "table, or of the --features file")
    sp.set_defaults(func=cmd_score)
    sp = sub.add_parser("outcomes", help="what the customers scored did next, against their scores")
    common(sp)
    sp.add_argument("scores", metavar="SCORES", help="scores `winback score -o` wrote: a .parquet or .csv "
                    "file, a .duckdb file or a postgresql:// URL (with --table)")
    sp.add_argument("--table", help="the scores' table in a DuckDB file or PostgreSQL database (default winback_scores)")
    sp.add_argument("--bundle", help="the bundle that scored them (default: the project's, <output.dir>/bundle)")
    sp.add_argument("--cutoff", help="event logs: the date they were scored at, for a file without a cutoff column")
    add_input(sp, "e.g. the log as it is now, or the customer table with its outcomes filled in")
    sp.set_defaults(func=cmd_outcomes)
    sp = sub.add_parser("serve", help="HTTP service and web page for one or two bundles")
    sp.add_argument("--bundle", action="append",
                    help="bundle folder; repeat to serve a customer and a next-event bundle together "
                         "(default: the project's, <output.dir>/bundle)")
    sp.add_argument("--config", "-c", default="winback.toml",
                    help="project config whose bundle is served without --bundle (default winback.toml)")
    sp.add_argument("--out", help="output folder (overrides output.dir)")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--workers", type=int, default=1, help="worker processes (each loads the bundles)")
    sp.add_argument("--max-batch", type=int, default=1000, help="most customers per /v1/score/batch call")
    sp.add_argument("--max-body-bytes", type=int, default=1_048_576, help="largest request body accepted")
    sp.add_argument("--reload-every", type=float, default=5.0, metavar="SECONDS",
                    help="look this often for a model `winback train` wrote into a bundle's folder, and "
                         "serve it once it passes the self-test (0: never; default 5)")
    sp.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"],
                    help="uvicorn's (warning: no access log); winback's own lines, such as a model "
                         "swapped in, print at info unless this is error or critical")
    sp.set_defaults(func=cmd_serve)
    sp = sub.add_parser("demo", help="the whole flow on bundled CDNOW")
    sp.add_argument("--out", default="winback-demo")
    sp.add_argument("--quiet", "-q", action="store_true")
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WinbackError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except duckdb.Error as exc:
        # a file that opened but fails part-way (a damaged row group or footer, a cut-off
        # copy); any other DuckDB error is a bug to see whole
        if not is_read_failure(exc):
            raise
        err.print(f"[bold red]error:[/] reading the data failed: {escape(damaged_text(exc))}",
                  highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted; nothing was half-written.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
