"""Fast checks of the benchmark's own arithmetic: the lower bound, the catalog comparison, the
scenario shapes the issue asks for, and the target verdicts. Run with
`.venv/bin/python -m pytest bench/test_bench.py` (not part of `make test`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.report import evaluate, growth, summarize
from bench.scenarios import Partition, build_scenarios, compare, lower_bound_calls
from bench.systems import RunResult

NOW = datetime(2026, 3, 1, 2, 40, tzinfo=UTC)


def test_lower_bound_counts_reads_listings_and_creates_per_table() -> None:
    assert lower_bound_calls([(24, 6)]) == 4
    assert lower_bound_calls([(0, 0)]) == 3  # still one listing to learn nothing is new
    assert lower_bound_calls([(5000, 5000)]) == 2 + 5 + 50
    assert lower_bound_calls([(1001, 101)]) == 2 + 2 + 2


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

    from bench.scenarios import index_moto_listings

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
