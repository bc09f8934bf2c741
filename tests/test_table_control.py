"""Per-table control from Hive's table properties: a table switched off, bad values failing their
table alone, retention (dry run, removal, never re-adding), lag and staleness. The handler runs
against the moto server over HTTP; the property parsing and the retention expression are also
checked on their own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

import main
from modules.GlueExpressions import expired_expression
from modules.TableControl import TableControl, parse_duration
from modules.TimeKeys import PartitionKey, split_keys
from tests.conftest import CLOCK, Aws, dumps
from tests.helpers import Lake, entry, firehose_hours, hive_hours, hooked_clients

DB = "raw_ops"
BUCKET = "ops-lake"
NOW = CLOCK.replace(tzinfo=None)
Values = tuple[str, ...]


def run(event: dict[str, Any]) -> dict[str, Any]:
    return main.lambda_handler({"databases": [DB], **event}, None)


@pytest.fixture
def get_partitions_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every GetPartitions call the handler makes."""
    calls: list[dict[str, Any]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "GetPartitions":
            calls.append(dict(params))

    with hooked_clients(monkeypatch, {"before-parameter-build": record}):
        yield calls


# --------------------------------------------------------------------------- tables


def hourly(aws: Aws, name: str, hours: list[datetime], params: dict[str, str]) -> dict[Values, str]:
    """A Hive table `dt`/`hour` (int) with one object per hour; returns values -> location."""
    return Lake(aws, DB, BUCKET).table(
        name, ["dt", ("hour", "int")], hive_hours(f"{name}/", hours), params
    )


def positional(
    aws: Aws, name: str, hours: list[datetime], params: dict[str, str]
) -> dict[Values, str]:
    """A Firehose-style table year/month/day/hour (strings) with one object per hour."""
    keys = ["year", "month", "day", "hour"]
    return Lake(aws, DB, BUCKET).table(name, keys, firehose_hours(f"{name}/", hours), params)


def untimed(aws: Aws, name: str, params: dict[str, str]) -> dict[Values, str]:
    """A table whose only key carries no time."""
    data = {(c,): f"{name}/category={c}/" for c in "ab"}
    return Lake(aws, DB, BUCKET).table(name, ["category"], data, params)


def lake(aws: Aws) -> None:
    Lake.create(aws, DB, BUCKET)


def every_6_hours(days: int) -> list[datetime]:
    """Hours 00, 06, 12, 18 of the last `days` days (UTC), oldest first."""
    start = NOW.replace(minute=0, second=0, microsecond=0, hour=0) - timedelta(days=days)
    return [
        start + timedelta(hours=6 * i)
        for i in range(4 * days)
        if start + timedelta(hours=6 * i) < NOW
    ]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("90 m", timedelta(minutes=90)),
        ("1500ms", timedelta(seconds=1.5)),
        ("2 DAYS", timedelta(days=2)),
        (" 3600s ", timedelta(hours=1)),
    ],
)
def test_durations_in_hive_syntax(text: str, expected: timedelta) -> None:
    assert parse_duration("partition.max.lag", text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7w", "-1d", "1.5h", "0h", "7 d s", "\uff11d"])
def test_bad_durations_name_the_property_and_value(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("partition.max.lag", text)
    assert f"partition.max.lag={text!r}" in str(info.value)


def test_control_reads_each_property() -> None:
    assert TableControl.from_parameters({}) == TableControl()
    control = TableControl.from_parameters(
        {"discover.partitions": "FALSE", "partition.retention.period": "2d"}
    )
    assert not control.discover and control.retention == timedelta(days=2)
    with pytest.raises(ValueError, match="under one hour"):
        TableControl.from_parameters({"partition.retention.period": "59m"})
    with pytest.raises(ValueError, match=r"discover\.partitions=.yes. must be true or false"):
        TableControl.from_parameters({"discover.partitions": "yes"})


# Registered values whose calendar fields are zero-padded (a Firehose-style writer).
PADDED = [["2024", "03", "09"]]


@pytest.mark.parametrize(
    ("keys", "params", "expected"),
    [
        (
            [PartitionKey("year"), PartitionKey("month"), PartitionKey("day")],
            {"samples": PADDED},
            "year <= '2024' AND (year < '2024' OR month <= '03') "
            "AND (year < '2024' OR month < '03' OR day <= '09')",
        ),
        # text months not known to be padded: `month <= '03'` would miss `2`, so the year only
        (
            [PartitionKey("year"), PartitionKey("month"), PartitionKey("day")],
            {"samples": [["2024", "11", "30"]]},
            "year <= '2024'",
        ),
        # AWS Config's unpadded text: the same
        (
            [PartitionKey("year"), PartitionKey("month"), PartitionKey("day")],
            {"samples": [["2024", "3", "9"]]},
            "year <= '2024'",
        ),
        # whole-number keys compare as numbers, padded or not
        (
            [PartitionKey("year", "int"), PartitionKey("month", "int"), PartitionKey("day", "int")],
            {},
            "year <= 2024 AND (year < 2024 OR month <= 3) "
            "AND (year < 2024 OR month < 3 OR day <= 9)",
        ),
        (
            [PartitionKey("region"), PartitionKey("dt"), PartitionKey("hour", "int")],
            {},
            "dt <= '2024-03-09' AND (dt < '2024-03-09' OR hour <= 5)",
        ),
        ([PartitionKey("dt", "int")], {}, "dt <= 20240309"),
        (
            [PartitionKey("p")],
            {"projection.p.type": "date", "projection.p.format": "yyyy/MM/dd/HH"},
            "p <= '2024/03/09/05'",
        ),
        # days first: the values do not sort in time order, so no expression
        (
            [PartitionKey("p")],
            {"projection.p.type": "date", "projection.p.format": "dd-MM-yyyy"},
            None,
        ),
    ],
)
def test_expired_expression(
    keys: list[PartitionKey], params: dict[str, str], expected: str | None
) -> None:
    params = dict(params)
    split = split_keys(keys, params, params.pop("samples", []))
    assert expired_expression(split, datetime(2024, 3, 9, 5, 30)) == expected


# --------------------------------------------------------------------------- switched off


def test_switched_off_table_is_left_alone_in_every_mode(
    aws: Aws, get_partitions_calls: list[dict[str, Any]]
) -> None:
    lake(aws)
    hours = every_6_hours(2)
    off = hourly(aws, "off", hours, {"discover.partitions": "False"})
    on = hourly(aws, "on", hours, {})
    aws.register(DB, "off", [(list(v), loc) for v, loc in list(off.items())[:2]])
    before = aws.partitions(DB, "off")
    for event in ({}, {"full_scan": True}, {"mode": "sync"}, {"dry_run": True}):
        summary = run(event)
        skipped = entry(summary, "off")
        assert skipped["status"] == "skipped", dumps(skipped)
        assert skipped["errors"][0].startswith("discover.partitions=false")
        assert summary["status"] == "succeeded"
        assert aws.partitions(DB, "off") == before
    assert aws.partitions(DB, "on") == on
    assert all(c["TableName"] == "on" for c in get_partitions_calls)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"discover.partitions": "flase"}, "discover.partitions='flase' must be true or false"),
        ({"discover.partitions": ""}, "discover.partitions='' must be true or false"),
        ({"partition.retention.period": "7 weeks"}, "partition.retention.period='7 weeks'"),
        ({"partition.retention.period": "forever"}, "partition.retention.period='forever'"),
        ({"partition.retention.period": "30m"}, "partition.retention.period='30m' is under"),
        ({"partition.max.lag": "2x"}, "partition.max.lag='2x' is not a duration"),
        ({"partition.max.lag": "0s"}, "partition.max.lag='0s' must be more than zero"),
    ],
)
def test_a_bad_property_fails_its_table_alone(
    aws: Aws, params: dict[str, str], message: str
) -> None:
    lake(aws)
    hours = every_6_hours(2)
    bad = hourly(aws, "bad", hours, {"partition.retention.period": "1d", **params})
    aws.register(DB, "bad", [(list(v), loc) for v, loc in bad.items()])  # some are expired
    good = hourly(aws, "good", hours, {})
    summary = run({})
    failed = entry(summary, "bad")
    assert failed["status"] == "failed" and message in failed["errors"][0], dumps(failed)
    assert aws.partitions(DB, "bad") == bad  # nothing removed, nothing done
    assert aws.partitions(DB, "good") == good
    assert summary["status"] == "partial"


