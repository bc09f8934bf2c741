"""Benchmark scenarios: their tables, S3 objects and catalog states (seeded into moto by
moto_backend.py), the lower bounds of their API calls, and, for the event scenario, the S3
notifications as Lambda receives them from SQS.

Every table lives in its own bucket: moto's ListObjectsV2 walks every key of the bucket on each
call, a cost real S3 does not have, so one bucket per table keeps that artefact small and equal.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

REGION = "us-east-1"
ACCOUNT = "123456789012"
OBJECT_BODY = b'{"event_id":"0","payload":"x"}\n' * 4

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
    branch_keys: int = 0

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def partition(self, d: PartitionDir) -> Partition:
        return Partition(d.values, self.location + d.rel)

    def expected(self) -> set[Partition]:
        """The catalog a correct run leaves: everything registered plus everything new."""
        return {self.partition(d) for d in (*self.registered, *self.new)}

    @property
    def lower_bound_calls(self) -> int:
        """The table's share of the lower bound (see lower_bound_calls / branch_lower_bound)."""
        new_objects = sum(len(d.objects) for d in self.new)
        if not self.branch_keys:
            return lower_bound_calls([(new_objects, len(self.new))])
        branches: dict[tuple[str, ...], int] = {}
        for d in (*self.registered, *self.new):
            branches.setdefault(d.values[: self.branch_keys], 0)
        for d in self.new:
            branches[d.values[: self.branch_keys]] += len(d.objects)
        return branch_lower_bound(list(branches), list(branches.values()), len(self.new))

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
    notifications: bool = False
    systems: tuple[str, ...] | None = None  # the only systems that run it (None: any)
    heavy: bool = False  # measured in the first round of each setting only (see run.py)

    @property
    def expected_new(self) -> int:
        return sum(len(t.new) for t in self.tables)

    @property
    def lower_bound_calls(self) -> int:
        return sum(t.lower_bound_calls for t in self.tables)

    @property
    def event_lower_bound_calls(self) -> int:
        """Fewest calls for event mode: the table index (one GetDatabases, one GetTables for the
        database) and one create per 100 new partitions of each table; no reads, no listings."""
        return 2 + sum(math.ceil(len(t.new) / 100) for t in self.tables)


def lower_bound_calls(tables: Iterable[tuple[int, int]]) -> int:
    """Fewest API calls a run can make, counted the way the server answers: per table one read of
    the table, one read of its registered partitions (moto returns all in one call), one listing per
    1,000 new objects (at least one, to learn there is nothing new) and one create per 100 new."""
    return sum(
        2 + max(1, math.ceil(objects / 1000)) + math.ceil(new / 100) for objects, new in tables
    )


def branch_lower_bound(
    branches: list[tuple[str, ...]], new_objects: list[int], new_partitions: int
) -> int:
    """Fewest calls for a table with branch keys: one read of the table and one of its partitions;
    finding the branches, one `Delimiter` listing per 1,000 children of every branch one level up
    (⌈branches/1000⌉ for one branch key); one listing per branch, ⌈its new objects/1000⌉ but at
    least one; and one create per 100 new partitions. `new_objects[i]` belongs to `branches[i]`."""
    levels = len(branches[0]) if branches else 0
    finding = 0
    for level in range(levels):
        children: dict[tuple[str, ...], set[str]] = {}
        for b in branches:
            children.setdefault(b[:level], set()).add(b[level])
        finding += sum(math.ceil(len(c) / 1000) for c in children.values())
    listing = sum(max(1, math.ceil(n / 1000)) for n in new_objects)
    return 2 + finding + listing + math.ceil(new_partitions / 100)


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
        f"{stream}-1-{hour:%Y-%m-%d-%H}-{60 * i // per:02d}-07-{_uid(stream, str(hour), str(i))}"
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
    return _firehose_spec(db, scn, name, dirs[:registered], dirs[registered:])


