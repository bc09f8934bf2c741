"""Glue's partition indexes, as the strict layer plays them (moto 5.2 has none).

Glue docs, "Creating partition indexes":
- without an index, a `GetPartitions` with an `Expression` loads every partition of the table
  and then filters; with one, it fetches the subset the index selects;
- an index is a list of the table's partition keys of type string (`string`, `char`,
  `varchar`), whole number (`int`, `bigint`, `long`, `tinyint`, `smallint`) or `date`; a table
  has at most 3 (`ResourceNumberLimitExceededException` beyond);
- an index serves `=`, `>`, `>=`, `<`, `<=` and `BETWEEN` joined by `AND`; sub-expressions with
  `LIKE`, `IN`, `OR` or `NOT` are ignored for the index and filtered on what it fetched;
- a new index is `CREATING` while Glue backfills it, then `ACTIVE`; or `FAILED` where a stored
  value does not match its key's type (API reference, BackfillError:
  `INVALID_PARTITION_TYPE_DATA_ERROR`, with a limited number of the partitions at fault).

Selection is modelled on a B-tree over the index keys in order: equality on a leading prefix of
them plus a range on the next one; an index whose first key the expression does not constrain
selects nothing and is not used.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
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
    calls_left: int  # Glue calls on the table until its backfill ends (0: it has)
    backfill_errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.calls_left > 0:
            return "CREATING"
        return "FAILED" if self.backfill_errors else "ACTIVE"

    def describe(self) -> dict[str, Any]:
        """As GetPartitionIndexes lists it (PartitionIndexDescriptor)."""
        described = {
            "IndexName": self.name,
            "Keys": [{"Name": k.name, "Type": k.type} for k in self.keys],
            "IndexStatus": self.status,
        }
        if self.status == "FAILED":
            described["BackfillErrors"] = self.backfill_errors
        return described

    def converter(
        self, table_keys: tuple[Key, ...] | list[Key]
    ) -> Callable[[list[str]], tuple[Any, ...]]:
        """A partition's values to its converted index key values (ValueError: one its key
        cannot hold); the index keys' places among the table's are found once, not per item."""
        names = [k.name.lower() for k in table_keys]
        positions = [(names.index(k.name.lower()), k) for k in self.keys]

        def entry(values: list[str]) -> tuple[Any, ...]:
            try:
                return tuple(k.convert(values[i]) for i, k in positions)
            except IndexError as e:
                raise ValueError(f"no value for {self.keys}") from e

        return entry


# Partitions a BackfillError lists ("a limited number"; the figure is ours).
_BACKFILL_SHOWN = 10


def backfill_errors(
    index: Index, table_keys: list[Key], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What Glue's backfill of `index` over the stored partitions reports: the partitions whose
    value does not match its key's type (Hive's `__HIVE_DEFAULT_PARTITION__` in an `int` key)."""
    wrong = []
    entry = index.converter(table_keys)
    for item in items:
        try:
            entry(item["Values"])
        except ValueError:
            wrong.append({"Values": item["Values"]})
    if not wrong:
        return []
    return [{"Code": "INVALID_PARTITION_TYPE_DATA_ERROR", "Partitions": wrong[:_BACKFILL_SHOWN]}]


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


@dataclass
class SortedIndex:
    """An index's entries: each partition's converted key values, in order, for bisection."""

    tuples: list[tuple[Any, ...]]
    items: list[dict[str, Any]]

    @classmethod
    def build(
        cls, index: Index, table_keys: tuple[Key, ...], items: list[dict[str, Any]]
    ) -> SortedIndex:
        rows = []
        entry = index.converter(table_keys)
        for item in items:
            try:
                rows.append((entry(item["Values"]), item))
            except ValueError:
                continue  # a value the key's type cannot hold has no place in the index
        rows.sort(key=lambda row: row[0])
        return cls([row[0] for row in rows], [row[1] for row in rows])

    def select(self, equal: list[Any], ranges: list[Node]) -> list[dict[str, Any]]:
        """The entries whose leading keys equal `equal` and whose next key is in `ranges`."""
        n = len(equal)
        lo = bisect_left(self.tuples, tuple(equal), key=lambda t: t[:n])
        hi = bisect_right(self.tuples, tuple(equal), key=lambda t: t[:n])
        low, high = _bounds(ranges)
        if low is not None:
            find = bisect_left if low[1] else bisect_right
            lo = find(self.tuples, low[0], lo, hi, key=lambda t: t[n])
        if high is not None:
            find = bisect_right if high[1] else bisect_left
            hi = max(lo, find(self.tuples, high[0], lo, hi, key=lambda t: t[n]))
        return self.items[lo:hi]


def indexed_candidates(
    matcher: Filter,
    items: list[dict[str, Any]],
    indexes: list[Index],
    sorted_index: Any,
) -> list[dict[str, Any]] | None:
    """What Glue loads to answer this expression: the fewest partitions an ACTIVE index selects,
    or None when no index serves it (Glue then loads every partition of the table).
    `sorted_index(index)` gives the index's SortedIndex (the caller may keep them)."""
    conjuncts = _conjuncts(matcher.root)
    best: list[dict[str, Any]] | None = None
    for index in indexes:
        if index.status != "ACTIVE":
            continue
        equal, ranges = _served(conjuncts, index)
        if not equal and not ranges:
            continue
        chosen = sorted_index(index).select([c.literal for c in equal], ranges)
        if best is None or len(chosen) < len(best):
            best = chosen
    return best


def _bounds(ranges: list[Node]) -> tuple[tuple[Any, bool] | None, tuple[Any, bool] | None]:
    """The tightest (value, inclusive) lower and upper bound of range conjuncts on one key."""
    lows: list[tuple[Any, bool]] = []
    highs: list[tuple[Any, bool]] = []
    for node in ranges:
        if isinstance(node, Between):
            lows.append((node.low, True))
            highs.append((node.high, True))
        elif isinstance(node, Compare):
            bound = (node.literal, node.operator.endswith("="))
            (lows if node.operator.startswith(">") else highs).append(bound)
    low = max(lows, key=lambda b: (b[0], not b[1])) if lows else None
    high = min(highs, key=lambda b: (b[0], b[1])) if highs else None
    return low, high


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Logical) and node.operator == "AND":
        return [c for part in node.parts for c in _conjuncts(part)]
    return [node]


def _served(conjuncts: list[Node], index: Index) -> tuple[list[Compare], list[Node]]:
    """The conjuncts the index answers: `=` on its keys in order, then ranges on the next key."""
    equal: list[Compare] = []
    for key in index.keys:
        name = key.name.lower()
        same = [
            c for c in conjuncts if isinstance(c, Compare) and c.key == name and c.operator == "="
        ]
        if same:
            equal.append(same[0])
            continue
        ranges = [
            c
            for c in conjuncts
            if (isinstance(c, Compare) and c.key == name and c.operator in _RANGE)
            or (isinstance(c, Between) and c.key == name)
        ]
        return equal, ranges
    return equal, []
