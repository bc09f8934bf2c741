"""One table's sync: read the catalog, find the partitions in S3, diff, write, report.

This is the only place that combines the Glue side (GlueAPISetup) and the S3 side
(S3PrefixGeneration); the handler in main.py only schedules tables and shapes the summary.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modules import GlueAPISetup as glue_api
from modules import S3Listing as s3l
from modules import S3PrefixGeneration as s3p
from modules.AwsClientObj import AwsClients
from modules.ProcessLogger import get_logger
from modules.Removal import Target, expire, remove_gone
from modules.Settings import Options, Settings
from modules.TableControl import (
    SWITCHED_OFF,
    Expiry,
    TableControl,
    freshness,
    table_shape,
)
from modules.TableReport import COUNTS, TableResult
from modules.TableScan import TableScan
from modules.TimeKeys import KeySplit, split_keys


@dataclass
class Workers:
    """Shared clients and pools of one invocation (boto3 clients are thread-safe)."""

    clients: AwsClients
    writer: glue_api.GlueWriter
    s3_pool: Executor
    settings: Settings


def sync_table(
    work: Workers,
    database: str,
    table: dict[str, Any],
    options: Options,
    nested_locations: list[str],
    now: datetime,
) -> TableResult:
    """Bring one table's catalog partitions in line with S3; never raises."""
    result = TableResult(database, table.get("Name"))
    try:
        _TableSync(work, database, table, options, nested_locations, now, result).run()
    except ValueError as exc:
        result.fail(str(exc))
    except Exception as exc:  # one bad table must not stop the others
        get_logger().exception("table failed", extra={"database": database, "table": result.table})
        result.fail(f"unexpected error: {s3p.describe(exc)}")
    return result.finish()