@pytest.mark.parametrize("prop", ["partition.retention.period", "partition.max.lag"])
def test_retention_and_lag_need_time_keys(aws: Aws, prop: str) -> None:
    lake(aws)
    data = untimed(aws, "lookup", {prop: "2d"})
    aws.register(DB, "lookup", [(list(v), loc) for v, loc in data.items()])
    summary = run({})
    failed = entry(summary, "lookup")
    assert failed["status"] == "failed", dumps(failed)
    assert f"{prop}='2d' needs time partition keys" in failed["errors"][0]
    assert aws.partitions(DB, "lookup") == data


# --------------------------------------------------------------------------- retention


@pytest.mark.parametrize(("builder", "days", "period"), [(hourly, 6, "3d"), (positional, 4, "36h")])
def test_retention_removes_exactly_the_expired_and_never_re_adds_them(
    aws: Aws, get_partitions_calls: list[dict[str, Any]], builder: Any, days: int, period: str
) -> None:
    lake(aws)
    data = builder(aws, "events", every_6_hours(days), {"partition.retention.period": period})
    aws.register(DB, "events", [(list(v), loc) for v, loc in data.items()])
    cutoff = NOW - parse_duration("p", period)
    expired = {v for v in data if datetime.strptime("-".join(v), "%Y-%m-%d-%H") < cutoff}
    assert 0 < len(expired) < len(data) and len(expired) <= 20  # both sides, listed in full
    kept = {v: loc for v, loc in data.items() if v not in expired}

    dry = entry(run({"dry_run": True}), "events")
    assert dry["expired"] == len(expired), dumps(dry)
    assert dry["would_expire"] == sorted(data[v] for v in expired)
    assert aws.partitions(DB, "events") == data  # a dry run changes nothing

    get_partitions_calls.clear()
    real = entry(run({}), "events")
    assert real["expired"] == len(expired) and real["status"] == "succeeded", dumps(real)
    assert aws.partitions(DB, "events") == kept
    # the expired are found by an expression; the one unfiltered read is the first page
    filtered = [c for c in get_partitions_calls if "Expression" in c]
    assert filtered and len(get_partitions_calls) - len(filtered) == 1, get_partitions_calls

    # The data is still in S3: later runs, full or not, never register it again.
    full = entry(run({"full_scan": True}), "events")
    assert full["created"] == 0 and full["expired"] == len(expired), dumps(full)
    assert entry(run({}), "events")["created"] == 0
    assert aws.partitions(DB, "events") == kept


