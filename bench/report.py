"""From runs to results: the summary per system (the shape of bench/results.json), the printed
table, growth factors S1 -> S1L, and a PASS/MISS verdict for each target of issue 4.

Everything after the summary reads only results.json-shaped dicts, so a saved results.json can be
re-reported (`python bench/run.py --report bench/results.json`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.systems import RunResult

THIS = "this-incremental"
FULL_SCAN_PEERS = ("glutil-full", "awswrangler-script")


def summarize(runs: list[RunResult]) -> dict[str, Any]:
    """Median wall time; calls of the run with the median call count (they are the same in every
    run unless something retried); correct only if every run was; the largest peak RSS."""
    by_calls = sorted(runs, key=lambda r: sum(r.calls.values()))
    middle = by_calls[len(by_calls) // 2]
    summary: dict[str, Any] = {
        "wall_s_median": round(statistics.median(r.wall_s for r in runs), 3),
        "api_calls": sum(middle.calls.values()),
        "calls_by_op": dict(sorted(middle.calls.items(), key=lambda kv: (-kv[1], kv[0]))),
        "created": middle.created,
        "correct": all(r.correct for r in runs),
        "peak_rss_mb": round(max(r.rss_mb for r in runs), 1),
    }
    notes = sorted({n for r in runs for n in r.notes})
    if notes:
        summary["notes"] = notes[:6]
    return summary


def best_peer(scenario: dict[str, Any], metric: str) -> tuple[str, float] | None:
    """The best full-scan peer by `metric` among those that got the right answer."""
    candidates = [
        (name, float(s[metric]))
        for name, s in scenario["systems"].items()
        if name in FULL_SCAN_PEERS and s.get("correct")
    ]
    return min(candidates, key=lambda c: c[1]) if candidates else None


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def growth(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(calls, wall) growth from S1 to S1L for every system that ran both."""
    s1 = results["scenarios"].get("S1", {}).get("systems", {})
    s1l = results["scenarios"].get("S1L", {}).get("systems", {})
    return {
        name: (
            _ratio(s1l[name]["api_calls"], s1[name]["api_calls"]),
            _ratio(s1l[name]["wall_s_median"], s1[name]["wall_s_median"]),
        )
        for name in s1
        if name in s1l
    }


@dataclass
class Verdict:
    """One target of the issue, with the measured ratio behind it; passed None = not measured."""

    target: str
    passed: bool | None
    detail: str

    def line(self) -> str:
        mark = {True: "PASS", False: "MISS", None: "n/a "}[self.passed]
        return f"{mark}  {self.target}: {self.detail}"


def _this(results: dict[str, Any], scenario: str, system: str = THIS) -> dict[str, Any] | None:
    return results["scenarios"].get(scenario, {}).get("systems", {}).get(system)


def _wrong(s: dict[str, Any]) -> str:
    return "" if s["correct"] else " (WRONG catalog)"


