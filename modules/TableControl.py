"""Per-table control through Hive's table properties, read from the Glue table's `Parameters`.

The control lives with the table, so any engine's `ALTER TABLE … SET TBLPROPERTIES` switches a
table off, keeps its catalog to the last N days or sets how old its newest partition may get,
without a deploy. Each property is validated per table: a bad value fails that table alone,
with an error naming the property and the value, and nothing is done to it.

- `discover.partitions`: `false` (any case) leaves the table alone; `true` or absent: as usual.
- `partition.retention.period`: partitions whose time starts before now - period are expired:
  removed from the catalog (never S3) and never registered.
- `partition.max.lag`: a table whose newest partition ended longer ago than this is stale.

Durations use Hive's syntax: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`, or Hive's
longer names such as `sec`, `min`, `hours`, `days`), e.g. `7d`, `36h`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modules.S3PrefixGeneration import TEMPLATE_PARAMETER, is_s3_url
from modules.TimeKeys import KeySplit, PartitionKey

DISCOVER = "discover.partitions"
RETENTION = "partition.retention.period"
MAX_LAG = "partition.max.lag"
SWITCHED_OFF = f"{DISCOVER}=false: the table is left alone"
# A shorter retention would race the data landing in the current hour.
MIN_RETENTION = timedelta(hours=1)

_DURATION = re.compile(r"(\d{1,12})\s*([a-z]+)", re.ASCII)
_UNITS = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}

Values = Sequence[str]


def parse_duration(name: str, text: str) -> timedelta:
    """A Hive duration (`7d`, `36h`, `90 m`); ValueError naming the property and the value."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(
            f"{name}={text!r} is not a duration: a whole number and a unit (ms, s, m, h, d), "
            "e.g. 7d or 36h"
        )
    duration = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if duration <= timedelta(0):
        raise ValueError(f"{name}={text!r} must be more than zero")
    return duration


@dataclass(frozen=True)
class TableControl:
    """What a table's properties ask of the function."""

    discover: bool = True
    retention: timedelta | None = None
    max_lag: timedelta | None = None

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> TableControl:
        """Read and validate the properties; ValueError names the property and the value."""
        discover = params.get(DISCOVER, "true")
        if discover.strip().lower() not in ("true", "false"):
            raise ValueError(f"{DISCOVER}={discover!r} must be true or false")
        retention = max_lag = None
        if RETENTION in params:
            retention = parse_duration(RETENTION, params[RETENTION])
            if retention < MIN_RETENTION:
                raise ValueError(f"{RETENTION}={params[RETENTION]!r} is under one hour")
        if MAX_LAG in params:
            max_lag = parse_duration(MAX_LAG, params[MAX_LAG])
        return cls(discover.strip().lower() == "true", retention, max_lag)

    def check_keys(self, split: KeySplit, params: dict[str, str]) -> None:
        """Retention and lag need time keys that denote a moment (a year at least)."""
        dated = any(tf.fmt is not None or tf.calendar_field == "year" for tf in split.fields)
        for name, value in ((RETENTION, self.retention), (MAX_LAG, self.max_lag)):
            if value is not None and not dated:
                raise ValueError(
                    f"{name}={params[name]!r} needs time partition keys (a date, or year/month/…),"
                    f" and keys {[k.name for k in split.keys]} have none"
                )

    def expiry(self, split: KeySplit, now: datetime) -> Expiry | None:
        """The retention's test for this run, or None without a retention period."""
        return Expiry(split, now - self.retention) if self.retention is not None else None


@dataclass(frozen=True)
class Expiry:
    """A partition is expired when the period its time keys denote starts before `cutoff`.
    Values that do not read as time are never expired: they are kept."""

    split: KeySplit
    cutoff: datetime

    def __call__(self, values: Values) -> bool:
        period = self.split.period(values)
        return period is not None and period[0] < self.cutoff


@dataclass(frozen=True)
class Freshness:
    """How recent a table's newest registered partition is."""

    newest: list[str] | None = None
    lag_seconds: int | None = None
    stale: bool = False


def freshness(
    split: KeySplit,
    partitions: Iterable[Values],
    now: datetime,
    max_lag: timedelta | None,
    path_of: Callable[[Values], str],
) -> Freshness:
    """The newest partition by the time its values denote (by path when none do), and the lag:
    now minus the end of that partition's period (hour 13 ends at 14:00), never below zero."""
    partitions = list(partitions)
    timed = [(period[1], tuple(v)) for v in partitions if (period := split.period(v))]
    if timed:
        end, newest = max(timed)
        lag = max(0, int((now - end).total_seconds()))
        stale = max_lag is not None and lag > max_lag.total_seconds()
        return Freshness(list(newest), lag, stale)
    if partitions:
        return Freshness(list(max(partitions, key=path_of)))
    return Freshness()


def table_shape(table: dict[str, Any]) -> tuple[list[PartitionKey], dict[str, str], str] | str:
    """The table's partition keys, parameters and location, or why there is nothing to do (no
    partition keys, an Iceberg table); ValueError when the table cannot be synced as defined.
    Every entry point asks this first, so they agree on which tables they leave alone."""
    keys = [
        PartitionKey(k["Name"], k.get("Type", "string")) for k in table.get("PartitionKeys") or ()
    ]
    params = table.get("Parameters") or {}
    if not keys:
        return "table has no partition keys: nothing to register"
    if params.get("table_type", "").upper() == "ICEBERG":
        return "Iceberg table: its partitions live in its own metadata"
    sd = table.get("StorageDescriptor")
    if not sd:
        raise ValueError("table has no StorageDescriptor")
    location = sd.get("Location") or ""
    if not location and TEMPLATE_PARAMETER not in params:
        raise ValueError("table has no location")
    if location and not is_s3_url(location):
        raise ValueError(f"table location {location!r} is not an S3 URL (s3://, s3a://, s3n://)")
    return keys, params, location
