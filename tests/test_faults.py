"""Faults between the handler and AWS: throttling, partly failed batches, S3 SlowDown, 500s,
dropped connections, permanent AccessDenied, a crash half-way and a running-out time budget.

The handler runs against the moto server through tests/faultproxy.py. Its clients are cached
per endpoint, so pointing `AWS_ENDPOINT_URL` at a new proxy gives it fresh clients.
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

import main
from tests.conftest import Aws, FakeContext, dumps
from tests.faultproxy import FaultProxy, Faults, running

Values = tuple[str, ...]
Catalog = dict[str, dict[Values, str]]

DATABASE = "raw_lake"
BUCKET = "lake"


# --------------------------------------------------------------------------- the lake


@dataclass
class Lake:
    """A RAW database with tables of all three layouts, and what its catalog should become."""

    aws: Aws
    database: str = DATABASE
    bucket: str = BUCKET
    expected: Catalog = field(default_factory=dict)  # table -> values -> location
    registered: Catalog = field(default_factory=dict)  # registered before the run

    def catalog(self) -> Catalog:
        """The catalog as it is now, for every table of the lake."""
        return {t: self.aws.partitions(self.database, t) for t in self.expected}

    def add(
        self,
        table: str,
        data: dict[Values, str],
        noise: list[str] = (),
        preregister: int = 0,
    ) -> None:
        """Put one data object per partition (key prefix → values) plus noise keys, and
        register the first `preregister` partitions as an earlier run would have."""
        keys = [f"{prefix}part-00000.json" for prefix in data.values()] + list(noise)
        seed_objects(self.bucket, keys)
        self.expected[table] = {v: f"s3://{self.bucket}/{p}" for v, p in data.items()}
        first = dict(sorted(self.expected[table].items())[:preregister])
        if first:
            self.aws.register(self.database, table, [(list(v), loc) for v, loc in first.items()])
        self.registered[table] = first


def seed_objects(bucket: str, keys: list[str], body: bytes = b'{"id": "1"}\n') -> None:
    """Put objects straight into the moto backend the server shares (the server takes ~300
    puts a second; listing them back still goes over HTTP)."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys:
        backend.put_object(bucket, key, body)


def days_back(n: int) -> list[datetime]:
    """The `n` days before today (UTC), oldest first, so template candidates stay recent."""
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=i) for i in range(n, 0, -1)]


def template_parameters(table: str, fmt: str) -> dict[str, str]:
    """Athena partition projection of one date key `dt`, placed by a location template."""
    return {
        "storage.location.template": f"s3://{BUCKET}/{table}/${{dt}}/",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": fmt,
        "projection.dt.range": "2020-01-01,NOW" if fmt == "yyyy-MM-dd" else "2020/01/01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
    }


IGNORED = ["_SUCCESS", "_temporary/0/part-1.json", ".hive-staging_1/x.json", "x_$folder$"]


def build_lake(aws: Aws, scale: int = 1, preregister: bool = True) -> Lake:
    """Six tables, two per layout; `scale` multiplies the partition counts (1 → ~430)."""
    aws.bucket(BUCKET)
    aws.database(DATABASE)
    lake = Lake(aws)
    hours = [f"{h:02d}" for h in range(24)]
    days = days_back(3 * scale)
    pre = 30 if preregister else 0

    aws.table(DATABASE, "hive_hourly", f"s3://{BUCKET}/hive_hourly/", ["dt", "hour"])
    hive = {
        (f"{d:%Y-%m-%d}", h): f"hive_hourly/dt={d:%Y-%m-%d}/hour={h}/" for d in days for h in hours
    }
    lake.add("hive_hourly", hive, [f"hive_hourly/{n}" for n in IGNORED], preregister=pre)

    aws.table(DATABASE, "hive_region", f"s3://{BUCKET}/hive_region/", ["region", ("dt", "date")])
    regions = {"eu:west": "eu%3Awest", "us east": "us east", "ap/south": "ap%2Fsouth"}
    lake.add(
        "hive_region",
        {
            (r, f"{d:%Y-%m-%d}"): f"hive_region/region={esc}/dt={d:%Y-%m-%d}/"
            for r, esc in regions.items()
            for d in days_back(50 * scale)
        },
        [f"hive_region/region=eu%3Awest/{n}" for n in IGNORED],
    )

    firehose_keys = ["year", "month", "day", "hour"]
    for name, n_days in (("firehose_a", 3 * scale), ("firehose_b", 2 * scale)):
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", firehose_keys)
        data = {
            (f"{d:%Y}", f"{d:%m}", f"{d:%d}", h): f"{name}/{d:%Y/%m/%d}/{h}/"
            for d in days_back(n_days)
            for h in hours
        }
        lake.add(
            name,
            data,
            [f"{name}/{n}" for n in IGNORED],
            preregister=pre if name.endswith("a") else 0,
        )

    for name, fmt, path, n_days in (
        ("template_day", "yyyy-MM-dd", "%Y-%m-%d", 120 * scale),
        ("template_slash", "yyyy/MM/dd", "%Y/%m/%d", 40 * scale),
    ):
        aws.table(DATABASE, name, f"s3://{BUCKET}/{name}/", ["dt"], template_parameters(name, fmt))
        data = {(f"{d:{path}}",): f"{name}/{d:{path}}/" for d in days_back(n_days)}
        lake.add(name, data, [f"{name}/{n}" for n in IGNORED], preregister=pre)
    return lake


