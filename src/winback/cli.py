"""`winback` command line: init, validate, train, score, serve, demo."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from winback import __version__
from winback.datasets import DATASETS
from winback.data.sources import DAMAGED, is_read_failure
from winback.errors import WinbackError

console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True)

INIT_TEMPLATE = """# winback project: see README.md for every key.
[source]
path = "{path}"
layout = "{layout}"            # rees46 | cdnow | online_retail | ga_sessions | events
backend = "duckdb"             # duckdb | spark | postgres | bigquery (then table = "..." and [source.connection])
{extra}
# time_format = "unix_ms"      # empty = the layout's (ISO 8601); a strptime format; iso; unix_s | unix_ms | unix_us
# decimal = ","                # numbers written 12,50
{columns}

[problem]
name = "repeat_purchase"       # repeat_purchase | return_visit | first_purchase
horizon_days = {horizon}
train_cutoffs = 4
cutoff_step_days = {step}
min_history_days = {history}
# test_cutoff = "2020-01-01"   # default: the end of the data minus the horizon

[features]
windows_days = [7, 30, 90, 180]

[train]
candidates = ["logistic", "lightgbm", "bgnbd"]
seed = 42
# threshold_rule = "contacts"  # f1 | recall | contacts | profit: who `winback score` flags
# contact_share = 0.2          # contacts: the share of customers a campaign can reach

[output]
dir = "winback-out"
"""


def _board(board, title: str, cols: list[str], text: tuple[str, ...] = ("candidate",),
           digits: int = 3, headers: dict[str, str] | None = None) -> Table:
    """A leaderboard as a console table: `text` columns as written, numbers rounded, the first
    row (the chosen model) in bold."""
    t = Table(title=title)
    for c in cols:
        t.add_column((headers or {}).get(c, c), justify="left" if c in text else "right")
    for i, r in board.iterrows():
        t.add_row(*[str(r[c]) if c in text else f"{r[c]:.{digits}f}" for c in cols],
                  style="bold" if i == 0 else None)
    return t


def _leaderboard_table(board) -> Table:
    return _board(board, "Leaderboard (out-of-time test cutoff)",
                  ["candidate", "roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall",
                   "lift_10", "lift_20", "valid_roc_auc"])


TABLE_TEMPLATE = """# winback project on customer tables: see README.md, "Customer tables".
[problem]
name = "repeat_purchase"       # what the label means: repeat_purchase | activity_decline | ...

[table]
key = {key}
{label_line}
{values}

[[table.sources]]
path = "{path}"
# fixes = {{ "plan" = {{ "premuim" = "premium" }} }}

# [[table.sources]]            # more tables, joined on the key; pivot long ones by period
# path = "revenue.csv"
# pivot_column = "period"
# pivot_values = ["revenue"]

# [[table.filters]]
# column = "revenue"
# op = ">"
# value = 0

[segments]
value_column = ""              # a profit or revenue column for risk x value segments

[train]
trials = 15                    # Optuna trials per candidate
seed = 42

