"""Numbers as shops and spreadsheets write them: '$2,080.25', '1.234,50 €', "CHF 1'234.50".

Text numbers read with three settings of their source: the decimal mark, the thousands
separator and a currency sign. None of them is guessed while reading, because a separator
is ambiguous ('1,234' is 1234 in one locale and 1.234 in another) and a wrong guess is a
silent factor of 1000. Instead, values that do not read are matched against the usual
conventions here (`infer_number_format`), and the error that stops the read names the
settings that read them, which `winback init` applies. The same steps (`NumberFormat.plain`)
run as an Ibis expression on every engine (`text_number`) and in Python on those few failed
values (`NumberFormat.read`); a test holds the two to the same results.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

import ibis

DECIMAL_MARKS = (".", ",")
THOUSANDS_SEPARATORS = ("", ",", ".", " ", "'")
# spaces that French, Swiss and Nordic exports put between thousands, read as a plain space
_SPACES = ("\u00a0", "\u202f")
_PLAIN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class NumberFormat:
    """How a source writes numbers in text: `decimal` mark, `thousands` separator ('' = none)
    and a `currency` sign or code written before or after the number ('' = none)."""

    decimal: str = "."
    thousands: str = ""
    currency: str = ""

    def problem(self) -> str:
        """Why these settings cannot be used together, or ''."""
        if self.decimal not in DECIMAL_MARKS:
            return f"decimal must be '.' or ',', got '{self.decimal}'"
        if self.thousands not in THOUSANDS_SEPARATORS:
            return (f"thousands must be one of {', '.join(repr(t) for t in THOUSANDS_SEPARATORS)} "
                    f"('' = none), got '{self.thousands}'")
        if self.thousands == self.decimal:
            return f"thousands and decimal are both '{self.decimal}': one mark cannot be both"
        if self.currency != self.currency.strip() or any(ch.isdigit() or ch in "+-.,"
                                                         for ch in self.currency):
            return (f"currency '{self.currency}' must be the sign or code alone (such as '$', "
                    f"'€' or 'EUR'), without digits, signs, separators or spaces around it")
        return ""

    def _grouped(self) -> str:
        # '.' is the only mark that needs escaping, and escaping a space is not portable
        sep, mark = (m.replace(".", r"\.") for m in (self.thousands, self.decimal))
        return rf"^[+-]?[0-9]{{1,3}}({sep}[0-9]{{3}})+({mark}[0-9]*)?$"

    def plain(self, s, ungroup):
        """`s` written as a plain number: the steps `read` (on a str) and `text_number` (on an
        Ibis string) share, since str and Ibis strings have the same replace and strip.
        `ungroup` drops the thousands separators from a well-formed grouping only."""
        if self.currency:
            s = s.replace(self.currency, "").strip()
        if self.thousands:
            if self.thousands == " ":
                for space in _SPACES:
                    s = s.replace(space, " ")
            s = ungroup(s)
        return s.replace(",", ".") if self.decimal == "," else s

    def read(self, text: str) -> float | None:
        """The number `text` holds under this format, or None: `text_number` in Python."""
        grouped = self._grouped()
        s = self.plain(text.strip(), lambda s: s.replace(self.thousands, "") if re.search(grouped, s) else s)
        return float(s) if _PLAIN.fullmatch(s) else None

    def changes(self, since: NumberFormat) -> dict[str, str]:
        """The settings that differ from `since`, key -> value."""
        return {k: getattr(self, k) for k in ("currency", "thousands", "decimal")
                if getattr(self, k) != getattr(since, k)}


def source_number_format(source) -> NumberFormat:
    """The NumberFormat of a [source] or [[table.sources]] entry."""
    return NumberFormat(source.decimal, source.thousands, source.currency)


def text_number(text: ibis.StringValue, fmt: NumberFormat) -> ibis.FloatingValue:
    """`text` as a float64 under `fmt`, NULL where it holds no number. 'inf' and 'NaN' parse
    as floats but are no amount, so they are NULL too and validation names them."""
    # only a well-formed grouping loses its separators: '1,2,3' stays unread, not 123
    grouped = fmt._grouped()
    s = fmt.plain(text, lambda s: ibis.ifelse(s.re_search(grouped), s.replace(fmt.thousands, ""), s))
    number = s.try_cast("float64")
    return ibis.ifelse(number.isinf() | number.isnan(), ibis.null("float64"), number)


@dataclass(frozen=True)
class Inferred:
    """What unread values show: the format that reads them all (`fmt`), or `other` too when a
    second convention reads them to different numbers, or the `currencies` they mix."""

    fmt: NumberFormat | None = None
    other: NumberFormat | None = None
    currencies: tuple[str, ...] = ()


# in order of preference: the fewest settings first
_CONVENTIONS = ((".", ""), (",", ""), (".", ","), (",", "."), (".", " "), (",", " "), (".", "'"))
_AFFIXES = re.compile(r"^[+-]?\s*([^\d\s+\-.,']*)\s*(.*?)\s*([^\d\s.,']*)$")


# currencies written in letters rather than a sign: Nordic, Polish, Czech, Hungarian,
# Romanian kronor to lei, rupees, rand, ringgit
_LETTER_CURRENCIES = frozenset({"kr", "zł", "Kč", "Ft", "lei", "Rs", "R", "RM"})


def _is_currency(text: str) -> bool:
    """A currency sign ($, €, R$, US$), an ISO code (EUR) or one written in letters (kr), not
    a unit such as 'pcs'."""
    return (any(unicodedata.category(ch) == "Sc" for ch in text) and len(text) <= 4) or bool(
        re.fullmatch(r"[A-Z]{3}", text)) or text in _LETTER_CURRENCIES


def infer_number_format(values: list, current: NumberFormat = NumberFormat()) -> Inferred:
    """The convention that reads every one of `values` (texts that did not read under
    `current`), keeping `current`'s settings where they already fit."""
    texts = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not texts:
        return Inferred()
    signs = set()
    for t in texts:
        found = _AFFIXES.match(t)
        for affix in (found.group(1), found.group(3)) if found else ():
            if affix:
                if not _is_currency(affix):
                    return Inferred()
                signs.add(affix)
    if len(signs) > 1:
        return Inferred(currencies=tuple(sorted(signs)))
    currency = next(iter(signs), current.currency)
    conventions = [(current.decimal, current.thousands)] + [c for c in _CONVENTIONS
                                                            if c != (current.decimal, current.thousands)]
    readable = []
    for decimal, thousands in conventions:
        fmt = replace(current, decimal=decimal, thousands=thousands, currency=currency)
        numbers = [fmt.read(t) for t in texts]
        if all(n is not None for n in numbers):
            readable.append((fmt, numbers))
    if not readable:
        return Inferred()
    (fmt, numbers), rest = readable[0], readable[1:]
    other = next((f for f, n in rest if n != numbers), None)
    return Inferred(fmt if fmt != current else None, other)


