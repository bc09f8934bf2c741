"""What the integration tests share: the sample lake, S3 seeding, proxies and hooked clients,
the SQS queue and S3 event shapes, EMF checks. Test files import from here, never from each
other."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import jsonschema
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

import main
from tests.conftest import (
    CLOCK,
    REGION,
    Aws,
    LambdaContext,
    dumps,
)
from tests.faultproxy import FaultProxy, Faults, running

Values = tuple[str, ...]


Catalog = dict[str, dict[Values, str]]


DATABASE = "raw_lake"


# Athena's daily date projection on a key `dt` written `yyyy/MM/dd`, for template tables.
DAILY_PROJECTION = {
    "projection.enabled": "true",
    "projection.dt.type": "date",
    "projection.dt.format": "yyyy/MM/dd",
    "projection.dt.range": "2020/01/01,NOW",
    "projection.dt.interval": "1",
    "projection.dt.interval.unit": "DAYS",
}


BUCKET = "lake"


@dataclass
class Lake:
    """The one lake builder: a RAW database and a bucket, tables added with their data, and what
    the catalog should become. Every test that builds tables builds them here."""

    aws: Aws
    database: str = DATABASE
    bucket: str = BUCKET
    expected: Catalog = field(default_factory=dict)  # table -> values -> location
    registered: Catalog = field(default_factory=dict)  # registered before the run

    @classmethod
    def create(cls, aws: Aws, database: str = DATABASE, bucket: str = BUCKET) -> Lake:
        """A new bucket and database (a second database in the same bucket: `in_database`)."""
        aws.bucket(bucket)
        aws.database(database)
        return cls(aws, database, bucket)

    def in_database(self, database: str) -> Lake:
        """The same bucket, one more database; its tables are expected in the new `Lake` only."""
        self.aws.database(database)
        return Lake(self.aws, database, self.bucket)

    def catalog(self) -> Catalog:
        """The catalog as it is now, for every table of the lake."""
        return {t: self.aws.partitions(self.database, t) for t in self.expected}

    def table(
        self,
        name: str,
        keys: list[tuple[str, str]] | list[str],
        data: dict[Values, str],
        params: dict[str, str] | None = None,
        *,
        location: str | None = None,
        noise: list[str] = (),
        preregister: int = 0,
    ) -> dict[Values, str]:
        """Create table `name` at `s3://bucket/<location or name>/` and add its data (see `add`);
        returns the expected partitions (values -> location)."""
        path = location if location is not None else f"{name}/"
        self.aws.table(self.database, name, f"s3://{self.bucket}/{path}", keys, params)
        self.add(name, data, noise, preregister)
        return self.expected[name]

    def add(
        self,
        table: str,
        data: dict[Values, str],
        noise: list[str] = (),
        preregister: int = 0,
    ) -> None:
        """Put one data object per partition (key prefix → values) plus noise keys, and
        register the first `preregister` partitions as an earlier run would have."""
        keys = [f"{prefix}part-00000.json" for prefix in data.values()] + list(noise)
        seed_objects(self.bucket, keys)
        self.expected[table] = {v: f"s3://{self.bucket}/{p}" for v, p in data.items()}
        first = dict(sorted(self.expected[table].items())[:preregister])
        if first:
            self.aws.register(self.database, table, [(list(v), loc) for v, loc in first.items()])
        self.registered[table] = first


def hive_hours(path: str, hours: Iterable[datetime]) -> dict[Values, str]:
    """Hive `dt=YYYY-MM-dd/hour=HH/` under `path`, one per hour: values -> key prefix."""
    return {(f"{h:%Y-%m-%d}", f"{h:%H}"): f"{path}dt={h:%Y-%m-%d}/hour={h:%H}/" for h in hours}


def firehose_hours(path: str, hours: Iterable[datetime]) -> dict[Values, str]:
    """Firehose's `YYYY/MM/dd/HH/` under `path`, one per hour: values -> key prefix."""
    return {(f"{h:%Y}", f"{h:%m}", f"{h:%d}", f"{h:%H}"): f"{path}{h:%Y/%m/%d/%H}/" for h in hours}


def hours_before(moment: datetime, count: int) -> list[datetime]:
    """The `count` whole hours before `moment`, oldest first."""
    return [moment - timedelta(hours=h) for h in range(count, 0, -1)]


def entry(summary: dict[str, Any], table: str) -> dict[str, Any]:
    """The summary entry of one table."""
    return next(t for t in summary["tables"] if t["table"] == table)


