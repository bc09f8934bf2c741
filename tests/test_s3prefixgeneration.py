"""S3PrefixGeneration: layouts, Hive escaping, type checks, ignored names, Java date formats,
template date arithmetic, and S3 listing against the moto server over HTTP."""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from functools import partial
from typing import Any

import pytest

from modules import S3Listing as s3l
from modules import S3PrefixGeneration as s3p
from modules import TimeKeys as tk
from tests import test_inputs as data
from tests.helpers import seed_objects

BUCKET = data.BUCKET
TABLE_PREFIX = data.TABLE_PREFIX


def _keys(spec: list[tuple[str, str]]) -> list[s3p.PartitionKey]:
    return [s3p.PartitionKey(name, kind) for name, kind in spec]


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in cases]


def _check_parsed(parsed: s3p.Parsed | None, case: dict[str, Any], prefix_base: str) -> None:
    """Compare a parse result with a case: ignored, a partition, or a skipped path."""
    if case.get("ignored"):
        assert parsed is None
        return
    assert parsed is not None
    assert parsed.prefix == prefix_base + case["prefix"]
    if "values" in case:
        assert parsed.reason is None
        assert parsed.values == case["values"]
        assert all(isinstance(v, str) for v in parsed.values)
    else:
        assert parsed.values is None
        assert parsed.reason is not None
        assert case["reason"] in parsed.reason


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("case", data.HIVE_PARSE_CASES, ids=_ids(data.HIVE_PARSE_CASES))
def test_hive_parse(case: dict[str, Any]) -> None:
    """Hive `key=value/` paths: escaping undone, names case-insensitive, bad paths skipped."""
    layout = s3p.HiveLayout(BUCKET, TABLE_PREFIX, _keys(case["keys"]))
    _check_parsed(layout.parse(TABLE_PREFIX + case["key"]), case, TABLE_PREFIX)


@pytest.mark.parametrize("case", data.POSITIONAL_PARSE_CASES, ids=_ids(data.POSITIONAL_PARSE_CASES))
def test_positional_parse(case: dict[str, Any]) -> None:
    """Firehose `YYYY/MM/dd/HH/` paths: the n-th directory is the n-th key."""
    layout = s3p.PositionalLayout(BUCKET, TABLE_PREFIX, _keys(case["keys"]))
    _check_parsed(layout.parse(TABLE_PREFIX + case["key"]), case, TABLE_PREFIX)


@pytest.mark.parametrize("case", data.PROJECTED_POSITIONAL["cases"], ids=lambda c: c["key"])
def test_positional_projection_format(case: dict[str, Any]) -> None:
    """A `projection.<key>.type=date` format also checks directory-layout values."""
    keys = _keys(data.PROJECTED_POSITIONAL["keys"])
    params = data.PROJECTED_POSITIONAL["params"]
    layout = s3p.detect_layout(f"s3://{BUCKET}/{TABLE_PREFIX}", keys, params, data.NOW)
    assert layout.name == "positional"
    _check_parsed(layout.parse(TABLE_PREFIX + case["key"]), case, TABLE_PREFIX)


@pytest.mark.parametrize("case", data.TEMPLATE_PARSE_CASES, ids=_ids(data.TEMPLATE_PARSE_CASES))
def test_template_parse(case: dict[str, Any]) -> None:
    """`storage.location.template` paths, including a date key spanning several levels."""
    params = {s3p.TEMPLATE_PARAMETER: case["template"], **case["params"]}
    layout = s3p.detect_layout("", _keys(case["keys"]), params, data.NOW)
    assert isinstance(layout, s3p.TemplateLayout)
    assert layout.bucket == BUCKET
    assert layout.list_prefix == case["list_prefix"]
    _check_parsed(layout.parse(case["key"]), case, "")


def test_template_date_projection_is_read() -> None:
    """A template's date key carries its projection (format, unit, interval, range)."""
    params = {s3p.TEMPLATE_PARAMETER: "s3://lake/logs/${dt}/", **data.DATE_HOURLY_PARAMS}
    layout = s3p.TemplateLayout.from_table(
        params[s3p.TEMPLATE_PARAMETER], _keys([("dt", "string")]), params, data.NOW
    )
    projection = layout.date_projection
    assert projection is not None
    assert projection.fmt.pattern == "yyyy/MM/dd/HH"
    assert (projection.unit, projection.interval) == ("HOURS", 1)
    assert (projection.start, projection.end) == (datetime(2024, 1, 1), data.NOW)


