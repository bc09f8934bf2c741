"""`make bench`: this project against its peers on one local moto server, at two latencies.

A modelled network round trip of 50 ms per call gives the headline (bench/results.json); 0 ms, the
moto floor, the second set of figures (bench/results-0ms.json).

It installs glutil 1.0.0 under bench/.work (its only dependency, boto3, comes from the project's
venv, so every system runs on the same boto3), starts moto's ThreadedMotoServer on a free loopback
port behind the strict layer (tests/strictlayer.py: Glue's paging and limits), seeds the
scenarios straight into moto's in-process backends, writes E1's SQS batches, then, for each
latency setting, runs every system on every scenario in fresh child processes, interleaved
(A, B, C, A, B, C, ...), with the catalog reset to the scenario's starting state before each run,
and prints the table, growth factors and verdicts of each setting.

    python bench/run.py                      # the full benchmark (what `make bench` runs)
    python bench/run.py --scenarios S5,S6 --rounds 1 --latency-ms 50
    python bench/run.py --report bench/results.json bench/results-0ms.json   # re-print saved runs
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts, report
from bench.moto_backend import (
    MotoState,
    index_moto_listings,
    memoize_moto_timestamps,
    skip_moto_sqs_counts_on_send,
)
from bench.scenarios import Scenario, build_scenarios, compare, sqs_batches
from bench.systems import (
    BENCH,
    GLUTIL_DIR,
    ROOT,
    SYSTEMS,
    WORK,
    Launcher,
    RunResult,
    System,
    child_env,
    event_batch_files,
)
from modules import PartitionIndex
from tests.glue_expression import Key
from tests.glue_indexes import Index
from tests.strictlayer import StrictLayer, Strictness, moto_behind_layer

GLUTIL_REQUIREMENT = "glutil==1.0.0"
HEADLINE_LATENCY_MS = report.HEADLINE_LATENCY_MS
# Rounds a run needs to be written to bench/ (fewer go to bench/.work/). The headline takes the
# median of 3 rounds (~325 s each on 2 cores, the first ~445 s with S7), the 0 ms floor one round
# (~165 s with S7): ~23 minutes in all; a second 0 ms round would add ~3.
MIN_ROUNDS = {HEADLINE_LATENCY_MS: 3}
MIN_ROUNDS_OTHER = 1
# moto answers behind the strict layer, with Glue's own page of 1,000 partitions so that the call
# counts compare with a real account's, and without the empty pages Glue can add to filtered reads
# (they cost every system a call, unevenly).
# The layer keeps each table's partitions between reads (moto re-serialises every partition of a
# table on each GetPartitions: seconds for S7's 100,000) and builds its partition indexes once.
BENCH_STRICTNESS = Strictness(page_size=1000, empty_filtered_pages=False, cache_partitions=True)
# What each partition Glue loads to answer a GetPartitions costs, in microseconds (see README).
HEADLINE_LOAD_US = 20


def results_path(latency_ms: float) -> Path:
    """bench/results.json for the headline latency, bench/results-<n>ms.json for the others."""
    if latency_ms == HEADLINE_LATENCY_MS:
        return BENCH / "results.json"
    return BENCH / f"results-{latency_ms:g}ms.json"


def ensure_glutil() -> bool:
    """Installs glutil without dependencies into bench/.work/glutil; False if that fails."""
    if (GLUTIL_DIR / "glutil" / "partitioner.py").exists():
        return True
    print(f"installing {GLUTIL_REQUIREMENT} into {GLUTIL_DIR.relative_to(ROOT)} ...", flush=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(GLUTIL_DIR),
            GLUTIL_REQUIREMENT,
        ],
        check=False,
    )
    return done.returncode == 0


def machine() -> str:
    """A one-line description of where the numbers were measured."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f"{mem_kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        mem = "unknown RAM"
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("boto3", "moto", "awswrangler"))
    load = f"load average {os.getloadavg()[0]:.1f} at start"
    return (
        f"{os.cpu_count()} cores, {cpu}, {mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {versions}, {load}"
    )


def cold_start(endpoint: str, runs: int) -> dict[str, float]:
    """Median import time of `main` and of `boto3` alone, in fresh interpreters, interleaved."""
    env = child_env(endpoint)
    timings: dict[str, list[float]] = {"import_main_s": [], "import_boto3_s": []}
    for _ in range(runs):
        for key, module in (("import_main_s", "main"), ("import_boto3_s", "boto3")):
            code = (
                "import time; t = time.perf_counter(); "
                f"import {module}; print(time.perf_counter() - t)"
            )
            out = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            timings[key].append(float(out.strip().splitlines()[-1]))
    return {k: round(statistics.median(v), 4) for k, v in timings.items()}