def seed_objects(bucket: str, keys: Iterable[str], body: bytes = b'{"id": "1"}\n') -> None:
    """Put objects straight into the moto backend the server shares (the server takes ~300
    puts a second; listing them back still goes over HTTP)."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys:
        backend.put_object(bucket, key, body, disable_notification=True)


def days_back(n: int) -> list[datetime]:
    """The `n` days before today (UTC), oldest first, so template candidates stay recent."""
    today = CLOCK.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=i) for i in range(n, 0, -1)]


def template_parameters(table: str, fmt: str) -> dict[str, str]:
    """Athena partition projection of one date key `dt`, placed by a location template."""
    return {
        "storage.location.template": f"s3://{BUCKET}/{table}/${{dt}}/",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": fmt,
        "projection.dt.range": "2020-01-01,NOW" if fmt == "yyyy-MM-dd" else "2020/01/01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
    }


IGNORED = ["_SUCCESS", "_temporary/0/part-1.json", ".hive-staging_1/x.json", "x_$folder$"]


def build_lake(aws: Aws, scale: int = 1, preregister: bool = True) -> Lake:
    """Six tables, two per layout; `scale` multiplies the partition counts (1 → ~430)."""
    lake = Lake.create(aws)
    pre = 30 if preregister else 0
    hours = [day + timedelta(hours=h) for day in days_back(3 * scale) for h in range(24)]

    def noise(table: str) -> list[str]:
        return [f"{table}/{n}" for n in IGNORED]

    lake.table(
        "hive_hourly",
        ["dt", "hour"],
        hive_hours("hive_hourly/", hours),
        noise=noise("hive_hourly"),
        preregister=pre,
    )
    regions = {"eu:west": "eu%3Awest", "us east": "us east", "ap/south": "ap%2Fsouth"}
    lake.table(
        "hive_region",
        ["region", ("dt", "date")],
        {
            (r, f"{d:%Y-%m-%d}"): f"hive_region/region={esc}/dt={d:%Y-%m-%d}/"
            for r, esc in regions.items()
            for d in days_back(50 * scale)
        },
        noise=[f"hive_region/region=eu%3Awest/{n}" for n in IGNORED],
    )
    for name, n_days in (("firehose_a", 3 * scale), ("firehose_b", 2 * scale)):
        lake.table(
            name,
            ["year", "month", "day", "hour"],
            firehose_hours(f"{name}/", hours[-24 * n_days :]),
            noise=noise(name),
            preregister=pre if name.endswith("a") else 0,
        )
    for name, fmt, path, n_days in (
        ("template_day", "yyyy-MM-dd", "%Y-%m-%d", 120 * scale),
        ("template_slash", "yyyy/MM/dd", "%Y/%m/%d", 40 * scale),
    ):
        data = {(f"{d:{path}}",): f"{name}/{d:{path}}/" for d in days_back(n_days)}
        lake.table(
            name, ["dt"], data, template_parameters(name, fmt), noise=noise(name), preregister=pre
        )
    return lake


@contextmanager
def proxied(
    monkeypatch: pytest.MonkeyPatch, upstream: str, faults: Faults | None = None, **kw: Any
) -> Iterator[FaultProxy]:
    """A running proxy that the handler's boto3 clients go through until the block ends."""
    with running(upstream, faults, **kw) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        try:
            yield proxy
        finally:
            monkeypatch.setenv("AWS_ENDPOINT_URL", upstream)