def evaluate(results: dict[str, Any]) -> list[Verdict]:
    """Every target of issue 4 as PASS/MISS with its ratio. A wrong catalog is always a MISS."""
    verdicts: list[Verdict] = []
    s1, s1l = _this(results, "S1"), _this(results, "S1L")
    if s1 and s1l:
        calls_g, wall_g = growth(results)[THIS]
        ok = (
            s1l["api_calls"] <= s1["api_calls"]
            and wall_g <= 1.3
            and s1["correct"]
            and s1l["correct"]
        )
        verdicts.append(
            Verdict(
                "S1->S1L growth: same calls, wall <= 1.3x",
                ok,
                f"calls {s1['api_calls']} -> {s1l['api_calls']} ({calls_g:.2f}x), "
                f"wall {wall_g:.2f}x" + _wrong(s1l),
            )
        )
    else:
        verdicts.append(Verdict("S1->S1L growth", None, "not measured"))

    for name in ("S1L", "S2"):
        this = _this(results, name)
        peer_calls = best_peer(results["scenarios"].get(name, {"systems": {}}), "api_calls")
        peer_wall = best_peer(results["scenarios"].get(name, {"systems": {}}), "wall_s_median")
        if not this or not peer_calls or not peer_wall:
            verdicts.append(Verdict(f"{name} vs best full-scan peer", None, "not measured"))
            continue
        rc = _ratio(this["api_calls"], peer_calls[1])
        rw = _ratio(this["wall_s_median"], peer_wall[1])
        verdicts.append(
            Verdict(
                f"{name} calls <= 1/3 of best full-scan peer",
                rc <= 1 / 3 and this["correct"],
                f"{this['api_calls']} vs {peer_calls[0]} {peer_calls[1]:.0f} = {rc:.3f}x"
                + _wrong(this),
            )
        )
        verdicts.append(
            Verdict(
                f"{name} wall <= 1/5 of best full-scan peer",
                rw <= 1 / 5 and this["correct"],
                f"{this['wall_s_median']:.2f} s vs {peer_wall[0]} {peer_wall[1]:.2f} s = {rw:.3f}x"
                + _wrong(this),
            )
        )

    for name in ("S1", "S1L", "S4"):
        this, peer = _this(results, name), _this(results, name, "glutil-limit1")
        if not this or not peer:
            verdicts.append(Verdict(f"{name} vs glutil-limit1", None, "not measured"))
            continue
        rc = _ratio(this["api_calls"], peer["api_calls"])
        rw = _ratio(this["wall_s_median"], peer["wall_s_median"])
        verdicts.append(
            Verdict(
                f"{name} no more calls and wall than glutil-limit1",
                rc <= 1 and rw <= 1 and this["correct"],
                f"calls {this['api_calls']} vs {peer['api_calls']} ({rc:.2f}x), wall "
                f"{this['wall_s_median']:.2f} vs {peer['wall_s_median']:.2f} s ({rw:.2f}x)"
                + _wrong(this),
            )
        )

    for name in ("S1", "S1L", "S2", "S4"):
        this = _this(results, name)
        if not this:
            verdicts.append(
                Verdict(f"{name} calls within 1.5x of lower bound", None, "not measured")
            )
            continue
        bound = results["scenarios"][name]["lower_bound_calls"]
        r = _ratio(this["api_calls"], bound)
        verdicts.append(
            Verdict(
                f"{name} calls within 1.5x of lower bound",
                r <= 1.5 and this["correct"],
                f"{this['api_calls']} vs {bound} = {r:.2f}x" + _wrong(this),
            )
        )

    this, peer = _this(results, "S3"), _this(results, "S3", "awswrangler-script")
    if this and peer:
        r = _ratio(this["wall_s_median"], peer["wall_s_median"])
        creates = this["calls_by_op"].get("BatchCreatePartition", 0)
        want = math.ceil(results["scenarios"]["S3"]["expected_new"] / 100)
        verdicts.append(
            Verdict(
                "S3 at least 2x faster than the awswrangler script",
                r <= 0.5 and this["correct"],
                f"{this['wall_s_median']:.2f} vs {peer['wall_s_median']:.2f} s "
                f"= {1 / r:.2f}x faster" + _wrong(this),
            )
        )
        verdicts.append(
            Verdict(
                f"S3 exactly {want} BatchCreatePartition calls",
                creates == want,
                f"{creates}",
            )
        )
        verdicts.append(
            Verdict(
                "S3 peak RSS under 300 MB",
                this["peak_rss_mb"] < 300,
                f"{this['peak_rss_mb']:.1f} MB",
            )
        )
    else:
        verdicts.append(Verdict("S3 targets", None, "not measured"))

    cold = results.get("cold_start") or {}
    if cold.get("import_main_s") and cold.get("import_boto3_s"):
        r = cold["import_main_s"] / cold["import_boto3_s"]
        verdicts.append(
            Verdict(
                "cold start: import main <= 2x import boto3",
                r <= 2,
                f"{cold['import_main_s']:.3f} vs {cold['import_boto3_s']:.3f} s = {r:.2f}x",
            )
        )
    else:
        verdicts.append(Verdict("cold start", None, "not measured"))

    for system in (THIS, "this-full"):
        ran = {
            n: s["systems"][system]
            for n, s in results["scenarios"].items()
            if system in s["systems"]
        }
        if ran:
            wrong = [n for n, s in ran.items() if not s["correct"]]
            verdicts.append(
                Verdict(
                    f"{system} catalog exactly right on every scenario",
                    not wrong,
                    "all correct" if not wrong else "wrong on " + ", ".join(wrong),
                )
            )
    return verdicts


