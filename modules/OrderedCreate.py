"""Registering what a listing finds, in order, and stopping a table at a clean point when the
Lambda's time runs out.

Partitions reach the creator in path order within each branch (in time order where paths do not
sort in time: TableScan._in_time_order) and go out in chunks, one after the other, so a run that
dies half-way leaves no registered partition above one it never wrote. The same order gives a
table a place to stop: once less than `TIME_MARGIN_SECONDS` remains, the first partition that
arrives is refused and the listing stops (`TableCut`); everything before the earliest refused
partition is registered (and what other branches had found before the cut, each branch up to
its own first refused partition), and the next invocation resumes there (`resume`), skipping
what comes before it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from modules import GlueAPISetup as glue_api
from modules.TableControl import Expiry

Values = tuple[str, ...]
OrderKey = Any  # a path, or (time, path) where paths do not sort in time


class TableCut(Exception):
    """The table's time is up: the listing stops; the creator knows where to resume."""


class OrderedCreator:
    """Registers new partitions as the listing finds them, in order, one chunk after the other
    on a thread of its own; stops at the deadline. Once a chunk could not be written (a failed
    call, or transient errors that outlasted the retries) the later chunks are not sent: they
    are reported failed and the next run starts from there."""

    def __init__(
        self,
        writer: glue_api.GlueWriter,
        where: tuple[str, str],
        build: Callable[[Values, str], dict[str, Any]],
        known: dict[Values, Any],
        dry_run: bool,
        expiry: Expiry | None,
        order: Callable[[Values, str], OrderKey],
        out_of_time: Callable[[], bool],
        resume_after: OrderKey | None = None,
    ) -> None:
        self.writer = writer
        self.database, self.table = where
        self.build = build
        self.known = known
        self.dry_run = dry_run
        self.expiry = expiry
        self.order = order
        self.out_of_time = out_of_time
        self.resume_after = resume_after  # done by an earlier invocation: skipped
        self.batch: list[tuple[OrderKey, dict[str, Any]]] = []
        self.thread = ThreadPoolExecutor(1, "ordered-create")
        self.chunks: list[Future[glue_api.WriteOutcome]] = []
        self.halted = False
        self.lock = threading.Lock()  # branches are listed at once, each adding its partitions
        self.expired = 0  # found in S3 but past the retention period: never registered
        self.added: list[tuple[OrderKey, Values]] = []
        self.cut: tuple[OrderKey, str] | None = None  # the earliest refused: (key, location)

    def add(self, values: Values, prefix: str, location: str) -> None:
        """Queue a partition found in S3 unless it is registered already (or before the resume
        point); raise TableCut once the time is up. Chunks may mix branches; each branch's
        partitions keep the order they were found in."""
        if values in self.known:
            return
        key = self.order(values, prefix)
        if self.resume_after is not None and key < self.resume_after:
            return
        with self.lock:
            if self.expiry is not None and self.expiry(values):
                self.expired += 1
                return
            if self.cut is not None or self.out_of_time():
                if self.cut is None or key < self.cut[0]:
                    self.cut = (key, location)
                raise TableCut(location)
            self.added.append((key, values))
            if self.dry_run:
                return
            self.batch.append((key, self.build(values, location)))
            if len(self.batch) == glue_api.CREATE_CHUNK:
                self._flush()

    @property
    def created_values(self) -> list[Values]:
        """What was accepted for creation (a dry run: what would be)."""
        return [values for _, values in self.added]

    def _flush(self) -> None:
        if self.batch:
            batch, self.batch = [p for _, p in self.batch], []
            self.chunks.append(self.thread.submit(self._write, batch))

    def _write(self, batch: list[dict[str, Any]]) -> glue_api.WriteOutcome:
        """One chunk, on the creator's single thread (so chunks go out in order)."""
        if self.halted:
            reason = "not sent: an earlier chunk of this table failed; the next run retries it"
            return glue_api.WriteOutcome(failed={tuple(p["Values"]): reason for p in batch})
        outcome = self.writer.create(self.database, self.table, batch)
        self.halted = outcome.incomplete
        return outcome

    def finish(self) -> glue_api.WriteOutcome:
        """Write what is left, wait for every chunk; a dry run's `done` is what would be.
        After a cut, what was accepted before it is written too, whichever branch it is in:
        each branch's accepted partitions come before its own refused one, and keeping them
        makes every invocation of a chain move forward, however the branches raced."""
        with self.lock:
            self._flush()
        try:
            if self.dry_run:
                return glue_api.WriteOutcome(done=self.created_values)
            outcome = glue_api.WriteOutcome()
            for chunk in self.chunks:
                outcome.merge(chunk.result())
            return outcome
        finally:
            self.thread.shutdown()
