"""The command line of main.py: its options and help, the event a run hands the handler, the exit
code, and the progress display on stderr.

Only main.main() imports this module, so Lambda never loads it; tqdm (a development dependency,
not in the layer) is imported only when the progress display is shown.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path
from typing import Any, TextIO

from modules import S3Events
from modules.ProcessLogger import SERVICE
from modules.Settings import MODES, Settings
from modules.TableReport import TableResult

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# The settings an operator touches from a terminal, in the help's words; a default in
# parentheses is appended from modules/Settings.py.
SETTINGS = {
    "AWS_PROFILE, AWS_REGION": "credentials and region, found as boto3 finds them",
    "AWS_ENDPOINT_URL": "send every AWS call there instead (a local moto server, say)",
    "RAW_DATABASE_PATTERN": "regex every database must match; others are refused",
    "SYNC_MAX_REMOVE_FRACTION": "largest share of a table's partitions --mode sync removes "
    "without --force",
    "TABLE_CONCURRENCY": "tables processed at once",
    "S3_CONCURRENCY": "S3 listings and checks in flight",
    "GLUE_WRITE_CONCURRENCY": "Glue batch writes in flight",
    "MAX_ATTEMPTS": "tries per AWS call and per partition",
    "RETRY_MODE": "botocore retry mode: standard, or adaptive when Glue's quota is shared",
    "MAX_BRANCHES": "a table with more branches than this is scanned whole",
    "TEMPLATE_MAX_CANDIDATES": "most template dates checked one by one before listing instead",
    "MAX_REPORTED_ERRORS": "reasons listed per table",
    "WORK_QUEUE_URL": "--fan-out: the SQS queue the work messages go to",
    "EVENT_DATABASES": "S3 events: the RAW databases to match objects to (empty: every "
    "database that matches RAW_DATABASE_PATTERN)",
    "LOG_LEVEL": "JSON log lines on stderr, with the metrics from INFO (the default; when "
    "stderr is a terminal WARNING, without the metrics)",
}

DESCRIPTION = """\
Register the Glue Data Catalog partitions of the data that landed in S3, for
the tables of RAW databases: the code the Lambda runs, with the AWS credentials
and endpoint of this shell.

For each table it reads the table from Glue, lists S3 after the newest
registered partition of each branch (everything with --full-scan), creates the
partitions that are missing (with --dry-run it only says what it would do) and
prints one row per table, or the summary as JSON. With --event it runs any
event the function accepts instead: a scheduled run's event or a continuation,
an SQS batch of S3 notifications (from the dead-letter queue, say), an SNS or
EventBridge S3 event.

settings (environment variables):
"""

EPILOG = """\
examples:
  dry run of one table (what it would create, remove and expire):
    python main.py --database raw_sales --table orders --dry-run
  full scan after an incident (finds data that landed below the newest one):
    python main.py --database raw_sales --table orders --full-scan
  sync: remove catalog entries whose data is gone (never S3 data), with the
  guard lifted; look first:
    python main.py --database raw_sales --mode sync --force --dry-run
    python main.py --database raw_sales --mode sync --force
  a whole lake fanned out over the work queue's workers:
    WORK_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/partition-work \\
        python main.py --database raw_sales --database raw_logs --fan-out
  replay a message of the dead-letter queue (its body is the S3 event):
    aws sqs receive-message --queue-url "$DLQ_URL" \\
        --query 'Messages[0].Body' --output text > message.json
    python main.py --event message.json
  replay an SQS batch as Lambda got it (prints its batchItemFailures):
    python main.py --event batch.json
  a continuation from a summary, as a dry run:
    jq '.continuation[0]' summary.json | python main.py --event - --dry-run

exit codes:
  0  every table succeeded (an SQS batch: no message failed)
  1  a table failed or the run was partial (an SQS batch: a message failed)
  2  bad usage, or an event the function refuses (the reason follows "error:"
     on stderr)