def reset_moto(endpoint: str) -> None:
    """Forget every bucket, database and table."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


class ProcessDied(BaseException):
    """The Lambda process ending mid-run: not an Exception, so nothing inside catches it."""


@contextmanager
def hooked_clients(
    monkeypatch: pytest.MonkeyPatch, hooks: dict[str, Callable[..., None]]
) -> Iterator[None]:
    """Register botocore event hooks (event name → handler) on the clients the handler
    gets, for the duration of the block; they are unregistered afterwards, as the clients
    are cached for later invocations."""
    original = main.get_clients
    hooked: list[Any] = []

    def get_clients(*args: Any) -> Any:
        clients = original(*args)
        for client in (getattr(clients, f.name) for f in fields(clients)):
            for event, handler in hooks.items():
                client.meta.events.register(event, handler, unique_id=f"test-{event}")
            hooked.append(client)
        return clients

    monkeypatch.setattr(main, "get_clients", get_clients)
    try:
        yield
    finally:
        monkeypatch.setattr(main, "get_clients", original)
        for client in hooked:
            for event in hooks:
                client.meta.events.unregister(event, unique_id=f"test-{event}")


@contextmanager
def crash(
    monkeypatch: pytest.MonkeyPatch, after_answers: int | None = None, lowest_of: str | None = None
) -> Iterator[dict[str, Any]]:
    """Make the process 'die' mid-run: every AWS call from then on raises ProcessDied.

    `after_answers`: right after the n-th BatchCreatePartition answer (Glue has created those
    partitions; the handler never hears of it). `lowest_of`: when the batch holding table
    `lowest_of`'s lowest partition is about to be sent (its branches are listed at once, so that
    partition need not lead its batch), after a pause that lets any write
    running beside it finish (a crash with that batch in flight)."""
    state: dict[str, Any] = {"answers": 0, "dead": False}

    def before_build(model: Any, params: dict[str, Any], **_: Any) -> None:
        batch = params.get("PartitionInputList") or [{}]
        if (
            model.name == "BatchCreatePartition"
            and params.get("TableName") == lowest_of
            and any(p.get("Values") == list(state.setdefault("lowest", ())) for p in batch)
        ):
            time.sleep(1.0)
            state["dead"] = True
        if state["dead"]:
            raise ProcessDied

    def after_call(model: Any, **_: Any) -> None:
        if model.name == "BatchCreatePartition":
            state["answers"] += 1
            state["dead"] = state["dead"] or state["answers"] == after_answers
        if state["dead"]:
            raise ProcessDied

    hooks = {"before-parameter-build": before_build, "after-call": after_call}
    with hooked_clients(monkeypatch, hooks):
        yield state


class Queue:
    """A moto SQS queue the lake bucket notifies, and Lambda's SQS event built from it."""

    def __init__(self, aws: Aws) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint)
        self.url = self.sqs.create_queue(QueueName="raw-object-created")["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        self.arn = attributes["Attributes"]["QueueArn"]
        aws.s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": self.arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
                ]
            },
        )

    def receive(self) -> list[dict[str, Any]]:
        """Every message waiting, as Lambda's SQS records."""
        records = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return records
            for m in messages:
                records.append(self.record(m["Body"], m["MessageId"], m["ReceiptHandle"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def record(self, body: str, message_id: str, handle: str = "handle") -> dict[str, Any]:
        return {
            "messageId": message_id,
            "receiptHandle": handle,
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": REGION,
        }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def failures(answer: dict[str, Any]) -> set[str]:
    assert set(answer) == {"batchItemFailures"}, dumps(answer)
    return {f["itemIdentifier"] for f in answer["batchItemFailures"]}


def eventbridge(key: str, detail_type: str = "Object Created") -> dict[str, Any]:
    """An EventBridge S3 event as AWS documents it: the key is not URL-encoded."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-28T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def notification(
    key: str, event_name: str = "ObjectCreated:Put", bucket: str = BUCKET
) -> dict[str, Any]:
    """An S3 bucket notification for one object, its key URL-encoded as S3 sends it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventName": event_name,
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": 5},
                },
            }
        ]
    }


def sns(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "2a0c5c9a-0e0a-5b7f-a0b5-7c3f1f1c6c1c",
        "TopicArn": f"arn:aws:sns:{REGION}:123456789012:raw-objects",
        "Message": json.dumps(message),
    }


# The CloudWatch Embedded Metric Format specification, as a JSON schema (the `_aws` block);
# the target members (dimension values, metric values) are checked in `check_emf`.
UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
]  # fmt: skip


EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1},
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def check_emf(document: dict[str, Any]) -> dict[str, float]:
    """Validate one EMF document; return its metric values (one value each)."""
    jsonschema.validate(document, EMF_SCHEMA)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    for dimension in (d for group in directive["Dimensions"] for d in group):
        assert isinstance(document[dimension], str), dimension  # a target member
    values = {}
    for metric in directive["Metrics"]:
        value = document[metric["Name"]]
        value = value if isinstance(value, list) else [value]
        assert len(value) == 1 and all(isinstance(v, int | float) for v in value), metric
        values[metric["Name"]] = value[0]
    return values


def emf_documents(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@dataclass
class StartsClock(LambdaContext):
    """A Lambda context whose time falls by `step_ms` each time a table starts (the handler's
    `watch_table` hook) rather than at each look, so that looks inside a table do not count."""

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

    def tick(self, *_: Any) -> None:
        self.remaining_ms -= self.step_ms


def starts_clock(monkeypatch: pytest.MonkeyPatch, remaining_ms: int) -> StartsClock:
    """A StartsClock the handler ticks at each table start, a second a tick, for this test."""
    clock = StartsClock(remaining_ms, 1_000)
    monkeypatch.setattr(main, "watch_table", clock.tick)
    return clock
