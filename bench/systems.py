"""The systems under comparison and how one run of a system is measured.

Each run is a fresh child process, so that its wall time includes interpreter start and imports
(what a Lambda cold start pays) and its peak RSS is its own (`ru_maxrss` from `os.wait4`).
API calls are counted inside the child by hook/sitecustomize.py.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import REGION, Scenario

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
GLUTIL_DIR = WORK / "glutil"
PEERS = BENCH / "peers"
HOOK = BENCH / "hook"
# glutil 1.0.0's full mode walks any layout level by level (`(key=|)(value)/` per partition key,
# Hive or positional), so it runs on every scenario; its `limit_days` mode needs year, month, day
# as the first three keys (a TypeError otherwise) and so runs on the Firehose steady states only.
GLUTIL_LIMIT_SCENARIOS = ("S1", "S1L", "S4")
EVENT_SCENARIOS = ("E1",)
FAN_OUT_SCENARIOS = ("F1",)
F1_WORKERS = 10  # the mapping's MaximumConcurrency
F1_BATCH_SIZE = (
    8  # tables per invocation: a multiple of TABLE_CONCURRENCY (4), the template default
)
F1_LINK_SECONDS = 5  # the chain's invocation budget: a Lambda's timeout, scaled to the lake
# The big table and its copy with a tenth of the history; the systems that only measure S7's
# targets (a present index, one segment, cuts by the deadline) run there alone.
BIG_SCENARIOS = ("S7", "S7T")
ALL_BUT_BIG = ("S1", "S1L", "S2", "S3", "S4", "S5", "S6", "E1")


@dataclass(frozen=True)
class System:
    """A competitor: how to start it on a scenario, and which scenarios it can run."""

    name: str
    full_scan: bool
    command: Callable[[Scenario], list[str]]
    scenarios: tuple[str, ...] | None = None
    pythonpath: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    # the table starts with the partition indexes the function creates on its first run (a
    # deployed function's steady state), except on the scenarios in `unindexed`
    indexed: bool = False
    unindexed: tuple[str, ...] = ()
    headline_only: bool = False  # minutes a run: measured at the headline latency only

    def starts_indexed(self, scenario: Scenario) -> bool:
        return self.indexed and scenario.name not in self.unindexed

    def runs(self, scenario: Scenario) -> bool:
        """Whether it runs the scenario: both have to say so (a scenario may name its systems)."""
        if scenario.systems is not None and self.name not in scenario.systems:
            return False
        return self.scenarios is None or scenario.name in self.scenarios


def _this(full_scan: bool) -> Callable[[Scenario], list[str]]:
    def command(s: Scenario) -> list[str]:
        extra = ["--full-scan"] if full_scan else []
        return [sys.executable, str(PEERS / "this_project.py"), "--database", s.database, *extra]

    return command


def _glutil(limit_days: int) -> Callable[[Scenario], list[str]]:
    def command(s: Scenario) -> list[str]:
        tables = [arg for t in s.tables for arg in ("--table", t.name)]
        return [
            sys.executable,
            str(PEERS / "glutil_runner.py"),
            "--database",
            s.database,
            *tables,
            "--limit-days",
            str(limit_days),
        ]

    return command


def _cut(s: Scenario) -> list[str]:
    """A full reconcile cut by the deadline twice: a third of the new partitions per link."""
    per_run = max(1, -(-s.expected_new // 3))
    return [
        sys.executable,
        str(PEERS / "this_cut.py"),
        "--database",
        s.database,
        "--per-run",
        str(per_run),
    ]


def _wrangler(s: Scenario) -> list[str]:
    return [sys.executable, str(PEERS / "awswrangler_script.py"), "--database", s.database]


def event_batch_files(s: Scenario) -> list[Path]:
    """Where the harness writes the scenario's SQS batches (one JSON file per Lambda event)."""
    return sorted(WORK.glob(f"{s.name}-sqs-batch-*.json"))


def _events(s: Scenario) -> list[str]:
    return [sys.executable, str(PEERS / "this_events.py"), *map(str, event_batch_files(s))]


def _chain(s: Scenario) -> list[str]:
    link = ["--link-seconds", str(F1_LINK_SECONDS)]
    return [sys.executable, str(PEERS / "this_chain.py"), "--database", s.database, *link]


def _fan_out(s: Scenario) -> list[str]:
    shape = ["--workers", str(F1_WORKERS), "--batch-size", str(F1_BATCH_SIZE)]
    return [sys.executable, str(PEERS / "this_fanout.py"), "--database", s.database, *shape]


