"""Branch discovery end to end over HTTP: tables whose leading keys are not time (service logs by
region, Firehose dynamic partitioning by customer, templates), new and quiet branches, many
branches past one page, the cap, crash safety per branch, full scans in slices, and values that
pyarrow percent-encodes as UTF-8."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import main
from modules.Settings import Settings
from tests.conftest import CLOCK, Aws, dumps
from tests.faultproxy import Faults
from tests.helpers import (
    DAILY_PROJECTION,
    ProcessDied,
    crash,
    entry,
    hooked_clients,
    proxied,
    seed_objects,
)

NOW = CLOCK.replace(tzinfo=None, minute=0, second=0, microsecond=0)
DB = "raw_lake"
Catalog = dict[tuple[str, ...], str]


@pytest.fixture
def sent(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every request the handler's clients send: (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    with hooked_clients(monkeypatch, {"before-parameter-build": record}):
        yield calls


def ops(calls: list[tuple[str, dict[str, Any]]]) -> Counter[str]:
    """Operations by name; listings with a Delimiter, and the later pages of a Glue read (they
    carry a NextToken), counted apart: `GetPartitions` counts reads, not pages."""

    def name(op: str, params: dict[str, Any]) -> str:
        if op == "ListObjectsV2" and "Delimiter" in params:
            return "ListObjectsV2+Delimiter"
        return f"{op}+NextToken" if "NextToken" in params else op

    return Counter(name(op, p) for op, p in calls)


seed = partial(seed_objects, "lake")


def register(aws: Aws, table: str, partitions: Catalog) -> None:
    aws.register(DB, table, [(list(v), loc) for v, loc in partitions.items()])


def days(count: int, end: datetime = NOW) -> list[datetime]:
    """`count` days ending with `end`, oldest first."""
    return [end - timedelta(days=i) for i in range(count - 1, -1, -1)]


# --------------------------------------------------------------------------- layouts


def service_logs(aws: Aws, regions: tuple[str, ...], history: int) -> tuple[Catalog, Catalog]:
    """CloudTrail-style `<region>/yyyy/MM/dd/` (positional). Returns (registered, new): every
    region has `history` days registered and today new; `sa-east-1` appears today."""
    aws.bucket("lake")
    aws.database(DB)
    root = "AWSLogs/123/CloudTrail/"
    aws.table(DB, "trail", f"s3://lake/{root}", ["region", "year", "month", "day"])
    registered: Catalog = {}
    new: Catalog = {}
    for region in (*regions, "sa-east-1"):
        for i, d in enumerate(days(history + 1)):
            values = (region, f"{d:%Y}", f"{d:%m}", f"{d:%d}")
            rel = f"{root}{region}/{d:%Y/%m/%d}/"
            target = new if i == history or region == "sa-east-1" else registered
            if region != "sa-east-1" or i >= history - 1:
                target[values] = f"s3://lake/{rel}"
                seed([f"{rel}123_CloudTrail_{region}_{d:%Y%m%d}T0000Z_a.json.gz"])
    register(aws, "trail", registered)
    return registered, new


def test_service_logs_every_region_and_a_new_one(aws: Aws, sent: list[Any]) -> None:
    registered, new = service_logs(aws, ("ap-south-1", "eu-west-1", "us-east-1"), 20)
    seed(["AWSLogs/123/CloudTrail/eu-west-1/_SUCCESS", "AWSLogs/123/CloudTrail/digest.json"])
    summary = main.lambda_handler({"databases": [DB]}, None)
    assert aws.partitions(DB, "trail") == registered | new
    trail = entry(summary, "trail")
    assert trail["scan"] == "incremental" and trail["branches"] == 4, dumps(trail)
    assert trail["created"] == len(new) == 5 and trail["status"] == "succeeded", dumps(trail)
    # the stray file at the root is reported, as a flat listing would
    assert trail["skipped"] == 1 and "digest.json" not in str(trail["errors"])
    counts = ops(sent)
    assert counts["ListObjectsV2+Delimiter"] == 1
    assert counts["ListObjectsV2"] == 4  # one per branch, each after its own newest
    assert counts["GetPartitions"] == 1  # 60 registered fit in one page: read whole, once
    first_listing = [p for op, p in sent if op == "ListObjectsV2" and "Delimiter" not in p]
    starts = {p["Prefix"]: p.get("StartAfter") for p in first_listing}
    assert starts["AWSLogs/123/CloudTrail/sa-east-1/"] is None  # nothing registered: whole
    yesterday = NOW - timedelta(days=1)
    assert starts["AWSLogs/123/CloudTrail/eu-west-1/"] == (
        f"AWSLogs/123/CloudTrail/eu-west-1/{yesterday:%Y/%m/%d}0"
    )

    sent.clear()
    again = main.lambda_handler({"databases": [DB]}, None)
    assert again["totals"]["created"] == 0 and ops(sent)["BatchCreatePartition"] == 0
    assert ops(sent)["GetPartitions"] == 1  # steady state: one read for every branch


def test_late_data_below_a_branch_newest_waits_for_the_full_scan(aws: Aws) -> None:
    registered, new = service_logs(aws, ("eu-west-1", "us-east-1"), 10)
    late_day = NOW - timedelta(days=30)
    late = ("us-east-1", f"{late_day:%Y}", f"{late_day:%m}", f"{late_day:%d}")
    rel = f"AWSLogs/123/CloudTrail/us-east-1/{late_day:%Y/%m/%d}/"
    seed([rel + "late.json.gz"])
    main.lambda_handler({"databases": [DB]}, None)
    assert aws.partitions(DB, "trail") == registered | new  # below us-east-1's newest
    summary = main.lambda_handler({"databases": [DB], "full_scan": True}, None)
    assert entry(summary, "trail")["created"] == 1
    assert aws.partitions(DB, "trail") == registered | new | {late: f"s3://lake/{rel}"}


def test_quiet_branch_is_found_in_the_widest_window(aws: Aws, sent: list[Any]) -> None:
    """A table bigger than one page (1,001 days of `busy`): after the unfiltered first page and
    the last day's window, the branch the window did not cover is read on its own."""
    aws.bucket("lake")
    aws.database(DB)
    aws.table(DB, "t", "s3://lake/t/", ["source", "dt"])
    registered = {
        (s, f"{d:%Y-%m-%d}"): f"s3://lake/t/source={s}/dt={d:%Y-%m-%d}/"
        for s, end in (("busy", NOW - timedelta(days=1)), ("quiet", NOW - timedelta(days=90)))
        for d in days(1001 if s == "busy" else 5, end)
    }
    new = {
        (s, f"{NOW:%Y-%m-%d}"): f"s3://lake/t/source={s}/dt={NOW:%Y-%m-%d}/"
        for s in ("busy", "quiet")
    }
    register(aws, "t", registered)
    seed(loc.removeprefix("s3://lake/") + "part-0.parquet" for loc in (registered | new).values())
    summary = main.lambda_handler({"databases": [DB]}, None)
    assert aws.partitions(DB, "t") == registered | new, dumps(summary)
    reads = [p.get("Expression") for op, p in sent if ops([(op, p)])["GetPartitions"]]
    assert len(reads) == 3 and reads[0] is None and "source = 'quiet'" in reads[2], reads
    listed = {p["Prefix"]: p.get("StartAfter") for op, p in sent if op == "ListObjectsV2"}
    quiet_newest = max(k[1] for k in registered if k[0] == "quiet")
    assert listed["t/source=quiet/"] == f"t/source=quiet/dt={quiet_newest}0"


