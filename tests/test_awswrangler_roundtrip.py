"""A real partitioned Parquet dataset written by awswrangler: after its partitions are deleted
from Glue, the handler must register exactly what awswrangler had registered."""

from __future__ import annotations

from typing import Any

import awswrangler as wr
import pandas as pd

import main
from tests.conftest import Aws


def _catalog(aws: Aws, database: str, table: str) -> dict[tuple[str, ...], dict[str, Any]]:
    found = aws.read_partitions(database, table)
    return {tuple(p["Values"]): p["StorageDescriptor"] for p in found}


def test_handler_recreates_awswrangler_partitions(aws: Aws) -> None:
    aws.bucket("lake")
    aws.database("raw_shop")
    frame = pd.DataFrame(
        {
            "order_id": range(12),
            "amount": [1.5 * i for i in range(12)],
            "dt": ["2024-02-28", "2024-02-29", "2024-03-01"] * 4,
            "country": ["DE", "FR"] * 6,
        }
    )
    wr.s3.to_parquet(
        frame,
        path="s3://lake/shop/orders/",
        dataset=True,
        partition_cols=["dt", "country"],
        database="raw_shop",
        table="orders",
        mode="overwrite",
    )
    registered = _catalog(aws, "raw_shop", "orders")
    assert len(registered) == 6
    aws.glue.batch_delete_partition(
        DatabaseName="raw_shop",
        TableName="orders",
        PartitionsToDelete=[{"Values": list(v)} for v in registered],
    )
    assert _catalog(aws, "raw_shop", "orders") == {}

    summary = main.lambda_handler({"databases": ["raw_shop"]}, None)

    assert summary["status"] == "succeeded", summary
    assert summary["totals"]["created"] == 6
    assert summary["tables"][0]["layout"] == "hive"
    recreated = _catalog(aws, "raw_shop", "orders")
    assert set(recreated) == set(registered)
    for values, sd in registered.items():
        assert recreated[values]["Location"] == sd["Location"]
        assert recreated[values]["SerdeInfo"] == sd["SerdeInfo"]
        assert recreated[values]["InputFormat"] == sd["InputFormat"]
    # and the data is readable through the catalog again
    back = wr.s3.read_parquet_table(database="raw_shop", table="orders")
    assert sorted(back["order_id"].tolist()) == list(range(12))
