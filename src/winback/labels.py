"""Prediction problems, cutoffs and point-in-time labels.

Vocabulary (after Compose): a *cutoff* is the instant at which we predict; features use only
events strictly before it; the *label window* is [cutoff, cutoff + horizon). Training cutoffs
have label windows that end by the test cutoff, so the test is out-of-time exactly as in
production: nothing that happens after the test cutoff is seen while training.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd

from winback.config import ProblemConfig, parse_date
from winback.data.layouts import EVENT_TYPE_WORDS, PURCHASE, RETURN, event_types_advice
from winback.errors import ConfigError, DataError, LabelError, did_you_mean

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Cutoff:
    """One prediction time: features from before `time`, labels from [time, window_end)."""

    time: dt.datetime
    window_end: dt.datetime
    role: str  # train | valid | test | score

    @property
    def window_days(self) -> float:
        return (self.window_end - self.time) / DAY

    def as_dict(self) -> dict[str, str]:
        return {"time": self.time.isoformat(), "window_end": self.window_end.isoformat(),
                "role": self.role}


@dataclass(frozen=True)
class CutoffPlan:
    """Training cutoffs (oldest first), the validation cutoff and the test cutoff."""

    train: tuple[Cutoff, ...]
    valid: Cutoff
    test: Cutoff

    @property
    def all(self) -> tuple[Cutoff, ...]:
        return (*self.train, self.valid, self.test)


def observed_end(last_event: dt.datetime) -> dt.datetime:
    """The exclusive end of the observed period: midnight after the last event's day."""
    return dt.datetime.combine(last_event.date(), dt.time()) + DAY


def plan_cutoffs(problem: ProblemConfig, first_event: dt.datetime, last_event: dt.datetime) -> CutoffPlan:
    """Cutoffs for a problem on data spanning [first_event, last_event].

    The test cutoff defaults to the latest one whose full horizon is observed. Training cutoffs
    step back by `cutoff_step_days`; when a full horizon does not fit before the test cutoff and
    `truncate_train_windows` is on, their label windows are shortened to end at the test cutoff
    (the latest then keeps at least a third of the horizon).
    """
    horizon = dt.timedelta(days=problem.horizon_days)
    step = dt.timedelta(days=problem.cutoff_step_days)
    earliest = dt.datetime.combine(first_event.date(), dt.time()) + dt.timedelta(days=problem.min_history_days)
    end = observed_end(last_event)
    span = f"the data runs from {first_event:%Y-%m-%d} to {last_event:%Y-%m-%d}"
    if problem.test_cutoff:
        test = parse_date(problem.test_cutoff, "problem.test_cutoff")
        if not earliest <= test < end:
            raise DataError(
                f"problem.test_cutoff {test:%Y-%m-%d} is outside the data: {span}, and a cutoff needs "
                f"{problem.min_history_days} days of history before it. Choose a date between "
                f"{earliest:%Y-%m-%d} and {end - horizon:%Y-%m-%d}."
            )
        if test + horizon > end:
            raise DataError(
                f"The test label window [{test:%Y-%m-%d}, {test + horizon:%Y-%m-%d}) runs past the end "
                f"of the data ({last_event:%Y-%m-%d}), so its labels would be wrong. Choose "
                f"problem.test_cutoff <= {end - horizon:%Y-%m-%d} or a shorter horizon_days."
            )
    else:
        test = end - horizon
        if test < earliest:
            raise DataError(
                f"A {problem.horizon_days}-day horizon does not fit: {span}. Shorten "
                f"problem.horizon_days or problem.min_history_days."
            )
    latest_full = test - horizon
    if latest_full >= earliest:
        latest = latest_full
    elif problem.truncate_train_windows:
        latest = test - max(horizon / 3, step)
    else:
        raise DataError(
            f"No training cutoff has a full {problem.horizon_days}-day label window before the test "
            f"cutoff {test:%Y-%m-%d} ({span}). Set problem.truncate_train_windows = true, shorten "
            f"the horizon, or move the test cutoff later."
        )
    times = [latest - k * step for k in range(problem.train_cutoffs)]
    times = [t for t in times if t >= earliest]
    if len(times) < 2:
        raise DataError(
            f"Only {len(times)} training cutoff(s) fit between {earliest:%Y-%m-%d} and "
            f"{latest:%Y-%m-%d} ({span}); winback needs two (train and validation). Use a smaller "
            f"problem.cutoff_step_days, min_history_days or horizon_days."
        )
    cutoffs = [Cutoff(t, min(t + horizon, test), "train") for t in sorted(times)]
    valid = Cutoff(cutoffs[-1].time, cutoffs[-1].window_end, "valid")
    return CutoffPlan(tuple(cutoffs[:-1]), valid, Cutoff(test, test + horizon, "test"))


