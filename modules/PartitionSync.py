"""One table's sync: read the catalog, find the partitions in S3, diff, write, report.

The scheduled run's per-table steps, in the order they run (`_TableSync.run`), and the one loop
that schedules tables within an invocation's time (`sync_tables`), which the scheduled run and
fan-out's workers both go through; the handler in main.py only picks the tables and shapes the
summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modules import GlueAPISetup as glue_api
from modules import S3Listing as s3l
from modules import S3PrefixGeneration as s3p
from modules.AwsClientObj import AwsClients
from modules.CatalogRead import CatalogRead
from modules.Continuation import STATE_TABLE, Cursor
from modules.OrderedCreate import OrderedCreator, OrderKey, TableCut
from modules.ProcessLogger import get_logger
from modules.Removal import Listed, Target, expire, remove_gone
from modules.Settings import Options, Settings
from modules.TableControl import freshness
from modules.TableReport import COUNTS, TableResult
from modules.TableScan import TableScan
from modules.TableSpec import TableSpec, run_table
from modules.TimeKeys import KeySplit


@dataclass
class Workers:
    """Shared clients and pools of one invocation (boto3 clients are thread-safe)."""

    clients: AwsClients
    writer: glue_api.GlueWriter
    s3_pool: Executor
    settings: Settings
    # True once less than TIME_MARGIN_SECONDS remains of the invocation (never without a context)
    out_of_time: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class Deadline:
    """When an invocation stops starting tables (`start`: less than TIME_MARGIN_SECONDS left),
    and when a started table stops at a path-order point and hands the rest on (`cut`: less than
    half of it left). A table started just above the margin still gets work done, and the run
    still has time to write, report and hand on what is left."""

    start: Callable[[], bool] = lambda: False
    cut: Callable[[], bool] = lambda: False


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
    deadline: Deadline,
    watch: Callable[[Future[TableResult], int], None] | None = None,
) -> Ran:
    """Sync the jobs in their order, `TABLE_CONCURRENCY` at a time, starting none once
    `deadline.start()` says so; a started table stops at `deadline.cut()` and always finishes
    its writes. `watch` sees each table's job start, one of how many (the command line's
    progress line)."""
    ran = Ran()
    with (
        ThreadPoolExecutor(settings.glue_write_concurrency, "glue-write") as write_pool,
        ThreadPoolExecutor(settings.s3_concurrency, "s3-check") as s3_pool,
        ThreadPoolExecutor(settings.table_concurrency, "table") as table_pool,
    ):
        writer = glue_api.GlueWriter.for_settings(clients.glue, write_pool, settings)
        work = Workers(clients, writer, s3_pool, settings, deadline.cut)
        running: dict[Future[TableResult], TableJob] = {}
        for i, job in enumerate(jobs):
            while len(running) >= settings.table_concurrency:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                ran.done += [(running.pop(f), f.result()) for f in finished]
            if deadline.start():
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
    resume = options.resume_point(database, table.get("Name", ""))

    def sync(spec: TableSpec, result: TableResult) -> None:
        _TableSync(work, spec, options, nested_locations, now, result, resume).run()

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
        resume: str | None = None,
    ) -> None:
        self.work = work
        self.resume = resume  # where an earlier invocation was cut (a partition's location)
        self.glue = work.clients.glue
        self.s3 = work.clients.s3
        self.spec = spec
        self.database = spec.database
        self.name = spec.name
        self.options = options
        self.nested = nested_locations
        self.now = now
        self.result = result
        self.catalog = CatalogRead(work.clients.glue, work.settings, spec, options.dry_run)
        self.known = self.catalog.known  # registered partitions read
        self.notes = self.catalog.notes  # how the catalog had to be read, for scan_reason
        self.creator: OrderedCreator | None = None
        self.layout: s3p.Layout | None = None

    @property
    def split(self) -> KeySplit:
        return self.spec.split

    def run(self) -> None:
        registered = self._read_catalog()
        layout = self.spec.layout(self.now, _sample_paths(self.spec, registered))
        scan = self._scan(layout)
        self.creator = self._creator(layout)
        discovery: s3l.Discovery | None = None
        try:
            discovery = self._discover(scan, registered)
        except TableCut:
            pass
        finally:
            outcome = self.creator.finish()
        if discovery is None:
            discovery = self._cut()
        self._report_scan(layout, scan, discovery)
        self.result.record_writes(outcome)
        self.result.expired = self.creator.expired
        if self.result.resume is None:  # a cut table removes nothing: its listing is partial
            self._remove(layout, scan, discovery)
        self._record_freshness(layout, outcome)
        self._log(scan, discovery)

    # ---------------------------------------------------------------- the steps, in order

    def _read_catalog(self) -> list[dict[str, Any]]:
        """The registered partitions discovery starts from (see CatalogRead.start), and the
        table's partition index in its entry."""
        full = self.options.full_scan or self.options.mode == "sync"
        registered = self.catalog.start(self.now, full)
        self.spec = self.catalog.spec
        index, result = self.catalog.index, self.result
        result.partition_index = ", ".join(index.names) or None
        result.would_create_index = index.would_create or None
        result.warnings += index.warnings
        return registered

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
        """The scan's sink: each partition found goes to the creator (set by `run`), at its
        location in the table's own scheme (s3a:// stays s3a://)."""
        assert self.creator is not None and self.layout is not None
        self.creator.add(values, prefix, self.layout.url(prefix))

    def _creator(self, layout: s3p.Layout) -> OrderedCreator:
        self.layout = layout
        return OrderedCreator(
            self.work.writer,
            (self.database, self.name),
            glue_api.partition_input_builder(self.spec.table),
            self.known,
            self.options.dry_run,
            self.spec.expiry(self.now),
            self._order,
            self.work.out_of_time,
            self._resume_key(layout),
        )

    def _order(self, values: tuple[str, ...], prefix: str) -> OrderKey:
        """Where a partition stands in the order it is registered in: its path, or its time
        where paths do not sort in time."""
        return prefix if self.split.path_ordered else (self.split.time_order(values), prefix)

    def _resume_key(self, layout: s3p.Layout) -> OrderKey | None:
        """The order key of the resume point; ValueError when it is no partition of the table."""
        if self.resume is None:
            return None
        bucket = f"s3://{layout.bucket}/"
        url = s3p.canonical_url(self.resume)
        parsed = layout.parse(url[len(bucket) :] + "resume") if url.startswith(bucket) else None
        if parsed is None or parsed.values is None or parsed.prefix is None:
            raise ValueError(f"resume point {self.resume} is not a partition path of this table")
        return self._order(parsed.values, parsed.prefix)

    def _cut(self) -> s3l.Discovery:
        """The table stopped at the deadline: where the next invocation resumes, and what was
        found before it."""
        assert self.creator is not None and self.creator.cut is not None
        location = self.creator.cut[1]
        self.result.resume = location
        self.result.problem(
            f"cut by the deadline before {location}: everything before it is registered; "
            "the rest is handed on in 'continuation'"
        )
        return s3l.Discovery(partitions=dict.fromkeys(self.creator.created_values, ""))

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
        if not self.catalog.complete:  # asked for incremental, but the table must be scanned whole
            registered = self.catalog.read_all()
        return scan.full(registered)

    def _read_missing(self, branches: list[tuple[str, ...]]) -> list[dict[str, Any]]:
        return self.catalog.read_missing(branches)

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
            settings.glue_read_segments,
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
                "partition_reads": self.catalog.reads,
                "whole_read_seconds": round(self.catalog.seconds, 3),
                "partition_index": result.partition_index,
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
