"""The handler's answer as text a person reads: the command line's `--output table` and
`make demo` print it.

A leaf: it reads the answer's JSON shape (the summary of main.py, whose table entries are
TableResult.to_dict; or an SQS batch's `batchItemFailures`) and imports nothing of the function.
"""

from __future__ import annotations

import json
from typing import Any

# column header -> the table entry's count
COUNT_COLUMNS = (
    ("found", "discovered"),
    ("created", "created"),
    ("existing", "existing"),
    ("skipped", "skipped"),
    ("removed", "removed"),
    ("expired", "expired"),
    ("failed", "failed"),
)
INDENT = "  "
UNDER = "      "  # lines under a table's row: its plan, its errors


def render(answer: dict[str, Any], title: str | None = None) -> str:
    """The answer as lines of text (no trailing newline): a summary as one row per table with
    what a dry run would do and the errors under each row; an SQS batch's answer as the
    messages that failed."""
    if "batchItemFailures" in answer:
        return _batch(answer, title)
    return _summary(answer, title)


def _batch(answer: dict[str, Any], title: str | None) -> str:
    failed = [f.get("itemIdentifier", "?") for f in answer["batchItemFailures"]]
    head = f"{title}: " if title else ""
    if not failed:
        return f"{head}SQS batch: every message succeeded (batchItemFailures is empty)"
    lines = [
        f"{head}SQS batch: {_count(len(failed), 'message')} failed and would be delivered again "
        "(batchItemFailures):"
    ]
    lines += [f"{INDENT}{message_id}" for message_id in failed]
    return "\n".join(lines)


def _summary(summary: dict[str, Any], title: str | None) -> str:
    tables = summary.get("tables", [])
    databases = sorted({t["database"] for t in tables if t.get("table")})
    lines = _heading(summary, title, databases)
    lines += _table(summary, len(databases) == 1)
    lines += _run_level(summary)
    return "\n".join(lines)


def _heading(summary: dict[str, Any], title: str | None, databases: list[str]) -> list[str]:
    """The run's status, mode and scope; a dry run's warning; event mode's counts."""
    head = [f"status {summary.get('status', '?')}", f"mode {summary.get('mode', '?')}"]
    if summary.get("full_scan"):
        head.append("full scan")
    if len(databases) == 1:
        head.append(f"database {databases[0]}")
    lines = [(f"{title}: " if title else "") + ", ".join(head)]
    if summary.get("dry_run"):
        lines.append("dry run: nothing was changed; the counts say what a run would do")
    if "events" in summary:
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary["events"].items() if v)
        lines.append(f"{INDENT}events: {counts or 'none'}")
    return lines


def _table(summary: dict[str, Any], one_database: bool) -> list[str]:
    """One row per table (and a total), with what lies under each row."""
    tables = summary.get("tables", [])
    dry_run = bool(summary.get("dry_run"))
    counts = [
        (name, key)
        for name, key in COUNT_COLUMNS
        if key != "removed" or summary.get("mode") == "sync" or any(t.get(key) for t in tables)
    ]
    header = ["table", "status", "layout", "scan", "branches", *(n for n, _ in counts), "lag", ""]
    if all(t.get("status") == "succeeded" for t in tables):
        header.remove("status")  # the line above says so
    right = {"branches", *(n for n, _ in counts), "lag"}
    rows: list[tuple[list[str], list[str]]] = []
    for t in tables:
        cells = {
            "table": _name(t, one_database),
            "status": t.get("status") or "-",
            "layout": t.get("layout") or "-",
            "scan": t.get("scan") or "-",
            "branches": _dash(t.get("branches")),
            **{name: str(t.get(key, 0)) for name, key in counts},
            "lag": _lag(t.get("lag_seconds")),
            "": "STALE" if t.get("stale") else "",
        }
        rows.append(([cells[h] for h in header], _under(t, dry_run)))
    totals = summary.get("totals", {})
    if len(tables) > 1:
        stale = totals.get("stale", 0)
        cells = {name: str(totals.get(key, 0)) for name, key in counts}
        cells.update({"table": "total", header[1]: f"{len(tables)} tables"})
        cells[""] = f"{stale} stale" if stale else ""
        rows.append(([cells.get(h, "") for h in header], []))

    widths = [max([len(h), *(len(cells[i]) for cells, _ in rows)]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if h in right else c.ljust(w)
            for h, c, w in zip(header, cells, widths, strict=True)
        ]
        return (INDENT + "  ".join(padded)).rstrip()

    lines = [line(header)]
    for cells, under in rows:
        lines.append(line(cells))
        lines += [UNDER + u for u in under]
    return lines


def _name(table: dict[str, Any], one_database: bool) -> str:
    name, database = table.get("table"), table.get("database")
    if not name:
        return f"{database} (database)" if database else "(run)"
    return name if one_database else f"{database}.{name}"


def _under(table: dict[str, Any], dry_run: bool) -> list[str]:
    """What goes under a table's row: a dry run's plan, why it was scanned whole, its errors."""
    lines = []
    if dry_run and table.get("created"):
        lines.append(f"would create {_count(table['created'], 'partition')}")
    would_remove = table.get("would_remove")
    if would_remove is not None:
        refused = table.get("removal_refused")
        count = len(would_remove) if refused else max(table.get("removed", 0), len(would_remove))
        guard = " if --force lifted the guard" if refused else ""
        lines.append(f"would remove {_count(count, 'partition')} whose data is gone{guard}:")
        lines += [f"  {location}" for location in would_remove]
        if count > len(would_remove):
            lines.append(f"  … and {count - len(would_remove)} more")
    would_expire = table.get("would_expire")
    if would_expire:
        lines.append("would remove from the catalog, past the retention period:")
        lines += [f"  {location}" for location in would_expire]
    if table.get("scan_reason"):
        lines.append(f"scanned whole: {table['scan_reason']}")
    lines += _index_and_resume(table)
    lines += [f"- {error}" for error in table.get("errors", [])]
    return lines


def _index_and_resume(table: dict[str, Any]) -> list[str]:
    """The partition index a run would create, warnings, and where a cut table resumes."""
    lines = []
    for index in table.get("would_create_index") or []:
        keys = ", ".join(index.get("Keys", []))
        lines.append(f"would create partition index {index.get('IndexName')} ({keys})")
    lines += [f"warning: {warning}" for warning in table.get("warnings", [])]
    if table.get("resume"):
        lines.append(f"cut by the deadline: the next run resumes at {table['resume']}")
    return lines


def _run_level(summary: dict[str, Any]) -> list[str]:
    lines = []
    remaining = summary.get("remaining") or []
    if remaining:
        names = ", ".join(f"{r['database']}.{r['table']}" for r in remaining)
        lines.append(f"not started (time ran out): {names}")
    for event in summary.get("continuation") or []:
        lines.append(f"to continue, run the event: {json.dumps(event)}")
    for event in summary.get("handed_on") or []:
        lines.append(f"handed on: {json.dumps(event)}")
    lines += [f"error: {error}" for error in summary.get("errors") or []]
    return lines


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _lag(seconds: int | None) -> str:
    """How far behind the newest partition is: minutes, then hours, then days."""
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{max(seconds, 0) // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
