"""The handler end to end against a moto server over HTTP: layouts, noise, dry run, idempotence,
missing things, bad events, the time budget, the command line and the logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import main
from tests.conftest import CLOCK, Aws, FakeContext, dumps
from tests.helpers import (
    DAILY_PROJECTION,
    Lake,
    entry,
    firehose_hours,
    hooked_clients,
    starts_clock,
)
from tests.strictlayer import StrictLayer

ROOT = Path(__file__).resolve().parent.parent
NOW = CLOCK
HOURS = [NOW - timedelta(hours=h) for h in range(30, 0, -1)]
DAYS = [NOW.date() - timedelta(days=d) for d in range(10, 0, -1)]
TEMPLATE = {"storage.location.template": "s3://lake/ev/${dt}/", **DAILY_PROJECTION}


@pytest.fixture
def calls(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every AWS operation the handler's clients send (retries included)."""
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    with hooked_clients(monkeypatch, {"before-call": count}):
        yield counter


def lake(aws: Aws) -> dict[str, dict[tuple[str, ...], str]]:
    """A RAW database with one table of each layout, plus noise; returns the expected catalog."""
    sales = Lake.create(aws, "raw_sales", "lake")
    orders = {
        (str(day), hour): f"orders/dt={day}/hour={hour}/"
        for day in DAYS[-3:]
        for hour in ("07", "23")
    }
    noise = [p + n for p in orders.values() for n in ("part-1.parquet", "_SUCCESS")] + [
        "orders/dt=2024-01-01/hour=seven/part-0.parquet",  # not an int: skipped
        "orders/dt=2024-01-02/hour=01/_temporary/0/part-0",  # only ignored data: not a partition
        "orders/dt=2024-01-03/hour=02_$folder$",
        "orders/dt=2024-01-04/hour=03/",  # a console folder marker
        "orders/.hive-staging_1/dt=2024-01-05/hour=04/x",
    ]
    sales.table("orders", ["dt", ("hour", "int")], orders, noise=noise)
    clicks = firehose_hours("clicks/", HOURS[-5:])
    clicks[("2024", "02", "30", "05")] = "clicks/2024/02/30/05/"  # positional keys are strings
    keys = ["year", "month", "day", "hour"]
    sales.table(
        "clicks", keys, clicks, location="clicks", noise=["clicks/readme.txt"]
    )  # too shallow
    events = {(f"{day:%Y/%m/%d}",): f"ev/{day:%Y/%m/%d}/" for day in DAYS[-4:]}
    bad_date = ["ev/2024/13/01/e.json"]  # not a date in the projection's format
    sales.table("events", ["dt"], events, TEMPLATE, location="events/", noise=bad_date)
    other = ["orders/archive/dt=2024-01-06/part-0.parquet"]  # another table's location
    sales.table("orders_archive", ["dt"], {}, location="orders/archive/", noise=other)
    sales.table("lookup", [], {})
    return {t: sales.expected[t] for t in ("orders", "clicks", "events")}