class _TableSync:
    """The steps of one table's sync, sharing the table's facts."""

    def __init__(
        self,
        work: Workers,
        database: str,
        table: dict[str, Any],
        options: Options,
        nested_locations: list[str],
        now: datetime,
        result: TableResult,
    ) -> None:
        self.work = work
        self.glue = work.clients.glue
        self.s3 = work.clients.s3
        self.database = database
        self.table = table
        self.name = table["Name"]
        self.options = options
        self.nested = nested_locations
        self.now = now
        self.result = result

    def run(self) -> None:
        if self._switched_off():
            return
        result = self.result
        shape = table_shape(self.table)
        if isinstance(shape, str):
            result.status = "skipped"
            result.errors.append(shape)
            return
        keys, params, location = shape

        full = self.options.full_scan or self.options.mode == "sync"
        split = split_keys(keys, params)
        windows = None if full else glue_api.recent_windows(split, self.now)
        registered, reads, complete = (
            (glue_api.get_partitions(self.glue, self.database, self.name), 1, True)
            if full
            else glue_api.find_recent_partitions(self.glue, self.database, self.name, windows)
        )
        if not split.has_time and registered:  # names and types say nothing: try the values
            split = split_keys(keys, params, [p["Values"] for p in registered[:50]])
        self._use_keys(split, params)
        layout = s3p.detect_layout(
            location, keys, params, self.now, _sample_paths(location, registered, params)
        )
        known = {tuple(p["Values"]): p for p in registered}
        settings = self.work.settings
        scan = TableScan(
            self.s3,
            self.work.s3_pool,
            layout,
            split,
            sink=lambda values, prefix: creator.add(values, prefix),
            path_of=lambda p: _partition_path(layout, p),
            nested=lambda prefix: self._nested_in(layout.bucket, prefix),
            now=self.now,
            collect_data_dirs=self.options.mode == "sync",
            max_branches=settings.max_branches,
            slices=settings.s3_concurrency,
            template_max_candidates=settings.template_max_candidates,
            enums=_enum_values(split, params),
        )

        def read_missing(branches: list[tuple[str, ...]]) -> list[dict[str, Any]]:
            nonlocal reads
            if complete:  # everything registered was read already
                return []
            found, more = glue_api.read_branches(
                self.glue, self.database, self.name, split.branch, branches, windows, reads
            )
            reads += more
            known.update((tuple(p["Values"]), p) for p in found)
            return found

        creator = _OrderedCreator(self, layout.bucket, known)
        try:
            discovery = None
            if not full and registered:
                result.scan = "incremental"
                discovery = scan.incremental(registered, read_missing)
            if discovery is None:
                result.scan = "full"
                if not complete:  # asked for incremental, but the table must be scanned whole
                    registered = glue_api.get_partitions(self.glue, self.database, self.name)
                    known.update((tuple(p["Values"]), p) for p in registered)
                    reads += 1
                discovery = scan.full(registered)
        finally:
            outcome = creator.finish()

        result.layout = layout.name  # known once listed when nothing was registered
        result.branches = scan.branches
        result.scan_reason = scan.whole_reason
        self._record_discovery(layout, discovery, known)
        self._record_created(outcome)
        result.expired = creator.expired
        target = Target(
            self.glue,
            self.s3,
            self.work.writer,
            self.work.s3_pool,
            self.database,
            self.name,
            self.options.dry_run,
            self.options.force,
            settings.sync_max_remove_fraction,
        )
        expire(target, result, split, self.expiry, known)
        if self.options.mode == "sync":
            nested = self._nested_in(layout.bucket, layout.list_prefix)
            remove_gone(target, result, layout, discovery, known, scan.roots, nested)
        self._record_freshness(layout, known, outcome, creator)
        get_logger().info(
            "table synced",
            extra={
                "database": self.database,
                "table": self.name,
                "layout": result.layout,
                "scan": result.scan,
                "scan_reason": result.scan_reason,
                "branches": scan.branches,
                "partition_reads": reads,
                "registered_read": len(known),
                "list_calls": discovery.list_calls,
                "counts": {c: getattr(result, c) for c in COUNTS},
                "newest": result.newest,
                "lag_seconds": result.lag_seconds,
            },
        )

    # ---------------------------------------------------------------- table control

    def _switched_off(self) -> bool:
        """Read the table's properties (ValueError names a bad one); True when
        `discover.partitions=false` asks to leave the table alone."""
        self.control = TableControl.from_parameters(self.table.get("Parameters") or {})
        if self.control.discover:
            return False
        self.result.status = "skipped"
        self.result.errors.append(SWITCHED_OFF)
        return True

    def _use_keys(self, split: KeySplit, params: dict[str, str]) -> None:
        """Check the properties against the table's time keys; set this run's expiry test."""
        self.control.check_keys(split, params)
        self.split = split
        self.expiry: Expiry | None = self.control.expiry(split, self.now)

    def _record_freshness(
        self,
        layout: s3p.Layout,
        known: dict[tuple, Any],
        outcome: glue_api.WriteOutcome | int,
        creator: _OrderedCreator,
    ) -> None:
        """The newest partition registered after the run, its lag, and whether it is stale."""
        created = creator.added if isinstance(outcome, int) else [*outcome.done, *outcome.already]
        fresh = freshness(
            self.split,
            [*known, *created],
            self.now,
            self.control.max_lag,
            lambda values: layout.path_of(list(values)),
        )
        result = self.result
        result.newest, result.lag_seconds, result.stale = (
            fresh.newest,
            fresh.lag_seconds,
            fresh.stale,
        )
        if fresh.stale:
            get_logger().warning(
                "table is stale",
                extra={
                    "database": self.database,
                    "table": self.name,
                    "newest": fresh.newest,
                    "lag_seconds": fresh.lag_seconds,
                    "max_lag_seconds": int(self.control.max_lag.total_seconds()),
                },
            )

    # ---------------------------------------------------------------- S3 side

    def _nested_in(self, bucket: str, prefix: str) -> list[str]:
        """Key prefixes of other tables' locations nested under this prefix."""
        own = f"s3://{bucket}/{prefix}"
        return [
            loc[len(f"s3://{bucket}/") :]
            for loc in self.nested
            if loc.startswith(own) and loc != own
        ]

    # ---------------------------------------------------------------- Glue side

    def _record_discovery(
        self, layout: s3p.Layout, discovery: s3l.Discovery, known: dict[tuple, Any]
    ) -> None:
        result = self.result
        result.discovered = len(discovery.partitions)
        result.existing = sum(1 for v in discovery.partitions if v in known)
        result.skipped = len(discovery.skipped)
        for prefix, reason in sorted(discovery.skipped.items()):
            result.errors.append(f"skipped s3://{layout.bucket}/{prefix}: {reason}")
        if discovery.error:
            result.problem(discovery.error)

    def _record_created(self, outcome: glue_api.WriteOutcome | int) -> None:
        result = self.result
        if isinstance(outcome, int):  # a dry run: what would be created
            result.created = outcome
            return
        result.created = len(outcome.done)
        result.existing += len(outcome.already)
        result.failed = len(outcome.failed)
        for values, reason in sorted(outcome.failed.items()):
            result.problem(f"creating partition {list(values)} failed: {reason}")


