"""A loopback HTTP proxy in front of the moto server that answers Glue calls as Glue would.

moto 5.2 is kinder than AWS Glue (the design's "Known differences between moto 5.2 and real
AWS"): it ignores
`MaxResults`, `NextToken` and `Segment`, never pages, enforces no batch limit, stores empty
values and values of the wrong count, parses only part of the expression language, and has no
Lake Formation. Every integration test goes through this layer, so the function meets those
rules before it meets AWS:

1. `GetPartitions`, `GetTables`, `GetDatabases` page: the full answer is read from moto once
   and kept under opaque `NextToken`s; filtered `GetPartitions` pages can be empty but carry
   a `NextToken` (boto/boto3#4504).
2. `Segment`s are disjoint and together whole.
3. `Expression` is evaluated here (tests/glue_expression.py), by the keys' types;
   `ExcludeColumnSchema` leaves the columns out of the storage descriptors, as Glue does.
4. Batch sizes, value lengths and value counts are checked before anything reaches moto.
5. `OperationTimeoutException` can be injected, seeded like tests/faultproxy.py.
6. Lake Formation: hidden tables, and tables whose reads or writes are not granted.
7. Every Glue call is recorded (`calls`), with its page number, error and, for `GetPartitions`,
   how many partitions Glue had to load to answer it (`loaded`).
8. Partition indexes (tests/glue_indexes.py): `CreatePartitionIndex`, `GetPartitionIndexes`,
   `CREATING` then `ACTIVE`, Glue's limits; a filtered `GetPartitions` loads the whole table
   unless an `ACTIVE` index serves its expression.

S3 and anything that is not Glue (including moto's `/moto-api/`) pass through untouched.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.glue.models import glue_backends
from moto.server import ThreadedMotoServer

from tests import glue_indexes
from tests.faultproxy import BaseHandler, LoopbackProxy, Request, _glue_error
from tests.glue_expression import (
    ExpressionError,
    Filter,
    Key,
    StoredValueError,
    check_length,
    parse,
)

Table = tuple[str, str]  # (database, table)
Answer = tuple[int, dict[str, str], bytes]
# Sends a Glue operation upstream: (operation, payload or None for the request's own body).
Forward = Callable[[str, dict[str, Any] | None], Answer]

# The Lake Formation permission each table operation needs (Lake Formation permissions reference).
READS = frozenset(
    {"GetTable", "GetPartitions", "GetPartition", "BatchGetPartition", "GetPartitionIndexes"}
)
WRITES = {
    "BatchCreatePartition": "Insert",
    "CreatePartition": "Insert",
    "UpdatePartition": "Insert",
    "BatchUpdatePartition": "Insert",
    "BatchDeletePartition": "Delete",
    "DeletePartition": "Delete",
    "CreatePartitionIndex": "Alter",
}
# Paged reads: the list they answer and the largest MaxResults Glue takes (API reference).
PAGED = {
    "GetPartitions": ("Partitions", 1000),
    "GetTables": ("TableList", 100),
    "GetDatabases": ("DatabaseList", 100),
}
# Batch writes and reads: the list and its most items (BatchCreatePartition and the others).
BATCH_LIMITS = {
    "BatchCreatePartition": ("PartitionInputList", 100),
    "BatchUpdatePartition": ("Entries", 100),
    "BatchDeletePartition": ("PartitionsToDelete", 25),
    "BatchGetPartition": ("PartitionsToGet", 1000),
}
# Where each operation carries partition values: the item list (None: the payload itself) and
# the paths to value lists inside an item.
VALUE_PATHS: dict[str, tuple[str | None, tuple[tuple[str, ...], ...]]] = {
    "BatchCreatePartition": ("PartitionInputList", (("Values",),)),
    "BatchDeletePartition": ("PartitionsToDelete", (("Values",),)),
    "BatchGetPartition": ("PartitionsToGet", (("Values",),)),
    "BatchUpdatePartition": ("Entries", (("PartitionValueList",), ("PartitionInput", "Values"))),
    "CreatePartition": (None, (("PartitionInput", "Values"),)),
    "GetPartition": (None, (("PartitionValues",),)),
    "DeletePartition": (None, (("PartitionValues",),)),
    "UpdatePartition": (None, (("PartitionValueList",), ("PartitionInput", "Values"))),
}
INDEX_OPERATIONS = frozenset({"CreatePartitionIndex", "GetPartitionIndexes"})
MAX_VALUE_LENGTH = 1024
MAX_SEGMENTS = 10
_PAGING_FIELDS = ("MaxResults", "NextToken", "Segment")
_JSON = {"Content-Type": "application/x-amz-json-1.1"}
MOTO_RESET = "/moto-api/reset"


@dataclass
class Strictness:
    """What the layer enforces; tests change it at run time (`layer.strictness.x = ...`)."""

    page_size: int = 100  # items a page when the call gives no MaxResults (Glue's own is 1,000)
    empty_filtered_pages: bool = True  # filtered GetPartitions answer some empty pages
    empty_page_every: int = 3  # an empty page first, then one after every this many full pages
    timeout_rate: float = 0.0  # share of Glue calls answered OperationTimeoutException
    timeout_operations: frozenset[str] | None = None  # the calls that can time out (None: all)
    hidden_tables: set[Table] = field(default_factory=set)  # not granted at all: invisible
    denied_reads: set[Table] = field(default_factory=set)  # no SELECT/DESCRIBE grant
    denied_writes: set[Table] = field(default_factory=set)  # no INSERT/DELETE/ALTER grant
    index_active_after: int = 0  # Glue calls on a table before a new index is ACTIVE (0: at once)
    # the benchmark's: keep moto's partitions of a table between reads (dropped on any write
    # through the layer and on moto's reset; a writer that bypasses the layer must call
    # forget_reads), and sleep this long per partition Glue loads (the cost of a load)
    cache_partitions: bool = False
    load_cost_us: float = 0.0


@dataclass
class Call:
    """One Glue request as the layer saw it."""

    operation: str
    database: str | None = None
    table: str | None = None
    page: int | None = None  # paged reads: 1 for the first page, 2 for the next...
    items: int = 0  # the batch size the client sent
    error: str | None = None  # the error code answered (the layer's or moto's)
    status: int | None = None
    # GetPartitions: partitions Glue loaded to answer this page (the whole table on the first
    # page of a filtered read no ACTIVE index serves; what the index selects where one does)
    loaded: int | None = None
    filtered: bool = False  # GetPartitions with an Expression
    empty_with_token: bool = False  # paged reads: a page of no items that carries a NextToken
    segments: int | None = None  # a segmented read: its TotalSegments


class GlueError(Exception):
    """An answer the layer gives instead of moto's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> GlueError:
    return GlueError("InvalidInputException", message)


