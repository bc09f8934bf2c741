"""The headline figures as SVG charts: calls and wall time per system per scenario, and S7's cost
against the size of the table (S7T: a tenth of S7's history).

matplotlib (a pinned dev dependency, never in the layer) draws with the Agg backend, so nothing
needs a display. `make bench` writes the charts after a complete run; `run.py --charts FILE...`
draws them from saved results files (their scenarios merged, later files winning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CHARTS = ("chart-calls.svg", "chart-wall.svg", "chart-s7-size.svg")
SIZE_SCENARIOS = ("S7T", "S7")


def merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One results dict whose scenarios are those of every file (later files win)."""
    out = dict(results[-1])
    out["scenarios"] = {name: scn for r in results for name, scn in r["scenarios"].items()}
    if len({r.get("load_us") for r in results}) > 1:  # the files charge loads differently
        out["load_us"] = None
    return out


def write_charts(results: dict[str, Any], folder: Path) -> list[Path]:
    """Every chart the results allow, written into `folder`; returns their paths."""
    plt.rcParams["svg.hashsalt"] = "bench"  # the same figures give the same file
    written = [
        _bars(results, "api_calls", "API calls (log scale)", folder / CHARTS[0], log=True),
        _bars(results, "wall_s_median", "wall time, s (log scale)", folder / CHARTS[1], log=True),
    ]
    size = _size(results, folder / CHARTS[2])
    return written + ([size] if size else [])


def _bars(results: dict[str, Any], metric: str, label: str, path: Path, log: bool) -> Path:
    """Grouped bars: one group per scenario, one bar per system that ran it."""
    scenarios = list(results["scenarios"])
    systems = sorted({s for scn in results["scenarios"].values() for s in scn["systems"]})
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(scenarios)), 4.5))
    for i, system in enumerate(systems):
        xs, ys = [], []
        for j, name in enumerate(scenarios):
            s = results["scenarios"][name]["systems"].get(system)
            if s is not None:
                xs.append(j + i * width)
                ys.append(max(float(s[metric]), 1e-3))
        ax.bar(xs, ys, width, label=system)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(scenarios))], scenarios)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(label)
    ax.set_title(f"{label.split(' (')[0]} per system and scenario ({_setting(results)})")
    ax.legend(fontsize="small", ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def _size(results: dict[str, Any], path: Path) -> Path | None:
    """S7's wall time against the table's registered partitions, per system that ran S7T and
    S7; None when either is missing."""
    found = [results["scenarios"].get(n) for n in SIZE_SCENARIOS]
    if not all(found):
        return None
    sizes = [_registered(n) for n in SIZE_SCENARIOS]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system in sorted(found[0]["systems"]):  # type: ignore[index]
        if system not in found[1]["systems"]:  # type: ignore[index]
            continue
        walls = [scn["systems"][system]["wall_s_median"] for scn in found]  # type: ignore[index]
        ax.plot(sizes, walls, marker="o", label=system)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("partitions registered in the table")
    ax.set_ylabel("wall time, s")
    ax.set_title(f"S7: cost against table size ({_setting(results)})")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def _registered(scenario: str) -> int:
    from bench.scenarios import S7_HOURS, S7_TENANTS

    hours = S7_HOURS // 10 if scenario == "S7T" else S7_HOURS
    return len(S7_TENANTS) * hours


def _setting(results: dict[str, Any]) -> str:
    load = results.get("load_us")
    per_load = f" + {load:g} µs/partition loaded" if load else ""
    return f"{results.get('latency_ms', 0):g} ms/call{per_load}"
