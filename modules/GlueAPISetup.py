"""The Glue calls: reading tables and partitions, batch writes (expressions are written in
GlueExpressions).

A filtered read whose expression Glue cannot evaluate on this table (a stored value of a typed
key that does not convert, such as Spark's `__HIVE_DEFAULT_PARTITION__` in an `int` key, fails
every expression on the table with `InvalidStateException`: aws/aws-sdk#670) reads the table
without a filter instead, and says so, so that such a table never stops moving forward.

Whole-table reads go in `Segment`s read at once (Glue serves up to 10: API reference,
GetPartitions), and every read keeps each partition's values and Location only, so that a table
of a million partitions fits in a Lambda's memory.

Writes are chunked to Glue's limits (100 creates, 25 deletes a call) and run concurrently;
per-item transient errors are retried with backoff and jitter within a bounded budget, and
whatever still fails is returned with its reason, never dropped.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from modules.AwsClientObj import backoff
from modules.AwsErrors import describe, error_code
from modules.GlueExpressions import (
    RecentWindows,
    branch_equality,
    branch_expressions,
    expired_expression,
)
from modules.Settings import Settings
from modules.TimeKeys import KeySplit, PartitionKey

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


def location_of(entity: dict[str, Any]) -> str:
    """The `Location` of a Glue table's or partition's storage descriptor ('' without one)."""
    return (entity.get("StorageDescriptor") or {}).get("Location") or ""


def get_tables(glue: Any, database: str) -> list[dict[str, Any]]:
    """Every table of a database (paginated)."""
    tables: list[dict[str, Any]] = []
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        tables.extend(page.get("TableList", ()))
    return tables


# What Glue answers for an expression it cannot evaluate on a table: a stored value that does not
# convert to its key's type (InvalidStateException), or a parse it refuses (InvalidInputException).
_EXPRESSION_ERRORS = frozenset({"InvalidStateException", "InvalidInputException"})


def read_database(glue: Any, database: str) -> tuple[list[dict[str, Any]], str | None]:
    """A database's tables, or none and why they could not be read (every mode words it so)."""
    try:
        return get_tables(glue, database), None
    except (ClientError, BotoCoreError) as exc:
        return [], f"reading database {database} failed: {describe(exc)}"


def get_partitions(
    glue: Any,
    database: str,
    table: str,
    expression: str | None = None,
    notes: list[str] | None = None,
    segments: int = 1,
) -> list[dict[str, Any]]:
    """Registered partitions (values and location only), optionally filtered by an expression;
    a whole-table read goes in `segments` segments at once. When Glue cannot evaluate the
    expression on this table, every partition is read instead and the reason is added to `notes`
    (the caller then holds the whole table)."""
    try:
        return _read(glue, database, table, expression, segments)
    except ClientError as exc:
        if not expression or error_code(exc) not in _EXPRESSION_ERRORS:
            raise
        if notes is not None:
            notes.append(f"read without a filter: Glue cannot evaluate one here ({describe(exc)})")
    return _read(glue, database, table, None, segments)


def _read(
    glue: Any, database: str, table: str, expression: str | None, segments: int = 1
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "DatabaseName": database,
        "TableName": table,
        "ExcludeColumnSchema": True,
    }
    if expression:
        params["Expression"] = expression
    if expression or segments <= 1:
        return _pages(glue, params)
    with ThreadPoolExecutor(segments, "glue-segment") as pool:
        parts = [
            pool.submit(_pages, glue, {**params, "Segment": _segment(n, segments)})
            for n in range(segments)
        ]
        return [p for part in parts for p in part.result()]


def _segment(number: int, total: int) -> dict[str, int]:
    return {"SegmentNumber": number, "TotalSegments": total}


