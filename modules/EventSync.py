"""Event mode: register the partitions of the objects S3 announced, without listing S3 or reading
partitions.

Each object is matched to the deepest RAW table location (or template prefix) that holds it, using
an index of the RAW tables kept for `TABLE_INDEX_TTL_SECONDS` in a warm container; the table's
layout (the same `parse` the listing uses, so both paths agree on ignored names, folder markers,
depth, types and projections) gives the partition; partitions are grouped per table,
de-duplicated and created with `BatchCreatePartition` directly (`AlreadyExistsException` =
existing). Every partition remembers the SQS messages that announced it, so that exactly the
messages holding a partition that could not be registered are reported back for redelivery.

powertools' batch utility (BatchProcessor) is not used: it settles each SQS record on its own,
while here the records of a batch are grouped across messages per table and partition (a thousand
objects of one new partition cost one call), and a message fails only once the grouped write has
answered. Mapping the write outcome back to messages is the part that utility cannot do.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules import GlueAPISetup as glue_api
from modules import S3PrefixGeneration as s3p
from modules.AwsClientObj import AwsClients
from modules.AwsErrors import describe
from modules.ProcessLogger import get_logger
from modules.S3Events import CREATED, REMOVED, Delivery, ObjectEvent
from modules.Settings import Settings
from modules.TableControl import SWITCHED_OFF
from modules.TableReport import TableResult
from modules.TableSpec import TableSpec, run_table

# --------------------------------------------------------------------------- the table index


@dataclass(frozen=True)
class IndexedTable:
    """A RAW table and the key prefix its data lies under."""

    database: str
    table: dict[str, Any]
    bucket: str
    prefix: str  # the location's key prefix, or a template's part before its first placeholder


@dataclass
class TableIndex:
    """Where every RAW table's data lies, deepest prefix first per bucket."""

    by_bucket: dict[str, list[IndexedTable]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # database -> why it could not be read
    built_at: float = 0.0

    @property
    def complete(self) -> bool:
        """False when a database could not be read: an unmatched key may be one of its tables'."""
        return not self.errors

    def match(self, bucket: str, key: str) -> IndexedTable | None:
        """The table whose prefix is the longest one `key` starts with (nested tables win)."""
        for entry in self.by_bucket.get(bucket, ()):
            if key.startswith(entry.prefix):
                return entry
        return None


def _place(database: str, table: dict[str, Any]) -> IndexedTable | None:
    """Where a table's data lies: its template's fixed part, else its location; None when
    neither is an S3 place (such a table has nothing events could register)."""
    template = (table.get("Parameters") or {}).get(s3p.TEMPLATE_PARAMETER)
    location = glue_api.location_of(table)
    for url in (template, location):
        if not url or not s3p.is_s3_url(url):
            continue
        try:
            bucket, prefix = s3p.split_s3_url(url)
        except ValueError:
            continue
        if url is template:
            prefix = s3p.canonical_url(url)[len(f"s3://{bucket}/") :].split("${", 1)[0]
        return IndexedTable(database, table, bucket, prefix)
    return None


def build_index(glue: Any, settings: Settings, clock: float) -> TableIndex:
    """Read the RAW tables: `EVENT_DATABASES`, or every database matching the pattern.

    A database that cannot be read is noted in `errors` (the others are indexed); a failed
    `GetDatabases` raises, as nothing can be matched without it.
    """
    names = settings.event_database_names
    if not names:
        pattern = re.compile(settings.database_pattern)
        names = [d for d in glue_api.get_databases(glue) if pattern.search(d)]
    index = TableIndex(built_at=clock)
    for database in names:
        tables, error = glue_api.read_database(glue, database)
        if error:
            index.errors[database] = error
            continue
        for table in tables:
            entry = _place(database, table)
            if entry:
                index.by_bucket.setdefault(entry.bucket, []).append(entry)
    for entries in index.by_bucket.values():
        entries.sort(key=lambda e: len(e.prefix), reverse=True)
    return index


class IndexCache:
    """The index of a warm container: rebuilt after `TABLE_INDEX_TTL_SECONDS`, when the settings
    change, or on request (a key in a RAW bucket that matches no table)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._index: TableIndex | None = None
        self._key: tuple[str, str] | None = None

    def get(self, glue: Any, settings: Settings, refresh: bool = False) -> tuple[TableIndex, bool]:
        """The index, and whether it was built by this call."""
        key = (settings.database_pattern, settings.event_databases)
        with self._lock:
            index = self._index
            stale = (
                index is None
                or refresh
                or self._key != key
                or self.clock() - index.built_at >= settings.table_index_ttl_seconds
            )
            if not stale:
                return index, False
            index = build_index(glue, settings, self.clock())
            # An incomplete index is used once but not kept: the next invocation reads again.
            self._index, self._key = (index, key) if index.complete else (None, None)
            return index, True

    def clear(self) -> None:
        """Forget the index (tests; a new catalog)."""
        with self._lock:
            self._index, self._key = None, None


INDEX = IndexCache()


# --------------------------------------------------------------------------- one invocation


# Glue leaves a table the role has no Lake Formation grant on out of GetTables: its data then
# looks like data of no table at all (Lake Formation permissions reference).
UNMATCHED_HINT = (
    "no table this role can see covers these keys: not a RAW table's data, or a table hidden "
    "from this role (Lake Formation grants?)"
)


@dataclass
class EventRun:
    """What one invocation did: per-table results, the messages to redeliver, the counters."""

    results: list[TableResult] = field(default_factory=list)
    failed_messages: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # created objects under no visible table


def process(delivery: Delivery, clients: AwsClients, settings: Settings, now: datetime) -> EventRun:
    """Register the partitions of the created objects; never raises for a table's trouble."""
    created = [o for o in delivery.objects if o.kind == CREATED]
    removed = sum(1 for o in delivery.objects if o.kind == REMOVED)
    run = EventRun()
    failed: set[str] = set(delivery.unrecognised)
    groups: dict[tuple[str, str], tuple[IndexedTable, list[ObjectEvent]]] = {}
    if created:
        try:
            matched, misses, incomplete = _match(created, clients.glue, settings)
        except (ClientError, BotoCoreError) as exc:
            message = f"reading the RAW databases failed: {describe(exc)}"
            run.results.append(TableResult.failure("", None, message))
            matched, misses, incomplete = [], [], []
            failed |= {o.message_id for o in created if o.message_id}
        run.unmatched = [f"s3://{o.bucket}/{o.key}" for o in misses]
        if incomplete:  # the key may belong to a table of a database that could not be read
            failed |= {o.message_id for o in misses if o.message_id}
            run.results += [TableResult.failure(d, None, m) for d, m in incomplete]
        for entry, obj in matched:
            group = groups.setdefault((entry.database, entry.table["Name"]), (entry, []))
            group[1].append(obj)

    with (
        ThreadPoolExecutor(settings.glue_write_concurrency, "glue-write") as write_pool,
        ThreadPoolExecutor(settings.table_concurrency, "table") as table_pool,
    ):
        writer = glue_api.GlueWriter.for_settings(clients.glue, write_pool, settings)
        futures = [
            table_pool.submit(register_table, writer, entry, objects, now)
            for entry, objects in groups.values()
        ]
        for future in futures:
            result, lost = future.result()
            run.results.append(result)
            failed |= lost

    run.failed_messages = [m for m in delivery.message_ids if m in failed]
    run.counts = {
        "messages": delivery.messages,
        "records": len(delivery.objects),
        "test_events": delivery.test_events,
        "unrecognised": len(delivery.unrecognised),
        "unmatched": len(run.unmatched),
        "removed_ignored": removed,
        "other_ignored": len(delivery.objects) - len(created) - removed,
        "failed_messages": len(run.failed_messages),
    }
    _log(run, delivery, settings)
    return run


def _match(
    created: list[ObjectEvent], glue: Any, settings: Settings
) -> tuple[list[tuple[IndexedTable, ObjectEvent]], list[ObjectEvent], list[tuple[str, str]]]:
    """(table, object) pairs, the objects outside every RAW table, and the databases that could
    not be read. A key in a RAW bucket that matches no table refreshes the index once (a table
    created since the index was built), unless the index was built by this invocation."""
    index, fresh = INDEX.get(glue, settings)
    pairs = [(index.match(o.bucket, o.key), o) for o in created]
    if not fresh and any(e is None and o.bucket in index.by_bucket for e, o in pairs):
        index, _ = INDEX.get(glue, settings, refresh=True)
        pairs = [(e or index.match(o.bucket, o.key), o) for e, o in pairs]
    matched = [(e, o) for e, o in pairs if e is not None]
    misses = [o for e, o in pairs if e is None]
    incomplete = list(index.errors.items()) if misses else []
    return matched, misses, incomplete


def register_table(
    writer: glue_api.GlueWriter, entry: IndexedTable, objects: list[ObjectEvent], now: datetime
) -> tuple[TableResult, set[str]]:
    """Create one table's announced partitions; return its result and the messages holding a
    partition that could not be registered (every one of them when the table failed). Never
    raises."""
    lost = {o.message_id for o in objects if o.message_id}  # until the write answers

    def register(spec: TableSpec, result: TableResult) -> None:
        spec = spec.refined()  # nothing registered is read: names and types decide
        kept = _announced(spec, entry, objects, now, result)
        build = glue_api.partition_input_builder(spec.table)
        inputs = [build(values, location) for values, location in kept.locations]
        outcome = writer.create(spec.database, spec.name, inputs) if inputs else None
        lost.clear()
        if outcome:
            result.record_writes(outcome)
            for values in outcome.failed:
                lost.update(kept.owners.get(values, set()))

    result = run_table(entry.database, entry.table, register)
    result.scan = "events"
    if result.status == "skipped":  # left alone: nothing to redeliver
        if result.errors[:1] != [SWITCHED_OFF]:
            result.skipped = len(objects)
        return result, set()
    return result, lost


@dataclass
class _Announced:
    """One table's announced partitions, oldest first, and the messages that announced each."""

    locations: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    owners: dict[tuple[str, ...], set[str]] = field(default_factory=dict)


def _announced(
    spec: TableSpec,
    entry: IndexedTable,
    objects: list[ObjectEvent],
    now: datetime,
    result: TableResult,
) -> _Announced:
    """Parse the announced keys with the table's layout: the partitions to create (expired ones
    are never registered, by intent), and the skipped paths with their reasons."""
    # Nothing registered is read, so the announced keys are the samples that decide between
    # Hive and positional, for the whole table at once (as registered paths do in a listing).
    samples = [
        relative
        for o in objects
        if s3p.is_data_key(relative := o.key[len(entry.prefix) :]) and "/" in relative
    ]
    layout = spec.layout(now, samples)
    expired = spec.expiry(now)
    prefixes: dict[tuple[str, ...], str] = {}
    skipped: dict[str, str] = {}
    too_old: set[tuple[str, ...]] = set()
    announced = _Announced()
    for obj in objects:
        parsed = layout.parse(obj.key)
        if parsed is None or parsed.values is None:
            result.skipped += 1
            if parsed is not None:
                skipped.setdefault(parsed.prefix or obj.key, parsed.reason or "does not parse")
            continue
        if expired is not None and expired(parsed.values):
            too_old.add(parsed.values)
            continue
        prefixes.setdefault(parsed.values, parsed.prefix or "")
        if obj.message_id:
            announced.owners.setdefault(parsed.values, set()).add(obj.message_id)
    result.layout = layout.name
    result.expired = len(too_old)
    for prefix, reason in sorted(skipped.items()):
        result.errors.append(f"skipped {layout.url(prefix)}: {reason}")
    result.discovered = len(prefixes)
    announced.locations = [  # oldest first, as the scheduled run writes
        (values, layout.url(prefix))
        for values, prefix in sorted(
            prefixes.items(), key=lambda item: (spec.split.time_order(item[0]), item[1])
        )
    ]
    return announced


def _log(run: EventRun, delivery: Delivery, settings: Settings) -> None:
    """The invocation's one log line."""
    limit = settings.max_reported_errors
    get_logger().info(
        "events processed",
        extra={
            **run.counts,
            "tables": [
                {
                    "database": r.database,
                    "table": r.table,
                    "status": r.status,
                    "layout": r.layout,
                    **{c: getattr(r, c) for c in ("created", "existing", "skipped", "failed")},
                    "errors": r.errors[:limit],
                }
                for r in run.results
            ],
            "unrecognised_messages": dict(list(delivery.unrecognised.items())[:limit]),
            **(
                {"unmatched_keys": run.unmatched[:limit], "unmatched_hint": UNMATCHED_HINT}
                if run.unmatched
                else {}
            ),
            "failed_message_ids": run.failed_messages[:limit],
        },
    )
