"""The command line as an operator runs it: `python main.py` as a process against the moto server
over HTTP (the `aws` fixture's endpoint is in the child's environment), with its stdout and
stderr piped as a program reads them or on a pseudo-terminal as a person sees them: the help,
JSON and table output, the progress line, any event from a file or standard input, exit codes."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

import main
from modules import CommandLine
from modules.Render import render
from modules.Settings import Settings
from tests.conftest import REGION, Aws, dumps
from tests.helpers import Lake, Queue, eventbridge, notification

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "raw_ops"
BUCKET = "lake"  # the bucket tests.helpers' Queue is notified by
TODAY = date.today()
DAYS = [TODAY - timedelta(days=n) for n in (3, 2, 1)]
GONE = TODAY - timedelta(days=5)  # registered by an earlier run; its data has been deleted since
OLD = TODAY - timedelta(days=60)  # past the retention period of `kept`
TABLES = ("broken", "clicks", "kept", "orders")
OPTIONS = ("--database", "--table", "--full-scan", "--dry-run", "--mode", "--force", "--event")
OPTIONS += ("--output", "--quiet")
PROGRESS = re.compile(
    r"(\d+)/(\d+) tables \|[^|]*\| \d\d:\d\d elapsed(?:, (\d+) partitions (to create|created))?"
)


def lake(aws: Aws) -> None:
    """Four tables: two that sync cleanly (`orders` with a path that does not parse and a
    registered partition whose data is gone, `clicks`), one with a retention period and an
    expired partition (`kept`), and one without a location, which fails (`broken`)."""
    ops = Lake.create(aws, DATABASE, BUCKET)
    orders = {(str(d),): f"orders/dt={d}/" for d in DAYS}
    bad = ["orders/dt=not-a-date/part-0.json"]
    ops.table("orders", [("dt", "date")], orders, noise=bad, preregister=1)
    aws.register(DATABASE, "orders", [([str(GONE)], f"s3://{BUCKET}/orders/dt={GONE}/")])
    clicks = {(f"{d:%Y}", f"{d:%m}", f"{d:%d}"): f"clicks/{d:%Y/%m/%d}/" for d in DAYS}
    ops.table("clicks", ["year", "month", "day"], clicks)
    kept = {(str(d),): f"kept/dt={d}/" for d in (OLD, *DAYS)}
    retention = {"partition.retention.period": "30d"}
    ops.table("kept", [("dt", "date")], kept, retention, preregister=1)  # OLD, the oldest
    aws.table(DATABASE, "broken", None, ["dt"])


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def cli(
    *args: str,
    tty: tuple[str, ...] = (),
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> Ran:
    """Run `python main.py ARGS`; the streams named in `tty` ("stdout", "stderr") are each a
    pseudo-terminal of their own (its "\\r\\n" read back as "\\n"), the others pipes. The
    child's environment is this process's (the moto endpoint, dummy credentials) without
    LOG_LEVEL, plus `env`."""
    child_env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    child_env.update(env or {})
    streams: dict[str, Any] = {}
    masters: dict[str, int] = {}
    for name in ("stdout", "stderr"):
        if name in tty:
            masters[name], streams[name] = pty.openpty()
        else:
            streams[name] = subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env=child_env,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        **streams,
    )
    for name in masters:
        os.close(streams[name])
    got: dict[str, bytes] = {}

    def read_pty(name: str, fd: int) -> None:
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(fd)
        got[name] = b"".join(chunks).replace(b"\r\n", b"\n")

    def read_pipe(name: str) -> None:
        got[name] = getattr(process, name).read()

    readers = [
        threading.Thread(target=read_pty, args=(name, masters[name]))
        if name in masters
        else threading.Thread(target=read_pipe, args=(name,))
        for name in ("stdout", "stderr")
    ]
    for reader in readers:
        reader.start()
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin.encode())
        process.stdin.close()
    code = process.wait(timeout=180)
    for reader in readers:
        reader.join(timeout=30)
    return Ran(code, got["stdout"].decode(), got["stderr"].decode())


def handler_summary(event: dict[str, Any]) -> dict[str, Any]:
    """The handler's summary in this process, on the same moto state."""
    return main.lambda_handler(event, None)


