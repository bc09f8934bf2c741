"""Every mode opens a table the same way: one matrix of tables (unpartitioned, Iceberg, no
storage descriptor, no location, a bad property, switched off, an unpartitioned table with a bad
property, template, positional, Hive, branches) through the scheduled run and event mode gives
the same status and the same error text, over HTTP against the moto server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from modules import EventSync
from modules import GlueAPISetup as glue_api
from modules.AwsClientObj import get_clients
from modules.PartitionSync import Workers, sync_table
from modules.S3Events import CREATED, ObjectEvent
from modules.Settings import Options, Settings
from tests.conftest import CLOCK, Aws, dumps
from tests.helpers import DAILY_PROJECTION, seed_objects

DATABASE = "raw_matrix"
BUCKET = "matrix"
NOW = CLOCK.replace(tzinfo=None)
TODAY = NOW.strftime("%Y-%m-%d")
TEMPLATE = {"storage.location.template": f"s3://{BUCKET}/tpl/${{dt}}/", **DAILY_PROJECTION}

# name -> (location, keys, parameters, the object key events announce)
MATRIX: dict[str, tuple[str | None, list[Any], dict[str, str], str]] = {
    "unpartitioned": (f"s3://{BUCKET}/flat/", [], {}, "flat/a.json"),
    "iceberg": (f"s3://{BUCKET}/ice/", ["dt"], {"table_type": "ICEBERG"}, "ice/dt=x/a.json"),
    "no_sd": (f"s3://{BUCKET}/no_sd/", ["dt"], {}, f"no_sd/dt={TODAY}/a.json"),
    "no_location": (None, ["dt"], {}, f"nowhere/dt={TODAY}/a.json"),
    "bad_property": (
        f"s3://{BUCKET}/bad/",
        ["dt"],
        {"partition.retention.period": "soon"},
        f"bad/dt={TODAY}/a.json",
    ),
    "unpartitioned_bad_property": (
        f"s3://{BUCKET}/flat2/",
        [],
        {"discover.partitions": "maybe"},
        "flat2/a.json",
    ),
    "switched_off": (
        f"s3://{BUCKET}/off/",
        ["dt"],
        {"discover.partitions": "false"},
        f"off/dt={TODAY}/a.json",
    ),
    "template": (f"s3://{BUCKET}/tpl/", ["dt"], TEMPLATE, f"tpl/{NOW:%Y/%m/%d}/a.json"),
    "positional": (
        f"s3://{BUCKET}/pos/",
        ["year", "month", "day"],
        {},
        f"pos/{NOW:%Y/%m/%d}/a.json",
    ),
    "hive": (f"s3://{BUCKET}/hive/", ["dt"], {}, f"hive/dt={TODAY}/a.json"),
    "branches": (
        f"s3://{BUCKET}/br/",
        ["region", "dt"],
        {},
        f"br/region=eu/dt={TODAY}/a.json",
    ),
}


@pytest.fixture
def tables(aws: Aws) -> dict[str, dict[str, Any]]:
    """The matrix in the catalog and its objects in S3; the Glue tables as GetTables gives them
    (moto always stores a storage descriptor, so `no_sd` has its own dropped here)."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    for name, (location, keys, params, key) in MATRIX.items():
        aws.table(DATABASE, name, location, keys, params)
        seed_objects(BUCKET, [key])
    found = {t["Name"]: t for t in glue_api.get_tables(aws.glue, DATABASE)}
    found["no_sd"].pop("StorageDescriptor")
    return found


def test_same_status_and_errors_in_both_modes(aws: Aws, tables: dict[str, Any]) -> None:
    """Each mode's per-table entry, the one its handler calls for every table: through the
    handler, no event could reach the table without a location (an event finds its table by
    location), and moto stores a storage descriptor on every table."""
    settings = Settings.from_env()
    clients = get_clients(settings.max_attempts, settings.retry_mode, 8, settings.retry_base_delay)
    with ThreadPoolExecutor(4) as pool:
        writer = glue_api.GlueWriter.for_settings(clients.glue, pool, settings)
        work = Workers(clients, writer, pool, settings)
        scheduled = {
            name: sync_table(work, DATABASE, table, Options(dry_run=True), [], NOW)
            for name, table in tables.items()
        }
        events = {}
        for name, table in tables.items():
            key = MATRIX[name][3]
            entry = EventSync.IndexedTable(DATABASE, table, BUCKET, key.split("/", 1)[0] + "/")
            objects = [ObjectEvent(BUCKET, key, CREATED, f"m-{name}")]
            events[name] = EventSync.register_table(writer, entry, objects, NOW)[0]
    for name in MATRIX:
        a, b = scheduled[name], events[name]
        assert (a.status, a.errors) == (b.status, b.errors), dumps(
            {"table": name, "scheduled": a.to_dict(20), "events": b.to_dict(20)}
        )
    statuses = {name: scheduled[name].status for name in MATRIX}
    assert statuses == {
        "unpartitioned": "skipped",
        "iceberg": "skipped",
        "no_sd": "failed",
        "no_location": "failed",
        "bad_property": "failed",
        "unpartitioned_bad_property": "skipped",
        "switched_off": "skipped",
        "template": "succeeded",
        "positional": "succeeded",
        "hive": "succeeded",
        "branches": "succeeded",
    }
    found = {n: scheduled[n].discovered for n in ("template", "positional", "hive", "branches")}
    assert found == dict.fromkeys(found, 1), found
