"""Fan-out end to end over HTTP against the moto server: a scatter queues one work message per
table to a moto SQS queue, and the test plays Lambda's SQS event source mapping (receive a batch,
call the handler with the event Lambda builds, delete what did not fail, let the rest come back
after the visibility timeout, a redrive policy moving a message to the dead-letter queue after
maxReceiveCount receives) with several workers in threads. The catalog must equal one long
run's, under throttling and with a worker killed mid-table; a poison message must end in the
dead-letter queue; a dry run must change nothing; a scatter that cannot queue must say exactly
which tables it did not queue."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

import main
from modules import EventSync, WorkQueue
from modules.ProcessLogger import SERVICE
from modules.Settings import Options, Settings
from tests.conftest import CLOCK, REGION, Aws, FakeContext, dumps
from tests.faultproxy import Faults
from tests.helpers import (
    Lake,
    ProcessDied,
    check_emf,
    emf_documents,
    hive_hours,
    hooked_clients,
    hours_before,
    notification,
    proxied,
    seed_objects,
)
from tests.strictlayer import StrictLayer

BUCKET = "fan-lake"
DATABASES = ("raw_fan_a", "raw_fan_b", "raw_fan_c")
NOW = CLOCK.replace(tzinfo=None, minute=0, second=0, microsecond=0)
Catalog = dict[tuple[str, str], dict[tuple[str, ...], str]]


# --------------------------------------------------------------------------- the lake


def build_lake(aws: Aws, tables: int = 40, databases: tuple[str, ...] = DATABASES) -> list[str]:
    """`tables` Hive tables (dt/hour) per database: one to three new hours each, every fifth
    with its oldest hour registered already (so it runs incrementally), and `t00_archive` nested
    in `t00`'s location (which must pass over it). Returns the databases."""
    first = Lake.create(aws, databases[0], BUCKET)
    for database in databases:
        lake = first if database == databases[0] else first.in_database(database)
        for i in range(tables - 1):
            path = f"{database}/t{i:02d}/"
            data = hive_hours(path, hours_before(NOW, 1 + i % 3))
            lake.table(
                f"t{i:02d}", ["dt", "hour"], data, location=path, preregister=int(i % 5 == 4)
            )
        archive = f"{database}/t00/archive/"
        data = {(f"{NOW:%Y-%m-%d}",): f"{archive}dt={NOW:%Y-%m-%d}/"}
        lake.table("t00_archive", ["dt"], data, location=archive)
    return list(databases)


def catalog(aws: Aws, databases: list[str]) -> Catalog:
    """Every partitioned table's partitions: (database, table) -> values -> location."""
    found: Catalog = {}
    for database in databases:
        for table in aws.glue.get_tables(DatabaseName=database)["TableList"]:
            if table.get("PartitionKeys"):
                found[(database, table["Name"])] = aws.partitions(database, table["Name"])
    return found


def restore(aws: Aws, before: Catalog) -> None:
    """Remove every partition that was not registered in `before`."""
    databases = sorted({d for d, _ in before})
    for (database, table), partitions in catalog(aws, databases).items():
        extra = [{"Values": list(v)} for v in partitions if v not in before[(database, table)]]
        for i in range(0, len(extra), 25):
            aws.glue.batch_delete_partition(
                DatabaseName=database, TableName=table, PartitionsToDelete=extra[i : i + 25]
            )
    assert catalog(aws, databases) == before


def long_run(aws: Aws, databases: list[str], lines: list[logging.LogRecord]) -> Any:
    """One uninterrupted scheduled run: its catalog and each table's `table synced` counts;
    the catalog is then put back as it was."""
    before = catalog(aws, databases)
    summary = main.lambda_handler({"databases": databases}, None)
    assert summary["status"] == "succeeded" and summary["remaining"] == [], dumps(summary)
    expected = catalog(aws, databases)
    counts = {(r.database, r.table): r.counts for r in synced(lines)}
    restore(aws, before)
    lines.clear()
    return expected, counts, summary


