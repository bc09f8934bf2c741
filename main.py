"""Lambda entry point: register the partitions that landed in S3 for the RAW databases' tables.

The handler recognises the event (a run, a fan-out, or an SQS batch of S3 events and work
messages), hands it to its mode and shapes the summary. The work itself is in modules/.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from modules import EventSync, FanOut, S3Events, WorkQueue
from modules.AwsClientObj import get_clients
from modules.Continuation import hand_on, remember, resume_order
from modules.Metrics import publish
from modules.PartitionSync import Deadline, TableJob, TableList, read_tables, sync_tables
from modules.ProcessLogger import get_logger
from modules.Settings import EVENT_KEYS, Options, Settings, parse_event
from modules.TableReport import TableResult, run_status, totals

# The event's contract: its keys and its parser are part of this entry point's interface.
__all__ = ["EVENT_KEYS", "lambda_handler", "main", "parse_event"]
# The command line's progress display sets this to see each table's job start, one of how many;
# in Lambda it stays None and costs one comparison a table.
watch_table: Callable[[Future[TableResult], int], None] | None = None


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Sync the partitions of every table of the named RAW databases; return a summary.

    S3 events (SQS batches, SNS-wrapped or direct notifications, EventBridge) go to event mode.
    """
    settings = Settings.from_env()
    if S3Events.is_s3_event(event):
        return _event_mode(event, settings, context)
    databases, only_tables, options = parse_event(event, settings)
    logger = get_logger()
    clients = _clients(settings)
    now = datetime.now(UTC).replace(tzinfo=None)
    listed = read_tables(clients.glue, databases, only_tables)
    if options.fan_out:
        return _fan_out(listed, clients, options, settings, databases)
    # a run that is cut must not leave the same tables every time: start where the last stopped
    jobs = resume_order(
        [TableJob(d, t, options, listed.locations) for d, t in listed.jobs],
        listed.cursor,
        lambda job: (job.database, job.name),
    )
    ran = sync_tables(clients, settings, jobs, now, _deadline(context, settings), watch_table)
    results = listed.failures + [result for _, result in ran.done]
    remaining = [(job.database, job.name) for job in ran.left]
    summary = _summary(results, remaining, options, settings, databases)
    if remaining and not options.dry_run:
        _add_errors(summary, [remember(clients.glue, listed.cursor, remaining[0])])
    if settings.continue_async and summary["continuation"]:
        _continue(summary, clients, context, options, settings)
    if not options.dry_run:  # a dry run's counts are not what happened
        publish(results, settings.metrics_namespace)
    run = {"run_id": options.run_id} if options.run_id else {}
    logger.info(
        "run finished", extra={"status": summary["status"], "totals": summary["totals"], **run}
    )
    return summary


def _clients(settings: Settings) -> Any:
    return get_clients(
        settings.max_attempts,
        settings.retry_mode,
        settings.table_concurrency + settings.glue_write_concurrency + settings.s3_concurrency,
        settings.retry_base_delay,
    )


def _event_mode(event: dict[str, Any], settings: Settings, context: Any) -> dict[str, Any]:
    """SQS: the messages to redeliver (`batchItemFailures`); direct: the usual summary. An SQS
    batch may mix S3 event messages and fan-out's work messages (one queue or two); the S3
    events go first, as they are quick, and the work takes the time that is left."""
    work, rest = WorkQueue.split_batch(event)
    clients = _clients(settings)
    now = datetime.now(UTC).replace(tzinfo=None)
    failed: list[str] = []
    if rest is not None:
        delivery = S3Events.decode(rest)
        run = EventSync.process(delivery, clients, settings, now)
        publish(run.results, settings.metrics_namespace, run.counts)
        if not delivery.sqs:
            return {**_summary(run.results, [], Options(), settings, []), "events": run.counts}
        failed += run.failed_messages
    if work:
        done = FanOut.work(work, clients, settings, now, _deadline(context, settings))
        publish(done.metered, settings.metrics_namespace)
        failed += done.failed_messages
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


