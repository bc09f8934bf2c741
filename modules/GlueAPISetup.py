"""Everything that talks to the Glue API: reading tables and partitions, batch writes.

Writes are chunked to Glue's limits (100 creates, 25 deletes a call) and run concurrently;
per-item transient errors are retried with backoff and jitter within a bounded budget, and
whatever still fails is returned with its reason, never dropped.
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules.S3PrefixGeneration import describe
from modules.TimeKeys import CALENDAR_FIELDS, INT_TYPES, KeySplit, PartitionKey, TimeField

CREATE_CHUNK = 100
DELETE_CHUNK = 25
RETRYABLE_ITEM_ERRORS = frozenset(
    {
        "InternalServiceException",
        "OperationTimeoutException",
        "ThrottlingException",
        "ConcurrentModificationException",
    }
)
# Storage-descriptor fields a partition inherits from its table (Location is the partition's own).
_SD_FIELDS = (
    "Columns",
    "InputFormat",
    "OutputFormat",
    "Compressed",
    "NumberOfBuckets",
    "SerdeInfo",
    "BucketColumns",
    "SortColumns",
    "Parameters",
    "SkewedInfo",
    "StoredAsSubDirectories",
    "SchemaReference",
)

Values = tuple[str, ...]


# --------------------------------------------------------------------------- reads


def get_tables(glue: Any, database: str) -> list[dict[str, Any]]:
    """Every table of a database (paginated)."""
    tables: list[dict[str, Any]] = []
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        tables.extend(page.get("TableList", ()))
    return tables


def get_partitions(
    glue: Any, database: str, table: str, expression: str | None = None
) -> list[dict[str, Any]]:
    """Registered partitions (values and location only), optionally filtered by an expression."""
    params: dict[str, Any] = {
        "DatabaseName": database,
        "TableName": table,
        "ExcludeColumnSchema": True,
    }
    if expression:
        params["Expression"] = expression
    partitions: list[dict[str, Any]] = []
    for page in glue.get_paginator("get_partitions").paginate(**params):
        partitions.extend(page.get("Partitions", ()))
    return partitions


# --------------------------------------------------------------------------- recent-end windows

_WINDOW_HOURS = (24, 7 * 24, 35 * 24, 400 * 24)
# A table with branches, whose time goes down to the hour, first reads its last few hours: a
# day of 200 hourly branches is 4,800 partitions, while every active branch has one in 3 hours.
_BRANCH_FIRST_HOURS = 3
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CALENDAR_WIDTH = {"year": 4, "month": 2, "day": 2, "hour": 2}
# Glue refuses an Expression longer than 2,048 characters.
MAX_EXPRESSION = 2048


@dataclass(frozen=True)
class RecentWindows:
    """Expressions selecting ever wider recent ends of a table, and a check that the partitions
    they return really have the date-like values the expressions assume."""

    expressions: list[str]
    fits: Callable[[dict[str, Any]], bool]


def recent_windows(split: KeySplit, now: datetime) -> RecentWindows | None:
    """`GetPartitions` expressions on the table's time keys (which need not lead) for the last
    day, 7, 35 and 400 days (tables with branches and hours: the last 3 hours first), or None
    when no time key sorts by time (then only a full read can find the newest partitions)."""
    if not split.fields or not _SAFE_NAME.fullmatch(split.fields[0].key.name):
        return None
    first = split.fields[0]
    hours = list(_WINDOW_HOURS)
    fmt = first.fmt
    if fmt is not None:
        if split.branch and fmt.unit in ("HOURS", "MINUTES", "SECONDS"):
            hours.insert(0, _BRANCH_FIRST_HOURS)

        def single(moment: datetime) -> str:
            text = fmt.format(fmt.truncate(moment))
            return f"{first.key.name} >= {_literal(first.key, text)}"

        return RecentWindows(
            [single(now - timedelta(hours=h)) for h in hours],
            lambda p: fmt.parse(p["Values"][first.index]) is not None,
        )
    calendar = []
    for tf, name in zip(split.fields, CALENDAR_FIELDS, strict=False):
        safe = _SAFE_NAME.fullmatch(tf.key.name)
        if tf.calendar_field != name or tf.index != first.index + len(calendar) or not safe:
            break
        calendar.append(tf)
    if not calendar:
        return None
    if split.branch and len(calendar) == len(CALENDAR_FIELDS):
        hours.insert(0, _BRANCH_FIRST_HOURS)
    return RecentWindows(
        [_tuple_at_least(calendar, now - timedelta(hours=h)) for h in hours],
        lambda p: all(p["Values"][tf.index].isdigit() for tf in calendar),
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _literal(key: PartitionKey, text: str) -> str:
    return text if key.type.strip().lower() in INT_TYPES else _quote(text)


def _calendar_literal(tf: TimeField, moment: datetime) -> str:
    """The moment's calendar field as this key writes it: a number, or zero-padded text."""
    name = tf.calendar_field or ""
    number = getattr(moment, name)
    if tf.key.type.strip().lower() in INT_TYPES:
        return str(number)
    return _quote(str(number).zfill(_CALENDAR_WIDTH[name]))