def _firehose_spec(
    db: str, scn: str, name: str, registered: list[PartitionDir], new: list[PartitionDir]
) -> TableSpec:
    """A Firehose table (`YYYY/MM/dd/HH/`, JSON) of scenario `scn`, in a bucket of its own."""
    return TableSpec(
        database=db,
        name=name,
        bucket=f"bench-{scn}-{name.replace('_', '-')}",
        prefix=f"firehose/{name}/",
        keys=("year", "month", "day", "hour"),
        fmt="json",
        registered=registered,
        new=new,
    )


FIREHOSE_TABLES = ("clickstream", "app_events", "orders", "payments")
# 16 regions with history, and the 17th that appears today: it sorts between the others, so a
# run has to find it among known branches, not only after the last one.
LOG_REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
NEW_LOG_REGION = "eu-south-1"
E1_RECENT_HOURS = 80  # per table, after the newest registered hour
E1_LATE_HOURS = 20  # per table, holes in the registered history that data now fills
E1_OBJECTS_PER_PARTITION = 25  # 4 tables x 100 new partitions x 25 = 10,000 new objects
F1_TABLES = 500  # small Firehose feeds: 24 hours registered, 2 new hours each
F1_SYSTEMS = ("this-chain", "this-fanout")


def service_log_dir(region: str, day: datetime, per: int) -> PartitionDir:
    """CloudTrail-style `<region>/yyyy/MM/dd/` with its object names."""
    values = (region, f"{day:%Y}", f"{day:%m}", f"{day:%d}")
    objects = tuple(
        f"{ACCOUNT}_CloudTrail_{region}_{day:%Y%m%d}T{(i * 72) // 60:02d}{(i * 72) % 60:02d}Z_"
        f"{_uid(region, str(day), str(i))[:16]}.json.gz"
        for i in range(per)
    )
    return PartitionDir(values, "/".join(values) + "/", objects)


def dynamic_dir(stream: str, customer: str, hour: datetime, per: int) -> PartitionDir:
    """Firehose dynamic partitioning: `customer_id=<id>/year=/month=/day=/hour=/`."""
    values = (customer, f"{hour:%Y}", f"{hour:%m}", f"{hour:%d}", f"{hour:%H}")
    names = ("customer_id", "year", "month", "day", "hour")
    rel = "".join(f"{n}={v}/" for n, v in zip(names, values, strict=True))
    objects = tuple(
        f"{stream}-1-{hour:%Y-%m-%d-%H}-{20 * i:02d}-11-{_uid(stream, rel, str(i))}"
        for i in range(per)
    )
    return PartitionDir(values, rel, objects)


# S7: one table of tenants x hours (Firehose dynamic partitioning by tenant), a million-partition
# table's shape at a size the machine seeds in seconds: 50 tenants x 2,000 hours = 100,000
# partitions registered; S7T is the same table with a tenth of the history.
S7_TENANTS = tuple(f"t{100 + 2 * i:03d}" for i in range(50))
S7_NEW_TENANTS = ("t121", "t157")  # new today, sorting between known ones
S7_HOURS = 2000
S7_NEW_HOURS = 12


def tenant_dirs(tenant: str, hours: list[tuple[str, str, str, str]]) -> list[PartitionDir]:
    """`tenant=<id>/year=/month=/day=/hour=/` with one object each, for these hours (their
    year, month, day, hour: formatted once for every tenant)."""
    dirs = []
    for y, m, d, h in hours:
        rel = f"tenant={tenant}/year={y}/month={m}/day={d}/hour={h}/"
        objects = (f"events-{tenant}-{y}{m}{d}{h}-0000.json",)
        dirs.append(PartitionDir((tenant, y, m, d, h), rel, objects))
    return dirs


