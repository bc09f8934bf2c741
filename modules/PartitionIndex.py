"""Partition indexes: whether one serves a table's filtered reads, and making one where none does.

Glue docs, "Creating partition indexes": without an index, a `GetPartitions` with an
`Expression` loads every partition of the table and then filters; with one, it fetches the
subset the index selects. A table holds at most 3 indexes; an index takes string (`string`,
`char`, `varchar`), whole-number (`int`, `bigint`, `long`, `tinyint`, `smallint`) and `date`
keys; a new index is `CREATING` while Glue backfills it and serves reads once `ACTIVE`.

The function reads a table's indexes once a run (`GetPartitionIndexes`). With
`PARTITION_INDEX=create` it adds one on the keys its windows and retention filter by, time keys
leading, to a table that no index serves; it never changes or removes an index that is there.
An index that cannot be made (3 already, a key type, a denied call) is a warning, never a
failure: the reads are then what they are without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules.AwsErrors import describe
from modules.TimeKeys import PartitionKey

MAX_INDEXES = 3
INDEXABLE_TYPES = frozenset(
    {"string", "char", "varchar", "int", "integer", "bigint", "long", "tinyint", "smallint", "date"}
)
_PREFIX = "partition_sync_"
_MAX_NAME = 255


@dataclass
class IndexState:
    """What a table's indexes mean for this run's reads, and what was done about them."""

    served: bool = False  # an ACTIVE index leads with the keys the windows filter by
    index: str | None = None  # the name of that index, or of the one created or being created
    created: bool = False  # created by this run (it serves later runs, once ACTIVE)
    would_create: dict[str, Any] | None = None  # dry run: the index a run would create
    warnings: list[str] = field(default_factory=list)


def index_name(keys: list[PartitionKey]) -> str:
    """The name of the index this function creates on `keys` (within Glue's 255 characters)."""
    return (_PREFIX + "_".join(k.name.lower() for k in keys))[:_MAX_NAME]


def unindexable(keys: list[PartitionKey]) -> str | None:
    """Why Glue cannot index these keys, or None."""
    for key in keys:
        kind = key.type.strip().lower().split("(", 1)[0].strip()
        if kind not in INDEXABLE_TYPES:
            return (
                f"key {key.name} of type {key.type} cannot be indexed "
                "(Glue indexes string, whole-number and date keys)"
            )
    return None


def prepare(
    glue: Any,
    database: str,
    table: str,
    keys: list[PartitionKey] | None,
    mode: str,
    dry_run: bool,
) -> IndexState:
    """Read the table's indexes and, with mode `create`, create one where none serves `keys`
    (None: the table's reads filter on no time key, so no index is read or made)."""
    state = IndexState()
    if mode == "off" or not keys:
        return state
    try:
        indexes = _indexes(glue, database, table)
    except (ClientError, BotoCoreError) as exc:
        state.warnings.append(f"reading partition indexes failed: {describe(exc)}")
        return state
    lead = keys[0].name.lower()
    for index in indexes:
        names = [k["Name"].lower() for k in index.get("Keys", ())]
        if names[:1] == [lead] and index.get("IndexStatus") == "ACTIVE":
            state.served, state.index = True, index["IndexName"]
            return state
    pending = [i for i in indexes if [k["Name"].lower() for k in i.get("Keys", ())][:1] == [lead]]
    if pending:  # being built (CREATING) or in another state: reads go without it this run
        state.index = pending[0]["IndexName"]
        return state
    if mode == "create":
        _create(glue, database, table, keys, len(indexes), dry_run, state)
    return state


def _indexes(glue: Any, database: str, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = {"DatabaseName": database, "TableName": table}
        response = glue.get_partition_indexes(**params, **({"NextToken": token} if token else {}))
        found.extend(response.get("PartitionIndexDescriptorList", ()))
        token = response.get("NextToken")
        if not token:
            return found


def _create(
    glue: Any,
    database: str,
    table: str,
    keys: list[PartitionKey],
    existing: int,
    dry_run: bool,
    state: IndexState,
) -> None:
    """CreatePartitionIndex on `keys`, or the warning that says why it was not made."""
    reason = unindexable(keys)
    if reason is None and existing >= MAX_INDEXES:
        reason = f"the table has {existing} partition indexes, Glue's limit"
    if reason is not None:
        state.warnings.append(f"no partition index created: {reason}")
        return
    index = {"IndexName": index_name(keys), "Keys": [k.name for k in keys]}
    if dry_run:
        state.would_create = index
        return
    try:
        glue.create_partition_index(DatabaseName=database, TableName=table, PartitionIndex=index)
    except (ClientError, BotoCoreError) as exc:
        state.warnings.append(f"no partition index created: {describe(exc)}")
        return
    state.index, state.created = index["IndexName"], True
