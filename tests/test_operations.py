"""Running it over a whole lake: CloudWatch metrics checked against the EMF specification and the
summary, a self-continued chain of invocations ending with the same catalog as one long run,
continuation_depth and MAX_CONTINUATIONS, and no table starving over repeated short runs on any
schedule (the resume point kept in the catalog). The
handler runs against the moto server over HTTP; Lambda's asynchronous invoke is played by the
test (moto needs docker to run it): the recorded payloads are handed to the handler."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import main
from modules.Continuation import STATE_TABLE, Cursor, resume_order
from tests.conftest import (
    CLOCK,
    FUNCTION_ARN,
    Aws,
    FakeContext,
    LambdaContext,
    dumps,
    lambda_invokes,
)
from tests.helpers import (
    Lake,
    check_emf,
    emf_documents,
    hive_hours,
    hours_before,
    proxied,
    seed_objects,
    starts_clock,
)

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "ops-lake"
NOW = CLOCK.replace(tzinfo=None, minute=0, second=0, microsecond=0)
TABLES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


def table(lake: Lake, name: str, hours: int, params: dict[str, str] | None = None) -> None:
    """A Hive table dt/hour under the database's folder, with data for the last `hours` hours."""
    path = f"{lake.database}/{name}/"
    lake.table(
        name, ["dt", "hour"], hive_hours(path, hours_before(NOW, hours)), params, location=path
    )


def lake(aws: Aws, database: str = "raw_ops") -> Lake:
    ops = Lake.create(aws, database, BUCKET)
    for i, name in enumerate(TABLES):
        table(ops, name, 3 + i)
    return ops


def drop_partitions(ops: Lake) -> None:
    for name, partitions in ops.catalog().items():
        values = [{"Values": list(v)} for v in partitions]
        for i in range(0, len(values), 25):
            ops.aws.glue.batch_delete_partition(
                DatabaseName=ops.database, TableName=name, PartitionsToDelete=values[i : i + 25]
            )


# --------------------------------------------------------------------------- metrics


