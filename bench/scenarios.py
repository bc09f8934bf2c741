"""Benchmark scenarios: their tables, S3 objects and catalog states, seeded straight into moto's
in-process backends (uploads over HTTP run at ~300 objects/s, far too slow for ~90,000 objects).

Every table lives in its own bucket: moto's ListObjectsV2 walks every key of the bucket on each
call, a cost real S3 does not have, so one bucket per table keeps that artefact small and equal.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "us-east-1"

JSON_COLUMNS = (
    ("event_id", "string"),
    ("event_time", "timestamp"),
    ("user_id", "string"),
    ("event_type", "string"),
    ("payload", "string"),
)
PARQUET_COLUMNS = (
    ("record_id", "bigint"),
    ("source", "string"),
    ("quantity", "int"),
    ("amount", "decimal(12,2)"),
    ("updated_at", "timestamp"),
)


@dataclass(frozen=True, order=True)
class Partition:
    """One catalog partition as the correctness check sees it: its values and its Location."""

    values: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class PartitionDir:
    """A partition's directory under the table location, with the names of its data objects."""

    values: tuple[str, ...]
    rel: str
    objects: tuple[str, ...]


@dataclass
class TableSpec:
    """A table of a scenario: definition, what is registered at the start, and what is new in S3."""

    database: str
    name: str
    bucket: str
    prefix: str
    keys: tuple[str, ...]
    fmt: str
    registered: list[PartitionDir]
    new: list[PartitionDir]
    root_objects: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def partition(self, d: PartitionDir) -> Partition:
        return Partition(d.values, self.location + d.rel)

    def expected(self) -> set[Partition]:
        """The catalog a correct run leaves: everything registered plus everything new."""
        return {self.partition(d) for d in (*self.registered, *self.new)}

    def object_keys(self) -> Iterable[str]:
        """Every key in S3 under the table location."""
        for name in self.root_objects:
            yield self.prefix + name
        for d in (*self.registered, *self.new):
            for name in d.objects:
                yield self.prefix + d.rel + name

    def table_input(self) -> dict[str, Any]:
        """A Glue TableInput as Firehose (JSON, OpenX SerDe) or Spark (Parquet) tables have."""
        columns = JSON_COLUMNS if self.fmt == "json" else PARQUET_COLUMNS
        if self.fmt == "json":
            formats = {
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                    "Parameters": {"ignore.malformed.json": "true"},
                },
            }
            params = {"classification": "json", "EXTERNAL": "TRUE"}
        else:
            formats = {
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde."
                    "ParquetHiveSerDe",
                    "Parameters": {"serialization.format": "1"},
                },
            }
            params = {
                "classification": "parquet",
                "EXTERNAL": "TRUE",
                "parquet.compression": "SNAPPY",
            }
        return {
            "Name": self.name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": params,
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in self.keys],
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in columns],
                "Location": self.location,
                "Compressed": False,
                "NumberOfBuckets": -1,
                "BucketColumns": [],
                "SortColumns": [],
                "StoredAsSubDirectories": False,
                "Parameters": {},
                **formats,
            },
        }

    def partition_input(self, d: PartitionDir) -> dict[str, Any]:
        """A PartitionInput with the table's storage descriptor and the partition's own Location."""
        sd = dict(self.table_input()["StorageDescriptor"], Location=self.location + d.rel)
        return {"Values": list(d.values), "StorageDescriptor": sd, "Parameters": {}}


@dataclass
class Scenario:
    """A named starting state: tables, their registered partitions and the data in S3."""

    name: str
    description: str
    database: str
    tables: list[TableSpec]

    @property
    def expected_new(self) -> int:
        return sum(len(t.new) for t in self.tables)

    @property
    def lower_bound_calls(self) -> int:
        return lower_bound_calls(
            (sum(len(d.objects) for d in t.new), len(t.new)) for t in self.tables
        )


def lower_bound_calls(tables: Iterable[tuple[int, int]]) -> int:
    """Fewest API calls a run can make, counted the way the server answers: per table one read of
    the table, one read of its registered partitions (moto returns all in one call), one listing per
    1,000 new objects (at least one, to learn there is nothing new) and one create per 100 new."""
    return sum(
        2 + max(1, math.ceil(objects / 1000)) + math.ceil(new / 100) for objects, new in tables
    )


def compare(expected: set[Partition], actual: set[Partition]) -> tuple[bool, list[str]]:
    """Exact comparison of values and locations; returns (correct, a few differences to show)."""
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    notes = [f"missing {p.values} {p.location}" for p in missing[:3]]
    notes += [f"unexpected {p.values} {p.location}" for p in extra[:3]]
    if len(missing) > 3 or len(extra) > 3:
        notes.append(f"({len(missing)} missing, {len(extra)} unexpected in all)")
    return not missing and not extra, notes


def _uid(*parts: str) -> str:
    """A stable UUID so that every run of the benchmark sees the same key names."""
    return str(uuid.UUID(bytes=hashlib.md5("/".join(parts).encode()).digest()))


