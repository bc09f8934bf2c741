"""The function against Glue as it is, through the strict layer (tests/strictlayer.py): key names
Glue's parser refuses, keys it cannot filter on, paging with empty pages, whole calls timing out,
and Lake Formation denying reads, writes, or the sight of a table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import main
from modules import EventSync
from tests.conftest import Aws, dumps
from tests.helpers import entry, notification, seed_objects
from tests.strictlayer import StrictLayer

DATABASE = "raw_account"
BUCKET = "account"


@pytest.fixture(autouse=True)
def fresh_index() -> Iterator[None]:
    """Event mode's warm-container index starts empty in each test."""
    EventSync.INDEX.clear()
    yield
    EventSync.INDEX.clear()


def run(**event: Any) -> dict[str, Any]:
    return main.lambda_handler({"databases": [DATABASE], **event}, None)


def days(table: str, branch: str, values: list[str], day_key: str = "dt") -> list[str]:
    return [f"{table}/{branch}/{day_key}={d}/part-0.json" for d in values]


def refused(strict: StrictLayer) -> list[str]:
    """The Glue calls the layer answered with an error of the caller's making."""
    codes = {"InvalidInputException", "InvalidStateException"}
    return [f"{c.operation}: {c.error}" for c in strict.calls() if c.error in codes]


