"""Categories a customer-table model was not trained on, found where customers are scored.

The preprocessor reads a category it never saw as none of the ones it knows (all its one-hot
columns zero), which is the right reading of a new plan or region, but silently wrong for the
same category written another way ('pro' for 'Pro', 'TRUE' for true): such customers score as
if the column said nothing. Batch scoring and the service say so, with the value the model knows
when only letter case or spacing differ."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

SHOWN = 3  # unseen values named per column
# a category becomes a column of its own when it holds this many training customers (1 % of
# them in a small table) and is among the MAX_CATEGORIES commonest of its column: a surname or
# a city column would otherwise bring thousands of columns that each describe a handful of
# customers, which the distance and margin models drown in and none can learn from. The same
# rule picks the levels of an event log's text attributes (winback.features.attributes)
MIN_CATEGORY = 10
MAX_CATEGORIES = 50


def learnable(ranked: Sequence[tuple[Any, int]], customers: int) -> list:
    """The categories of `ranked` ((value, customers holding it), commonest first) that hold
    enough of `customers` to learn from, at most MAX_CATEGORIES."""
    least = max(1, min(MIN_CATEGORY, math.ceil(0.01 * customers)))
    return [v for v, n in ranked if n >= least][:MAX_CATEGORIES]


def trained_categories(model: Any) -> dict[str, list[str]]:
    """Column -> the categories the model learnt (every member of an ensemble saw the same
    training rows, so the first member's are all members')."""
    return {c: list(v) for c, v in model.members[0].preprocessor.categories_.items()}


def pooled_categories(model: Any) -> dict[str, int]:
    """Column -> how many rare training categories the model pooled (read as none of its own)."""
    return dict(getattr(model.members[0].preprocessor, "pooled_", {}))


def pooled_notes(model: Any) -> list[str]:
    """What training says of the columns whose rare categories were pooled."""
    prep = model.members[0].preprocessor
    notes = []
    for c, n in pooled_categories(model).items():
        kept = len(prep.categories_[c])
        if kept:
            learnt = "its commonest category" if kept == 1 else f"its {kept:,} commonest categories"
            notes.append(f"column '{c}': the models learn {learnt}; its {n:,} rarer ones (too few "
                         f"customers each to learn from) read as none of them")
        else:
            notes.append(f"column '{c}': none of its {n:,} categories holds enough customers to learn "
                         f"from, so the models read it as empty; table.drop leaves it out")
    return notes


def _folded(value: str) -> str:
    return "".join(value.lower().split())


def known_spelling(value: str, known: Sequence[str]) -> str | None:
    """The trained category equal to `value` but for letter case and spaces, when just one is."""
    matches = [k for k in known if _folded(k) == _folded(value)]
    return matches[0] if len(matches) == 1 else None


def boolean_category(value: bool, known: Sequence[str]) -> str:
    """A JSON true/false for a column of text categories: the trained category that spells it
    ('True', 'TRUE', 'true'), else 'true' / 'false'."""
    text = "true" if value else "false"
    return known_spelling(text, known) or text


def numeric_codes(categories: Mapping[str, Sequence[str]]) -> set[str]:
    """Columns whose every trained category is written as a number (region or store codes): a
    client may send them as JSON numbers."""
    def number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    return {c for c, known in categories.items() if known and all(number(k) for k in known)}


def code_text(value: float) -> str:
    """A JSON number sent for a code column as a file writes it: 7 and 7.0 are '7'."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else str(value)


def unseen_note(column: str, counts: Mapping[str, int], known: Sequence[str],
                customers: int | None = None) -> str:
    """One sentence on a column's unseen categories: how many customers (when counted), which
    values (most common first), the known spelling of any that differs only in case or spacing,
    and the fix."""
    values = sorted(counts, key=lambda v: (-counts[v], v))
    shown = ", ".join(f"'{v}'" + (f" ({counts[v]:,})" if customers is not None else "")
                      for v in values[:SHOWN])
    more = f" and {len(values) - SHOWN:,} more" if len(values) > SHOWN else ""
    who = (f"{sum(counts.values()):,} of {customers:,} customers have" if customers is not None
           else "the customer has")
    knew = ", ".join(f"'{k}'" for k in known[:8]) + (", ..." if len(known) > 8 else "")
    twins = {v: known_spelling(v, known) for v in values}
    twins = {v: k for v, k in twins.items() if k is not None}
    if twins:
        fix = ("{ " + f'"{column}" = {{ ' + ", ".join(f'"{v}" = "{k}"' for v, k in twins.items())
               + " } }")
        same = ", ".join(f"{v!r} is the model's {k!r}" for v, k in twins.items())
        them = "it" if len(twins) == 1 else "them"
        fix_text = (f"fixes = {fix} on the [[table.sources]] entry reads {them} as the model's"
                    if customers is not None else "send the model's spelling")
        hint = f"; {same} but for letter case or spacing: {fix_text}"
    else:
        hint = ""
    return (f"column '{column}': {who} a category the model was not trained on ({shown}{more}), "
            f"read as none of the ones it knows ({knew}){hint}")


def unseen_in_frame(frame: pd.DataFrame, categories: Mapping[str, Sequence[str]],
                    pooled: Mapping[str, int] | None = None) -> list[str]:
    """The notes for a scored table: one per column holding categories the model never saw. A
    column whose rare categories training pooled (`pooled`: how many) holds unseen values by
    design, so it gets one line without them."""
    pooled = pooled or {}
    notes = []
    for column, known in categories.items():
        if column not in frame.columns:
            continue
        values = frame[column].dropna().astype(str)
        unseen = values[~values.isin(set(known))]
        if column in pooled:  # rare values pooled by design: said once, without them
            if len(unseen) and known:  # (a column none of whose values was kept, training said)
                notes.append(f"column '{column}': {len(unseen):,} of {len(frame):,} customers have a "
                             f"category the model has no column for (new, or one of the "
                             f"{pooled[column]:,} rare ones training pooled), read as none of its own")
        elif len(unseen):
            counts = {str(k): int(v) for k, v in unseen.value_counts().items()}
            notes.append(unseen_note(column, counts, known, len(frame)))
    return notes