[output]
dir = "winback-out"
"""


def _table_leaderboard(board) -> Table:
    return _board(board, "Leaderboard (chosen by cross-validation; test = held-out customers)",
                  ["candidate", "cv_roc_auc", "cv_std", "roc_auc", "pr_auc", "log_loss", "precision",
                   "recall", "lift_10", "imbalance"], text=("candidate", "imbalance"),
                  headers={"roc_auc": "test_roc_auc"})


def _next_event_leaderboard(board) -> Table:
    return _board(board, "Leaderboard (next event; test = events after the test cutoff)",
                  ["candidate", "accuracy", "macro_f1", "purchase_recall", "log_loss",
                   "valid_log_loss"], digits=4)


def _config(args):
    from winback.config import load_config, validate_config
    from winback.datasets import dataset_config

    if getattr(args, "dataset", None):
        cfg = dataset_config(args.dataset, output_dir=str(Path(args.out or "winback-out").resolve()))
    else:
        cfg = load_config(args.config)
        if getattr(args, "out", None):
            cfg.output.dir = str(Path(args.out).resolve())
    if getattr(args, "trials", None) is not None:
        cfg.train.trials = args.trials
    if getattr(args, "timeout", None) is not None:
        cfg.train.timeout_s = args.timeout
    validate_config(cfg)
    return cfg


def cmd_init(args) -> int:
    from winback.data.layouts import LAYOUTS

    target = Path(args.config)
    if target.exists() and not args.force:
        raise WinbackError(f"'{target}' exists; use --force to overwrite it.")
    if args.table:
        guess = _table_guess(args.path, target.parent)
        def line(text: str, comment: str) -> str:
            return f"{text:<30} # {comment}"

        values = ("\n".join([line(f"positive = {_toml_list(guess['positive'])}", "its values that mean 1"),
                             line(f"negative = {_toml_list(guess['negative'])}", "its values that mean 0")])
                  if guess["positive"] else
                  line("# positive = []", "the label is 0/1 (or true/false): no lists needed"))
        target.write_text(TABLE_TEMPLATE.format(
            path=args.path, key=_toml_str(guess["key"]), values=values,
            label_line=line(f"label = {_toml_str(guess['label'])}", "the column to predict")))
        console.print(guess["note"])
        console.print(f"Wrote {target}. Check table.key, table.label and its values, then "
                      f"`winback validate` and `winback train`.")
        return 0
    if args.layout not in LAYOUTS:
        from winback.errors import did_you_mean

        raise WinbackError(f"Unknown layout '{args.layout}'.{did_you_mean(args.layout, LAYOUTS)}")
    options = dict(LAYOUTS[args.layout].init_options)
    columns: dict[str, str] = {}
    notes = []
    if args.layout == "events":
        columns, note = _guess_columns(args.path, target.parent)
        notes.append(note)
    problem, note, fixes = _cutoffs_for_source(args.path, args.layout, options, target.parent, columns)
    event_types = fixes.pop("event_types", {})
    options.update(fixes)
    notes.append(note)
    extra = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else _toml_str(str(v))}"
                      for k, v in options.items())
    mapping = ("[source.columns]             # canonical name = \"column in your file\"\n"
               + "\n".join(f"{k} = {_toml_str(v)}" for k, v in columns.items())) if columns else \
        ("# [source.columns]             # canonical name = \"column in your file\" (overrides the layout)\n"
         "# customer_id = \"user_id\"")
    if event_types:
        mapping += ("\n[source.event_types]          # your event type = winback's\n"
                    + "\n".join(f"{_toml_str(k)} = {_toml_str(v)}" for k, v in event_types.items()))
    target.write_text(INIT_TEMPLATE.format(
        path=args.path, layout=args.layout, extra=extra, columns=mapping, horizon=problem.horizon_days,
        step=problem.cutoff_step_days, history=problem.min_history_days))
    for note in notes:
        if note:
            console.print(note)
    console.print(f"Wrote {target}. Next: `winback validate` then `winback train`.")
    return 0


KEY_NAMES = re.compile(r"(^id$|_id$|^id_|customer|client|user|member|^cid$)", re.I)
LABEL_NAMES = re.compile(r"(label|target|churn|^y$|class|outcome|bought|purchas|again|activ|"
                         r"response|decrease|retain|return|convert)", re.I)


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _table_guess(path: str, base_dir: Path) -> dict:
    """table.key, table.label and its values for `init --table`, read off the file when it
    exists: the key is a column unique on every row (one named like an id first), the label a
    column with two values (one named like a target first). Values other than 0/1 are listed,
    the rarer as 1, with a note to check it."""
    from winback.config import SourceConfig
    from winback.data.sources import connect, matching_files, open_source

    guess = {"key": "customer_id", "label": "label_column", "positive": ["1"], "negative": ["0"]}
    full = Path(path) if Path(path).is_absolute() else base_dir / path
    if not matching_files(full):
        return {**guess, "note": f"[yellow]{escape(path)} does not exist yet[/]: set table.key and "
                                 f"table.label by hand."}
    try:
        table = open_source(connect(), SourceConfig(path=str(full)), full)
        stats = table.aggregate(rows=table.count(), **{f"n{i}": table[c].nunique()
                                                       for i, c in enumerate(table.columns)},
                                **{f"m{i}": table[c].isnull().sum()
                                   for i, c in enumerate(table.columns)}).execute().iloc[0]
    except WinbackError as exc:
        return {**guess, "note": f"[yellow]Could not read {escape(path)}[/] ({escape(str(exc))})."}
    cols = list(table.columns)
    rows = int(stats["rows"])
    unique = [c for i, c in enumerate(cols) if int(stats[f"n{i}"]) == rows and not int(stats[f"m{i}"])]
    keys = sorted(unique, key=lambda c: not KEY_NAMES.search(c))
    binary = [c for i, c in enumerate(cols) if int(stats[f"n{i}"]) == 2 and c not in keys[:1]]
    labels = sorted(binary, key=lambda c: not LABEL_NAMES.search(c))
    notes = []
    if keys:
        guess["key"] = keys[0]
    else:
        notes.append("no column is unique on every row: set table.key to the customer id")
    if labels:
        label = labels[0]
        guess["label"] = label
        counts = (table.group_by(label).aggregate(n=table.count()).filter(table[label].notnull())
                  .order_by("n").execute())
        found = [str(v) for v in counts[label]]
        if set(found) <= {"0", "1", "true", "false", "True", "False", "0.0", "1.0"}:
            guess["positive"] = guess["negative"] = []
        else:
            guess["positive"], guess["negative"] = found[:1], found[1:]
            notes.append(f"'{found[0]}' (the rarer value) is taken to mean 1: swap positive and "
                         f"negative if '{found[1]}' does")
    else:
        notes.append("no column has exactly two values: set table.label to the column to predict")
    what = f"key = '{guess['key']}', label = '{guess['label']}'"
    return {**guess, "note": f"Read {escape(path)}: {escape(what)}"
                             + "".join(f"; {escape(n)}" for n in notes) + "."}


# columns of an `events` source, by name, in the order they are claimed (a column serves once)
COLUMN_NAMES = {
    "customer_id": re.compile(r"^(customer|client|user|visitor|member|buyer|shopper|account|cust)"
                              r"[ _-]?(id|no|number|key)?$|^(uid|cid)$", re.I),
    "event_time": re.compile(r"(time|date|timestamp|^ts$|created|occurred|_at$)", re.I),
    "event_type": re.compile(r"(event|type|action|kind|activity)", re.I),
    "order_id": re.compile(r"(order|invoice|transaction|receipt)", re.I),
    "session_id": re.compile(r"(session|visit)", re.I),
    "product_id": re.compile(r"(product|item|sku|article)", re.I),
    "amount": re.compile(r"(amount|revenue|value|total|spend|sales|price|sum)", re.I),
    "quantity": re.compile(r"(qty|quantity|units)", re.I),
}
# settings a failed read names as its fix, applied by `init` and tried again
FIXES = (("time_format", re.compile(r"source\.time_format = '([^']+)'")),
         ("decimal", re.compile(r"source\.decimal = '(,)'")),
         ("encoding", re.compile(r"Set its encoding to '(latin-1)'")))


def _guess_columns(path: str, base_dir: Path) -> tuple[dict[str, str], str]:
    """[source.columns] for an `events` source whose columns are not named canonically
    (cust, ts, revenue), matched by name; ({}, note) when the file cannot be read yet."""
    from winback.config import SourceConfig
    from winback.data.sources import connect, matching_files, open_source

    full = Path(path) if Path(path).is_absolute() else base_dir / path
    if not matching_files(full):
        return {}, ""
    try:
        present = list(open_source(connect(), SourceConfig(path=str(full)), full).columns)
    except WinbackError:
        return {}, ""  # _cutoffs_for_source says why
    columns: dict[str, str] = {}
    for canonical, pattern in COLUMN_NAMES.items():
        if canonical in present:
            columns[canonical] = canonical
            continue
        found = next((c for c in present if c not in columns.values() and pattern.search(c)), None)
        if found:
            columns[canonical] = found
    guessed = {k: v for k, v in columns.items() if k != v}
    if not guessed:
        return {}, ""
    return columns, ("Mapped columns by name: " + escape(", ".join(f"{k} = '{v}'" for k, v in guessed.items()))
                     + " (check them in \\[source.columns]).")


def _cutoffs_for_source(path: str, layout: str, options: dict, base_dir: Path,
                        columns: dict[str, str] | None = None):
    """The problem settings `init` writes, fitted to the source's time span when the source
    can be read now (the template's defaults otherwise), a line saying what was done, and the
    source settings a failed read named as its fix (a unix time format, a decimal comma,
    Latin-1), which were applied and are written too."""
    from winback.config import ProblemConfig, config_from_dict
    from winback.data.canonical import load_events
    from winback.data.sources import matching_files
    from winback.labels import suggest_cutoffs

    default = ProblemConfig()
    fixes: dict[str, str] = {}

    def config():
        source = {"path": path, "layout": layout, **options, **fixes}
        if columns:
            source["columns"] = columns
        return config_from_dict({"source": source}, base_dir=base_dir.resolve())

    if not matching_files(config().resolve(path)):
        return default, (f"[yellow]{escape(path)} does not exist yet[/]: the default {default.horizon_days}-day "
                         f"horizon is written; `winback validate` checks the source once it is there."), {}
    while True:
        try:
            with console.status(f"Reading {escape(path)} to fit the horizon to its time span"):
                log = load_events(config(), materialize=False)
            break
        except WinbackError as e:
            fix = next(((key, m.group(1)) for key, rx in FIXES if key not in fixes
                        for m in [rx.search(str(e))] if m), None)
            if fix is None:
                return default, (f"[yellow]Could not read {escape(path)} with the {layout} layout[/] "
                                 f"({escape(str(e))}) The defaults are written. Fix the source or "
                                 f"\\[source.columns], then run `winback validate`."), fixes
            fixes[fix[0]] = fix[1]
    applied = "".join(f" Set {k} = '{v}' to read it." for k, v in fixes.items())
    if "event_type" in log.available:
        from winback.data.layouts import suggested_event_types

        fixes["event_types"] = suggested_event_types(log.summary["event_types"])
        if fixes["event_types"]:
            applied += " Mapped event types: " + ", ".join(
                f"'{k}' -> {v}" for k, v in fixes["event_types"].items()) + "."
    span = f"{log.start:%Y-%m-%d} to {log.end:%Y-%m-%d}"
    problem = suggest_cutoffs(log.start, log.end, default.train_cutoffs)
    if problem is None:
        return default, (f"[yellow]The log spans only {span}[/]: too short for "
                         f"{default.train_cutoffs} cutoffs even with a 7-day horizon. The defaults "
                         f"are written; `winback train` needs more data.{applied}"), fixes
    if problem.horizon_days == default.horizon_days:
        return problem, f"The log spans {span}: a {problem.horizon_days}-day horizon fits.{applied}", fixes
    return problem, (f"The log spans {span}, too short for a {default.horizon_days}-day horizon with "
                     f"{default.train_cutoffs} cutoffs: wrote horizon_days = {problem.horizon_days}, "
                     f"cutoff_step_days = {problem.cutoff_step_days}, min_history_days = "
                     f"{problem.min_history_days}.{applied}"), fixes


def cmd_validate(args) -> int:
    from winback.project import CUSTOMER_TABLE, Project

    project = Project(_config(args))
    s = project.validate()
    if project.kind == CUSTOMER_TABLE:
        console.print(f"[green]OK[/] {s['customers']:,} customers, {len(s['numeric'])} numeric and "
                      f"{len(s['categorical'])} categorical columns, "
                      f"{100 * s['positive_rate']:.1f} % positive"
                      + "".join(f"; {n}" for n in s["notes"]) + ".")
        return 0
    console.print(f"[green]OK[/] {s['source']}: {s['rows']:,} events of {s['customers']:,} customers, "
                  f"{s['first_event']:%Y-%m-%d} to {s['last_event']:%Y-%m-%d}; event types "
                  + ", ".join(f"{k} {v:,}" for k, v in s["event_types"].items())
                  + f"; {s['duplicate_rows']:,} duplicated rows (policy {s['duplicates_policy']})"
                  + (f"; {s['dropped_without_customer']:,} rows without a customer id dropped"
                     if s.get("dropped_without_customer") else "") + ".")
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
    m = manifest["candidates"][manifest["best"]]["test"]
    return (f"Threshold {m['threshold']:.3f} ({escape(manifest['threshold_rule'])}): flags "
            f"{m['tp'] + m['fp']:,} of {m['n']:,} customers on the {where} "
            f"({m['flagged_share']:.1%}), precision {m['precision']:.1%}, recall {m['recall']:.1%}")


def cmd_train(args) -> int:
    from winback.progress import Steps
    from winback.project import CUSTOMER_TABLE, NEXT_EVENT, Project

    project = Project(_config(args))
    result = project.train(steps=Steps(quiet=args.quiet))
    if project.kind == NEXT_EVENT:
        console.print(_next_event_leaderboard(result.leaderboard))
        console.print(f"Best: [bold]{result.best}[/] (lowest log loss on held-out sessions)")
    elif project.kind == CUSTOMER_TABLE:
        console.print(_table_leaderboard(result.leaderboard))
        console.print(f"Best: [bold]{result.best}[/] (chosen by cross-validation on the training part)")
        console.print(_decision_line(result.manifest, "test part"))
    else:
        console.print(_leaderboard_table(result.leaderboard))
        console.print(f"Best: [bold]{result.best}[/] (chosen on the validation cutoff)")
        console.print(_decision_line(result.manifest, "test cutoff"))
    console.print(f"Bundle: {result.bundle_dir}")
    if result.report_path:
        console.print(f"Report: {result.report_path}")
    _track(args, project.config, result)
    return 0


def cmd_score(args) -> int:
    from winback.progress import Steps
    from winback.project import CUSTOMER_TABLE, NEXT_EVENT, Project
    from winback.score import score_features_to
    from winback.sinks import describe_output

    where = describe_output(args.output, args.table)  # a bad destination fails before any work
    steps = Steps(quiet=args.quiet)
    if args.features:
        if args.cutoff:
            raise WinbackError("--cutoff applies to event logs; ready features are scored as they are.")
        with steps.step(f"Scoring ready features from {args.features}") as show:
            where, rows = score_features_to(Path(args.bundle), Path(args.features), args.output,
                                            args.table, progress=show)
        console.print(f"Scored {rows:,} customers: {where}")
        return 0
    project = Project(_config(args))
    what = {CUSTOMER_TABLE: "Scoring customers" + ("" if args.no_reasons else " and explaining each score"),
            NEXT_EVENT: "Scoring live sessions"}.get(project.kind, f"Scoring customers into {where}")
    with steps.step(what) as show:
        written = project.score_to(args.output, table=args.table, bundle=args.bundle,
                                   cutoff=args.cutoff, reasons=not args.no_reasons, progress=show)
    if project.kind == NEXT_EVENT:
        console.print(f"Scored {written.rows:,} live sessions "
                      f"({int(written.frame['churn_alert'].sum()):,} flagged as unlikely to buy): "
                      f"{written.where}")
    elif written.cutoff is not None:
        console.print(f"Scored {written.rows:,} customers at {written.cutoff:%Y-%m-%d}: {written.where}")
    else:
        console.print(f"Scored {written.rows:,} customers: {written.where}")
    return 0


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

    from winback.serving.app import create_app

    bundles = [str(Path(b).resolve()) for b in args.bundle]
    if args.workers < 1:
        raise WinbackError("--workers must be at least 1.")
    app = create_app(bundles, args.max_batch, args.max_body_bytes)  # fails here on a bad bundle
    _check_port(args.host, args.port)
    console.print(f"winback service on http://{args.host}:{args.port}/ (API reference at /docs); "
                  f"{args.workers} worker(s); Ctrl-C stops it.")
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    os.environ.update(WINBACK_BUNDLES=os.pathsep.join(bundles), WINBACK_MAX_BATCH=str(args.max_batch),
                      WINBACK_MAX_BODY_BYTES=str(args.max_body_bytes))
    uvicorn.run("winback.serving.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)
    return 0


def cmd_demo(args) -> int:
    from winback.datasets import cdnow_config
    from winback.progress import Steps
    from winback.train import train

    out = Path(args.out).resolve()
    console.print("[bold]winback demo[/]: CDNOW orders (23,570 customers, 1997-1998). Will a "
                  "customer buy again in the 39 weeks after 1997-10-01?")
    result = train(cdnow_config(output_dir=str(out)), steps=Steps(quiet=args.quiet))
    console.print(_leaderboard_table(result.leaderboard))
    from winback.score import score, write_scores

    scores = score(cdnow_config(output_dir=str(out)), result.bundle_dir)
    scores_path = write_scores(scores, out / "scores.csv")
    console.print(f"Best: [bold]{result.best}[/]; bundle {result.bundle_dir}; scores {scores_path}")
    console.print(f"Report: [bold]{result.report_path}[/]")
    console.print(f"Serve it: winback serve --bundle {result.bundle_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="winback", description="Which customers will come back, and what to do about it.")
    p.add_argument("--version", action="version", version=f"winback {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, dataset: bool = True):
        sp.add_argument("--config", "-c", default="winback.toml", help="project config (default winback.toml)")
        if dataset:
            sp.add_argument("--dataset", choices=list(DATASETS), help="use a bundled dataset and its ready config")
        sp.add_argument("--out", help="output folder (overrides output.dir)")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    sp = sub.add_parser("init", help="write a winback.toml for a layout")
    sp.add_argument("--layout", default="events")
    sp.add_argument("--path", default="data/events.csv", help="source file or glob")
    sp.add_argument("--table", action="store_true", help="a customer-table project instead of an event log")
    sp.add_argument("--config", "-c", default="winback.toml")
    sp.add_argument("--force", action="store_true")
    sp.set_defaults(func=cmd_init)
    sp = sub.add_parser("validate", help="read and check the source, print a summary")
    common(sp)
    sp.set_defaults(func=cmd_validate)
    sp = sub.add_parser("train", help="labels, features, candidates, leaderboard, bundle, report")
    common(sp)
    sp.add_argument("--trials", type=int, help="customer tables: Optuna trials per candidate (train.trials)")
    sp.add_argument("--timeout", type=float, help="customer tables: whole tuning budget in seconds (train.timeout_s)")
    sp.add_argument("--no-track", action="store_true", help="do not log this run to MLflow")
    sp.set_defaults(func=cmd_train)
    sp = sub.add_parser("score", help="score customers with a bundle")
    common(sp)
    sp.add_argument("--bundle", required=True, help="bundle folder written by `winback train`")
    sp.add_argument("--cutoff", help="score at this date (default: the end of the data)")
    sp.add_argument("--output", "-o", default="scores.parquet",
                    help="a .parquet or .csv file, a .duckdb file or a postgresql:// URL")
    sp.add_argument("--table", help="table name for a DuckDB or PostgreSQL output (default winback_scores)")
    sp.add_argument("--features", help="score a Parquet file (or folder) of ready features instead of the source")
    sp.add_argument("--no-reasons", action="store_true", help="customer tables: skip the per-customer SHAP reasons")
    sp.set_defaults(func=cmd_score)
    sp = sub.add_parser("serve", help="HTTP service and web page for one or two bundles")
    sp.add_argument("--bundle", required=True, action="append",
                    help="bundle folder; repeat to serve a customer and a next-event bundle together")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--workers", type=int, default=1, help="worker processes (each loads the bundles)")
    sp.add_argument("--max-batch", type=int, default=1000, help="most customers per /v1/score/batch call")
    sp.add_argument("--max-body-bytes", type=int, default=1_048_576, help="largest request body accepted")
    sp.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
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
        first = str(exc).splitlines()[0]
        err.print(f"[bold red]error:[/] reading the data failed: {escape(first)}. {DAMAGED}",
                  highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted; nothing was half-written.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
