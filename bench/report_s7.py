"""S7's targets (issue 14): one table of 100,000 partitions.

- the second incremental run (its partition indexes in place) costs at most 1.2x the same run on
  S7T, the copy with a tenth of the history;
- a full reconcile is at least 3x faster with the default segments than with one;
- the full reconcile's peak RSS stays within 512 MB;
- a full reconcile cut by the deadline twice ends exactly right;
- every run of every system on S7 and S7T leaves the exact catalog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

INDEXED = "this-incremental-indexed"
FULL = "this-full"
ONE_SEGMENT = "this-full-1-segment"
CUT = "this-full-cut"
MAX_GROWTH = 1.2
MIN_SEGMENT_SPEEDUP = 3.0
MAX_RSS_MB = 512


@dataclass
class S7Verdict:
    """A target's result, in the shape of report.Verdict (kept apart to avoid a cycle)."""

    target: str
    passed: bool | None
    detail: str


def _system(results: dict[str, Any], scenario: str, system: str) -> dict[str, Any] | None:
    return results["scenarios"].get(scenario, {}).get("systems", {}).get(system)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def evaluate(results: dict[str, Any]) -> list[S7Verdict]:
    """S7's targets; none when S7 was not run."""
    if "S7" not in results["scenarios"]:
        return []
    return [_growth(results), _segments(results), _rss(results), _cut(results), _all(results)]


def _growth(results: dict[str, Any]) -> S7Verdict:
    big, small = _system(results, "S7", INDEXED), _system(results, "S7T", INDEXED)
    target = f"S7 second incremental run <= {MAX_GROWTH}x the same run on S7T (a tenth)"
    if not big or not small:
        return S7Verdict(target, None, "not measured (run S7 and S7T)")
    r = _ratio(big["wall_s_median"], small["wall_s_median"])
    ok = r <= MAX_GROWTH and big["correct"] and small["correct"]
    detail = (
        f"{big['wall_s_median']:.2f} s vs {small['wall_s_median']:.2f} s = {r:.2f}x; calls "
        f"{big['api_calls']} vs {small['api_calls']}"
    )
    return S7Verdict(target, ok, detail)


def _segments(results: dict[str, Any]) -> S7Verdict:
    full, one = _system(results, "S7", FULL), _system(results, "S7", ONE_SEGMENT)
    target = f"S7 full reconcile >= {MIN_SEGMENT_SPEEDUP:g}x faster with the default segments"
    if not full or not one:
        return S7Verdict(target, None, "not measured")
    r = _ratio(one["wall_s_median"], full["wall_s_median"])
    ok = r >= MIN_SEGMENT_SPEEDUP and full["correct"] and one["correct"]
    detail = f"1 segment {one['wall_s_median']:.2f} s / default {full['wall_s_median']:.2f} s"
    return S7Verdict(target, ok, f"{detail} = {r:.2f}x")


def _rss(results: dict[str, Any]) -> S7Verdict:
    full = _system(results, "S7", FULL)
    target = f"S7 full reconcile peak RSS <= {MAX_RSS_MB} MB"
    if not full:
        return S7Verdict(target, None, "not measured")
    return S7Verdict(target, full["peak_rss_mb"] <= MAX_RSS_MB, f"{full['peak_rss_mb']:.0f} MB")


def _cut(results: dict[str, Any]) -> S7Verdict:
    """On S7 when it was run there (alone), else on S7T (make bench)."""
    name = "S7" if _system(results, "S7", CUT) else "S7T"
    cut = _system(results, name, CUT)
    target = f"{name} full reconcile cut by the deadline twice ends exactly right"
    if not cut:
        return S7Verdict(target, None, "not measured")
    expected = results["scenarios"][name]["expected_new"]
    links = cut.get("reported", {}).get("invocations")
    ok = cut["correct"] and cut["created"] == expected and (links is None or links >= 3)
    detail = f"created {cut['created']} of {expected}; correct {cut['correct']}; " + (
        f"{links} invocations" if links is not None else "invocations not recorded"
    )
    return S7Verdict(target, ok, detail)


def _all(results: dict[str, Any]) -> S7Verdict:
    wrong = [
        f"{name}/{system}"
        for name in ("S7", "S7T")
        for system, s in results["scenarios"].get(name, {}).get("systems", {}).items()
        if not s["correct"]
    ]
    detail = "all correct" if not wrong else "wrong: " + ", ".join(wrong)
    return S7Verdict("S7 and S7T: every run of every system correct", not wrong, detail)