def dynamic(aws: Aws, customers: int, hours: int) -> tuple[Catalog, Catalog]:
    """Firehose dynamic partitioning `customer_id=…/year=/month=/day=/hour=/` (Hive)."""
    aws.bucket("lake")
    aws.database(DB)
    aws.table(DB, "dyn", "s3://lake/dyn/", ["customer_id", "year", "month", "day", "hour"])
    registered: Catalog = {}
    new: Catalog = {}
    stamps = [NOW - timedelta(hours=h) for h in range(hours, -1, -1)]
    for c in range(customers):
        for i, h in enumerate(stamps):
            values = (f"c{c:04d}", f"{h:%Y}", f"{h:%m}", f"{h:%d}", f"{h:%H}")
            rel = f"dyn/customer_id=c{c:04d}/year={h:%Y}/month={h:%m}/day={h:%d}/hour={h:%H}/"
            (new if i == hours else registered)[values] = f"s3://lake/{rel}"
            seed([rel + "firehose-1.gz"])
    register(aws, "dyn", registered)
    return registered, new


def test_dynamic_partitioning_with_noise_and_a_nested_table(aws: Aws) -> None:
    registered, new = dynamic(aws, 5, 4)
    aws.table(DB, "nested", "s3://lake/dyn/nested/", ["dt"])
    seed(
        [
            "dyn/customer_id=c0009_$folder$",
            "dyn/customer_id=c0003/",
            "dyn/_tmp/customer_id=c0005/year=2024/month=01/day=01/hour=00/x",
            "dyn/.staging/x",
            "dyn/readme.txt",
            "dyn/cust=9/year=2024/month=01/day=01/hour=00/x",
            "dyn/customer_id=c0002/year=2024/month=xx/day=01/hour=00/x",  # sorts below: not seen
            "dyn/nested/dt=2024-01-01/part-0.parquet",
        ]
    )
    summary = main.lambda_handler({"databases": [DB]}, None)
    dyn = entry(summary, "dyn")
    assert aws.partitions(DB, "dyn") == registered | new, dumps(dyn)
    assert dyn["branches"] == 5 and dyn["created"] == 5 and dyn["scan"] == "incremental"
    errors = " ".join(dyn["errors"])
    assert "dyn/cust=9/" in errors and "expected key 'customer_id'" in errors, errors
    assert "readme.txt" not in errors and "dyn/: fewer than 5 directory levels" in errors
    assert dyn["skipped"] == 2 and dyn["status"] == "succeeded", dumps(dyn)
    assert aws.partitions(DB, "nested") == {("2024-01-01",): "s3://lake/dyn/nested/dt=2024-01-01/"}


