"""How one table's S3 side is listed: whole or from the newest registered partition, branch by
branch or in slices at once, so that a run costs what the new data costs.

New data arrives in time order within a branch (the values of the keys before the first time
key: `region`, `customer_id`), so each branch is listed after its own newest registered partition
W. Branches are listed concurrently; partitions reach the writer in path order within each
branch, which keeps a run that dies half-way from leaving a registered partition above one it
never wrote. This module lists S3 only; what the catalog holds comes in from the caller.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules import S3Listing as s3l
from modules import S3PrefixGeneration as s3p
from modules.AwsErrors import describe
from modules.TimeKeys import KeySplit

Sink = Callable[[tuple[str, ...], str], None]
# A full scan walks the directories when at most this many are unregistered and need a data check.
_WALK_MAX_CHECKS = 200
# What a listing call costs against the entries it returns: a call among S3_CONCURRENCY others in
# flight costs about as much as reading this many keys of a page (on S3 and on moto alike).
_CALL_COST = 50
Partition = dict[str, Any]


@dataclass
class TableScan:
    """The S3 listing of one table, and what it decided on the way (for the report)."""

    s3: Any
    pool: Executor
    layout: s3p.Layout
    split: KeySplit
    sink: Sink  # hears of each partition found (thread-safe), in path order within a branch
    path_of: Callable[[Partition], str]  # a registered partition's key prefix
    nested: Callable[[str], list[str]]  # other tables' locations under a key prefix
    now: datetime
    collect_data_dirs: bool = False
    max_branches: int = 1000
    slices: int = 8  # how many slices a table without branches is listed in at once
    template_max_candidates: int = 100
    enums: dict[str, list[str]] = field(default_factory=dict)
    branches: int | None = None  # branches found (None: the table has no branch keys)
    whole_reason: str | None = None  # why a table was scanned whole when incremental was asked
    order_reason: str | None = None  # why the directories were walked instead of listed
    roots: list[str] = field(default_factory=list)  # prefixes listed in full (sync mode)

    def full(self, registered: list[Partition]) -> s3l.Discovery:
        """Every partition in S3: by walking the directory levels when most are registered,
        else branch by branch, or in slices split at registered paths."""
        return self._in_time_order(lambda: self._full(registered))

    def _full(self, registered: list[Partition]) -> s3l.Discovery:
        walked = self._walk(registered) if registered and not self.collect_data_dirs else None
        if walked is not None:
            return walked
        listing = self._branches()
        if listing is None or listing.capped:
            return self._slices(registered)
        if listing.error:
            return _failed(listing)
        return self._per_branch([(b, None) for b in listing.branches], listing)

    def incremental(
        self,
        registered: list[Partition],
        read_missing: Callable[[list[tuple[str, ...]]], list[Partition]],
    ) -> s3l.Discovery | None:
        """The partitions after each branch's newest registered one. `read_missing` reads the
        catalog for branches that `registered` does not cover. None when the table must be
        scanned whole instead (`whole_reason` says why)."""
        return self._in_time_order(lambda: self._incremental(registered, read_missing))

    def _incremental(
        self,
        registered: list[Partition],
        read_missing: Callable[[list[tuple[str, ...]]], list[Partition]],
    ) -> s3l.Discovery | None:
        if not self.split.branch:
            newest = self._newest_by_branch(registered)[()]
            whole = s3l.Branch((), self.layout.list_prefix)
            return self._generated(newest) or self._after(whole, newest)
        listing = self._branches()
        if listing is None or listing.capped:
            return None
        if listing.error:
            return _failed(listing)
        newest = self._newest_by_branch(registered)
        missing = [b.values for b in listing.branches if b.values not in newest]
        if missing:
            newest = self._newest_by_branch([*registered, *read_missing(missing)])
        return self._per_branch([(b, newest.get(b.values)) for b in listing.branches], listing)

    # ------------------------------------------------------------------ time order

    def _in_time_order(self, scan: Callable[[], s3l.Discovery | None]) -> s3l.Discovery | None:
        """Run `scan`, its partitions reaching the sink in time order. Where the order of paths
        is the order of time (padded numbers, year-first dates) that is the listing's own order,
        and partitions stream to the sink as they are found. Elsewhere (Spark's `month=9` after
        `month=10`, AWS Config's `2026/9/30`, a day-first `dt`) they are held and passed on
        sorted once the scan is over, and not at all when a listing failed: a run that dies or
        fails half-way must never register a partition above one it did not."""
        if self.split.path_ordered:
            return scan()
        sink, held, lock = self.sink, [], threading.Lock()

        def hold(values: tuple[str, ...], prefix: str) -> None:
            with lock:
                held.append((values, prefix))

        self.sink = hold
        try:
            found = scan()
        finally:
            self.sink = sink
        if found is not None and not found.error:
            for values, prefix in sorted(held, key=lambda h: (self.split.time_order(h[0]), h[1])):
                sink(values, prefix)
        return found

    def _after(self, branch: s3l.Branch, newest: Partition | None) -> s3l.Discovery:
        """A branch's partitions after its newest registered one (all of them without one):
        listed from just after its path, or where paths do not sort in time, found by walking
        down the newest one's directories."""
        if newest is None:
            return self._list(branch.prefix)
        if self.split.path_ordered:
            return self._list(branch.prefix, s3p.key_after_prefix(self.path_of(newest)))
        plan = self.layout.branch_levels(len(self.layout.keys))
        if plan is None:
            self.whole_reason = (
                "paths do not sort in time and the template cannot be walked level by level: "
                "each branch is listed whole"
            )
            return self._list(branch.prefix)
        self.order_reason = (
            "paths do not sort in time (unpadded numbers or a day-first date): walked the "
            "directories from the newest partition"
        )
        levels = plan[1]
        keyed = [i for i, level in enumerate(levels) if level.key is not None]
        below = levels[keyed[len(self.split.branch) - 1] + 1 :] if self.split.branch else levels
        found = s3l.Discovery()
        self._descend(branch.prefix, below, tuple(newest["Values"]), len(self.split.branch), found)
        return found

    def _descend(
        self,
        prefix: str,
        levels: list[s3p.BranchLevel],
        newest: tuple[str, ...],
        index: int,
        found: s3l.Discovery,
    ) -> None:
        """One level of the walk: list its directories; go down the newest partition's own,
        list every later one (by time, not by name) whole, pass over the earlier ones."""
        if not levels or found.error:
            return
        level, rest = levels[0], levels[1:]
        if level.key is None:  # a template's fixed directory
            self._descend(f"{prefix}{level.literal}/", rest, newest, index, found)
            return
        assert level.read is not None
        try:
            dirs, _, calls = s3l.subdirectories(self.s3, self.layout.bucket, prefix)
        except (ClientError, BotoCoreError) as exc:
            found.error = f"listing s3://{self.layout.bucket}/{prefix} failed: {describe(exc)}"
            return
        found.list_calls += calls
        excluded = set(self.nested(prefix))
        order = self.split.value_order(index)
        for directory in dirs:
            name = directory[len(prefix) : -1]
            if s3p.is_ignored_name(name) or directory in excluded:
                continue
            value, reason = level.read(name)
            if value is not None:
                reason = s3p.check_key_value(level.key, value, self.layout.validators)
            if value is None or reason:
                found.skipped[directory] = f"{level.key.name}: {reason}"
            elif order(value) == order(newest[index]):
                self._descend(directory, rest, newest, index + 1, found)
            elif order(value) > order(newest[index]):
                found.merge(self._list(directory))
            if found.error:
                return

    # ------------------------------------------------------------------ branches

    def _branches(self) -> s3l.BranchListing | None:
        """The table's branches; None (with `whole_reason`) when it has none or too many."""
        if not self.split.branch:
            return None
        listing = self._levels(len(self.split.branch), self.max_branches, self.enums)
        if listing is None:
            self.whole_reason = "branch directories cannot be listed one level at a time"
            return None
        if listing.capped:
            self.whole_reason = f"more than MAX_BRANCHES ({self.max_branches}) branches"
            return listing
        self.branches = len(listing.branches)
        return listing

    def _levels(
        self, count: int, limit: int, enums: dict[str, list[str]] | None = None
    ) -> s3l.BranchListing | None:
        """The directories of the first `count` key levels, at most `limit` of them."""
        return s3l.list_branches(
            self.s3,
            self.layout,
            count,
            self.pool,
            exclude=self.nested(self.layout.list_prefix),
            limit=limit,
            enums=enums,
        )

    def _newest_by_branch(self, registered: list[Partition]) -> dict[tuple[str, ...], Partition]:
        """Each branch's newest registered partition: the last by path, or by time where paths
        do not sort in time."""
        if self.split.path_ordered:
            order: Callable[[Partition], Any] = self.path_of
        else:
            order = lambda p: (self.split.time_order(p["Values"]), self.path_of(p))  # noqa: E731
        newest: dict[tuple[str, ...], Partition] = {}
        for partition in registered:
            branch = self.split.branch_of(partition["Values"])
            if branch not in newest or order(partition) > order(newest[branch]):
                newest[branch] = partition
        return newest

    def _per_branch(
        self, plan: list[tuple[s3l.Branch, Partition | None]], listing: s3l.BranchListing
    ) -> s3l.Discovery:
        """List every branch (after its newest partition, if any) concurrently."""
        futures = [self.pool.submit(self._after, b, newest) for b, newest in plan]
        found = s3l.Discovery(skipped=dict(listing.skipped), list_calls=listing.list_calls)
        for result in _all_done(futures):
            found.merge(result)
        self.roots = [b.prefix for b, _ in plan]
        return found

    def _walk(self, registered: list[Partition]) -> s3l.Discovery | None:
        """Walk every partition level with `Delimiter` listings (directories only, not the objects
        in them) and check for data only in directories that are not registered: adding never
        needs to know whether a registered partition still holds data. None when listing the
        objects costs less (many small branches, few objects per partition), when the layout
        cannot be walked level by level, or when so much is unregistered (a backfill) that
        listing the objects is cheaper."""
        own = self.layout.list_prefix
        paths = sorted(p for p in map(self.path_of, registered) if p.startswith(own))
        if not paths or not self._walk_pays(paths, registered):
            return None
        listing = self._levels(len(self.layout.keys), len(registered) + _WALK_MAX_CHECKS)
        if listing is None or listing.capped:
            return None
        if listing.error:
            return _failed(listing)
        known = {tuple(p["Values"]) for p in registered}
        fresh = [b for b in listing.branches if b.values not in known]
        if len(fresh) > _WALK_MAX_CHECKS:
            return None
        found = s3l.Discovery(skipped=dict(listing.skipped), list_calls=listing.list_calls + 1)
        found.partitions = {b.values: b.prefix for b in listing.branches if b.values in known}
        siblings = Counter(_parent(b.prefix) for b in listing.branches)
        groups: dict[str, list[s3l.Branch]] = {}
        for branch in fresh:  # in path order, and so are the groups
            groups.setdefault(_parent(branch.prefix), []).append(branch)
        checks = [
            (members, self.pool.submit(self._holding_data, parent, members, siblings[parent]))
            for parent, members in groups.items()
        ]
        for members, check in checks:
            held = check.result()
            found.merge(held)
            for branch in members:
                if branch.prefix in held.data_dirs and not found.error:
                    found.partitions[branch.values] = branch.prefix
                    self.sink(branch.values, branch.prefix)
        self.roots = [own]
        return found

    def _walk_pays(self, paths: list[str], registered: list[Partition]) -> bool:
        """Whether walking the directories costs less than listing the objects: a listing call
        counts as `_CALL_COST` entries; the objects per partition come from listing the newest."""
        own = self.layout.list_prefix
        parents = {path[: i + 1] for path in paths for i in _slashes(path, len(own) - 1)[:-1]}
        try:
            page = self.s3.list_objects_v2(Bucket=self.layout.bucket, Prefix=paths[-1])
        except (ClientError, BotoCoreError):
            return False
        objects = len(paths) * max(1, page.get("KeyCount", 0))
        units = len({self.split.branch_of(p["Values"]) for p in registered}) or self.slices
        walk = len(parents) * (_CALL_COST + 1) + len(paths)
        flat = max(units, objects / 1000) * _CALL_COST + objects
        return walk < flat

    def _holding_data(self, parent: str, members: list[s3l.Branch], siblings: int) -> s3l.Discovery:
        """Which of these unregistered directories (children of `parent`) hold data, in
        `data_dirs`: one listing of the parent when they are a good part of its children, else
        a check of each."""
        if len(members) > 1 and len(members) * 4 >= siblings:
            listed = self._list(parent, sink=lambda values, prefix: None)
            listed.data_dirs = set(listed.partitions.values())
            return listed
        held = s3l.Discovery()
        for branch in members:
            try:
                if s3l.prefix_has_data(self.s3, self.layout.bucket, branch.prefix, held):
                    held.data_dirs.add(branch.prefix)
            except (ClientError, BotoCoreError) as exc:
                held.error = _check_failed(self.layout.bucket, branch.prefix, exc)
                break
        return held

    # ------------------------------------------------------------------ listings

    def _list(
        self,
        prefix: str,
        start_after: str | None = None,
        key_range: tuple[str | None, str | None] = (None, None),
        sink: Sink | None = None,
    ) -> s3l.Discovery:
        return s3l.discover(
            self.s3,
            self.layout,
            start_after=start_after,
            exclude=self.nested(prefix),
            collect_data_dirs=self.collect_data_dirs,
            on_partition=sink or self.sink,
            prefix=prefix,
            key_range=key_range,
        )

    def _slices(self, registered: list[Partition]) -> s3l.Discovery:
        """The whole table, in slices split at registered paths and listed at once; their
        partitions reach the sink in slice order, so path order holds for the whole table."""
        own = self.layout.list_prefix
        paths = sorted(p for p in map(self.path_of, registered) if p.startswith(own))
        count = max(1, min(self.slices, len(paths) // 100))
        bounds = [None, *(paths[len(paths) * i // count] for i in range(1, count)), None]
        sequencer = _SliceSequencer(self.sink, count)
        futures = [
            self.pool.submit(self._slice, own, (bounds[i], bounds[i + 1]), sequencer, i)
            for i in range(count)
        ]
        found = s3l.Discovery()
        for result in _all_done(futures):
            found.merge(result)
        self.roots = [own]
        return found

    def _slice(
        self,
        prefix: str,
        key_range: tuple[str | None, str | None],
        sequencer: _SliceSequencer,
        index: int,
    ) -> s3l.Discovery:
        found = s3l.Discovery(error="not listed")
        try:
            found = self._list(prefix, key_range=key_range, sink=sequencer.feed(index))
        finally:
            sequencer.done(index, complete=not found.error)
        return found

    def _generated(self, newest: Partition) -> s3l.Discovery | None:
        """For a template whose only key is a projected date: check the dates after the newest
        partition up to now, instead of listing. None when this does not apply."""
        layout = self.layout
        if not isinstance(layout, s3p.TemplateLayout) or layout.date_projection is None:
            return None
        if len(layout.keys) != 1:
            return None
        candidates = layout.date_projection.candidates_after(
            newest["Values"][0], self.now, self.template_max_candidates
        )
        if candidates is None:
            return None
        found = s3l.Discovery()
        prefixes = {value: layout.path_of([value]) for value in candidates}
        checks = {
            value: self.pool.submit(s3l.prefix_has_data, self.s3, layout.bucket, prefix, found)
            for value, prefix in prefixes.items()
        }
        for value, check in checks.items():  # oldest first: path order
            try:
                has_data = check.result()
            except Exception as exc:
                found.error = found.error or _check_failed(layout.bucket, prefixes[value], exc)
                continue
            if has_data and not found.error:  # after a failure: the next run's
                found.partitions[(value,)] = prefixes[value]
                self.sink((value,), prefixes[value])
        return found


def _all_done(futures: list[Future[s3l.Discovery]]) -> list[s3l.Discovery]:
    """Every listing's result once all are over: a listing stopped by the sink (the table's
    deadline) raises only after the others stop too, so none feeds the sink afterwards."""
    wait(futures)
    return [future.result() for future in futures]


def _parent(prefix: str) -> str:
    """The directory that holds the directory `prefix`."""
    return prefix[: prefix.rstrip("/").rfind("/") + 1]


def _slashes(path: str, start: int) -> list[int]:
    """Positions of the `/` in `path` from `start` on: the ends of its directories."""
    return [i for i in range(start, len(path)) if path[i] == "/"]


def _check_failed(bucket: str, prefix: str, exc: BaseException) -> str:
    return f"checking s3://{bucket}/{prefix} failed: {describe(exc)}"


def _failed(listing: s3l.BranchListing) -> s3l.Discovery:
    return s3l.Discovery(
        skipped=dict(listing.skipped), list_calls=listing.list_calls, error=listing.error
    )


class _SliceSequencer:
    """Passes on the partitions of consecutive slices of one key space in slice order: a slice
    streams once every slice before it is done; until then its partitions wait. Slices after
    one that did not complete pass nothing on: the next run lists them again."""

    def __init__(self, sink: Sink, count: int) -> None:
        self.sink = sink
        self.head = 0
        self.stop = count  # slices after this one pass nothing on
        self.waiting: list[list[tuple[tuple[str, ...], str]]] = [[] for _ in range(count)]
        self.finished = [False] * count
        self.lock = threading.Lock()

    def feed(self, index: int) -> Sink:
        def add(values: tuple[str, ...], prefix: str) -> None:
            with self.lock:
                if index > self.stop:
                    return
                if index == self.head:
                    self.sink(values, prefix)
                else:
                    self.waiting[index].append((values, prefix))

        return add

    def done(self, index: int, complete: bool) -> None:
        with self.lock:
            self.finished[index] = True
            if not complete:
                self.stop = min(self.stop, index)
            while self.finished[self.head] and self.head < min(self.stop, len(self.finished) - 1):
                self.head += 1
                for item in self.waiting[self.head]:
                    self.sink(*item)
                self.waiting[self.head] = []