def _top_ops(calls: dict[str, int], n: int = 4) -> str:
    return ", ".join(f"{op} {c}" for op, c in list(calls.items())[:n])


def table(results: dict[str, Any]) -> str:
    """The side-by-side table: absolute numbers plus ratios to the best correct full-scan peer and
    to the lower bound."""
    head = (
        f"{'system':<20}{'wall s':>8}{'x peer':>8}{'calls':>7}{'x peer':>8}{'x LB':>7}"
        f"{'created':>9}{'ok':>5}{'RSS MB':>8}  calls by operation"
    )
    lines = []
    for name, scn in results["scenarios"].items():
        lines.append(
            f"\n{name}: lower bound {scn['lower_bound_calls']} calls, "
            f"{scn['expected_new']} new partitions"
        )
        lines.append(head)
        for system, s, xw, xc, xlb in _rows(scn):
            lines.append(
                f"{system:<20}{s['wall_s_median']:>8.2f}{xw:>8}{s['api_calls']:>7}{xc:>8}"
                f"{xlb:>7.2f}{s['created']:>9}{'yes' if s['correct'] else 'NO':>5}"
                f"{s['peak_rss_mb']:>8.1f}  {_top_ops(s['calls_by_op'])}"
            )
            lines.extend(f"{'':<20}note: {n}" for n in s.get("notes", []))
    return "\n".join(lines)


def _rows(scn: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, str, float]]:
    """Each system of a scenario with its wall and calls relative to the best peer, and its calls
    relative to the lower bound."""
    peer_w, peer_c = best_peer(scn, "wall_s_median"), best_peer(scn, "api_calls")
    for system, s in scn["systems"].items():
        xw = f"{_ratio(s['wall_s_median'], peer_w[1]):.2f}" if peer_w else "-"
        xc = f"{_ratio(s['api_calls'], peer_c[1]):.2f}" if peer_c else "-"
        yield system, s, xw, xc, _ratio(s["api_calls"], scn["lower_bound_calls"])


def growth_table(results: dict[str, Any]) -> str:
    lines = [f"{'system':<20}{'calls S1->S1L':>15}{'wall S1->S1L':>15}"]
    for system, (c, w) in growth(results).items():
        lines.append(f"{system:<20}{c:>14.2f}x{w:>14.2f}x")
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    """Everything `make bench` prints after the runs."""
    cold = results.get("cold_start") or {}
    parts = [
        f"machine: {results.get('machine', '?')}",
        table(results),
        "\nGrowth from S1 (720 h registered) to S1L (2,880 h), 4x the history:",
        growth_table(results),
    ]
    if cold:
        parts.append(
            f"\ncold start (median of fresh processes): import main "
            f"{cold.get('import_main_s')} s, import boto3 {cold.get('import_boto3_s')} s"
        )
    parts.append("\nTargets (issue 4):")
    parts.extend(v.line() for v in evaluate(results))
    return "\n".join(parts)


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables (ratios first), for the README."""
    lines = [
        f"Measured on: {results.get('machine', '?')}.",
        "",
        "| scenario | system | wall x best peer | calls x best peer | calls x lower bound "
        "| calls | wall s | created | correct | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name, scn in results["scenarios"].items():
        for system, s, xw, xc, xlb in _rows(scn):
            lines.append(
                f"| {name} | {system} | {xw} | {xc} | {xlb:.2f} | {s['api_calls']} "
                f"| {s['wall_s_median']:.2f} | {s['created']} | "
                f"{'yes' if s['correct'] else '**no**'} | {s['peak_rss_mb']:.0f} |"
            )
    lines += ["", "| system | calls S1->S1L | wall S1->S1L |", "|---|---:|---:|"]
    lines += [f"| {n} | {c:.2f}x | {w:.2f}x |" for n, (c, w) in growth(results).items()]
    lines += ["", "| target | verdict | measured |", "|---|---|---|"]
    for v in evaluate(results):
        mark = {True: "PASS", False: "**MISS**", None: "n/a"}[v.passed]
        lines.append(f"| {v.target} | {mark} | {v.detail} |")
    return "\n".join(lines)