def warm_up(endpoint: str, scenario: Scenario, state: MotoState, main_present: bool) -> None:
    """Pays one-off costs before timing: the server's lazy imports and expression parser, and
    the page cache for each system's imports."""
    import boto3

    state.reset(scenario)
    table = scenario.tables[0]
    glue, s3 = (
        boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for service in ("glue", "s3")
    )
    glue.get_tables(DatabaseName=scenario.database)
    glue.get_partitions(
        DatabaseName=table.database,
        TableName=table.name,
        Expression=f"{table.keys[0]} = '1999' AND {table.keys[-1]} > '01'",
    )
    glue.batch_get_partition(
        DatabaseName=table.database,
        TableName=table.name,
        PartitionsToGet=[{"Values": ["01"] * len(table.keys)}],
    )
    s3.list_objects_v2(Bucket=table.bucket, Prefix=table.prefix, Delimiter="/")
    imports = ["boto3", "awswrangler"] + (["main"] if main_present else [])
    env = child_env(endpoint, (GLUTIL_DIR,))
    for module in [*imports, "glutil.partitioner"]:
        subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            env=env,
            cwd=ROOT,
            check=False,
            capture_output=True,
        )


def write_event_batches(scenarios: list[Scenario]) -> None:
    """Writes each notification scenario's SQS batches where its event system reads them."""
    now = datetime.now(UTC)
    for scenario in scenarios:
        if not scenario.notifications:
            continue
        for old in event_batch_files(scenario):
            old.unlink()
        for i, batch in enumerate(sqs_batches(scenario, now), 1):
            (WORK / f"{scenario.name}-sqs-batch-{i:03d}.json").write_text(json.dumps(batch))


