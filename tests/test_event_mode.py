"""Event mode end to end over HTTP against the moto server: S3 bucket notifications delivered to
an SQS queue, received and handed to the handler as Lambda's SQS event; EventBridge and SNS shapes
built by hand; faults through tests/faultproxy.py with `batchItemFailures` checked message by
message; a poison message; a table created after the index was built; redelivery."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote_plus

import pytest

import main
from modules import EventSync
from modules.ProcessLogger import SERVICE
from tests.conftest import Aws, dumps
from tests.faultproxy import Faults, Request
from tests.helpers import (
    DAILY_PROJECTION,
    Queue,
    check_emf,
    emf_documents,
    eventbridge,
    failures,
    notification,
    proxied,
    sns,
    sqs_event,
)
from tests.strictlayer import StrictLayer

Values = tuple[str, ...]
DATABASE = "raw_events"
BUCKET = "lake"
TODAY = date.today()
D1, D2, D3 = (f"{TODAY - timedelta(days=n):%Y-%m-%d}" for n in (3, 2, 1))
TEMPLATE = {"storage.location.template": f"s3://{BUCKET}/tpl/${{dt}}/", **DAILY_PROJECTION}


@pytest.fixture(autouse=True)
def fresh_index() -> Iterator[None]:
    """Each test starts with a cold container's index (moto is reset between tests)."""
    EventSync.INDEX.clear()
    yield
    EventSync.INDEX.clear()


@pytest.fixture
def logs() -> Iterator[list[logging.LogRecord]]:
    """The `events processed` lines the handler logs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "events processed":
                records.append(record)

    handler = Keep()
    logging.getLogger(SERVICE).addHandler(handler)
    yield records
    logging.getLogger(SERVICE).removeHandler(handler)


def s3_keys(record: dict[str, Any]) -> list[str]:
    """The raw (still URL-encoded) keys a message announces."""
    body = json.loads(record["body"])
    return [r["s3"]["object"]["key"] for r in body.get("Records", ())]


# --------------------------------------------------------------------------- the lake


def build_lake(aws: Aws) -> tuple[dict[str, dict[Values, str]], list[str]]:
    """Tables of every layout, a nested table, a non-RAW table; returns the catalog expected once
    the objects that `put` lists have landed, and those keys."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    aws.database("curated")
    loc = f"s3://{BUCKET}"
    aws.table(DATABASE, "hive_region", f"{loc}/hive_region/", ["region", ("dt", "date")])
    aws.table(DATABASE, "firehose", f"{loc}/firehose/", ["year", "month", "day", "hour"])
    aws.table(DATABASE, "tpl", f"{loc}/template_table/", ["dt"], TEMPLATE)
    aws.table(DATABASE, "outer", f"{loc}/outer/", ["dt"])
    aws.table(DATABASE, "inner", f"{loc}/outer/inner/", [("n", "int")])
    aws.table("curated", "report", f"{loc}/curated/", ["dt"])
    # Registered before: the newest path of hive_region is in region `us east`; `eu:west` and
    # `a+b` sort before it, so an incremental listing would never see their new data.
    newest = f"{loc}/hive_region/region=us east/dt={D3}/"
    aws.register(DATABASE, "hive_region", [(["us east", D3], newest)])
    expected = {
        "hive_region": {
            ("us east", D3): newest,
            ("eu:west", D1): f"{loc}/hive_region/region=eu%3Awest/dt={D1}/",
            ("us east", D2): f"{loc}/hive_region/region=us east/dt={D2}/",
            ("a+b", D2): f"{loc}/hive_region/region=a+b/dt={D2}/",
        },
        "firehose": {
            (y, m, d, "07"): f"{loc}/firehose/{y}/{m}/{d}/07/"
            for y, m, d in (D1.split("-"), D2.split("-"))
        },
        "tpl": {(D2.replace("-", "/"),): f"{loc}/tpl/{D2.replace('-', '/')}/"},
        "outer": {(D1,): f"{loc}/outer/dt={D1}/"},
        "inner": {("5",): f"{loc}/outer/inner/n=5/"},
        "report": {},
    }
    keys = [
        f"hive_region/region=eu%3Awest/dt={D1}/part-0.json",
        f"hive_region/region=eu%3Awest/dt={D1}/part-1.json",  # same partition, another message
        f"hive_region/region=us east/dt={D2}/part 0.json",
        f"hive_region/region=a+b/dt={D2}/part-0.json",
        f"firehose/{D1.replace('-', '/')}/07/stream-1",
        f"firehose/{D2.replace('-', '/')}/07/stream-1",
        f"tpl/{D2.replace('-', '/')}/events.json",
        f"outer/dt={D1}/part-0.json",
        "outer/inner/n=5/part-0.json",
    ]
    # `outer` is Hive: a stray directory in it is skipped, not registered as a positional value
    # (the table's announced keys decide its layout together, not the first one alone).
    keys.insert(keys.index(f"outer/dt={D1}/part-0.json"), "outer/junk/part-0.json")
    noise = [
        f"hive_region/region=eu%3Awest/dt={D1}/_SUCCESS",
        f"hive_region/region=eu%3Awest/dt={D1}/_temporary/0/part-9.json",
        f"hive_region/region=eu%3Awest/dt={D1}_$folder$",
        f"hive_region/region=eu%3Awest/dt={D1}/",
        "hive_region/region=eu%3Awest/above-the-partition-depth.json",
        "hive_region/region=eu%3Awest/dt=not-a-date/part-0.json",
        "outer/inner/n=five/part-0.json",
        f"tpl/{D2}/not-the-template-format.json",
        "scratch/unmatched.json",
        f"curated/dt={D1}/part-0.json",
    ]
    return expected, keys + noise


