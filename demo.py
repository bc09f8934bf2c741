"""The main job on a built-in local setup: a moto server on 127.0.0.1, a sample RAW database
with one table of each layout plus the noise a real RAW zone has, and the handler run twice
(the second run must create nothing). Run it with `make demo`."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

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
        "orders": ([("dt", "date"), ("country", "string")], {}),
        "clickstream": ([(k, "string") for k in ("year", "month", "day", "hour")], {}),
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
    for h in range(6, 0, -1):
        keys.append(f"clickstream/{now - timedelta(hours=h):%Y/%m/%d/%H}/firehose-1.gz")
    keys += [
        "orders/dt=2024-01-01/country=DE/_temporary/0/part-00000.parquet",  # unfinished write
        "orders/dt=not-a-date/country=DE/part-00000.parquet",  # wrong type: skipped
        "orders/_$folder$",
        "clickstream/manifest.json",  # too shallow: skipped
    ]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")


def show(title: str, summary: dict[str, Any]) -> None:
    """Print the summary as a table a person can read."""
    print(f"\n{title}: status {summary['status']}")
    header = f"  {'table':<12} {'layout':<11} {'scan':<12} {'found':>5} {'created':>7}"
    print(header + f" {'existing':>8} {'skipped':>7} {'failed':>6}")
    for t in summary["tables"]:
        print(
            f"  {t['table']:<12} {t['layout'] or '-':<11} {t['scan'] or '-':<12} "
            f"{t['discovered']:>5} {t['created']:>7} {t['existing']:>8} {t['skipped']:>7} "
            f"{t['failed']:>6}"
        )
        for error in t["errors"]:
            print(f"      - {error}")


def main() -> int:
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        print(f"moto server on http://{host}:{port}; sample database {DATABASE}")
        glue = boto3.client("glue")
        seed(glue, boto3.client("s3"), datetime.now(UTC))

        import main as handler  # after the endpoint is set, as in a Lambda's environment

        first = handler.lambda_handler({"databases": [DATABASE]}, None)
        show("First run", first)
        second = handler.lambda_handler({"databases": [DATABASE]}, None)
        show("Second run (nothing new)", second)
        for table in ("orders", "clickstream", "events"):
            parts = glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
            print(f"\n{table}: {len(parts)} partitions in the catalog, e.g.")
            for p in sorted(parts, key=lambda p: p["Values"])[-2:]:
                print(f"  {p['Values']} -> {p['StorageDescriptor']['Location']}")
        ok = first["status"] != "failed" and second["totals"]["created"] == 0
        print("\nOK: the second run created nothing." if ok else "\nUNEXPECTED RESULT")
        return 0 if ok else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
