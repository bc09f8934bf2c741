"""Glue's partition indexes, as the strict layer plays them (moto 5.2 has none).

Glue docs, "Creating partition indexes":
- without an index, a `GetPartitions` with an `Expression` loads every partition of the table
  and then filters; with one, it fetches the subset the index selects;
- an index is a list of the table's partition keys of type string (`string`, `char`,
  `varchar`), whole number (`int`, `bigint`, `long`, `tinyint`, `smallint`) or `date`; a table
  has at most 3 (`ResourceNumberLimitExceededException` beyond);
- an index serves `=`, `>`, `>=`, `<`, `<=` and `BETWEEN` joined by `AND`; sub-expressions with
  `LIKE`, `IN`, `OR` or `NOT` are ignored for the index and filtered on what it fetched;
- a new index is `CREATING` while Glue backfills it, then `ACTIVE`.

Selection is modelled on a B-tree over the index keys in order: equality on a leading prefix of
them plus a range on the next one; an index whose first key the expression does not constrain
selects nothing and is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.glue_expression import Between, Compare, Filter, Key, Logical, Node

MAX_INDEXES = 3
INDEXABLE = frozenset(
    {"string", "char", "varchar", "int", "integer", "bigint", "long", "tinyint", "smallint", "date"}
)
_RANGE = frozenset({"<", "<=", ">", ">="})


class IndexRefused(Exception):
    """Glue's answer to a refused CreatePartitionIndex: its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Index:
    """One partition index of a table."""

    name: str
    keys: list[Key]
    calls_left: int  # Glue calls on the table until it is ACTIVE (0: it is)

    @property
    def status(self) -> str:
        return "ACTIVE" if self.calls_left <= 0 else "CREATING"

    def describe(self) -> dict[str, Any]:
        """As GetPartitionIndexes lists it (PartitionIndexDescriptor)."""
        return {
            "IndexName": self.name,
            "Keys": [{"Name": k.name, "Type": k.type} for k in self.keys],
            "IndexStatus": self.status,
        }


def new_index(
    payload: dict[str, Any], table_keys: list[Key], existing: list[Index], active_after: int
) -> Index:
    """The index a CreatePartitionIndex asks for, or IndexRefused as Glue answers."""
    spec = payload.get("PartitionIndex") or {}
    name, names = spec.get("IndexName"), spec.get("Keys") or []
    if not name or not names:
        raise IndexRefused("InvalidInputException", "PartitionIndex needs IndexName and Keys")
    if any(i.name == name for i in existing):
        raise IndexRefused("AlreadyExistsException", f"Index {name} already exists.")
    if len(existing) >= MAX_INDEXES:
        raise IndexRefused(
            "ResourceNumberLimitExceededException",
            f"A table can have at most {MAX_INDEXES} partition indexes.",
        )
    by_name = {k.name.lower(): k for k in table_keys}
    keys = []
    for key_name in names:
        key = by_name.get(str(key_name).lower())
        if key is None:
            raise IndexRefused("InvalidInputException", f"{key_name} is not a partition key.")
        if key.base_type not in INDEXABLE:
            raise IndexRefused(
                "InvalidInputException",
                f"Partition key {key.name} of type {key.type} is not supported for indexing.",
            )
        keys.append(key)
    return Index(name, keys, active_after)


def loaded(matcher: Filter, items: list[dict[str, Any]], indexes: list[Index]) -> int:
    """How many partitions Glue loads to answer this expression: what the best ACTIVE index
    selects, or every partition of the table when none serves it."""
    conjuncts = _conjuncts(matcher.root)
    best = len(items)
    for index in indexes:
        if index.status != "ACTIVE":
            continue
        used = _served(conjuncts, index)
        if used:
            chosen = Filter(Logical("AND", tuple(used)), matcher.keys).select(items)
            best = min(best, len(chosen))
    return best


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Logical) and node.operator == "AND":
        return [c for part in node.parts for c in _conjuncts(part)]
    return [node]


def _served(conjuncts: list[Node], index: Index) -> list[Node]:
    """The conjuncts the index answers: `=` on its keys in order, then ranges on the next key."""
    used: list[Node] = []
    for key in index.keys:
        name = key.name.lower()
        equal = [
            c for c in conjuncts if isinstance(c, Compare) and c.key == name and c.operator == "="
        ]
        if equal:
            used += equal
            continue
        used += [
            c
            for c in conjuncts
            if (isinstance(c, Compare) and c.key == name and c.operator in _RANGE)
            or (isinstance(c, Between) and c.key == name)
        ]
        break
    return used
