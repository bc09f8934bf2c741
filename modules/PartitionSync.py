"""One table's sync: read the catalog, find the partitions in S3, diff, write, report.

The scheduled run's per-table steps, in the order they run (`_TableSync.run`), and the one loop
that schedules tables within an invocation's time (`sync_tables`), which the scheduled run and
fan-out's workers both go through; the handler in main.py only picks the tables and shapes the
summary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modules import GlueAPISetup as glue_api
from modules import GlueExpressions as expressions
from modules import S3Listing as s3l
from modules import S3PrefixGeneration as s3p
from modules.AwsClientObj import AwsClients
from modules.Continuation import STATE_TABLE, Cursor
from modules.GlueExpressions import RecentWindows
from modules.ProcessLogger import get_logger
from modules.Removal import Listed, Target, expire, remove_gone
from modules.Settings import Options, Settings
from modules.TableControl import Expiry, freshness
from modules.TableReport import COUNTS, TableResult
from modules.TableScan import TableScan
from modules.TableSpec import TableSpec, run_table
from modules.TimeKeys import KeySplit

# Registered partitions whose values show a table's date formats and padding.
_SAMPLES = 200


@dataclass
class Workers:
    """Shared clients and pools of one invocation (boto3 clients are thread-safe)."""

    clients: AwsClients
    writer: glue_api.GlueWriter
    s3_pool: Executor
    settings: Settings


@dataclass(eq=False)
class TableJob:
    """One table to sync and how: what every entry hands to `sync_tables`."""

    database: str
    table: dict[str, Any]  # as GetTables returned it
    options: Options
    nested: list[str]  # other tables' locations, which may lie under this one's

    @property
    def name(self) -> str:
        return self.table["Name"]


@dataclass
class Ran:
    """What `sync_tables` did: each started job with its entry, and the jobs not started."""

    done: list[tuple[TableJob, TableResult]] = field(default_factory=list)
    left: list[TableJob] = field(default_factory=list)


def sync_tables(
    clients: AwsClients,
    settings: Settings,
    jobs: Sequence[TableJob],
    now: datetime,
    out_of_time: Callable[[], bool],
    watch: Callable[[Future[TableResult], int], None] | None = None,
) -> Ran:
    """Sync the jobs in their order, `TABLE_CONCURRENCY` at a time, starting none once
    `out_of_time()` says so; a started table always finishes its writes. `watch` sees each
    table's job start, one of how many (the command line's progress line)."""
    ran = Ran()
    with (
        ThreadPoolExecutor(settings.glue_write_concurrency, "glue-write") as write_pool,
        ThreadPoolExecutor(settings.s3_concurrency, "s3-check") as s3_pool,
        ThreadPoolExecutor(settings.table_concurrency, "table") as table_pool,
    ):
        writer = glue_api.GlueWriter.for_settings(clients.glue, write_pool, settings)
        work = Workers(clients, writer, s3_pool, settings)
        running: dict[Future[TableResult], TableJob] = {}
        for i, job in enumerate(jobs):
            while len(running) >= settings.table_concurrency:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                ran.done += [(running.pop(f), f.result()) for f in finished]
            if out_of_time():
                ran.left = list(jobs[i:])
                get_logger().warning("time is running out", extra={"not_started": len(ran.left)})
                break
            args = (job.database, job.table, job.options, job.nested, now)
            future = table_pool.submit(sync_table, work, *args)
            if watch is not None:
                watch(future, len(jobs))
            running[future] = job
        ran.done += [(job, future.result()) for future, job in running.items()]
    return ran


@dataclass
class TableList:
    """The tables of a run's databases: what to sync, entries for what could not be read or
    found, every table location (to pass over nested tables), and where cut runs resume."""

    jobs: list[tuple[str, dict[str, Any]]]
    failures: list[TableResult]
    locations: list[str]
    cursor: Cursor


def read_tables(glue: Any, databases: list[str], only_tables: list[str] | None) -> TableList:
    """One `GetTables` per database; the function's own state table is never a job."""
    listed = TableList([], [], [], Cursor(tuple(databases), None))
    for database in databases:
        tables, error = glue_api.read_database(glue, database)
        if error:
            listed.failures.append(TableResult.failure(database, None, error))
            if database == databases[0]:
                listed.cursor = Cursor(tuple(databases), None, readable=False)
            continue
        by_name = {t["Name"]: t for t in tables}
        state = by_name.pop(STATE_TABLE, None)
        if database == databases[0]:
            listed.cursor = Cursor(tuple(databases), state)
        listed.locations += [loc for t in by_name.values() if (loc := location_dir(t))]
        for name in only_tables or sorted(by_name):
            if name in by_name:
                listed.jobs.append((database, by_name[name]))
            else:  # Lake Formation leaves out of GetTables the tables a role may not see
                message = (
                    f"table {database}.{name} not found, or not visible to this role "
                    "(Lake Formation grants?)"
                )
                listed.failures.append(TableResult.failure(database, name, message))
    return listed