def catalog(aws: Aws) -> dict[str, dict[Values, str]]:
    out = {t: aws.partitions(DATABASE, t) for t in ("hive_region", "firehose", "tpl", "outer")}
    out["inner"] = aws.partitions(DATABASE, "inner")
    out["report"] = aws.partitions("curated", "report")
    return out


# --------------------------------------------------------------------------- tests


def test_bucket_notifications_through_sqs_register_exactly_the_catalog(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, logs: list[logging.LogRecord]
) -> None:
    """Every layout, noise, a nested table, escaped values and spaces, a key sorting before the
    newest registered partition: the catalog ends exactly right, with no S3 call, no
    GetPartitions, and one BatchCreatePartition per table."""
    expected, keys = build_lake(aws)
    queue = Queue(aws)
    aws.put(BUCKET, keys)
    aws.s3.delete_object(Bucket=BUCKET, Key=keys[0])  # ObjectRemoved: counted, ignored
    aws.put(BUCKET, keys[:1])
    records = queue.receive()
    assert json.loads(records[0]["body"])["Event"] == "s3:TestEvent"
    assert any("%2F" in k and "%253A" in k for r in records for k in s3_keys(r))
    with proxied(monkeypatch, aws.endpoint) as proxy:
        answer = main.lambda_handler(sqs_event(records), None)
    assert failures(answer) == set()
    assert catalog(aws) == expected, dumps(catalog(aws))
    calls = Counter(r.operation for r in proxy.calls())
    assert calls == {"GetDatabases": 1, "GetTables": 1, "BatchCreatePartition": 5}, calls
    per_table = Counter(r.table for r in proxy.calls("BatchCreatePartition"))
    assert set(per_table.values()) == {1}
    [line] = logs
    assert line.messages == len(records) and line.records == len(keys) + 2
    assert line.test_events == 1 and line.removed_ignored == 1 and line.unmatched == 2
    assert line.failed_messages == 0 and line.unrecognised == 0
    tables = {t["table"]: t for t in line.tables}
    assert tables["hive_region"]["created"] == 3 and tables["hive_region"]["skipped"] == 6
    assert tables["hive_region"]["layout"] == "hive"
    assert tables["firehose"]["layout"] == "positional" and tables["tpl"]["layout"] == "template"
    assert tables["inner"]["created"] == 1 and tables["inner"]["skipped"] == 1
    assert tables["outer"]["created"] == 1 and tables["outer"]["skipped"] == 1
    assert tables["tpl"]["skipped"] == 1
    assert any("not-a-date" in e for e in tables["hive_region"]["errors"])

    # The whole batch again (at-least-once delivery): nothing created, all counted existing.
    logs.clear()
    assert failures(main.lambda_handler(sqs_event(records), None)) == set()
    assert catalog(aws) == expected
    tables = {t["table"]: t for t in logs[0].tables}
    assert sum(t["created"] for t in tables.values()) == 0
    assert tables["hive_region"]["existing"] == 3 and tables["firehose"]["existing"] == 2


