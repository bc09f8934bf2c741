"""Fan-out: a lake's tables spread over an SQS queue and Lambda's own concurrency.

The scatter (`{"databases": […], "fan_out": true}`) reads the tables (`GetTables` only) and
queues one work message per table (modules/WorkQueue.py) to `WORK_QUEUE_URL`. The event source
mapping on that queue hands the messages back to the same function, as many invocations at once
as its `MaximumConcurrency` allows; each worker runs its messages' tables through
`PartitionSync.sync_tables`, the scheduled run's own loop and per-table steps, so the entries,
logs, metrics, table properties and sync guard are the scheduled run's. Only the scheduling is
spread: retries are the mapping's (batch item failures, then the dead-letter queue) and there is
no scheduler of its own.

A message comes back to SQS (a batch item failure) when it cannot be read, or when one of its
tables did not succeed (`failed`, or `partial`: partitions not written, a listing or removal that
did not complete, a removal the guard refused); after the queue's maxReceiveCount deliveries it
rests in the dead-letter queue. Tables a worker had no time to start, and tables the deadline
stopped half-way (with where each resumes), are queued again as a new message, one continuation
deeper, rather than started over; at `MAX_CONTINUATIONS` the message
comes back instead, so a function whose timeout is too short ends in the dead-letter queue.
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from modules import GlueAPISetup as glue_api
from modules import S3PrefixGeneration as s3p
from modules import WorkQueue
from modules.AwsClientObj import AwsClients
from modules.PartitionSync import Deadline, TableJob, TableList, location_dir, sync_tables
from modules.ProcessLogger import get_logger
from modules.Settings import Options, Settings
from modules.TableReport import TableResult, run_status, totals
from modules.WorkQueue import WorkMessage

# --------------------------------------------------------------------------- the scatter


@dataclass
class Scatter:
    """What a scatter queued, and what it could not, with why."""

    run_id: str
    tables: int = 0  # queued
    messages: int = 0  # sent
    not_queued: list[tuple[str, str]] = field(default_factory=list)  # (database, table)
    errors: list[str] = field(default_factory=list)


def scatter(
    clients: AwsClients, settings: Settings, listed: TableList, options: Options
) -> Scatter:
    """Queue one work message per table of `listed`, carrying the run's options and id."""
    run_id = options.run_id or str(uuid.uuid4())
    run = replace(options, fan_out=False, run_id=run_id, continuation_depth=0)
    locations = _Locations(listed.locations)
    messages = [
        WorkMessage(d, [t["Name"]], run, {t["Name"]: t}, _nested_under(t, locations))
        for d, t in listed.jobs
    ]
    if not settings.work_queue_url:
        reasons = dict.fromkeys(range(len(messages)), "WORK_QUEUE_URL is not set")
    else:
        bodies = [m.body() for m in messages]
        reasons = WorkQueue.send(clients.sqs, settings.work_queue_url, bodies, settings)
    outcome = Scatter(run_id, len(messages) - len(reasons), len(messages) - len(reasons))
    outcome.not_queued = [(messages[i].database, messages[i].tables[0]) for i in sorted(reasons)]
    for reason in dict.fromkeys(reasons.values()):
        count = sum(1 for r in reasons.values() if r == reason)
        outcome.errors.append(f"{count} table(s) not queued (see 'remaining'): {reason}")
    return outcome


class _Locations:
    """Every table location in its `s3://` form, sorted, so that the ones under a prefix are
    found by bisection: a lake of thousands of tables must not cost a test per pair."""

    def __init__(self, locations: list[str]) -> None:
        pairs = sorted((s3p.canonical_url(loc), loc) for loc in locations)
        self.keys = [key for key, _ in pairs]
        self.raw = [loc for _, loc in pairs]

    def under(self, root: str) -> list[str]:
        found = []
        for i in range(bisect.bisect_left(self.keys, root), len(self.keys)):
            if not self.keys[i].startswith(root):
                break
            if self.keys[i] != root:
                found.append(self.raw[i])
        return found


def _nested_under(table: dict[str, Any], locations: _Locations) -> list[str]:
    """The other tables' locations under this table's data (its location, or its template's
    fixed part): all that its steps need to know of the rest of the lake."""
    template = (table.get("Parameters") or {}).get(s3p.TEMPLATE_PARAMETER, "")
    roots = {s3p.canonical_url(r) for r in (location_dir(table), template.split("${")[0]) if r}
    return list(dict.fromkeys(loc for root in sorted(roots) for loc in locations.under(root)))


# --------------------------------------------------------------------------- the workers


@dataclass
class WorkRun:
    """What one invocation did with its work messages."""

    results: list[TableResult] = field(default_factory=list)
    metered: list[TableResult] = field(default_factory=list)  # not dry runs: what metrics count
    failed_messages: list[str] = field(default_factory=list)  # to hand back, in delivery order


@dataclass
class _Batch:
    """The work messages of one invocation and what became of each (by SQS message id)."""

    messages: list[WorkMessage] = field(default_factory=list)
    owner: dict[TableJob, str] = field(default_factory=dict)  # job -> its message's id
    results: dict[str, list[TableResult]] = field(default_factory=dict)
    left: dict[str, list[str]] = field(default_factory=dict)  # tables not started
    failed: dict[str, str] = field(default_factory=dict)  # why a message comes back
    requeued: dict[str, WorkMessage] = field(default_factory=dict)  # what each handed on