TEMPLATE_DATE = {
    "projection.enabled": "true",
    "projection.dt.type": "date",
    "projection.dt.format": "yyyy-MM-dd",
    "projection.dt.range": "2020-01-01,NOW",
}


@pytest.mark.parametrize("enum", [True, False], ids=["enum-projection", "listed"])
def test_template_branches(aws: Aws, sent: list[Any], enum: bool) -> None:
    aws.bucket("lake")
    aws.database(DB)
    params = {"storage.location.template": "s3://lake/tpl/src/${region}/${dt}/", **TEMPLATE_DATE}
    if enum:
        params |= {"projection.region.type": "enum", "projection.region.values": "eu,us,ap"}
    aws.table(DB, "tpl", "s3://lake/tpl/", ["region", "dt"], params)
    registered = {
        (r, f"{d:%Y-%m-%d}"): f"s3://lake/tpl/src/{r}/{d:%Y-%m-%d}/"
        for r in ("eu", "us")
        for d in days(4, NOW - timedelta(days=1))
    }
    new = {(r, f"{NOW:%Y-%m-%d}"): f"s3://lake/tpl/src/{r}/{NOW:%Y-%m-%d}/" for r in ("eu", "ap")}
    register(aws, "tpl", registered)
    seed(loc.removeprefix("s3://lake/") + "e.json" for loc in (registered | new).values())
    # `zz` is not an allowed value of the enum; without one it is a new branch like any other
    seed(["tpl/src/zz/2024-01-01/e.json"])
    if not enum:
        new[("zz", "2024-01-01")] = "s3://lake/tpl/src/zz/2024-01-01/"
    summary = main.lambda_handler({"databases": [DB]}, None)
    assert aws.partitions(DB, "tpl") == registered | new, dumps(summary)
    tpl = entry(summary, "tpl")
    assert tpl["branches"] == (3 if enum else 4) and tpl["layout"] == "template"
    assert tpl["created"] == len(new) and tpl["status"] == "succeeded", dumps(tpl)
    assert ops(sent)["ListObjectsV2+Delimiter"] == (0 if enum else 1)


