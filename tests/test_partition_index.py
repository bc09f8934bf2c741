"""Partition indexes over HTTP through the strict layer: made once and then used, `use` and
`off`, Glue's limits, a key type Glue cannot index, a dry run; and the AND-only pieces that let
an index serve a recent window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

import main
from modules import GlueExpressions as expressions
from modules.GlueAPISetup import PAGE
from modules.Render import render
from modules.TimeKeys import PartitionKey, split_keys
from tests.conftest import CLOCK, Aws, dumps
from tests.glue_expression import Key, parse
from tests.helpers import Lake, firehose_hours, hours_before
from tests.strictlayer import StrictLayer

NOW = CLOCK.replace(tzinfo=None, minute=0, second=0, microsecond=0)
KEYS = ["year", "month", "day", "hour"]
INDEX = "partition_sync_year_month_day_hour"
HISTORY = 1500  # hours registered: more than one page of 1,000, so windows are read


def _hour_values(moment: datetime) -> list[str]:
    return [f"{moment:%Y}", f"{moment:%m}", f"{moment:%d}", f"{moment:%H}"]


def _firehose_table(aws: Aws, history: int = HISTORY) -> dict[tuple[str, ...], str]:
    """A Firehose table (`YYYY/MM/dd/HH/`, string keys) with `history` hours registered, data
    in S3 for the newest 3 of them and the 2 hours after; returns the expected catalog."""
    lake = Lake.create(aws, "raw_idx", "lake")
    hours = hours_before(NOW - timedelta(hours=1), history)
    older = {v: f"s3://lake/{p}" for v, p in firehose_hours("events/", hours[:-3]).items()}
    with_data = firehose_hours("events/", [*hours[-3:], NOW - timedelta(hours=1), NOW])
    expected = lake.table("events", KEYS, with_data, preregister=3)
    aws.register("raw_idx", "events", [(list(v), loc) for v, loc in older.items()])
    return {**older, **expected}


def _land(aws: Aws, moment: datetime, expected: dict[tuple[str, ...], str]) -> None:
    aws.put("lake", [f"events/{moment:%Y/%m/%d/%H}/part-0.json"])
    expected[tuple(_hour_values(moment))] = f"s3://lake/events/{moment:%Y/%m/%d/%H}/"


def _run(**event: Any) -> dict[str, Any]:
    return main.lambda_handler({"databases": ["raw_idx"], **event}, None)


def _entry(summary: dict[str, Any]) -> dict[str, Any]:
    (entry,) = summary["tables"]
    return entry


def _filtered_loads(strict: StrictLayer) -> list[int]:
    """Partitions loaded by the filtered first pages (unfiltered reads load what they return)."""
    return [c.loaded for c in strict.calls("GetPartitions") if c.filtered and c.loaded is not None]


def _window_months(catalog: Iterable[tuple[str, ...]], branch_keys: int = 0) -> int:
    """What an index selects for the last day's window (`year = Y AND month >= M AND …`, the
    AND-only part of its second piece): the partitions of the window's months, far fewer than
    the table's."""
    start = CLOCK.replace(tzinfo=None) - timedelta(days=1)
    times = [v[branch_keys:] for v in catalog]
    months = [v for v in times if v[0] == f"{start:%Y}" and v[1] >= f"{start:%m}"]
    assert len(months) < HISTORY
    return len(months)