"""

# event key -> the option that sets it
OPTION_OF = {
    "databases": "--database",
    "tables": "--table",
    "full_scan": "--full-scan",
    "dry_run": "--dry-run",
    "mode": "--mode",
    "force": "--force",
    "fan_out": "--fan-out",
}


class UsageError(Exception):
    """The command line was used wrongly (exit code 2)."""


def parser() -> argparse.ArgumentParser:
    """The options, each with a sentence; the settings, examples and exit codes around them."""
    p = argparse.ArgumentParser(
        prog="main.py",
        description=DESCRIPTION + _settings_help(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_options(p.add_argument_group("what to run"))
    _output_options(p.add_argument_group("output"))
    return p


def _settings_help() -> str:
    """The settings an operator touches, each with its default."""
    defaults = Settings()
    names = {env: name for name, env in Settings.ENV.items()}
    settings = []
    for variables, text in SETTINGS.items():
        default = getattr(defaults, names[variables]) if variables in names else ""
        line = f"{text} (default {default})" if default != "" else text
        indent = f"  {variables:<26}"
        settings.append(textwrap.fill(line, 79, initial_indent=indent, subsequent_indent=" " * 28))
    return "\n".join(settings)


def _run_options(run: Any) -> None:
    """What to run: databases, tables, scan, dry run, mode, force, an event file."""
    run.add_argument(
        "--database",
        action="append",
        metavar="NAME",
        help="a RAW database to sync (it must match RAW_DATABASE_PATTERN); repeat for several. "
        "Required unless --event is given.",
    )
    run.add_argument(
        "--table",
        action="append",
        metavar="NAME",
        help="sync only this table (of every named database); repeat for several. "
        "Default: every table.",
    )
    run.add_argument(
        "--full-scan",
        action="store_true",
        help="walk every partition directory in S3 and compare with the whole catalog, instead "
        "of listing only what sorts after each branch's newest partition: finds late data, "
        "costs a listing of the whole table.",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="change nothing; report what the run would create, remove and expire.",
    )
    run.add_argument(
        "--mode",
        choices=MODES,
        help="add (the default) registers new partitions; sync also removes the catalog entries "
        "whose data is gone from S3 (never the data), at most SYNC_MAX_REMOVE_FRACTION of a "
        "table.",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="with --mode sync: remove even more than SYNC_MAX_REMOVE_FRACTION of a table "
        "(lifts the guard against an empty or unreadable listing; try --dry-run first).",
    )
    run.add_argument(
        "--fan-out",
        action="store_true",
        help="queue one work message per table to WORK_QUEUE_URL instead of syncing here; the "
        "function's workers, fed by that queue, sync them (see docs/fan-out.md).",
    )
    run.add_argument(
        "--event",
        metavar="FILE",
        help="run the handler on the JSON event in FILE (- for standard input) instead of one "
        "built from the options: a scheduled run's event or continuation (the options above "
        "override its keys), or an S3 event (SQS batch, SNS, EventBridge, a notification), "
        "which the options above do not apply to.",
    )


def _output_options(out: Any) -> None:
    """How the answer is shown: a table or JSON, with or without a progress line."""
    out.add_argument(
        "--output",
        choices=("table", "json"),
        help="table: one row per table with a dry run's plan and the errors under it, for "
        "people (the default when standard output is a terminal); json: the handler's answer "
        "as it is, for programs (the default otherwise).",
    )
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on stderr (shown only when stderr is a terminal: tables done of "
        "the total, partitions created, time elapsed).",
    )


def event(args: argparse.Namespace) -> Any:
    """The event to run: built from the options, or read from --event with the options laid over
    a scheduled run's event. An S3 event with run options is refused: event mode always writes."""
    given = {
        "databases": args.database,
        "tables": args.table,
        "full_scan": args.full_scan or None,
        "dry_run": args.dry_run or None,
        "mode": args.mode,
        "force": args.force or None,
        "fan_out": args.fan_out or None,
    }
    overrides = {key: value for key, value in given.items() if value is not None}
    if args.event is None:
        if not args.database:
            raise UsageError("--database is required unless --event is given (see --help)")
        return overrides
    found = _read(args.event)
    if overrides and S3Events.is_s3_event(found):
        options = ", ".join(OPTION_OF[key] for key in overrides)
        verb = "applies" if len(overrides) == 1 else "apply"
        raise UsageError(
            f"{options} {verb} only to a scheduled run's event, not to an S3 event: event mode "
            "registers what the event announces and has no dry run"
        )
    if overrides and isinstance(found, dict):
        return {**found, **overrides}
    return found