def test_first_run_with_retention_registers_only_the_recent_part(aws: Aws) -> None:
    lake(aws)
    data = hourly(aws, "fresh", every_6_hours(5), {"partition.retention.period": "2d"})
    summary = entry(run({}), "fresh")
    kept = aws.partitions(DB, "fresh")
    cutoff = NOW - timedelta(days=2)
    expected = {
        v: loc
        for v, loc in data.items()
        if datetime.strptime(f"{v[0]} {v[1]}", "%Y-%m-%d %H") >= cutoff
    }
    assert kept == expected
    assert summary["expired"] == len(data) - len(expected) and summary["skipped"] == 0


# --------------------------------------------------------------------------- freshness


def test_lag_and_stale_match_the_catalog(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    lake(aws)
    newest_hour = NOW.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    hours = [newest_hour - timedelta(hours=h) for h in (5, 2, 0)]
    hourly(aws, "late", hours, {"partition.max.lag": "1h"})
    hourly(aws, "fine", hours, {"partition.max.lag": "1d"})
    positional(aws, "plain", hours, {})
    untimed(aws, "lookup", {})
    ends = newest_hour + timedelta(hours=1)  # hour h ends at h+1
    with caplog.at_level(logging.WARNING):
        summary = run({})
    lag = (NOW - ends).total_seconds()  # the run's clock is the session's (tests/conftest.py)
    for name in ("late", "fine", "plain"):
        table = entry(summary, name)
        assert table["lag_seconds"] == int(lag), dumps(table)
        assert table["newest"][-1] == f"{newest_hour:%H}"
        assert table["status"] == "succeeded"  # staleness is the feed's problem, not the run's
    assert entry(summary, "late")["stale"] is True
    assert entry(summary, "fine")["stale"] is False and entry(summary, "plain")["stale"] is False
    assert entry(summary, "lookup")["lag_seconds"] is None
    assert entry(summary, "lookup")["newest"] == ["b"]  # by path without time keys
    assert summary["totals"]["stale"] == 1 and summary["status"] == "succeeded"
    warnings = [r for r in caplog.records if r.getMessage() == "table is stale"]
    assert [(r.database, r.table) for r in warnings] == [(DB, "late")]