@pytest.fixture
def lines() -> Iterator[list[logging.LogRecord]]:
    """Every log line the function writes (powertools' records, with `extra` as attributes)."""
    records: list[logging.LogRecord] = []
    lock = threading.Lock()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with lock:
                records.append(record)

    handler = Keep()
    logging.getLogger(SERVICE).addHandler(handler)
    yield records
    logging.getLogger(SERVICE).removeHandler(handler)


def synced(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.getMessage() == "table synced"]


def finished(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.getMessage() == "work finished"]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every call the handler's clients make: (operation, parameters)."""
    made: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        with lock:
            made.append((model.name, params))

    with hooked_clients(monkeypatch, {"before-parameter-build": record}):
        yield made


# --------------------------------------------------------------------------- the mapping


@dataclass
class Mapping:
    """Lambda's SQS event source mapping on the work queue, played by the test (AWS Lambda
    developer guide, "Using Lambda with Amazon SQS": the event's records, batch item failures
    with `ReportBatchItemFailures`, a failed invocation's messages back after the visibility
    timeout; Amazon SQS developer guide, "Using dead-letter queues": `maxReceiveCount`)."""

    sqs: Any
    url: str
    arn: str
    dead_letters: str
    batch_size: int = 10
    crashes: int = 0
    invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    receiving: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, aws: Aws, visibility: int = 30, max_receives: int = 3) -> Mapping:
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint)
        name = f"work-{uuid.uuid4().hex[:8]}"
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": str(max_receives),
        }
        attributes = {"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return cls(sqs, url, arn["Attributes"]["QueueArn"], dlq)

    def receive(self) -> list[dict[str, Any]]:
        """Up to a batch of visible messages, as the records of Lambda's SQS event. One receive
        at a time: moto's ReceiveMessage is not atomic across threads (two can get the same
        message), while SQS hands a message to one receiver within its visibility timeout."""
        with self.receiving:
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=self.batch_size, AttributeNames=["All"]
            )
        return [self.record(m) for m in got.get("Messages", [])]

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": REGION,
        }

    def invoke(self, records: list[dict[str, Any]], context: Any = None) -> set[str]:
        """One invocation: the messages it handed back; the others are deleted."""
        answer = main.lambda_handler({"Records": records}, context)
        assert set(answer) == {"batchItemFailures"}, dumps(answer)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for record in records:
            if record["messageId"] not in failed:
                self.delete(record["receiptHandle"])
        return failed

    def delete(self, handle: str) -> None:
        """Delete a received message. A handle from an earlier receive (the message came back
        while its invocation still ran) deletes nothing: SQS answers success, moto an error."""
        with contextlib.suppress(self.sqs.exceptions.ReceiptHandleIsInvalid):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=handle)

    def waiting(self, url: str | None = None) -> int:
        """Messages visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def drain(self, workers: int = 4, context: Callable[[], Any] = lambda: None) -> None:
        """Workers in threads until the queue is empty; a worker whose invocation dies (a
        ProcessDied) leaves its messages in flight, as Lambda does after a function error."""
        busy = [0]

        def worker() -> None:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                with self.lock:
                    busy[0] += 1
                records = self.receive()
                try:
                    if records:
                        self.invoke(records, context())
                        self.invocations += 1
                except ProcessDied:
                    with self.lock:
                        self.crashes += 1
                finally:
                    with self.lock:
                        busy[0] -= 1
                if not records:
                    with self.lock:
                        idle = busy[0] == 0
                    if idle and self.waiting() == 0:
                        return
                    time.sleep(0.2)
            raise AssertionError("the queue did not drain")

        errors: list[BaseException] = []

        def run() -> None:
            try:
                worker()
            except BaseException as exc:  # surfaced in the test's thread below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors

    def dead_letters_bodies(self) -> list[dict[str, Any]]:
        bodies = []
        while got := self.sqs.receive_message(QueueUrl=self.dead_letters, MaxNumberOfMessages=10):
            if not got.get("Messages"):
                break
            for message in got["Messages"]:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.dead_letters, ReceiptHandle=message["ReceiptHandle"]
                )
        return bodies


def ample() -> FakeContext:
    """A Lambda context with 15 minutes left: no worker runs short."""
    return FakeContext(900_000)


def fan_out(databases: list[str], **options: Any) -> dict[str, Any]:
    return main.lambda_handler({"databases": databases, "fan_out": True, **options}, None)


# --------------------------------------------------------------------------- tests


def test_fan_out_of_3_databases_of_40_tables_equals_one_long_run(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[logging.LogRecord],
    calls: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The scatter reads the tables with GetTables only and queues one message per table with
    SendMessageBatch, 10 a call within 256 KiB (Amazon SQS API Reference, SendMessageBatch);
    four workers leave the catalog of one long run, each table synced once with the same counts,
    every `table synced` and `work finished` line carrying the run's id, and the EMF metrics
    adding up to the long run's."""
    databases = build_lake(aws)
    expected, counts, long = long_run(aws, databases, lines)
    capsys.readouterr()
    calls.clear()
    mapping = Mapping.create(aws)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    summary = fan_out(databases)
    assert summary["status"] == "succeeded" and summary["remaining"] == [], dumps(summary)
    assert summary["queued"] == {"tables": 120, "messages": 120}
    run_id = str(uuid.UUID(summary["run_id"]))
    scatter = Counter(op for op, _ in calls)
    assert scatter == {"GetTables": 3, "SendMessageBatch": 12}, scatter
    for _, params in (c for c in calls if c[0] == "SendMessageBatch"):
        entries = params["Entries"]
        assert len(entries) <= 10
        assert sum(len(e["MessageBody"].encode()) for e in entries) <= 262_144

    mapping.drain(workers=4, context=ample)
    assert catalog(aws, databases) == expected
    lines_by_table = Counter((r.database, r.table) for r in synced(lines))
    assert set(lines_by_table.values()) == {1} and len(lines_by_table) == 120
    assert {(r.database, r.table): r.counts for r in synced(lines)} == counts
    assert {r.run_id for r in synced(lines)} == {run_id}
    work = finished(lines)
    assert {r.run_id for r in work} == {run_id} and all(not r.failed_messages for r in work)
    assert sum(r.totals["created"] for r in work) == long["totals"]["created"] > 0
    assert sum(r.messages for r in work) == 120
    documents = emf_documents(capsys.readouterr().out)
    created = sum(check_emf(d).get("PartitionsCreated", 0) for d in documents)
    assert created == long["totals"]["created"]
    assert mapping.waiting(mapping.dead_letters) == 0