def number_format_hint(values: list, current: NumberFormat) -> str:
    """The sentence that names the settings reading `values`, or '' when none does. Settings
    are written `source.key = 'value'` only when they are certain, since `init` applies what
    that pattern names."""
    found = infer_number_format(values, current)
    if found.currencies:
        return (f"These amounts carry different currency signs ({', '.join(found.currencies)}), "
                f"and amounts in different currencies cannot be added up: convert them to one "
                f"currency first.")
    if found.fmt is None:
        return ""
    if found.other is not None:
        a, b = (described(f, current) for f in (found.fmt, found.other))
        return (f"These numbers could be written {a[0]} (set {a[1]}) or {b[0]} (set {b[1]}); "
                f"the first rows do not tell which. Set the one your system writes.")
    words, _ = described(found.fmt, current)
    return (f"These numbers are written {words}: set "
            + " and ".join(f"source.{k} = {setting_text(v)}" for k, v in found.fmt.changes(current).items())
            + ".")


_SEPARATOR_NAMES = {",": "commas", ".": "points", " ": "spaces", "'": "apostrophes"}


def setting_text(value: str) -> str:
    """A value as TOML that can be pasted: ',' but "'"."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def described(fmt: NumberFormat, current: NumberFormat) -> tuple[str, str]:
    """What `fmt` changes from `current`, in words and as settings: ('with a currency sign ('$')
    and commas between thousands', "currency to '$', thousands to ','")."""
    changes = fmt.changes(current)
    words = {"currency": f"with a currency sign ('{fmt.currency}')",
             "thousands": (f"with {_SEPARATOR_NAMES[fmt.thousands]} between thousands" if fmt.thousands
                           else "without a thousands separator"),
             "decimal": "with a decimal comma" if fmt.decimal == "," else "with a decimal point"}
    said = [words[k] for k in changes]
    return (", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0],
            ", ".join(f"{k} to {setting_text(v)}" for k, v in changes.items()))