@pytest.mark.parametrize(("template", "names", "error"), data.BAD_TEMPLATES)
def test_bad_template_refused(template: str, names: list[str], error: str) -> None:
    """A template that cannot place every key (or is not in S3) is a ValueError."""
    keys = [s3p.PartitionKey(n) for n in names]
    with pytest.raises(ValueError, match=re.escape(error)):
        s3p.TemplateLayout.from_table(template, keys, {}, data.NOW)


def _layout(case: dict[str, Any]) -> s3p.Layout:
    keys = _keys(case["keys"])
    if case["layout"] == "hive":
        return s3p.HiveLayout(BUCKET, TABLE_PREFIX, keys)
    if case["layout"] == "positional":
        return s3p.PositionalLayout(BUCKET, TABLE_PREFIX, keys)
    params = {s3p.TEMPLATE_PARAMETER: case["template"], **case.get("params", {})}
    return s3p.TemplateLayout.from_table(case["template"], keys, params, data.NOW)


@pytest.mark.parametrize("case", data.PATH_OF_CASES, ids=_ids(data.PATH_OF_CASES))
def test_path_of_and_back(case: dict[str, Any]) -> None:
    """`path_of` gives the partition's prefix, and parsing a file under it gives the values."""
    layout, values, path = _layout(case), case["values"], case["path"]
    assert layout.path_of(values) == path
    parsed = layout.parse(path + "part-0.parquet")
    assert parsed is not None
    assert parsed.values == tuple(values)
    assert parsed.prefix == path


# --------------------------------------------------------------------------- Hive escaping


@pytest.mark.parametrize(("value", "escaped"), data.HIVE_ESCAPE_CASES)
def test_hive_escape(value: str, escaped: str) -> None:
    """Hive escapes exactly its reserved characters as upper-case %XX."""
    assert s3p.hive_escape(value) == escaped
    assert s3p.hive_unescape(escaped) == value


@pytest.mark.parametrize(("text", "value"), data.HIVE_UNESCAPE_CASES)
def test_hive_unescape(text: str, value: str) -> None:
    """%XX is decoded once; a `%` not followed by two hex digits stays as it is."""
    assert s3p.hive_unescape(text) == value


@pytest.mark.parametrize("value", data.HIVE_ROUND_TRIP_VALUES)
def test_hive_round_trip(value: str) -> None:
    """render_hive_path → parse gives back exactly the value, in one directory level."""
    keys = _keys([("dt", "string"), ("note", "string")])
    layout = s3p.HiveLayout(BUCKET, TABLE_PREFIX, keys)
    path = s3p.render_hive_path(["dt", "note"], ["2024-01-15", value])
    assert path.count("/") == 2
    parsed = layout.parse(TABLE_PREFIX + path + "part-0.parquet")
    assert parsed is not None
    assert parsed.values == ("2024-01-15", value)
    assert parsed.prefix == TABLE_PREFIX + path
    assert layout.path_of(["2024-01-15", value]) == TABLE_PREFIX + path


def test_render_hive_path_needs_one_value_per_key() -> None:
    """A partition with the wrong number of values has no path."""
    with pytest.raises(ValueError):
        s3p.render_hive_path(["dt", "hour"], ["2024-01-15"])


# --------------------------------------------------------------------------- value types


@pytest.mark.parametrize(("type_name", "value", "fits"), data.TYPE_CASES)
def test_check_value(type_name: str, value: str, fits: bool) -> None:
    """Values are checked against the Hive/Glue column type; a misfit names the value."""
    reason = s3p.check_value(type_name, value)
    if fits:
        assert reason is None
    else:
        assert reason is not None
        assert repr(value) in reason


# --------------------------------------------------------------------------- ignored names


@pytest.mark.parametrize(("key", "is_data"), data.DATA_KEY_CASES)
def test_is_data_key(key: str, is_data: bool) -> None:
    """Markers, folder keys and anything under `_`/`.` names are not data."""
    assert s3p.is_data_key(key) is is_data


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("_SUCCESS", True),
        ("_temporary", True),
        (".hive-staging_1", True),
        (".crc", True),
        ("part-0", False),
        ("dt=_x", False),
        ("x_$folder$", False),
        ("a.b", False),
    ],
)
def test_is_ignored_name(name: str, ignored: bool) -> None:
    """Engines skip names that start with `_` or `.`."""
    assert s3p.is_ignored_name(name) is ignored