def _tenant_table(db: str, hours: int, now: datetime) -> TableSpec:
    """S7's table: `hours` hours registered in every tenant, then 12 new hours in every tenant
    and 2 new tenants with 12 hours each."""
    parts = [
        (f"{h:%Y}", f"{h:%m}", f"{h:%d}", f"{h:%H}") for h in _hours(now, hours + S7_NEW_HOURS)
    ]
    old, fresh = parts[:hours], parts[hours:]
    registered = [d for t in S7_TENANTS for d in tenant_dirs(t, old)]
    new = [d for t in sorted((*S7_TENANTS, *S7_NEW_TENANTS)) for d in tenant_dirs(t, fresh)]
    bucket = f"bench-{db.replace('_', '-')}"
    keys = ("tenant", "year", "month", "day", "hour")
    return TableSpec(
        db,
        "tenant_events",
        bucket,
        "firehose/tenant_events/",
        keys,
        "json",
        registered,
        new,
        branch_keys=1,
    )


def _late_table(db: str, name: str, offset: int, now: datetime) -> TableSpec:
    """E1's Firehose table: 720 hours registered with holes, then 100 new partitions: the
    E1_RECENT_HOURS after the newest registered hour and E1_LATE_HOURS inside the holes."""
    history = _hours(now - timedelta(hours=E1_RECENT_HOURS), 720 + E1_LATE_HOURS)
    step = len(history) // E1_LATE_HOURS
    holes = {1 + offset + step * i for i in range(E1_LATE_HOURS)}
    registered = [firehose_dir(name, h, 4) for i, h in enumerate(history) if i not in holes]
    new = [firehose_dir(name, history[i], E1_OBJECTS_PER_PARTITION) for i in sorted(holes)]
    new += [firehose_dir(name, h, E1_OBJECTS_PER_PARTITION) for h in _hours(now, E1_RECENT_HOURS)]
    return _firehose_spec(db, "e1", name, registered, new)


def _small_feed(name: str, now: datetime) -> TableSpec:
    """F1's table: a Firehose feed of one object an hour, 24 hours registered, 2 new."""
    dirs = [firehose_dir(name, h, 1) for h in _hours(now, 26)]
    return _firehose_spec("raw_bench_f1", "f1", name, dirs[:24], dirs[24:])