def test_many_branches_past_one_page(aws: Aws, sent: list[Any], monkeypatch: Any) -> None:
    monkeypatch.setenv("MAX_BRANCHES", "2000")
    aws.bucket("lake")
    aws.database(DB)
    aws.table(DB, "wide", "s3://lake/wide/", [("shard", "int"), "dt"])
    yesterday, today = (f"{d:%Y-%m-%d}" for d in (NOW - timedelta(days=1), NOW))
    registered = {
        (f"{i}", yesterday): f"s3://lake/wide/shard={i}/dt={yesterday}/" for i in range(1100)
    }
    new = {(f"{i}", today): f"s3://lake/wide/shard={i}/dt={today}/" for i in range(1100)}
    register(aws, "wide", registered)
    seed(loc.removeprefix("s3://lake/") + "p" for loc in (registered | new).values())
    summary = main.lambda_handler({"databases": [DB]}, None)
    wide = entry(summary, "wide")
    assert wide["branches"] == 1100 and wide["created"] == 1100, dumps(wide)
    assert aws.partitions(DB, "wide") == registered | new
    counts = ops(sent)
    assert counts["ListObjectsV2+Delimiter"] == 2 and counts["ListObjectsV2"] == 1100
    assert counts["BatchCreatePartition"] == 11  # branches share chunks
    assert counts["GetPartitions"] == 2  # 1,100 registered: the first page, the last day


def test_more_branches_than_the_cap_scan_the_table_whole(aws: Aws, monkeypatch: Any) -> None:
    monkeypatch.setenv("MAX_BRANCHES", "3")
    registered, new = service_logs(aws, ("ap-south-1", "eu-west-1", "us-east-1"), 5)
    summary = main.lambda_handler({"databases": [DB]}, None)
    trail = entry(summary, "trail")
    assert trail["scan"] == "full" and "MAX_BRANCHES (3)" in trail["scan_reason"], dumps(trail)
    assert trail["status"] == "succeeded" and trail["errors"] == []
    assert aws.partitions(DB, "trail") == registered | new


# --------------------------------------------------------------------------- crash safety


def _in_path_order_prefix(done: Catalog, wanted: Catalog) -> bool:
    """True when `done` is the first len(done) of `wanted` in path (location) order."""
    order = sorted(wanted, key=lambda v: wanted[v])
    return set(order[: len(done)]) == set(done)


def test_crash_half_way_leaves_no_gap_in_any_branch(aws: Aws, monkeypatch: Any) -> None:
    registered, new = dynamic(aws, 3, 0)  # 3 customers, one registered hour each
    more: Catalog = {}
    for c in range(3):
        for h in range(1, 71):  # 70 newer hours per customer: 210 new, 3 chunks
            t = NOW + timedelta(hours=h)
            rel = f"dyn/customer_id=c{c:04d}/year={t:%Y}/month={t:%m}/day={t:%d}/hour={t:%H}/"
            more[(f"c{c:04d}", f"{t:%Y}", f"{t:%m}", f"{t:%d}", f"{t:%H}")] = f"s3://lake/{rel}"
            seed([rel + "f.gz"])
    new |= more
    with crash(monkeypatch, after_answers=1) as state, pytest.raises(ProcessDied):
        main.lambda_handler({"databases": [DB]}, None)
    assert state["dead"]
    after_crash = aws.partitions(DB, "dyn")
    done = {v: loc for v, loc in after_crash.items() if v not in registered}
    assert 0 < len(done) < len(new), "the crash must leave work undone"
    for c in range(3):
        branch = f"c{c:04d}"
        assert _in_path_order_prefix(
            {v: loc for v, loc in done.items() if v[0] == branch},
            {v: loc for v, loc in new.items() if v[0] == branch},
        ), branch
    summary = main.lambda_handler({"databases": [DB]}, None)
    assert aws.partitions(DB, "dyn") == registered | new, dumps(summary)
    assert entry(summary, "dyn")["created"] == len(new) - len(done)