# (horizon_days, cutoff_step_days, min_history_days) from the template's defaults down to what
# a few weeks of data allow; `suggest_cutoffs` takes the first that fits the log
CUTOFF_LADDER = ((90, 30, 30), (60, 30, 30), (60, 14, 30), (30, 14, 30), (30, 7, 14),
                 (14, 7, 14), (7, 7, 7), (7, 3, 7))


def suggest_cutoffs(first_event: dt.datetime, last_event: dt.datetime,
                    train_cutoffs: int = 4) -> ProblemConfig | None:
    """The longest horizon (and the cutoff spacing beside it) whose plan keeps `train_cutoffs`
    cutoffs with full label windows on a log spanning [first_event, last_event]; None when even
    a week does not fit. Used by `winback init`, so that a short log does not start with a
    config that `winback train` refuses."""
    for horizon, step, history in CUTOFF_LADDER:
        problem = ProblemConfig(horizon_days=horizon, cutoff_step_days=step,
                                min_history_days=history, train_cutoffs=train_cutoffs,
                                truncate_train_windows=False)
        try:
            plan = plan_cutoffs(problem, first_event, last_event)
        except DataError:
            continue
        if len(plan.train) + 1 == train_cutoffs:
            return problem
    return None


def _activity(events: ibis.Table, in_window: ibis.BooleanValue, measure: str) -> ibis.NumericValue:
    """Activity of a customer inside a window: events, orders (distinct order ids, or purchase
    events when the log has no order id) or spend (purchase amounts)."""
    purchase = events.event_type == PURCHASE
    if measure == "events":
        return in_window.sum()
    if measure == "orders":
        order = ibis.coalesce(events.order_id.cast("string"), events.event_time.cast("string"))
        return order.nunique(where=in_window & purchase)
    return events.amount.sum(where=in_window & purchase).fill_null(0)


def activity_decline_table(events: ibis.Table, cutoff: Cutoff, problem: ProblemConfig) -> ibis.Table:
    """Seed 004's label on an event log: customers active in the `L` days before the cutoff
    (L = the label window, or the horizon when scoring) whose activity in [cutoff, cutoff + L)
    falls below `decline_share` of it."""
    length = cutoff.window_end - cutoff.time
    if length.total_seconds() <= 0:  # scoring: no label window, the population needs one
        length = dt.timedelta(days=problem.horizon_days)
    start = cutoff.time - length
    before = (events.event_time >= start) & (events.event_time < cutoff.time)
    after = (events.event_time >= cutoff.time) & (events.event_time < cutoff.window_end)
    c = (events.filter((events.event_time >= start) & (events.event_time < cutoff.window_end))
         .group_by("customer_id")
         .aggregate(act_before=_activity(events, before, problem.decline_measure),
                    act_after=_activity(events, after, problem.decline_measure)))
    label = c.act_after < problem.decline_share * c.act_before
    return c.filter(c.act_before > 0).select("customer_id", label=label.ifelse(1, 0).cast("int8"))


def label_table(events: ibis.Table, cutoff: Cutoff, problem: ProblemConfig) -> ibis.Table:
    """(customer_id, label) for the problem's population at `cutoff`, as an Ibis expression."""
    if problem.name == "activity_decline":
        return activity_decline_table(events, cutoff, problem)
    before = events.event_time < cutoff.time
    after = (events.event_time >= cutoff.time) & (events.event_time < cutoff.window_end)
    purchase = events.event_type == PURCHASE
    qualifying = (events.event_type.isin(problem.qualifying_events)
                  if problem.qualifying_events else ibis.literal(True))
    per_customer = (
        events.filter(events.event_time < cutoff.window_end)
        .group_by("customer_id")
        .aggregate(
            seen=before.any(),
            bought_before=(before & purchase).any(),
            bought_after=(after & purchase).any(),
            visited_after=(after & qualifying).any(),
        )
    )
    c = per_customer
    if problem.name == "repeat_purchase":
        population, label = c.bought_before, c.bought_after
    elif problem.name == "return_visit":
        population, label = c.seen, c.visited_after
    else:  # first_purchase
        population, label = c.seen & ~c.bought_before, c.bought_after
    return c.filter(population).select("customer_id", label=label.ifelse(1, 0).cast("int8"))