def test_metrics_follow_emf_and_match_the_summary(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_NAMESPACE", "Lake/Partitions")
    one = Lake.create(aws, "raw_one", BUCKET)
    table(one, "ok", 5, {"partition.retention.period": "2h"})
    table(one, "late", 3, {"partition.max.lag": "1m"})
    table(one, "typo", 3, {"discover.partitions": "ture"})
    seed_objects(BUCKET, ["raw_one/ok/not-a-partition/p.json"])  # skipped
    table(one.in_database("raw_two"), "other", 2)
    capsys.readouterr()
    summary = main.lambda_handler({"databases": ["raw_one", "raw_two"]}, None)
    documents = emf_documents(capsys.readouterr().out)
    assert [d["database"] for d in documents] == ["raw_one", "raw_two"], documents
    for document in documents:
        values = check_emf(document)
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "Lake/Partitions"
        assert directive["Dimensions"] == [["database", "service"]]
        units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        assert units.pop("MaxLagSeconds") == "Seconds" and set(units.values()) == {"Count"}
        tables = [t for t in summary["tables"] if t["database"] == document["database"]]
        expected = {
            "PartitionsCreated": sum(t["created"] for t in tables),
            "PartitionsFailed": sum(t["failed"] for t in tables),
            "PartitionsRemoved": sum(t["removed"] for t in tables),
            "PartitionsExpired": sum(t["expired"] for t in tables),
            "PathsSkipped": sum(t["skipped"] for t in tables),
            "TablesFailed": sum(t["status"] == "failed" for t in tables),
            "StaleTables": sum(t["stale"] for t in tables),
            "MaxLagSeconds": max(t["lag_seconds"] for t in tables if t["lag_seconds"] is not None),
        }
        assert values == expected, dumps([values, tables])
    one = check_emf(documents[0])
    # `ok`: hours -5 … -1 with a 2 h retention: the newest is kept, 4 expired
    assert one["TablesFailed"] == 1 and one["StaleTables"] == 1 and one["PartitionsExpired"] == 4
    assert one["PathsSkipped"] == 1 and one["PartitionsCreated"] == 1 + 3
    # A dry run emits nothing: its counts are not what happened.
    main.lambda_handler({"databases": ["raw_one"], "dry_run": True}, None)
    assert emf_documents(capsys.readouterr().out) == []


def test_command_line_keeps_stdout_for_the_summary(aws: Aws) -> None:
    lake(aws)
    done = subprocess.run(
        [sys.executable, "main.py", "--database", "raw_ops"],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # the summary alone
    documents = emf_documents(done.stderr)
    assert len(documents) == 1
    assert check_emf(documents[0])["PartitionsCreated"] == summary["totals"]["created"] > 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("METRICS_NAMESPACE", "AWS/Glue", "METRICS_NAMESPACE='AWS/Glue' is not a CloudWatch"),
        ("METRICS_NAMESPACE", "a\tb", "METRICS_NAMESPACE='a\\tb' is not a CloudWatch"),
        ("CONTINUE_ASYNC", "yes", "CONTINUE_ASYNC='yes' is not true or false"),
        ("MAX_CONTINUATIONS", "-1", "MAX_CONTINUATIONS cannot be negative"),
        ("MAX_CONTINUATIONS", "ten", "MAX_CONTINUATIONS='ten' is not a valid int"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as info:
        main.lambda_handler({"databases": ["raw_ops"]}, None)
    assert message in str(info.value)


# --------------------------------------------------------------------------- continuation


def short_context(monkeypatch: pytest.MonkeyPatch, remaining_ms: int = 61_500) -> LambdaContext:
    """61.5 s left, a second less at each table start: with the 60 s margin, two tables start."""
    return starts_clock(monkeypatch, remaining_ms)


def test_self_continued_run_ends_with_the_catalog_of_one_long_run(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = lake(aws)
    assert main.lambda_handler({"databases": ["raw_ops"]}, None)["remaining"] == []
    one_long_run = ops.catalog()
    assert one_long_run == ops.expected
    drop_partitions(ops)
    assert all(not p for p in ops.catalog().values())

    monkeypatch.setenv("CONTINUE_ASYNC", "true")
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    monkeypatch.setenv("TIME_MARGIN_SECONDS", "60")
    started: list[str] = []
    with lambda_invokes(monkeypatch) as invokes:
        summary = main.lambda_handler({"databases": ["raw_ops"]}, short_context(monkeypatch))
        links = 1
        while True:
            started += [t["table"] for t in summary["tables"]]
            assert len(invokes) == len(summary["handed_on"]) <= 1, dumps(summary)
            assert summary["continuation"] == [] and summary["status"] == "succeeded"
            if not invokes:
                break
            call = invokes.pop()
            function, qualifier = FUNCTION_ARN.rsplit(":", 1)
            assert (call["FunctionName"], call["Qualifier"]) == (function, qualifier)
            assert call["InvocationType"] == "Event"
            assert call["Payload"] == {**summary["handed_on"][0]}
            assert call["Payload"]["continuation_depth"] == links
            link = short_context(monkeypatch)
            summary = main.lambda_handler(call["Payload"], link)  # Lambda's part
            links += 1
    assert sorted(started) == sorted(TABLES)  # each table once
    assert links == 3  # two tables per link
    assert ops.catalog() == one_long_run


def test_max_continuations_stops_the_chain_with_an_error(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake(aws)
    monkeypatch.setenv("CONTINUE_ASYNC", "true")
    monkeypatch.setenv("MAX_CONTINUATIONS", "1")
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    with lambda_invokes(monkeypatch) as invokes:
        first = main.lambda_handler({"databases": ["raw_ops"]}, short_context(monkeypatch))
        assert len(invokes) == 1 and first["status"] == "succeeded"
        second = main.lambda_handler(invokes.pop()["Payload"], short_context(monkeypatch))
    assert invokes == [], "the chain must stop at MAX_CONTINUATIONS"
    assert second["status"] == "partial" and second["handed_on"] == []
    assert "continuation_depth 1 reached MAX_CONTINUATIONS 1" in second["errors"][0]
    left = second["continuation"][0]
    assert left["continuation_depth"] == 1 and len(left["tables"]) == 2, dumps(second)


def test_without_continue_async_nothing_is_invoked(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake(aws)
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    with lambda_invokes(monkeypatch) as invokes:
        summary = main.lambda_handler({"databases": ["raw_ops"]}, short_context(monkeypatch))
    assert invokes == [] and summary["handed_on"] == [] and len(summary["continuation"]) == 1


@pytest.mark.parametrize("depth", [-1, "1", True, 1.5, None])
def test_continuation_depth_is_validated(depth: Any) -> None:
    with pytest.raises(ValueError, match="'continuation_depth' must be a whole number"):
        main.lambda_handler({"databases": ["raw_ops"], "continuation_depth": depth}, None)


# --------------------------------------------------------------------------- starvation


SCHEDULES = {
    "every-15-minutes": timedelta(minutes=15),
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
}
MANY = [f"t{i:02d}" for i in range(12)]


@pytest.mark.parametrize("period", SCHEDULES.values(), ids=SCHEDULES)
def test_no_table_starves_whatever_the_schedule(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, period: timedelta
) -> None:
    """The same event run again and again, each run cut after 3 of 12 tables (the context's
    `get_remaining_time_in_millis`, AWS Lambda developer guide "Using the Lambda context object
    to retrieve Python function information"), with nothing running `continuation`: every table
    is synced within ceil(12/3) + 2 runs, the clock moved by the schedule between runs. (The
    former rotation by the minute's golden-ratio slot left 4 tables behind after 6 hourly runs.)"""
    ops = Lake.create(aws, "raw_ops", BUCKET)
    for name in MANY:
        table(ops, name, 2)
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    monkeypatch.setenv("TIME_MARGIN_SECONDS", "60")
    clock = {"now": CLOCK}

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return clock["now"]

    monkeypatch.setattr(main, "datetime", Clock)
    synced: dict[str, int] = {}
    for run in range(math.ceil(len(MANY) / 3) + 2):
        context = short_context(monkeypatch, 62_500)
        summary = main.lambda_handler({"databases": ["raw_ops"]}, context)
        assert len(summary["tables"]) == 3 and summary["status"] == "succeeded", dumps(summary)
        for entry in summary["tables"]:
            synced.setdefault(entry["table"], run)
        clock["now"] += period
    assert set(synced) == set(MANY), sorted(set(MANY) - set(synced))
    assert max(synced.values()) == math.ceil(len(MANY) / 3) - 1, synced  # each once, in turn
    assert all(aws.partitions("raw_ops", name) for name in MANY)


def test_the_resume_point_is_kept_in_the_catalog_and_only_cut_runs_write_it(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cursor is a parameter of the function's own state table in the event's first
    database (the catalog is the only state); `GetTables` returns it, so reading it costs no
    call; runs that finish or only look (dry run) write nothing; the table is never synced. The
    first write finds no table (`UpdateTable` answers EntityNotFoundException, AWS Glue API
    reference) and creates it."""
    lake(aws)
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    event = {"databases": ["raw_ops"]}
    with proxied(monkeypatch, aws.endpoint) as proxy:
        main.lambda_handler({**event, "dry_run": True}, FakeContext(61_500, 1_000))
        main.lambda_handler(event, None)
    assert not {"CreateTable", "UpdateTable"} & {r.operation for r in proxy.calls()}
    with proxied(monkeypatch, aws.endpoint) as proxy:
        first = main.lambda_handler(event, FakeContext(61_500, 1_000))
        second = main.lambda_handler(event, FakeContext(61_500, 1_000))
    writes = [r.operation for r in proxy.calls() if r.operation.endswith("Table")]
    assert writes == ["UpdateTable", "CreateTable", "UpdateTable"], writes
    assert [t["table"] for t in first["tables"]] == ["alpha", "bravo"]
    assert [t["table"] for t in second["tables"]] == ["charlie", "delta"]
    state = aws.glue.get_table(DatabaseName="raw_ops", Name=STATE_TABLE)["Table"]
    [(key, value)] = state["Parameters"].items()
    assert key.startswith("partition_sync.next.")
    assert json.loads(value) == {"databases": ["raw_ops"], "next": ["raw_ops", "echo"]}
    assert "StorageDescriptor" not in state or not state["StorageDescriptor"].get("Location")
    everything = main.lambda_handler(event, None)
    assert STATE_TABLE not in {t["table"] for t in everything["tables"]}


def test_resume_order_starts_at_the_stored_table() -> None:
    """Databases in the event's order, tables by name, from the stored table on (or the next
    one after it when it is gone); a value for another list of databases, or one that does not
    read, starts from the top."""
    jobs = [("raw_b", "x"), ("raw_a", "m"), ("raw_a", "c"), ("raw_b", "a")]

    def order(stored: Any, databases: tuple[str, ...] = ("raw_a", "raw_b")) -> list[Any]:
        value = json.dumps(stored) if not isinstance(stored, str) else stored
        cursor = Cursor(databases, None)
        cursor = Cursor(databases, {"Parameters": {cursor.key: value}})
        return resume_order(jobs, cursor, lambda job: job)

    top = [("raw_a", "c"), ("raw_a", "m"), ("raw_b", "a"), ("raw_b", "x")]
    assert order({"databases": ["raw_a", "raw_b"], "next": ["raw_a", "m"]}) == top[1:] + top[:1]
    assert order({"databases": ["raw_a", "raw_b"], "next": ["raw_a", "n"]}) == top[2:] + top[:2]
    assert order({"databases": ["raw_a", "raw_b"], "next": ["raw_b", "z"]}) == top
    assert order({"databases": ["raw_a"], "next": ["raw_a", "m"]}) == top
    assert order("not json") == top and order({"next": 1}) == top
    assert resume_order(jobs, Cursor(("raw_a", "raw_b"), None), lambda job: job) == top