SYSTEMS = (
    # S7's this-incremental is the first run, which creates the indexes; elsewhere, and in
    # this-incremental-indexed on S7, they are there from an earlier run
    System("this-incremental", False, _this(False), indexed=True, unindexed=BIG_SCENARIOS),
    System("this-incremental-indexed", False, _this(False), BIG_SCENARIOS, indexed=True),
    System("this-full", True, _this(True), indexed=True),
    System(
        "this-full-1-segment",
        True,
        _this(True),
        ("S7",),
        env=(("GLUE_READ_SEGMENTS", "1"),),
        indexed=True,
        headline_only=True,
    ),
    # on S7T: each link re-reads the whole catalog, four minutes on S7 (measured alone: README)
    System("this-full-cut", True, _cut, ("S7T",), indexed=True, headline_only=True),
    # on S7 glutil walks ~4,600 directories one listing after another: minutes a run
    System("glutil-full", True, _glutil(0), ALL_BUT_BIG, (GLUTIL_DIR,)),
    System("glutil-limit1", False, _glutil(1), GLUTIL_LIMIT_SCENARIOS, (GLUTIL_DIR,)),
    System("awswrangler-script", True, _wrangler),
    # The table index reads E1's database only, as a deployment would name its RAW databases.
    System(
        "this-events",
        False,
        _events,
        EVENT_SCENARIOS,
        env=(("RAW_DATABASE_PATTERN", "^raw_bench_e1$"),),
    ),
    System("this-chain", False, _chain, FAN_OUT_SCENARIOS),
    System("this-fanout", False, _fan_out, FAN_OUT_SCENARIOS),
)


def child_env(
    endpoint: str,
    extra_path: tuple[Path, ...] = (),
    count: Path | None = None,
    latency_ms: float = 0,
) -> dict[str, str]:
    """Environment of a child: local endpoint, dummy credentials, no profile or metadata lookups;
    with `count`, the call counter and the modelled round trip of `latency_ms` per call."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO", "PYTHON"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        TZ="UTC",
    )
    paths = ([HOOK] if count else []) + list(extra_path)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    if count:
        env["BENCH_CALLS_FILE"] = str(count)
        env["BENCH_LATENCY_MS"] = f"{latency_ms:g}"
    return env


@dataclass
class RunResult:
    """One measured run of one system on one scenario."""

    wall_s: float
    rss_mb: float
    exit_code: int
    calls: dict[str, int] = field(default_factory=dict)
    created: int = 0
    correct: bool = False
    notes: list[str] = field(default_factory=list)
    stdout: str = ""
    reported: dict[str, Any] = field(default_factory=dict)  # what the peer measured itself


class Launcher:
    """Starts every measured child from a small helper process instead of from this one.

    On Linux a child's ru_maxrss starts from the RSS of the process that forked it (the kernel
    keeps the old high-water mark across exec), and this process holds moto's whole state, some
    200 MB. The helper comes from a fresh interpreter (multiprocessing's fork server), so each
    child's peak RSS is its own.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)

    def run(
        self, cmd: list[str], env: dict[str, str], log_stem: Path, timeout_s: float
    ) -> RunResult:
        return self._pool.submit(run_child, cmd, env, log_stem, timeout_s).result()

    def close(self) -> None:
        self._pool.shutdown()


def run_child(cmd: list[str], env: dict[str, str], log_stem: Path, timeout_s: float) -> RunResult:
    """Runs one child, waiting with wait4 for its own rusage; output goes to log files."""
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    calls_file = Path(env["BENCH_CALLS_FILE"]) if "BENCH_CALLS_FILE" in env else None
    if calls_file:
        calls_file.unlink(missing_ok=True)
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        status, rusage = _wait(proc, timeout_s)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status) if status is not None else -9
    result = RunResult(wall_s=wall, rss_mb=rusage.ru_maxrss / 1024, exit_code=code)
    if calls_file and calls_file.exists():
        result.calls = json.loads(calls_file.read_text())
    result.stdout = out_path.read_text()[-20000:]
    if code != 0:
        tail = err_path.read_text().strip().splitlines()[-3:]
        result.notes.append(f"exit {code}: " + " | ".join(tail))
    return result


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int | None, os.struct_rusage]:
    """Blocking wait4 on the child (exact end time, its own rusage); a timer kills a hung one."""
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        _, status, rusage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (None if proc.returncode == -signal.SIGKILL else status), rusage