def window_activity(events: ibis.Table, cutoff: Cutoff, measure: str) -> ibis.Table:
    """(customer_id, before, after): activity (`spend` or `orders`) in the label window
    [cutoff, window_end) and in the window of the same length before the cutoff, to check a
    value forecast against what customers then did (and against the naive forecast that the
    next window repeats the last). It reads the label window, so it is for evaluation only:
    never a feature."""
    length = cutoff.window_end - cutoff.time
    start = cutoff.time - length
    before = (events.event_time >= start) & (events.event_time < cutoff.time)
    after = (events.event_time >= cutoff.time) & (events.event_time < cutoff.window_end)
    return (events.filter((events.event_time >= start) & (events.event_time < cutoff.window_end))
            .group_by("customer_id")
            .aggregate(before=_activity(events, before, measure), after=_activity(events, after, measure)))


def population_table(events: ibis.Table, cutoff: dt.datetime, problem: ProblemConfig) -> ibis.Table:
    """Customers a model scores at `cutoff` (no label needed): same population rules."""
    return label_table(events, Cutoff(cutoff, cutoff, "score"), problem).select("customer_id")


def check_labels(labels: pd.DataFrame, cutoff: Cutoff, problem: ProblemConfig) -> None:
    """A model needs both classes at every cutoff; say which cutoff has only one."""
    if labels.empty:
        raise LabelError(
            f"No customer is in the '{problem.name}' population at the {cutoff.role} cutoff "
            f"{cutoff.time:%Y-%m-%d}: nobody qualifies before it. Move the cutoff later."
        )
    rate = float(labels["label"].mean())
    if rate in (0.0, 1.0):
        which = "bought/returned" if rate == 1.0 else "did not buy/return"
        raise LabelError(
            f"Every one of the {len(labels):,} customers at the {cutoff.role} cutoff "
            f"{cutoff.time:%Y-%m-%d} {which} in [{cutoff.time:%Y-%m-%d}, "
            f"{cutoff.window_end:%Y-%m-%d}): labels have one class only, so nothing can be learnt "
            f"or measured. Change problem.horizon_days or the cutoffs."
        )


def check_log_fits_problem(p: ProblemConfig, log) -> None:
    """Stop before any work when the EventLog cannot hold the problem's population: a problem
    that counts purchases on a log whose event types name none (with the [source.event_types]
    block that maps look-alikes such as "Purchase" and "AddToCart"), or first_purchase on an
    order table, which has no visitor who has not bought. Otherwise both surface later as an
    empty population at some cutoff, with advice to move it."""
    counts_purchases = (p.name in ("repeat_purchase", "first_purchase", "next_event")
                        or (p.name == "activity_decline" and p.decline_measure != "events"))
    types = log.summary.get("event_types") or {}
    if p.name == "first_purchase" and set(types) <= {PURCHASE, RETURN}:  # a return follows a sale
        raise ConfigError(
            f"Problem 'first_purchase' predicts which visitors who have not bought yet will buy; "
            f"{log.source_name} holds purchases{' and returns' if RETURN in types else ''} only (an "
            f"order table), so it has no such visitors "
            f"at any cutoff. Use repeat_purchase or activity_decline, or a log with views or "
            f"visits.")
    if p.name == "return_visit" and p.qualifying_events:
        _check_qualifying_events(p.qualifying_events, types, log.source_name)
    if not counts_purchases or "event_type" not in log.available or types.get(PURCHASE):
        return
    advice = event_types_advice(types, log.summary.get("event_type_column", ""))
    found = ", ".join(f"'{k}'" for k in list(types)[:8])
    raise ConfigError(
        f"No event in {log.source_name} has event type '{PURCHASE}', which problem '{p.name}' "
        f"counts; its event types are {found}. "
        + (f"Map them to winback's in winback.toml:\n{advice}" if advice else
           f"Map the one that is a purchase in [source.event_types], e.g. \"Order\" = \"{PURCHASE}\".")
    )


def _check_qualifying_events(listed: list[str], types: dict, source: str) -> None:
    """problem.qualifying_events must name event types the log has: none present makes every
    label 0, and a name that is not one of winback's own types is most likely a typo."""
    present = [e for e in listed if types.get(e)]
    unknown = [e for e in listed if e not in types and e not in EVENT_TYPE_WORDS]
    if present and not unknown:
        return
    name = (unknown or listed)[0]
    raise ConfigError(
        f"problem.qualifying_events lists '{name}', which no event of {source} has"
        f"{'' if present else ' (nor any other type listed, so every label would be 0)'}."
        f"{did_you_mean(name, list(types))} Its event types are "
        f"{', '.join(repr(t) for t in list(types)[:8])}.")
