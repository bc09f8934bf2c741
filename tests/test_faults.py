"""Faults between the handler and AWS: throttling, partly failed batches, S3 SlowDown, 500s,
dropped connections, permanent AccessDenied, a crash half-way and a running-out time budget.

The handler runs against the moto server through tests/faultproxy.py. Its clients are cached
per endpoint, so pointing `AWS_ENDPOINT_URL` at a new proxy gives it fresh clients.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import main
from tests.conftest import Aws, FakeContext, dumps
from tests.faultproxy import FaultProxy, Faults
from tests.helpers import (
    BUCKET,
    DATABASE,
    Catalog,
    Lake,
    ProcessDied,
    build_lake,
    crash,
    days_back,
    proxied,
    reset_moto,
    starts_clock,
)

# --------------------------------------------------------------------------- the lake


# --------------------------------------------------------------------------- helpers


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
    """A context that runs out after a few tables leaves the rest in `remaining`; the
    continuation events finish the job; together they equal one uninterrupted run."""
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    lake = build_lake(aws)
    before = lake.catalog()
    margin_ms = 60_000
    context = starts_clock(monkeypatch, margin_ms + 2 * 1000 + 500)
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
