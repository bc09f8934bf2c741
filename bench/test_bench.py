"""Fast checks of the benchmark's own arithmetic: the lower bounds, the catalog comparison, the
scenario shapes the issues ask for, the S3 notifications, the latency model, the target verdicts,
F1's fan-out against a chain (its shape, its schedule, its verdicts) and the moto patches that
must change no response. Part of `make test`; alone:
`.venv/bin/python -m pytest bench/test_bench.py`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import charts, report_s7
from bench.report import evaluate, growth, s3_calls, summarize
from bench.run import (
    BENCH_STRICTNESS,
    _numbers,
    _reported_created,
    _reported_item_failures,
    _reported_measures,
    results_path,
)
from bench.scenarios import (
    Partition,
    TableSpec,
    branch_lower_bound,
    build_scenarios,
    compare,
    lower_bound_calls,
    s3_notification,
    sqs_batches,
)
from bench.systems import BENCH, F1_BATCH_SIZE, ROOT, SYSTEMS, RunResult, child_env
from tests.strictlayer import moto_behind_layer

NOW = datetime(2026, 3, 1, 2, 40, tzinfo=UTC)


def test_lower_bound_counts_reads_listings_and_creates_per_table() -> None:
    assert lower_bound_calls([(24, 6)]) == 4
    assert lower_bound_calls([(0, 0)]) == 3  # still one listing to learn nothing is new
    assert lower_bound_calls([(5000, 5000)]) == 2 + 5 + 50
    assert lower_bound_calls([(1001, 101)]) == 2 + 2 + 2


def test_branch_lower_bound_finds_lists_and_creates_per_branch() -> None:
    one_level = [(f"r{i}",) for i in range(17)]
    # 2 reads, 1 Delimiter listing for 17 branches, 17 branch listings, 1 create
    assert branch_lower_bound(one_level, [20] * 17, 17) == 2 + 1 + 17 + 1
    # a branch with nothing new still costs one listing; 2,500 new objects cost 3
    assert branch_lower_bound([("a",), ("b",)], [0, 2500], 5) == 2 + 1 + 1 + 3 + 1
    many = [(f"c{i:05d}",) for i in range(1001)]
    assert branch_lower_bound(many, [1] * 1001, 1001) == 2 + 2 + 1001 + 11
    # two branch keys: one listing of the first level, one per first-level value below it
    two = [("t1", "click"), ("t1", "view"), ("t2", "click")]
    assert branch_lower_bound(two, [1, 1, 1], 3) == 2 + (1 + 2) + 3 + 1


def test_compare_checks_values_and_locations() -> None:
    a = Partition(("2026", "01"), "s3://b/t/2026/01/")
    moved = Partition(("2026", "01"), "s3://b/t/2026/01")
    assert compare({a}, {a}) == (True, [])
    ok, notes = compare({a}, {moved})
    assert not ok
    assert any("missing" in n for n in notes) and any("unexpected" in n for n in notes)


@pytest.fixture(scope="module")
def scenarios() -> dict[str, Any]:
    return build_scenarios(NOW)


def test_scenario_shapes_match_the_issue(scenarios: dict[str, Any]) -> None:
    s1, s1l, s2, s3, s4 = (scenarios[n] for n in ("S1", "S1L", "S2", "S3", "S4"))
    assert [len(t.registered) for t in s1.tables] == [720] * 4
    assert [len(t.new) for t in s1.tables] == [6] * 4
    assert sum(1 for _ in s1l.tables[0].object_keys()) == (2880 + 6) * 4
    assert [(len(t.registered), len(t.new)) for t in s2.tables] == [(730, 1)] * 2
    assert len(s3.tables[0].new) == 5000 and not s3.tables[0].registered
    assert s4.expected_new == 0
    assert s4.tables[0].expected() == s1.tables[0].expected()
    assert (s1.lower_bound_calls, s2.lower_bound_calls, s3.lower_bound_calls) == (16, 8, 57)
    assert s4.lower_bound_calls == 12


def test_s5_service_logs_has_16_regions_of_history_and_a_17th_today(
    scenarios: dict[str, Any],
) -> None:
    (table,) = scenarios["S5"].tables
    assert table.keys == ("region", "year", "month", "day") and table.branch_keys == 1
    assert len(table.registered) == 16 * 90
    assert {d.values[0] for d in table.registered} == {d.values[0] for d in table.new} - {
        "eu-south-1"
    }
    assert len({d.values[0] for d in table.new}) == 17
    assert {d.values[1:] for d in table.new} == {("2026", "03", "01")}
    assert max(d.values[1:] for d in table.registered) == ("2026", "02", "28")
    assert min(d.values[1:] for d in table.registered) == ("2025", "12", "01")
    assert all(len(d.objects) == 20 for d in (*table.registered, *table.new))
    assert table.new[0].rel == "ap-northeast-1/2026/03/01/"
    assert scenarios["S5"].expected_new == 17
    assert scenarios["S5"].lower_bound_calls == 2 + 1 + 17 + 1


def test_s6_dynamic_partitioning_has_200_customers_of_72_hours(
    scenarios: dict[str, Any],
) -> None:
    (table,) = scenarios["S6"].tables
    assert table.keys == ("customer_id", "year", "month", "day", "hour")
    assert len(table.registered) == 200 * 72 and len(table.new) == 200
    assert all(len(d.objects) == 2 for d in (*table.registered, *table.new))
    assert table.new[0].rel == "customer_id=100001/year=2026/month=03/day=01/hour=02/"
    newest = max(d.values[1:] for d in table.registered)
    assert newest == ("2026", "03", "01", "01")
    assert min(d.values[1:] for d in table.registered) == ("2026", "02", "26", "02")
    assert scenarios["S6"].lower_bound_calls == 2 + 1 + 200 + 2


def test_e1_has_late_and_recent_partitions_for_10000_objects(scenarios: dict[str, Any]) -> None:
    e1 = scenarios["E1"]
    assert e1.notifications and len(e1.tables) == 4
    assert sum(len(d.objects) for t in e1.tables for d in t.new) == 10_000
    for table in e1.tables:
        assert len(table.registered) == 720 and len(table.new) == 100
        newest = max(d.rel for d in table.registered)
        late = [d for d in table.new if d.rel < newest]
        assert len(late) == 20
        registered = {d.rel for d in table.registered}
        assert not registered & {d.rel for d in table.new}
        # the late hours are holes inside the history, not before it
        assert all(min(registered) < d.rel for d in late)
        assert max(d.rel for d in table.new) == "2026/03/01/02/"
    assert len({d.rel for t in e1.tables for d in t.new if d.rel < "2026/02/27"}) > 20
    assert e1.event_lower_bound_calls == 2 + 4
    assert e1.lower_bound_calls == 4 * (2 + 3 + 1)


def _spec(prefix: str = "t/") -> TableSpec:
    return TableSpec("db", "t", "bkt", prefix, ("dt",), "json", [], [])


def test_notification_keys_are_url_encoded_as_s3_does() -> None:
    key = "t/dt=2026-01-01 10%3A00/caf\u00e9+1.json"
    body = s3_notification(_spec(), key, NOW)
    (record,) = body["Records"]
    assert record["s3"]["object"]["key"] == "t/dt%3D2026-01-01+10%253A00/caf%C3%A9%2B1.json"
    assert record["eventTime"] == "2026-03-01T02:40:00.000Z"
    assert record["s3"]["bucket"] == {
        "name": "bkt",
        "ownerIdentity": {"principalId": "AEXAMPLE"},
        "arn": "arn:aws:s3:::bkt",
    }
    assert (record["eventVersion"], record["eventSource"], record["eventName"]) == (
        "2.1",
        "aws:s3",
        "ObjectCreated:Put",
    )
    assert record["awsRegion"] == "us-east-1"
    assert {"size", "eTag", "sequencer"} <= set(record["s3"]["object"])


def test_e1_arrives_as_one_sqs_batch_of_one_notification_per_message(
    scenarios: dict[str, Any],
) -> None:
    (batch,) = sqs_batches(scenarios["E1"], NOW)
    messages = batch["Records"]
    assert len(messages) == 10_000
    first = messages[0]
    assert set(first) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert first["eventSource"] == "aws:sqs" and first["messageAttributes"] == {}
    assert first["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:raw-bench-e1-events"
    assert len({m["messageId"] for m in messages}) == 10_000
    keys = []
    for message in messages:
        (record,) = json.loads(message["body"])["Records"]
        keys.append((record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]))
    expected = {
        (t.bucket, t.prefix + d.rel + name)
        for t in scenarios["E1"].tables
        for d in t.new
        for name in d.objects
    }
    assert set(keys) == expected and len(keys) == len(expected)
    # late data lands last, in several tables
    assert keys[-1][1].startswith("firehose/") and "/2026/03/01/" not in keys[-1][1]
    small = sqs_batches(scenarios["E1"], NOW, size=3000)
    assert [len(b["Records"]) for b in small] == [3000, 3000, 3000, 1000]


def test_dates_are_relative_to_the_current_utc_hour(scenarios: dict[str, Any]) -> None:
    s1, s2 = scenarios["S1"].tables[0], scenarios["S2"].tables[0]
    assert s1.new[-1].rel == "2026/03/01/02/"
    assert s1.new[0].rel == "2026/02/28/21/"
    assert s1.registered[-1].rel == "2026/02/28/20/"
    assert s2.new[0].values == ("2026-03-01",) and s2.registered[-1].values == ("2026-02-28",)
    loc = s1.partition_input(s1.new[0])["StorageDescriptor"]["Location"]
    assert loc == s1.location + "2026/02/28/21/" and loc.endswith("/")


def test_summary_takes_medians_and_requires_every_run_correct() -> None:
    runs = [
        RunResult(
            wall_s=w, rss_mb=50 + w, exit_code=0, calls={"GetTables": 1}, created=2, correct=c
        )
        for w, c in ((3.0, True), (1.0, True), (2.0, False))
    ]
    s = summarize(runs)
    assert s["wall_s_median"] == 2.0 and s["api_calls"] == 1 and s["peak_rss_mb"] == 53.0
    assert s["correct"] is False


def _system(wall: float, calls: int, correct: bool = True, **ops: int) -> dict[str, Any]:
    return {
        "wall_s_median": wall,
        "api_calls": calls,
        "calls_by_op": ops,
        "created": 0,
        "correct": correct,
        "peak_rss_mb": 60.0,
    }


def test_verdicts_compare_against_the_best_correct_peer() -> None:
    results = {
        "scenarios": {
            "S1": {
                "lower_bound_calls": 16,
                "expected_new": 24,
                "systems": {
                    "this-incremental": _system(1.0, 13),
                    "glutil-limit1": _system(2.0, 28),
                    "glutil-full": _system(6.0, 156),
                },
            },
            "S1L": {
                "lower_bound_calls": 16,
                "expected_new": 24,
                "systems": {
                    "this-incremental": _system(1.2, 13),
                    "glutil-limit1": _system(2.0, 28),
                    "glutil-full": _system(20.0, 536),
                    "awswrangler-script": _system(3.0, 10, correct=False),
                },
            },
        },
        "cold_start": {"import_main_s": 0.5, "import_boto3_s": 0.2},
    }
    assert growth(results)["this-incremental"] == (1.0, pytest.approx(1.2))
    lines = {v.target: v for v in evaluate(results)}
    assert lines["S1->S1L growth: same calls, wall <= 1.3x"].passed
    # the wrong (if cheap) awswrangler result is not the yardstick: glutil-full is
    assert "glutil-full" in lines["S1L calls <= 1/3 of best full-scan peer"].detail
    assert lines["S1L wall <= 1/5 of best full-scan peer"].passed
    assert lines["S1 calls within 1.5x of lower bound"].passed
    assert lines["cold start: import main <= 2x import boto3"].passed is False
    assert lines["S2 vs best full-scan peer"].passed is None


def test_indexed_listing_answers_like_moto() -> None:
    """The benchmark's listing index returns moto's own pages, flags and tokens."""
    from moto import mock_aws
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import S3Backend

    from bench.moto_backend import index_moto_listings

    original = S3Backend.list_objects_v2
    with mock_aws():
        backend = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
        bucket = backend.create_bucket("bench-index", "us-east-1")
        for i in range(2500):
            backend.put_object("bench-index", f"t/{i % 7}/{i:05d}", b"x")
        backend.put_object("bench-index", "u/other", b"x")
        index_moto_listings()
        try:
            patched = S3Backend.list_objects_v2
            assert patched is not original
            cases = [
                ("t/", None, None, 1000),
                ("t/3/", None, None, 1000),
                ("t/", None, "t/2/01000", 1000),
                ("", None, "t/6/", 7),
                ("t/9", None, None, 1000),
                ("t/", None, None, 0),
            ]
            cases += [
                ("t/", "/", None, 1000),
                ("t/3/", "/", None, 1000),
                ("t/", "/", "t/2", 1000),
                ("t/", "/", "t/2/00010", 1000),  # moto's quirk with both must be kept
                ("", "/", None, 1000),
            ]
            for prefix, delimiter, start_after, max_keys in cases:
                for implementation in (original, patched):
                    got = implementation(
                        backend, bucket, prefix, delimiter, None, start_after, max_keys
                    )
                    names = [getattr(k, "name", k) for k in got[0]], got[1], got[2]
                    if implementation is original:
                        expected = names
                assert names == expected, (prefix, delimiter, start_after, max_keys)
            first = patched(backend, bucket, "t/", None, None, None, 1000)
            second = patched(backend, bucket, "t/", None, first[2], None, 1000)
            again = original(backend, bucket, "t/", None, first[2], None, 1000)
            assert [k.name for k in second[0]] == [k.name for k in again[0]]
        finally:
            S3Backend.list_objects_v2 = original


CLIENT_CALLS = """
import time, boto3
s3 = boto3.client("s3")
s3.list_buckets()  # connection set-up and first-call costs stay out of the timing
start = time.perf_counter()
for _ in range(4):
    s3.list_buckets()