@dataclass
class _Cursor:
    """A full answer being paged: what it is for, its items and where each page starts."""

    scope: tuple[Any, ...]  # operation, table, expression, segment: a token serves only these
    result_key: str
    items: list[dict[str, Any]]
    empty_pages: bool
    every: int
    first_loaded: int | None = None  # what the first page loads (None: what it returns)
    no_columns: bool = False  # ExcludeColumnSchema: storage descriptors without their Columns
    starts: dict[int, tuple[int, int, bool]] = field(default_factory=dict)
    # page number → (items already served, full pages since the last empty one, last was empty)


class StrictLayer(LoopbackProxy):
    """The proxy: start it in front of moto and give boto3 its `endpoint`."""

    MAX_OPEN_CURSORS = 64  # answers being paged at once; the oldest token goes stale beyond

    def __init__(self, upstream: str, strictness: Strictness | None = None, seed: int = 0) -> None:
        super().__init__(upstream, seed)
        self.handler = _StrictHandler
        self.defaults = strictness or Strictness()
        self.strictness = copy.deepcopy(self.defaults)
        self.records: list[Call] = []
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._opened: Counter[str] = Counter()  # reads opened per scope: tokens repeat by run
        self.indexes: dict[Table, list[glue_indexes.Index]] = {}
        self._tables: dict[Table, list[dict[str, Any]]] = {}  # cache_partitions: moto's answers
        # the benchmark's: a table's partitions as GetPartitions describes them, read straight
        # from moto's in-process backend (moto's serialiser takes minutes for 100,000)
        self.partition_source: Callable[[Table], list[dict[str, Any]] | None] | None = None
        # per (table, what): its SortedIndex of an index, or its items split into segments
        self._sorted: dict[tuple[Table | None, str], Any] = {}

    @property
    def upstream_endpoint(self) -> str:
        """Bare moto's URL, behind the layer."""
        return self.upstream.geturl()

    def calls(self, operation: str | None = None) -> list[Call]:
        return super().calls(operation)

    def reads(self, operation: str, table: str | None = None) -> int:
        """How many paged reads of `operation` (on `table`) started: first pages answered."""
        return sum(1 for page in self._pages(operation, table) if page == 1)

    def pages(self, operation: str, table: str | None = None) -> int:
        """How many pages of `operation` (on `table`) were answered without an error."""
        return len(self._pages(operation, table))

    def _pages(self, operation: str, table: str | None) -> list[int]:
        return [
            c.page
            for c in self.calls(operation)
            if c.page is not None and c.error is None and table in (None, c.table)
        ]

    def clear_calls(self) -> None:
        """Forget the calls seen so far (the settings stay)."""
        with self._lock:
            self.records.clear()

    def reset(self) -> None:
        """Back to the settings the layer was built with; forget calls and open reads."""
        with self._lock:
            self.strictness = copy.deepcopy(self.defaults)
            self.records.clear()
        self.forget_reads()

    def forget_reads(self) -> None:
        """Forget the reads being paged (their tokens go stale) and the seeds' history, as when
        moto forgets its state: the same run then gets the same tokens and timeouts again."""
        with self._lock:
            self._seen.clear()
            self._cursors.clear()
            self._opened.clear()
            self.indexes.clear()
            self._tables.clear()
            self._sorted.clear()

    def loaded(self, table: str | None = None) -> list[int]:
        """Partitions loaded by each answered `GetPartitions` page (on `table`), in order."""
        return [
            c.loaded
            for c in self.calls("GetPartitions")
            if c.loaded is not None and table in (None, c.table)
        ]

    # ------------------------------------------------------------------ the rules

    def answer(self, request: Request, call: Call, forward: Forward) -> Answer:
        """The answer to one Glue request, or GlueError."""
        operation, payload = request.operation, request.payload or {}
        self._maybe_time_out(request)
        table = _table_of(operation, payload)
        if table is not None:
            self._lake_formation(operation, table)
        self._check_batch(operation, payload)
        if table is not None:
            self._age_indexes(table)
            if operation not in READS and operation not in PAGED:  # a write: moto changes
                self._forget_table(table)
        if operation in INDEX_OPERATIONS:
            return self._index_call(request, table, forward)
        if operation in PAGED:
            return self._page(request, call, table, forward)
        if operation in VALUE_PATHS:
            self._check_values(operation, payload, table, forward)
        return forward(operation, None)

    def _maybe_time_out(self, request: Request) -> None:
        """OperationTimeoutException is an HTTP 400 that botocore does not retry
        (aws/aws-sdk-pandas#2726); the request does not reach moto."""
        s = self.strictness
        draw = self._rng(request).random()
        chosen = s.timeout_operations is None or request.operation in s.timeout_operations
        if chosen and draw < s.timeout_rate:
            raise GlueError("OperationTimeoutException", "Request timed out, please retry.")

    def _lake_formation(self, operation: str, table: Table) -> None:
        s, name = self.strictness, table[1]
        if table in s.hidden_tables and (operation in READS or operation in WRITES):
            raise GlueError("EntityNotFoundException", f"Table {name} not found.")
        if table in s.denied_reads and operation in READS:
            raise GlueError(
                "AccessDeniedException", f"Insufficient Lake Formation permission(s) on {name}"
            )
        if table in s.denied_writes and operation in WRITES:
            raise GlueError(
                "AccessDeniedException",
                f"Insufficient Lake Formation permission(s): Required {WRITES[operation]} "
                f"on {name}",
            )

    def _forget_table(self, table: Table) -> None:
        with self._lock:
            self._tables.pop(table, None)
            for key in [k for k in self._sorted if k[0] == table]:
                del self._sorted[key]

    def _age_indexes(self, table: Table) -> None:
        """Each Glue call on a table brings its CREATING indexes one call nearer to ACTIVE."""
        with self._lock:
            for index in self.indexes.get(table, ()):
                index.calls_left -= 1

    def _index_call(self, request: Request, table: Table | None, forward: Forward) -> Answer:
        keys = _partition_keys(table, forward)
        if table is None or keys is None:
            raise GlueError("EntityNotFoundException", "Table not found.")
        if request.operation == "GetPartitionIndexes":
            with self._lock:
                found = [i.describe() for i in self.indexes.get(table, ())]
            return 200, dict(_JSON), json.dumps({"PartitionIndexDescriptorList": found}).encode()
        # the backfill reads every stored partition: a value its key cannot hold fails the index,
        # which no reader may see ACTIVE in the meantime
        read = {"DatabaseName": table[0], "TableName": table[1]}
        stored = self._everything(
            replace(request, operation="GetPartitions", payload=read),
            table,
            "Partitions",
            forward,
        )
        with self._lock:
            existing = self.indexes.setdefault(table, [])
            try:
                after = max(0, self.strictness.index_active_after)
                index = glue_indexes.new_index(request.payload or {}, keys, existing, after)
            except glue_indexes.IndexRefused as e:
                raise GlueError(e.code, e.message) from e
            if isinstance(stored, list):
                index.backfill_errors = glue_indexes.backfill_errors(index, keys, stored)
            existing.append(index)
        return 200, dict(_JSON), b"{}"

    @staticmethod
    def _check_batch(operation: str, payload: dict[str, Any]) -> None:
        if operation not in BATCH_LIMITS:
            return
        name, most = BATCH_LIMITS[operation]
        if len(payload.get(name) or ()) > most:
            raise invalid(
                f"1 validation error detected: Value at '{name[0].lower()}{name[1:]}' failed to "
                f"satisfy constraint: Member must have length less than or equal to {most}"
            )

    def _check_values(
        self, operation: str, payload: dict[str, Any], table: Table | None, forward: Forward
    ) -> None:
        """Each value 1 to 1,024 characters (PartitionInput), as many as the table has keys."""
        found = list(_value_lists(operation, payload))
        for where, values in found:
            for value in values:
                if not 1 <= len(value) <= MAX_VALUE_LENGTH:
                    raise invalid(
                        f"1 validation error detected: Value at '{where}' failed to satisfy "
                        f"constraint: Member must have length between 1 and {MAX_VALUE_LENGTH}"
                    )
        keys = _partition_keys(table, forward) if found and table else None
        if keys is not None and any(len(values) != len(keys) for _, values in found):
            raise invalid(
                "The number of partition keys do not match the number of partition values"
            )

    # ------------------------------------------------------------------ paging

    def _page(self, request: Request, call: Call, table: Table | None, forward: Forward) -> Answer:
        operation, payload = request.operation, request.payload or {}
        result_key, most = PAGED[operation]
        size = payload.get("MaxResults")
        if size is not None and not 1 <= size <= most:
            raise invalid(f"MaxResults must be between 1 and {most}")
        segment = _segment(payload.get("Segment"))
        expression = payload.get("Expression") or ""
        if operation != "GetPartitions" or not expression.strip():
            expression = ""  # blank is no filter; GetTables' Expression is moto's to apply
        scope = (operation, table, expression, segment)
        call.filtered = bool(expression)
        call.segments = segment[1] if segment else None
        token = payload.get("NextToken")
        if token:
            cursor_id, page = self._cursor_of(token, scope)
        else:
            opened = self._open(request, scope, result_key, forward)
            if not isinstance(opened, str):
                return opened  # moto's own error (no such table...), passed on
            cursor_id, page = opened, 1
        call.page = page
        return self._serve(cursor_id, call, size or min(self.strictness.page_size, most))

    def _open(
        self, request: Request, scope: tuple[Any, ...], result_key: str, forward: Forward
    ) -> str | Answer:
        """Read the whole answer from moto once and keep it for paging: the cursor's id, or
        moto's answer when it is an error."""
        operation, payload = request.operation, request.payload or {}
        _, table, expression, segment = scope
        matcher: Filter | None = None
        if expression:
            matcher = _expression_filter(expression, table, forward)
        items_or_error = self._everything(request, table, result_key, forward)
        if not isinstance(items_or_error, list):
            return items_or_error
        items = items_or_error
        s = self.strictness
        if operation == "GetTables":
            database = payload.get("DatabaseName")
            items = [t for t in items if (database, t["Name"]) not in s.hidden_tables]
        first_loaded = None
        if matcher is not None:
            try:
                with self._lock:
                    indexes = list(self.indexes.get(table, ()))
                candidates = glue_indexes.indexed_candidates(
                    matcher, items, indexes, lambda i: self._sorted_index(table, i, matcher, items)
                )
                first_loaded = len(items if candidates is None else candidates)
                items = matcher.select(items if candidates is None else candidates)
            except StoredValueError as e:
                raise GlueError("InvalidStateException", str(e)) from e
        if segment is not None:
            items = self._segment_of(table, items, segment)
        empty_pages = bool(expression) and s.empty_filtered_pages
        cursor = _Cursor(scope, result_key, items, empty_pages, max(1, s.empty_page_every))
        cursor.first_loaded = first_loaded
        excluded = bool(payload.get("ExcludeColumnSchema"))
        cursor.no_columns = operation == "GetPartitions" and excluded
        cursor.starts[1] = (0, 0, False)
        with self._lock:
            digest = hashlib.sha256(repr(scope).encode()).hexdigest()[:12]
            self._opened[digest] += 1
            cursor_id = f"{digest}-{self._opened[digest]}"
            self._cursors[cursor_id] = cursor
            while len(self._cursors) > self.MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)
        return cursor_id

    def _everything(
        self, request: Request, table: Table | None, result_key: str, forward: Forward
    ) -> list[dict[str, Any]] | Answer:
        """Every item moto holds for the paged read (kept per table with cache_partitions), or
        moto's error."""
        operation, payload = request.operation, request.payload or {}
        cache = operation == "GetPartitions" and self.strictness.cache_partitions and table
        if cache:
            with self._lock:
                kept = self._tables.get(table)  # type: ignore[arg-type]
            if kept is not None:
                return kept
            direct = self.partition_source(table) if self.partition_source else None  # type: ignore[arg-type]
            if direct is not None:
                with self._lock:
                    self._tables[table] = direct  # type: ignore[index]
                return direct
        items = None
        if operation == "GetPartitions" and table is not None:
            items = _partitions_in_process(table, _region(request))
        if items is None:
            strip = (
                (*_PAGING_FIELDS, "Expression") if operation == "GetPartitions" else _PAGING_FIELDS
            )
            answer = forward(operation, _without(payload, strip))
            if answer[0] != 200:
                return answer
            items = json.loads(answer[2]).get(result_key) or []
        if cache:
            with self._lock:
                self._tables[table] = items  # type: ignore[index]
        return items

    def _segment_of(
        self, table: Table | None, items: list[dict[str, Any]], segment: tuple[int, int]
    ) -> list[dict[str, Any]]:
        """The items of one segment (kept per table and segment count with cache_partitions)."""
        number, total = segment
        key = (table, f"segments of {total}")
        with self._lock:
            kept = self._sorted.get(key)
        if kept is None:
            kept = [[] for _ in range(total)]
            for p in items:
                kept[_segment_number(p["Values"], total)].append(p)
            if self.strictness.cache_partitions and table is not None:
                with self._lock:
                    self._sorted[key] = kept
        return kept[number]

    def _sorted_index(
        self, table: Table | None, index: glue_indexes.Index, matcher: Filter, items: list[Any]
    ) -> glue_indexes.SortedIndex:
        """The index's entries, kept with the table's partitions when those are kept."""
        key = (table, index.name)
        with self._lock:
            kept = self._sorted.get(key)  # type: ignore[arg-type]
        if kept is None:
            kept = glue_indexes.SortedIndex.build(index, matcher.keys, items)
            if self.strictness.cache_partitions:
                with self._lock:
                    self._sorted[key] = kept  # type: ignore[index]
        return kept

    def _cursor_of(self, token: str, scope: tuple[Any, ...]) -> tuple[str, int]:
        try:
            cursor_id, page = base64.urlsafe_b64decode(token.encode()).decode().rsplit(":", 1)
            with self._lock:
                cursor = self._cursors[cursor_id]
            if cursor.scope != scope or int(page) not in cursor.starts:
                raise KeyError(token)
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            raise invalid("Invalid or expired continuation token (NextToken)") from e
        return cursor_id, int(page)

    def _serve(self, cursor_id: str, call: Call, size: int) -> Answer:
        """Page `call.page` of the cursor, with a NextToken unless it is the last."""
        page = call.page or 1
        with self._lock:
            cursor = self._cursors[cursor_id]
            served, full_pages, last_empty = cursor.starts[page]
            if cursor.empty_pages and full_pages % cursor.every == 0 and not last_empty:
                items, after = [], (served, full_pages, True)
            else:
                items = cursor.items[served : served + size]
                after = (served + len(items), full_pages + 1, False)
            more = after[0] < len(cursor.items) or after[2]
            if more:
                cursor.starts[page + 1] = after
            else:
                self._cursors.pop(cursor_id, None)
        call.empty_with_token = more and not items
        if call.operation == "GetPartitions":
            first = cursor.first_loaded if page == 1 else None
            call.loaded = len(items) if first is None else first
        if call.loaded and self.strictness.load_cost_us > 0:  # outside the lock: calls overlap
            time.sleep(call.loaded * self.strictness.load_cost_us / 1e6)
        if cursor.no_columns:  # Glue leaves the columns out (GetPartitions, ExcludeColumnSchema)
            items = [_without_columns(p) for p in items]
        answer: dict[str, Any] = {cursor.result_key: items}
        if more:
            answer["NextToken"] = _token(cursor_id, page + 1)
        return 200, dict(_JSON), json.dumps(answer).encode()