def test_throttling_and_a_worker_killed_mid_table_lose_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, lines: list[logging.LogRecord]
) -> None:
    """Glue throttled (a quarter of the calls), S3 SlowDown and partly failed batches through
    the fault proxy, and one worker dying while it writes a table: the dead invocation's
    messages come back after the visibility timeout (AWS Lambda developer guide, "Handling errors
    for an SQS event source in Lambda"), and the catalog still ends as one long run's."""
    databases = build_lake(aws, tables=8)
    expected, _, _ = long_run(aws, databases, lines)
    mapping = Mapping.create(aws, visibility=6)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    killed: dict[str, Any] = {}

    def die_once(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "BatchCreatePartition" and params.get("TableName") == "t05":
            with mapping.lock:
                first = not killed
                killed.setdefault("table", (params["DatabaseName"], params["TableName"]))
            if first:
                raise ProcessDied

    faults = Faults(glue_throttle=0.25, s3_slowdown=0.15, batch_partial=0.2)
    with (
        proxied(monkeypatch, aws.endpoint, faults, seed=11) as proxy,
        hooked_clients(monkeypatch, {"before-parameter-build": die_once}),
    ):
        summary = fan_out(databases)
        assert summary["queued"]["tables"] == 24, dumps(summary)
        mapping.drain(workers=3, context=ample)
    assert mapping.crashes == 1 and killed["table"][1] == "t05"
    assert proxy.fault_counts()["ThrottlingException"] > 0, proxy.fault_counts()
    assert catalog(aws, databases) == expected
    assert mapping.waiting(mapping.dead_letters) == 0


def test_poison_messages_end_in_the_dead_letter_queue(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, lines: list[logging.LogRecord]
) -> None:
    """A table that cannot be synced (its location is not in S3) and work messages that do not
    read come back on every delivery and, after maxReceiveCount receives, rest in the
    dead-letter queue (Amazon SQS developer guide, "Using dead-letter queues"); every other table
    is synced, and the `work finished` lines say why each message came back."""
    databases = build_lake(aws, tables=4, databases=("raw_fan_a",))
    aws.table("raw_fan_a", "in_hdfs", "hdfs://namenode/in_hdfs/", ["dt"])
    mapping = Mapping.create(aws, visibility=1, max_receives=2)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    summary = fan_out(databases)
    assert summary["queued"]["tables"] == 5
    poison = [
        {"work": WorkQueue.MARKER, "databases": ["curated"], "tables": ["x"], "run_id": "r1"},
        {"work": WorkQueue.MARKER, "databases": ["raw_fan_a"], "tables": ["t01"]},
    ]
    for body in poison:
        mapping.sqs.send_message(QueueUrl=mapping.url, MessageBody=json.dumps(body))
    mapping.drain(workers=2, context=ample)
    dead = mapping.dead_letters_bodies()
    assert sorted(d.get("tables", [""])[0] for d in dead) == ["in_hdfs", "t01", "x"], dead
    assert all(aws.partitions("raw_fan_a", t) for t in ("t00", "t01", "t02", "t00_archive"))
    reasons = " | ".join(why for r in finished(lines) for why in (r.failed_messages or {}).values())
    assert "raw_fan_a.in_hdfs failed" in reasons and "RAW_DATABASE_PATTERN" in reasons
    assert "carries a 'run_id'" in reasons


def test_a_dry_run_fans_out_and_changes_nothing(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[logging.LogRecord],
    calls: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`dry_run` travels in every message: the workers compute and report what they would
    create, write nothing (no partition, no state) and emit no metrics."""
    databases = build_lake(aws, tables=6)
    before = catalog(aws, databases)
    mapping = Mapping.create(aws)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    capsys.readouterr()
    summary = fan_out(databases, dry_run=True)
    assert summary["dry_run"] is True and summary["queued"]["tables"] == 18
    mapping.drain(workers=2, context=ample)
    assert catalog(aws, databases) == before
    writes = {op for op, _ in calls} & {
        "BatchCreatePartition",
        "BatchDeletePartition",
        "CreateTable",
        "UpdateTable",
    }
    assert writes == set(), writes
    assert sum(r.counts["created"] for r in synced(lines)) > 0  # what would be created
    assert len(synced(lines)) == 18
    assert emf_documents(capsys.readouterr().out) == []


def test_a_scatter_without_its_queue_fails_and_names_every_table(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    """WORK_QUEUE_URL unset, or a queue that does not exist (AWS.SimpleQueueService.
    NonExistentQueue, Amazon SQS API Reference): status failed, nothing queued, every table in
    `remaining`, and a `continuation` event that queues them again under the same run_id."""
    databases = build_lake(aws, tables=3, databases=("raw_fan_a",))
    names = ["t00", "t00_archive", "t01"]
    monkeypatch.delenv("WORK_QUEUE_URL", raising=False)
    summary = fan_out(databases, mode="sync", run_id="nightly-7")
    assert summary["status"] == "failed" and summary["queued"] == {"tables": 0, "messages": 0}
    assert [r["table"] for r in summary["remaining"]] == names
    assert summary["errors"] == [
        "3 table(s) not queued (see 'remaining'): WORK_QUEUE_URL is not set"
    ]
    assert summary["continuation"] == [
        {"databases": ["raw_fan_a"], "tables": names, "mode": "sync", "fan_out": True,
         "run_id": "nightly-7"}
    ]  # fmt: skip
    assert "SendMessageBatch" not in {op for op, _ in calls}

    mapping = Mapping.create(aws)
    gone = mapping.url.rsplit("/", 1)[0] + "/no-such-queue"
    monkeypatch.setenv("WORK_QUEUE_URL", gone)
    summary = fan_out(databases)
    assert summary["status"] == "failed" and len(summary["remaining"]) == 3, dumps(summary)
    [error] = summary["errors"]
    assert "3 table(s) not queued" in error and "NonExistentQueue" in error, error

    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    again = main.lambda_handler(summary["continuation"][0], None)
    assert again["status"] == "succeeded" and again["run_id"] == summary["run_id"]
    assert again["queued"] == {"tables": 3, "messages": 3} and mapping.waiting() == 3


class FlakySqs:
    """SQS answering SendMessageBatch 200 with some entries in `Failed`, as the API reference
    says it may: `SenderFault: false` (its own trouble, worth sending again) for the tables in
    `once`, the first time; `SenderFault: true` (never accepted) for those in `never`."""

    def __init__(self, real: Any, once: set[str], never: set[str]) -> None:
        self.real, self.once, self.never = real, set(once), never
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        sent, failed = [], []
        for entry in Entries:
            table = json.loads(entry["MessageBody"])["tables"][0]
            if table in self.never:
                failed.append(_failed(entry, True, "InvalidParameterValue", "refused"))
            elif table in self.once:
                self.once.discard(table)
                failed.append(_failed(entry, False, "InternalError", "try again"))
            else:
                sent.append(entry)
        answer = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=sent) if sent else {}
        return {**answer, "Failed": answer.get("Failed", []) + failed}


def _failed(entry: dict[str, Any], sender: bool, code: str, message: str) -> dict[str, Any]:
    return {"Id": entry["Id"], "SenderFault": sender, "Code": code, "Message": message}


def test_entries_sqs_fails_are_sent_again_and_refused_ones_named(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed entries of a SendMessageBatch answered 200 are sent again unless the fault is the
    sender's; a refused table is named in `remaining` and the run is partial; no table is
    queued twice."""
    databases = build_lake(aws, tables=15, databases=("raw_fan_a",))
    mapping = Mapping.create(aws)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    original = main.get_clients
    flaky: list[FlakySqs] = []

    def get_clients(*args: Any) -> Any:
        clients = original(*args)
        flaky.append(FlakySqs(clients.sqs, {"t01", "t07", "t12"}, {"t09"}))
        return replace(clients, sqs=flaky[-1])

    monkeypatch.setattr(main, "get_clients", get_clients)
    summary = fan_out(databases)
    assert summary["status"] == "partial", dumps(summary)
    assert summary["remaining"] == [{"database": "raw_fan_a", "table": "t09"}]
    assert summary["queued"] == {"tables": 14, "messages": 14}
    assert "InvalidParameterValue: refused" in summary["errors"][0]
    assert flaky[0].calls == 2 + 2  # two calls of 10 and 5, each with one entry again
    queued: Counter[str] = Counter()
    while records := mapping.receive():
        queued.update(json.loads(r["body"])["tables"][0] for r in records)
        for r in records:
            mapping.delete(r["receiptHandle"])
    assert set(queued.values()) == {1} and len(queued) == 14 and "t09" not in queued


def test_a_worker_short_of_time_queues_the_tables_it_did_not_start(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, lines: list[logging.LogRecord]
) -> None:
    """A worker stops starting tables when the context's remaining time runs short (AWS Lambda
    developer guide, "Using the Lambda context object"): the tables not started go back to the
    queue as new messages one continuation deeper, and their old messages are done; at
    MAX_CONTINUATIONS the messages come back instead (towards the dead-letter queue)."""
    databases = build_lake(aws, tables=4, databases=("raw_fan_a",))
    mapping = Mapping.create(aws, visibility=1)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    monkeypatch.setenv("TIME_MARGIN_SECONDS", "60")
    run_id = fan_out(databases)["run_id"]
    records = mapping.receive()
    assert len(records) == 4
    assert mapping.invoke(records, FakeContext(60_500, 1_000)) == set()  # one table started
    assert len(synced(lines)) == 1
    handed_on = mapping.receive()
    bodies = [json.loads(r["body"]) for r in handed_on]
    assert len(bodies) == 3 and {b["continuation_depth"] for b in bodies} == {1}
    assert {b["run_id"] for b in bodies} == {run_id}
    assert all(b["definitions"].keys() == set(b["tables"]) for b in bodies)
    [line] = finished(lines)
    assert len(line.requeued) == 3 and line.failed_messages == {}

    monkeypatch.setenv("MAX_CONTINUATIONS", "1")
    back = mapping.invoke(handed_on, FakeContext(60_500, 1_000))
    assert len(back) == 2 and len(synced(lines)) == 2
    assert "reached MAX_CONTINUATIONS 1" in " ".join(finished(lines)[-1].failed_messages.values())
    mapping.drain(workers=1, context=ample)
    assert all(aws.partitions("raw_fan_a", t) for t in ("t00", "t01", "t02", "t00_archive"))


def test_one_queue_carries_s3_events_and_work_messages(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work messages are told apart by their `work` key, so S3 notifications (Amazon S3 user
    guide, "Event message structure") and work share a queue and a batch; the answer names the
    failed messages of both kinds."""
    EventSync.INDEX.clear()  # a cold container's table index: moto was reset
    databases = build_lake(aws, tables=3, databases=("raw_fan_a",))
    mapping = Mapping.create(aws)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    fan_out(databases)
    key = f"raw_fan_a/t01/dt={NOW:%Y-%m-%d}/hour=23/late.json"
    seed_objects(BUCKET, [key])
    s3_event = notification(key)
    s3_event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    mapping.sqs.send_message(QueueUrl=mapping.url, MessageBody=json.dumps(s3_event))
    mapping.sqs.send_message(QueueUrl=mapping.url, MessageBody='{"hello": "world"}')
    bad_work = {"work": WorkQueue.MARKER, "databases": ["raw_fan_a"], "tables": ["t00"]}
    mapping.sqs.send_message(QueueUrl=mapping.url, MessageBody=json.dumps(bad_work))
    records = mapping.receive()
    assert len(records) == 6
    failed = mapping.invoke(records, ample())
    kinds = {r["messageId"]: json.loads(r["body"]) for r in records}
    assert sorted(json.dumps(kinds[m], sort_keys=True) for m in failed) == sorted(
        json.dumps(b, sort_keys=True) for b in ({"hello": "world"}, bad_work)
    )
    assert (f"{NOW:%Y-%m-%d}", "23") in aws.partitions("raw_fan_a", "t01")
    assert all(aws.partitions("raw_fan_a", t) for t in ("t00", "t01", "t00_archive"))


def test_a_table_too_large_for_a_message_is_read_by_its_worker(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    """A definition that would pass SQS's 256 KiB message limit (Amazon SQS developer guide,
    "Amazon SQS message quotas") is left out of its message; the worker reads the database
    instead, and the partitions still get the table's storage descriptor."""
    aws.bucket(BUCKET)
    aws.database("raw_fan_a")
    aws.table("raw_fan_a", "wide", f"s3://{BUCKET}/wide/", ["dt"])
    wide = aws.glue.get_table(DatabaseName="raw_fan_a", Name="wide")["Table"]
    columns = [{"Name": f"c{i:04d}", "Type": "string", "Comment": "x" * 120} for i in range(2500)]
    table_input = {k: wide[k] for k in ("Name", "StorageDescriptor", "PartitionKeys", "Parameters")}
    table_input["StorageDescriptor"] = {**wide["StorageDescriptor"], "Columns": columns}
    aws.glue.update_table(DatabaseName="raw_fan_a", TableInput=table_input)
    seed_objects(BUCKET, [f"wide/dt={NOW:%Y-%m-%d}/part-0.json"])
    mapping = Mapping.create(aws)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    assert fan_out(["raw_fan_a"])["queued"]["tables"] == 1
    [record] = mapping.receive()
    assert json.loads(record["body"])["definitions"] == {}
    assert len(record["body"].encode()) < WorkQueue.MAX_BYTES
    calls.clear()
    assert mapping.invoke([record], ample()) == set()
    assert Counter(op for op, _ in calls)["GetTables"] == 1
    [partition] = aws.glue.get_partitions(DatabaseName="raw_fan_a", TableName="wide")["Partitions"]
    assert len(partition["StorageDescriptor"]["Columns"]) == 2500


def test_send_batches_keep_to_ten_entries_and_256_kib() -> None:
    """SendMessageBatch takes at most 10 entries and 262,144 bytes in all (Amazon SQS API
    Reference, SendMessageBatch)."""
    assert WorkQueue.batches(["x"] * 25) == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]
    big = ["y" * 100_000] * 5
    assert WorkQueue.batches(big) == [[0, 1], [2, 3], [4]]
    assert WorkQueue.batches(["z" * 262_144, "z"]) == [[0], [1]]


MARK = WorkQueue.MARKER
GOOD = {"work": MARK, "run_id": "r", "databases": ["raw_fan_a"], "tables": ["t"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "the body is not JSON"),
        (json.dumps({**GOOD, "work": "glue-catalog-partition-management/0"}), "'work' is"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "databases"}),
            "'databases' is required",
        ),
        (json.dumps({**GOOD, "databases": ["curated"]}), "RAW_DATABASE_PATTERN"),
        (json.dumps({**GOOD, "databases": ["raw_a", "raw_b"]}), "names one database"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "tables"}), "names one database"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "run_id"}), "carries a 'run_id'"),
        (json.dumps({**GOOD, "fan_out": True}), "does not fan out again"),
        (json.dumps({**GOOD, "definitions": {"t": {"Name": "u"}}}), "'definitions' must map"),
        (json.dumps({**GOOD, "nested": "s3://x/"}), "'nested' must be a list"),
        (json.dumps({**GOOD, "mode": "SYNC"}), "'mode' must be one of"),
        (json.dumps({**GOOD, "extra": 1}), "unknown key(s) in a work message: extra"),
    ],
)
def test_work_messages_are_checked_and_name_the_problem(body: str, message: str) -> None:
    """A body on the queue is only trusted as far as the checks a direct event gets (the same
    `parse_event`) and the work keys': anyone allowed `sqs:SendMessage` can put one there."""
    with pytest.raises(ValueError) as info:
        WorkQueue.read(body, "m1", Settings())
    assert message in str(info.value)


