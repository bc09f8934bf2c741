"""What one table's scheduled run reads from the catalog: its partition indexes, then the recent
end of the table (or all of it), then the branches the recent end did not cover.

The reads cost what the new data costs only where Glue can answer an expression without loading
the whole table, that is where a partition index serves it (modules/PartitionIndex.py); so the
indexes are read (and, with `PARTITION_INDEX=create`, one is made) before the first filtered
read, and where one serves, each window is read as AND-only pieces the index answers. A table
that fits in one unfiltered page is read whole in that one call: it needs no window, and no
index (its reads load no more than they return).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modules import GlueAPISetup as glue_api
from modules import GlueExpressions as expressions
from modules import PartitionIndex
from modules.GlueExpressions import RecentWindows
from modules.Settings import Settings
from modules.TableSpec import TableSpec

# Registered partitions whose values show a table's date formats and padding.
SAMPLES = 200

Partition = dict[str, Any]


@dataclass
class CatalogRead:
    """One table's reads of the catalog in one run, and what they found."""

    glue: Any
    settings: Settings
    spec: TableSpec
    dry_run: bool
    windows: RecentWindows | None = None
    index: PartitionIndex.IndexState = field(default_factory=PartitionIndex.IndexState)
    reads: int = 0  # GetPartitions reads (pages and segments aside)
    seconds: float = 0.0  # spent reading the catalog (the logs say it: what segments save)
    windows_read: int = 0
    complete: bool = False  # every registered partition has been read
    known: dict[tuple[str, ...], Partition] = field(default_factory=dict)  # registered, read
    notes: list[str] = field(default_factory=list)  # how the catalog was read, for scan_reason

    @property
    def _where(self) -> tuple[Any, str, str]:
        return self.glue, self.spec.database, self.spec.name

    def start(self, now: datetime, full: bool) -> list[Partition]:
        """The registered partitions discovery starts from: the recent end of the table (all of
        it when `full`); the spec is then refined with what their values show."""
        refused = [r for k in self.spec.split.keys if (r := expressions.unfilterable(k))]
        if refused and not full:  # such a key never reaches an expression: reads are wider
            self.notes.append(f"read without filtering on it: {'; '.join(refused)}")
        if full:  # retention filters it afterwards
            self._prepare_index()
            registered = self.read_all()
        else:
            registered = self._recent(now)
        # the values show date formats and padding that names and types do not
        self.spec = self.spec.refined(p["Values"] for p in registered[:SAMPLES])
        self._keep(registered)
        return registered

    def _prepare_index(self) -> None:
        split = self.spec.split
        wants = PartitionIndex.wanted(expressions.index_keys(split), split.branch)
        self.index = PartitionIndex.prepare(
            *self._where, wants, self.settings.partition_index, self.dry_run
        )

    def _recent(self, now: datetime) -> list[Partition]:
        # one unfiltered page first: a table that fits in it is read whole in one call (what a
        # window would cost, and it loads no more); a bigger one shows its formats and padding
        first, more = glue_api.first_page(*self._where, glue_api.PAGE)
        self.reads += 1
        if not more:
            self.complete = True
            return first
        self.spec = self.spec.refined(p["Values"] for p in first[:SAMPLES])
        self._prepare_index()
        self.windows = expressions.recent_windows(self.spec.split, now)
        found = glue_api.find_recent_partitions(
            *self._where,
            self.windows,
            self.notes,
            indexed=self.index.serves("time"),
            segments=self.settings.glue_read_segments,
        )
        self.reads += found.reads
        self.windows_read, self.complete = found.windows, found.complete
        return found.partitions

    def read_all(self) -> list[Partition]:
        """Every registered partition (in segments read at once), once a run."""
        started = time.monotonic()
        registered = glue_api.get_partitions(
            *self._where, segments=self.settings.glue_read_segments
        )
        self.seconds += time.monotonic() - started
        self.reads += 1
        self.complete = True
        self._keep(registered)
        return registered

    def read_missing(self, branches: list[tuple[str, ...]]) -> list[Partition]:
        """The catalog of branches the recent window did not cover."""
        if self.complete:  # everything registered was read already
            return []
        found, more = glue_api.read_branches(
            *self._where,
            self.spec.split.branch,
            branches,
            self.windows,
            self.windows_read,
            self.notes,
            self.settings.glue_read_segments,
            self.index.serves("branch"),
        )
        self.reads += more
        self._keep(found)
        return found

    def _keep(self, partitions: list[Partition]) -> None:
        self.known.update((tuple(p["Values"]), p) for p in partitions)