@contextmanager
def moto_behind_layer(strictness: Strictness | None = None) -> Iterator[StrictLayer]:
    """moto's ThreadedMotoServer on a free loopback port with a strict layer in front, both
    stopped on exit: give boto3 the layer's `endpoint`."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # it logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        with StrictLayer(f"http://{host}:{port}", strictness) as layer:
            yield layer
    finally:
        server.stop()


# --------------------------------------------------------------------------- helpers


def _partitions_in_process(table: Table, region: str | None) -> list[dict[str, Any]] | None:
    """A table's partitions straight from moto's backend when moto runs in this process (the
    test session and the benchmark start it so): read over HTTP, every filtered read would cost
    moto a serialization of the whole table, a cost real Glue does not charge the caller and
    that would swamp the benchmark's figures. None when moto is elsewhere or has no such table
    (the read then goes over HTTP, and moto answers)."""
    backends = glue_backends[DEFAULT_ACCOUNT_ID]
    if region is None or region not in backends:
        return None
    try:
        found = backends[region].get_table(*table)
    except Exception:  # no such database or table here: moto over HTTP will say so
        return None
    return [_answered(p.as_dict()) for p in list(found.partitions.values())]


def _answered(partition: dict[str, Any]) -> dict[str, Any]:
    """A partition as GetPartitions answers it: times as epoch seconds."""
    created = partition.get("CreationTime")
    if hasattr(created, "timestamp"):
        partition = {**partition, "CreationTime": created.timestamp()}
    return partition


def _region(request: Request) -> str | None:
    """The region a request was signed for (`Credential=KEY/DATE/REGION/SERVICE/…`)."""
    credential = request.headers.get("authorization", "").split("Credential=", 1)[-1]
    parts = credential.split("/")
    return parts[2] if len(parts) > 3 else None


def _token(cursor_id: str, page: int) -> str:
    return base64.urlsafe_b64encode(f"{cursor_id}:{page}".encode()).decode()


def _table_of(operation: str, payload: dict[str, Any]) -> Table | None:
    """The (database, table) a table operation is about; GetTable names it `Name`."""
    database = payload.get("DatabaseName")
    name = payload.get("Name") if operation == "GetTable" else payload.get("TableName")
    return (database, name) if database and name else None


def _without(payload: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in names}


def _value_lists(operation: str, payload: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """(where, values) for every partition value list in the request, `where` as Glue's
    validation messages name it."""
    list_name, paths = VALUE_PATHS[operation]
    items = (payload.get(list_name) or []) if list_name else [payload]
    for i, item in enumerate(items, 1):
        prefix = f"{list_name[0].lower()}{list_name[1:]}.{i}.member." if list_name else ""
        for path in paths:
            values: Any = item
            for step in path:
                values = values.get(step) if isinstance(values, dict) else None
            if values is not None:
                where = ".".join(f"{p[0].lower()}{p[1:]}" for p in path)
                yield f"{prefix}{where}", list(values)


def _partition_keys(table: Table | None, forward: Forward) -> list[Key] | None:
    """The table's partition keys, read from moto (None: no such table; moto will say so)."""
    if table is None:
        return None
    status, _, body = forward("GetTable", {"DatabaseName": table[0], "Name": table[1]})
    if status != 200:
        return None
    keys = json.loads(body)["Table"].get("PartitionKeys") or []
    return [Key(k["Name"], k.get("Type") or "string") for k in keys]