def work(
    records: list[dict[str, Any]],
    clients: AwsClients,
    settings: Settings,
    now: datetime,
    deadline: Deadline,
) -> WorkRun:
    """Run the tables of the work messages of an SQS batch; never raises for a table's or a
    message's trouble."""
    batch = _Batch()
    for i, record in enumerate(records):
        message_id = record.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise ValueError(f"SQS batch: work record {i} has no messageId")
        try:
            batch.messages.append(WorkQueue.read(record["body"], message_id, settings))
        except ValueError as exc:
            batch.failed[message_id] = f"not a valid work message: {exc}"
    _plan(batch, clients.glue)
    ran = sync_tables(clients, settings, list(batch.owner), now, deadline)
    for job, result in ran.done:
        batch.results[batch.owner[job]].append(result)
    for job in ran.left:
        batch.left.setdefault(batch.owner[job], []).append(job.name)
    _settle(batch, settings)
    _requeue(batch, clients, settings)
    _log(batch, settings)
    run = WorkRun()
    run.failed_messages = [r["messageId"] for r in records if r["messageId"] in batch.failed]
    for message in batch.messages:
        run.results += batch.results[str(message.message_id)]
        if not message.options.dry_run:
            run.metered += batch.results[str(message.message_id)]
    return run


def _plan(batch: _Batch, glue: Any) -> None:
    """Each message's tables as jobs. A table whose definition did not fit in its message is
    read with its database (once per database); a message whose table cannot be had comes back."""
    read: dict[str, tuple[dict[str, dict[str, Any]], str | None]] = {}
    for message in batch.messages:
        message_id = str(message.message_id)
        results = batch.results.setdefault(message_id, [])
        definitions = dict(message.definitions)
        error = None
        if any(t not in definitions for t in message.tables):
            if message.database not in read:
                tables, why = glue_api.read_database(glue, message.database)
                read[message.database] = ({t["Name"]: t for t in tables}, why)
            found, error = read[message.database]
            definitions = {**found, **definitions}
        absent = [t for t in message.tables if t not in definitions]
        for name in absent:
            reason = error or f"table {message.database}.{name} not found, or not visible"
            results.append(TableResult.failure(message.database, name, reason))
        if absent:
            batch.failed[message_id] = results[-1].errors[0]
            continue
        for name in message.tables:
            job = TableJob(message.database, definitions[name], message.options, message.nested)
            batch.owner[job] = message_id


def _settle(batch: _Batch, settings: Settings) -> None:
    """Which messages come back (a table did not succeed), and which hand on the tables they
    had no time to start."""
    for message in batch.messages:
        message_id, depth = str(message.message_id), message.options.continuation_depth
        if message_id in batch.failed:
            continue
        results = batch.results[message_id]
        cut = {str(r.table): r.resume for r in results if r.resume}  # the deadline stopped them
        unsettled = [r for r in results if r.status in ("failed", "partial") and not r.resume]
        left = [*batch.left.get(message_id, []), *cut]
        if unsettled:
            batch.failed[message_id] = "; ".join(
                f"{r.database}.{r.table} {r.status}: {(r.errors or ['?'])[0]}" for r in unsettled
            )
        elif left and depth >= settings.max_continuations:
            batch.failed[message_id] = (
                f"continuation_depth {depth} reached MAX_CONTINUATIONS "
                f"{settings.max_continuations}: {len(left)} table(s) not started"
            )
        elif left:
            batch.requeued[message_id] = message.rest(left, cut)


def _requeue(batch: _Batch, clients: AwsClients, settings: Settings) -> None:
    """Queue the tables not started as new messages; a message whose rest could not be queued
    comes back whole instead, so that nothing is lost."""
    if not batch.requeued:
        return
    ids = list(batch.requeued)
    if not settings.work_queue_url:
        reasons = dict.fromkeys(range(len(ids)), "WORK_QUEUE_URL is not set")
    else:
        bodies = [batch.requeued[m].body() for m in ids]
        reasons = WorkQueue.send(clients.sqs, settings.work_queue_url, bodies, settings)
    for i, reason in reasons.items():
        batch.failed[ids[i]] = f"tables not started could not be queued again: {reason}"
        del batch.requeued[ids[i]]


def _log(batch: _Batch, settings: Settings) -> None:
    """One `work finished` line per run the batch held (a batch may mix runs), with its id, so
    that Logs Insights adds a run up across workers; unreadable messages are under no run."""
    limit = settings.max_reported_errors
    runs: dict[str | None, list[str]] = {}
    for message in batch.messages:
        runs.setdefault(message.options.run_id, []).append(str(message.message_id))
    read = {str(m.message_id) for m in batch.messages}
    unread = [m for m in batch.failed if m not in read]
    if unread:
        runs.setdefault(None, []).extend(unread)
    for run_id, ids in runs.items():
        results = [r for m in ids for r in batch.results.get(m, [])]
        failed = {m: batch.failed[m] for m in ids if m in batch.failed}
        requeued = [
            f"{batch.requeued[m].database}.{t}"
            for m in ids
            if m in batch.requeued
            for t in batch.requeued[m].tables
        ]
        status = run_status(results) if results else "failed" if failed else "succeeded"
        get_logger().info(
            "work finished",
            extra={
                "run_id": run_id,
                "status": "partial" if failed and status == "succeeded" else status,
                "messages": len(ids),
                "totals": totals(results),
                "requeued": requeued[:limit],
                "failed_messages": dict(list(failed.items())[:limit]),
            },
        )