# --------------------------------------------------------------------------- helpers


@contextmanager
def proxied(
    monkeypatch: pytest.MonkeyPatch, upstream: str, faults: Faults | None = None, **kw: Any
) -> Iterator[FaultProxy]:
    """A running proxy that the handler's boto3 clients go through until the block ends."""
    with running(upstream, faults, **kw) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        try:
            yield proxy
        finally:
            monkeypatch.setenv("AWS_ENDPOINT_URL", upstream)


def reset_moto(endpoint: str) -> None:
    """Forget every bucket, database and table."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def assert_no_resend_after_confirmed(proxy: FaultProxy) -> int:
    """No partition is in a BatchCreatePartition sent after an answer confirmed it created;
    returns how many partitions were confirmed."""
    batches = proxy.calls("BatchCreatePartition")
    confirmations = [
        (r.answered, (r.table, v)) for r in batches if r.answered is not None for v in r.confirmed
    ]
    for r in batches:
        earlier = {item for answered, item in confirmations if answered < r.arrived}
        again = [v for v in r.sent if (r.table, v) in earlier]
        assert not again, f"{r.table}: {again[:5]} sent again after being confirmed created"
    return len(confirmations)


def assert_counts_match(summary: dict[str, Any], before: Catalog, after: Catalog) -> None:
    """Per table and in totals: created = new in the catalog, failed = 0, existing = the
    discovered partitions that were registered before."""
    entries = {e["table"]: e for e in summary["tables"]}
    for table, now in after.items():
        entry = entries[table]
        new = set(now) - set(before[table])
        assert entry["created"] == len(new), dumps(entry)
        assert entry["existing"] == entry["discovered"] - entry["created"], dumps(entry)
        assert entry["failed"] == 0, dumps(entry)
    totals = summary["totals"]
    assert totals["created"] == sum(len(after[t]) - len(before[t]) for t in after)
    assert totals["created"] == sum(e["created"] for e in summary["tables"])
    assert totals["existing"] == sum(e["existing"] for e in summary["tables"])


def report(name: str, proxy: FaultProxy) -> None:
    """Print what the proxy saw (run pytest with -s to read it)."""
    calls = Counter(r.operation for r in proxy.calls())
    resent = sum(n - 1 for n in proxy.repeats().values())
    print(f"\n[{name}] calls {dict(calls)} identical resends {resent}")
    print(f"[{name}] faults {dict(proxy.fault_counts())}")


# --------------------------------------------------------------------------- tests

HEAVY = Faults(
    glue_throttle=0.25, batch_partial=0.30, s3_slowdown=0.15, server_error=0.03, drop=0.02
)


def test_transient_faults_lose_and_duplicate_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25% Glue throttling, 30% partly failed batches, 15% S3 SlowDown, 3% 500s, 2% drops:
    the catalog ends exactly as expected and the summary matches it."""
    lake = build_lake(aws)
    before = lake.catalog()
    with proxied(monkeypatch, aws.endpoint, HEAVY, seed=7) as proxy:
        summary = main.lambda_handler({"databases": [DATABASE]}, None)
    report("transient", proxy)
    after = lake.catalog()
    assert after == lake.expected
    assert summary["status"] == "succeeded", dumps(summary)
    assert {e["layout"] for e in summary["tables"]} == {"hive", "positional", "template"}
    assert {e["scan"] for e in summary["tables"]} == {"full", "incremental"}
    assert_counts_match(summary, before, after)
    confirmed = assert_no_resend_after_confirmed(proxy)
    assert confirmed == summary["totals"]["created"]
    faults = proxy.fault_counts()
    for fault in ("ThrottlingException", "InternalServiceException", "SlowDown"):
        assert faults[fault] > 0, f"{fault} was never injected: {faults}"
    partly = [r for r in proxy.calls("BatchCreatePartition") if r.fault]
    assert all(len(r.forwarded) < r.items for r in partly)