def prepare_layer(layer: StrictLayer, scenario: Scenario, system: System, endpoint: str) -> None:
    """After a reset: the layer forgets what it kept, gets the indexes the system starts with
    (`indexed`: those the function creates on its first run, ACTIVE), and reads each table once,
    and once through each index, so that the run pays neither for moto's serialising of every
    partition nor for building an index Glue keeps up to date as partitions come."""
    import boto3

    layer.forget_reads()
    for table in scenario.tables:
        where = (table.database, table.name)
        if system.starts_indexed(scenario):
            keys = [Key(k, "string") for k in table.keys]
            time_keys, branch = keys[table.branch_keys :], keys[: table.branch_keys]
            wanted = [time_keys] + ([branch + time_keys] if branch else [])
            layer.indexes[where] = [
                Index(PartitionIndex.index_name(w), w, 0)  # type: ignore[arg-type]
                for w in wanted
            ]
    glue = boto3.client(
        "glue",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for table in scenario.tables:
        glue.get_partitions(DatabaseName=table.database, TableName=table.name, MaxResults=1)
        for index in layer.indexes.get((table.database, table.name), ()):
            lead = index.keys[0].name  # a read the index serves builds its entries once
            glue.get_partitions(
                DatabaseName=table.database,
                TableName=table.name,
                Expression=f"{lead} = 'none'",
                MaxResults=1,
            )
    layer.clear_calls()


def measure(
    launcher: Launcher,
    system: System,
    scenario: Scenario,
    state: MotoState,
    layer: StrictLayer,
    tag: str,
    timeout_s: float,
    latency_ms: float,
) -> RunResult:
    """Resets the catalog, runs the system once, and checks the catalog it leaves."""
    state.reset(scenario)
    endpoint = layer.endpoint
    prepare_layer(layer, scenario, system, endpoint)
    env = child_env(endpoint, system.pythonpath, WORK / "calls.json", latency_ms)
    env.update(system.env)
    result = launcher.run(system.command(scenario), env, WORK / "logs" / tag, timeout_s)
    result.correct = True
    for table in scenario.tables:
        after = state.partitions(table)
        result.created += len(after) - len(table.registered)
        ok, notes = compare(table.expected(), after)
        result.correct &= ok and result.exit_code == 0
        result.notes += [f"{table.name}: {n}" for n in notes]
    result.reported = _reported_measures(result.stdout)
    reported = _reported_created(result.stdout)
    if reported is not None and reported != result.created:
        result.notes.append(f"summary says created={reported}, catalog gained {result.created}")
    failures = _reported_item_failures(result.stdout)
    if failures:
        result.notes.append(f"batchItemFailures name {failures} messages")
    return result


def _answer(stdout: str) -> Any:
    """The run's answer: its last line (the metric lines the handler logs come before it)."""
    lines = stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None


def _reported_created(stdout: str) -> int | None:
    """The summary's created total (a chain of invocations: the sum of theirs)."""
    answer = _answer(stdout)
    summaries = answer if isinstance(answer, list) else [answer]
    try:
        return sum(int(s["totals"]["created"]) for s in summaries)
    except (KeyError, TypeError):
        return None


def _reported_measures(stdout: str) -> dict[str, Any]:
    """What a peer measured itself (`"bench"` in its output: F1's critical path, say); for a
    chain that prints its summaries, how many invocations it took."""
    answer = _answer(stdout)
    if isinstance(answer, list) and all(isinstance(a, dict) and "totals" in a for a in answer):
        return {"invocations": len(answer)}
    measures = answer.get("bench") if isinstance(answer, dict) else None
    return measures if isinstance(measures, dict) else {}


def _reported_item_failures(stdout: str) -> int:
    """Messages an event run handed back to SQS (the responses are a list, one per batch)."""
    try:
        return sum(len(r.get("batchItemFailures") or []) for r in _answer(stdout))
    except (TypeError, AttributeError):
        return 0


def run_setting(
    latency_ms: float,
    rounds: int,
    chosen: list[Scenario],
    systems: list[System],
    context: tuple[Launcher, MotoState, StrictLayer, float],
    load_us: float = HEADLINE_LOAD_US,
) -> dict[str, Any]:
    """Every system on every scenario, `rounds` times, under one latency setting."""
    launcher, state, layer, timeout_s = context
    layer.strictness.load_cost_us = load_us
    print(
        f"\n--- {latency_ms:g} ms per call, {load_us:g} µs per partition loaded, "
        f"{rounds} round(s) ---",
        flush=True,
    )
    # Rounds outermost: every scenario and system is measured once per round, so that a
    # change in the machine's load touches S1 and S1L (whose ratio is a target) alike.
    headline = latency_ms == HEADLINE_LATENCY_MS
    runs: dict[str, dict[str, list[RunResult]]] = {
        scn.name: {s.name: [] for s in systems if s.runs(scn) and (headline or not s.headline_only)}
        for scn in chosen
    }
    for rnd in range(1, rounds + 1):
        for scenario in chosen:
            if scenario.heavy and rnd > 1:  # S7's runs take minutes: one round keeps the budget
                continue
            for system in systems:
                if system.name not in runs[scenario.name]:
                    continue
                tag = f"{latency_ms:g}ms-{scenario.name}-{system.name}-{rnd}"
                r = measure(launcher, system, scenario, state, layer, tag, timeout_s, latency_ms)
                runs[scenario.name][system.name].append(r)
                print(
                    f"{tag:<36}{r.wall_s:>7.2f} s {sum(r.calls.values()):>6} calls "
                    f"{r.created:>5} created {'ok' if r.correct else 'WRONG'}"
                    + (f"  {r.notes[0][:160]}" if r.notes else ""),
                    flush=True,
                )
    scenarios: dict[str, Any] = {}
    for scenario in chosen:
        entry: dict[str, Any] = {
            "lower_bound_calls": scenario.lower_bound_calls,
            "expected_new": scenario.expected_new,
        }
        if scenario.notifications:
            entry["event_lower_bound_calls"] = scenario.event_lower_bound_calls
        entry["systems"] = {n: report.summarize(rs) for n, rs in runs[scenario.name].items()}
        scenarios[scenario.name] = entry
    return {"latency_ms": latency_ms, "load_us": load_us, "rounds": rounds, "scenarios": scenarios}


def _numbers(text: str, kind: type) -> list[Any]:
    """Comma-separated numbers; whole floats become ints, so results say `"latency_ms": 50`."""
    values = [kind(x) for x in text.split(",") if x.strip()]
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        default="S1,S1L,S2,S3,S4,S5,S6,E1,F1,S7,S7T",
        help="comma-separated; e.g. S7,S7T for the big table alone",
    )
    parser.add_argument("--systems", default=",".join(s.name for s in SYSTEMS))
    parser.add_argument(
        "--latency-ms",
        default=f"{HEADLINE_LATENCY_MS},0",
        help="modelled round trip per API call, one run per comma-separated value",
    )
    parser.add_argument(
        "--rounds",
        default="3,1",
        help="interleaved runs per system, per latency setting (one value: the same for all)",
    )
    parser.add_argument(
        "--load-us",
        default=f"{HEADLINE_LOAD_US},0",
        help="cost of each partition a GetPartitions loads, one value per --latency-ms value",
    )
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument(
        "--report", type=Path, nargs="+", help="print the report of saved results files"
    )
    parser.add_argument("--markdown", action="store_true", help="with --report: as Markdown")
    parser.add_argument(
        "--charts", type=Path, nargs="+", help="draw bench/'s SVG charts from saved results files"
    )
    return parser


