"""`GetPartitions` expressions: which keys may appear in one, and the windows that select the
recent end of a table, a few branches, or what retention removes.

Glue parses an Expression with a SQL parser that refuses its reserved words as bare column
names (`key`), cannot filter on `boolean`, `double` or `float` keys, and refuses an Expression
longer than 2,048 characters (Glue API reference, GetPartitions). Every expression is written
here, so no key Glue would refuse ever reaches one; a table whose keys cannot be filtered is
read whole instead, and the caller says so.

An expression must also compare in time order: Glue compares whole-number keys as numbers and
string keys as text, so `month >= '09'` on AWS Config's unpadded `9`, `10` selects too much
(harmless for a window, which is checked afterwards) and `month <= '09'` too little (harmful for
retention); a day-first `dt` cannot be compared at all and is selected by its values instead.

Partition indexes (Glue docs, "Creating partition indexes"): a table without one makes Glue load
every partition and then filter; an index serves `=`, `<`, `<=`, `>`, `>=` and `BETWEEN` joined
by `AND`, while sub-expressions with `OR`, `IN`, `LIKE` or `NOT` are ignored by the index and
filtered afterwards. So where an index serves a table, a calendar window is also written as two
pieces whose union is the window (`year > Y`; `year = Y AND month >= M AND (month > M OR …)`):
the index selects by their AND-only part, a month or two of the table, and Glue filters the rest
on that. A date key (`dt >= '…'`) is one comparison, which an index serves as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modules.TimeKeys import CALENDAR_FIELDS, KeySplit, PartitionKey, TimeField, add_interval

# Glue refuses an Expression longer than 2,048 characters.
MAX_EXPRESSION = 2048
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The reserved words of the SQL parser behind Glue's expressions (JSqlParser's grammar): a key
# named one of these cannot be written bare into an expression.
RESERVED_WORDS = frozenset(
    [
        "as",
        "by",
        "do",
        "is",
        "in",
        "or",
        "on",
        "all",
        "and",
        "any",
        "key",
        "not",
        "set",
        "asc",
        "top",
        "end",
        "desc",
        "into",
        "null",
        "like",
        "drop",
        "join",
        "left",
        "from",
        "open",
        "case",
        "when",
        "then",
        "else",
        "some",
        "full",
        "with",
        "table",
        "where",
        "using",
        "union",
        "group",
        "begin",
        "index",
        "inner",
        "limit",
        "outer",
        "order",
        "right",
        "delete",
        "create",
        "select",
        "offset",
        "exists",
        "having",
        "insert",
        "update",
        "values",
        "escape",
        "primary",
        "natural",
        "replace",
        "between",
        "truncate",
        "distinct",
        "intersect",
    ]
)
# Types Glue filters on (string, whole and decimal numbers, dates); `varchar(n)`, `char(n)` and
# `decimal(p,s)` by their base name. `boolean`, `double`, `float` and complex types it refuses.
_FILTERABLE_TYPES = frozenset(
    {"string", "varchar", "char", "tinyint", "smallint", "int", "integer", "bigint", "decimal"}
    | {"date", "timestamp"}
)
_NUMERIC_TYPES = frozenset({"tinyint", "smallint", "int", "integer", "bigint", "decimal"})

_WINDOW_HOURS = (24, 7 * 24, 35 * 24, 400 * 24)
# A table with branches, whose time goes down to the hour, first reads its last few hours: a
# day of 200 hourly branches is 4,800 partitions, while every active branch has one in 3 hours.
_BRANCH_FIRST_HOURS = 3
_CALENDAR_WIDTH = {"year": 4, "month": 2, "day": 2, "hour": 2}


def base_type(key: PartitionKey) -> str:
    """`varchar(10)` → `varchar`, `decimal(10,2)` → `decimal`, in lower case."""
    return key.type.strip().lower().split("(", 1)[0].strip()


def unfilterable(key: PartitionKey) -> str | None:
    """Why Glue would refuse this key in an expression, or None when it can be filtered on."""
    if not _SAFE_NAME.fullmatch(key.name):
        return f"key {key.name!r} is not a plain identifier"
    if key.name.lower() in RESERVED_WORDS:
        return f"key {key.name!r} is a reserved word in Glue's expressions"
    if base_type(key) not in _FILTERABLE_TYPES:
        return f"key {key.name!r} of type {key.type} cannot be filtered on in Glue"
    return None


def filterable(keys: list[PartitionKey]) -> bool:
    """True when every one of `keys` can appear in an expression."""
    return not any(unfilterable(k) for k in keys)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _literal(key: PartitionKey, text: str) -> str:
    numeric = base_type(key) in _NUMERIC_TYPES and re.fullmatch(r"[+-]?\d+(\.\d+)?", text)
    return text if numeric else _quote(text)


def _calendar_literal(tf: TimeField, moment: datetime) -> str:
    """The moment's calendar field as this key writes it: a number, or zero-padded text."""
    name = tf.calendar_field or ""
    number = getattr(moment, name)
    if tf.numeric:
        return str(number)
    return _quote(str(number).zfill(_CALENDAR_WIDTH[name]))


