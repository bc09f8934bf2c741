"""Fan-out's work messages: their shape, telling them apart in an SQS batch, and sending them.

A work message is the body of an SQS message, a JSON object:

    {"work": "glue-catalog-partition-management/1", "run_id": "8d0f…", "databases": ["raw_sales"],
     "tables": ["orders"], "full_scan": false, "mode": "add", "dry_run": false, "force": false,
     "continuation_depth": 0, "definitions": {"orders": {…the table as GetTables returned it…}},
     "nested": ["s3://lake/orders/archive/"]}

It is the event a direct run takes (the same keys, checked by the same `parse_event`) for one
database, plus what the worker would otherwise read again: each table's definition as the scatter
read it (left out when the message would pass SQS's size limit; the worker then reads the
database), and the locations of the other tables that lie under these tables. The `work` key
tells it apart from S3 event messages, so one queue can carry both.

Sending follows SQS's `SendMessageBatch` rules (Amazon SQS API Reference): at most 10 entries
and 256 KiB (262,144 bytes) in all a call, and a call that answers 200 can still fail some
entries (`Failed`, with `SenderFault`). Entries failed on SQS's side are sent again with backoff;
a call that fails outright, after botocore's own retries, stops the sending, and every message
not sent comes back with the reason: none is lost without saying so.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules.AwsClientObj import backoff
from modules.AwsErrors import describe
from modules.Settings import EVENT_KEYS, Options, Settings, parse_event

MARKER = "glue-catalog-partition-management/1"
MAX_BYTES = 262_144  # a message, and a whole SendMessageBatch call, on queues of any age
MAX_ENTRIES = 10  # messages a SendMessageBatch call takes
_WORK_KEYS = frozenset({"work", "definitions", "nested"})
_SEND_THREADS = 8


@dataclass(frozen=True)
class WorkMessage:
    """One database's tables to sync, with the run's options."""

    database: str
    tables: list[str]
    options: Options  # run_id set
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> table
    nested: list[str] = field(default_factory=list)
    message_id: str | None = None  # the SQS message it came in

    def body(self) -> str:
        """The message body; without the definitions when they would not fit in a message."""
        document: dict[str, Any] = {
            "work": MARKER,
            "run_id": self.options.run_id,
            "databases": [self.database],
            "tables": self.tables,
            "full_scan": self.options.full_scan,
            "mode": self.options.mode,
            "dry_run": self.options.dry_run,
            "force": self.options.force,
            "continuation_depth": self.options.continuation_depth,
            **({"resume": dict(self.options.resume)} if self.options.resume else {}),
            "definitions": self.definitions,
            "nested": self.nested,
        }
        text = json.dumps(document, default=str)  # GetTables' times become ISO strings
        if len(text.encode()) > MAX_BYTES:
            text = json.dumps({**document, "definitions": {}})
        return text

    def rest(self, tables: list[str], cut: dict[str, str] | None = None) -> WorkMessage:
        """A message for some of these tables, one continuation deeper; `cut` (table -> where
        it resumes) for the tables the deadline stopped half-way, which go on from there."""
        depth = self.options.continuation_depth + 1
        resume = tuple(sorted((f"{self.database}.{t}", loc) for t, loc in (cut or {}).items()))
        return replace(
            self,
            tables=tables,
            definitions={t: d for t, d in self.definitions.items() if t in tables},
            options=replace(self.options, continuation_depth=depth, resume=resume),
            message_id=None,
        )


def read(body: str, message_id: str, settings: Settings) -> WorkMessage:
    """A work message from its body; ValueError names what is wrong with it."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON ({exc.msg})") from None
    if not isinstance(document, dict) or document.get("work") != MARKER:
        seen = document.get("work") if isinstance(document, dict) else document
        raise ValueError(f"'work' is {seen!r}, not {MARKER!r}")
    unknown = sorted(set(document) - EVENT_KEYS - _WORK_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) in a work message: {', '.join(unknown)}")
    event = {k: v for k, v in document.items() if k in EVENT_KEYS}
    databases, tables, options = parse_event(event, settings)
    if len(databases) != 1 or not tables:
        raise ValueError("a work message names one database and its 'tables'")
    if options.fan_out or not options.run_id:
        raise ValueError("a work message carries a 'run_id' and does not fan out again")
    definitions = document.get("definitions", {})
    if not isinstance(definitions, dict) or any(
        not isinstance(d, dict) or d.get("Name") != name or name not in tables
        for name, d in definitions.items()
    ):
        raise ValueError("'definitions' must map each of its 'tables' to its Glue table")
    nested = document.get("nested", [])
    if not isinstance(nested, list) or not all(isinstance(n, str) for n in nested):
        raise ValueError("'nested' must be a list of table locations")
    return WorkMessage(databases[0], tables, options, definitions, nested, message_id)


