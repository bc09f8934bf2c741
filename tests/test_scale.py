"""Big tables over HTTP through the strict layer: whole-table reads in segments, and a table cut
by the deadline that hands the rest on and ends, over a chain of invocations, with exactly the
catalog one long run leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

import main
from modules import GlueAPISetup as glue_api
from modules.Settings import Settings
from tests.conftest import CLOCK, Aws, FakeContext, LambdaContext, dumps, lambda_invokes
from tests.helpers import Lake, firehose_hours, hours_before
from tests.strictlayer import StrictLayer

NOW = CLOCK.replace(tzinfo=None, minute=0, second=0, microsecond=0)
FIREHOSE = ["year", "month", "day", "hour"]
MARGIN_MS = Settings().time_margin_seconds * 1000


def _hours(count: int) -> list[datetime]:
    return hours_before(NOW, count)


def _firehose(big: Lake, table: str, hours: list[datetime], branches: list[str] | None = None):
    """A table `[region/]YYYY/MM/dd/HH/` with one object per partition in S3, none registered;
    returns the expected catalog (values → location)."""
    if not branches:
        return big.table(table, FIREHOSE, firehose_hours(f"{table}/", hours))
    data = {
        (branch, *values): path
        for branch in branches
        for values, path in firehose_hours(f"{table}/{branch}/", hours).items()
    }
    return big.table(table, ["region", *FIREHOSE], data)


@pytest.fixture
def big(aws: Aws) -> Lake:
    return Lake.create(aws, "raw_big", "big")


# --------------------------------------------------------------------------- segments


def test_segmented_reads_equal_one_read(big: Lake, strict: StrictLayer) -> None:
    """Glue API reference, GetPartitions (`Segment`: up to 10 segments of one table, read in
    parallel): the segments together are the table, each partition once, values and Location
    only."""
    expected = _firehose(big, "t", [])
    hours = _hours(1200)
    big.aws.register(
        "raw_big",
        "t",
        [
            ([f"{m:%Y}", f"{m:%m}", f"{m:%d}", f"{m:%H}"], f"s3://big/t/{m:%Y/%m/%d/%H}/")
            for m in hours
        ],
    )
    assert not expected
    whole = glue_api.get_partitions(big.aws.glue, "raw_big", "t")
    strict.clear_calls()
    segmented = glue_api.get_partitions(big.aws.glue, "raw_big", "t", segments=4)
    assert sorted(map(str, segmented)) == sorted(map(str, whole))
    assert len(segmented) == len({tuple(p["Values"]) for p in segmented}) == 1200
    assert all(set(p) == {"Values", "StorageDescriptor"} for p in segmented)
    assert all(set(p["StorageDescriptor"]) == {"Location"} for p in segmented)
    assert strict.reads("GetPartitions", "t") == 4


def test_a_full_scan_reads_the_catalog_in_segments(
    big: Lake, strict: StrictLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Glue API reference, GetPartitions (`Segment`): a full scan's whole-table read goes in
    GLUE_READ_SEGMENTS segments and finds what one read finds."""
    expected = _firehose(big, "t", _hours(30))
    big.aws.register("raw_big", "t", [(list(v), loc) for v, loc in list(expected.items())[:20]])
    monkeypatch.setenv("GLUE_READ_SEGMENTS", "10")
    summary = main.lambda_handler({"databases": ["raw_big"], "full_scan": True}, None)
    assert summary["status"] == "succeeded", dumps(summary)
    assert summary["tables"][0]["existing"] == 20 and summary["tables"][0]["created"] == 10
    assert strict.reads("GetPartitions", "t") == 10
    assert big.aws.partitions("raw_big", "t") == expected


# --------------------------------------------------------------------------- the deadline


def _context(accepted: int) -> FakeContext:
    """A context whose time falls a second at each look: the table starts (at least the margin
    is left), then `accepted` partitions go through before less than half the margin remains, when
    a started table is cut (`accepted` of 30 or more)."""
    assert accepted * 1000 >= MARGIN_MS / 2
    return FakeContext(int(MARGIN_MS / 2) + accepted * 1000, 1000)


def _created_items(strict: StrictLayer) -> int:
    return sum(c.items for c in strict.calls("BatchCreatePartition") if c.error is None)


