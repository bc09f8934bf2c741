"""What happened to one table, as the summary and the log lines report it, and what a set of
tables adds up to (a run's status and totals)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

COUNTS = ("discovered", "created", "existing", "skipped", "failed", "removed", "expired")
# What the summary's totals add up over the tables: the counts, and how many tables are stale.
TOTALS = (*COUNTS, "stale")


@dataclass
class TableResult:
    """What happened to one table, as the summary and the logs report it."""

    database: str
    table: str | None
    layout: str | None = None
    scan: str | None = None
    scan_reason: str | None = None  # why a table was scanned whole when incremental was asked
    branches: int | None = None  # branches listed (None: no branch keys)
    status: str = "succeeded"
    discovered: int = 0
    created: int = 0
    existing: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0
    expired: int = 0  # past the retention period: removed from the catalog, or not registered
    errors: list[str] = field(default_factory=list)
    fatal: bool = False
    problems: int = 0
    would_remove: list[str] | None = None
    removal_refused: bool | None = None
    would_expire: list[str] | None = None  # dry run: locations retention would remove
    newest: list[str] | None = None  # values of the newest registered partition after the run
    lag_seconds: int | None = None  # now minus the end of the newest partition's period
    stale: bool = False  # lag over the table's partition.max.lag
    partition_index: str | None = None  # the indexes that serve its reads, or are being made
    would_create_index: list[dict[str, Any]] | None = None  # dry run: what a run would create
    warnings: list[str] = field(default_factory=list)  # reported, but not problems
    resume: str | None = None  # cut by the deadline: where the next run takes over

    @classmethod
    def failure(cls, database: str, table: str | None, message: str) -> TableResult:
        """An entry for something that could not be processed at all."""
        result = cls(database, table)
        result.fail(message)
        return result.finish()

    def problem(self, message: str) -> None:
        """Record an error that makes the table (and the run) partial."""
        self.problems += 1
        self.errors.append(message)

    def fail(self, message: str) -> None:
        """Record an error that stopped this table."""
        self.fatal = True
        self.problem(message)

    def record_writes(self, outcome: Any) -> None:
        """What a batch create did (a `WriteOutcome`): created (in a dry run: would be),
        found existing (created by someone else first), failed with its reason."""
        self.created = len(outcome.done)
        self.existing += len(outcome.already)
        self.failed = len(outcome.failed)
        for values, reason in sorted(outcome.failed.items()):
            self.problem(f"creating partition {list(values)} failed: {reason}")

    def finish(self) -> TableResult:
        """Settle the status from what was recorded."""
        if self.status == "skipped":
            return self
        if self.fatal or (
            self.failed and not (self.created or self.removed or self.existing or self.expired)
        ):
            self.status = "failed"
        elif self.problems:
            self.status = "partial"
        return self

    def to_dict(self, max_errors: int) -> dict[str, Any]:
        """The summary entry: counts, and at most `max_errors` readable reasons."""
        entry: dict[str, Any] = {
            "database": self.database,
            "table": self.table,
            "layout": self.layout,
            "scan": self.scan,
            "branches": self.branches,
            "status": self.status,
            **{c: getattr(self, c) for c in COUNTS},
            "newest": self.newest,
            "lag_seconds": self.lag_seconds,
            "stale": self.stale,
            "errors": self.errors[:max_errors],
        }
        if len(self.errors) > max_errors:
            entry["errors"].append(f"… and {len(self.errors) - max_errors} more")
        if self.scan_reason is not None:
            entry["scan_reason"] = self.scan_reason
        if self.would_remove is not None:
            entry["would_remove"] = self.would_remove[:max_errors]
        if self.removal_refused is not None:
            entry["removal_refused"] = self.removal_refused
        for name in ("partition_index", "would_create_index", "resume"):
            if getattr(self, name) is not None:
                entry[name] = getattr(self, name)
        if self.warnings:
            entry["warnings"] = self.warnings[:max_errors]
        if self.would_expire is not None:
            entry["would_expire"] = self.would_expire[:max_errors]
            if len(self.would_expire) > max_errors:
                entry["would_expire"].append(f"… and {len(self.would_expire) - max_errors} more")
        return entry


def run_status(results: Sequence[TableResult]) -> str:
    """`failed` when every table worked on failed, `partial` when some did or had problems,
    else `succeeded`; skipped tables do not count."""
    worked = [r for r in results if r.status != "skipped"]
    failed = [r for r in worked if r.status == "failed"]
    if worked and len(failed) == len(worked):
        return "failed"
    if failed or any(r.status == "partial" for r in worked):
        return "partial"
    return "succeeded"


def totals(results: Sequence[TableResult]) -> dict[str, int]:
    """The counts added up over the tables, and how many tables there were."""
    return {"tables": len(results), **{c: sum(getattr(r, c) for r in results) for c in TOTALS}}