# --------------------------------------------------------------------------- key ordering


@pytest.mark.parametrize("prefix", data.ORDERING_PREFIXES)
def test_key_after_prefix_ordering(prefix: str) -> None:
    """It sorts (in S3's UTF-8 byte order) after every key under the prefix, before every
    later sibling directory, and after every earlier one."""
    after = s3p.key_after_prefix(prefix).encode()
    stem = prefix[:-1]
    for rest in data.KEYS_UNDER_PREFIX:
        assert (prefix + rest).encode() < after, rest
    for sibling in data.SIBLINGS_AFTER:
        key = sibling.format(p=stem)
        assert not key.startswith(prefix)
        assert after < key.encode(), key
    for sibling in data.SIBLINGS_BEFORE:
        key = sibling.format(p=stem)
        assert not key.startswith(prefix)
        assert key.encode() < after, key


@pytest.mark.parametrize("prefix", data.ORDERING_PREFIXES)
def test_key_after_prefix_takes_a_directory_without_its_slash(prefix: str) -> None:
    assert s3p.key_after_prefix(prefix[:-1]) == s3p.key_after_prefix(prefix)


# --------------------------------------------------------------------------- Java dates


@pytest.mark.parametrize(("pattern", "moment", "text"), data.JAVA_FORMAT_CASES)
def test_java_format_and_parse(pattern: str, moment: datetime, text: str) -> None:
    """Formatting and parsing are inverse for the patterns projection uses."""
    fmt = tk.JavaDateFormat(pattern)
    assert fmt.format(moment) == text
    assert fmt.parse(text) == moment
    assert re.fullmatch(fmt.regex(), text)


@pytest.mark.parametrize(("pattern", "text"), data.JAVA_PARSE_FAILURES)
def test_java_parse_rejects(pattern: str, text: str) -> None:
    """Text of another shape, or an impossible date, does not parse."""
    assert tk.JavaDateFormat(pattern).parse(text) is None


@pytest.mark.parametrize(("pattern", "unit"), data.JAVA_UNIT_CASES)
def test_java_unit(pattern: str, unit: str) -> None:
    """A pattern's unit is its finest field (the default projection interval unit)."""
    assert tk.JavaDateFormat(pattern).unit == unit


@pytest.mark.parametrize(("pattern", "error"), data.JAVA_BAD_PATTERNS)
def test_java_bad_pattern(pattern: str, error: str) -> None:
    """Unsupported letters, a missing year and an unclosed quote are refused."""
    with pytest.raises(ValueError, match=re.escape(error)):
        tk.JavaDateFormat(pattern)


def test_java_truncate() -> None:
    """Truncating drops the fields finer than the pattern's unit."""
    moment = datetime(2024, 1, 15, 7, 45, 30)
    assert tk.JavaDateFormat("yyyy-MM-dd").truncate(moment) == datetime(2024, 1, 15)
    assert tk.JavaDateFormat("yyyy/MM/dd/HH").truncate(moment) == datetime(2024, 1, 15, 7)


# --------------------------------------------------------------------------- date arithmetic


@pytest.mark.parametrize(("start", "amount", "unit", "expected"), data.ADD_INTERVAL_CASES)
def test_add_interval(start: datetime, amount: int, unit: str, expected: datetime) -> None:
    """Calendar arithmetic: month ends clamp, leap days, hours across day/month/year ends."""
    assert tk.add_interval(start, amount, unit) == expected


def test_add_interval_unknown_unit() -> None:
    """An interval unit Athena does not know is a ValueError."""
    with pytest.raises(ValueError, match="FORTNIGHTS"):
        tk.add_interval(datetime(2024, 1, 1), 1, "FORTNIGHTS")


def _projection(params: dict[str, str], now: datetime) -> tk.DateProjection:
    table_params = {f"projection.dt.{k}": v for k, v in params.items()}
    table_params["projection.dt.type"] = "date"
    return tk.DateProjection.from_parameters("dt", table_params, now)


@pytest.mark.parametrize("case", data.CANDIDATE_CASES, ids=_ids(data.CANDIDATE_CASES))
def test_candidates_after(case: dict[str, Any]) -> None:
    """Values after the newest registered one up to now (and the range end), anchored."""
    projection = _projection(case["params"], case["now"])
    got = projection.candidates_after(case["last"], case["now"], case.get("limit", 100))
    assert got == case["expected"]