def _pages(glue: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of one read, each partition cut down to its values and Location."""
    partitions: list[dict[str, Any]] = []
    for page in glue.get_paginator("get_partitions").paginate(**params):
        partitions.extend(_slim(p) for p in page.get("Partitions", ()))
    return partitions


def _slim(partition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Values": partition["Values"],
        "StorageDescriptor": {"Location": location_of(partition)},
    }


# GetPartitions' largest page (API reference, MaxResults).
PAGE = 1000


def first_page(
    glue: Any, database: str, table: str, count: int
) -> tuple[list[dict[str, Any]], bool]:
    """The first `count` registered partitions (at least), unfiltered (Glue loads no more than
    it returns), page after page as Glue answers them, and whether more follow."""
    params: dict[str, Any] = {
        "DatabaseName": database,
        "TableName": table,
        "ExcludeColumnSchema": True,
    }
    found: list[dict[str, Any]] = []
    while True:
        response = glue.get_partitions(**params)
        found += [_slim(p) for p in response.get("Partitions", ())]
        token = response.get("NextToken")
        if not token or len(found) >= count:
            return found, bool(token)
        params["NextToken"] = token


class RecentRead(NamedTuple):
    """What `find_recent_partitions` read: the partitions, the `GetPartitions` reads it took,
    whether that was the whole table, and how many windows were tried."""

    partitions: list[dict[str, Any]]
    reads: int
    complete: bool
    windows: int


def find_recent_partitions(
    glue: Any,
    database: str,
    table: str,
    windows: RecentWindows | None,
    notes: list[str] | None = None,
    indexed: bool = False,
    segments: int = 1,
) -> RecentRead:
    """The registered partitions of the first window that has any (all of them as a fallback).
    Where an index serves the table (`indexed`), each window is read as its AND-only pieces."""
    reads = 0
    notes = [] if notes is None else notes
    for tried, window in enumerate(windows.reads(indexed) if windows else (), 1):
        noted = len(notes)
        found = _read_all_of(glue, database, table, window, notes, segments)
        reads += len(window)
        if len(notes) > noted:  # Glue could not filter: this is the whole table
            return RecentRead(found, reads + 1, True, tried)
        if found:
            assert windows is not None
            if all(windows.fits(p) for p in found):
                return RecentRead(_unique(found), reads, False, tried)
            break  # values are not what the window assumed: read everything instead
    tried = len(windows.expressions) if windows else 0
    everything = get_partitions(glue, database, table, None, None, segments)
    return RecentRead(everything, reads + 1, True, tried)


def _read_all_of(
    glue: Any,
    database: str,
    table: str,
    expressions: list[str],
    notes: list[str],
    segments: int = 1,
) -> list[dict[str, Any]]:
    """The partitions of one window: its expressions read at once (a window's AND-only pieces
    cost one round trip, not one each). Where Glue cannot filter (a note is added), each answer
    is the whole table, read in `segments`: one of them is returned."""
    where = (glue, database, table)
    if len(expressions) == 1:
        return get_partitions(*where, expressions[0], notes, segments)
    noted = len(notes)
    with ThreadPoolExecutor(len(expressions), "glue-piece") as pool:
        parts = [pool.submit(get_partitions, *where, e, notes, segments) for e in expressions]
        answers = [part.result() for part in parts]
    if len(notes) > noted:
        return max(answers, key=len)
    return [p for answer in answers for p in answer]


def _unique(partitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pieces of a window are disjoint, but a partition written between two reads could be in
    both: one of each."""
    return list({tuple(p["Values"]): p for p in partitions}.values())


# Reading a few branches by name beats reading everything; past this many reads it does not.
_MAX_BRANCH_READS = 3
# Reads of one branch each, where an index serves them: each loads that branch alone.
_MAX_INDEXED_BRANCH_READS = 10


def read_branches(
    glue: Any,
    database: str,
    table: str,
    keys: list[PartitionKey],
    branches: list[tuple[str, ...]],
    windows: RecentWindows | None,
    windows_read: int,
    notes: list[str] | None = None,
    segments: int = 1,
    indexed: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Registered partitions of branches the recent window did not cover (a branch that went
    quiet, or one that is new): within the widest window first, unless that was read already,
    then whatever is left, whole. Returns them and the number of reads; falls back to one read of
    everything when the branches need more than a few expressions. Where an index led by the
    branch keys serves the table (`indexed`), each branch is read whole by itself instead: an
    AND-only expression the index answers with that branch's partitions alone."""
    if indexed and len(branches) <= _MAX_INDEXED_BRANCH_READS:
        found: list[dict[str, Any]] = []
        for values in branches:
            expression = branch_equality(keys, values)
            found += get_partitions(glue, database, table, expression, notes, segments)
        return _unique(found), len(branches)
    steps: list[str | None] = []
    if windows and windows_read < len(windows.expressions):
        steps.append(windows.expressions[-1])
    steps.append(None)
    found = []
    reads = 0
    left = list(branches)
    for window in steps:
        expressions = branch_expressions(keys, left, window)
        if expressions is None or len(expressions) > _MAX_BRANCH_READS:
            return get_partitions(glue, database, table, None, None, segments), reads + 1
        for expression in expressions:
            noted = len(notes) if notes is not None else 0
            found += get_partitions(glue, database, table, expression, notes, segments)
            reads += 1
            if notes is not None and len(notes) > noted:  # the whole table came back
                return found, reads + 1
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

    @classmethod
    def for_settings(cls, glue: Any, pool: Executor, settings: Settings) -> GlueWriter:
        """The writer every mode uses: the settings' attempts and backoff."""
        return cls(glue, pool, settings.max_attempts, settings.retry_base_delay)

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
                self.sleep(backoff(attempt, self.base_delay, self.max_delay))
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


def find_expired(
    glue: Any,
    database: str,
    table: str,
    split: KeySplit,
    cutoff: datetime,
    expired: Callable[[list[str]], bool],
    notes: list[str] | None = None,
    segments: int = 1,
) -> list[dict[str, Any]]:
    """The registered partitions that `expired` confirms, read with `expired_expression` (the
    whole table, in `segments`, where Glue cannot evaluate it)."""
    expression = expired_expression(split, cutoff)
    found = get_partitions(glue, database, table, expression, notes, segments)
    return [p for p in found if expired(p["Values"])]


def put_table_parameters(
    glue: Any, database: str, name: str, description: str, parameters: dict[str, str]
) -> None:
    """Write a table that only holds parameters (no columns, no data): update it, or create it
    the first time. `SkipArchive` keeps Glue from piling up a table version per write."""
    table_input = {"Name": name, "Description": description, "Parameters": parameters}
    try:
        glue.update_table(DatabaseName=database, TableInput=table_input, SkipArchive=True)
    except ClientError as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
        glue.create_table(DatabaseName=database, TableInput=table_input)


def get_databases(glue: Any) -> list[str]:
    """The names of every database of the catalog (paginated), for event mode's table index."""
    names: list[str] = []
    for page in glue.get_paginator("get_databases").paginate():
        names.extend(d["Name"] for d in page.get("DatabaseList", ()))
    return names