def _hours(end: datetime, count: int) -> list[datetime]:
    """`count` consecutive hours ending at `end`, oldest first."""
    return [end - timedelta(hours=i) for i in range(count - 1, -1, -1)]


def _days(end: datetime, count: int) -> list[datetime]:
    return [end - timedelta(days=i) for i in range(count - 1, -1, -1)]


def firehose_dir(stream: str, hour: datetime, per: int) -> PartitionDir:
    """Kinesis Firehose's default `YYYY/MM/dd/HH/` prefix and object names."""
    values = (f"{hour:%Y}", f"{hour:%m}", f"{hour:%d}", f"{hour:%H}")
    objects = tuple(
        f"{stream}-1-{hour:%Y-%m-%d-%H}-{15 * i:02d}-07-{_uid(stream, str(hour), str(i))}"
        for i in range(per)
    )
    return PartitionDir(values, "/".join(values) + "/", objects)


def spark_dir(
    table: str, names: tuple[str, ...], values: tuple[str, ...], per: int
) -> PartitionDir:
    """A Hive-style `k=v/` prefix holding Spark part files."""
    rel = "".join(f"{n}={v}/" for n, v in zip(names, values, strict=True))
    job = _uid(table, rel)
    objects = tuple(f"part-{i:05d}-{job}-c000.snappy.parquet" for i in range(per))
    return PartitionDir(values, rel, objects)


def _firehose_table(db: str, scn: str, name: str, registered: int, now: datetime) -> TableSpec:
    dirs = [firehose_dir(name, h, 4) for h in _hours(now, registered + 6)]
    return TableSpec(
        database=db,
        name=name,
        bucket=f"bench-{scn}-{name.replace('_', '-')}",
        prefix=f"firehose/{name}/",
        keys=("year", "month", "day", "hour"),
        fmt="json",
        registered=dirs[:registered],
        new=dirs[registered:],
    )


FIREHOSE_TABLES = ("clickstream", "app_events", "orders", "payments")


def build_scenarios(now: datetime | None = None) -> dict[str, Scenario]:
    """S1, S1L, S2, S3 and S4, with dates relative to the current UTC hour."""
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    today = now.replace(hour=0)

    def firehose(db: str, scn: str, registered: int) -> list[TableSpec]:
        return [_firehose_table(db, scn, n, registered, now) for n in FIREHOSE_TABLES]

    s2_tables = []
    for name in ("sales_daily", "inventory_daily"):
        dirs = [spark_dir(name, ("dt",), (f"{d:%Y-%m-%d}",), 20) for d in _days(today, 731)]
        s2_tables.append(
            TableSpec(
                database="raw_bench_s2",
                name=name,
                bucket=f"bench-s2-{name.replace('_', '-')}",
                prefix=f"spark/{name}/",
                keys=("dt",),
                fmt="parquet",
                registered=dirs[:-1],
                new=dirs[-1:],
                root_objects=("_SUCCESS",),
            )
        )

    s3_dirs = [
        spark_dir("sensor_readings", ("dt", "hour"), (f"{h:%Y-%m-%d}", f"{h:%H}"), 1)
        for h in _hours(now, 5000)
    ]
    s3_table = TableSpec(
        database="raw_bench_s3",
        name="sensor_readings",
        bucket="bench-s3-sensor-readings",
        prefix="backfill/sensor_readings/",
        keys=("dt", "hour"),
        fmt="parquet",
        registered=[],
        new=s3_dirs,
    )

    s1 = firehose("raw_bench_s1", "s1", 720)
    s4 = [replace(t, registered=t.registered + t.new, new=[]) for t in s1]
    scenarios = [
        Scenario(
            "S1",
            "hourly steady state: 4 Firehose tables, 720 h registered, 6 new hours each",
            "raw_bench_s1",
            s1,
        ),
        Scenario(
            "S1L",
            "long history: S1 with 2,880 h registered, the same 6 new hours",
            "raw_bench_s1l",
            firehose("raw_bench_s1l", "s1l", 2880),
        ),
        Scenario(
            "S2",
            "daily Hive steady state: 2 tables dt=, 730 days registered, 1 new day each",
            "raw_bench_s2",
            s2_tables,
        ),
        Scenario(
            "S3",
            "backfill: 1 table dt=/hour=, 5,000 partitions, none registered",
            "raw_bench_s3",
            [s3_table],
        ),
        Scenario("S4", "idle: S1 right after it ran, nothing new", "raw_bench_s1", s4),
    ]
    return {s.name: s for s in scenarios}


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
        body = b'{"event_id":"0","payload":"x"}\n' * 4
        for scenario in scenarios:
            for table in scenario.tables:
                if table.bucket in self.s3.buckets:
                    continue
                self.s3.create_bucket(table.bucket, REGION)
                for key in table.object_keys():
                    self.s3.put_object(table.bucket, key, body, disable_notification=True)
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

    def partitions(self, table: TableSpec) -> set[Partition]:
        """What the catalog holds now for the table."""
        fake = self.glue.databases[table.database].tables[table.name]
        return {
            Partition(
                tuple(p.values), p.partition_input.get("StorageDescriptor", {}).get("Location", "")
            )
            for p in fake.partitions.values()
        }