def test_candidates_long_run_from_31st_does_not_drift() -> None:
    """Two years of monthly steps from Jan 31 land on every month's last day."""
    params = {"format": "yyyy-MM-dd", "interval.unit": "MONTHS"}
    now = datetime(2025, 12, 31)
    got = _projection(params, now).candidates_after("2024-01-31", now, 100)
    expected = [
        f"{y}-{m:02d}-{calendar.monthrange(y, m)[1]:02d}"
        for y in (2024, 2025)
        for m in range(1, 13)
        if (y, m) != (2024, 1)
    ]
    assert got == expected
    assert "2024-02-29" in got and "2025-02-28" in got


def test_now_bounds_truncated_to_the_format() -> None:
    """NOW-relative range bounds are cut to the format's unit, as Athena does."""
    now = datetime(2024, 1, 17, 13, 45)
    daily = _projection({"format": "yyyy-MM-dd", "range": "NOW-1DAYS,NOW"}, now)
    assert (daily.start, daily.end) == (datetime(2024, 1, 16), datetime(2024, 1, 17))
    hourly = _projection({"format": "yyyy/MM/dd/HH", "range": "NOW,NOW+2HOURS"}, now)
    assert (hourly.start, hourly.end) == (datetime(2024, 1, 17, 13), datetime(2024, 1, 17, 15))


@pytest.mark.parametrize(("params", "error"), data.BAD_PROJECTIONS)
def test_bad_projection(params: dict[str, str], error: str) -> None:
    """Projection settings that cannot generate values are a ValueError naming the problem."""
    with pytest.raises(ValueError, match=re.escape(error)):
        _projection(params, data.NOW)


# --------------------------------------------------------------------------- layout detection


@pytest.mark.parametrize(("params", "samples", "expected"), data.DETECT_CASES)
def test_detect_layout(params: dict[str, str], samples: list[str], expected: str) -> None:
    """Template when the table has one, else Hive when a sample starts `<first key>=`."""
    keys = _keys(data.DT_HOUR)
    layout = s3p.detect_layout(f"s3://{BUCKET}/{TABLE_PREFIX}", keys, params, data.NOW, samples)
    assert layout.name == expected


@pytest.mark.parametrize(("keys", "expected"), data.AUTO_LAYOUT_CASES)
def test_auto_layout_decided_by_first_data_key(keys: list[str], expected: str) -> None:
    """Without a sample the layout is chosen by the first data key parsed, then kept."""
    layout = s3p.detect_layout(f"s3://{BUCKET}/{TABLE_PREFIX}", _keys(data.DT_HOUR), {}, data.NOW)
    assert isinstance(layout, s3p.AutoLayout)
    assert layout.chosen is None
    for key in keys:
        layout.parse(TABLE_PREFIX + key)
    assert layout.chosen is not None
    assert layout.name == expected


# --------------------------------------------------------------------------- S3 listing


seed = partial(seed_objects, BUCKET)


class CallCounter:
    """Counts ListObjectsV2 requests a client sends (independently of Discovery)."""

    def __init__(self, s3: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params)


@pytest.fixture
def lake(aws: Any) -> Any:
    """A clean moto state with the data lake's bucket."""
    aws.bucket(BUCKET)
    return aws


def test_pagination_beyond_1000_children(lake: Any) -> None:
    """1,205 partitions at one level (2,410 keys) are all found, over three pages."""
    keys = [f"{TABLE_PREFIX}n={i:04d}/{name}" for i in range(1205) for name in ("p", "_SUCCESS")]
    seed(keys)
    counter = CallCounter(lake.s3)
    layout = s3p.HiveLayout(BUCKET, TABLE_PREFIX, _keys([("n", "int")]))
    found = s3l.discover(lake.s3, layout)
    assert found.error is None
    assert found.partitions == {(f"{i:04d}",): f"{TABLE_PREFIX}n={i:04d}/" for i in range(1205)}
    assert found.skipped == {}
    assert found.list_calls == len(counter.calls) == 3


