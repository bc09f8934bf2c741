"""The function's settings (environment variables) and what one event asks for.

Every entry point (the scheduled run, event mode, fan-out's workers) reads the same settings and
checks an event by the same rules, so they live apart from any one of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar
from urllib.parse import urlsplit

MODES = ("add", "sync")
EVENT_KEYS = frozenset(
    {
        "databases",
        "tables",
        "full_scan",
        "dry_run",
        "mode",
        "force",
        "continuation_depth",
        "fan_out",
        "run_id",
        "resume",
    }
)
# PARTITION_INDEX: create an index where none serves the table, only use one, or neither.
INDEX_MODES = ("create", "use", "off")
# Glue serves a whole-table GetPartitions in at most 10 segments (API reference, Segment).
MAX_READ_SEGMENTS = 10
# CloudWatch namespaces: these characters, at most 255 of them; `AWS/` is reserved for AWS.
_NAMESPACE = re.compile(r"[0-9A-Za-z._/#: -]{1,255}")
# A run's id reaches log lines and queries: a UUID, or any short id of these characters.
_RUN_ID = re.compile(r"[0-9A-Za-z._:-]{1,128}")


@dataclass(frozen=True)
class Settings:
    """Every tunable, read from environment variables (names in `ENV`)."""

    database_pattern: str = "^raw_"
    table_concurrency: int = 4
    glue_write_concurrency: int = 4
    s3_concurrency: int = 16
    max_attempts: int = 8
    retry_mode: str = "standard"
    retry_base_delay: float = 0.2
    time_margin_seconds: float = 60.0
    sync_max_remove_fraction: float = 0.1
    template_max_candidates: int = 100
    max_branches: int = 1000
    max_reported_errors: int = 20
    event_databases: str = ""  # comma-separated; empty: every database matching the pattern
    table_index_ttl_seconds: float = 300.0
    metrics_namespace: str = "GlueCatalogPartitionManagement"
    continue_async: bool = False
    max_continuations: int = 10
    work_queue_url: str = ""  # fan-out: the SQS queue work messages go to
    partition_index: str = "create"
    glue_read_segments: int = 4

    ENV: ClassVar[dict[str, str]] = {
        "database_pattern": "RAW_DATABASE_PATTERN",
        "table_concurrency": "TABLE_CONCURRENCY",
        "glue_write_concurrency": "GLUE_WRITE_CONCURRENCY",
        "s3_concurrency": "S3_CONCURRENCY",
        "max_attempts": "MAX_ATTEMPTS",
        "retry_mode": "RETRY_MODE",
        "retry_base_delay": "RETRY_BASE_DELAY_SECONDS",
        "time_margin_seconds": "TIME_MARGIN_SECONDS",
        "sync_max_remove_fraction": "SYNC_MAX_REMOVE_FRACTION",
        "template_max_candidates": "TEMPLATE_MAX_CANDIDATES",
        "max_branches": "MAX_BRANCHES",
        "max_reported_errors": "MAX_REPORTED_ERRORS",
        "event_databases": "EVENT_DATABASES",
        "table_index_ttl_seconds": "TABLE_INDEX_TTL_SECONDS",
        "metrics_namespace": "METRICS_NAMESPACE",
        "continue_async": "CONTINUE_ASYNC",
        "max_continuations": "MAX_CONTINUATIONS",
        "work_queue_url": "WORK_QUEUE_URL",
        "partition_index": "PARTITION_INDEX",
        "glue_read_segments": "GLUE_READ_SEGMENTS",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings; a malformed value raises ValueError naming the variable."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(cls.ENV[f.name], "").strip()
            if not raw:
                continue
            kind = type(f.default)
            try:
                values[f.name] = _boolean(raw) if kind is bool else kind(raw)
            except ValueError:
                name = cls.ENV[f.name]
                what = "true or false" if kind is bool else f"a valid {kind.__name__}"
                raise ValueError(f"{name}={raw!r} is not {what}") from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject values that would make the function misbehave rather than fail loudly."""
        for name in (
            "table_concurrency",
            "glue_write_concurrency",
            "s3_concurrency",
            "max_branches",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{self.ENV[name]} must be at least 1")
        if not 1 <= self.max_attempts <= 20:
            raise ValueError("MAX_ATTEMPTS must be between 1 and 20")
        if not 0 <= self.sync_max_remove_fraction <= 1:
            raise ValueError("SYNC_MAX_REMOVE_FRACTION must be between 0 and 1")
        if self.time_margin_seconds < 0 or self.retry_base_delay < 0:
            raise ValueError("TIME_MARGIN_SECONDS and RETRY_BASE_DELAY_SECONDS cannot be negative")
        if self.retry_mode not in ("standard", "adaptive"):
            raise ValueError("RETRY_MODE must be 'standard' or 'adaptive'")
        if self.table_index_ttl_seconds < 0:
            raise ValueError("TABLE_INDEX_TTL_SECONDS cannot be negative")
        try:
            pattern = re.compile(self.database_pattern)
        except re.error as exc:
            raise ValueError(f"RAW_DATABASE_PATTERN is not a valid regex: {exc}") from None
        names = [n.strip() for n in self.event_databases.split(",")] if self.event_databases else []
        if any(not n for n in names):
            raise ValueError(f"EVENT_DATABASES={self.event_databases!r} holds an empty name")
        refused = [n for n in names if not pattern.search(n)]
        if refused:
            raise ValueError(
                f"EVENT_DATABASES names {', '.join(refused)}, which do not match "
                f"RAW_DATABASE_PATTERN {self.database_pattern!r}"
            )
        if self.partition_index not in INDEX_MODES:
            raise ValueError(f"PARTITION_INDEX must be one of {', '.join(INDEX_MODES)}")
        if not 1 <= self.glue_read_segments <= MAX_READ_SEGMENTS:
            raise ValueError(f"GLUE_READ_SEGMENTS must be between 1 and {MAX_READ_SEGMENTS}")
        if self.max_continuations < 0:
            raise ValueError("MAX_CONTINUATIONS cannot be negative")
        if not _NAMESPACE.fullmatch(self.metrics_namespace) or self.metrics_namespace.startswith(
            "AWS/"
        ):
            raise ValueError(
                f"METRICS_NAMESPACE={self.metrics_namespace!r} is not a CloudWatch namespace: "
                "1-255 of A-Z a-z 0-9 . - _ / # : and space, not starting with AWS/"
            )
        if self.work_queue_url and not _is_queue_url(self.work_queue_url):
            raise ValueError(
                f"WORK_QUEUE_URL={self.work_queue_url!r} is not an SQS queue URL "
                "(https://sqs.<region>.amazonaws.com/<account>/<queue>)"
            )

    @property
    def event_database_names(self) -> list[str]:
        """EVENT_DATABASES as a list (empty: find the RAW databases with GetDatabases)."""
        if not self.event_databases:
            return []
        return list(dict.fromkeys(n.strip() for n in self.event_databases.split(",")))


def _is_queue_url(url: str) -> bool:
    """An SQS queue URL: http(s), a host, and a path of the account and the queue's name."""
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(path) == 2


def _boolean(raw: str) -> bool:
    """`true` or `false` in any case; anything else is a mistake, not a silent default."""
    if raw.lower() not in ("true", "false"):
        raise ValueError(raw)
    return raw.lower() == "true"


@dataclass(frozen=True)
class Options:
    """What the event asks for, validated by `parse_event`."""

    full_scan: bool = False
    dry_run: bool = False
    mode: str = "add"
    force: bool = False
    continuation_depth: int = 0  # links of self-continuation before this run
    fan_out: bool = False  # queue one work message per table instead of syncing them here
    run_id: str | None = None  # ties a run's log lines together (fan-out: one per scatter)
    # ("database.table", location) of tables an earlier invocation cut at the deadline
    resume: tuple[tuple[str, str], ...] = ()

    def resume_point(self, database: str, table: str) -> str | None:
        """Where an earlier invocation stopped this table, or None to start at the beginning."""
        return dict(self.resume).get(f"{database}.{table}")


def parse_event(event: Any, settings: Settings) -> tuple[list[str], list[str] | None, Options]:
    """Validate the event; anything malformed raises ValueError before any AWS call."""
    if not isinstance(event, dict):
        raise ValueError(f"the event must be an object, not {type(event).__name__}")
    unknown = sorted(str(k) for k in set(event) - EVENT_KEYS)
    if unknown:
        raise ValueError(f"unknown event key(s): {', '.join(unknown)}")
    databases = _names(event, "databases", required=True)
    tables = _names(event, "tables", required=False)
    try:
        pattern = re.compile(settings.database_pattern)
    except re.error as exc:
        raise ValueError(f"RAW_DATABASE_PATTERN is not a valid regex: {exc}") from None
    refused = [d for d in databases if not pattern.search(d)]
    if refused:
        raise ValueError(
            f"database(s) {', '.join(refused)} do not match RAW_DATABASE_PATTERN "
            f"{settings.database_pattern!r}"
        )
    flags = {}
    for flag in ("full_scan", "dry_run", "force", "fan_out"):
        value = event.get(flag, False)
        if not isinstance(value, bool):
            raise ValueError(f"'{flag}' must be true or false, not {value!r}")
        flags[flag] = value
    mode = event.get("mode", "add")
    if mode not in MODES:
        raise ValueError(f"'mode' must be one of {', '.join(MODES)}, not {mode!r}")
    if flags["force"] and mode != "sync":
        raise ValueError("'force' only applies to mode 'sync'")
    depth = event.get("continuation_depth", 0)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"'continuation_depth' must be a whole number from 0, not {depth!r}")
    run_id = event.get("run_id")
    if run_id is not None and not (isinstance(run_id, str) and _RUN_ID.fullmatch(run_id)):
        raise ValueError(
            f"'run_id' must be 1-128 of A-Z a-z 0-9 . _ : - (a UUID, say), not {run_id!r}"
        )
    resume = _resume(event.get("resume", {}), databases, tables)
    options = Options(mode=mode, continuation_depth=depth, run_id=run_id, resume=resume, **flags)
    return databases, tables, options


def _resume(
    value: Any, databases: list[str], tables: list[str] | None
) -> tuple[tuple[str, str], ...]:
    """`resume`: {"database.table": location} for tables an earlier invocation cut, each a table
    this event names."""
    if not isinstance(value, dict):
        raise ValueError("'resume' must be an object of \"database.table\": location")
    points = []
    for name, location in value.items():
        database, _, table = str(name).partition(".")
        if database not in databases or not table or (tables and table not in tables):
            raise ValueError(f"'resume' names {name!r}, which is not a table of this event")
        if not isinstance(location, str) or not location.startswith("s3"):
            raise ValueError(f"'resume' of {name!r} must be an S3 location, not {location!r}")
        points.append((f"{database}.{table}", location))
    return tuple(sorted(points))


def _names(event: dict[str, Any], key: str, required: bool) -> list[str] | None:
    if key not in event:
        if required:
            raise ValueError(f"'{key}' is required: a list of names")
        return None
    value = event[key]
    if not isinstance(value, list) or not value:
        raise ValueError(f"'{key}' must be a non-empty list of names")
    bad = [v for v in value if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ValueError(f"'{key}' holds {bad[0]!r}, which is not a name")
    return list(dict.fromkeys(value))
