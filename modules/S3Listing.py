"""S3 listing: the branches of a table, the keys under a prefix, and the partitions they hold.

Listing is where a run spends its S3 calls, so everything that decides how many there are lives
here: `Delimiter` listings one level per branch key, flat listings from `StartAfter`, jumps over
ignored subtrees and nested tables, slices of a table listed at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules.AwsErrors import describe
from modules.S3PrefixGeneration import (
    BranchLevel,
    Layout,
    check_key_value,
    is_data_key,
    is_ignored_name,
    key_after_prefix,
)


@dataclass
class Discovery:
    """What one S3 pass found for a table."""

    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)  # values -> prefix
    skipped: dict[str, str] = field(default_factory=dict)  # prefix -> reason
    data_dirs: set[str] = field(default_factory=set)  # every directory holding data (sync mode)
    error: str | None = None  # set when a listing call failed: the pass is incomplete
    list_calls: int = 0

    def merge(self, other: Discovery) -> None:
        """Fold the pass over another part of the table into this one."""
        self.partitions.update(other.partitions)
        self.skipped.update(other.skipped)
        self.data_dirs |= other.data_dirs
        self.error = self.error or other.error
        self.list_calls += other.list_calls


@dataclass(frozen=True)
class Branch:
    """A branch of a table: the values of its branch keys and its key prefix."""

    values: tuple[str, ...]
    prefix: str


@dataclass
class BranchListing:
    """The branches found under a table location."""

    branches: list[Branch] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # prefix -> reason
    list_calls: int = 0
    error: str | None = None
    capped: bool = False  # more than the limit: the caller scans the table whole


def list_branches(
    s3: Any,
    layout: Layout,
    count: int,
    pool: Executor,
    exclude: Iterable[str] = (),
    limit: int = 1000,
    enums: Mapping[str, list[str]] | None = None,
) -> BranchListing | None:
    """Find the table's branches (the values of its first `count` keys) with `Delimiter`
    listings, one level per key, the prefixes of a level listed concurrently; a key with an
    `enum` projection is expanded from its values instead. Ignored names, folder markers and
    nested tables' locations are passed over; names that do not read as their key's value are
    reported in `skipped`. None when the layout's branches cannot be read level by level."""
    plan = layout.branch_levels(count)
    if plan is None:
        return None
    root, levels = plan
    excluded = {p if p.endswith("/") else p + "/" for p in exclude}
    listing = BranchListing()
    frontier = [Branch((), root)]
    for level in levels:
        if level.key is None:
            frontier = [Branch(b.values, f"{b.prefix}{level.literal}/") for b in frontier]
            continue
        allowed = (enums or {}).get(level.key.name)
        if allowed is not None and level.render is not None:
            frontier = [
                Branch((*b.values, v), f"{b.prefix}{level.render(v)}/")
                for b in frontier
                for v in allowed
            ]
        else:
            try:
                found = list(
                    pool.map(lambda b: subdirectories(s3, layout.bucket, b.prefix), frontier)
                )
            except (ClientError, BotoCoreError) as exc:
                listing.error = f"listing branches of s3://{layout.bucket}/{root} failed: " + (
                    describe(exc)
                )
                return listing
            frontier = _read_level(layout, level, frontier, found, excluded, listing)
        if len(frontier) > limit:
            listing.capped = True
            return listing
    listing.branches = frontier
    return listing


def _read_level(
    layout: Layout,
    level: BranchLevel,
    frontier: list[Branch],
    found: list[tuple[list[str], list[str], int]],
    excluded: set[str],
    listing: BranchListing,
) -> list[Branch]:
    """The branches one level down: each subdirectory read as the level key's value."""
    assert level.key is not None and level.read is not None
    branches = []
    for branch, (dirs, files, calls) in zip(frontier, found, strict=True):
        listing.list_calls += calls
        for key in files:  # data above the partition depth is reported, as a flat listing does
            parsed = layout.parse(key)
            if parsed is not None and parsed.values is None:
                listing.skipped.setdefault(parsed.prefix or key, parsed.reason or "")
        for directory in dirs:
            name = directory[len(branch.prefix) : -1]
            if is_ignored_name(name) or directory in excluded:
                continue
            value, reason = level.read(name)
            reason = (
                reason if value is None else check_key_value(level.key, value, layout.validators)
            )
            if value is None or reason:
                listing.skipped[directory] = f"{level.key.name}: {reason}"
                continue
            branches.append(Branch((*branch.values, value), directory))
    return branches