def test_iter_keys_yields_every_key_in_order(lake: Any) -> None:
    """iter_keys pages through everything under the prefix, in key order, nothing outside."""
    keys = [f"{TABLE_PREFIX}2024/01/{d:02d}/{h:02d}/f.gz" for d in (1, 2) for h in range(24)]
    many = [f"{TABLE_PREFIX}a/{i:05d}" for i in range(1001)]
    seed([*keys, *many, "raw/eventsX/outside", "raw/other/outside"])
    got = list(s3l.iter_keys(lake.s3, BUCKET, TABLE_PREFIX))
    assert got == sorted([*keys, *many])


def test_start_after_returns_only_later_partitions(lake: Any) -> None:
    """Listing after the newest known partition's prefix finds exactly what sorts after it."""
    days = [f"2024-01-{d:02d}" for d in range(1, 11)]
    seed(
        f"{TABLE_PREFIX}dt={day}/hour={h:02d}/{name}"
        for day in days
        for h in range(3)
        for name in ("part-0.parquet", "part-1.parquet")
    )
    layout = s3p.HiveLayout(BUCKET, TABLE_PREFIX, _keys(data.DT_HOUR))
    newest = layout.path_of(["2024-01-07", "01"])
    found = s3l.discover(lake.s3, layout, start_after=s3p.key_after_prefix(newest))
    expected = [("2024-01-07", "02")] + [(d, f"{h:02d}") for d in days[7:] for h in range(3)]
    assert sorted(found.partitions) == expected
    assert found.list_calls == 1
    assert found.skipped == {}


def test_start_after_siblings_on_the_server(lake: Any) -> None:
    """On S3 (moto), StartAfter=key_after_prefix(p) skips p's keys and keeps later siblings."""
    prefix = "raw/firehose/2024/01/"
    stem = prefix[:-1]
    under = [prefix + rest for rest in data.KEYS_UNDER_PREFIX if rest]
    after = [s.format(p=stem) for s in data.SIBLINGS_AFTER]
    before = [s.format(p=stem) for s in data.SIBLINGS_BEFORE]
    seed([*under, *after, *before])
    got = list(s3l.iter_keys(lake.s3, BUCKET, "raw/", start_after=s3p.key_after_prefix(prefix)))
    assert got == sorted(after, key=str.encode)


def test_excluded_nested_table_is_jumped_over(lake: Any) -> None:
    """Another table's location under this one is skipped with one jump, not listed."""
    nested = f"{TABLE_PREFIX}nested/"
    seed([f"{TABLE_PREFIX}a-src/f.gz", f"{TABLE_PREFIX}z-src/f.gz"])
    seed(f"{nested}dt=2024-01-{i % 28 + 1:02d}/part-{i:05d}" for i in range(2100))
    layout = s3p.PositionalLayout(BUCKET, TABLE_PREFIX, _keys([("source", "string")]))

    counter = CallCounter(lake.s3)
    found = s3l.discover(lake.s3, layout, exclude=[nested])
    assert found.partitions == {
        ("a-src",): f"{TABLE_PREFIX}a-src/",
        ("z-src",): f"{TABLE_PREFIX}z-src/",
    }
    assert found.list_calls == len(counter.calls) == 2
    assert counter.calls[1]["StartAfter"] == s3p.key_after_prefix(nested)

    unguarded = s3l.discover(lake.s3, layout)
    assert ("nested",) in unguarded.partitions
    assert unguarded.list_calls == 3
    assert found.list_calls < unguarded.list_calls


@pytest.mark.timeout(20)
def test_excluded_location_without_trailing_slash(lake: Any) -> None:
    """An excluded location given without its `/` excludes that directory only, and the jump
    over it still moves forward (no endless re-listing)."""
    seed(f"{TABLE_PREFIX}nested/part-{i:05d}" for i in range(1200))
    seed([f"{TABLE_PREFIX}nested2/f.gz", f"{TABLE_PREFIX}z-src/f.gz"])
    layout = s3p.PositionalLayout(BUCKET, TABLE_PREFIX, _keys([("source", "string")]))
    found = s3l.discover(lake.s3, layout, exclude=[f"{TABLE_PREFIX}nested"])
    assert found.partitions == {
        ("nested2",): f"{TABLE_PREFIX}nested2/",
        ("z-src",): f"{TABLE_PREFIX}z-src/",
    }
    assert found.list_calls == 2


