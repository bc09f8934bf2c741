"""GlueAPISetup: chunking, pagination, per-item errors, storage descriptors, recent windows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from modules import GlueAPISetup as glue_api
from modules import GlueExpressions as expressions
from modules.TimeKeys import PartitionKey, split_keys

NOW = datetime(2026, 11, 28, 10, 30)


class FakeGlue:
    """A Glue client double whose batch calls answer from a script of per-item errors."""

    def __init__(self, errors_by_attempt: list[dict[tuple[str, ...], str]] | None = None) -> None:
        self.errors_by_attempt = errors_by_attempt or []
        self.calls: list[list[tuple[str, ...]]] = []

    def _answer(self, values: list[tuple[str, ...]]) -> dict[str, Any]:
        attempt = sum(1 for c in self.calls if set(c) & set(values))
        self.calls.append(values)
        script = self.errors_by_attempt[attempt] if attempt < len(self.errors_by_attempt) else {}
        return {
            "Errors": [
                {"PartitionValues": list(v), "ErrorDetail": {"ErrorCode": script[v]}}
                for v in values
                if v in script
            ]
        }

    def batch_create_partition(self, **kwargs: Any) -> dict[str, Any]:
        return self._answer([tuple(p["Values"]) for p in kwargs["PartitionInputList"]])

    def batch_delete_partition(self, **kwargs: Any) -> dict[str, Any]:
        return self._answer([tuple(p["Values"]) for p in kwargs["PartitionsToDelete"]])


def writer_for(glue: Any, max_attempts: int = 8) -> glue_api.GlueWriter:
    return glue_api.GlueWriter(glue, ThreadPoolExecutor(4), max_attempts, sleep=lambda _s: None)


def inputs(n: int) -> list[dict[str, Any]]:
    return [
        {"Values": [f"{i:05d}"], "StorageDescriptor": {"Location": f"s3://b/t/{i}/"}}
        for i in range(n)
    ]


# --------------------------------------------------------------------------- chunking


def test_creates_are_chunked_at_100_against_the_server(aws: Any) -> None:
    aws.bucket("lake")
    aws.database("raw_x")
    table = aws.table("raw_x", "t", "s3://lake/t/", ["id"])
    sizes: list[int] = []
    aws.glue.meta.events.register(
        "provide-client-params.glue.BatchCreatePartition",
        lambda params, **_: sizes.append(len(params["PartitionInputList"])),
    )
    batch = [glue_api.partition_input(table, [f"{i}"], f"s3://lake/t/id={i}") for i in range(250)]
    outcome = writer_for(aws.glue).create("raw_x", "t", batch)
    assert sorted(sizes) == [50, 100, 100]
    assert len(outcome.done) == 250 and not outcome.failed
    assert len(aws.partitions("raw_x", "t")) == 250


def test_deletes_are_chunked_at_25() -> None:
    glue = FakeGlue()
    outcome = writer_for(glue).delete("raw_x", "t", [(str(i),) for i in range(60)])
    assert sorted(len(c) for c in glue.calls) == [10, 25, 25]
    assert len(outcome.done) == 60


# --------------------------------------------------------------------------- per-item errors


def test_already_existing_items_count_as_already_there() -> None:
    glue = FakeGlue([{("00001",): "AlreadyExistsException"}])
    outcome = writer_for(glue).create("raw_x", "t", inputs(3))
    assert outcome.already == [("00001",)]
    assert sorted(outcome.done) == [("00000",), ("00002",)]
    assert len(glue.calls) == 1


def test_transient_items_are_retried_alone_until_they_succeed() -> None:
    glue = FakeGlue(
        [
            {("00001",): "InternalServiceException", ("00002",): "OperationTimeoutException"},
            {("00002",): "ThrottlingException"},
        ]
    )
    outcome = writer_for(glue).create("raw_x", "t", inputs(4))
    assert glue.calls[0] == [("00000",), ("00001",), ("00002",), ("00003",)]
    assert glue.calls[1] == [("00001",), ("00002",)]  # confirmed ones are never resent
    assert glue.calls[2] == [("00002",)]
    assert sorted(outcome.done) == [(f"{i:05d}",) for i in range(4)]
    assert outcome.calls == 3 and not outcome.failed


def test_transient_items_give_up_after_the_budget_and_are_reported() -> None:
    glue = FakeGlue([{("00000",): "InternalServiceException"}] * 10)
    outcome = writer_for(glue, max_attempts=3).create("raw_x", "t", inputs(2))
    assert len(glue.calls) == 3
    assert outcome.done == [("00001",)]
    assert "InternalServiceException" in outcome.failed[("00000",)]
    assert "gave up after 3" in outcome.failed[("00000",)]
    assert outcome.incomplete  # worth trying again later


def test_permanent_item_errors_are_not_retried() -> None:
    glue = FakeGlue([{("00000",): "AccessDeniedException", ("00001",): "EntityNotFoundException"}])
    outcome = writer_for(glue).create("raw_x", "t", inputs(3))
    assert len(glue.calls) == 1
    assert set(outcome.failed) == {("00000",), ("00001",)}
    assert outcome.failed[("00000",)].startswith("AccessDeniedException")
    assert not outcome.incomplete  # refused for good: trying again changes nothing


def test_entity_not_found_on_delete_means_already_removed() -> None:
    glue = FakeGlue([{("1",): "EntityNotFoundException"}])
    outcome = writer_for(glue).delete("raw_x", "t", [("1",), ("2",)])
    assert outcome.already == [("1",)] and outcome.done == [("2",)]


def test_a_failed_call_fails_its_items_with_the_reason() -> None:
    class Denied(FakeGlue):
        def batch_create_partition(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append([])
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                "BatchCreatePartition",
            )

    glue = Denied()
    outcome = writer_for(glue).create("raw_x", "t", inputs(150))
    assert len(glue.calls) == 2  # one per chunk, no retry loop of its own
    assert len(outcome.failed) == 150
    assert all(r == "AccessDeniedException: no" for r in outcome.failed.values())
    assert outcome.incomplete


# --------------------------------------------------------------------------- reads and pagination


def _stubbed_glue() -> tuple[Any, Stubber]:
    glue = boto3.client("glue", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    return glue, Stubber(glue)


def test_get_partitions_follows_next_token_and_excludes_column_schema() -> None:
    glue, stub = _stubbed_glue()
    base = {"DatabaseName": "raw_x", "TableName": "t", "ExcludeColumnSchema": True}
    first = [{"Values": ["1"], "StorageDescriptor": {"Location": "s3://b/t/1/"}}]
    second = [{"Values": ["2"], "StorageDescriptor": {"Location": "s3://b/t/2/"}}]
    stub.add_response("get_partitions", {"Partitions": first, "NextToken": "page2"}, base)
    stub.add_response("get_partitions", {"Partitions": second}, {**base, "NextToken": "page2"})
    with stub:
        found = glue_api.get_partitions(glue, "raw_x", "t")
    stub.assert_no_pending_responses()
    assert [p["Values"] for p in found] == [["1"], ["2"]]


def test_get_partitions_passes_the_expression() -> None:
    glue, stub = _stubbed_glue()
    params = {
        "DatabaseName": "raw_x",
        "TableName": "t",
        "ExcludeColumnSchema": True,
        "Expression": "dt >= '2026-11-27'",
    }
    stub.add_response("get_partitions", {"Partitions": []}, params)
    with stub:
        assert glue_api.get_partitions(glue, "raw_x", "t", "dt >= '2026-11-27'") == []
    stub.assert_no_pending_responses()


def test_get_tables_follows_next_token() -> None:
    glue, stub = _stubbed_glue()
    stub.add_response(
        "get_tables", {"TableList": [{"Name": "a"}], "NextToken": "n"}, {"DatabaseName": "raw_x"}
    )
    stub.add_response(
        "get_tables", {"TableList": [{"Name": "b"}]}, {"DatabaseName": "raw_x", "NextToken": "n"}
    )
    with stub:
        assert [t["Name"] for t in glue_api.get_tables(glue, "raw_x")] == ["a", "b"]


# --------------------------------------------------------------------------- storage descriptors


def test_partition_input_copies_the_table_storage_descriptor() -> None:
    table = {
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "string"}],
            "Location": "s3://b/t/",
            "InputFormat": "in",
            "OutputFormat": "out",
            "SerdeInfo": {"SerializationLibrary": "lib", "Parameters": {"a": "b"}},
            "Compressed": True,
            "Parameters": {"classification": "parquet"},
            "StoredAsSubDirectories": False,
        }
    }
    pi = glue_api.partition_input(table, ["2024-01-01"], "s3://b/t/dt=2024-01-01")
    sd = pi["StorageDescriptor"]
    assert pi["Values"] == ["2024-01-01"]
    assert sd["Location"] == "s3://b/t/dt=2024-01-01/"
    for field in (
        "Columns",
        "InputFormat",
        "OutputFormat",
        "SerdeInfo",
        "Compressed",
        "Parameters",
    ):
        assert sd[field] == table["StorageDescriptor"][field]
    sd["SerdeInfo"]["Parameters"]["a"] = "changed"  # the copy must not alias the table
    assert table["StorageDescriptor"]["SerdeInfo"]["Parameters"]["a"] == "b"


# --------------------------------------------------------------------------- recent windows


@pytest.mark.parametrize(
    ("keys", "params", "expected_first"),
    [
        ([PartitionKey("dt")], {}, "dt >= '2026-11-27'"),
        ([PartitionKey("event_date", "date")], {}, "event_date >= '2026-11-27'"),
        ([PartitionKey("dt", "int")], {}, "dt >= 20261127"),
        (
            [PartitionKey("dt")],
            {"projection.dt.type": "date", "projection.dt.format": "yyyy/MM/dd/HH"},
            "dt >= '2026/11/27/10'",
        ),
        (
            [
                PartitionKey("year"),
                PartitionKey("month"),
                PartitionKey("day"),
                PartitionKey("hour"),
            ],
            {},
            "year >= '2026' AND (year > '2026' OR month >= '11') "
            "AND (year > '2026' OR month > '11' OR day >= '27') "
            "AND (year > '2026' OR month > '11' OR day > '27' OR hour >= '10')",
        ),
        # time keys need not lead: the window is on them, whatever the branch keys are
        (
            [PartitionKey("region"), PartitionKey("year"), PartitionKey("month")],
            {},
            "year >= '2026' AND (year > '2026' OR month >= '11')",
        ),
        (
            [PartitionKey("customer_id"), PartitionKey("dt")],
            {},
            "dt >= '2026-11-27'",
        ),
        (
            [PartitionKey("year", "int"), PartitionKey("month", "int")],
            {},
            "year >= 2026 AND (year > 2026 OR month >= 11)",
        ),
    ],
)
def test_recent_windows_expressions(
    keys: list[PartitionKey], params: dict[str, str], expected_first: str
) -> None:
    windows = expressions.recent_windows(split_keys(keys, params), NOW)
    assert windows is not None
    assert windows.expressions[0] == expected_first
    assert len(windows.expressions) == 4


def test_branch_tables_with_hours_read_the_last_hours_first() -> None:
    keys = [PartitionKey(n) for n in ("customer_id", "year", "month", "day", "hour")]
    windows = expressions.recent_windows(split_keys(keys), NOW)
    assert windows is not None and len(windows.expressions) == 5
    assert windows.expressions[0].endswith("hour >= '07')")  # NOW is 10:xx: 3 hours back


@pytest.mark.parametrize(
    "keys", [[PartitionKey("region"), PartitionKey("code")], [PartitionKey("my-key")], []]
)
def test_keys_that_do_not_sort_by_time_have_no_window(keys: list[PartitionKey]) -> None:
    assert expressions.recent_windows(split_keys(keys), NOW) is None


def _register_days(aws: Any, days: list[datetime]) -> None:
    aws.bucket("lake")
    aws.database("raw_x")
    aws.table("raw_x", "t", "s3://lake/t/", ["year", "month", "day", "hour"])
    aws.register(
        "raw_x",
        "t",
        [
            (
                [f"{d:%Y}", f"{d:%m}", f"{d:%d}", f"{d:%H}"],
                f"s3://lake/t/{d:%Y/%m/%d/%H}/",
            )
            for d in days
        ],
    )


def test_find_recent_partitions_reads_only_the_recent_end(aws: Any) -> None:
    now = datetime.now().replace(minute=0, second=0, microsecond=0)
    hours = [now - timedelta(hours=h) for h in range(6, 24 * 20)]
    _register_days(aws, hours)
    keys = [PartitionKey(n) for n in ("year", "month", "day", "hour")]
    found, reads, _, _ = glue_api.find_recent_partitions(
        aws.glue, "raw_x", "t", expressions.recent_windows(split_keys(keys), now)
    )
    assert reads == 1
    newest = max(tuple(p["Values"]) for p in found)
    assert newest == tuple(f"{now - timedelta(hours=6):%Y %m %d %H}".split())
    assert len(found) < 72  # one day back from midnight of yesterday: not the whole history


def test_find_recent_partitions_widens_then_reads_everything(aws: Any) -> None:
    now = datetime.now()
    _register_days(aws, [now - timedelta(days=d) for d in (20, 500, 600)])
    keys = [PartitionKey(n) for n in ("year", "month", "day", "hour")]
    windows = expressions.recent_windows(split_keys(keys), now)
    found, reads, complete, _ = glue_api.find_recent_partitions(aws.glue, "raw_x", "t", windows)
    assert reads == 3 and len(found) == 1 and not complete  # 1 day, 7 days: empty; 35: one
    aws.glue.delete_partition(
        DatabaseName="raw_x", TableName="t", PartitionValues=list(found[0]["Values"])
    )
    found, reads, complete, _ = glue_api.find_recent_partitions(aws.glue, "raw_x", "t", windows)
    assert reads == 5 and len(found) == 2 and complete  # every window empty: the full read


def test_values_that_do_not_fit_the_window_fall_back_to_a_full_read(aws: Any) -> None:
    aws.bucket("lake")
    aws.database("raw_x")
    aws.table("raw_x", "t", "s3://lake/t/", ["dt"])
    aws.register(
        "raw_x",
        "t",
        [(["latest"], "s3://lake/t/dt=latest/"), (["2020-01-01"], "s3://lake/t/dt=2020-01-01/")],
    )
    windows = expressions.recent_windows(split_keys([PartitionKey("dt")]), NOW)
    found, reads, complete, _ = glue_api.find_recent_partitions(aws.glue, "raw_x", "t", windows)
    assert reads == 2 and len(found) == 2 and complete


@pytest.mark.parametrize("int_keys", [False, True])
def test_calendar_window_selects_exactly_the_tuples_at_or_after_it(
    aws: Any, int_keys: bool
) -> None:
    """The expression, evaluated by the server, equals a lexicographic tuple comparison."""
    aws.bucket("lake")
    aws.database("raw_x")
    kind = "int" if int_keys else "string"
    aws.table("raw_x", "t", "s3://lake/t/", [("year", kind), ("month", kind), ("day", kind)])
    start = datetime(2025, 10, 1)
    days = [start + timedelta(days=d) for d in range(0, 500, 3)]
    aws.register(
        "raw_x",
        "t",
        [([f"{d:%Y}", f"{d:%m}", f"{d:%d}"], f"s3://lake/t/{d:%Y/%m/%d}/") for d in days],
    )
    keys = [PartitionKey(n, kind) for n in ("year", "month", "day")]
    for moment in (datetime(2025, 12, 31), datetime(2026, 1, 1), datetime(2026, 2, 15)):
        expression = expressions.tuple_at_least(split_keys(keys).fields, moment)
        found = glue_api.get_partitions(aws.glue, "raw_x", "t", expression)
        expected = {(f"{d:%Y}", f"{d:%m}", f"{d:%d}") for d in days if d >= moment}
        assert {tuple(p["Values"]) for p in found} == expected, expression