# --------------------------------------------------------------------------- recent-end windows


@dataclass(frozen=True)
class RecentWindows:
    """Expressions selecting ever wider recent ends of a table, and a check that the partitions
    they return really have the date-like values the expressions assume."""

    expressions: list[str]
    fits: Callable[[dict[str, Any]], bool]
    # each window as pieces whose union is the window and whose AND-only part a partition
    # index serves, or None where the window names its values (a day-first date)
    pieces: list[list[str]] | None = None

    def reads(self, indexed: bool) -> list[list[str]]:
        """The expressions to read for each window: its pieces where an index serves them."""
        if indexed and self.pieces is not None:
            return self.pieces
        return [[e] for e in self.expressions]


def recent_windows(split: KeySplit, now: datetime) -> RecentWindows | None:
    """`GetPartitions` expressions on the table's time keys (which need not lead) for the last
    day, 7, 35 and 400 days (tables with branches and hours: the last 3 hours first), or None
    when no time key can select by time (then only a full read can find the newest ones)."""
    if not split.fields or unfilterable(split.fields[0].key):
        return None
    first = split.fields[0]
    hours = list(_WINDOW_HOURS)
    fmt = first.fmt
    if fmt is not None:
        if split.branch and fmt.unit in ("HOURS", "MINUTES", "SECONDS"):
            hours.insert(0, _BRANCH_FIRST_HOURS)
        pieces = None
        if first.glue_ordered:
            moments = [fmt.truncate(now - timedelta(hours=h)) for h in hours]
            expressions = [
                f"{first.key.name} >= {_literal(first.key, fmt.format(m))}" for m in moments
            ]
            pieces = [[e] for e in expressions]  # one comparison: an index serves it as is
        else:  # values that do not compare in time: name them, while they fit in one
            expressions = _enumerated_windows(first, now, hours)
        if not expressions:
            return None
        fits = lambda p: fmt.parse(p["Values"][first.index]) is not None  # noqa: E731
        return RecentWindows(expressions, fits, pieces)
    calendar = _calendar_run(split)
    if not calendar:
        return None
    if split.branch and len(calendar) == len(CALENDAR_FIELDS):
        hours.insert(0, _BRANCH_FIRST_HOURS)
    moments = [now - timedelta(hours=h) for h in hours]
    return RecentWindows(
        [tuple_at_least(calendar, m) for m in moments],
        lambda p: all(p["Values"][tf.index].isdigit() for tf in calendar),
        [_pieces_at_least(calendar, m) for m in moments],
    )


def _calendar_run(split: KeySplit) -> list[TimeField]:
    """The leading time keys that are year, month, day, hour in that order, side by side."""
    if not split.fields:
        return []
    first = split.fields[0]
    calendar: list[TimeField] = []
    for tf, name in zip(split.fields, CALENDAR_FIELDS, strict=False):
        if tf.calendar_field != name or tf.index != first.index + len(calendar):
            break
        if unfilterable(tf.key):
            break
        calendar.append(tf)
    return calendar


def index_keys(split: KeySplit) -> list[PartitionKey] | None:
    """The keys a partition index must lead with to serve the recent windows and retention, in
    that order: a date key (`dt`) alone, or the calendar run (`year, month, day, hour`). None
    when the windows filter on no time key."""
    if not split.fields or unfilterable(split.fields[0].key):
        return None
    if split.fields[0].fmt is not None:
        return [split.fields[0].key]
    return [tf.key for tf in _calendar_run(split)] or None


def _pieces_at_least(fields: list[TimeField], moment: datetime) -> list[str]:
    """`(year, month, …) >= (Y, M, …)` as two pieces an index on `(year, month, …)` serves:
    `year > Y`, and `year = Y AND month >= M AND (month > M OR …)`, where the index selects by
    the AND-only part (the window's months of year Y, a month or two) and Glue filters the `OR`
    part on what it selected. More pieces would load less but cost a call each: a call costs
    what loading some thousands of partitions does. `year =` cannot miss a value (four digits),
    so the pieces select what `tuple_at_least` selects."""
    terms = [(tf.key.name, _calendar_literal(tf, moment)) for tf in fields]
    (year, literal), rest = terms[0], terms[1:]
    if not rest:
        return [f"{year} >= {literal}"]
    return [f"{year} > {literal}", f"{year} = {literal} AND {_tuple_compare(rest, '>')}"]


