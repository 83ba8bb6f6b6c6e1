"""Customer attributes carried on the events (`features.attributes`): a shop's country, its
acquisition channel, a device, a loyalty tier, a signup date. Each customer's value is the one on
their latest event before the cutoff that has one, so an attribute that changes (a device, a
tier) is read as it stood then, never as it became later.

A text attribute becomes one 0/1 column per level learnt at training (`attribute_levels`); a
number is its value; a date or time is days before the cutoff. The levels are fixed in the
bundle's feature spec, so scoring builds the columns the model learnt whatever values the log
holds by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from winback.errors import ConfigError
from winback.features.context import FeatureContext, when
from winback.tabular.categories import learnable

CATEGORY, NUMBER, TIME = "category", "number", "time"

Attribute = tuple[str, str, tuple[str, ...]]  # column, kind, levels (text attributes only)


# distinct values read to tell a text column's kind: numbers or dates written as text (a CSV,
# a lookup table) are numbers and dates, not a category per value
KIND_SAMPLE = 5_000


def kind_of(events: ir.Table, column: str) -> str:
    """How an attribute column becomes features: by its type, or, for text, by its values."""
    value_type = events[column].type()
    if value_type.is_timestamp() or value_type.is_date():
        return TIME
    if value_type.is_numeric() or value_type.is_boolean():
        return NUMBER
    import pandas as pd

    text = events[column].cast("string").strip()
    values = (events.select(v=text).filter((ibis._.v.notnull()) & (ibis._.v != ""))
              .distinct().limit(KIND_SAMPLE).execute()["v"])
    if len(values) == 0:
        return CATEGORY
    if pd.to_numeric(values, errors="coerce").notna().all():
        return NUMBER
    if pd.to_datetime(values, errors="coerce", format="ISO8601").notna().all():
        return TIME
    return CATEGORY


def level_column(column: str, level: str) -> str:
    """The 0/1 feature of one level: read in reasons as 'channel is Email = 1'."""
    return f"{column} is {level}"


def time_column(column: str) -> str:
    return f"days_since_{column}"


def _value(events: ir.Table, column: str, kind: str) -> ir.Value:
    """The attribute as compared: text trimmed, with an empty text as no value."""
    col = events[column]
    if kind == CATEGORY:
        text = col.cast("string").strip()
        return (text == "").ifelse(ibis.null("string"), text)
    target = "timestamp" if kind == TIME else "float64"
    if col.type().is_string():  # read as numbers or dates by kind_of: a stray value is unknown
        return col.strip().try_cast(target)
    return col.cast(target)


def latest_table(history: ir.Table, attributes: Sequence[tuple[str, str]]) -> ir.Table:
    """customer_id and v0, v1, ...: each customer's value of each (column, kind) on their
    latest event that has one. Events at the same latest instant that disagree give the
    greatest value, so every engine reads the same one. Two aggregations and a join whatever
    the number of attributes (a window per attribute took 3x the features' time on 2 M events)."""
    values = {f"v{i}": _value(history, column, kind) for i, (column, kind) in enumerate(attributes)}
    t = history.select("customer_id", "event_time", **values)
    latest = t.group_by("customer_id").aggregate(
        **{f"t{i}": when(t.event_time, t[f"v{i}"].notnull()).max() for i in range(len(values))})
    j = t.inner_join(latest, "customer_id")
    return j.group_by("customer_id").aggregate(
        **{f"v{i}": when(j[f"v{i}"], j.event_time == j[f"t{i}"]).max() for i in range(len(values))})


def latest_values(history: ir.Table, column: str, kind: str) -> ir.Table:
    """customer_id, value: the customers with a value of one attribute, and that value."""
    t = latest_table(history, [(column, kind)])
    return t.filter(t.v0.notnull()).select("customer_id", value=t.v0)


def attribute_features(history: ir.Table, ctx: FeatureContext,
                       attributes: Sequence[Attribute]) -> list[ir.Table]:
    """One row per customer with the feature columns of every attribute (`level_column`, `time_column`, or the
    column's own name for a number). A
    customer without a value of one reads as unknown (missing) in its columns, which the
    models impute."""
    for column, _, _ in attributes:
        if column not in history.columns:
            raise ConfigError(f"The model reads the attribute '{column}' (features.attributes), "
                              f"which these events do not carry: list it in features.attributes "
                              f"of the config that reads them, or add the column to the source.")
    used = [a for a in attributes if a[1] != CATEGORY or a[2]]  # a text one without levels adds none
    if not used:
        return []
    latest = latest_table(history, [(column, kind) for column, kind, _ in used])
    cols: dict[str, ir.Value] = {}
    for i, (column, kind, levels) in enumerate(used):
        value = latest[f"v{i}"]
        if kind == CATEGORY:
            cols.update({level_column(column, v): value.isnull().ifelse(
                ibis.null("float64"), (value == v).ifelse(1.0, 0.0)) for v in levels})
        elif kind == TIME:
            cols[time_column(column)] = ctx.days_before(value)
        else:
            cols[column] = value
    return [latest.select("customer_id", **cols)]


def attribute_levels(events: ir.Table, before: dt.datetime, columns: Sequence[str]) -> list[Attribute]:
    """Each attribute's kind and, for a text one, the levels to learn: those held by enough
    customers (their latest value before `before`, the test cutoff), commonest first."""
    history = events.filter(events.event_time < before)
    out: list[Attribute] = []
    for column in columns:
        kind = kind_of(events, column)
        levels: tuple[str, ...] = ()
        if kind == CATEGORY:
            latest = latest_values(history, column, kind)
            counts = (latest.group_by("value").aggregate(n=latest.count())
                      .order_by([ibis.desc("n"), "value"]).execute())
            # the rule of a customer table's categories: enough customers, the commonest 50
            ranked = [(str(v), int(n)) for v, n in zip(counts["value"], counts["n"])]
            levels = tuple(learnable(ranked, sum(n for _, n in ranked)))
        out.append((column, kind, levels))
    return out


def attributes_note(events: ir.Table, before: dt.datetime, columns: Sequence[str]) -> str:
    """How `validate` says the attributes will be read: kind, levels and how many customers
    have a value; an attribute that would add no column is said so."""
    if not columns:
        return ""
    history = events.filter(events.event_time < before)
    found = attribute_levels(events, before, columns)
    latest = latest_table(history, [(column, kind) for column, kind, _ in found])
    counts = latest.aggregate(customers=latest.count(),  # every customer with history before it
                              **{f"v{i}": latest[f"v{i}"].count() for i in range(len(found))}).execute().iloc[0]
    said = []
    for i, (column, kind, levels) in enumerate(found):
        share = f"{int(counts[f'v{i}']):,} of {int(counts['customers']):,} customers have one"
        if kind == CATEGORY and not levels:
            said.append(f"'{column}' text: no value is held by enough customers to learn from "
                        f"({share}), so it adds no feature")
        elif kind == CATEGORY:
            shown = ", ".join(levels[:8]) + (f" and {len(levels) - 8} more" if len(levels) > 8 else "")
            said.append(f"'{column}' text, {len(levels)} level(s): {shown} ({share})")
        elif kind == TIME:
            said.append(f"'{column}' dates, as days before the cutoff ({share})")
        else:
            said.append(f"'{column}' numbers ({share})")
    return "attributes (each customer's latest value): " + "; ".join(said)