def test_a_message_reads_back_as_it_was_sent() -> None:
    """The body a scatter sends is the message a worker reads (GetTables' times as text)."""
    table = {"Name": "t", "CreateTime": datetime(2026, 1, 1, tzinfo=UTC), "PartitionKeys": []}
    options = Options(full_scan=True, mode="sync", force=True, run_id="r-1")
    sent = WorkQueue.WorkMessage("raw_fan_a", ["t"], options, {"t": table}, ["s3://b/t/x/"])
    back = WorkQueue.read(sent.body(), "m1", Settings())
    as_text = {"t": {**table, "CreateTime": str(table["CreateTime"])}}
    assert back == replace(sent, definitions=as_text, message_id="m1")
    assert WorkQueue.split_batch({"Records": []}) == ([], {"Records": []})


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"databases": ["raw_fan_a"], "fan_out": "yes"}, "'fan_out' must be true or false"),
        ({"databases": ["raw_fan_a"], "run_id": "has space"}, "'run_id' must be 1-128 of"),
        ({"databases": ["raw_fan_a"], "run_id": 7}, "'run_id' must be 1-128 of"),
        ({"databases": ["raw_fan_a"], "run_id": "x" * 129}, "'run_id' must be 1-128 of"),
    ],
)
def test_fan_out_options_are_checked_before_any_call(
    monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], message: str
) -> None:
    """`fan_out` and `run_id` are checked like the other keys, before any client is built."""

    def no_clients(*_: Any) -> None:
        raise AssertionError("clients built for a refused event")

    monkeypatch.setattr(main, "get_clients", no_clients)
    with pytest.raises(ValueError) as info:
        main.lambda_handler(event, None)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "url", ["sqs.us-east-1.amazonaws.com/123456789012/work", "https://sqs.amazonaws.com/work", "x"]
)
def test_work_queue_url_is_checked(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """A queue URL is `https://sqs.<region>.amazonaws.com/<account>/<queue>` (Amazon SQS
    developer guide, "Amazon SQS queue and message identifiers"); anything else names the
    variable."""
    monkeypatch.setenv("WORK_QUEUE_URL", url)
    with pytest.raises(ValueError, match=r"WORK_QUEUE_URL=.* is not an SQS queue URL"):
        main.lambda_handler({"databases": ["raw_fan_a"], "fan_out": True}, None)
    monkeypatch.setenv("WORK_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/work")
    assert Settings.from_env().work_queue_url.endswith("/work")


def test_the_readme_names_every_setting_and_links_the_fan_out_page() -> None:
    """The front door lists WORK_QUEUE_URL with every other setting and links docs/fan-out.md,
    whose Logs Insights query reads fields the `table synced` lines carry."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    missing = [name for name in Settings.ENV.values() if f"| `{name}` |" not in readme]
    assert missing == [] and "(docs/fan-out.md)" in readme
    page = (root / "docs" / "fan-out.md").read_text()
    for field_name in ('message = "table synced"', "run_id =", "counts.created", "lag_seconds"):
        assert field_name in page


def test_a_table_the_deadline_cuts_goes_on_from_where_it_stopped(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, strict: StrictLayer
) -> None:
    """A worker whose time runs short half-way through a table (AWS Lambda developer guide,
    "Using the Lambda context object") hands the table on with its resume point, as a new message
    one continuation deeper; its own message is done, and the next worker finishes the table
    from there, each partition written once."""
    aws.bucket("cut")
    aws.database("raw_fan_cut")
    aws.table("raw_fan_cut", "t", "s3://cut/t/", ["year", "month", "day", "hour"])
    hours = [
        NOW.replace(minute=0, second=0, microsecond=0) - timedelta(hours=h)
        for h in range(80, 0, -1)
    ]
    expected = {
        (f"{h:%Y}", f"{h:%m}", f"{h:%d}", f"{h:%H}"): f"s3://cut/t/{h:%Y/%m/%d/%H}/" for h in hours
    }
    seed_objects("cut", [f"t/{h:%Y/%m/%d/%H}/part-0.json" for h in hours])
    mapping = Mapping.create(aws, visibility=1)
    monkeypatch.setenv("WORK_QUEUE_URL", mapping.url)
    fan_out(["raw_fan_cut"], full_scan=True)
    records = mapping.receive()
    margin_ms = Settings().time_margin_seconds * 1000
    assert mapping.invoke(records, FakeContext(int(margin_ms) + 30_000, 1000)) == set()
    handed_on = mapping.receive()
    [body] = [json.loads(r["body"]) for r in handed_on]
    assert body["tables"] == ["t"] and body["continuation_depth"] == 1
    resume = body["resume"]["raw_fan_cut.t"]
    registered = aws.partitions("raw_fan_cut", "t")
    assert 0 < len(registered) < len(expected)
    assert sorted(registered.values()) == sorted(v for v in expected.values() if v < resume)
    assert mapping.invoke(handed_on, ample()) == set()
    assert aws.partitions("raw_fan_cut", "t") == expected
    created = sum(c.items for c in strict.calls("BatchCreatePartition") if c.error is None)
    assert created == len(expected)