def test_an_index_is_created_once_and_then_serves_the_windows(
    aws: Aws, strict: StrictLayer
) -> None:
    """Glue docs, "Creating partition indexes": without an index a filtered GetPartitions loads
    every partition; with one it fetches what the index selects. The first run creates the index
    (CreatePartitionIndex) and reads as before; the next run finds it ACTIVE
    (GetPartitionIndexes) and reads each window as pieces whose AND-only part the index serves:
    it loads the window's months, not the table."""
    expected = _firehose_table(aws)
    first = _run()
    assert _entry(first)["status"] == "succeeded", dumps(first)
    assert _entry(first)["partition_index"] == INDEX
    assert len(strict.calls("CreatePartitionIndex")) == 1
    assert max(_filtered_loads(strict)) == HISTORY  # no index yet: the whole table is loaded
    strict.clear_calls()

    _land(aws, NOW + timedelta(hours=1), expected)
    second = _run()
    assert _entry(second)["created"] == 1, dumps(second)
    assert _entry(second)["partition_index"] == INDEX
    assert not strict.calls("CreatePartitionIndex")
    assert len(strict.calls("GetPartitionIndexes")) == 1
    loads = _filtered_loads(strict)
    assert loads and max(loads) <= _window_months(expected), loads
    assert aws.partitions("raw_idx", "events") == expected


def test_a_creating_index_is_not_used_until_active(aws: Aws, strict: StrictLayer) -> None:
    """Glue docs, "Creating partition indexes": a new index is CREATING while Glue backfills
    it; reads use it once it is ACTIVE, and it is never created twice."""
    _firehose_table(aws)
    strict.strictness.index_active_after = 1000
    _run()
    strict.clear_calls()
    again = _run()
    assert _entry(again)["partition_index"] == INDEX
    assert not strict.calls("CreatePartitionIndex")
    assert max(_filtered_loads(strict)) >= HISTORY