def without_times(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary less what differs between two runs a moment apart (the lag)."""
    copy = json.loads(json.dumps(summary))
    for table in copy["tables"]:
        table.pop("lag_seconds")
    return copy


# --------------------------------------------------------------------------- help


def test_help_explains_every_option_the_settings_examples_and_exit_codes() -> None:
    ran = cli("--help")
    assert ran.code == 0 and ran.stderr == "", ran.stderr
    flat = re.sub(r"\s+", "", ran.stdout)  # help text is wrapped wherever the width falls
    actions = [a for a in CommandLine.parser()._actions if a.option_strings]
    assert set(OPTIONS) <= {o for a in actions for o in a.option_strings}
    for action in actions:
        assert action.help and len(action.help.split()) >= 5, action.option_strings
        for option in action.option_strings:
            assert re.search(rf"^\s+(-\w, )?{option}\b", ran.stdout, re.M), option
        assert re.sub(r"\s+", "", action.help) in flat, action.option_strings
    assert "Lambda entry point" not in ran.stdout  # the developers' docstring is not the help
    assert "Requiredunless--eventisgiven" in flat
    for name in ("AWS_ENDPOINT_URL", "RAW_DATABASE_PATTERN", "SYNC_MAX_REMOVE_FRACTION"):
        assert re.search(rf"^\s+{name}\s+\w", ran.stdout, re.M), name
    known = {*Settings.ENV.values(), "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "LOG_LEVEL"}
    named = {n for names in CommandLine.SETTINGS for n in names.split(", ")}
    assert named <= known, named - known  # a renamed setting must not linger in the help
    assert re.search(r"RAW_DATABASE_PATTERNregex[^()]*\(default\^raw_\)", flat)
    examples = ran.stdout.split("examples:")[1].split("exit codes:")[0]
    for example in ("--table orders --dry-run", "--full-scan", "--mode sync --force", "--event -"):
        assert example in examples, example
    codes = ran.stdout.split("exit codes:")[1]
    for code, words in (("0", "succeeded"), ("1", "failed"), ("2", "bad usage")):
        assert re.search(rf"^\s+{code}\s+.*{words}", codes, re.M), code


# --------------------------------------------------------------------------- output


@pytest.mark.parametrize(
    "options",
    [["--dry-run"], ["--dry-run", "--mode", "sync", "--force", "--full-scan"]],
    ids=["dry-run", "sync-force-full-scan"],
)
def test_json_output_is_the_handlers_summary(aws: Aws, options: list[str]) -> None:
    lake(aws)
    ran = cli("--database", DATABASE, *options, "--output", "json")
    assert ran.code == 1, ran.stderr  # `broken` fails: the run is partial
    printed = json.loads(ran.stdout)
    event: dict[str, Any] = {"databases": [DATABASE], "dry_run": True}
    if "--mode" in options:
        event.update(mode="sync", force=True, full_scan=True)
    expected = handler_summary(event)
    assert without_times(printed) == without_times(expected), dumps(printed)
    assert {t["table"] for t in printed["tables"]} == set(TABLES)


def test_table_output_names_every_table_its_errors_and_the_plan(aws: Aws) -> None:
    lake(aws)
    options = ("--database", DATABASE, "--mode", "sync", "--dry-run")
    summary = json.loads(cli(*options, "--output", "json").stdout)
    ran = cli(*options, "--output", "table")
    assert ran.code == 1, ran.stderr  # the guard refused a removal; `broken` failed
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("status partial, mode sync, database raw_ops"), ran.stdout
    assert lines[1].startswith("dry run: nothing was changed")
    rows = {
        t: next(i for i, line in enumerate(lines) if line.startswith(f"  {t} ")) for t in TABLES
    }
    ends = [*sorted(rows.values()), next(i for i, line in enumerate(lines) if "total" in line)]
    by_name = {t["table"]: t for t in summary["tables"]}
    assert {n for n, t in by_name.items() if t["errors"]} == {"broken", "orders"}
    for name, row in rows.items():
        entry = by_name[name]
        under = "\n".join(lines[row + 1 : ends[ends.index(row) + 1]])
        for error in entry["errors"]:
            assert f"- {error}" in under, (name, error, ran.stdout)
        for location in entry.get("would_remove", []) + entry.get("would_expire", []):
            assert location in under, (name, location)
        if entry["created"]:
            assert f"would create {entry['created']} partition" in under, name
        cells = lines[row].split()
        assert cells[1] == entry["status"] and str(entry["discovered"]) in cells, lines[row]
    orders = by_name["orders"]
    assert orders["removal_refused"] is True and orders["would_remove"] == [
        f"s3://{BUCKET}/orders/dt={GONE}/"
    ]
    assert "would remove 1 partition whose data is gone if --force lifted the guard:" in ran.stdout
    assert by_name["kept"]["would_expire"] == [f"s3://{BUCKET}/kept/dt={OLD}/"]
    assert "would remove from the catalog, past the retention period:" in ran.stdout
    total = lines[ends[-1]].split()
    assert total[:3] == ["total", "4", "tables"], lines[ends[-1]]


def test_the_default_output_follows_whether_stdout_is_a_terminal(aws: Aws) -> None:
    lake(aws)
    options = ("--database", DATABASE, "--table", "orders", "--dry-run")
    on_terminal = cli(*options, tty=("stdout",), env={"LOG_LEVEL": "ERROR"})
    assert on_terminal.code == 0, on_terminal.stderr
    with pytest.raises(json.JSONDecodeError):
        json.loads(on_terminal.stdout)
    assert re.search(r"^  table +layout +scan +branches +found", on_terminal.stdout, re.M)
    assert re.search(r"^  orders +hive +incremental", on_terminal.stdout, re.M)
    piped = cli(*options, env={"LOG_LEVEL": "ERROR"})
    assert piped.code == 0 and json.loads(piped.stdout)["tables"][0]["table"] == "orders"
    assert piped.stderr == ""


# --------------------------------------------------------------------------- progress


def test_progress_on_a_terminals_stderr_and_never_when_piped(aws: Aws) -> None:
    lake(aws)
    options = ("--database", DATABASE, "--dry-run")
    shown = cli(*options, tty=("stderr",))
    assert shown.code == 1
    summary = json.loads(shown.stdout)  # stdout is still a pipe: JSON
    states = [m.groups() for m in PROGRESS.finditer(shown.stderr)]
    assert states, repr(shown.stderr)
    done, total, created, verb = states[-1]
    assert (int(done), int(total)) == (len(TABLES), len(TABLES)), states
    assert (int(created), verb) == (summary["totals"]["created"], "to create"), states
    assert '"table synced"' not in shown.stderr  # on a terminal the INFO lines are left out

    piped = cli(*options)
    assert piped.code == 1 and not PROGRESS.search(piped.stderr)
    assert "\r" not in piped.stderr and "elapsed" not in piped.stderr
    logged = [json.loads(line) for line in piped.stderr.splitlines() if line]
    assert sum(line["message"] == "table synced" for line in logged) == len(TABLES) - 1

    quiet = cli(*options, "--quiet", tty=("stderr",))
    assert quiet.code == 1 and not PROGRESS.search(quiet.stderr) and "\r" not in quiet.stderr


def test_log_lines_and_metrics_go_above_the_progress_line(aws: Aws) -> None:
    lake(aws)
    ran = cli(
        "--database", DATABASE, "--table", "orders", tty=("stderr",), env={"LOG_LEVEL": "INFO"}
    )
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["totals"]["created"] == 2
    documents = []
    for piece in re.split(r"[\r\n]", ran.stderr):
        if piece.startswith("{"):
            documents.append(json.loads(piece))  # whole lines, not cut by the bar
    assert any(d.get("message") == "table synced" for d in documents), ran.stderr
    assert any("_aws" in d for d in documents), ran.stderr  # the metrics (EMF) set
    assert ("1", "1", "2", "created") in [m.groups() for m in PROGRESS.finditer(ran.stderr)]

    # without LOG_LEVEL a terminal gets neither the INFO lines nor the metrics: the table says it
    quiet = cli("--database", DATABASE, "--table", "clicks", tty=("stderr",))
    assert quiet.code == 0 and json.loads(quiet.stdout)["totals"]["created"] == 3
    assert "_aws" not in quiet.stderr and "table synced" not in quiet.stderr, quiet.stderr
    assert ("1", "1", "3", "created") in [m.groups() for m in PROGRESS.finditer(quiet.stderr)]


# --------------------------------------------------------------------------- any event


def test_event_replays_an_sqs_batch_with_a_poison_message(aws: Aws, tmp_path: Path) -> None:
    lake(aws)
    queue = Queue(aws)
    queue.receive()  # the s3:TestEvent
    new = TODAY - timedelta(days=10)  # late data, below the newest partition
    aws.put(BUCKET, [f"orders/dt={new}/late.json"])
    records = queue.receive()
    assert len(records) == 1
    poison = queue.record("this is not json", "poison")
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"Records": [*records, poison]}))

    ran = cli("--event", str(batch), "--output", "json")
    assert ran.code == 1, ran.stderr
    assert json.loads(ran.stdout) == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert (str(new),) in aws.partitions(DATABASE, "orders")

    from_stdin = cli("--event", "-", tty=("stdout", "stderr"), stdin=batch.read_text())
    assert from_stdin.code == 1, from_stdin.stderr
    assert re.search(r"processing the event: \d\d:\d\d elapsed", from_stdin.stderr)
    assert "1 message failed" in from_stdin.stdout and "batchItemFailures" in from_stdin.stdout
    assert re.search(r"^  poison$", from_stdin.stdout, re.M)
    assert records[0]["messageId"] not in from_stdin.stdout

    clean = cli("--event", "-", "--output", "table", stdin=json.dumps({"Records": records}))
    assert clean.code == 0 and "every message succeeded" in clean.stdout


def test_event_runs_direct_s3_events_and_continuations(aws: Aws, tmp_path: Path) -> None:
    lake(aws)
    key = f"clicks/{TODAY:%Y/%m/%d}/firehose-2.gz"
    aws.put(BUCKET, [key])
    direct = tmp_path / "eventbridge.json"
    direct.write_text(json.dumps(eventbridge(key)))
    ran = cli("--event", str(direct), "--output", "table")
    assert ran.code == 0, ran.stderr
    assert "events: messages 1, records 1" in ran.stdout
    assert re.search(r"^  clicks +positional .* 1 +1 +0 +0", ran.stdout, re.M), ran.stdout

    # run options do not apply to an S3 event (event mode writes): refused, nothing written
    later = TODAY - timedelta(days=12)
    s3_event = tmp_path / "notification.json"
    s3_event.write_text(json.dumps(notification(f"orders/dt={later}/x.json")))
    refused = cli("--event", str(s3_event), "--dry-run")
    assert refused.code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: --dry-run applies only to a scheduled run's event")
    assert (str(later),) not in aws.partitions(DATABASE, "orders")

    # a continuation, with the options laid over it; --database is not needed
    continuation = {"databases": [DATABASE], "tables": ["orders"], "continuation_depth": 1}
    ran = cli("--event", "-", "--dry-run", stdin=json.dumps(continuation))
    assert ran.code == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["dry_run"] is True and [t["table"] for t in summary["tables"]] == ["orders"]


# --------------------------------------------------------------------------- exit codes


def test_exit_codes(aws: Aws, tmp_path: Path) -> None:
    lake(aws)
    succeeded = cli("--database", DATABASE, "--table", "orders", "--table", "clicks")
    assert succeeded.code == 0, succeeded.stderr
    assert json.loads(succeeded.stdout)["status"] == "succeeded"  # metrics went to stderr
    assert '"_aws"' in succeeded.stderr

    partial = cli("--database", DATABASE, "--output", "table")
    assert partial.code == 1
    assert re.search(r"^  broken +failed ", partial.stdout, re.M), partial.stdout

    refused_event = tmp_path / "refused.json"
    refused_event.write_text(json.dumps({"databases": [DATABASE], "bogus": 1}))
    not_json = tmp_path / "not.json"
    not_json.write_text("{databases")
    for args, message in [
        ((), "error: --database is required"),
        (("--database", "sales"), "error: database(s) sales do not match RAW_DATABASE_PATTERN"),
        (("--database", DATABASE, "--force"), "error: 'force' only applies to mode 'sync'"),
        (("--event", str(refused_event)), "error: unknown event key(s): bogus"),
        (("--event", str(not_json)), f"error: the event in {not_json} is not JSON"),
        (("--event", str(tmp_path / "missing.json")), "error: cannot read the event"),
        (("--mode", "delete", "--database", DATABASE), "invalid choice: 'delete'"),
    ]:
        ran = cli(*args, env={"LOG_LEVEL": "ERROR"})
        assert ran.code == 2 and ran.stdout == "", (args, ran)
        assert message in ran.stderr, (args, ran.stderr)
    bad_setting = cli("--database", DATABASE, env={"S3_CONCURRENCY": "many"})
    assert bad_setting.code == 2 and "error: S3_CONCURRENCY='many'" in bad_setting.stderr


# --------------------------------------------------------------------------- the Lambda side


LAMBDA_IMPORTS = """
import json, sys
import main
answer = main.lambda_handler({"databases": ["raw_ops"], "tables": ["orders"]}, None)
loaded = [m for m in sys.modules if m.split(".")[0] == "tqdm" or m in CLI_MODULES]
print(json.dumps({"status": answer["status"], "loaded": loaded, "hook": main.watch_table}))
"""


def test_lambda_never_loads_the_command_line_nor_its_progress_library(aws: Aws) -> None:
    lake(aws)
    script = "CLI_MODULES = ('modules.CommandLine', 'modules.Render')\n" + LAMBDA_IMPORTS
    env = {**os.environ, "LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen == {"status": "succeeded", "loaded": [], "hook": None}, seen


def test_render_says_what_is_left_and_what_event_mode_counted() -> None:
    summary = {
        "status": "partial",
        "mode": "add",
        "full_scan": False,
        "dry_run": False,
        "totals": {"tables": 0, "stale": 0},
        "tables": [],
        "remaining": [{"database": "raw_a", "table": "t1"}, {"database": "raw_b", "table": "t2"}],
        "continuation": [{"databases": ["raw_a"], "tables": ["t1"]}],
        "handed_on": [],
        "errors": ["stopped at MAX_CONTINUATIONS"],
        "events": {"messages": 2, "records": 3, "unmatched": 0},
    }
    text = render(summary, "Cut short")
    assert text.startswith("Cut short: status partial, mode add")
    assert "events: messages 2, records 3" in text and "unmatched" not in text
    assert "not started (time ran out): raw_a.t1, raw_b.t2" in text
    assert 'to continue, run the event: {"databases": ["raw_a"], "tables": ["t1"]}' in text
    assert text.endswith("error: stopped at MAX_CONTINUATIONS")
    assert render({"batchItemFailures": []}) == (
        "SQS batch: every message succeeded (batchItemFailures is empty)"
    )


def test_fan_out_queues_the_tables_on_the_work_queue(aws: Aws) -> None:
    """`--fan-out` sends one work message per table to WORK_QUEUE_URL (SQS SendMessageBatch)
    and says how many were queued; without a queue it fails loudly, naming why (exit 1)."""
    lake(aws)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint)
    url = sqs.create_queue(QueueName="partition-work")["QueueUrl"]
    queued = cli("--database", DATABASE, "--fan-out", env={"WORK_QUEUE_URL": url})
    assert queued.code == 0, queued.stderr
    summary = json.loads(queued.stdout)
    tables = {t["Name"] for t in aws.glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) == len(tables), dumps(summary)
    nowhere = cli("--database", DATABASE, "--fan-out", "--output", "json")
    assert nowhere.code == 1
    assert json.loads(nowhere.stdout)["status"] == "failed"
    assert "WORK_QUEUE_URL is not set" in nowhere.stdout