def build_scenarios(now: datetime | None = None) -> dict[str, Scenario]:
    """S1 to S6, E1 and F1, with dates relative to the current UTC hour."""
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

    yesterday = today - timedelta(days=1)
    s5_dirs = [service_log_dir(r, d, 20) for r in LOG_REGIONS for d in _days(yesterday, 90)]
    s5_new = [service_log_dir(r, today, 20) for r in sorted((*LOG_REGIONS, NEW_LOG_REGION))]
    s5_table = TableSpec(
        database="raw_bench_s5",
        name="cloudtrail_logs",
        bucket="bench-s5-cloudtrail-logs",
        prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/",
        keys=("region", "year", "month", "day"),
        fmt="json",
        registered=s5_dirs,
        new=s5_new,
        branch_keys=1,
    )
    customers = [f"{100001 + i}" for i in range(200)]
    stream = "orders_by_customer"
    s6_dirs = [
        dynamic_dir(stream, c, h, 2)
        for c in customers
        for h in _hours(now - timedelta(hours=1), 72)
    ]
    s6_table = TableSpec(
        database="raw_bench_s6",
        name=stream,
        bucket="bench-s6-orders-by-customer",
        prefix=f"firehose/{stream}/",
        keys=("customer_id", "year", "month", "day", "hour"),
        fmt="json",
        registered=s6_dirs,
        new=[dynamic_dir(stream, c, now, 2) for c in customers],
        branch_keys=1,
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
        Scenario(
            "S5",
            "service logs: 1 table <region>/yyyy/MM/dd/, 16 regions x 90 days registered, "
            "today in every region plus a 17th region new today",
            "raw_bench_s5",
            [s5_table],
        ),
        Scenario(
            "S6",
            "dynamic partitioning: 1 table customer_id=/year=/month=/day=/hour=/, 200 customers "
            "x 72 hours registered, the current hour new for every customer",
            "raw_bench_s6",
            [s6_table],
        ),
        Scenario(
            "E1",
            "S3 events: 4 Firehose tables, 720 h registered with holes, 10,000 new objects in 400 "
            "new partitions (80 late), delivered as SQS batches of S3 notifications",
            "raw_bench_e1",
            [_late_table("raw_bench_e1", n, i, now) for i, n in enumerate(FIREHOSE_TABLES)],
            notifications=True,
        ),
        Scenario(
            "F1",
            f"fan-out: {F1_TABLES} small Firehose tables, 24 h registered, 2 new hours each; "
            "fanned out over 10 workers against one chain of invocations",
            "raw_bench_f1",
            [_small_feed(f"feed_{i:03d}", now) for i in range(F1_TABLES)],
            systems=F1_SYSTEMS,
        ),
        Scenario(
            "S7",
            f"one big table: {len(S7_TENANTS)} tenants x {S7_HOURS:,} hours registered "
            f"({len(S7_TENANTS) * S7_HOURS:,} partitions), {S7_NEW_HOURS} new hours in every "
            f"tenant and {len(S7_NEW_TENANTS)} new tenants",
            "raw_bench_s7",
            [_tenant_table("raw_bench_s7", S7_HOURS, now)],
            heavy=True,
        ),
        Scenario(
            "S7T",
            f"S7 with a tenth of the history ({len(S7_TENANTS) * S7_HOURS // 10:,} partitions)",
            "raw_bench_s7t",
            [_tenant_table("raw_bench_s7t", S7_HOURS // 10, now)],
            heavy=True,
        ),
    ]
    return {s.name: s for s in scenarios}


def s3_notification(table: TableSpec, key: str, event_time: datetime) -> dict[str, Any]:
    """The body S3 sends for one new object, with the key URL-encoded as S3 encodes it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": event_time.isoformat(timespec="milliseconds")[:23] + "Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": _uid("req", key)[:16].upper(),
                    "x-amz-id-2": _uid("id2", key),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "raw-partition-events",
                    "bucket": {
                        "name": table.bucket,
                        "ownerIdentity": {"principalId": "AEXAMPLE"},
                        "arn": f"arn:aws:s3:::{table.bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": len(OBJECT_BODY),
                        "eTag": hashlib.md5(OBJECT_BODY).hexdigest(),
                        "sequencer": f"{int(event_time.timestamp() * 1000):016X}",
                    },
                },
            }
        ]
    }


def sqs_message(body: dict[str, Any], queue: str, sent: datetime) -> dict[str, Any]:
    """One record of the event Lambda receives from an SQS event source mapping."""
    text = json.dumps(body)
    millis = str(int(sent.timestamp() * 1000))
    return {
        "messageId": _uid("message", text),
        "receiptHandle": "AQEB" + hashlib.sha256(text.encode()).hexdigest(),
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": millis,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": millis,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def sqs_batches(scenario: Scenario, now: datetime, size: int = 10_000) -> list[dict[str, Any]]:
    """The scenario's new objects as Lambda SQS events of up to `size` records, one S3
    notification per message: in path order across the tables, late data (below the newest
    registered partition) last, all landed within the last minutes before `now`."""
    queue = f"{scenario.database.replace('_', '-')}-events"
    landed: list[tuple[bool, str, str, TableSpec]] = []
    for table in scenario.tables:
        newest = max((d.rel for d in table.registered), default="")
        for d in table.new:
            landed += [(d.rel < newest, d.rel, table.prefix + d.rel + n, table) for n in d.objects]
    landed.sort(key=lambda item: item[:3])
    messages = []
    for i, (_, _, key, table) in enumerate(landed):
        at = now - timedelta(milliseconds=20 * (len(landed) - i))
        messages.append(sqs_message(s3_notification(table, key, at), queue, at))
    return [{"Records": messages[i : i + size]} for i in range(0, len(messages), size)]