def test_use_reads_an_existing_index_and_creates_none(
    aws: Aws, strict: StrictLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Glue API reference, CreatePartitionIndex and GetPartitionIndexes: with PARTITION_INDEX=use
    an index made by someone else serves the reads, and the function never creates one."""
    expected = _firehose_table(aws)
    monkeypatch.setenv("PARTITION_INDEX", "use")
    _run()
    assert not strict.calls("CreatePartitionIndex")
    aws.glue.create_partition_index(
        DatabaseName="raw_idx",
        TableName="events",
        PartitionIndex={"IndexName": "by_time", "Keys": KEYS},
    )
    strict.clear_calls()
    _land(aws, NOW + timedelta(hours=1), expected)
    summary = _run()
    assert _entry(summary)["partition_index"] == "by_time"
    assert max(_filtered_loads(strict)) <= _window_months(expected)
    assert aws.partitions("raw_idx", "events") == expected


def test_off_reads_no_index(aws: Aws, strict: StrictLayer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Glue docs, "Creating partition indexes": without an index Glue loads the whole table for
    a filtered read. PARTITION_INDEX=off neither reads nor creates indexes."""
    expected = _firehose_table(aws)
    monkeypatch.setenv("PARTITION_INDEX", "off")
    summary = _run()
    assert "partition_index" not in _entry(summary)
    assert not strict.calls("GetPartitionIndexes") and not strict.calls("CreatePartitionIndex")
    assert max(_filtered_loads(strict)) == HISTORY
    assert aws.partitions("raw_idx", "events") == expected


def test_a_table_with_three_indexes_gets_a_warning(aws: Aws, strict: StrictLayer) -> None:
    """Glue docs, "Creating partition indexes": a table has at most 3 partition indexes. The
    function then warns in the entry and the table still succeeds."""
    expected = _firehose_table(aws)
    for i, keys in enumerate((["month"], ["day"], ["hour", "day"])):
        aws.glue.create_partition_index(
            DatabaseName="raw_idx",
            TableName="events",
            PartitionIndex={"IndexName": f"other_{i}", "Keys": keys},
        )
    strict.clear_calls()
    summary = _run()
    entry = _entry(summary)
    assert entry["status"] == "succeeded", dumps(summary)
    assert any("3 partition indexes" in w for w in entry["warnings"]), dumps(entry)
    assert not strict.calls("CreatePartitionIndex")
    assert aws.partitions("raw_idx", "events") == expected


def test_glue_refuses_a_fourth_index(aws: Aws) -> None:
    """Glue API reference, CreatePartitionIndex: ResourceNumberLimitExceededException past 3
    indexes, AlreadyExistsException for a name in use, InvalidInputException for a key Glue
    cannot index; the strict layer answers as Glue does."""
    _firehose_table(aws)
    create = aws.glue.create_partition_index
    for i in range(3):
        create(
            DatabaseName="raw_idx",
            TableName="events",
            PartitionIndex={"IndexName": f"i{i}", "Keys": [KEYS[i]]},
        )
    errors = aws.glue.exceptions
    with pytest.raises(errors.AlreadyExistsException):
        create(
            DatabaseName="raw_idx",
            TableName="events",
            PartitionIndex={"IndexName": "i0", "Keys": ["day"]},
        )
    with pytest.raises(errors.ResourceNumberLimitExceededException):
        create(
            DatabaseName="raw_idx",
            TableName="events",
            PartitionIndex={"IndexName": "i3", "Keys": ["hour"]},
        )
    described = aws.glue.get_partition_indexes(DatabaseName="raw_idx", TableName="events")
    assert [i["IndexStatus"] for i in described["PartitionIndexDescriptorList"]] == ["ACTIVE"] * 3


def test_a_failed_create_is_a_warning(aws: Aws, strict: StrictLayer) -> None:
    """Glue API reference, CreatePartitionIndex (OperationTimeoutException, an HTTP 400 that
    botocore does not retry: aws/aws-sdk-pandas#2726): a create that fails is a warning in the
    entry, never a failure; the partitions are registered and the next run tries again."""
    expected = _firehose_table(aws)
    strict.strictness.timeout_operations = frozenset({"CreatePartitionIndex"})
    strict.strictness.timeout_rate = 1.0
    entry = _entry(_run())
    assert entry["status"] == "succeeded", dumps(entry)
    assert any("OperationTimeoutException" in w for w in entry["warnings"]), dumps(entry)
    assert aws.partitions("raw_idx", "events") == expected
    strict.strictness.timeout_rate = 0.0
    strict.clear_calls()
    assert _entry(_run())["partition_index"] == INDEX
    assert len(strict.calls("CreatePartitionIndex")) == 1


def test_a_timestamp_key_cannot_be_indexed(aws: Aws, strict: StrictLayer) -> None:
    """Glue docs, "Creating partition indexes": indexes take string, whole-number and date keys
    only; a `timestamp` key of a table bigger than a page gets a warning, no
    CreatePartitionIndex, and the table succeeds."""
    aws.bucket("lake")
    aws.database("raw_idx")
    aws.table("raw_idx", "ticks", "s3://lake/ticks/", [("ts", "timestamp")])
    history = hours_before(NOW - timedelta(hours=2), PAGE + 1)
    aws.register(
        "raw_idx",
        "ticks",
        [
            ([f"{m:%Y-%m-%d %H}:00:00"], f"s3://lake/ticks/ts={m:%Y-%m-%d %H}%3A00%3A00/")
            for m in history
        ],
    )
    moment = NOW - timedelta(hours=2)
    aws.put("lake", [f"ticks/ts={moment:%Y-%m-%d %H}%3A00%3A00/part-0.json"])
    summary = main.lambda_handler({"databases": ["raw_idx"]}, None)
    entry = _entry(summary)
    assert entry["status"] == "succeeded", dumps(summary)
    assert any("timestamp cannot be indexed" in w for w in entry["warnings"]), dumps(entry)
    assert not strict.calls("CreatePartitionIndex")


def test_a_dry_run_reports_the_index_it_would_create(aws: Aws, strict: StrictLayer) -> None:
    """Glue API reference, CreatePartitionIndex: a dry run changes nothing, so it reports the
    index in `would_create_index` (the entry and the rendered table) instead of creating it."""
    _firehose_table(aws)
    summary = _run(dry_run=True)
    entry = _entry(summary)
    assert entry["would_create_index"] == [{"IndexName": INDEX, "Keys": KEYS}]
    assert not strict.calls("CreatePartitionIndex")
    assert f"would create partition index {INDEX} (year, month, day, hour)" in render(summary)


# --------------------------------------------------------------------------- the pieces


def _calendar_split(kind: str, padded_samples: bool) -> Any:
    keys = [PartitionKey(k, kind) for k in KEYS]
    samples = [["2026", "07", "04", "09"]] if padded_samples else []
    return split_keys(keys, {}, samples)


def _every_hour(start: datetime, hours: int, pad: bool) -> list[dict[str, Any]]:
    moments = [start + timedelta(hours=h) for h in range(hours)]
    if pad:
        return [{"Values": _hour_values(m)} for m in moments]
    return [{"Values": [str(m.year), str(m.month), str(m.day), str(m.hour)]} for m in moments]


@pytest.mark.parametrize("kind", ["string", "int"])
@pytest.mark.parametrize("padded", [True, False])
def test_pieces_select_exactly_what_the_window_selects(kind: str, padded: bool) -> None:
    """Glue docs, "Creating partition indexes": an index serves `=`, `<`, `<=`, `>`, `>=` joined
    by AND; sub-expressions with OR are ignored by it and filtered afterwards. Each calendar
    window is two pieces, `year > Y` and `year = Y AND month >= M AND (…)`, whose AND-only parts
    the index serves and which together select what the window's one expression does, on padded
    and unpadded values alike (only `year`, four digits, is compared with `=`: `month = '03'`
    would miss a stored `3`, Glue API reference, string keys compare as text)."""
    now = datetime(2026, 3, 1, 2)
    windows = expressions.recent_windows(_calendar_split(kind, padded_samples=padded), now)
    assert windows is not None and windows.pieces is not None
    assert windows.reads(indexed=True) == windows.pieces
    keys = [Key(k, kind) for k in KEYS]
    partitions = _every_hour(datetime(2025, 1, 1), 24 * 500, pad=padded)
    for expression, pieces in zip(windows.expressions, windows.pieces, strict=True):
        first, second = pieces
        assert first.startswith("year > ") and " OR " not in first
        served = second.split(" AND (")[0]  # what the index selects by
        assert served.startswith("year = ") and " OR " not in served, second
        window = {tuple(p["Values"]) for p in parse(expression, keys).select(partitions)}
        union = {tuple(p["Values"]) for e in pieces for p in parse(e, keys).select(partitions)}
        assert union == window and window


def test_a_branch_led_index_serves_a_new_branch(aws: Aws, strict: StrictLayer) -> None:
    """Glue docs, "Creating partition indexes" (an index serves equality on its leading keys):
    a table with branch keys also gets an index led by them, so a branch that is new costs a
    read of that branch alone, not a load of the whole table."""
    aws.bucket("lake")
    aws.database("raw_idx")
    aws.table("raw_idx", "logs", "s3://lake/logs/", ["region", *KEYS])
    hours = [NOW - timedelta(hours=h) for h in range(600, 1, -1)]
    registered = [
        ([r, *_hour_values(m)], f"s3://lake/logs/{r}/{m:%Y/%m/%d/%H}/")
        for r in ("eu", "us")
        for m in hours
    ]
    aws.register("raw_idx", "logs", registered)
    _run()  # creates both indexes
    assert [c.items for c in strict.calls("CreatePartitionIndex")] == [0, 0]
    new = f"logs/ap/{NOW:%Y/%m/%d/%H}/part-0.json"
    aws.put("lake", [new, f"logs/eu/{NOW:%Y/%m/%d/%H}/part-0.json"])
    strict.clear_calls()
    entry = _entry(_run())
    assert entry["created"] == 2, dumps(entry)
    assert entry["partition_index"] == (
        "partition_sync_year_month_day_hour, partition_sync_region_year_month_day_hour"
    )
    loads = _filtered_loads(strict)
    assert loads and max(loads) <= _window_months([tuple(v) for v, _ in registered], 1), loads
