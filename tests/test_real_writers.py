"""Data as real writers leave it, over HTTP: where the order of paths is not the order of time
(Spark's unpadded `int` partitions, AWS Config's `2026/9/30`, a day-first `dt`), Spark's null
partition in an `int` key, `s3a://` locations, Firehose's error folders, empty values.

Each case runs the default (incremental) run after an earlier run registered the history, and
checks that every new partition is registered, nothing else is, and the run says `succeeded`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import main
from tests.conftest import CLOCK, Aws, dumps
from tests.helpers import entry, seed_objects
from tests.strictlayer import StrictLayer

DATABASE = "raw_writers"
BUCKET = "writers"


def setup(aws: Aws) -> None:
    aws.bucket(BUCKET)
    aws.database(DATABASE)


def run(**event: Any) -> dict[str, Any]:
    return main.lambda_handler({"databases": [DATABASE], **event}, None)


def put(keys: list[str]) -> None:
    seed_objects(BUCKET, keys)


def spark_path(region: str, y: int | str, m: int, d: int) -> str:
    return f"spark/region={region}/year={y}/month={m}/day={d}/part-00000.snappy.parquet"


def test_spark_unpadded_int_keys_crossing_nine_to_ten_with_branches(aws: Aws) -> None:
    """Spark's partitionBy writes `int` columns unpadded: `day=10` sorts before `day=9` and
    `month=10` before `month=9`. Registered through 2026-09-09, the default run must still find
    09-10, 09-11, 10-01 and 10-02 in every region, and a new region."""
    setup(aws)
    keys = ["region", ("year", "int"), ("month", "int"), ("day", "int")]
    aws.table(DATABASE, "spark", f"s3://{BUCKET}/spark/", keys)
    old = [(r, 2026, 9, d) for r in ("eu", "us") for d in range(1, 10)]
    put([spark_path(*p) for p in old])
    assert run()["totals"]["created"] == len(old)
    new = [(r, 2026, m, d) for r in ("eu", "us") for m, d in ((9, 10), (9, 11), (10, 1), (10, 2))]
    new += [("ap", 2026, 10, 2)]
    put([spark_path(*p) for p in new])
    summary = run()
    table = entry(summary, "spark")
    assert table["scan"] == "incremental", dumps(table)
    assert summary["status"] == "succeeded", dumps(summary)
    assert table["created"] == len(new), dumps(table)
    expected = {tuple(str(v) for v in p) for p in old + new}
    assert set(aws.partitions(DATABASE, "spark")) == expected
    assert "do not sort in time" in table["scan_reason"]
    assert run()["totals"]["created"] == 0


def test_aws_config_unpadded_positional_paths(aws: Aws) -> None:
    """AWS Config writes `AWSLogs/<account>/Config/<region>/2026/9/9/ConfigSnapshot/…`, then
    `2026/9/10/` (which sorts before `9/9/`), and `2026/9/30/` then `2026/10/1/`: unpadded text
    in positional directories, in every region, and a region new to the table."""
    setup(aws)
    location = f"s3://{BUCKET}/AWSLogs/123456789012/Config/"
    aws.table(DATABASE, "config", location, ["region", "year", "month", "day"])

    def path(region: str, m: int, d: int) -> str:
        return f"AWSLogs/123456789012/Config/{region}/2026/{m}/{d}/ConfigSnapshot/snap.json.gz"

    regions = ("us-east-1", "eu-west-1")
    old = [(r, 9, d) for r in regions for d in (7, 8, 9)]
    put([path(*p) for p in old])
    assert run()["totals"]["created"] == len(old)
    days = ((9, 10), (9, 11), (9, 30), (10, 1), (10, 2))
    new = [(r, m, d) for r in regions for m, d in days] + [("ap-south-1", 10, 2)]
    put([path(*p) for p in new])
    summary = run()
    assert summary["status"] == "succeeded" and summary["totals"]["created"] == len(new), dumps(
        summary
    )
    expected = {(r, "2026", str(m), str(d)) for r, m, d in old + new}
    assert set(aws.partitions(DATABASE, "config")) == expected


def test_day_first_date_key_crossing_a_month(aws: Aws) -> None:
    """`dt=30-11-2026` then `dt=01-12-2026`: a day-first date sorts by day, not by time."""
    setup(aws)
    aws.table(DATABASE, "dayfirst", f"s3://{BUCKET}/dayfirst/", ["dt"])
    old = ["27-11-2026", "28-11-2026", "29-11-2026", "30-11-2026"]
    put([f"dayfirst/dt={v}/data.json" for v in old])
    assert run()["totals"]["created"] == len(old)
    new = ["01-12-2026", "02-12-2026"]
    put([f"dayfirst/dt={v}/data.json" for v in new])
    summary = run()
    assert summary["status"] == "succeeded" and summary["totals"]["created"] == 2, dumps(summary)
    assert set(aws.partitions(DATABASE, "dayfirst")) == {(v,) for v in old + new}


@pytest.mark.parametrize("index", ["off", "create"])
def test_spark_null_int_partition_on_second_and_third_run(
    aws: Aws, strict: StrictLayer, monkeypatch: pytest.MonkeyPatch, index: str
) -> None:
    """Spark writes a null `int` value as `__HIVE_DEFAULT_PARTITION__`. Once registered, every
    expression on the table fails in Glue (`InvalidStateException`, aws/aws-sdk#670): the run
    reads without a filter, says so, and still registers the new data. The table holds more
    than one page (a table that fits in one is read whole, unfiltered). With PARTITION_INDEX
    at its default, the index the function creates cannot be built on the null value either:
    Glue marks it FAILED with `INVALID_PARTITION_TYPE_DATA_ERROR` (API reference,
    BackfillError); the next run says so and creates no other. The read without a filter goes
    in GLUE_READ_SEGMENTS segments, as every whole-table read does."""
    monkeypatch.setenv("PARTITION_INDEX", index)
    monkeypatch.setenv("GLUE_READ_SEGMENTS", "3")
    setup(aws)
    keys = [("year", "int"), ("month", "int")]
    aws.table(DATABASE, "nulls", f"s3://{BUCKET}/nulls/", keys)
    first = ["year=2026/month=10", "year=__HIVE_DEFAULT_PARTITION__/month=11", "year=2026/month=11"]
    put([f"nulls/{p}/part-0.parquet" for p in first])
    assert run()["totals"]["created"] == 3
    history = [(y, m) for y in range(1900, 1990) for m in range(1, 13)]  # 1,080 partitions
    aws.register(
        DATABASE,
        "nulls",
        [([str(y), str(m)], f"s3://{BUCKET}/nulls/year={y}/month={m}/") for y, m in history],
    )
    tables = []
    for new in ("year=2026/month=12", "year=2027/month=1"):  # the second run, then the third
        put([f"nulls/{new}/part-0.parquet"])
        summary = run()
        table = entry(summary, "nulls")
        assert table["status"] == "succeeded" and table["created"] == 1, dumps(table)
        assert "read without a filter" in table["scan_reason"], dumps(table)
        tables.append(table)
    segmented = [c.segments for c in strict.calls("GetPartitions") if c.page == 1 and c.segments]
    assert segmented == [3] * 6, "the second and third runs each read the whole table in 3"
    registered = set(aws.partitions(DATABASE, "nulls"))
    assert ("__HIVE_DEFAULT_PARTITION__", "11") in registered
    assert {("2026", "12"), ("2027", "1")} <= registered
    created = strict.calls("CreatePartitionIndex")
    warnings = " ".join(tables[-1].get("warnings", ()))
    if index == "off":
        assert not created and not strict.calls("GetPartitionIndexes")
    else:
        assert len(created) == 1, "a FAILED index is reported, never replaced"
        assert "FAILED (INVALID_PARTITION_TYPE_DATA_ERROR" in warnings, dumps(tables[-1])
        assert "__HIVE_DEFAULT_PARTITION__" in warnings, dumps(tables[-1])


@pytest.mark.parametrize("scheme", ["s3a", "s3n"])
def test_s3a_location_keeps_its_scheme(aws: Aws, scheme: str) -> None:
    """Open-source Spark and Hive write `s3a://` (or the older `s3n://`) locations: they are S3,
    and new partitions keep the table's scheme."""
    setup(aws)
    aws.table(DATABASE, "hadoop", f"{scheme}://{BUCKET}/hadoop/", ["dt"])
    put([f"hadoop/dt=2026-12-0{d}/part-0.parquet" for d in (1, 2)])
    summary = run()
    assert summary["status"] == "succeeded" and summary["totals"]["created"] == 2, dumps(summary)
    assert aws.partitions(DATABASE, "hadoop") == {
        ("2026-12-01",): f"{scheme}://{BUCKET}/hadoop/dt=2026-12-01/",
        ("2026-12-02",): f"{scheme}://{BUCKET}/hadoop/dt=2026-12-02/",
    }
    put(["hadoop/dt=2026-12-03/part-0.parquet"])
    summary = run()
    assert entry(summary, "hadoop")["scan"] == "incremental"
    assert summary["totals"]["created"] == 1
    assert run(mode="sync")["totals"]["removed"] == 0  # such locations hold data too


def test_firehose_error_folders_are_skipped(aws: Aws) -> None:
    """Firehose puts failed records under `processing-failed/…` and `format-conversion-failed/…`
    beside the data of a positional table: they are skipped paths with a reason, never
    partitions with `year='processing-failed'`."""
    setup(aws)
    aws.table(DATABASE, "stream", f"s3://{BUCKET}/stream/", ["year", "month", "day", "hour"])
    data = [f"stream/2026/12/01/{h:02d}/stream-1-2026-12-01.gz" for h in (22, 23)]
    errors = [
        "stream/processing-failed/2026/12/01/23/stream-1-failed.gz",
        "stream/format-conversion-failed/2026/12/01/23/stream-1-failed.gz",
    ]
    put(data + errors)
    for _ in range(2):  # the first run (a full scan), then an incremental one with new data
        summary = run()
        table = entry(summary, "stream")
        reasons = " ".join(table["errors"])
        assert "'processing-failed' is not a year" in reasons, dumps(table)
        assert "'format-conversion-failed' is not a year" in reasons, dumps(table)
        put(["stream/2026/12/02/00/stream-1-2026-12-02.gz"])
    partitions = set(aws.partitions(DATABASE, "stream"))
    assert partitions == {
        ("2026", "12", "01", "22"),
        ("2026", "12", "01", "23"),
        ("2026", "12", "02", "00"),
    }


def test_empty_value_is_a_skipped_path(aws: Aws) -> None:
    """`k=/dt=2026-12-01/` has an empty value, which Glue refuses (values are 1 to 1,024
    characters, PartitionInput): skipped with its reason, never sent."""
    setup(aws)
    aws.table(DATABASE, "kv", f"s3://{BUCKET}/kv/", ["k", "dt"])
    put(["kv/k=/dt=2026-12-01/p.json", "kv/k=a/dt=2026-12-01/p.json"])
    summary = run()
    table = entry(summary, "kv")
    assert table["created"] == 1 and table["skipped"] >= 1, dumps(table)
    assert any("empty value" in e for e in table["errors"]), dumps(table)
    assert set(aws.partitions(DATABASE, "kv")) == {("a", "2026-12-01")}


def test_retention_on_unpadded_text_keys_removes_every_expired_day(aws: Aws) -> None:
    """Retention compares in time order: on AWS Config's unpadded text `month`, `month <= '11'`
    would leave out `9` (text compares `'9' > '11'`), so those days would never expire."""
    setup(aws)
    params = {"partition.retention.period": "30d"}
    aws.table(DATABASE, "cfg", f"s3://{BUCKET}/cfg/", ["year", "month", "day"], params)
    today = CLOCK.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=n) for n in range(90, 0, -1)]
    aws.register(
        DATABASE,
        "cfg",
        [
            (
                [str(d.year), str(d.month), str(d.day)],
                f"s3://{BUCKET}/cfg/{d.year}/{d.month}/{d.day}/",
            )
            for d in days
        ],
    )
    cutoff = CLOCK.replace(tzinfo=None) - timedelta(days=30)
    summary = run()
    # a day is expired when it starts before the cutoff (docs/operations.md, Retention)
    kept = {(str(d.year), str(d.month), str(d.day)) for d in days if d >= cutoff}
    assert entry(summary, "cfg")["expired"] == len(days) - len(kept), dumps(summary)
    assert set(aws.partitions(DATABASE, "cfg")) == kept
