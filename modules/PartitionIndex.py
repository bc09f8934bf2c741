"""Partition indexes: whether one serves a table's filtered reads, and making one where none does.

Glue docs, "Creating partition indexes": without an index, a `GetPartitions` with an
`Expression` loads every partition of the table and then filters; with one, it fetches the
subset the index selects. A table holds at most 3 indexes; an index takes string (`string`,
`char`, `varchar`), whole-number (`int`, `bigint`, `long`, `tinyint`, `smallint`) and `date`
keys; a new index is `CREATING` while Glue backfills it and serves reads once `ACTIVE`.

The function reads a table's indexes once a run (`GetPartitionIndexes`). With
`PARTITION_INDEX=create` it adds one on the keys its windows and retention filter by, time keys
leading, to a table that no index serves; it never changes or removes an index that is there.
An index that cannot be made (3 already, a key type, a denied call), or that Glue could not
build (`FAILED`: a stored value its key cannot hold), is a warning, never a failure: the reads
are then what they are without one.
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


@dataclass(frozen=True)
class Wanted:
    """An index the reads want: its keys, and how many of them must lead an index that serves
    them (the first time key for the windows; every branch key for the reads by branch)."""

    purpose: str  # "time" or "branch"
    keys: list[PartitionKey]
    lead: int

    def served_by(self, index: dict[str, Any]) -> bool:
        names = [k["Name"].lower() for k in index.get("Keys", ())]
        return names[: self.lead] == [k.name.lower() for k in self.keys[: self.lead]]


@dataclass
class IndexState:
    """What a table's indexes mean for this run's reads, and what was done about them."""

    served: set[str] = field(default_factory=set)  # purposes an ACTIVE index serves
    names: list[str] = field(default_factory=list)  # indexes that serve, or are being made
    would_create: list[dict[str, Any]] = field(default_factory=list)  # dry run: would create
    warnings: list[str] = field(default_factory=list)

    def serves(self, purpose: str) -> bool:
        return purpose in self.served


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


def wanted(time_keys: list[PartitionKey] | None, branch: list[PartitionKey]) -> list[Wanted]:
    """The indexes a table's reads want: one led by its time keys (the windows, retention), and
    for a table with branch keys one led by them, then the time keys (a branch's own reads,
    which the first cannot serve: a new branch would otherwise cost a load of the whole table)."""
    if not time_keys:
        return []
    found = [Wanted("time", time_keys, 1)]
    if branch:
        found.append(Wanted("branch", [*branch, *time_keys], len(branch)))
    return found


def prepare(
    glue: Any,
    database: str,
    table: str,
    wants: list[Wanted],
    mode: str,
    dry_run: bool,
) -> IndexState:
    """Read the table's indexes and, with mode `create`, create those `wants` that no index
    serves or is being made for (none is read or made without a want)."""
    state = IndexState()
    if mode == "off" or not wants:
        return state
    try:
        indexes = _indexes(glue, database, table)
    except (ClientError, BotoCoreError) as exc:
        state.warnings.append(f"reading partition indexes failed: {describe(exc)}")
        return state
    count = len(indexes)
    for want in wants:
        matching = [i for i in indexes if want.served_by(i)]
        active = [i for i in matching if i.get("IndexStatus") == "ACTIVE"]
        failed = [i for i in matching if i.get("IndexStatus") == "FAILED"]
        if active:
            state.served.add(want.purpose)
            state.names.append(active[0]["IndexName"])
        elif failed:  # never replaced: a new one would fail on the same partitions
            state.warnings.append(_failure(failed[0]))
        elif matching:  # being built (CREATING): reads go without it this run
            state.names.append(matching[0]["IndexName"])
        elif mode == "create":
            count += _create(glue, (database, table), want.keys, count, dry_run, state)
    return state


def _failure(index: dict[str, Any]) -> str:
    """The warning for an index whose backfill failed (API reference, BackfillError): Glue
    names the error and a few of the partitions at fault, which the operator has to fix (or
    delete the index) before Glue will build it."""
    found = [
        f"{e.get('Code', 'unknown error')} on {[p.get('Values') for p in e.get('Partitions', ())]}"
        for e in index.get("BackfillErrors", ())
    ]
    return (
        f"partition index {index['IndexName']} FAILED ({'; '.join(found) or 'no reason given'}): "
        "reads go without it; fix those partitions, then delete and recreate the index"
    )


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
    where: tuple[str, str],
    keys: list[PartitionKey],
    existing: int,
    dry_run: bool,
    state: IndexState,
) -> bool:
    """CreatePartitionIndex on `keys` (True), or the warning that says why it was not made."""
    reason = unindexable(keys)
    if reason is None and existing >= MAX_INDEXES:
        reason = f"the table has {existing} partition indexes, Glue's limit"
    if reason is not None:
        state.warnings.append(f"no partition index created: {reason}")
        return False
    index = {"IndexName": index_name(keys), "Keys": [k.name for k in keys]}
    if dry_run:
        state.would_create.append(index)
        return True
    database, table = where
    try:
        glue.create_partition_index(DatabaseName=database, TableName=table, PartitionIndex=index)
    except (ClientError, BotoCoreError) as exc:
        state.warnings.append(f"no partition index created: {describe(exc)}")
        return False
    state.names.append(index["IndexName"])
    return True
