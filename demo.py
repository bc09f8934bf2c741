"""The main job on a built-in local setup: a moto server on 127.0.0.1 behind the strict layer
(tests/strictlayer.py: Glue's paging, limits and expressions), a sample RAW database with one
table of each layout plus the noise a real RAW zone has, and the handler run twice
(the second run must create nothing). One table's feed stopped days ago: it is reported stale;
another keeps 30 days, so its old backfill is counted expired and never registered. Then a new
day lands in every region of a service-log table, and in a region never seen before: the third,
incremental run registers each of them. Run it with `make demo`."""

from __future__ import annotations

import io
import json
import os
import sys
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from modules.Render import render
from tests.strictlayer import moto_behind_layer

DATABASE = "raw_demo"
BUCKET = "demo-lake"


def seed(glue: Any, s3: Any, now: datetime) -> None:
    """Create the sample database: Hive, Firehose-positional and template tables, with noise."""
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    sd = {
        "Columns": [{"Name": "id", "Type": "string"}, {"Name": "amount", "Type": "double"}],
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        },
    }
    tables = {
        "orders": (
            [("dt", "date"), ("country", "string")],
            {"partition.retention.period": "30d"},
        ),
        "payments": ([("dt", "date")], {"partition.max.lag": "1d"}),
        "clickstream": ([(k, "string") for k in ("year", "month", "day", "hour")], {}),
        "trail": ([(k, "string") for k in ("region", "year", "month", "day")], {}),
        "events": (
            [("dt", "string")],
            {
                "storage.location.template": f"s3://{BUCKET}/events-by-day/${{dt}}/",
                "projection.enabled": "true",
                "projection.dt.type": "date",
                "projection.dt.format": "yyyy/MM/dd",
                "projection.dt.range": "2024/01/01,NOW",
            },
        ),
    }
    for name, (keys, params) in tables.items():
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {**sd, "Location": f"s3://{BUCKET}/{name}/"},
                "PartitionKeys": [{"Name": k, "Type": t} for k, t in keys],
                "Parameters": {"classification": "parquet", **params},
            },
        )
    keys = []
    for d in range(3, 0, -1):
        day = (now - timedelta(days=d)).date()
        for country in ("DE", "FR"):
            base = f"orders/dt={day}/country={country}/"
            keys += [base + "part-00000.snappy.parquet", base + "_SUCCESS"]
        keys.append(f"events-by-day/{day:%Y/%m/%d}/events-0.json")
    for d in range(5, 2, -1):  # the payments feed stopped three days ago
        keys.append(f"payments/dt={(now - timedelta(days=d)).date()}/part-00000.parquet")
    keys.append(f"orders/dt={(now - timedelta(days=40)).date()}/country=DE/part-0.parquet")
    for h in range(6, 0, -1):
        keys.append(f"clickstream/{now - timedelta(hours=h):%Y/%m/%d/%H}/firehose-1.gz")
    keys += trail_keys(now, ("eu-west-1", "us-east-1"), days=(3, 2, 1))
    keys += [
        "orders/dt=2024-01-01/country=DE/_temporary/0/part-00000.parquet",  # unfinished write
        "orders/dt=not-a-date/country=DE/part-00000.parquet",  # wrong type: skipped
        "orders/_$folder$",
        "clickstream/manifest.json",  # too shallow: skipped
    ]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")


def trail_keys(now: datetime, regions: tuple[str, ...], days: tuple[int, ...]) -> list[str]:
    """CloudTrail-style `trail/<region>/yyyy/MM/dd/` objects: the region leads, not time."""
    return [
        f"trail/{region}/{now - timedelta(days=d):%Y/%m/%d}/123_CloudTrail_{region}.json.gz"
        for region in regions
        for d in days
    ]


def show(title: str, summary: dict[str, Any]) -> None:
    """Print the summary as the command line's `--output table` does."""
    print(f"\n{render(summary, title)}")


def main() -> int:
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    # moto answers behind the strict layer, which holds Glue calls to Glue's rules (paging,
    # limits, expressions) that moto alone does not apply.
    with moto_behind_layer() as layer:
        os.environ["AWS_ENDPOINT_URL"] = layer.endpoint
        print(f"moto server on {layer.endpoint} (strict layer); sample database {DATABASE}")
        glue = boto3.client("glue")
        seed(glue, boto3.client("s3"), datetime.now(UTC))

        import main as handler  # after the endpoint is set, as in a Lambda's environment

        emitted = io.StringIO()
        with redirect_stdout(emitted):  # the CloudWatch metrics (EMF) the run prints
            first = handler.lambda_handler({"databases": [DATABASE]}, None)
        show("First run", first)
        for line in emitted.getvalue().splitlines():
            document = json.loads(line)
            names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            values = ", ".join(f"{n}={document[n][0]:g}" for n in names)
            print(f"  metrics for {document['database']}: {values}")
        with redirect_stdout(io.StringIO()):
            second = handler.lambda_handler({"databases": [DATABASE]}, None)
        show("Second run (nothing new)", second)
        s3 = boto3.client("s3")
        now = datetime.now(UTC)
        for key in trail_keys(now, ("eu-west-1", "us-east-1", "ap-south-1"), days=(0,)):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        with redirect_stdout(io.StringIO()):
            third = handler.lambda_handler({"databases": [DATABASE]}, None)
        show("Third run (today landed in every region, and in a new one)", third)
        for table in ("orders", "payments", "clickstream", "events", "trail"):
            pages = glue.get_paginator("get_partitions").paginate(
                DatabaseName=DATABASE, TableName=table
            )
            parts = [p for page in pages for p in page["Partitions"]]
            print(f"\n{table}: {len(parts)} partitions in the catalog, e.g.")
            for p in sorted(parts, key=lambda p: p["Values"])[-2:]:
                print(f"  {p['Values']} -> {p['StorageDescriptor']['Location']}")
        ok = first["status"] != "failed" and second["totals"]["created"] == 0
        ok = ok and second["totals"]["stale"] == 1 and first["totals"]["expired"] == 1
        ok = ok and third["totals"]["created"] == 3
        print(
            "\nOK: the second run created nothing; one stale table; the old backfill expired;"
            " the third run registered the new day in every region, the new region included."
            if ok
            else "\nUNEXPECTED RESULT"
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
