"""Lambda entry point: register the partitions that landed in S3 for the RAW databases' tables.

The handler validates the event, schedules one job per table on a bounded thread pool while
the Lambda has time left, and shapes the summary. The work itself is in modules/.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

from modules import EventSync, S3Events
from modules import GlueAPISetup as glue_api
from modules.AwsClientObj import get_clients
from modules.Continuation import hand_on, rotated
from modules.Metrics import publish
from modules.PartitionSync import Workers, sync_table
from modules.ProcessLogger import get_logger
from modules.Settings import EVENT_KEYS, MODES, Options, Settings, parse_event
from modules.TableReport import TOTALS, TableResult

# The event's contract: its keys and its parser are part of this entry point's interface.
__all__ = ["EVENT_KEYS", "lambda_handler", "main", "parse_event"]


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Sync the partitions of every table of the named RAW databases; return a summary.

    S3 events (SQS batches, SNS-wrapped or direct notifications, EventBridge) go to event mode.
    """
    settings = Settings.from_env()
    if S3Events.is_s3_event(event):
        return _event_mode(event, settings)
    databases, only_tables, options = parse_event(event, settings)
    logger = get_logger()
    clients = _clients(settings)
    now = datetime.now(UTC).replace(tzinfo=None)
    jobs, results, all_locations = _tables_to_sync(clients.glue, databases, only_tables)
    jobs = rotated(jobs, now)  # a run that is cut must not leave the same tables every time
    remaining: list[tuple[str, str]] = []
    with (
        ThreadPoolExecutor(settings.glue_write_concurrency, "glue-write") as write_pool,
        ThreadPoolExecutor(settings.s3_concurrency, "s3-check") as s3_pool,
        ThreadPoolExecutor(settings.table_concurrency, "table") as table_pool,
    ):
        writer = glue_api.GlueWriter.for_settings(clients.glue, write_pool, settings)
        work = Workers(clients, writer, s3_pool, settings)
        running: set[Future[TableResult]] = set()
        for i, (database, table) in enumerate(jobs):
            while len(running) >= settings.table_concurrency:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                results += [f.result() for f in done]
            if _out_of_time(context, settings):
                remaining = [(d, t["Name"]) for d, t in jobs[i:]]
                logger.warning("time is running out", extra={"not_started": len(remaining)})
                break
            running.add(
                table_pool.submit(sync_table, work, database, table, options, all_locations, now)
            )
        results += [f.result() for f in running]

    summary = _summary(results, remaining, options, settings, databases)
    if settings.continue_async and summary["continuation"]:
        _continue(summary, clients, context, options, settings)
    if not options.dry_run:  # a dry run's counts are not what happened
        publish(results, settings.metrics_namespace)
    logger.info("run finished", extra={"status": summary["status"], "totals": summary["totals"]})
    return summary


def _tables_to_sync(
    glue: Any, databases: list[str], only_tables: list[str] | None
) -> tuple[list[tuple[str, dict[str, Any]]], list[TableResult], list[str]]:
    """The (database, table) jobs of the event, entries for what could not be found, and every
    table location of the databases (to pass over nested tables)."""
    jobs: list[tuple[str, dict[str, Any]]] = []
    results: list[TableResult] = []
    locations: list[str] = []
    for database in databases:
        tables, error = glue_api.read_database(glue, database)
        if error:
            results.append(TableResult.failure(database, None, error))
            continue
        locations += [loc for t in tables if (loc := _location(t))]
        by_name = {t["Name"]: t for t in tables}
        for name in only_tables or sorted(by_name):
            if name in by_name:
                jobs.append((database, by_name[name]))
            else:  # Lake Formation leaves out of GetTables the tables a role may not see
                message = (
                    f"table {database}.{name} not found, or not visible to this role "
                    "(Lake Formation grants?)"
                )
                results.append(TableResult.failure(database, name, message))
    return jobs, results, locations


def _clients(settings: Settings) -> Any:
    return get_clients(
        settings.max_attempts,
        settings.retry_mode,
        settings.table_concurrency + settings.glue_write_concurrency + settings.s3_concurrency,
        settings.retry_base_delay,
    )


def _event_mode(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """SQS: the messages to redeliver (`batchItemFailures`); direct: the usual summary."""
    delivery = S3Events.decode(event)
    now = datetime.now(UTC).replace(tzinfo=None)
    run = EventSync.process(delivery, _clients(settings), settings, now)
    publish(run.results, settings.metrics_namespace, run.counts)
    if delivery.sqs:
        return {"batchItemFailures": [{"itemIdentifier": m} for m in run.failed_messages]}
    return {**_summary(run.results, [], Options(), settings, []), "events": run.counts}


def _location(table: dict[str, Any]) -> str:
    location = glue_api.location_of(table)
    return location if not location or location.endswith("/") else location + "/"


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
    summary["errors"] += handoff.errors
    if handoff.errors and summary["status"] == "succeeded":
        summary["status"] = "partial"


def _out_of_time(context: Any, settings: Settings) -> bool:
    """True when less than the safety margin remains (never without a Lambda context)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return remaining_ms is not None and remaining_ms() < settings.time_margin_seconds * 1000


def _summary(
    results: list[TableResult],
    remaining: list[tuple[str, str]],
    options: Options,
    settings: Settings,
    databases: list[str],
) -> dict[str, Any]:
    results.sort(key=lambda r: (r.database, r.table or ""))
    worked = [r for r in results if r.status != "skipped"]
    failed = [r for r in worked if r.status == "failed"]
    if worked and len(failed) == len(worked):
        status = "failed"
    elif failed or any(r.status == "partial" for r in worked):
        status = "partial"
    else:
        status = "succeeded"
    totals = {"tables": len(results), **{c: sum(getattr(r, c) for r in results) for c in TOTALS}}
    continuation = []
    for database in databases:
        names = sorted(t for d, t in remaining if d == database)
        if names:
            event: dict[str, Any] = {"databases": [database], "tables": names}
            event.update({k: v for k, v in vars(options).items() if v != getattr(Options, k)})
            continuation.append(event)
    return {
        "status": status,
        "mode": options.mode,
        "full_scan": options.full_scan,
        "dry_run": options.dry_run,
        "totals": totals,
        "tables": [r.to_dict(settings.max_reported_errors) for r in results],
        "remaining": [{"database": d, "table": t} for d, t in remaining],
        "continuation": continuation,
        "handed_on": [],
        "errors": [],
    }


def main(argv: list[str] | None = None) -> int:
    """Command line for local runs: same code, whatever credentials and endpoint are set."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", action="append", required=True, help="repeatable")
    parser.add_argument("--table", action="append", help="repeatable; default: every table")
    parser.add_argument("--full-scan", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--mode", choices=MODES, default="add")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    event: dict[str, Any] = {"databases": args.database, "full_scan": args.full_scan}
    event.update(dry_run=args.dry_run, mode=args.mode)
    if args.table:
        event["tables"] = args.table
    if args.force:
        event["force"] = True
    try:
        with redirect_stdout(
            sys.stderr
        ):  # powertools prints the metrics: keep stdout for the summary
            summary = lambda_handler(event, None)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0 if summary["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