def location_dir(table: dict[str, Any]) -> str:
    """A table's location as a directory (ending in `/`), or '' without one."""
    location = glue_api.location_of(table)
    return location if not location or location.endswith("/") else location + "/"


def sync_table(
    work: Workers,
    database: str,
    table: dict[str, Any],
    options: Options,
    nested_locations: list[str],
    now: datetime,
) -> TableResult:
    """Bring one table's catalog partitions in line with S3; never raises."""

    def sync(spec: TableSpec, result: TableResult) -> None:
        _TableSync(work, spec, options, nested_locations, now, result).run()

    return run_table(database, table, sync)


class _TableSync:
    """The steps of one table's sync, sharing the table's facts."""

    def __init__(
        self,
        work: Workers,
        spec: TableSpec,
        options: Options,
        nested_locations: list[str],
        now: datetime,
        result: TableResult,
    ) -> None:
        self.work = work
        self.glue = work.clients.glue
        self.s3 = work.clients.s3
        self.spec = spec
        self.database = spec.database
        self.name = spec.name
        self.options = options
        self.nested = nested_locations
        self.now = now
        self.result = result
        self.windows: RecentWindows | None = None
        self.reads = 0  # GetPartitions reads (pages aside)
        self.complete = False  # every registered partition has been read
        self.known: dict[tuple[str, ...], dict[str, Any]] = {}  # registered partitions read
        self.notes: list[str] = []  # how the catalog had to be read, for scan_reason
        self.creator: _OrderedCreator | None = None

    @property
    def split(self) -> KeySplit:
        return self.spec.split

    def run(self) -> None:
        registered = self._read_catalog()
        layout = self.spec.layout(self.now, _sample_paths(self.spec, registered))
        scan = self._scan(layout)
        self.creator = _OrderedCreator(self, layout, self.spec.expiry(self.now))
        try:
            discovery = self._discover(scan, registered)
        finally:
            outcome = self.creator.finish()
        self._report_scan(layout, scan, discovery)
        self.result.record_writes(outcome)
        self.result.expired = self.creator.expired
        self._remove(layout, scan, discovery)
        self._record_freshness(layout, outcome)
        self._log(scan, discovery)

    # ---------------------------------------------------------------- the steps, in order

    def _read_catalog(self) -> list[dict[str, Any]]:
        """The registered partitions discovery starts from: the recent end of the table (or all
        of it for a full scan); then the key split as their values show it."""
        full = self.options.full_scan or self.options.mode == "sync"
        self.windows = None if full else expressions.recent_windows(self.split, self.now)
        refused = [r for k in self.split.keys if (r := expressions.unfilterable(k))]
        if refused and not full:  # such a key never reaches an expression: reads are wider
            self.notes.append(f"read without filtering on it: {'; '.join(refused)}")
        if full:
            registered, self.reads, self.complete = self._read_all(), 1, True
        else:
            registered, self.reads, self.complete = glue_api.find_recent_partitions(
                self.glue, self.database, self.name, self.windows, self.notes
            )
        # the values show date formats and padding that names and types do not
        self.spec = self.spec.refined(p["Values"] for p in registered[:_SAMPLES])
        self.known.update((tuple(p["Values"]), p) for p in registered)
        return registered

    def _read_all(self) -> list[dict[str, Any]]:
        return glue_api.get_partitions(self.glue, self.database, self.name)

    def _scan(self, layout: s3p.Layout) -> TableScan:
        settings = self.work.settings
        return TableScan(
            self.s3,
            self.work.s3_pool,
            layout,
            self.split,
            sink=self._found,
            path_of=lambda p: _partition_path(layout, p),
            nested=lambda prefix: self._nested_in(layout, prefix),
            now=self.now,
            collect_data_dirs=self.options.mode == "sync",
            max_branches=settings.max_branches,
            slices=settings.s3_concurrency,
            template_max_candidates=settings.template_max_candidates,
            enums=_enum_values(self.split, self.spec.params),
        )

    def _found(self, values: tuple[str, ...], prefix: str) -> None:
        """The scan's sink: each partition found goes to the creator (set by `_discover`)."""
        assert self.creator is not None
        self.creator.add(values, prefix)

    def _discover(self, scan: TableScan, registered: list[dict[str, Any]]) -> s3l.Discovery:
        """Incremental from the newest registered partitions when it can be, else the whole
        table; partitions are created as they are found."""
        result = self.result
        full = self.options.full_scan or self.options.mode == "sync"
        if not full and registered:
            result.scan = "incremental"
            discovery = scan.incremental(registered, self._read_missing)
            if discovery is not None:
                return discovery
        result.scan = "full"
        if not self.complete:  # asked for incremental, but the table must be scanned whole
            registered = self._read_all()
            self.known.update((tuple(p["Values"]), p) for p in registered)
            self.reads += 1
            self.complete = True
        return scan.full(registered)

    def _read_missing(self, branches: list[tuple[str, ...]]) -> list[dict[str, Any]]:
        """The catalog of branches the recent window did not cover."""
        if self.complete:  # everything registered was read already
            return []
        found, more = glue_api.read_branches(
            self.glue,
            self.database,
            self.name,
            self.split.branch,
            branches,
            self.windows,
            self.reads,
            self.notes,
        )
        self.reads += more
        self.known.update((tuple(p["Values"]), p) for p in found)
        return found

    def _report_scan(self, layout: s3p.Layout, scan: TableScan, discovery: s3l.Discovery) -> None:
        result = self.result
        result.layout = layout.name  # known once listed when nothing was registered
        result.branches = scan.branches
        reasons = [*self.notes, *filter(None, (scan.whole_reason, scan.order_reason))]
        result.scan_reason = "; ".join(dict.fromkeys(reasons)) or None
        self._record_discovery(layout, discovery)

    def _remove(self, layout: s3p.Layout, scan: TableScan, discovery: s3l.Discovery) -> None:
        """Retention's expired entries, and in sync mode the entries whose data is gone."""
        settings = self.work.settings
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
        expiry = self.spec.expiry(self.now)
        expire(target, self.result, self.split, expiry, self.known, self.notes)
        if self.options.mode == "sync":
            nested = self._nested_in(layout, layout.list_prefix)
            listed = Listed(layout, discovery, scan.roots, nested)
            remove_gone(target, self.result, self.known, listed)

    def _log(self, scan: TableScan, discovery: s3l.Discovery) -> None:
        result = self.result
        get_logger().info(
            "table synced",
            extra={
                "database": self.database,
                "table": self.name,
                "layout": result.layout,
                "scan": result.scan,
                "scan_reason": result.scan_reason,
                "branches": scan.branches,
                "partition_reads": self.reads,
                "registered_read": len(self.known),
                "list_calls": discovery.list_calls,
                "counts": {c: getattr(result, c) for c in COUNTS},
                "newest": result.newest,
                "lag_seconds": result.lag_seconds,
                **({"run_id": self.options.run_id} if self.options.run_id else {}),
            },
        )

    def _record_freshness(self, layout: s3p.Layout, outcome: glue_api.WriteOutcome) -> None:
        """The newest partition registered after the run, its lag, and whether it is stale."""
        fresh = freshness(
            self.split,
            [*self.known, *outcome.done, *outcome.already],
            self.now,
            self.spec.control.max_lag,
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
                    "max_lag_seconds": int(self.spec.control.max_lag.total_seconds()),
                },
            )

    # ---------------------------------------------------------------- S3 side

    def _nested_in(self, layout: s3p.Layout, prefix: str) -> list[str]:
        """Key prefixes of other tables' locations nested under this prefix."""
        bucket = f"s3://{layout.bucket}/"
        own = bucket + prefix
        return [
            loc[len(bucket) :]
            for loc in map(s3p.canonical_url, self.nested)
            if loc.startswith(own) and loc != own
        ]

    # ---------------------------------------------------------------- Glue side

    def _record_discovery(self, layout: s3p.Layout, discovery: s3l.Discovery) -> None:
        result = self.result
        result.discovered = len(discovery.partitions)
        result.existing = sum(1 for v in discovery.partitions if v in self.known)
        result.skipped = len(discovery.skipped)
        for prefix, reason in sorted(discovery.skipped.items()):
            result.errors.append(f"skipped {layout.url(prefix)}: {reason}")
        if discovery.error:
            result.problem(discovery.error)