def test_ignored_subtree_costs_one_extra_call(lake: Any) -> None:
    """A 2,100-key `_temporary/` costs one jump, and ignored-only prefixes are not partitions."""
    seed(f"{TABLE_PREFIX}_temporary/0/task_{i:05d}/part-0" for i in range(2100))
    seed(
        [
            f"{TABLE_PREFIX}dt=2024-01-01/part-0.parquet",
            f"{TABLE_PREFIX}dt=2024-01-02/_SUCCESS",
            f"{TABLE_PREFIX}dt=2024-01-02/.part-0.parquet.crc",
            f"{TABLE_PREFIX}dt=2024-01-02/sub_$folder$",
            f"{TABLE_PREFIX}dt=2024-01-02/empty/",
            f"{TABLE_PREFIX}dt=2024-01-03_$folder$",
            f"{TABLE_PREFIX}dt=2024-01-03/",
            f"{TABLE_PREFIX}dt=2024-01-04/part-0.parquet",
        ]
    )
    counter = CallCounter(lake.s3)
    layout = s3p.HiveLayout(BUCKET, TABLE_PREFIX, _keys([("dt", "date")]))
    found = s3l.discover(lake.s3, layout)
    assert found.error is None
    assert found.partitions == {
        ("2024-01-01",): f"{TABLE_PREFIX}dt=2024-01-01/",
        ("2024-01-04",): f"{TABLE_PREFIX}dt=2024-01-04/",
    }
    assert found.skipped == {}
    # One page that meets `_temporary/` and one after the jump (which holds all the rest),
    # where listing the subtree would cost one call per 1,000 of its keys (three in all).
    assert found.list_calls == len(counter.calls) == 2
    assert counter.calls[1]["StartAfter"] == f"{TABLE_PREFIX}_temporary0"


def test_discover_collects_data_dirs(lake: Any) -> None:
    """Sync mode records every directory that holds data, and nothing that holds none."""
    seed(
        [
            f"{TABLE_PREFIX}dt=1/hour=2/part-0",
            f"{TABLE_PREFIX}dt=1/hour=3/_SUCCESS",
            f"{TABLE_PREFIX}dt=2/hour=0/deep/part-0",
        ]
    )
    layout = s3p.HiveLayout(BUCKET, TABLE_PREFIX, _keys(data.DT_HOUR))
    found = s3l.discover(lake.s3, layout, collect_data_dirs=True)
    assert found.data_dirs == {
        f"{TABLE_PREFIX}dt=1/hour=2/",
        f"{TABLE_PREFIX}dt=1/",
        f"{TABLE_PREFIX}dt=2/hour=0/deep/",
        f"{TABLE_PREFIX}dt=2/hour=0/",
        f"{TABLE_PREFIX}dt=2/",
    }
    assert set(found.partitions) == {("1", "2"), ("2", "0")}


def test_discover_reports_skipped_and_template(lake: Any) -> None:
    """A template table: matching prefixes are partitions, others are skipped with a reason."""
    seed(
        [
            "events/2024/01/15/a.json",
            "events/2024/01/15/b.json",
            "events/2024/01/16/_SUCCESS",
            "events/2024/01/17/late/a.json",
            "events/2024/02/a.json",
            "events/_temporary/0/a.json",
        ]
    )
    keys = _keys([("year", "int"), ("month", "int"), ("day", "int")])
    template = "s3://lake/events/${year}/${month}/${day}/"
    layout = s3p.detect_layout("", keys, {s3p.TEMPLATE_PARAMETER: template}, data.NOW)
    found = s3l.discover(lake.s3, layout)
    assert found.partitions == {
        ("2024", "01", "15"): "events/2024/01/15/",
        ("2024", "01", "17"): "events/2024/01/17/",
    }
    assert list(found.skipped) == ["events/2024/02/"]
    assert "does not match the template" in found.skipped["events/2024/02/"]


def test_discover_listing_failure_is_reported(lake: Any) -> None:
    """A failed listing ends the pass with `error` set instead of raising."""
    layout = s3p.HiveLayout("no-such-bucket", TABLE_PREFIX, _keys(data.DT_HOUR))
    found = s3l.discover(lake.s3, layout)
    assert found.error is not None
    assert "NoSuchBucket" in found.error
    assert found.partitions == {}