def firehose(aws: Aws, hours: int, new_hours: int, per: int = 1) -> tuple[Catalog, Catalog]:
    """A Firehose table without branch keys: `yyyy/MM/dd/HH/`, `per` objects an hour."""
    aws.bucket("lake")
    aws.database(DB)
    aws.table(DB, "fh", "s3://lake/fh/", ["year", "month", "day", "hour"])
    registered: Catalog = {}
    new: Catalog = {}
    for i in range(hours + new_hours):
        t = NOW - timedelta(hours=hours + new_hours - 1 - i)
        values = (f"{t:%Y}", f"{t:%m}", f"{t:%d}", f"{t:%H}")
        (registered if i < hours else new)[values] = f"s3://lake/fh/{t:%Y/%m/%d/%H}/"
        seed(f"fh/{t:%Y/%m/%d/%H}/fh-1-{t:%Y-%m-%d-%H}-{i}.gz" for i in range(per))
    register(aws, "fh", registered)
    return registered, new


def _with_holes(aws: Aws, registered: Catalog, holes: Catalog) -> None:
    """Late data inside the history: partitions in S3 that the catalog does not hold."""
    gone = [{"Values": list(v)} for v in holes]
    for i in range(0, len(gone), 25):  # Glue deletes at most 25 a call
        aws.glue.batch_delete_partition(
            DatabaseName=DB, TableName="fh", PartitionsToDelete=gone[i : i + 25]
        )


def test_full_scan_walks_directories_and_checks_only_the_unregistered(
    aws: Aws, sent: list[Any]
) -> None:
    registered, new = firehose(aws, 900, 3, per=5)
    holes = dict(list(registered.items())[100:400:50])
    _with_holes(aws, registered, holes)
    summary = main.lambda_handler({"databases": [DB], "full_scan": True}, None)
    assert aws.partitions(DB, "fh") == registered | new, dumps(summary)
    assert entry(summary, "fh")["created"] == len(holes) + len(new)
    # objects are listed only where something is unregistered (or in a day holding many such
    # hours), plus one look at the newest partition to weigh walking against listing
    fresh = {loc.removeprefix("s3://lake/") for loc in (holes | new).values()}
    looked = {fresh_dir[: fresh_dir.rstrip("/").rfind("/") + 1] for fresh_dir in fresh} | fresh
    flat = [p["Prefix"] for op, p in sent if op == "ListObjectsV2" and "Delimiter" not in p]
    newest = max(loc.removeprefix("s3://lake/") for loc in registered.values())
    assert flat.count(newest) == 1 and len(flat) <= len(fresh) + 1
    assert set(flat) - {newest} <= looked, flat


def test_full_scan_of_many_small_branches_lists_their_objects(aws: Aws, sent: list[Any]) -> None:
    """One object per partition, 30 branches: walking five levels would cost more calls than
    listing each branch's objects, so the branches are listed at once."""
    registered, new = dynamic(aws, 30, 10)
    summary = main.lambda_handler({"databases": [DB], "full_scan": True}, None)
    assert aws.partitions(DB, "dyn") == registered | new, dumps(summary)
    dyn = entry(summary, "dyn")
    assert (dyn["branches"], dyn["created"], dyn["scan"]) == (30, 30, "full")
    counts = ops(sent)
    assert counts["ListObjectsV2+Delimiter"] == 1 and counts["ListObjectsV2"] == 30 + 1