def test_a_table_cut_twice_ends_exactly_right(big: Lake, strict: StrictLayer) -> None:
    """AWS Lambda developer guide, "Lambda context object in Python"
    (`get_remaining_time_in_millis`): a full scan that cannot finish before the margin stops at
    a path, with everything before it registered and nothing after it, hands the rest on with
    `resume`, and the chain of cut runs ends with the catalog one long run leaves, each
    partition written once."""
    expected = _firehose(big, "t", _hours(120))
    ordered = sorted(expected.items(), key=lambda item: item[1])
    event: dict[str, Any] = {"databases": ["raw_big"], "full_scan": True}
    cuts = []
    for _ in range(5):
        summary = main.lambda_handler(event, _context(50))
        (entry,) = summary["tables"]
        if not summary["continuation"]:
            break
        assert summary["status"] == entry["status"] == "partial", dumps(summary)
        (event,) = summary["continuation"]
        assert event["full_scan"] is True and event["tables"] == ["t"]
        assert event["resume"] == {"raw_big.t": entry["resume"]}
        cuts.append(entry["resume"])
        done = [loc for _, loc in ordered if loc < entry["resume"]]
        assert sorted(big.aws.partitions("raw_big", "t").values()) == done
    assert entry["status"] == "succeeded", dumps(summary)
    assert len(cuts) == 2 and cuts == sorted(cuts)
    assert cuts[0] == ordered[50][1]
    assert big.aws.partitions("raw_big", "t") == expected
    assert _created_items(strict) == len(expected)
    assert not [c for c in strict.calls("BatchCreatePartition") if c.error]


def test_branches_listed_at_once_are_cut_at_one_point(big: Lake, strict: StrictLayer) -> None:
    """AWS Lambda developer guide, "Lambda context object in Python": with branches listed at
    once the cut still leaves, in every branch, no registered partition above one that is not,
    and the chain of runs (incremental, as scheduled) registers every partition once."""
    regions = ["eu-west-1", "us-east-1", "us-west-2"]
    expected = _firehose(big, "svc", _hours(40), regions)
    event: dict[str, Any] = {"databases": ["raw_big"]}
    for _ in range(6):
        summary = main.lambda_handler(event, _context(30))
        registered = big.aws.partitions("raw_big", "svc")
        for region in regions:
            mine = sorted(loc for v, loc in expected.items() if v[0] == region)
            got = sorted(loc for v, loc in registered.items() if v[0] == region)
            assert got == mine[: len(got)], region
        if not summary["continuation"]:
            break
        (event,) = summary["continuation"]
    assert summary["status"] == "succeeded", dumps(summary)
    assert registered == expected
    assert _created_items(strict) == len(expected)


def test_a_cut_table_continues_itself(big: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS Lambda developer guide, "Invoking a Lambda function asynchronously": with
    CONTINUE_ASYNC the cut table's resume point travels in the event the function invokes
    itself with, and that event is accepted and finishes the table."""
    expected = _firehose(big, "t", _hours(60))
    monkeypatch.setenv("CONTINUE_ASYNC", "true")
    with lambda_invokes(monkeypatch) as invokes:
        context = LambdaContext(int(MARGIN_MS / 2) + 31_000, 1000)
        first = main.lambda_handler({"databases": ["raw_big"], "full_scan": True}, context)
        assert first["handed_on"] and not first["continuation"], dumps(first)
        (invoke,) = invokes
        payload = invoke["Payload"]
        assert payload["resume"] == {"raw_big.t": first["tables"][0]["resume"]}
        assert payload["continuation_depth"] == 1
        second = main.lambda_handler(payload, LambdaContext(10**7))
    assert second["status"] == "succeeded", dumps(second)
    assert big.aws.partitions("raw_big", "t") == expected


@pytest.mark.parametrize(
    ("resume", "message"),
    [
        ("s3://big/t/", "must be an object"),
        ({"raw_other.t": "s3://big/t/2026/"}, "not a table of this event"),
        ({"raw_big.t": 7}, "must be an S3 location"),
    ],
)
def test_a_malformed_resume_is_refused(resume: Any, message: str) -> None:
    """AWS Lambda developer guide, "Lambda function handler in Python" (the event is the
    caller's JSON): a malformed `resume` raises ValueError before any AWS call."""
    with pytest.raises(ValueError, match=message):
        main.parse_event({"databases": ["raw_big"], "resume": resume}, Settings())


def test_a_resume_point_outside_the_table_fails_the_table(big: Lake) -> None:
    """AWS Glue API reference, StorageDescriptor (`Location`): a resume point that is not a
    partition path under the table's location fails that table with the reason."""
    _firehose(big, "t", _hours(3))
    event = {"databases": ["raw_big"], "resume": {"raw_big.t": "s3://elsewhere/x/"}}
    summary = main.lambda_handler(event, None)
    (entry,) = summary["tables"]
    assert entry["status"] == "failed"
    assert "resume point s3://elsewhere/x/ is not a partition path" in entry["errors"][0]