def _expression_filter(expression: str, table: Table | None, forward: Forward) -> Filter | None:
    """The expression bound to the table's keys (None: no such table, moto will say so)."""
    try:
        check_length(expression)  # refused before the table is even read
        keys = _partition_keys(table, forward)
        return None if keys is None else parse(expression, keys)
    except ExpressionError as e:
        raise invalid(str(e)) from e


def _segment(segment: dict[str, Any] | None) -> tuple[int, int] | None:
    """(SegmentNumber, TotalSegments): TotalSegments 1 to 10, SegmentNumber below it."""
    if segment is None:
        return None
    number, total = segment.get("SegmentNumber"), segment.get("TotalSegments")
    if not isinstance(total, int) or not 1 <= total <= MAX_SEGMENTS:
        raise invalid(f"TotalSegments must be between 1 and {MAX_SEGMENTS}")
    if not isinstance(number, int) or not 0 <= number < total:
        raise invalid("SegmentNumber must be between 0 and TotalSegments - 1")
    return number, total


def _without_columns(partition: dict[str, Any]) -> dict[str, Any]:
    sd = partition.get("StorageDescriptor")
    if not isinstance(sd, dict) or "Columns" not in sd:
        return partition
    return {**partition, "StorageDescriptor": {k: v for k, v in sd.items() if k != "Columns"}}


