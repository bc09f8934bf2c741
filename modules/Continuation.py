"""No table left behind: the order tables start in, and handing the rest on to the function.

A run that cannot finish hands its remaining tables back in `continuation`. When nothing runs
them (no parent looping over `continuation`, no `CONTINUE_ASYNC`, no fan-out), the next run of
the same event must not start at the same table again, or the tail of the list would never be
synced. Any order computed from the clock alone fails some schedule, so a run that is cut short
writes where it stopped into the catalog, the function's only state: one parameter per list of
databases on a small table of its own (`STATE_TABLE`, no columns, no data) in the event's first
database. `GetTables` already returns that table, so reading the cursor costs no call, and only a
run that was cut writes one. The next run starts at that table: with k tables started per run,
every one of n tables starts within ceil(n/k) runs, whatever the schedule.

With `CONTINUE_ASYNC=true` the function also invokes itself asynchronously with each
continuation event, up to `MAX_CONTINUATIONS` links in a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from modules import GlueAPISetup as glue_api
from modules.AwsErrors import describe

T = TypeVar("T")
STATE_TABLE = "_partition_sync_state"
_STATE_DESCRIPTION = (
    "glue-catalog-partition-management: where runs that were cut short resume (one parameter "
    "per list of databases). Not a data table; the function never syncs it."
)
_CURSOR_PREFIX = "partition_sync.next."


@dataclass(frozen=True)
class Cursor:
    """The resume point of runs over one list of databases, as the catalog holds it."""

    databases: tuple[str, ...]
    state: dict[str, Any] | None  # STATE_TABLE of the first database (None: not created yet)
    readable: bool = True  # False: the first database could not be read, so neither can this

    @property
    def key(self) -> str:
        """The parameter that holds this list's resume point."""
        digest = hashlib.sha256(json.dumps(self.databases).encode()).hexdigest()[:12]
        return _CURSOR_PREFIX + digest

    def stored(self) -> tuple[str, str] | None:
        """(database, table) to start at, or None when there is none (or it is not ours)."""
        raw = ((self.state or {}).get("Parameters") or {}).get(self.key)
        try:
            value = json.loads(raw) if raw else None
            if value["databases"] == list(self.databases):
                database, table = value["next"]
                return str(database), str(table)
        except (ValueError, TypeError, KeyError):
            pass  # a value written by hand or by another version: start from the top
        return None


def resume_order(jobs: Sequence[T], cursor: Cursor, key: Callable[[T], tuple[str, str]]) -> list[T]:
    """The jobs in a fixed order (databases as the event lists them, tables by name), starting
    at the table the last cut-short run did not start. `key(job)` is its (database, table)."""
    rank = {d: i for i, d in enumerate(cursor.databases)}

    def position(database: str, table: str) -> tuple[int, str]:
        return rank.get(database, len(rank)), table

    ordered = sorted(jobs, key=lambda job: position(*key(job)))
    stored = cursor.stored()
    if stored is None or stored[0] not in rank:
        return ordered
    start = next(
        (i for i, job in enumerate(ordered) if position(*key(job)) >= position(*stored)), 0
    )
    return ordered[start:] + ordered[:start]


def remember(glue: Any, cursor: Cursor, next_table: tuple[str, str]) -> str | None:
    """Store where the next run starts (the first table this one did not start); return why
    that failed, if it did. Nothing is written when the catalog already says so."""
    if not cursor.readable:
        return f"cannot remember where to resume: database {cursor.databases[0]} was not read"
    if cursor.stored() == next_table:
        return None
    parameters = dict((cursor.state or {}).get("Parameters") or {})
    value = {"databases": list(cursor.databases), "next": list(next_table)}
    parameters[cursor.key] = json.dumps(value)
    try:
        glue_api.put_table_parameters(
            glue, cursor.databases[0], STATE_TABLE, _STATE_DESCRIPTION, parameters
        )
    except (ClientError, BotoCoreError) as exc:
        return (
            f"could not remember where to resume ({cursor.databases[0]}.{STATE_TABLE}): "
            f"{describe(exc)}; the next run may start at the same tables"
        )
    return None


@dataclass
class HandOff:
    """What a run handed on to itself, what it could not, and why."""

    handed: list[dict[str, Any]] = field(default_factory=list)
    left: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def function_and_qualifier(arn: str) -> tuple[str, str | None]:
    """Split `arn:aws:lambda:region:account:function:name[:qualifier]`."""
    parts = arn.split(":")
    if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
        raise ValueError(f"{arn!r} is not a Lambda function ARN")
    return ":".join(parts[:7]), parts[7] if len(parts) == 8 else None


def hand_on(
    lambda_: Any,
    context: Any,
    events: list[dict[str, Any]],
    depth: int,
    max_continuations: int,
) -> HandOff:
    """Invoke the function itself (same function and qualifier, `InvocationType=Event`) with
    each continuation event, one link deeper; events it could not hand on stay `left`."""
    if depth >= max_continuations:
        tables = sum(len(e["tables"]) for e in events)
        return HandOff(
            left=events,
            errors=[
                f"continuation_depth {depth} reached MAX_CONTINUATIONS {max_continuations}: "
                f"{tables} table(s) not handed on (see 'continuation')"
            ],
        )
    arn = getattr(context, "invoked_function_arn", None)
    if not arn:
        return HandOff(left=events, errors=["CONTINUE_ASYNC needs a Lambda context to continue"])
    function, qualifier = function_and_qualifier(arn)
    handoff = HandOff()
    for event in events:
        payload = {**event, "continuation_depth": depth + 1}
        params: dict[str, Any] = {
            "FunctionName": function,
            "InvocationType": "Event",
            "Payload": json.dumps(payload).encode(),
        }
        if qualifier:
            params["Qualifier"] = qualifier
        try:
            lambda_.invoke(**params)
            handoff.handed.append(payload)
        except (ClientError, BotoCoreError) as exc:
            handoff.left.append(event)
            handoff.errors.append(f"handing on {event['databases']} failed: {describe(exc)}")
    return handoff