def subdirectories(s3: Any, bucket: str, prefix: str) -> tuple[list[str], list[str], int]:
    """One directory's subdirectories and the keys right in it, and the calls that took."""
    dirs: list[str] = []
    files: list[str] = []
    calls = 0
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        calls += 1
        dirs += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        files += [o["Key"] for o in page.get("Contents", ())]
    return dirs, files, calls


def iter_keys(
    s3: Any,
    bucket: str,
    prefix: str,
    start_after: str | None = None,
    exclude: Iterable[str] = (),
    counter: Discovery | None = None,
    page_size: int | None = None,
) -> Iterator[str]:
    """Yield every key under `prefix` after `start_after`, in key order, paginated (pages of
    `page_size` keys, S3's 1,000 by default).

    Keys under an `exclude` prefix (another table's location nested under this one) or under
    an ignored directory (`_temporary/`, `.hive-staging…/`) are jumped over with a fresh
    `StartAfter`, so a big ignored subtree costs one call, not one per thousand keys in it.
    """
    paginator = s3.get_paginator("list_objects_v2")
    excluded = sorted(p if p.endswith("/") else p + "/" for p in exclude)
    after = start_after
    while True:
        params = {"Bucket": bucket, "Prefix": prefix}
        if after:
            params["StartAfter"] = after
        jump = None
        pages = paginator.paginate(**params, PaginationConfig={"PageSize": page_size or 1000})
        for page in pages:
            if counter is not None:
                counter.list_calls += 1
            for item in page.get("Contents", ()):
                key = item["Key"]
                jump = _subtree_to_skip(key, prefix, excluded)
                if jump:
                    break
                yield key
            if jump:
                break
        if not jump:
            return
        after = key_after_prefix(jump)


def _subtree_to_skip(key: str, prefix: str, excluded: list[str]) -> str | None:
    for other in excluded:
        if key.startswith(other):
            return other
    relative = key[len(prefix) :]
    parts = relative.split("/")
    for i, part in enumerate(parts[:-1]):
        if is_ignored_name(part):
            return prefix + "/".join(parts[: i + 1]) + "/"
    return None


def discover(
    s3: Any,
    layout: Layout,
    start_after: str | None = None,
    exclude: Iterable[str] = (),
    collect_data_dirs: bool = False,
    on_partition: Callable[[tuple[str, ...], str], None] | None = None,
    prefix: str | None = None,
    key_range: tuple[str | None, str | None] = (None, None),
) -> Discovery:
    """List `prefix` (the layout's, by default; after `start_after`) and group data keys into
    partitions. `key_range` = (from, to) keeps the keys from `from` (a directory) up to, not
    including, `to`: one slice of a table that is listed in several at once.

    `on_partition` hears of each partition as soon as it is found, in key order, so the caller
    can register it while the listing goes on. A failed call ends the pass with `error` set and
    keeps what was found before it.
    """
    found = Discovery()
    prefix = layout.list_prefix if prefix is None else prefix
    low, high = key_range
    if low:  # `a/b` sorts right before every key under the directory `a/b/`
        start_after = max(start_after or "", low.removesuffix("/"))
    try:
        for key in iter_keys(s3, layout.bucket, prefix, start_after, exclude, found):
            if high is not None and key >= high:
                break
            if low and key < low:
                continue
            if collect_data_dirs and is_data_key(key[len(layout.list_prefix) :]):
                _add_dirs(found.data_dirs, key, len(layout.list_prefix))
            parsed = layout.parse(key)
            if parsed is None:
                continue
            if parsed.values is None:
                found.skipped.setdefault(parsed.prefix or key, parsed.reason or "does not parse")
            elif parsed.values not in found.partitions:
                found.partitions[parsed.values] = parsed.prefix or ""
                if on_partition:
                    on_partition(parsed.values, parsed.prefix or "")
    except (ClientError, BotoCoreError) as exc:
        found.error = f"listing s3://{layout.bucket}/{layout.list_prefix} failed: {describe(exc)}"
    return found


def _add_dirs(dirs: set[str], key: str, start: int) -> None:
    end = key.rfind("/")
    while end >= start:
        directory = key[: end + 1]
        if directory in dirs:
            return
        dirs.add(directory)
        end = key.rfind("/", 0, end)


_CHECK_PAGE = 20


def prefix_has_data(s3: Any, bucket: str, prefix: str, counter: Discovery | None = None) -> bool:
    """True when at least one data object lies under `prefix`; raises if S3 cannot tell. The
    first keys nearly always answer, so pages are small (a marker or two may come first)."""
    for key in iter_keys(s3, bucket, prefix, counter=counter, page_size=_CHECK_PAGE):
        if is_data_key(key[len(prefix) :]):
            return True
    return False