@pytest.mark.parametrize(("prefix", "has_data", "calls"), data.PREFIX_DATA_CASES)
def test_prefix_has_data(lake: Any, prefix: str, has_data: bool, calls: int) -> None:
    """True only when a data object lies under the prefix (not a marker or ignored name)."""
    seed(data.PREFIX_DATA_OBJECTS)
    seed(f"p/big-temporary/_temporary/0/part-{i:05d}" for i in range(1500))
    counter = s3l.Discovery()
    assert s3l.prefix_has_data(lake.s3, BUCKET, prefix, counter) is has_data
    assert counter.list_calls == calls


@pytest.mark.parametrize("with_sample", [True, False], ids=["sample", "first-key"])
@pytest.mark.parametrize(
    ("location", "params", "objects", "layout_name", "expected"),
    [
        (
            "s3://lake/raw/hive_t/",
            {},
            ["raw/hive_t/_SUCCESS", "raw/hive_t/dt=2024-01-15/hour=07/part-0.parquet"],
            "hive",
            {("2024-01-15", "07"): "raw/hive_t/dt=2024-01-15/hour=07/"},
        ),
        (
            "s3://lake/raw/fh_t/",
            {},
            ["raw/fh_t/2024/01/15/07/f.gz"],
            "positional",
            {("2024", "01", "15", "07"): "raw/fh_t/2024/01/15/07/"},
        ),
        (
            "s3://lake/raw/tpl_t/",
            {s3p.TEMPLATE_PARAMETER: "s3://lake/raw/tpl_t/${dt}/${hour}/"},
            ["raw/tpl_t/2024-01-15/07/f.json"],
            "template",
            {("2024-01-15", "07"): "raw/tpl_t/2024-01-15/07/"},
        ),
    ],
    ids=["hive", "positional", "template"],
)
def test_detect_layout_from_s3(
    lake: Any,
    location: str,
    params: dict[str, str],
    objects: list[str],
    layout_name: str,
    expected: dict[tuple[str, ...], str],
    with_sample: bool,
) -> None:
    """The first data key under a table's location decides its layout (given as a sample, or
    met by the listing itself), and the chosen layout lists the table."""
    seed(objects)
    bucket, prefix = s3p.split_s3_url(location)
    samples = []
    if with_sample:
        samples = [
            next(
                key[len(prefix) :]
                for key in s3l.iter_keys(lake.s3, bucket, prefix)
                if s3p.is_data_key(key[len(prefix) :])
            )
        ]
    keys = _keys(data.DT_HOUR) if layout_name != "positional" else _keys(data.YMDH)
    layout = s3p.detect_layout(location, keys, params, data.NOW, samples)
    found = s3l.discover(lake.s3, layout)
    assert layout.name == layout_name
    assert found.partitions == expected


def test_generated_candidates_checked_on_s3(lake: Any) -> None:
    """For a date template, generated candidates are the prefixes to check for data."""
    params = {s3p.TEMPLATE_PARAMETER: "s3://lake/logs/${dt}/", **data.DATE_HOURLY_PARAMS}
    now = datetime(2024, 3, 1, 2, 30)
    layout = s3p.TemplateLayout.from_table(
        params[s3p.TEMPLATE_PARAMETER], _keys([("dt", "string")]), params, now
    )
    seed(["logs/2024/02/29/23/f.gz", "logs/2024/03/01/01/_SUCCESS", "logs/2024/03/01/02/f.gz"])
    assert layout.date_projection is not None
    candidates = layout.date_projection.candidates_after("2024/02/29/22", now, 100)
    assert candidates == ["2024/02/29/23", "2024/03/01/00", "2024/03/01/01", "2024/03/01/02"]
    with_data = [v for v in candidates if s3l.prefix_has_data(lake.s3, BUCKET, layout.path_of([v]))]
    assert with_data == ["2024/02/29/23", "2024/03/01/02"]


# --------------------------------------------------------------------------- small helpers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://lake/raw/events/", ("lake", "raw/events/")),
        ("s3://lake/raw/events", ("lake", "raw/events/")),
        ("s3://lake", ("lake", "")),
        ("s3://lake/", ("lake", "")),
    ],
)
def test_split_s3_url(url: str, expected: tuple[str, str]) -> None:
    """Locations split into a bucket and a key prefix ending in `/`."""
    assert s3p.split_s3_url(url) == expected


@pytest.mark.parametrize("url", ["lake/raw/", "s3:///raw/", "https://lake/raw/"])
def test_split_s3_url_refuses(url: str) -> None:
    """Anything but an s3:// URL with a bucket is a ValueError."""
    with pytest.raises(ValueError):
        s3p.split_s3_url(url)
