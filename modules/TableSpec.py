"""One view of a table for every mode, and one way a table's work ends in its entry.

Every mode (the scheduled run, event mode) opens a Glue table the same way, in one fixed order:
its shape (partition keys, Iceberg, storage descriptor, location), its properties
(`discover.partitions`, retention, lag), its key split (branch and time keys). What comes out is
a `TableSpec`, or the table's finished entry saying why it is skipped or failed; so the modes
cannot disagree on which tables they leave alone and what they say about them. Errors met while
working on a table end its entry here too, worded the same whichever mode met them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modules import S3PrefixGeneration as s3p
from modules.AwsErrors import describe
from modules.ProcessLogger import get_logger
from modules.TableControl import SWITCHED_OFF, Expiry, TableControl, table_shape
from modules.TableReport import TableResult
from modules.TimeKeys import KeySplit, PartitionKey, split_keys, time_checks


@dataclass(frozen=True)
class TableSpec:
    """A Glue table as the function works with it."""

    database: str
    table: dict[str, Any]  # the Glue table, as GetTables returned it
    keys: list[PartitionKey]
    params: dict[str, str]
    location: str  # may be empty for a template table
    control: TableControl
    split: KeySplit  # from names, types and projections until `refined` with values

    @property
    def name(self) -> str:
        return self.table["Name"]

    def refined(self, samples: Iterable[Sequence[str]] = ()) -> TableSpec:
        """The spec whose key split also reads registered values (date formats, padding), checked
        against the table's properties (ValueError names a property that needs time keys)."""
        split = split_keys(self.keys, self.params, samples)
        self.control.check_keys(split, self.params)
        return replace(self, split=split)

    def layout(self, now: datetime, sample_paths: Iterable[str] = ()) -> s3p.Layout:
        """How the table's partitions map to S3 keys (see `detect_layout`)."""
        return s3p.detect_layout(
            self.location, self.keys, self.params, now, sample_paths, time_checks(self.split)
        )

    def expiry(self, now: datetime) -> Expiry | None:
        """The retention's test for a run at `now`, or None without a retention period."""
        return self.control.expiry(self.split, now)

    def result(self, **fields: Any) -> TableResult:
        """A fresh entry for this table."""
        return TableResult(self.database, self.name, **fields)


def open_table(database: str, table: dict[str, Any]) -> TableSpec | TableResult:
    """The table's spec, or its finished entry when there is nothing to do (skipped, with the
    reason) or it cannot be synced as defined (failed, with the error)."""
    result = TableResult(database, table.get("Name"))
    try:
        shape = table_shape(table)
        if isinstance(shape, str):
            result.status = "skipped"
            result.errors.append(shape)
            return result
        keys, params, location = shape
        control = TableControl.from_parameters(params)  # ValueError names a bad property
        if not control.discover:
            result.status = "skipped"
            result.errors.append(SWITCHED_OFF)
            return result
        return TableSpec(database, table, keys, params, location, control, split_keys(keys, params))
    except ValueError as exc:
        result.fail(str(exc))
        return result.finish()


def fail_with(result: TableResult, exc: Exception) -> None:
    """End a table's work on an error, worded the same in every mode: a definition that cannot
    be synced, a call that failed after botocore's retries, or (logged with its traceback)
    anything unexpected. One bad table never stops the others."""
    if isinstance(exc, ValueError):
        result.fail(str(exc))
    elif isinstance(exc, (ClientError, BotoCoreError)):
        operation = getattr(exc, "operation_name", None) or "a call"
        result.fail(f"{operation} failed: {describe(exc)}")
    else:
        get_logger().exception(
            "table failed", extra={"database": result.database, "table": result.table}
        )
        result.fail(f"unexpected error: {describe(exc)}")


def run_table(
    database: str, table: dict[str, Any], work: Callable[[TableSpec, TableResult], None]
) -> TableResult:
    """Open the table and, when there is something to do, run `work` on its spec and entry;
    return the finished entry. Never raises for the table's trouble."""
    opened = open_table(database, table)
    if isinstance(opened, TableResult):
        return opened
    result = opened.result()
    try:
        work(opened, result)
    except Exception as exc:  # one bad table must not stop the others
        fail_with(result, exc)
    return result.finish()
