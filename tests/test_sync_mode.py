"""Sync mode: catalog partitions whose Location holds no data are removed, never S3 data,
never on the strength of a failed listing, and never more than SYNC_MAX_REMOVE_FRACTION of a
table's partitions unless forced."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

import main
from modules.Settings import Settings
from tests.conftest import Aws, dumps
from tests.faultproxy import Faults, Record, Request
from tests.helpers import BUCKET, DATABASE, Lake, entry, proxied, seed_objects

Values = tuple[str, ...]
SYNC = {"databases": [DATABASE], "mode": "sync"}


def day(i: int) -> str:
    """The i-th day of 2024 as a partition value."""
    return (date(2024, 1, 1) + timedelta(days=i)).isoformat()


def hive_table(aws: Aws, table: str, with_data: int, without_data: int) -> dict[Values, str]:
    """A Hive-style table (key `dt`) with `with_data + without_data` registered partitions;
    the first `with_data` have a data object. Returns the registered values → location."""
    if not aws.s3.list_buckets()["Buckets"]:
        Lake.create(aws, DATABASE, BUCKET)
    data = {(day(i),): f"{table}/dt={day(i)}/" for i in range(with_data)}
    registered = Lake(aws, DATABASE, BUCKET).table(table, ["dt"], data, preregister=with_data)
    gone = {
        (day(i),): f"s3://{BUCKET}/{table}/dt={day(i)}/"
        for i in range(with_data, with_data + without_data)
    }
    aws.register(DATABASE, table, [(list(v), loc) for v, loc in gone.items()])
    return {**registered, **gone}


def all_keys(aws: Aws) -> list[tuple[str, str]]:
    """Every object in the bucket with its ETag."""
    pages = aws.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return [(o["Key"], o["ETag"]) for page in pages for o in page.get("Contents", ())]


def test_removes_partitions_whose_location_holds_no_data(aws: Aws) -> None:
    """Empty locations, locations with only ignored names or folder markers, and a moved
    location (not the path the values give) are removed; S3 is untouched."""
    registered = hive_table(aws, "events", with_data=40, without_data=0)
    extra = {
        (day(100),): "events/dt=only-ignored/",  # _SUCCESS, .crc, _temporary/ only
        (day(101),): "events/dt=only-markers/",  # folder markers only
        (day(102),): "events/dt=nothing/",  # nothing at all
        (day(103),): "moved/2024-04-13/",  # outside the table's prefix, empty
        (day(104),): "archive/2024-04-14/",  # outside the table's prefix, with data: kept
    }
    aws.register(DATABASE, "events", [(list(v), f"s3://{BUCKET}/{p}") for v, p in extra.items()])
    seed_objects(
        BUCKET,
        [
            "events/dt=only-ignored/_SUCCESS",
            "events/dt=only-ignored/.part-0.crc",
            "events/dt=only-ignored/_temporary/0/part-0.json",
            "events/dt=only-markers/sub/",
            "events/dt=only-markers/sub_$folder$",
            "events/dt=only-markers_$folder$",
            "moved/2024-04-13/_SUCCESS",
            "archive/2024-04-14/part-0.json",
        ],
    )
    keys = all_keys(aws)
    summary = main.lambda_handler(SYNC, None)
    gone = [v for v in extra if v != (day(104),)]
    catalog = aws.partitions(DATABASE, "events")
    assert set(catalog) == set(registered) | {(day(104),)}, dumps(summary)
    events = entry(summary, "events")
    assert events["removed"] == len(gone) == summary["totals"]["removed"], dumps(events)
    assert events["created"] == 0 and events["scan"] == "full"
    assert summary["status"] == "succeeded", dumps(summary)
    assert all_keys(aws) == keys


def test_failed_listing_adds_what_it_found_and_removes_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing breaks off half-way (the call after an ignored subtree is refused): the
    partitions found before are added, none is removed, the entry says why, run partial."""
    registered = hive_table(aws, "events", with_data=0, without_data=3)
    seed_objects(BUCKET, [f"events/dt={day(i)}/part-0.json" for i in (10, 11, 12, 13)])
    seed_objects(BUCKET, [f"events/dt={day(12)}/_temporary/x.json"])  # sorts before its data

    def refuse_resumed_listing(request: Request) -> str | None:
        resumed = request.operation == "ListObjectsV2" and "start-after" in request.query
        return "AccessDenied" if resumed else None

    with proxied(monkeypatch, aws.endpoint, Faults(rule=refuse_resumed_listing)) as proxy:
        summary = main.lambda_handler(SYNC, None)
    events = entry(summary, "events")
    assert proxy.fault_counts()["AccessDenied"] == 1
    assert set(aws.partitions(DATABASE, "events")) == set(registered) | {(day(10),), (day(11),)}
    assert events["created"] == 2 and events["removed"] == 0, dumps(events)
    assert events["status"] == "partial" and summary["status"] == "partial"
    assert any("AccessDenied" in e for e in events["errors"]), dumps(events)
    assert any("nothing removed" in e for e in events["errors"]), dumps(events)
    assert not proxy.calls("BatchDeletePartition")