def split_batch(event: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """An SQS batch's work records, and the event of its other records (None when there are
    none); any other event comes back whole. A record is work when its body is a JSON object
    with a `work` key, so a malformed work message is reported as such, not as an S3 event."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not all(_sqs(r) for r in records):
        return [], event
    work = [r for r in records if _is_work(r.get("body"))]
    if not work:
        return [], event
    taken = {id(r) for r in work}
    rest = [r for r in records if id(r) not in taken]
    return work, ({**event, "Records": rest} if rest else None)


def _sqs(record: Any) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:sqs"


def _is_work(body: Any) -> bool:
    if not isinstance(body, str) or '"work"' not in body:
        return False
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return False
    return isinstance(document, dict) and "work" in document


# --------------------------------------------------------------------------- sending


def batches(bodies: list[str]) -> list[list[int]]:
    """Indexes of the bodies, in order, cut into calls of at most MAX_ENTRIES and MAX_BYTES."""
    calls: list[list[int]] = []
    size = 0
    for i, body in enumerate(bodies):
        length = len(body.encode())
        if not calls or len(calls[-1]) == MAX_ENTRIES or size + length > MAX_BYTES:
            calls.append([])
            size = 0
        calls[-1].append(i)
        size += length
    return calls


@dataclass
class _Sending:
    """One scatter's (or requeue's) sending: its settings, and the first call that failed."""

    sqs: Any
    queue_url: str
    max_attempts: int
    base_delay: float
    sleep: Callable[[float], None] = time.sleep
    halted: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(sqs: Any, queue_url: str, bodies: list[str], settings: Settings) -> dict[int, str]:
    """Send every body to the queue, calls running concurrently; return the bodies not sent
    (their index in `bodies`) with the reason."""
    sending = _Sending(sqs, queue_url, settings.max_attempts, settings.retry_base_delay)
    not_sent: dict[int, str] = {}
    with ThreadPoolExecutor(_SEND_THREADS, "sqs-send") as pool:
        for failed in pool.map(lambda call: _send_call(sending, bodies, call), batches(bodies)):
            not_sent.update(failed)
    return not_sent


def _send_call(sending: _Sending, bodies: list[str], indexes: list[int]) -> dict[int, str]:
    """One batch: resend the entries SQS failed on its side, until the attempts are spent."""
    pending = {str(i): bodies[i] for i in indexes}
    failed: dict[int, str] = {}  # for good: the sender's fault, or the call failed
    last: dict[str, str] = {}  # why each entry still pending failed the last time
    for attempt in range(sending.max_attempts):
        if sending.halted:
            reason = f"not sent: an earlier SendMessageBatch failed ({sending.halted})"
            return {**failed, **{int(i): reason for i in pending}}
        if attempt:
            sending.sleep(backoff(attempt, sending.base_delay))
        entries = [{"Id": i, "MessageBody": b} for i, b in pending.items()]
        try:
            answer = sending.sqs.send_message_batch(QueueUrl=sending.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:  # botocore retried throttling and 5xx
            with sending.lock:
                sending.halted = sending.halted or describe(exc)
            reason = f"SendMessageBatch failed: {describe(exc)}"
            return {**failed, **{int(i): reason for i in pending}}
        retry: dict[str, str] = {}
        for entry in answer.get("Failed", ()):
            reason = f"{entry.get('Code', 'Error')}: {entry.get('Message', '')}".rstrip(": ")
            if entry.get("SenderFault"):
                failed[int(entry["Id"])] = reason
            else:
                retry[entry["Id"]], last[entry["Id"]] = pending[entry["Id"]], reason
        pending = retry
        if not pending:
            return failed
    gave_up = f"(gave up after {sending.max_attempts} attempts)"
    return {**failed, **{int(i): f"{last[i]} {gave_up}" for i in pending}}
