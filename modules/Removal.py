"""What leaves the catalog: sync mode's gone partitions and retention's expired ones.

Removing is the one thing that can lose a query its data, so it lives apart, with its guards:
catalog entries only (never S3 data), never on the strength of an incomplete listing, never more
than SYNC_MAX_REMOVE_FRACTION of a table without `force`; retention removes by intent, found with
an expression on the time keys. A dry run lists what would go.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from modules import GlueAPISetup as glue_api
from modules import S3Listing as s3l
from modules import S3PrefixGeneration as s3p
from modules.AwsErrors import describe
from modules.TableControl import Expiry
from modules.TableReport import TableResult
from modules.TimeKeys import KeySplit


@dataclass(frozen=True)
class Target:
    """The table whose catalog entries may be removed, and what the run allows."""

    glue: Any
    s3: Any
    writer: glue_api.GlueWriter
    pool: Executor  # for data checks of locations outside the table's prefix
    database: str
    table: str
    dry_run: bool = False
    force: bool = False
    max_remove_fraction: float = 0.1
    read_segments: int = 1  # GLUE_READ_SEGMENTS, for a read Glue cannot filter


@dataclass(frozen=True)
class Listed:
    """What the S3 pass of a sync covered: the layout, what it found, the prefixes it listed in
    full (`roots`), and other tables' locations nested under the table (never its own)."""

    layout: s3p.Layout
    discovery: s3l.Discovery
    roots: list[str]
    nested: list[str]


def remove_gone(
    target: Target, result: TableResult, known: dict[tuple[str, ...], Any], listed: Listed
) -> None:
    """Sync mode: drop catalog entries whose Location holds no data, behind the guards.
    A location under the table that no listing covered (`roots`) is kept."""
    if listed.discovery.error:
        result.problem("nothing removed: the S3 listing did not complete")
        return
    gone = _gone(target, result, known, listed)
    if not gone:
        return
    limit = target.max_remove_fraction
    share = len(gone) / len(known)
    refused = share > limit and not target.force
    result.removal_refused = refused
    if target.dry_run:
        result.would_remove = sorted(gone.values())
    if refused:
        result.problem(
            f"refused to remove {len(gone)} of {len(known)} registered partitions "
            f"({share:.1%} > SYNC_MAX_REMOVE_FRACTION {limit:.1%}): check the table "
            "location and the function's S3 permissions, or pass force"
        )
        return
    if target.dry_run:
        result.removed = len(gone)
        return
    outcome = target.writer.delete(target.database, target.table, sorted(gone))
    result.removed = len(outcome.done) + len(outcome.already)
    result.failed += len(outcome.failed)
    for values, reason in sorted(outcome.failed.items()):
        result.problem(f"removing partition {list(values)} failed: {reason}")


def _gone(
    target: Target, result: TableResult, known: dict[tuple[str, ...], Any], listed: Listed
) -> dict[tuple[str, ...], str] | None:
    """The registered partitions whose Location holds no data (values -> location): under the
    table, from the listing; elsewhere in S3, checked one by one. None when a check failed."""
    bucket_url = f"s3://{listed.layout.bucket}/"
    own = bucket_url + listed.layout.list_prefix
    nested = [bucket_url + n for n in listed.nested]
    roots = [bucket_url + r for r in listed.roots]
    gone: dict[tuple[str, ...], str] = {}
    outside: dict[tuple[str, ...], Any] = {}
    for values, partition in known.items():
        loc = glue_api.location_of(partition)
        loc = loc if loc.endswith("/") else loc + "/"
        canonical = s3p.canonical_url(loc)  # s3a:// and s3n:// name the same objects
        if canonical.startswith(own) and not any(canonical.startswith(n) for n in nested):
            if not any(canonical.startswith(r) for r in roots):
                result.errors.append(f"kept {list(values)}: {loc} is in no listed branch")
            elif canonical[len(bucket_url) :] not in listed.discovery.data_dirs:
                gone[values] = loc
        elif s3p.is_s3_url(loc):
            bucket, key = s3p.split_s3_url(loc)
            check = target.pool.submit(s3l.prefix_has_data, target.s3, bucket, key)
            outside[values] = (loc, check)
        else:
            result.errors.append(f"kept {list(values)}: location {loc!r} is not in S3")
    for values, (loc, check) in outside.items():
        try:
            if not check.result():
                gone[values] = loc
        except Exception as exc:
            result.problem(f"nothing removed: checking {loc} failed: {describe(exc)}")
            return None
    return gone


def expire(
    target: Target,
    result: TableResult,
    split: KeySplit,
    expiry: Expiry | None,
    known: dict[tuple[str, ...], Any],
    notes: list[str] | None = None,
) -> None:
    """Retention: remove the catalog entries past the table's retention period (never S3
    data), found with an expression on the time keys; a dry run lists them instead. No
    SYNC_MAX_REMOVE_FRACTION here: retention removes by intent."""
    if expiry is None:
        return
    expired = glue_api.find_expired(
        target.glue,
        target.database,
        target.table,
        split,
        expiry.cutoff,
        expiry,
        notes,
        target.read_segments,
    )
    removed = [tuple(p["Values"]) for p in expired]
    if target.dry_run:
        result.would_expire = sorted(glue_api.location_of(p) for p in expired)
    else:
        outcome = target.writer.delete(target.database, target.table, sorted(removed))
        removed = outcome.done + outcome.already
        result.failed += len(outcome.failed)
        for values, reason in sorted(outcome.failed.items()):
            result.problem(f"removing expired partition {list(values)} failed: {reason}")
    result.expired += len(removed)
    for values in removed:
        known.pop(values, None)