def run(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    summary = main.lambda_handler(event, context)
    json.dumps(summary)  # the summary must be JSON-serialisable
    return summary


def test_first_run_registers_every_layout_and_skips_the_noise(aws: Aws) -> None:
    expected = lake(aws)
    summary = run({"databases": ["raw_sales"]})
    for table, partitions in expected.items():
        assert aws.partitions("raw_sales", table) == partitions, table
    orders, clicks, events = (entry(summary, t) for t in ("orders", "clicks", "events"))
    assert (orders["layout"], clicks["layout"], events["layout"]) == (
        "hive",
        "positional",
        "template",
    )
    assert orders["created"] == 6 and orders["skipped"] == 1
    assert any("hour=seven" in e and "not an int" in e for e in orders["errors"]), dumps(orders)
    assert clicks["skipped"] == 1 and "fewer than 4 directory levels" in clicks["errors"][0]
    assert events["skipped"] == 1 and "yyyy/MM/dd" in events["errors"][0]
    assert entry(summary, "lookup")["status"] == "skipped"
    assert entry(summary, "orders_archive")["created"] == 1
    assert summary["status"] == "succeeded", dumps(summary)
    totals = summary["totals"]
    assert totals["created"] == sum(len(p) for p in expected.values()) + 1
    assert totals["tables"] == 5 and totals["failed"] == 0 and summary["remaining"] == []


def test_registered_partitions_copy_the_table_storage_descriptor(aws: Aws) -> None:
    lake(aws)
    run({"databases": ["raw_sales"], "tables": ["orders"]})
    table_sd = aws.glue.get_table(DatabaseName="raw_sales", Name="orders")["Table"][
        "StorageDescriptor"
    ]
    registered = aws.read_partitions("raw_sales", "orders")
    assert len(registered) == 6  # the loop below must have something to check
    for p in registered:
        sd = p["StorageDescriptor"]
        assert sd["Location"].endswith("/") and sd["Location"] != table_sd["Location"]
        for field in ("Columns", "InputFormat", "OutputFormat", "SerdeInfo", "Parameters"):
            assert sd[field] == table_sd[field]
        assert p["Values"][1] in ("07", "23")  # registered as written, never rewritten


def test_second_run_creates_nothing_with_far_fewer_calls(aws: Aws, calls: Counter[str]) -> None:
    lake(aws)
    run({"databases": ["raw_sales"]})
    first = sum(calls.values())
    calls.clear()
    summary = run({"databases": ["raw_sales"]})
    assert summary["totals"]["created"] == 0 and summary["status"] == "succeeded"
    assert calls["BatchCreatePartition"] == 0
    assert sum(calls.values()) < first, (first, calls)


def test_incremental_run_lists_only_after_the_newest_partition(
    aws: Aws, calls: Counter[str], strict: StrictLayer
) -> None:
    lake(aws)
    run({"databases": ["raw_sales"], "tables": ["clicks"]})
    new_hour = NOW + timedelta(hours=1)
    aws.put("lake", [f"clicks/{new_hour:%Y/%m/%d/%H}/a.gz", "clicks/2001/01/01/01/late.gz"])
    calls.clear()
    strict.clear_calls()
    summary = run({"databases": ["raw_sales"], "tables": ["clicks"]})
    clicks = entry(summary, "clicks")
    assert clicks["scan"] == "incremental" and clicks["created"] == 1, dumps(clicks)
    # one read of the recent end (its pages: a filtered read may start with an empty one)
    assert strict.reads("GetPartitions") == 1 and calls["ListObjectsV2"] == 1, calls
    assert calls["GetPartitions"] == strict.pages("GetPartitions"), calls
    assert ("2001", "01", "01", "01") not in aws.partitions("raw_sales", "clicks")
    summary = run({"databases": ["raw_sales"], "tables": ["clicks"], "full_scan": True})
    assert entry(summary, "clicks")["created"] == 1  # full scan catches late data in old branches
    assert ("2001", "01", "01", "01") in aws.partitions("raw_sales", "clicks")


def test_template_dates_after_the_newest_are_generated_and_checked(
    aws: Aws, calls: Counter[str]
) -> None:
    lake(aws)
    run({"databases": ["raw_sales"], "tables": ["events"]})
    today = NOW.date()
    aws.put("lake", [f"ev/{today:%Y/%m/%d}/e.json"])
    calls.clear()
    summary = run({"databases": ["raw_sales"], "tables": ["events"]})
    assert entry(summary, "events")["created"] == 1, dumps(summary)
    # the newest registered day is yesterday: today is the only candidate, checked with one call
    assert calls["ListObjectsV2"] == 1, calls
    assert (f"{today:%Y/%m/%d}",) in aws.partitions("raw_sales", "events")


def test_dry_run_reports_and_changes_nothing(aws: Aws, calls: Counter[str]) -> None:
    expected = lake(aws)
    summary = run({"databases": ["raw_sales"], "dry_run": True})
    assert summary["dry_run"] is True
    assert summary["totals"]["created"] == sum(len(p) for p in expected.values()) + 1
    assert calls["BatchCreatePartition"] == 0
    assert all(aws.partitions("raw_sales", t) == {} for t in expected)


def test_missing_database_is_reported_and_the_others_are_done(aws: Aws) -> None:
    lake(aws)
    summary = run({"databases": ["raw_missing", "raw_sales"]})
    missing = [t for t in summary["tables"] if t["database"] == "raw_missing"]
    assert len(missing) == 1 and missing[0]["status"] == "failed"
    assert "EntityNotFoundException" in missing[0]["errors"][0]
    assert entry(summary, "orders")["created"] == 6
    assert summary["status"] == "partial"


def test_tables_filter_and_unknown_table(aws: Aws) -> None:
    lake(aws)
    summary = run({"databases": ["raw_sales"], "tables": ["clicks", "nope"]})
    assert [t["table"] for t in summary["tables"]] == ["clicks", "nope"]
    assert entry(summary, "nope")["errors"] == [
        "table raw_sales.nope not found, or not visible to this role (Lake Formation grants?)"
    ]
    assert aws.partitions("raw_sales", "orders") == {}
    assert summary["status"] == "partial"


def test_tables_without_location_or_in_hdfs_fail_alone(aws: Aws) -> None:
    lake(aws)
    aws.table("raw_sales", "nowhere", None, ["dt"])
    aws.table("raw_sales", "on_hdfs", "hdfs://namenode/data/x/", ["dt"])
    summary = run({"databases": ["raw_sales"]})
    assert entry(summary, "nowhere")["errors"] == ["table has no location"]
    assert "is not an S3 URL" in entry(summary, "on_hdfs")["errors"][0]
    assert entry(summary, "nowhere")["status"] == entry(summary, "on_hdfs")["status"] == "failed"
    assert entry(summary, "orders")["created"] == 6 and summary["status"] == "partial"


def test_everything_failing_is_status_failed(aws: Aws) -> None:
    summary = run({"databases": ["raw_nothing_here"]})
    assert summary["status"] == "failed" and summary["totals"]["tables"] == 1


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "'databases' is required"),
        ({"databases": []}, "non-empty list"),
        ({"databases": "raw_sales"}, "non-empty list"),
        ({"databases": ["raw_sales", 3]}, "not a name"),
        ({"databases": ["sales"]}, "do not match RAW_DATABASE_PATTERN"),
        ({"databases": ["raw_sales"], "tables": [None]}, "not a name"),
        ({"databases": ["raw_sales"], "full_scan": "yes"}, "'full_scan' must be true or false"),
        ({"databases": ["raw_sales"], "dry_run": 1}, "'dry_run' must be true or false"),
        ({"databases": ["raw_sales"], "table": ["x"]}, "unknown event key(s): table"),
        ({"databases": ["raw_sales"], "mode": "delete"}, "'mode' must be one of add, sync"),
        ({"databases": ["raw_sales"], "force": True}, "'force' only applies to mode 'sync'"),
        ("raw_sales", "the event must be an object"),
    ],
)
def test_bad_events_raise_value_error_before_any_call(
    aws: Aws, calls: Counter[str], event: Any, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        main.lambda_handler(event, None)
    assert message in str(info.value)
    assert sum(calls.values()) == 0


def test_bad_concurrency_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_CONCURRENCY", "four")
    with pytest.raises(ValueError, match="TABLE_CONCURRENCY='four' is not a valid int"):
        main.lambda_handler({"databases": ["raw_sales"]}, None)
    monkeypatch.setenv("TABLE_CONCURRENCY", "0")
    with pytest.raises(ValueError, match="TABLE_CONCURRENCY must be at least 1"):
        main.lambda_handler({"databases": ["raw_sales"]}, None)


def test_database_pattern_is_configurable(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    lake(aws)
    monkeypatch.setenv("RAW_DATABASE_PATTERN", "^landing_")
    with pytest.raises(ValueError, match="raw_sales"):
        main.lambda_handler({"databases": ["raw_sales"]}, None)


def test_time_budget_leaves_the_rest_for_the_next_invocation(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS Lambda developer guide, "Lambda context object in Python": with 60.5 s left and a
    60 s margin one table starts; the others wait in `remaining` and `continuation`, and the
    continuation finishes them (a table cut half-way is tests/test_scale.py's)."""
    expected = lake(aws)
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    monkeypatch.setenv("TIME_MARGIN_SECONDS", "60")
    summary = run({"databases": ["raw_sales"]}, starts_clock(monkeypatch, 60_500))
    (done,) = summary["tables"]
    assert done["status"] == "succeeded" and "resume" not in done, dumps(summary)
    left = {r["table"] for r in summary["remaining"]}
    assert len(left) == 4 and done["table"] not in left, dumps(summary)
    assert summary["continuation"] == [{"databases": ["raw_sales"], "tables": sorted(left)}]
    second = run(summary["continuation"][0], FakeContext(900_000))
    assert second["remaining"] == [] and {t["table"] for t in second["tables"]} == left
    for table, partitions in expected.items():
        assert aws.partitions("raw_sales", table) == partitions


def test_command_line_prints_the_summary(aws: Aws) -> None:
    lake(aws)
    env = {**os.environ, "LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [sys.executable, "main.py", "--database", "raw_sales", "--table", "orders", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["dry_run"] is True and summary["totals"]["created"] == 6
    bad = subprocess.run(
        [sys.executable, "main.py", "--database", "sales"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "RAW_DATABASE_PATTERN" in bad.stderr


LOG_SCRIPT = """
import json, sys
import main
for _ in range(2):  # a warm invocation must not add handlers
    main.lambda_handler({"databases": ["raw_sales"], "tables": ["orders", "clicks"]}, None)
"""


def test_logs_are_json_one_line_per_table_without_duplicate_handlers(aws: Aws) -> None:
    lake(aws)
    env = {**os.environ, "LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-c", LOG_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line]
    per_table = [line for line in lines if line["message"] == "table synced"]
    assert len(per_table) == 4, done.stderr
    first = next(line for line in per_table if line["table"] == "orders")
    assert first["counts"]["created"] == 6 and first["layout"] == "hive"
    warm = [line for line in per_table if line["table"] == "clicks"][-1]
    assert warm["scan"] == "incremental" and warm["partition_reads"] == 1
    # its partition index serves it now, and the table fits in one page: read whole in one call
    assert warm["list_calls"] == 1 and warm["registered_read"] == 6
    assert first["level"] == "INFO" and first["service"] == "glue-catalog-partition-management"
    quiet = subprocess.run(
        [sys.executable, "-c", LOG_SCRIPT],
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
