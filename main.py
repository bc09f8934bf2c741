"""Lambda entry point: register the partitions that landed in S3 for the RAW databases' tables.

The handler validates the event, schedules one job per table on a bounded thread pool while
the Lambda has time left, and shapes the summary. The work itself is in modules/.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from modules import EventSync, S3Events
from modules import GlueAPISetup as glue_api
from modules.AwsClientObj import get_clients
from modules.Continuation import hand_on, rotated
from modules.Metrics import publish
from modules.PartitionSync import Workers, sync_table
from modules.ProcessLogger import get_logger
from modules.Settings import MODES, Options, Settings
from modules.TableReport import TOTALS, TableResult

EVENT_KEYS = {
    "databases",
    "tables",
    "full_scan",
    "dry_run",
    "mode",
    "force",
    "continuation_depth",
    "resume",
}
# The command line's progress display sets this to see each table's job start, one of how many;
# in Lambda it stays None and costs one comparison a table.
watch_table: Callable[[Future[TableResult], int], None] | None = None


def parse_event(event: Any, settings: Settings) -> tuple[list[str], list[str] | None, Options]:
    """Validate the event; anything malformed raises ValueError before any AWS call."""
    if not isinstance(event, dict):
        raise ValueError(f"the event must be an object, not {type(event).__name__}")
    unknown = sorted(str(k) for k in set(event) - EVENT_KEYS)
    if unknown:
        raise ValueError(f"unknown event key(s): {', '.join(unknown)}")
    databases = _names(event, "databases", required=True)
    tables = _names(event, "tables", required=False)
    try:
        pattern = re.compile(settings.database_pattern)
    except re.error as exc:
        raise ValueError(f"RAW_DATABASE_PATTERN is not a valid regex: {exc}") from None
    refused = [d for d in databases if not pattern.search(d)]
    if refused:
        raise ValueError(
            f"database(s) {', '.join(refused)} do not match RAW_DATABASE_PATTERN "
            f"{settings.database_pattern!r}"
        )
    flags = {}
    for flag in ("full_scan", "dry_run", "force"):
        value = event.get(flag, False)
        if not isinstance(value, bool):
            raise ValueError(f"'{flag}' must be true or false, not {value!r}")
        flags[flag] = value
    mode = event.get("mode", "add")
    if mode not in MODES:
        raise ValueError(f"'mode' must be one of {', '.join(MODES)}, not {mode!r}")
    if flags["force"] and mode != "sync":
        raise ValueError("'force' only applies to mode 'sync'")
    depth = event.get("continuation_depth", 0)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"'continuation_depth' must be a whole number from 0, not {depth!r}")
    resume = _resume(event.get("resume", {}), databases, tables)
    return databases, tables, Options(mode=mode, continuation_depth=depth, resume=resume, **flags)


def _resume(
    value: Any, databases: list[str], tables: list[str] | None
) -> tuple[tuple[str, str], ...]:
    """`resume`: {"database.table": location} for tables an earlier invocation cut, each a table
    this event names."""
    if not isinstance(value, dict):
        raise ValueError("'resume' must be an object of \"database.table\": location")
    points = []
    for name, location in value.items():
        database, _, table = str(name).partition(".")
        if database not in databases or not table or (tables and table not in tables):
            raise ValueError(f"'resume' names {name!r}, which is not a table of this event")
        if not isinstance(location, str) or not location.startswith("s3"):
            raise ValueError(f"'resume' of {name!r} must be an S3 location, not {location!r}")
        points.append((f"{database}.{table}", location))
    return tuple(sorted(points))


def _names(event: dict[str, Any], key: str, required: bool) -> list[str] | None:
    if key not in event:
        if required:
            raise ValueError(f"'{key}' is required: a list of names")
        return None
    value = event[key]
    if not isinstance(value, list) or not value:
        raise ValueError(f"'{key}' must be a non-empty list of names")
    bad = [v for v in value if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ValueError(f"'{key}' holds {bad[0]!r}, which is not a name")
    return list(dict.fromkeys(value))


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
        work = Workers(clients, writer, s3_pool, settings, lambda: _out_of_time(context, settings))
        running: set[Future[TableResult]] = set()
        for i, (database, table) in enumerate(jobs):
            while len(running) >= settings.table_concurrency:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                results += [f.result() for f in done]
            if _out_of_time(context, settings):
                remaining = [(d, t["Name"]) for d, t in jobs[i:]]
                logger.warning("time is running out", extra={"not_started": len(remaining)})
                break
            job = table_pool.submit(sync_table, work, database, table, options, all_locations, now)
            if watch_table is not None:
                watch_table(job, len(jobs))
            running.add(job)
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
    return {
        "status": status,
        "mode": options.mode,
        "full_scan": options.full_scan,
        "dry_run": options.dry_run,
        "totals": totals,
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