def _read(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the event {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = "standard input" if source == "-" else source
        raise UsageError(f"the event in {where} is not JSON: {exc}") from None


def output(args: argparse.Namespace) -> str:
    """--output, or what suits standard output: a table for a terminal, JSON for a program."""
    return args.output or ("table" if sys.stdout.isatty() else "json")


def exit_code(answer: dict[str, Any]) -> int:
    """0 when everything succeeded, 1 when a table (or an SQS message) failed or was partial."""
    if "batchItemFailures" in answer:
        return EXIT_FAILED if answer["batchItemFailures"] else EXIT_SUCCEEDED
    return EXIT_SUCCEEDED if answer.get("status") == "succeeded" else EXIT_FAILED


@contextmanager
def terminal(args: argparse.Namespace, event: Any) -> Iterator[Progress | None]:
    """While the handler runs: its stdout (powertools prints the metrics there) goes to stderr,
    so that standard output is the answer's alone. When stderr is a terminal, unless LOG_LEVEL
    is set, the log lines below WARNING and the metrics are left out (the table says it all);
    and unless --quiet, a progress line is drawn, with log lines and metrics printed above it."""
    on_terminal = sys.stderr.isatty()
    with ExitStack() as stack:
        metrics: TextIO = sys.stderr
        if on_terminal and not os.environ.get("LOG_LEVEL"):
            os.environ["LOG_LEVEL"] = "WARNING"
            stack.callback(os.environ.pop, "LOG_LEVEL", None)
            metrics = stack.enter_context(open(os.devnull, "w"))
        progress = None
        if on_terminal and not args.quiet:
            dry_run = isinstance(event, dict) and event.get("dry_run") is True
            progress = Progress(sys.stderr, dry_run, S3Events.is_s3_event(event))
            stack.callback(progress.close)
            stack.enter_context(progress.above())
            if metrics is sys.stderr:
                metrics = _Lines(progress)
        stack.enter_context(redirect_stdout(metrics))
        yield progress


class Progress:
    """One line on stderr, redrawn twice a second: tables done of the total, partitions
    created, time elapsed (for an S3 event, the time elapsed)."""

    def __init__(self, stream: TextIO, dry_run: bool, event_mode: bool) -> None:
        from tqdm import tqdm  # the command line's alone: never at Lambda import time

        self._tqdm = tqdm
        self._stream = stream
        bar_format = (
            "processing the event: {elapsed} elapsed"
            if event_mode
            else "{n_fmt}/{total_fmt} tables |{bar:24}| {elapsed} elapsed{postfix}"
        )
        try:
            sized = os.get_terminal_size(stream.fileno()).columns > 0
        except (OSError, ValueError):
            sized = False
        # follow the terminal's size; one that tells none (a bare pseudo-terminal) gets 80x24
        width: dict[str, Any] = {"dynamic_ncols": True} if sized else {"ncols": 80, "nrows": 24}
        self.bar = tqdm(total=None, file=stream, bar_format=bar_format, **width)
        self._created = 0
        self._verb = "to create" if dry_run else "created"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    def watch(self, job: Future[TableResult], total: int) -> None:
        """The handler's hook: a table's job has started, one of `total`."""
        with self._lock:
            if self.bar.total != total:
                self.bar.total = total
                self.bar.refresh()
        job.add_done_callback(self._done)

    def _done(self, job: Future[TableResult]) -> None:
        created = 0 if job.cancelled() or job.exception() else job.result().created
        with self._lock:
            self._created += created
            self.bar.set_postfix_str(f"{self._created} partitions {self._verb}", refresh=False)
            self.bar.update(1)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self.bar.refresh()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        with self._lock:
            self.bar.close()

    @contextmanager
    def above(self) -> Iterator[None]:
        """Log lines go above the progress line."""
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm([logging.getLogger(SERVICE)]):
            yield

    def write(self, line: str) -> None:
        """Print a line above the progress line."""
        self._tqdm.write(line, file=self._stream)


class _Lines(io.TextIOBase):
    """A text stream that prints each whole line above the progress line."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._progress.write(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._progress.write(self._pending)
            self._pending = ""