@pytest.mark.parametrize(
    ("keys", "branches"),
    [
        (["key", "dt"], ["key=a", "key=b"]),
        ([("flag", "boolean"), "dt"], ["flag=true", "flag=false"]),
    ],
    ids=["reserved-word-key", "boolean-key"],
)
def test_branch_key_glue_cannot_filter_on(
    aws: Aws, strict: StrictLayer, keys: list[Any], branches: list[str]
) -> None:
    """A branch key named `key` (a reserved word of the parser behind Glue's expressions:
    trinodb/trino#11512) or of type `boolean` (Glue API reference, GetPartitions: such keys cannot
    be filtered on) never reaches an expression; the table is synced, and a new branch too."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    aws.table(DATABASE, "t", f"s3://{BUCKET}/t/", keys)
    seed_objects(BUCKET, days("t", branches[0], ["2026-11-30"]))
    assert run()["totals"]["created"] == 1
    # a new day in the first branch, and the second branch appears
    seed_objects(
        BUCKET, days("t", branches[0], ["2026-12-01"]) + days("t", branches[1], ["2026-12-01"])
    )
    strict.clear_calls()
    summary = run()
    table = entry(summary, "t")
    assert table["status"] == "succeeded" and table["created"] == 2, dumps(table)
    assert "read without filtering on it" in table["scan_reason"], dumps(table)
    assert refused(strict) == []
    assert len(aws.partitions(DATABASE, "t")) == 3


def test_paging_with_empty_pages(aws: Aws, strict: StrictLayer) -> None:
    """Glue answers `GetPartitions` in pages (at most 1,000, API reference MaxResults), and a
    filtered page can be empty yet carry a `NextToken` (boto/boto3#4504): every page is followed.
    The table holds more than the first unfiltered page, so the run's windowed reads are
    filtered, and some of their pages come back empty."""
    strict.strictness.page_size = 7
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    aws.table(DATABASE, "t", f"s3://{BUCKET}/t/", ["region", "dt"])
    regions = [f"r{i:02d}" for i in range(12)]
    history = [f"2026-{m:02d}-{d:02d}" for m in range(1, 4) for d in range(1, 29)]  # 84 days
    aws.register(
        DATABASE,
        "t",
        [([r, dt], f"s3://{BUCKET}/t/region={r}/dt={dt}/") for r in regions for dt in history],
    )  # 1,008 partitions
    seed_objects(BUCKET, [k for r in regions for k in days("t", f"region={r}", ["2026-11-30"])])
    assert run(full_scan=True)["totals"]["created"] == 12
    seed_objects(BUCKET, [k for r in regions for k in days("t", f"region={r}", ["2026-12-01"])])
    strict.clear_calls()
    summary = run()
    assert summary["status"] == "succeeded" and summary["totals"]["created"] == 12, dumps(summary)
    filtered = [c for c in strict.calls("GetPartitions") if c.filtered and c.error is None]
    assert any(c.empty_with_token for c in filtered), "no empty filtered page reached the run"
    assert strict.pages("GetPartitions", "t") > strict.reads("GetPartitions", "t")
    assert len(aws.partitions(DATABASE, "t")) == 1008 + 24


def test_a_fifth_of_whole_calls_timing_out(aws: Aws, strict: StrictLayer) -> None:
    """`OperationTimeoutException` is an HTTP 400 that botocore's retry modes leave alone
    (aws/aws-sdk-pandas#2726); with a fifth of every Glue call timing out, the scheduled run and
    event mode still converge to the exact catalog."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    for name in ("a", "b", "c"):
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", ["region", "dt"])
        seed_objects(BUCKET, days(name, "region=eu", [f"2026-11-{d}" for d in range(20, 30)]))
    strict.strictness.timeout_rate = 0.2
    assert run()["status"] == "succeeded"
    seed_objects(
        BUCKET, days("a", "region=eu", ["2026-11-30"]) + days("b", "region=us", ["2026-11-30"])
    )
    assert run()["status"] == "succeeded"
    event = {
        "Records": notification("c/region=eu/dt=2026-12-01/part-0.json", bucket=BUCKET)["Records"]
    }
    seed_objects(BUCKET, ["c/region=eu/dt=2026-12-01/part-0.json"])
    assert main.lambda_handler(event, None)["status"] == "succeeded"
    timed_out = [c for c in strict.calls() if c.error == "OperationTimeoutException"]
    assert timed_out, "no call timed out: the test proved nothing"
    strict.strictness.timeout_rate = 0.0  # the test's own reads of the catalog
    assert len(aws.partitions(DATABASE, "a")) == 11
    assert len(aws.partitions(DATABASE, "b")) == 11
    assert len(aws.partitions(DATABASE, "c")) == 11


def test_lake_formation_denies_reads_writes_and_sight(aws: Aws, strict: StrictLayer) -> None:
    """Lake Formation (permissions reference): a table without SELECT fails its reads, one
    without INSERT its writes, one without any grant is left out of `GetTables`. Each fails
    alone, naming the operation and the grant; the other tables go on."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    for name in ("ok", "noread", "nowrite", "hidden"):
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", ["dt"])
        seed_objects(BUCKET, [f"{name}/dt=2026-12-01/part-0.json"])
    strict.strictness.denied_reads.add((DATABASE, "noread"))
    strict.strictness.denied_writes.add((DATABASE, "nowrite"))
    strict.strictness.hidden_tables.add((DATABASE, "hidden"))
    summary = run(tables=["ok", "noread", "nowrite", "hidden"])
    assert summary["status"] == "partial", dumps(summary)
    assert entry(summary, "ok")["status"] == "succeeded"
    noread = " ".join(entry(summary, "noread")["errors"])
    assert "GetPartitions" in noread and "Lake Formation SELECT" in noread, noread
    nowrite = " ".join(entry(summary, "nowrite")["errors"])
    assert "BatchCreatePartition" in nowrite and "Lake Formation INSERT" in nowrite, nowrite
    assert entry(summary, "hidden")["errors"] == [
        f"table {DATABASE}.hidden not found, or not visible to this role (Lake Formation grants?)"
    ]
    assert set(aws.partitions(DATABASE, "ok")) == {("2026-12-01",)}
    assert [t["table"] for t in run()["tables"]] == ["noread", "nowrite", "ok"]


def test_lake_formation_denied_writes_come_back_as_batch_item_failures(
    aws: Aws, strict: StrictLayer
) -> None:
    """In event mode, the messages whose partitions Lake Formation would not let the role write
    come back for redelivery; the others are settled."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    for name in ("ok", "nowrite"):
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", ["dt"])
    strict.strictness.denied_writes.add((DATABASE, "nowrite"))
    records = [
        {
            "messageId": f"m-{name}",
            "receiptHandle": "h",
            "body": json.dumps(notification(f"{name}/dt=2026-12-01/part-0.json", bucket=BUCKET)),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        }
        for name in ("ok", "nowrite")
    ]
    answer = main.lambda_handler({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-nowrite"}]}, dumps(answer)
    assert set(aws.partitions(DATABASE, "ok")) == {("2026-12-01",)}
    assert aws.partitions(DATABASE, "nowrite") == {}