def _tuple_at_least(fields: list[TimeField], moment: datetime) -> str:
    """`(year, month, day, hour) >= moment` as an expression Glue understands."""
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


def find_recent_partitions(
    glue: Any, database: str, table: str, windows: RecentWindows | None
) -> tuple[list[dict[str, Any]], int, bool]:
    """The registered partitions of the first window that has any (all of them as a fallback),
    the number of `GetPartitions` reads it took, and whether that was a read of everything."""
    reads = 0
    for expression in windows.expressions if windows else ():
        reads += 1
        found = get_partitions(glue, database, table, expression)
        if found:
            if all(windows.fits(p) for p in found):
                return found, reads, False
            break  # values are not what the window assumed: read everything instead
    return get_partitions(glue, database, table), reads + 1, True


def branch_expressions(
    keys: list[PartitionKey], branches: list[tuple[str, ...]], window: str | None = None
) -> list[str] | None:
    """Expressions selecting the partitions of these branches (within `window`, if given), as
    few as Glue's 2,048-character limit allows; None when a key name cannot be written in one."""
    if not all(_SAFE_NAME.fullmatch(k.name) for k in keys):
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


# Reading a few branches by name beats reading everything; past this many reads it does not.
_MAX_BRANCH_READS = 3


def read_branches(
    glue: Any,
    database: str,
    table: str,
    keys: list[PartitionKey],
    branches: list[tuple[str, ...]],
    windows: RecentWindows | None,
    reads_done: int,
) -> tuple[list[dict[str, Any]], int]:
    """Registered partitions of branches the recent window did not cover (a branch that went
    quiet, or one that is new): within the widest window first, unless that was read already,
    then whatever is left, whole. Returns them and the number of reads; falls back to one read of
    everything when the branches need more than a few expressions."""
    steps: list[str | None] = []
    if windows and reads_done < len(windows.expressions):
        steps.append(windows.expressions[-1])
    steps.append(None)
    found: list[dict[str, Any]] = []
    reads = 0
    left = list(branches)
    for window in steps:
        expressions = branch_expressions(keys, left, window)
        if expressions is None or len(expressions) > _MAX_BRANCH_READS:
            return get_partitions(glue, database, table), reads + 1
        for expression in expressions:
            found += get_partitions(glue, database, table, expression)
            reads += 1
        covered = {tuple(p["Values"][: len(keys)]) for p in found}
        left = [b for b in left if b not in covered]
        if not left:
            break
    return found, reads


# --------------------------------------------------------------------------- writes


def partition_input_builder(
    table: dict[str, Any],
) -> Callable[[Iterable[str], str], dict[str, Any]]:
    """Build PartitionInputs whose storage descriptor is the table's, each with its own Location.

    The table's descriptor is copied once and shared by every partition of the run (nothing
    mutates it): a deep copy per partition costs more than the rest of a 5,000-partition backfill.
    """
    table_sd = table.get("StorageDescriptor") or {}
    shared = copy.deepcopy({k: table_sd[k] for k in _SD_FIELDS if k in table_sd})

    def build(values: Iterable[str], location: str) -> dict[str, Any]:
        location = location if location.endswith("/") else location + "/"
        return {"Values": list(values), "StorageDescriptor": {**shared, "Location": location}}

    return build


def partition_input(table: dict[str, Any], values: Iterable[str], location: str) -> dict[str, Any]:
    """One PartitionInput (see `partition_input_builder`)."""
    return partition_input_builder(table)(values, location)


@dataclass
class WriteOutcome:
    """Per-partition result of a batch write."""

    done: list[Values] = field(default_factory=list)  # created (or removed) by this call
    already: list[Values] = field(default_factory=list)  # someone else did it first
    failed: dict[Values, str] = field(default_factory=dict)  # values -> reason
    calls: int = 0
    # a call failed, or transient errors outlasted the budget: worth trying again later, unlike
    # items Glue refused for good
    incomplete: bool = False

    def merge(self, other: WriteOutcome) -> None:
        """Fold another chunk's outcome into this one."""
        self.done.extend(other.done)
        self.already.extend(other.already)
        self.failed.update(other.failed)
        self.calls += other.calls
        self.incomplete = self.incomplete or other.incomplete


