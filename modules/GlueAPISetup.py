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
from modules.TimeKeys import JavaDateFormat, PartitionKey

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

_WINDOW_DAYS = (1, 7, 35, 400)
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_TYPES = {"tinyint", "smallint", "int", "integer", "bigint"}
_DATE_KEY_NAMES = {
    "dt",
    "date",
    "ds",
    "day",
    "event_date",
    "partition_date",
    "load_date",
    "ingestion_date",
    "p_date",
}
_CALENDAR_NAMES = (
    ("year", {"year", "yr", "yyyy"}, 4),
    ("month", {"month", "mon", "mm"}, 2),
    ("day", {"day", "dd"}, 2),
)


@dataclass(frozen=True)
class RecentWindows:
    """Expressions selecting ever wider recent ends of a table, and a check that the partitions
    they return really have the date-like values the expressions assume."""

    expressions: list[str]
    fits: Callable[[dict[str, Any]], bool]


def recent_windows(
    keys: list[PartitionKey], date_formats: dict[str, JavaDateFormat], now: datetime
) -> RecentWindows | None:
    """Build `GetPartitions` expressions for the last 1, 7, 35 and 400 days, or None when the
    leading keys are not date-like (then only a full read can find the newest partition)."""
    if not keys or not _SAFE_NAME.fullmatch(keys[0].name):
        return None
    first = keys[0]
    numeric = first.type.lower() in _INT_TYPES
    fmt = date_formats.get(first.name)
    if fmt is None and first.type.lower() == "date":
        fmt = JavaDateFormat("yyyy-MM-dd")
    if fmt is None and first.name.lower() in _DATE_KEY_NAMES:
        fmt = JavaDateFormat("yyyyMMdd" if numeric else "yyyy-MM-dd")
    if fmt is not None:

        def single(moment: datetime) -> str:
            text = fmt.format(fmt.truncate(moment))
            return f"{first.name} >= {text if numeric else _quote(text)}"

        return RecentWindows(
            [single(now - timedelta(days=d)) for d in _WINDOW_DAYS],
            lambda p: fmt.parse(p["Values"][0]) is not None,
        )
    calendar_keys = []
    for key, (field_name, names, width) in zip(keys, _CALENDAR_NAMES, strict=False):
        if key.name.lower() not in names or not _SAFE_NAME.fullmatch(key.name):
            break
        calendar_keys.append((key, field_name, width))
    if not calendar_keys:
        return None
    n = len(calendar_keys)
    return RecentWindows(
        [_tuple_at_least(calendar_keys, now - timedelta(days=d)) for d in _WINDOW_DAYS],
        lambda p: all(v.isdigit() for v in p["Values"][:n]),
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tuple_at_least(keys: list[tuple[PartitionKey, str, int]], moment: datetime) -> str:
    """`(year, month, day) >= moment` as an expression Glue understands (no tuple syntax).

    Written as `y >= Y AND (y > Y OR m >= M) AND (y > Y OR m > M OR d >= D)`: an old partition
    fails on its first terms, so evaluating it costs a fraction of the textbook
    `y > Y OR (y = Y AND m > M) OR …` form on tables with a long history.
    """

    def literal(key: PartitionKey, field_name: str, width: int) -> str:
        number = getattr(moment, field_name)
        return str(number) if key.type.lower() in _INT_TYPES else _quote(str(number).zfill(width))

    terms = []
    for i, (key, field_name, width) in enumerate(keys):
        options = [f"{k.name} > {literal(k, f, w)}" for k, f, w in keys[:i]]
        options.append(f"{key.name} >= {literal(key, field_name, width)}")
        terms.append(options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")")
    return " AND ".join(terms)


def find_recent_partitions(
    glue: Any, database: str, table: str, windows: RecentWindows | None
) -> tuple[list[dict[str, Any]], int]:
    """The registered partitions of the first window that has any (all of them as a fallback),
    and the number of `GetPartitions` reads it took."""
    reads = 0
    for expression in windows.expressions if windows else ():
        reads += 1
        found = get_partitions(glue, database, table, expression)
        if found:
            if all(windows.fits(p) for p in found):
                return found, reads
            break  # values are not what the window assumed: read everything instead
    return get_partitions(glue, database, table), reads + 1


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


def get_databases(glue: Any) -> list[str]:
    """The names of every database of the catalog (paginated), for event mode's table index."""
    names: list[str] = []
    for page in glue.get_paginator("get_databases").paginate():
        names.extend(d["Name"] for d in page.get("DatabaseList", ()))
    return names
