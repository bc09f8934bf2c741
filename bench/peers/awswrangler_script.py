"""The script a data engineer writes with awswrangler to register new partitions: the baseline.

For every table of the database: list its objects, derive the partition prefixes (Hive `k=v/` or
positional), read the registered partitions, and add the missing ones with the add_*_partitions
call that matches the table's format (awswrangler sends them in chunks of 100). Names that engines
ignore (`_x`, `.x`, `…_$folder$`, keys ending in `/`) are ignored here too.

    python awswrangler_script.py --database raw_x
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import unquote

import awswrangler as wr

IGNORED_PREFIXES = ("_", ".")


def partition_values(dirs: list[str], keys: list[str]) -> list[str] | None:
    """Values of one partition directory path, or None if it does not fit the table's keys."""
    if len(dirs) != len(keys):
        return None
    values = []
    for key, part in zip(keys, dirs, strict=True):
        name, sep, value = part.partition("=")
        if not sep:
            value = part
        elif name.lower() != key.lower():
            return None
        values.append(unquote(value))
    return values


def partitions_in_s3(location: str, keys: list[str]) -> dict[str, list[str]]:
    """{partition location: values} for every prefix under `location` that holds a data object."""
    found: dict[str, list[str]] = {}
    for path in wr.s3.list_objects(location):
        *dirs, name = path[len(location) :].split("/")
        if not name or name.endswith("_$folder$") or name.startswith(IGNORED_PREFIXES):
            continue
        if any(d.startswith(IGNORED_PREFIXES) for d in dirs):
            continue
        prefix = location + "".join(d + "/" for d in dirs)
        if prefix not in found:
            values = partition_values(dirs, keys)
            if values is not None:
                found[prefix] = values
    return found


def add_partitions(database: str, table: dict[str, Any], missing: dict[str, list[str]]) -> None:
    """Adds partitions with the storage format of the table (Parquet, JSON or CSV)."""
    sd = table["StorageDescriptor"]
    serde = sd.get("SerdeInfo", {})
    library = serde.get("SerializationLibrary", "")
    columns = {c["Name"]: c["Type"] for c in sd.get("Columns", [])}
    common = {
        "database": database,
        "table": table["Name"],
        "partitions_values": missing,
        "columns_types": columns,
    }
    if "parquet" in library.lower() or "parquet" in sd.get("InputFormat", "").lower():
        compression = table.get("Parameters", {}).get("parquet.compression")
        wr.catalog.add_parquet_partitions(**common, compression=compression and compression.lower())
    elif "json" in library.lower():
        wr.catalog.add_json_partitions(
            **common, serde_library=library, serde_parameters=serde.get("Parameters")
        )
    else:
        wr.catalog.add_csv_partitions(
            **common, serde_library=library or None, serde_parameters=serde.get("Parameters")
        )


def sync_database(database: str) -> dict[str, int]:
    """Registers what is missing in every partitioned table of the database."""
    totals = {"tables": 0, "found": 0, "created": 0}
    for table in wr.catalog.get_tables(database=database):
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        if not keys:
            continue
        location = table["StorageDescriptor"]["Location"].rstrip("/") + "/"
        in_s3 = partitions_in_s3(location, keys)
        registered = wr.catalog.get_partitions(database=database, table=table["Name"])
        known = {tuple(v) for v in registered.values()}
        missing = {loc: v for loc, v in in_s3.items() if tuple(v) not in known}
        if missing:
            add_partitions(database, table, missing)
        totals["tables"] += 1
        totals["found"] += len(in_s3)
        totals["created"] += len(missing)
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    json.dump(sync_database(args.database), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