print(time.perf_counter() - start)
"""


@pytest.fixture()
def endpoint() -> Iterator[str]:
    """A moto server behind the strict layer, set as the benchmark sets it, stopped after."""
    with moto_behind_layer(BENCH_STRICTNESS) as layer:
        yield layer.endpoint


def _timed_child(endpoint: str, latency_ms: float, calls: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_CALLS],
        env=child_env(endpoint, (), calls, latency_ms),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(done.stdout.strip().splitlines()[-1])


def test_latency_model_delays_every_call_in_the_child(endpoint: str, tmp_path: Path) -> None:
    calls = tmp_path / "calls.json"
    floor = _timed_child(endpoint, 0, calls)
    assert json.loads(calls.read_text()) == {"ListBuckets": 5}
    delayed = _timed_child(endpoint, 250, calls)
    assert json.loads(calls.read_text()) == {"ListBuckets": 5}
    # four calls, each blocked 250 ms in the calling thread
    assert delayed - floor >= 4 * 0.25 * 0.95
    assert delayed < 4 * 0.25 + 2


def test_results_files_and_event_responses() -> None:
    assert results_path(50) == BENCH / "results.json"
    assert results_path(0) == BENCH / "results-0ms.json"
    assert results_path(12.5) == BENCH / "results-12.5ms.json"
    assert json.dumps({"latency_ms": _numbers("50,0", float)[0]}) == '{"latency_ms": 50}'
    assert _numbers("50, 12.5", float) == [50, 12.5] and _numbers("3,1", int) == [3, 1]
    responses = [{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}, {}]
    assert _reported_item_failures(json.dumps(responses)) == 2
    assert _reported_item_failures('{"totals": {"created": 1}}') == 0
    assert _reported_item_failures("Traceback") == 0
    events = next(s for s in SYSTEMS if s.name == "this-events")
    assert dict(events.env) == {"RAW_DATABASE_PATTERN": "^raw_bench_e1$"}
    assert [s.name for s in SYSTEMS if s.runs(build_scenarios(NOW)["S6"])] == [
        "this-incremental",
        "this-full",
        "glutil-full",
        "awswrangler-script",
    ]


def _scenario(bound: int, systems: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"lower_bound_calls": bound, "expected_new": 1, **extra, "systems": systems}


def _new_targets(latency_ms: float, **changes: Any) -> dict[str, Any]:
    """Results with S1, S5, S6 and E1 where every new target passes unless `changes` say not."""
    e1 = {
        "this-incremental": _system(2.0, 21, correct=False),
        "this-full": _system(6.0, 565),
        "awswrangler-script": _system(7.0, 33),
        "this-events": _system(1.0, 6, BatchCreatePartition=4, GetTables=1, GetDatabases=1),
    }
    e1.update(changes.get("e1", {}))
    return {
        "latency_ms": latency_ms,
        "scenarios": {
            "S1": _scenario(
                16,
                {
                    "this-incremental": _system(0.6, changes.get("s1_calls", 13)),
                    "this-full": _system(changes.get("s1_full_wall", 2.0), 21),
                    "glutil-full": _system(3.0, 152),
                    "awswrangler-script": _system(4.0, 21),
                },
            ),
            "S5": _scenario(
                21,
                {
                    "this-incremental": _system(1.0, changes.get("s5_calls", 23)),
                    "this-full": _system(2.0, 120),
                    "glutil-full": _system(6.0, 104),
                },
            ),
            "S6": _scenario(
                205,
                {
                    "this-incremental": _system(2.0, 205, correct=changes.get("s6_ok", True)),
                    "this-full": _system(9.0, 1605),
                    "awswrangler-script": _system(11.0, 34),
                },
            ),
            "E1": _scenario(24, e1, event_lower_bound_calls=6),
        },
    }


def test_new_targets_pass_when_met() -> None:
    lines = {v.target: v for v in evaluate(_new_targets(50))}
    passing = [
        "S1 calls no more than before (13)",
        "S1 this-full wall <= best full-scan peer",
        "S5 catalog exactly right in every run",
        "S5 calls within 1.5x of lower bound",
        "S5 wall <= 1/5 of best full-scan peer",
        "S6 wall <= 1/5 of best full-scan peer",
        "E1 this-events catalog exactly right",
        "E1 this-events calls within 1.2x of its lower bound",
        "E1 this-events makes no S3 call",
        "E1 this-events wall <= 1/2 of best scheduled run",
        "this-incremental catalog exactly right on every scenario but E1",
        "this-events catalog exactly right on every scenario",
    ]
    assert [lines[t].mark for t in passing] == ["PASS"] * len(passing)
    assert "this-full 6.00 s" in lines["E1 this-events wall <= 1/2 of best scheduled run"].detail
    assert not any("2x faster" in t for t in lines)  # withdrawn


def test_new_targets_miss_when_not_met() -> None:
    s3_calls_made = {"this-events": _system(1.0, 7, BatchCreatePartition=4, ListObjectsV2=1)}
    results = _new_targets(
        50, s1_calls=14, s1_full_wall=3.5, s5_calls=32, s6_ok=False, e1=s3_calls_made
    )
    lines = {v.target: v for v in evaluate(results)}
    missing = [
        "S1 calls no more than before (13)",
        "S1 this-full wall <= best full-scan peer",
        "S5 calls within 1.5x of lower bound",
        "S6 catalog exactly right in every run",
        "S6 calls within 1.5x of lower bound",  # right count, wrong catalog
        "E1 this-events makes no S3 call",
        "this-incremental catalog exactly right on every scenario but E1",
    ]
    assert [lines[t].mark for t in missing] == ["MISS"] * len(missing)
    assert lines["E1 this-events calls within 1.2x of its lower bound"].passed  # 7 <= 7.2
    assert s3_calls({"ListObjectsV2": 2, "GetTables": 1, "HeadObject": 1}) == 3
    failed = _new_targets(50, e1={"this-events": _system(0.2, 0, correct=False)})
    lines = {v.target: v for v in evaluate(failed)}
    assert lines["E1 this-events catalog exactly right"].mark == "MISS"
    assert lines["E1 this-events wall <= 1/2 of best scheduled run"].mark == "MISS"


def test_headline_only_targets_are_information_at_other_latencies() -> None:
    lines = {v.target: v for v in evaluate(_new_targets(0, s5_calls=40))}
    assert lines["S5 calls within 1.5x of lower bound"].mark == "info"
    assert lines["S5 calls within 1.5x of lower bound"].passed is False
    assert lines["E1 this-events makes no S3 call"].mark == "info"
    # targets set for both latencies are still judged at 0 ms
    assert lines["S1 this-full wall <= best full-scan peer"].mark == "PASS"
    assert lines["S1 calls no more than before (13)"].mark == "PASS"


# --------------------------------------------------------------------------- F1 (issue 16)


def test_f1_is_a_lake_of_500_small_tables_with_new_data(scenarios: dict[str, Any]) -> None:
    f1 = scenarios["F1"]
    assert len(f1.tables) >= 500 and {t.database for t in f1.tables} == {f1.database}
    assert len({t.bucket for t in f1.tables}) == len(f1.tables)  # a bucket each, as elsewhere
    for table in f1.tables:
        assert (len(table.registered), len(table.new)) == (24, 2)
        assert all(len(d.objects) == 1 for d in (*table.registered, *table.new))
        assert max(d.rel for d in table.registered) < min(d.rel for d in table.new)
    assert f1.expected_new == 1000 and f1.lower_bound_calls == 500 * (2 + 1 + 1)
    runs = {s.name for s in SYSTEMS if s.runs(f1)}
    assert runs == {"this-chain", "this-fanout"}
    others = [n for n in scenarios if n != "F1"]
    assert not [s.name for s in SYSTEMS if s.name in runs for n in others if s.runs(scenarios[n])]
    assert F1_BATCH_SIZE % 4 == 0  # whole rounds of the default TABLE_CONCURRENCY


def _peer(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, BENCH / "peers" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_fan_out_invocations_are_scheduled_onto_the_first_free_worker() -> None:
    makespan = _peer("this_fanout").makespan
    assert makespan([1.0] * 20, 10) == 2.0
    assert makespan([3.0, 1.0, 1.0, 1.0], 2) == 3.0  # the other worker takes the three short ones
    assert makespan([1.0, 1.0, 1.0], 10) == 1.0 and makespan([], 10) == 0.0


def test_a_chain_link_stops_when_its_budget_is_spent() -> None:
    deadline = _peer("this_chain").Deadline(0.05)
    assert 0 < deadline.get_remaining_time_in_millis() <= 50
    time.sleep(0.06)
    assert deadline.get_remaining_time_in_millis() == 0


def _f1(fan_path: float, chain_path: float, fan_calls: int, ok: bool = True) -> dict[str, Any]:
    fan = {**_system(90.0, fan_calls, correct=ok), "critical_path_s_median": fan_path}
    chain = {**_system(50.0, 1520), "critical_path_s_median": chain_path}
    systems = {"this-chain": chain, "this-fanout": fan}
    return {"latency_ms": 50, "scenarios": {"F1": _scenario(2000, systems)}}


def test_f1_targets_pass_and_miss_on_critical_path_calls_and_catalog() -> None:
    critical = "F1 fan-out critical path <= 1/5 of the chain's"
    calls = "F1 fan-out calls <= 1.1x the chain's"
    right = "F1 catalog exactly right, fan-out and chain"
    met = {v.target: v.mark for v in evaluate(_f1(8.0, 51.0, 1551))}
    assert (met[critical], met[calls], met[right]) == ("PASS", "PASS", "PASS")
    slow = {v.target: v.mark for v in evaluate(_f1(11.0, 51.0, 1551))}
    assert slow[critical] == "MISS" and slow[calls] == "PASS"
    costly = {v.target: v.mark for v in evaluate(_f1(8.0, 51.0, 1700))}
    assert costly[calls] == "MISS"
    wrong = {v.target: v.mark for v in evaluate(_f1(8.0, 51.0, 1551, ok=False))}
    assert set(wrong[t] for t in (critical, calls, right)) == {"MISS"}
    floor = {v.target: v.mark for v in evaluate({**_f1(8.0, 51.0, 1551), "latency_ms": 0})}
    assert floor[critical] == "info"


def test_f1_summary_keeps_the_peers_own_critical_path() -> None:
    runs = [
        RunResult(wall_s=60.0 + i, rss_mb=70, exit_code=0, calls={"GetTables": 1}, correct=True)
        for i in range(3)
    ]
    for run, path in zip(runs, (8.0, 6.0, 9.0), strict=True):
        run.reported = {"critical_path_s": path, "invocations": 64}
    summary = summarize(runs)
    assert summary["critical_path_s_median"] == 8.0 and summary["reported"]["invocations"] == 64
    assert "critical_path_s_median" not in summarize([RunResult(1.0, 1.0, 0, correct=True)])
    assert _reported_measures('{"bench": {"critical_path_s": 1.5}}') == {"critical_path_s": 1.5}
    assert _reported_measures('{"totals": {}}') == {} and _reported_measures("[{}]") == {}
    assert _reported_measures("Traceback") == {}


def test_the_answer_is_read_after_the_metric_lines() -> None:
    """The handler logs its metrics (EMF) to stdout before the summary, which is the last line;
    a chain's last line is the list of its summaries: their sum, and how many there were."""
    metrics = json.dumps({"_aws": {"CloudWatchMetrics": []}, "PartitionsCreated": [3.0]})
    one = json.dumps({"totals": {"created": 3}})
    assert _reported_created(f"{metrics}\n{one}\n") == 3
    chain = json.dumps([{"totals": {"created": 2}}, {"totals": {"created": 1}}])
    assert _reported_created(f"{metrics}\n{metrics}\n{chain}") == 3
    assert _reported_measures(f"{metrics}\n{chain}") == {"invocations": 2}
    assert _reported_created(f"{one}\nTraceback") is None and _reported_created("") is None