class GlueWriter:
    """Batch creates and deletes, chunked, concurrent, with per-item retries."""

    def __init__(
        self,
        glue: Any,
        pool: Executor,
        max_attempts: int = 8,
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.glue = glue
        self.pool = pool
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep

    def create(self, database: str, table: str, inputs: list[dict[str, Any]]) -> WriteOutcome:
        """Create partitions; `AlreadyExistsException` items count as already there."""

        def call(batch: list[dict[str, Any]]) -> dict[str, Any]:
            return self.glue.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=batch
            )

        items = [(tuple(p["Values"]), p) for p in inputs]
        return self._write(call, items, CREATE_CHUNK, "AlreadyExistsException")

    def delete(self, database: str, table: str, values: list[Values]) -> WriteOutcome:
        """Remove catalog entries (never data); `EntityNotFoundException` items are gone already."""

        def call(batch: list[dict[str, Any]]) -> dict[str, Any]:
            return self.glue.batch_delete_partition(
                DatabaseName=database, TableName=table, PartitionsToDelete=batch
            )

        items = [(v, {"Values": list(v)}) for v in values]
        return self._write(call, items, DELETE_CHUNK, "EntityNotFoundException")

    def _write(
        self,
        call: Callable[[list[dict[str, Any]]], dict[str, Any]],
        items: list[tuple[Values, dict[str, Any]]],
        chunk: int,
        already_code: str,
    ) -> WriteOutcome:
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        outcome = WriteOutcome()
        futures = [self.pool.submit(self._write_chunk, call, c, already_code) for c in chunks]
        for future in futures:
            outcome.merge(future.result())
        return outcome

    def _write_chunk(
        self,
        call: Callable[[list[dict[str, Any]]], dict[str, Any]],
        items: list[tuple[Values, dict[str, Any]]],
        already_code: str,
    ) -> WriteOutcome:
        """One chunk: resend only the items that failed transiently, until the budget is spent."""
        outcome = WriteOutcome()
        pending = dict(items)
        last_reason: dict[Values, str] = {}
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(min(self.max_delay, self.base_delay * 2**attempt) * random.random())
            outcome.calls += 1
            try:
                response = call(list(pending.values()))
            except (ClientError, BotoCoreError) as exc:
                # botocore has already retried throttling, 5xx and connection errors.
                reason = describe(exc)
                outcome.failed.update(dict.fromkeys(pending, reason))
                outcome.incomplete = True
                return outcome
            retry: dict[Values, dict[str, Any]] = {}
            errors = {tuple(e.get("PartitionValues", ())): e for e in response.get("Errors", ())}
            for values, payload in pending.items():
                error = errors.get(values)
                if error is None:
                    outcome.done.append(values)
                    continue
                detail = error.get("ErrorDetail", {})
                code = detail.get("ErrorCode", "UnknownError")
                if code == already_code:
                    outcome.already.append(values)
                elif code in RETRYABLE_ITEM_ERRORS:
                    retry[values] = payload
                    last_reason[values] = f"{code}: {detail.get('ErrorMessage', '')}".rstrip(": ")
                else:
                    reason = f"{code}: {detail.get('ErrorMessage', '')}".rstrip(": ")
                    outcome.failed[values] = reason
            pending = retry
            if not pending:
                return outcome
        for values in pending:
            outcome.failed[values] = f"{last_reason[values]} (gave up after {self.max_attempts})"
        outcome.incomplete = True
        return outcome


# --------------------------------------------------------------------------- retention

_SORTED_FIELDS = ("year", "month", "day", "hour", "minute", "second")


def expired_expression(split: KeySplit, cutoff: datetime) -> str | None:
    """A `GetPartitions` expression that selects every partition whose period starts before
    `cutoff`, and a few more: the leading time keys that sort as text (or numbers) compared
    with the cutoff's values, at most, key by key. Check each partition it returns exactly.
    None when the first time key does not sort that way (then only a full read finds them)."""
    terms = []
    for tf in split.fields:
        literal = _sortable_literal(tf, cutoff)
        if literal is None or not _SAFE_NAME.fullmatch(tf.key.name):
            break
        terms.append((tf.key.name, literal))
    return _tuple_compare(terms, "<") if terms else None


def find_expired(
    glue: Any,
    database: str,
    table: str,
    split: KeySplit,
    cutoff: datetime,
    expired: Callable[[list[str]], bool],
) -> list[dict[str, Any]]:
    """The registered partitions that `expired` confirms, read with `expired_expression`."""
    expression = expired_expression(split, cutoff)
    return [p for p in get_partitions(glue, database, table, expression) if expired(p["Values"])]


def _sortable_literal(tf: TimeField, moment: datetime) -> str | None:
    """The moment as this key writes it, when the key's values sort in time order: a calendar
    field (zero-padded as text), or a date format whose fields run from the year down with fixed
    widths (`yyyy-MM-dd`, `yyyy/MM/dd/HH`, `yyyyMMdd`). None otherwise."""
    if tf.calendar_field is not None:
        return _calendar_literal(tf, moment)
    fmt = tf.fmt
    if fmt is None or fmt.fields != list(_SORTED_FIELDS[: len(fmt.fields)]):
        return None
    widths = [text for kind, text in fmt.tokens if kind == "field"]
    if widths[0] != "yyyy" or any(len(w) != 2 for w in widths[1:]):
        return None
    text = fmt.format(moment)
    numeric = tf.key.type.strip().lower() in INT_TYPES
    return text if numeric and text.isdigit() else _quote(text)


def get_databases(glue: Any) -> list[str]:
    """The names of every database of the catalog (paginated), for event mode's table index."""
    names: list[str] = []
    for page in glue.get_paginator("get_databases").paginate():
        names.extend(d["Name"] for d in page.get("DatabaseList", ()))
    return names