def test_eventbridge_and_sns_shapes(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """EventBridge keys are used as they are (`%3A` stays Hive's escape); notification keys are
    decoded once; both direct (the usual summary) and inside SQS messages."""
    build_lake(aws)
    hive = f"hive_region/region=eu%3Awest/dt={D2}/part-0.json"
    summary = main.lambda_handler(eventbridge(hive), None)
    assert summary["status"] == "succeeded" and summary["totals"]["created"] == 1, dumps(summary)
    assert summary["events"]["messages"] == 1 and summary["events"]["records"] == 1
    assert [e["table"] for e in summary["tables"]] == ["hive_region"]
    assert ("eu:west", D2) in aws.partitions(DATABASE, "hive_region")

    queue = Queue(aws)
    queue.receive()  # the test event
    spaced = f"hive_region/region=eu west/dt={D2}/a+b c.json"  # `+` in a name, a space
    records = [
        queue.record(json.dumps(sns(notification(spaced))), "sns-1"),
        queue.record(json.dumps(eventbridge("outer/dt=2026-01-02/x.json")), "eb-1"),
        queue.record(json.dumps(sns({"Service": "Amazon S3", "Event": "s3:TestEvent"})), "t-1"),
        queue.record(json.dumps(eventbridge("outer/dt=2026-01-03/x", "Object Deleted")), "d-1"),
    ]
    assert failures(main.lambda_handler(sqs_event(records), None)) == set()
    assert ("eu west", D2) in aws.partitions(DATABASE, "hive_region")
    assert set(aws.partitions(DATABASE, "outer")) == {("2026-01-02",)}

    direct = main.lambda_handler(notification("outer/dt=2026-01-04/x.json"), None)
    assert direct["totals"]["created"] == 1 and direct["events"]["records"] == 1
    removed = main.lambda_handler(
        notification("outer/dt=2026-01-05/x", "ObjectRemoved:Delete"), None
    )
    assert removed["events"]["removed_ignored"] == 1 and removed["totals"]["created"] == 0
    assert set(aws.partitions(DATABASE, "outer")) == {("2026-01-02",), ("2026-01-04",)}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"Records": []}, "not an S3 event: Records is not a non-empty list"),
        ({"Records": [{"eventSource": "aws:kinesis"}]}, "eventSource 'aws:kinesis'"),
        (
            {"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": "{}"}, {"x": 1}]},
            "Records[1] has eventSource None, not aws:sqs",
        ),
        ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, "Records[0] has no messageId"),
        ({"source": "aws.s3", "detail-type": "Object Created"}, "without detail.bucket.name"),
        ({"Type": "Notification", "Message": "[]"}, "Message is not an S3 event"),
        ({"Event": "s3:SomethingElse"}, "(keys: Event)"),
        ({"Records": [{"eventSource": "aws:s3", "s3": {}}]}, "lacks eventName"),
    ],
)
def test_bad_event_shapes_raise_value_error_naming_what_was_seen(
    aws: Aws, event: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        main.lambda_handler(event, None)
    assert message in str(info.value)


def test_poison_messages_are_reported_and_the_rest_done(
    aws: Aws, logs: list[logging.LogRecord]
) -> None:
    build_lake(aws)
    queue = Queue(aws)
    good = queue.record(json.dumps(notification(f"outer/dt={D2}/x.json")), "good")
    records = [
        good,
        queue.record("this is not json", "not-json"),
        queue.record(json.dumps({"hello": "world"}), "not-s3"),
        queue.record(
            json.dumps(eventbridge("outer/dt=2026-01-01/x", "Object Restore Completed")), "r"
        ),
    ]
    assert failures(main.lambda_handler(sqs_event(records), None)) == {"not-json", "not-s3"}
    assert set(aws.partitions(DATABASE, "outer")) == {(D2,)}
    why = logs[0].unrecognised_messages
    assert "not JSON" in why["not-json"] and "keys: hello" in why["not-s3"]
    assert logs[0].other_ignored == 1


def test_a_table_created_after_the_index_was_built(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm index misses a new table: one refresh per invocation, not one per key, and none
    for keys outside the RAW buckets or with a fresh index."""
    build_lake(aws)
    queue = Queue(aws)
    first = [queue.record(json.dumps(notification(f"outer/dt={D1}/x.json")), "m1")]
    with proxied(monkeypatch, aws.endpoint) as proxy:
        assert failures(main.lambda_handler(sqs_event(first), None)) == set()
    assert Counter(r.operation for r in proxy.calls())["GetDatabases"] == 1
    aws.table(DATABASE, "late", f"s3://{BUCKET}/late/", ["dt"])
    late = [
        queue.record(json.dumps(notification(f"late/dt={d}/x.json")), f"late-{d}")
        for d in (D1, D2, D3)
    ] + [queue.record(json.dumps(notification("scratch/nothing.json")), "scratch")]
    with proxied(monkeypatch, aws.endpoint) as proxy:
        assert failures(main.lambda_handler(sqs_event(late), None)) == set()
    calls = Counter(r.operation for r in proxy.calls())
    assert calls["GetDatabases"] == 1 and calls["GetTables"] == 1, calls
    assert set(aws.partitions(DATABASE, "late")) == {(D1,), (D2,), (D3,)}
    with proxied(monkeypatch, aws.endpoint) as proxy:  # the refreshed index is kept
        main.lambda_handler(sqs_event(late[:1]), None)
    assert Counter(r.operation for r in proxy.calls())["GetDatabases"] == 0


def test_a_table_hidden_by_lake_formation_is_named_as_a_likely_cause(
    aws: Aws, strict: StrictLayer, logs: list[logging.LogRecord]
) -> None:
    """Lake Formation leaves a table the role holds no grant on out of `GetTables` (Lake
    Formation permissions reference; the strict layer plays it), so its data looks like data of
    no table: the message is settled (a retry would see no more), and the log line names the
    key and the likely cause. The visible table's partition is registered."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    for name in ("seen", "hidden"):
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", ["dt"])
    strict.strictness.hidden_tables.add((DATABASE, "hidden"))
    keys = [f"{name}/dt={D1}/part-0.json" for name in ("seen", "hidden")]
    queue = Queue(aws)
    records = [queue.record(json.dumps(notification(k)), k.split("/")[0]) for k in keys]
    assert failures(main.lambda_handler(sqs_event(records), None)) == set()
    [line] = logs
    assert line.unmatched == 1 and line.unmatched_keys == [f"s3://{BUCKET}/{keys[1]}"]
    assert "hidden from this role (Lake Formation grants?)" in line.unmatched_hint
    assert set(aws.partitions(DATABASE, "seen")) == {(D1,)}
    strict.strictness.hidden_tables.clear()
    assert aws.partitions(DATABASE, "hidden") == {}


def test_failed_writes_name_exactly_their_messages_and_redelivery_completes(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Glue failing some create items (every retry) and whole calls: batchItemFailures names
    exactly the messages holding an unregistered partition; redelivering them completes the
    catalog."""
    monkeypatch.setenv("MAX_ATTEMPTS", "2")
    expected, keys = build_lake(aws)
    queue = Queue(aws)
    aws.put(BUCKET, keys)
    records = queue.receive()
    poison = queue.record("{", "poison")
    batch = [*records, poison]

    def rule(request: Request) -> str | None:
        table = (request.payload or {}).get("TableName")
        if request.operation != "BatchCreatePartition":
            return None
        return {"hive_region": "InternalServiceException", "firehose": "500"}.get(table)

    with proxied(monkeypatch, aws.endpoint, Faults(rule=rule)) as proxy:
        answer = main.lambda_handler(sqs_event(batch), None)
    assert proxy.fault_counts()["500"] >= 2 and proxy.fault_counts()["InternalServiceException"]
    now = catalog(aws)
    missing = {(t, v) for t in expected for v in expected[t] if v not in now[t]}
    assert missing and {t for t, _ in missing} <= {"hive_region", "firehose"}
    assert {t: now[t] for t in ("tpl", "outer", "inner")} == {
        t: expected[t] for t in ("tpl", "outer", "inner")
    }
    affected = {r["messageId"] for r in records if partitions_of(r) & missing}
    assert affected and failures(answer) == affected | {"poison"}

    again = [r for r in batch if r["messageId"] in failures(answer)]
    assert failures(main.lambda_handler(sqs_event(again), None)) == {"poison"}
    assert catalog(aws) == expected


def partitions_of(record: dict[str, Any]) -> set[tuple[str, Values]]:
    """The (table, values) a message's data keys belong to, read independently of the code."""
    from urllib.parse import unquote_plus

    found = set()
    for raw in s3_keys(record):
        key = unquote_plus(raw)
        parts = key.split("/")
        if any(p.startswith(("_", ".")) for p in parts) or key.endswith(("/", "_$folder$")):
            continue
        if parts[0] == "hive_region" and len(parts) == 4 and parts[2] != "dt=not-a-date":
            region = parts[1].split("=", 1)[1].replace("%3A", ":")
            found.add(("hive_region", (region, parts[2].split("=", 1)[1])))
        elif parts[0] == "firehose" and len(parts) == 6:
            found.add(("firehose", tuple(parts[1:5])))
    return found


def test_event_databases_and_index_ttl_settings(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENT_DATABASES names the databases (no GetDatabases); TABLE_INDEX_TTL_SECONDS=0 reads
    the tables at every invocation; both are validated."""
    build_lake(aws)
    queue = Queue(aws)
    event = sqs_event([queue.record(json.dumps(notification(f"outer/dt={D1}/x")), "m")])
    monkeypatch.setenv("EVENT_DATABASES", f"{DATABASE}, {DATABASE}")
    monkeypatch.setenv("TABLE_INDEX_TTL_SECONDS", "0")
    with proxied(monkeypatch, aws.endpoint) as proxy:
        for _ in range(2):
            assert failures(main.lambda_handler(event, None)) == set()
    calls = Counter(r.operation for r in proxy.calls())
    assert calls["GetDatabases"] == 0 and calls["GetTables"] == 2, calls
    assert set(aws.partitions(DATABASE, "outer")) == {(D1,)}
    monkeypatch.setenv("EVENT_DATABASES", f"{DATABASE},curated")
    with pytest.raises(ValueError, match="EVENT_DATABASES names curated"):
        main.lambda_handler(event, None)
    monkeypatch.setenv("EVENT_DATABASES", DATABASE)
    monkeypatch.setenv("TABLE_INDEX_TTL_SECONDS", "-1")
    with pytest.raises(ValueError, match="TABLE_INDEX_TTL_SECONDS cannot be negative"):
        main.lambda_handler(event, None)


def test_table_properties_hold_in_event_mode(aws: Aws) -> None:
    """`discover.partitions=false` leaves a table alone, a bad value fails that table alone
    (its messages come back), and a retention period keeps expired partitions out."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    old = f"{TODAY - timedelta(days=40):%Y-%m-%d}"
    tables = {
        "off": {"discover.partitions": "FALSE"},
        "typo": {"discover.partitions": "flase"},
        "kept": {"partition.retention.period": "30d"},
    }
    for name, params in tables.items():
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", ["dt"], params)
    queue = Queue(aws)
    keys = [f"{name}/dt={day}/part-0.json" for name in tables for day in (D3, old)]
    aws.put(BUCKET, keys)
    records = [r for r in queue.receive() if s3_keys(r)]
    answer = main.lambda_handler(sqs_event(records), None)
    typo_messages = {
        r["messageId"] for r in records if unquote_plus(s3_keys(r)[0]).startswith("typo/")
    }
    assert failures(answer) == typo_messages and len(typo_messages) == 2
    assert aws.partitions(DATABASE, "off") == {} and aws.partitions(DATABASE, "typo") == {}
    assert set(aws.partitions(DATABASE, "kept")) == {(D3,)}

    summary = main.lambda_handler(eventbridge(f"off/dt={D2}/part-0.json"), None)
    off = next(t for t in summary["tables"] if t["table"] == "off")
    assert off["status"] == "skipped" and "discover.partitions=false" in off["errors"][0]
    summary = main.lambda_handler(eventbridge(f"kept/dt={old}/part-1.json"), None)
    kept = next(t for t in summary["tables"] if t["table"] == "kept")
    assert (kept["expired"], kept["created"]) == (1, 0), dumps(kept)
    summary = main.lambda_handler(eventbridge(f"typo/dt={D2}/part-0.json"), None)
    typo = next(t for t in summary["tables"] if t["table"] == "typo")
    assert typo["status"] == "failed" and "discover.partitions='flase'" in typo["errors"][0]


def test_event_mode_metrics_match_the_invocation(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    """One EMF set per database for the partitions, one for the invocation's record counts."""
    build_lake(aws)
    queue = Queue(aws)
    aws.put(BUCKET, [f"outer/dt={D3}/a.json", f"outer/dt={D3}/b.json", "nowhere/x.json"])
    records = queue.receive()
    capsys.readouterr()
    assert failures(main.lambda_handler(sqs_event(records), None)) == set()
    documents = emf_documents(capsys.readouterr().out)
    by_kind = {d.get("database", "invocation"): check_emf(d) for d in documents}
    assert by_kind[DATABASE]["PartitionsCreated"] == 1
    assert by_kind["invocation"] == {
        "EventMessages": len(records),
        "EventRecords": 3,
        "EventObjectsUnmatched": 1,
        "EventMessagesFailed": 0,
    }
    invocation = next(d for d in documents if "database" not in d)
    assert invocation["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