class _OrderedCreator:
    """Registers new partitions as the listing finds them, in S3 path order, one chunk after the
    other on a thread of its own.

    The writes overlap the listing that feeds them, and a run that dies half-way leaves no
    registered partition above one it never wrote, so the next incremental run (which lists
    after the newest registered path) finds the rest. For the same reason, once a chunk could not
    be written (a failed call, or transient errors that outlasted the retries), the later chunks
    are not sent: they are reported failed and the next run starts from there.
    """

    def __init__(self, sync: _TableSync, layout: s3p.Layout, expiry: Expiry | None) -> None:
        self.sync = sync
        self.layout = layout
        self.known = sync.known
        self.dry_run = sync.options.dry_run
        self.build = glue_api.partition_input_builder(sync.spec.table)
        self.batch: list[dict[str, Any]] = []
        self.thread = ThreadPoolExecutor(1, "ordered-create")
        self.chunks: list[Future[glue_api.WriteOutcome]] = []
        self.halted = False
        self.lock = threading.Lock()  # branches are listed at once, each adding its partitions
        self.expiry = expiry
        self.expired = 0  # found in S3 but past the retention period: never registered
        self.added: list[tuple[str, ...]] = []

    def add(self, values: tuple[str, ...], prefix: str) -> None:
        """Queue a partition found in S3 unless it is registered already. Chunks may mix
        branches; each branch's partitions keep the order they were found in."""
        if values in self.known:
            return
        location = self.layout.url(prefix)  # in the table's own scheme (s3a:// stays s3a://)
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

    def finish(self) -> glue_api.WriteOutcome:
        """Write what is left, wait for every chunk; a dry run's `done` is what would be."""
        with self.lock:
            self._flush()
        try:
            if self.dry_run:
                return glue_api.WriteOutcome(done=list(self.added))
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


def _sample_paths(spec: TableSpec, registered: list[dict[str, Any]]) -> list[str]:
    """Paths (relative to the location) of registered partitions, which show the layout."""
    if s3p.TEMPLATE_PARAMETER in spec.params:
        return []
    bucket, prefix = s3p.split_s3_url(spec.location)
    own = f"s3://{bucket}/{prefix}"
    paths = []
    for p in registered[:50]:
        loc = s3p.canonical_url(glue_api.location_of(p))
        if loc.startswith(own):
            paths.append(loc[len(own) :])
    return paths


def _partition_path(layout: s3p.Layout, partition: dict[str, Any]) -> str:
    """The partition's key prefix, for ordering: its Location when it lies in the layout's
    prefix, else the path its values give."""
    loc = s3p.canonical_url(glue_api.location_of(partition))
    own = f"s3://{layout.bucket}/{layout.list_prefix}"
    if loc.startswith(own):
        key = loc[len(f"s3://{layout.bucket}/") :]
        return key if key.endswith("/") else key + "/"
    return layout.path_of(list(partition["Values"]))