def _per_setting(
    parser: argparse.ArgumentParser, text: str, kind: type, count: int, name: str, least: float
) -> list[Any]:
    """A comma-separated option with one value for all settings or one per setting."""
    values = _numbers(text, kind)
    if len(values) == 1:
        values *= count
    if len(values) != count or min(values) < least:
        parser.error(f"{name} needs one value from {least:g}, or one per --latency-ms value")
    return values


def _systems(wanted: list[str], main_present: bool) -> list[System]:
    """The chosen systems that can run here."""
    systems = [s for s in SYSTEMS if s.name in wanted]
    if not main_present:
        print("main.py is not there yet: this project's systems are left out")
        systems = [s for s in systems if not s.name.startswith("this-")]
    if any(s.name.startswith("glutil") for s in systems) and not ensure_glutil():
        print(f"could not install {GLUTIL_REQUIREMENT}: glutil is left out")
        systems = [s for s in systems if not s.name.startswith("glutil")]
    return systems


def _write(results: dict[str, Any], everything: bool) -> list[str]:
    """One setting's results file (bench/ for a complete run, with the charts at the headline;
    bench/.work/ otherwise); the paths written."""
    latency_ms = results["latency_ms"]
    complete = everything and results["rounds"] >= MIN_ROUNDS.get(latency_ms, MIN_ROUNDS_OTHER)
    out = results_path(latency_ms)
    if not complete:
        out = WORK / f"results-partial-{latency_ms:g}ms-{results['load_us']:g}us.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    written = [out]
    if complete and latency_ms == HEADLINE_LATENCY_MS:
        written += charts.write_charts(results, BENCH)
    return [str(p.relative_to(ROOT)) for p in written]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.charts:
        saved = [json.loads(path.read_text()) for path in args.charts]
        drawn = charts.write_charts(charts.merged(saved), BENCH)
        print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in drawn))
        return 0
    if args.report:
        saved = [json.loads(path.read_text()) for path in args.report]
        print("\n\n".join(report.markdown(r) if args.markdown else report.render(r) for r in saved))
        return 0
    latencies = _numbers(args.latency_ms, float)
    rounds = _per_setting(parser, args.rounds, int, len(latencies), "--rounds", 1)
    loads = _per_setting(parser, args.load_us, float, len(latencies), "--load-us", 0)

    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    main_present = (ROOT / "main.py").exists()
    systems = _systems(args.systems.split(","), main_present)

    launcher = Launcher()
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    all_scenarios = build_scenarios()
    chosen = [all_scenarios[n] for n in args.scenarios.split(",")]
    memoize_moto_timestamps()
    index_moto_listings()
    skip_moto_sqs_counts_on_send()
    try:
        with moto_behind_layer(BENCH_STRICTNESS) as layer:
            endpoint = layer.endpoint
            state = MotoState(DEFAULT_ACCOUNT_ID, get_backend)
            layer.partition_source = state.partition_dicts
            t = time.perf_counter()
            objects = state.seed_s3(chosen)
            print(
                f"moto server on {endpoint}; seeded {objects:,} objects in "
                f"{time.perf_counter() - t:.1f} s",
                flush=True,
            )
            for scenario in chosen:
                state.reset(scenario)
            # ~100,000 seeded objects never die: keep the server's garbage collector from walking
            # them again and again while it serves (pauses that would land on whoever runs then).
            gc.freeze()
            write_event_batches(chosen)
            warm_up(endpoint, chosen[0], state, main_present)
            cold = cold_start(endpoint, args.cold_runs) if main_present else {}
            settings = []
            for latency_ms, n, load_us in zip(latencies, rounds, loads, strict=True):
                context = (launcher, state, layer, args.timeout)
                measured = run_setting(latency_ms, n, chosen, systems, context, load_us)
                settings.append({**measured, "machine": machine(), "cold_start": cold})
    finally:
        launcher.close()

    everything = len(chosen) == len(all_scenarios) and len(systems) == len(SYSTEMS)
    written = [path for results in settings for path in _write(results, everything)]
    print("\n\n".join(report.render(results) for results in settings))
    revision = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"\nmeasured at {revision or 'unknown revision'}; wrote {', '.join(written)}; "
        f"whole run {time.perf_counter() - started:.0f} s, load average now "
        f"{os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
