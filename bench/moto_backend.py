"""moto's in-process backends for the benchmark: seeding and resetting the scenarios straight in
the backends (uploads over HTTP run at ~300 objects/s, far too slow for ~170,000 objects), and
three patches of the server's own work that change no response (see bench/README.md).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.scenarios import OBJECT_BODY, REGION, Partition, Scenario, TableSpec


def memoize_moto_timestamps() -> None:
    """Caches moto's timestamp conversion in this (server) process.

    moto's response serializer re-parses every object's LastModified with dateutil on every listing:
    a third of the server's time per listed key. The conversion is a pure function of its input, so
    caching it changes no response; it only makes listing-heavy runs (the full scans, mostly the
    peers') cheaper and the whole benchmark shorter.
    """
    import functools

    from moto.core import serialize

    if not hasattr(serialize.parse_to_aware_datetime, "cache_info"):
        serialize.parse_to_aware_datetime = functools.lru_cache(maxsize=1 << 18)(
            serialize.parse_to_aware_datetime
        )


@dataclass
class _KeysOnly:
    """A stand-in bucket holding only some of a bucket's keys, for moto's listing code."""

    keys: dict[str, Any]


def index_moto_listings() -> None:
    """Answers moto's flat `ListObjectsV2` (no `Delimiter`) from a sorted index of the bucket.

    moto collects and sorts every key of the bucket on each call, so a call's cost grows with the
    whole bucket; real S3 pays for the keys it returns. The index (rebuilt whenever the bucket's
    key count changes; the benchmark never changes objects after seeding) finds the first key with
    a bisection and returns the same page, truncation flag and continuation token as moto's own
    code; a listing with a `Delimiter` runs moto's own code over the keys under its prefix only.
    """
    from moto.s3.models import FakeDeleteMarker, S3Backend

    if getattr(S3Backend.list_objects_v2, "indexed", False):
        return
    original = S3Backend.list_objects_v2
    index: dict[int, tuple[int, list[str]]] = {}

    def list_objects_v2(
        self: Any,
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        if not hasattr(bucket, "keys"):
            return original(
                self, bucket, prefix, delimiter, continuation_token, start_after, max_keys
            )
        count, names = index.get(id(bucket), (-1, []))
        if count != len(bucket.keys):
            names = sorted(bucket.keys)
            index[id(bucket)] = (len(names), names)
        prefix = prefix or ""
        start = bisect.bisect_left(names, prefix)
        if delimiter:  # moto's own code, over the keys under the prefix only
            end = None
            if prefix:
                end = bisect.bisect_left(names, prefix[:-1] + chr(ord(prefix[-1]) + 1))
            under = _KeysOnly({name: bucket.keys[name] for name in names[start:end]})
            return original(
                self, under, prefix, delimiter, continuation_token, start_after, max_keys
            )
        limit = start_after
        if continuation_token:
            limit = self._pagination_tokens.get(continuation_token)
        if limit:
            start = max(start, bisect.bisect_right(names, limit))
        page = []
        for name in names[start:]:
            if not name.startswith(prefix) or len(page) > max_keys:
                break
            key = bucket.keys[name]
            if not isinstance(key, FakeDeleteMarker):
                page.append(key)
        return self._truncate_result(page, max_keys)

    list_objects_v2.indexed = True  # type: ignore[attr-defined]
    S3Backend.list_objects_v2 = list_objects_v2


def skip_moto_sqs_counts_on_send() -> None:
    """Spares moto's SendMessage the queue's message counts, in this (server) process.

    For each message sent, moto reads one attribute of the queue (`ContentBasedDeduplication`)
    through a property that builds all of them, counting every message of the queue three times
    for the `ApproximateNumberOfMessages*` values: sending n messages costs O(n^2), which SQS
    does not. While this thread handles a SendMessage (or each entry of a SendMessageBatch), the
    property returns only what the send reads; GetQueueAttributes and everything else still get
    moto's own answer.
    """
    from moto.sqs.models import Queue, SQSBackend

    if getattr(SQSBackend.send_message, "skips_counts", False):
        return
    sending = threading.local()
    full = Queue.attributes.fget
    original_send = SQSBackend.send_message

    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(sending, "active", False):
            return full(self)
        if not self.fifo_queue:  # the deduplication attribute exists on FIFO queues only
            return {}
        return {"ContentBasedDeduplication": str(self.content_based_deduplication).lower()}

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            sending.active = False

    send_message.skips_counts = True  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    SQSBackend.send_message = send_message


class MotoState:
    """Seeds and resets moto's in-process backends, which the ThreadedMotoServer in this same
    process serves; a reset swaps whole partition dicts, so it takes milliseconds."""

    def __init__(self, account_id: str, get_backend: Callable[[str], Any]) -> None:
        self.s3 = get_backend("s3")[account_id]["global"]
        self.glue = get_backend("glue")[account_id][REGION]
        self._start: dict[tuple[str, str], OrderedDict[str, Any]] = {}

    def seed_s3(self, scenarios: Iterable[Scenario]) -> int:
        """Puts every scenario's objects into its buckets (once per bucket); returns the count."""
        count = 0
        for scenario in scenarios:
            for table in scenario.tables:
                if table.bucket in self.s3.buckets:
                    continue
                self.s3.create_bucket(table.bucket, REGION)
                for key in table.object_keys():
                    self.s3.put_object(table.bucket, key, OBJECT_BODY, disable_notification=True)
                    count += 1
        return count

    def reset(self, scenario: Scenario) -> None:
        """Puts the scenario's database back to its starting state: fresh tables holding exactly
        the partitions registered at the start."""
        from moto.glue.models import FakePartition

        if scenario.database not in self.glue.databases:
            self.glue.create_database(scenario.database, {"Name": scenario.database})
        db = self.glue.databases[scenario.database]
        db.tables.clear()
        for table in scenario.tables:
            key = (scenario.name, table.name)
            if key not in self._start:
                parts = (
                    FakePartition(table.database, table.name, table.partition_input(d))
                    for d in table.registered
                )
                self._start[key] = OrderedDict((str(p.values), p) for p in parts)
            fake = self.glue.create_table(scenario.database, table.name, table.table_input())
            fake.partitions = OrderedDict(self._start[key])

    def partition_dicts(self, where: tuple[str, str]) -> list[dict[str, Any]] | None:
        """A table's partitions as GetPartitions answers them (timestamps as epoch seconds),
        straight from the backend; None when there is no such table."""
        database, name = where
        db = self.glue.databases.get(database)
        fake = db.tables.get(name) if db is not None else None
        if fake is None:
            return None
        return [_jsonable(p.as_dict()) for p in fake.partitions.values()]

    def partitions(self, table: TableSpec) -> set[Partition]:
        """What the catalog holds now for the table."""
        fake = self.glue.databases[table.database].tables[table.name]
        return {
            Partition(
                tuple(p.values), p.partition_input.get("StorageDescriptor", {}).get("Location", "")
            )
            for p in fake.partitions.values()
        }


def _jsonable(value: Any) -> Any:
    """Datetimes as epoch seconds (Glue's JSON timestamps), the rest as it is."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return value