def test_skipping_queue_counts_on_send_changes_no_sqs_answer() -> None:
    """The bench server's SQS patch: the same messages, attributes and counts as moto's own."""
    import boto3
    from moto import mock_aws
    from moto.sqs.models import Queue, SQSBackend

    from bench.moto_backend import skip_moto_sqs_counts_on_send

    def session() -> list[Any]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
        fifo = sqs.create_queue(
            QueueName="f.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": f"m{i % 3}"} for i in range(6)]
        sqs.send_message_batch(QueueUrl=plain, Entries=entries)
        for entry in entries:  # duplicates within the window are dropped on a FIFO queue
            sqs.send_message(QueueUrl=fifo, MessageBody=entry["MessageBody"], MessageGroupId="g")
        sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=2, VisibilityTimeout=30)
        seen = []
        for url in (plain, fifo):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            counts = {k: v for k, v in attributes["Attributes"].items() if "Number" in k}
            bodies = sorted(
                m["Body"]
                for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
            )
            seen.append((counts, bodies))
        return seen

    original = (Queue.attributes, SQSBackend.send_message)
    try:
        with mock_aws():
            before = session()
        skip_moto_sqs_counts_on_send()
        assert SQSBackend.send_message is not original[1]
        with mock_aws():
            after = session()
    finally:
        Queue.attributes, SQSBackend.send_message = original  # type: ignore[method-assign]
    assert after == before
    assert before[0][0]["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert len(before[1][1]) == 3  # the FIFO queue deduplicated by content


def test_s7_is_one_table_of_100000_partitions_and_s7t_a_tenth(scenarios: dict[str, Any]) -> None:
    s7, s7t = scenarios["S7"], scenarios["S7T"]
    (big,), (small,) = s7.tables, s7t.tables
    assert len(big.registered) == 100_000 and len(small.registered) == 10_000
    assert len(big.new) == len(small.new) == 52 * 12
    assert len({d.values[0] for d in big.new}) == 52
    assert len({d.values[0] for d in big.registered}) == 50
    assert s7.heavy and s7t.heavy and s7.lower_bound_calls == s7t.lower_bound_calls
    names = [s.name for s in SYSTEMS if s.runs(s7)]
    assert "glutil-full" not in names and "this-full-1-segment" in names
    assert "this-full-cut" in [s.name for s in SYSTEMS if s.runs(s7t)]
    first = next(s for s in SYSTEMS if s.name == "this-incremental")
    assert not first.starts_indexed(s7) and first.starts_indexed(scenarios["S1"])


def _s7(**systems: dict[str, Any]) -> dict[str, Any]:
    def scenario(**named: dict[str, Any]) -> dict[str, Any]:
        return {"lower_bound_calls": 62, "expected_new": 624, "systems": named}

    ok = {"wall_s_median": 10.0, "api_calls": 70, "correct": True, "peak_rss_mb": 300}
    ok["created"] = 624
    s7 = {name: {**ok, **values} for name, values in systems.items()}
    return {
        "latency_ms": 50,
        "scenarios": {
            "S7": scenario(**s7),
            "S7T": scenario(**{"this-incremental-indexed": {**ok, "wall_s_median": 9.0}}),
        },
    }


def test_s7_targets_pass_when_met() -> None:
    results = _s7(
        **{
            "this-incremental-indexed": {"wall_s_median": 10.0},
            "this-full": {"wall_s_median": 10.0},
            "this-full-1-segment": {"wall_s_median": 31.0},
            "this-full-cut": {"reported": {"invocations": 3}},
        }
    )
    verdicts = {v.target: v.passed for v in report_s7.evaluate(results)}
    assert all(verdicts.values()), verdicts


def test_s7_cut_misses_when_the_deadline_never_cut_it() -> None:
    """Every partition and a right catalog in one invocation means the deadline cut nothing."""
    results = _s7(**{"this-full-cut": {"reported": {"invocations": 1}}})
    cut = [v for v in report_s7.evaluate(results) if "cut" in v.target]
    assert [v.passed for v in cut] == [False] and "1 invocations" in cut[0].detail


def test_s7_targets_miss_when_not_met() -> None:
    results = _s7(
        **{
            "this-incremental-indexed": {"wall_s_median": 20.0},
            "this-full": {"wall_s_median": 10.0, "peak_rss_mb": 600},
            "this-full-1-segment": {"wall_s_median": 20.0},
            "this-full-cut": {"created": 600},
        }
    )
    verdicts = [v.passed for v in report_s7.evaluate(results)]
    assert verdicts == [False, False, False, False, True]


def test_charts_are_written_as_svg(tmp_path: Path) -> None:
    results = _s7(**{"this-incremental-indexed": {}, "this-full": {}})
    drawn = charts.write_charts(results, tmp_path)
    assert [p.name for p in drawn] == list(charts.CHARTS)
    assert all(p.read_text().lstrip().startswith("<?xml") for p in drawn)