def test_same_seed_same_faults(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy's faults repeat with the seed, whatever the threads' interleaving."""
    seen = []
    for _ in range(2):
        reset_moto(aws.endpoint)
        aws.bucket(BUCKET)
        aws.database(DATABASE)
        aws.table(DATABASE, "firehose", f"s3://{BUCKET}/firehose/", ["year", "month", "day"])
        lake = Lake(aws)
        lake.add(
            "firehose",
            {(f"{d:%Y}", f"{d:%m}", f"{d:%d}"): f"firehose/{d:%Y/%m/%d}/" for d in days_back(130)},
        )
        with proxied(monkeypatch, aws.endpoint, HEAVY, seed=3) as proxy:
            main.lambda_handler({"databases": [DATABASE]}, None)
        report("same seed", proxy)
        assert lake.catalog() == lake.expected
        seen.append(Counter((r.operation, r.fault, r.items) for r in proxy.calls()))
    assert seen[0] == seen[1]
    assert sum(n for (_, fault, _), n in seen[0].items() if fault) > 0


def test_permanent_access_denied_fails_fast(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Glue write refused: one call per table (its later chunks are not sent), every
    table failed with the reason, status failed, catalog unchanged."""
    monkeypatch.setenv("MAX_REPORTED_ERRORS", "10000")  # to see every partition's reason
    lake = build_lake(aws)
    before = lake.catalog()
    with proxied(monkeypatch, aws.endpoint, Faults(deny_glue_writes=True)) as proxy:
        summary = main.lambda_handler({"databases": [DATABASE]}, None)
    report("access denied", proxy)
    assert lake.catalog() == before
    assert summary["status"] == "failed", dumps(summary)
    for entry in summary["tables"]:
        assert entry["status"] == "failed", dumps(entry)
        assert entry["created"] == 0 and entry["failed"] > 0, dumps(entry)
        assert any("AccessDeniedException" in e for e in entry["errors"]), dumps(entry)
    new = {t: len(lake.expected[t]) - len(before[t]) for t in lake.expected}
    writes = proxy.calls("BatchCreatePartition")
    # one refused call per table: not retried, and a table's later chunks are not sent after it
    assert len(writes) == sum(1 for n in new.values() if n), f"{len(writes)} calls: retried"
    assert summary["totals"]["failed"] == sum(new.values())
    for entry in summary["tables"]:
        if new[entry["table"]] > 100:
            assert any("not sent: an earlier chunk" in e for e in entry["errors"]), dumps(entry)


class ProcessDied(BaseException):
    """The Lambda process ending mid-run: not an Exception, so nothing inside catches it."""


@contextmanager
def hooked_clients(
    monkeypatch: pytest.MonkeyPatch, hooks: dict[str, Callable[..., None]]
) -> Iterator[None]:
    """Register botocore event hooks (event name → handler) on the clients the handler
    gets, for the duration of the block; they are unregistered afterwards, as the clients
    are cached for later invocations."""
    original = main.get_clients
    hooked: list[Any] = []

    def get_clients(*args: Any) -> Any:
        clients = original(*args)
        for client in (getattr(clients, f.name) for f in fields(clients)):
            for event, handler in hooks.items():
                client.meta.events.register(event, handler, unique_id=f"test-{event}")
            hooked.append(client)
        return clients

    monkeypatch.setattr(main, "get_clients", get_clients)
    try:
        yield
    finally:
        monkeypatch.setattr(main, "get_clients", original)
        for client in hooked:
            for event in hooks:
                client.meta.events.unregister(event, unique_id=f"test-{event}")


@contextmanager
def crash(
    monkeypatch: pytest.MonkeyPatch, after_answers: int | None = None, lowest_of: str | None = None
) -> Iterator[dict[str, Any]]:
    """Make the process 'die' mid-run: every AWS call from then on raises ProcessDied.

    `after_answers`: right after the n-th BatchCreatePartition answer (Glue has created those
    partitions; the handler never hears of it). `lowest_of`: when the batch holding table
    `lowest_of`'s lowest partition is about to be sent (its branches are listed at once, so that
    partition need not lead its batch), after a pause that lets any write
    running beside it finish (a crash with that batch in flight)."""
    state: dict[str, Any] = {"answers": 0, "dead": False}

    def before_build(model: Any, params: dict[str, Any], **_: Any) -> None:
        batch = params.get("PartitionInputList") or [{}]
        if (
            model.name == "BatchCreatePartition"
            and params.get("TableName") == lowest_of
            and any(p.get("Values") == list(state.setdefault("lowest", ())) for p in batch)
        ):
            time.sleep(1.0)
            state["dead"] = True
        if state["dead"]:
            raise ProcessDied

    def after_call(model: Any, **_: Any) -> None:
        if model.name == "BatchCreatePartition":
            state["answers"] += 1
            state["dead"] = state["dead"] or state["answers"] == after_answers
        if state["dead"]:
            raise ProcessDied

    hooks = {"before-parameter-build": before_build, "after-call": after_call}
    with hooked_clients(monkeypatch, hooks):
        yield state


@pytest.mark.parametrize(
    "crash_point",
    [{"after_answers": 2}, {"lowest_of": "hive_region"}],
    ids=["after-second-answer", "lowest-batch-in-flight"],
)
def test_crash_half_way_then_rerun(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, crash_point: dict[str, Any]
) -> None:
    """A run dies half-way; the next (incremental) run finishes the work, with no duplicate
    and no error, and the catalog equals an uninterrupted run's."""
    lake = build_lake(aws)
    event = {"databases": [DATABASE]}
    with crash(monkeypatch, **crash_point) as state, pytest.raises(ProcessDied):
        state["lowest"] = min(lake.expected["hive_region"])
        main.lambda_handler(event, None)
    assert state["dead"]
    crashed = lake.catalog()
    assert crashed != lake.expected, "the crash came too late to leave work undone"
    with proxied(monkeypatch, aws.endpoint) as proxy:
        summary = main.lambda_handler(event, None)
    assert summary["status"] == "succeeded", dumps(summary)
    assert all(not e["errors"] for e in summary["tables"]), dumps(summary)
    resumed = lake.catalog()
    assert_counts_match(summary, crashed, resumed)
    sent = [(r.table, v) for r in proxy.calls("BatchCreatePartition") for v in r.sent]
    assert len(sent) == len(set(sent))
    assert not [s for s in sent if s[1] in crashed[s[0]]], "re-sent what the crashed run made"

    reset_moto(aws.endpoint)
    lake = build_lake(aws)
    main.lambda_handler(event, None)
    assert lake.catalog() == resumed == lake.expected


def test_time_budget_continuation(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """A context that runs out after two tables leaves the rest in `remaining`; the
    continuation events finish the job; together they equal one uninterrupted run."""
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    lake = build_lake(aws)
    before = lake.catalog()
    margin_ms = 60_000
    context = FakeContext(remaining_ms=margin_ms + 2 * 1000 + 500, step_ms=1000)
    first = main.lambda_handler({"databases": [DATABASE]}, context)
    done = {e["table"] for e in first["tables"]}
    left = {r["table"] for r in first["remaining"]}
    assert done and left and not done & left and done | left == set(lake.expected)
    assert first["continuation"] == [{"databases": [DATABASE], "tables": sorted(left)}]
    partial = lake.catalog()
    assert all(partial[t] == before[t] for t in left), "a table left over was touched"
    totals = Counter(first["totals"])
    for event in first["continuation"]:
        summary = main.lambda_handler(event, FakeContext(remaining_ms=900_000))
        assert summary["remaining"] == [] and summary["status"] == "succeeded"
        totals.update(summary["totals"])
    assert lake.catalog() == lake.expected
    assert totals["created"] == sum(len(lake.expected[t]) - len(before[t]) for t in lake.expected)
    assert totals["tables"] == len(lake.expected)