def _segment_number(values: list[str], total: int) -> int:
    """A partition's segment: a stable hash of its values."""
    digest = hashlib.md5("\x1f".join(values).encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % total


class _StrictHandler(BaseHandler):
    owner: StrictLayer

    def _handle(self) -> None:
        request = self._read_request()
        if request.service != "glue":
            if request.path.startswith(MOTO_RESET):
                self.owner.forget_reads()
            self._send(*self._upstream(request, request.body))
            return
        payload = request.payload or {}
        call = Call(request.operation, payload.get("DatabaseName"))
        call.table = payload.get("Name" if request.operation == "GetTable" else "TableName")
        if request.operation in BATCH_LIMITS:
            call.items = len(payload.get(BATCH_LIMITS[request.operation][0]) or ())
        with self.owner._lock:
            self.owner.records.append(call)

        def forward(operation: str, body: dict[str, Any] | None) -> Answer:
            data = request.body if body is None else json.dumps(body).encode()
            return self._upstream(request, data, None if body is None else operation)

        try:
            status, headers, body = self.owner.answer(request, call, forward)
        except GlueError as e:
            status, headers, body = _glue_error(e.code, e.message)
        call.status = status
        if status >= 400:
            call.error = _error_code(body)
        self._send(status, headers, body)


def _error_code(body: bytes) -> str | None:
    try:
        code = json.loads(body).get("__type")
    except (ValueError, AttributeError):
        return None
    return str(code).rsplit("#", 1)[-1] if code else None