class _OrderedCreator:
    """Registers new partitions as the listing finds them, in S3 path order, one chunk after the
    other on a thread of its own.

    The writes overlap the listing that feeds them, and a run that dies half-way leaves no
    registered partition above one it never wrote, so the next incremental run (which lists
    after the newest registered path) finds the rest. For the same reason, once a chunk could not
    be written (a failed call, or transient errors that outlasted the retries), the later chunks
    are not sent: they are reported failed and the next run starts from there.
    """

    def __init__(self, sync: _TableSync, bucket: str, known: dict[tuple, Any]) -> None:
        self.sync = sync
        self.bucket = bucket
        self.known = known
        self.dry_run = sync.options.dry_run
        self.build = glue_api.partition_input_builder(sync.table)
        self.batch: list[dict[str, Any]] = []
        self.thread = ThreadPoolExecutor(1, "ordered-create")
        self.chunks: list[Future[glue_api.WriteOutcome]] = []
        self.halted = False
        self.lock = threading.Lock()  # branches are listed at once, each adding its partitions
        self.expiry = sync.expiry
        self.expired = 0  # found in S3 but past the retention period: never registered
        self.added: list[tuple[str, ...]] = []

    def add(self, values: tuple[str, ...], prefix: str) -> None:
        """Queue a partition found in S3 unless it is registered already. Chunks may mix
        branches; each branch's partitions keep the order they were found in."""
        if values in self.known:
            return
        location = f"s3://{self.bucket}/{prefix}"
        with self.lock:
            if self.expiry is not None and self.expiry(values):
                self.expired += 1
                return
            self.added.append(values)
            if self.dry_run:
                return
            self.batch.append(self.build(values, location))
            if len(self.batch) == glue_api.CREATE_CHUNK:
                self._flush()

    def _flush(self) -> None:
        if self.batch:
            batch, self.batch = self.batch, []
            self.chunks.append(self.thread.submit(self._write, batch))

    def _write(self, batch: list[dict[str, Any]]) -> glue_api.WriteOutcome:
        """One chunk, on the creator's single thread (so chunks go out in order)."""
        if self.halted:
            reason = "not sent: an earlier chunk of this table failed; the next run retries it"
            return glue_api.WriteOutcome(failed={tuple(p["Values"]): reason for p in batch})
        outcome = self.sync.work.writer.create(self.sync.database, self.sync.name, batch)
        self.halted = outcome.incomplete
        return outcome

    def finish(self) -> glue_api.WriteOutcome | int:
        """Write what is left, wait for every chunk; in a dry run, the count that would be."""
        with self.lock:
            self._flush()
        try:
            if self.dry_run:
                return len(self.added)
            outcome = glue_api.WriteOutcome()
            for chunk in self.chunks:
                outcome.merge(chunk.result())
            return outcome
        finally:
            self.thread.shutdown()


def _enum_values(split: KeySplit, params: dict[str, str]) -> dict[str, list[str]]:
    """Branch keys with an `enum` projection: their values, so branches need no listing."""
    return {
        k.name: [v.strip() for v in params[f"projection.{k.name}.values"].split(",") if v.strip()]
        for k in split.branch
        if params.get(f"projection.{k.name}.type", "").lower() == "enum"
        and params.get(f"projection.{k.name}.values")
    }


def _sample_paths(
    location: str, registered: list[dict[str, Any]], params: dict[str, str]
) -> list[str]:
    """Paths (relative to the location) of registered partitions, which show the layout."""
    if s3p.TEMPLATE_PARAMETER in params:
        return []
    bucket, prefix = s3p.split_s3_url(location)
    paths = []
    for p in registered[:50]:
        loc = (p.get("StorageDescriptor") or {}).get("Location", "")
        if loc.startswith(f"s3://{bucket}/{prefix}"):
            paths.append(loc[len(f"s3://{bucket}/{prefix}") :])
    return paths


def _partition_path(layout: s3p.Layout, partition: dict[str, Any]) -> str:
    """The partition's key prefix, for ordering: its Location when it lies in the layout's
    prefix, else the path its values give."""
    loc = (partition.get("StorageDescriptor") or {}).get("Location", "")
    own = f"s3://{layout.bucket}/{layout.list_prefix}"
    if loc.startswith(own):
        key = loc[len(f"s3://{layout.bucket}/") :]
        return key if key.endswith("/") else key + "/"
    return layout.path_of(list(partition["Values"]))