def _enumerated_windows(tf: TimeField, now: datetime, hours: list[int]) -> list[str]:
    """`dt = '02-12-2026' OR dt = '01-12-2026' …` for each window whose values fit in one
    expression (a day-first date cannot be compared with `>=`)."""
    assert tf.fmt is not None
    expressions = []
    for h in hours:
        start = tf.fmt.truncate(now - timedelta(hours=h))
        values, moment = [], tf.fmt.truncate(now)
        while moment >= start:
            values.append(tf.fmt.format(moment))
            moment = add_interval(moment, -1, tf.fmt.unit)
        terms = " OR ".join(f"{tf.key.name} = {_literal(tf.key, v)}" for v in values)
        if len(terms) > MAX_EXPRESSION:
            break
        expressions.append(terms)
    return expressions


def tuple_at_least(fields: list[TimeField], moment: datetime) -> str:
    """`(year, month, day, hour) >= moment` as an expression Glue understands. On text keys
    whose values are not padded it selects more than that, never less."""
    return _tuple_compare([(tf.key.name, _calendar_literal(tf, moment)) for tf in fields], ">")


def _tuple_compare(terms: list[tuple[str, str]], strict: str) -> str:
    """`(a, b, c) >= (A, B, C)` (`strict` ">") or `<=` (`strict` "<") without tuple syntax or
    NOT, which Glue refuses: `a >= A AND (a > A OR b >= B) AND (a > A OR b > B OR c >= C)`.

    An old partition fails on the first terms of `>=`, so evaluating it costs a fraction of the
    textbook `a > A OR (a = A AND b > B) OR …` form on tables with a long history.
    """
    clauses = []
    for i, (name, literal) in enumerate(terms):
        options = [f"{n} {strict} {v}" for n, v in terms[:i]] + [f"{name} {strict}= {literal}"]
        clauses.append(options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")")
    return " AND ".join(clauses)


# --------------------------------------------------------------------------- branches


def branch_equality(keys: list[PartitionKey], values: tuple[str, ...]) -> str:
    """`region = 'eu' AND tenant = 'a'`: one branch, AND-only (what an index led by the branch
    keys serves). The keys are filterable: the caller's index was built on them."""
    return " AND ".join(f"{k.name} = {_literal(k, v)}" for k, v in zip(keys, values, strict=True))


def branch_expressions(
    keys: list[PartitionKey], branches: list[tuple[str, ...]], window: str | None = None
) -> list[str] | None:
    """Expressions selecting the partitions of these branches (within `window`, if given), as
    few as Glue's 2,048-character limit allows; None when a key cannot be written in one."""
    if not filterable(keys):
        return None
    suffix = f" AND ({window})" if window else ""
    expressions: list[str] = []
    terms: list[str] = []
    for values in branches:
        term = " AND ".join(
            f"{k.name} = {_literal(k, v)}" for k, v in zip(keys, values, strict=True)
        )
        candidate = "(" + " OR ".join([*terms, f"({term})"]) + ")" + suffix
        if terms and len(candidate) > MAX_EXPRESSION:
            expressions.append("(" + " OR ".join(terms) + ")" + suffix)
            terms = []
        terms.append(f"({term})")
    if terms:
        expressions.append("(" + " OR ".join(terms) + ")" + suffix)
    if any(len(e) > MAX_EXPRESSION for e in expressions):
        return None
    return expressions


# --------------------------------------------------------------------------- retention


def expired_expression(split: KeySplit, cutoff: datetime) -> str | None:
    """A `GetPartitions` expression that selects every partition whose period starts before
    `cutoff`, and a few more: the leading time keys that compare in time order compared with
    the cutoff's values, at most, key by key. Check each partition it returns exactly.
    None when the first time key does not compare that way (then only a full read finds them)."""
    terms = []
    for tf in split.fields:
        literal = _sortable_literal(tf, cutoff)
        if literal is None or unfilterable(tf.key):
            break
        terms.append((tf.key.name, literal))
    return _tuple_compare(terms, "<") if terms else None


def _sortable_literal(tf: TimeField, moment: datetime) -> str | None:
    """The moment as this key writes it, when Glue compares the key's values in time order: a
    calendar field (a number, or zero-padded text the values are known to share), or a date
    format that sorts (`yyyy-MM-dd`, `yyyy/MM/dd/HH`, `yyyyMMdd`). None otherwise."""
    if not tf.glue_ordered:
        return None
    if tf.calendar_field is not None:
        return _calendar_literal(tf, moment)
    assert tf.fmt is not None
    return _literal(tf.key, tf.fmt.format(moment))
