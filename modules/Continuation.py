"""No table left behind: the order tables start in, and handing the rest on to the function.

A run that cannot finish hands its remaining tables back in `continuation`. A parent that does
not re-invoke with it would leave the same tail behind every time if every run started at the
top of the list, so the list is rotated by a start that moves with the clock: the golden-ratio
sequence spreads successive starts evenly over the list (the three-distance theorem), so every
table comes near the front within a few runs, whatever the schedule, with no state to keep.
With `CONTINUE_ASYNC=true` the function also invokes itself asynchronously with each
continuation event, up to `MAX_CONTINUATIONS` links in a chain.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from modules.AwsErrors import describe

T = TypeVar("T")
_GOLDEN = (math.sqrt(5) - 1) / 2
_SLOT_SECONDS = 60  # runs within the same minute (retries) start at the same table


def rotated(jobs: list[T], now: datetime) -> list[T]:
    """The jobs, rotated to start where this minute's slot of the golden-ratio sequence falls."""
    if len(jobs) < 2:
        return list(jobs)
    slot = int((now - datetime(1970, 1, 1, tzinfo=now.tzinfo)).total_seconds()) // _SLOT_SECONDS
    start = int((slot * _GOLDEN) % 1 * len(jobs))
    return jobs[start:] + jobs[:start]


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