@pytest.mark.parametrize("mode", ["sync", "backfill"])
def test_full_scan_lists_slices_at_once_and_keeps_the_result(
    aws: Aws, sent: list[Any], mode: str
) -> None:
    """Sync mode must see every object, and a backfill has too much unregistered to walk: the
    objects are listed, in slices cut at registered paths, all at once."""
    registered, new = firehose(aws, 900, 3)
    holes = dict(list(registered.items())[100 : 900 : 2 if mode == "backfill" else 50])
    _with_holes(aws, registered, holes)
    event = {"databases": [DB], "full_scan": True} | ({"mode": "sync"} if mode == "sync" else {})
    summary = main.lambda_handler(event, None)
    assert aws.partitions(DB, "fh") == registered | new, dumps(summary)
    assert entry(summary, "fh")["created"] == len(holes) + len(new)
    assert entry(summary, "fh")["removed"] == 0
    flat = [p for op, p in sent if op == "ListObjectsV2" and "Delimiter" not in p]
    slices = min(Settings.from_env().s3_concurrency, (len(registered) - len(holes)) // 100)
    assert len({p.get("StartAfter") for p in flat}) == slices


# --------------------------------------------------------------------------- UTF-8 values


def test_pyarrow_partition_values_round_trip(aws: Aws, tmp_path: Path) -> None:
    """A dataset really written by pyarrow (values percent-encoded as UTF-8) is registered with
    the values that were written and the locations that exist."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    values = ["a b", "x/y", "k=v", "50%", "a&b", "naïve", "東京", "plain"]
    table = pa.table({"id": list(range(len(values))), "category": values})
    pq.write_to_dataset(table, str(tmp_path), partition_cols=["category"])
    aws.bucket("lake")
    aws.database(DB)
    aws.table(DB, "arrow", "s3://lake/arrow/", ["category"])
    prefixes = {}
    for path in tmp_path.rglob("*.parquet"):
        key = "arrow/" + path.relative_to(tmp_path).as_posix()
        aws.s3.put_object(Bucket="lake", Key=key, Body=path.read_bytes())
        prefixes[path.parent.name] = "s3://lake/arrow/" + path.parent.name + "/"
    main.lambda_handler({"databases": [DB]}, None)
    catalog = aws.partitions(DB, "arrow")
    assert sorted(v[0] for v in catalog) == sorted(values)
    assert sorted(catalog.values()) == sorted(prefixes.values())
    # pyarrow reads back the same value at each registered location
    read = ds.dataset(str(tmp_path), partitioning="hive").to_table().to_pydict()
    assert sorted(read["category"]) == sorted(values)
    assert catalog[("naïve",)] == "s3://lake/arrow/category=na%C3%AFve/"


def test_first_run_of_a_branch_table_reads_the_layout_from_its_branches(aws: Aws) -> None:
    """Nothing registered: the branch directories decide Hive, and every branch is listed."""
    registered, new = dynamic(aws, 4, 2)
    aws.glue.batch_delete_partition(
        DatabaseName=DB,
        TableName="dyn",
        PartitionsToDelete=[{"Values": list(v)} for v in registered],
    )
    summary = main.lambda_handler({"databases": [DB]}, None)
    dyn = entry(summary, "dyn")
    assert aws.partitions(DB, "dyn") == registered | new, dumps(dyn)
    assert (dyn["layout"], dyn["scan"], dyn["branches"]) == ("hive", "full", 4)


def test_a_failed_template_check_leaves_no_gap(aws: Aws, monkeypatch: Any) -> None:
    """Template dates after the newest are checked one by one; when one check fails, the dates
    after it are not registered either, so the next incremental run finds them all."""
    aws.bucket("lake")
    aws.database(DB)
    params = {"storage.location.template": "s3://lake/ev/${dt}/", **DAILY_PROJECTION}
    aws.table(DB, "ev", "s3://lake/ev/", ["dt"], params)
    day = [NOW - timedelta(days=d) for d in range(5, 0, -1)]  # oldest first
    register(aws, "ev", {(f"{day[0]:%Y/%m/%d}",): f"s3://lake/ev/{day[0]:%Y/%m/%d}/"})
    seed(f"ev/{d:%Y/%m/%d}/e.json" for d in day)
    refused = ("lake", f"ev/{day[2]:%Y/%m/%d}/")
    with proxied(monkeypatch, aws.endpoint, Faults(deny_s3_listings=(refused,))):
        summary = main.lambda_handler({"databases": [DB]}, None)
    ev = entry(summary, "ev")
    assert ev["status"] == "partial" and "AccessDenied" in " ".join(ev["errors"]), dumps(ev)
    assert set(aws.partitions(DB, "ev")) == {(f"{d:%Y/%m/%d}",) for d in day[:2]}
    main.lambda_handler({"databases": [DB]}, None)
    assert set(aws.partitions(DB, "ev")) == {(f"{d:%Y/%m/%d}",) for d in day}