def _fan_out(
    listed: TableList,
    clients: Any,
    options: Options,
    settings: Settings,
    databases: list[str],
) -> dict[str, Any]:
    """The scatter's summary: what was queued under which run_id, and exactly which tables were
    not (in `remaining`, with `continuation` events that queue them again)."""
    scattered = FanOut.scatter(clients, settings, listed, options)
    options = replace(options, run_id=scattered.run_id)
    summary = _summary(listed.failures, scattered.not_queued, options, settings, databases)
    summary["queued"] = {"tables": scattered.tables, "messages": scattered.messages}
    _add_errors(summary, scattered.errors)
    if scattered.not_queued and not scattered.tables:  # nothing at all reached the queue
        summary["status"] = "failed"
    if not options.dry_run:
        publish(listed.failures, settings.metrics_namespace)
    get_logger().info(
        "run scattered",
        extra={"run_id": scattered.run_id, "status": summary["status"], **summary["queued"]},
    )
    return summary


def _continue(
    summary: dict[str, Any], clients: Any, context: Any, options: Options, settings: Settings
) -> None:
    """CONTINUE_ASYNC: hand the continuation events on to the function itself."""
    handoff = hand_on(
        clients.lambda_,
        context,
        summary["continuation"],
        options.continuation_depth,
        settings.max_continuations,
    )
    summary.update(continuation=handoff.left, handed_on=handoff.handed)
    _add_errors(summary, handoff.errors)


def _add_errors(summary: dict[str, Any], errors: list[str | None]) -> None:
    """Run-level problems: listed in `errors`, and a succeeded run becomes partial."""
    found = [e for e in errors if e]
    summary["errors"] += found
    if found and summary["status"] == "succeeded":
        summary["status"] = "partial"


def _deadline(context: Any, settings: Settings) -> Deadline:
    """Stop starting tables with less than TIME_MARGIN_SECONDS left, cut started ones with less
    than half of it (never without a Lambda context)."""
    margin_ms = settings.time_margin_seconds * 1000
    return Deadline(
        lambda: _remaining_ms(context) < margin_ms, lambda: _remaining_ms(context) < margin_ms / 2
    )


def _remaining_ms(context: Any) -> float:
    """What is left of the invocation (infinite without a Lambda context)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return float("inf") if remaining_ms is None else remaining_ms()


def _summary(
    results: list[TableResult],
    remaining: list[tuple[str, str]],
    options: Options,
    settings: Settings,
    databases: list[str],
) -> dict[str, Any]:
    results.sort(key=lambda r: (r.database, r.table or ""))
    return {
        "status": run_status(results),
        **({"run_id": options.run_id} if options.run_id else {}),
        "mode": options.mode,
        "full_scan": options.full_scan,
        "dry_run": options.dry_run,
        "totals": totals(results),
        "tables": [r.to_dict(settings.max_reported_errors) for r in results],
        "remaining": [{"database": d, "table": t} for d, t in remaining],
        "continuation": _continuation(results, remaining, options, databases),
        "handed_on": [],
        "errors": [],
    }


def _continuation(
    results: list[TableResult],
    remaining: list[tuple[str, str]],
    options: Options,
    databases: list[str],
) -> list[dict[str, Any]]:
    """One event per database with the tables not started and the tables cut at the deadline
    (with where each resumes), and this run's options."""
    continuation = []
    for database in databases:
        cut = {r.table: r.resume for r in results if r.database == database and r.resume}
        names = sorted({t for d, t in remaining if d == database} | set(cut))
        if not names:
            continue
        event: dict[str, Any] = {"databases": [database], "tables": names}
        event.update(
            {k: v for k, v in vars(options).items() if k != "resume" and v != getattr(Options, k)}
        )
        if cut:
            event["resume"] = {f"{database}.{t}": cut[t] for t in sorted(cut)}
        continuation.append(event)
    return continuation


def main(argv: list[str] | None = None) -> int:
    """The command line (`python main.py --help`): the handler on an event built from the options
    or read from a file, its answer as a table or as JSON, progress on a terminal's stderr."""
    from modules import CommandLine as cli  # the command line's own: Lambda never imports it
    from modules.Render import render

    global watch_table
    args = cli.parser().parse_args(argv)
    try:
        event = cli.event(args)
        with cli.terminal(args, event) as progress:
            watch_table = progress.watch if progress else None
            answer = lambda_handler(event, None)
    except (cli.UsageError, ValueError) as exc:  # ValueError: a refused event or setting
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_USAGE
    finally:
        watch_table = None
    print(render(answer) if cli.output(args) == "table" else json.dumps(answer, indent=2))
    return cli.exit_code(answer)


if __name__ == "__main__":
    sys.exit(main())