def test_failed_check_of_an_outside_location_removes_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition located outside the table's prefix whose check is refused: nothing is
    removed from the table, even the partitions that are clearly gone."""
    registered = hive_table(aws, "events", with_data=20, without_data=1)
    aws.register(DATABASE, "events", [([day(99)], f"s3://{BUCKET}/elsewhere/x/")])
    faults = Faults(deny_s3_listings=((BUCKET, "elsewhere/"),))
    with proxied(monkeypatch, aws.endpoint, faults):
        summary = main.lambda_handler(SYNC, None)
    events = entry(summary, "events")
    assert set(aws.partitions(DATABASE, "events")) == set(registered) | {(day(99),)}
    assert events["removed"] == 0 and summary["status"] == "partial", dumps(events)
    assert any("elsewhere" in e and "AccessDenied" in e for e in events["errors"])


@pytest.mark.parametrize(
    ("total", "gone", "fraction", "refused"),
    [
        (10, 1, None, False),  # exactly 10%: allowed
        (10, 2, None, True),  # 20% > 10%
        (20, 3, None, True),  # 15% > 10%
        (4, 1, "0.25", False),  # exactly the configured share
        (4, 2, "0.25", True),
        (3, 1, None, True),  # a small table: any removal is above the share
    ],
)
def test_guard(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    total: int,
    gone: int,
    fraction: str | None,
    refused: bool,
) -> None:
    """Removing strictly more than SYNC_MAX_REMOVE_FRACTION of the registered partitions is
    refused, with the counts in the entry and the run partial."""
    if fraction:
        monkeypatch.setenv("SYNC_MAX_REMOVE_FRACTION", fraction)
    registered = hive_table(aws, "events", with_data=total - gone, without_data=gone)
    summary = main.lambda_handler(SYNC, None)
    events = entry(summary, "events")
    catalog = aws.partitions(DATABASE, "events")
    assert events["removal_refused"] is refused, dumps(events)
    if refused:
        assert set(catalog) == set(registered)
        assert events["removed"] == 0 and events["status"] == "partial"
        assert summary["status"] == "partial"
        assert any(f"refused to remove {gone} of {total}" in e for e in events["errors"])
    else:
        assert len(catalog) == total - gone and events["removed"] == gone
        assert summary["status"] == "succeeded", dumps(summary)


def test_force_overrides_the_guard(aws: Aws) -> None:
    """`force: true` removes what the guard would refuse."""
    hive_table(aws, "events", with_data=2, without_data=8)
    summary = main.lambda_handler({**SYNC, "force": True}, None)
    assert entry(summary, "events")["removed"] == 8, dumps(summary)
    assert entry(summary, "events")["removal_refused"] is False
    assert set(aws.partitions(DATABASE, "events")) == {(day(0),), (day(1),)}
    assert summary["status"] == "succeeded"


@pytest.mark.parametrize(
    "event",
    [
        {"databases": [DATABASE], "force": True},
        {"databases": [DATABASE], "mode": "add", "force": True},
        {"databases": [DATABASE], "mode": "delete"},
        {"databases": [DATABASE], "mode": "SYNC"},
        {"databases": [DATABASE], "mode": None},
        {"databases": [DATABASE], "mode": "sync", "force": "yes"},
    ],
)
def test_bad_mode_or_force_is_a_value_error(event: dict[str, Any]) -> None:
    """Unknown modes and `force` outside sync mode are refused before any AWS call."""
    with pytest.raises(ValueError):
        main.parse_event(event, Settings())
    with pytest.raises(ValueError):
        main.lambda_handler(event, None)  # no endpoint needed: refused before any call


@pytest.mark.parametrize("gone", [1, 5])
def test_dry_run_lists_and_changes_nothing(aws: Aws, gone: int) -> None:
    """dry_run lists what would go and whether the guard refuses; nothing changes."""
    hive_table(aws, "events", with_data=10, without_data=gone)
    seed_objects(BUCKET, [f"events/dt={day(50)}/part-0.json"])
    before = aws.partitions(DATABASE, "events")
    summary = main.lambda_handler({**SYNC, "dry_run": True}, None)
    events = entry(summary, "events")
    expected = [f"s3://{BUCKET}/events/dt={day(i)}/" for i in range(10, 10 + gone)]
    assert events["would_remove"] == expected, dumps(events)
    assert events["removal_refused"] is (gone / (10 + gone) > 0.1)
    assert events["created"] == 1 and summary["dry_run"] is True
    assert events["removed"] == (0 if events["removal_refused"] else gone)
    assert aws.partitions(DATABASE, "events") == before


def test_deletes_in_chunks_of_25_and_counts_not_found_as_removed(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 removals go out as 25 + 25 + 10; one partition removed by someone else while the
    run is going (Glue answers EntityNotFoundException for it) counts as removed."""
    hive_table(aws, "events", with_data=5, without_data=60)
    hive_table(aws, "clicks", with_data=30, without_data=2)
    raced: list[list[str]] = []

    def remove_one_first(record: Record, payload: dict[str, Any] | None) -> None:
        if record.operation == "BatchDeletePartition" and record.table == "events" and not raced:
            values = payload["PartitionsToDelete"][-1]["Values"]
            aws.glue.delete_partition(
                DatabaseName=DATABASE, TableName="events", PartitionValues=values
            )
            raced.append(values)

    with proxied(monkeypatch, aws.endpoint, on_forward=remove_one_first) as proxy:
        summary = main.lambda_handler({**SYNC, "force": True}, None)
    deletes = proxy.calls("BatchDeletePartition")
    sizes = sorted((r.table, r.items) for r in deletes)
    assert sizes == [("clicks", 2), ("events", 10), ("events", 25), ("events", 25)]
    assert raced, "the concurrent removal never happened"
    events, clicks = entry(summary, "events"), entry(summary, "clicks")
    assert events["removed"] == 60 and events["failed"] == 0, dumps(events)
    assert clicks["removed"] == 2
    assert summary["totals"]["removed"] == 62 and summary["status"] == "succeeded"
    assert len(aws.partitions(DATABASE, "events")) == 5
    assert len(aws.partitions(DATABASE, "clicks")) == 30


def test_add_mode_never_removes(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default mode leaves partitions without data alone and calls no delete."""
    registered = hive_table(aws, "events", with_data=1, without_data=5)
    with proxied(monkeypatch, aws.endpoint) as proxy:
        summary = main.lambda_handler({"databases": [DATABASE], "full_scan": True}, None)
    assert set(aws.partitions(DATABASE, "events")) == set(registered)
    assert summary["totals"]["removed"] == 0 and not proxy.calls("BatchDeletePartition")
