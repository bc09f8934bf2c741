"""Which partition keys are time, and what period a partition's values denote."""

from __future__ import annotations

from datetime import datetime

import pytest

from modules.TimeKeys import PartitionKey, split_keys


def _keys(*spec: str) -> list[PartitionKey]:
    return [PartitionKey(*s.split(":")) if ":" in s else PartitionKey(s) for s in spec]


@pytest.mark.parametrize(
    ("keys", "params", "samples", "branch", "time"),
    [
        (_keys("year", "month", "day", "hour"), {}, [], [], ["year", "month", "day", "hour"]),
        (_keys("region", "year", "month", "day"), {}, [], ["region"], ["year", "month", "day"]),
        (_keys("customer_id", "dt"), {}, [], ["customer_id"], ["dt"]),
        (
            _keys("tenant", "event_type", "dt", "hour"),
            {},
            [],
            ["tenant", "event_type"],
            ["dt", "hour"],
        ),
        (_keys("source", "when:date"), {}, [], ["source"], ["when"]),
        (_keys("source", "ts:timestamp"), {}, [], ["source"], ["ts"]),
        (
            _keys("shard", "p"),
            {"projection.p.type": "date", "projection.p.format": "yyyy/MM/dd"},
            [],
            ["shard"],
            ["p"],
        ),
        # recognised by its registered values alone
        (_keys("site", "ingest"), {}, [["a", "2024-01-15"]], ["site"], ["ingest"]),
        # no time-like key: one branch, no time keys
        (_keys("category", "code"), {}, [["a", "20240115"]], [], []),
        # keys after the first time key are time keys even if they carry no time
        (_keys("dt", "source"), {}, [], [], ["dt", "source"]),
    ],
)
def test_split_keys(
    keys: list[PartitionKey],
    params: dict[str, str],
    samples: list[list[str]],
    branch: list[str],
    time: list[str],
) -> None:
    split = split_keys(keys, params, samples)
    assert [k.name for k in split.branch] == branch
    assert [k.name for k in split.time] == time
    assert split.has_time == bool(time)


@pytest.mark.parametrize(
    ("keys", "values", "start", "end"),
    [
        (
            _keys("year", "month", "day", "hour"),
            ["2024", "01", "15", "13"],
            (2024, 1, 15, 13),
            (2024, 1, 15, 14),
        ),
        (
            _keys("region", "year", "month", "day"),
            ["eu", "2024", "02", "29"],
            (2024, 2, 29),
            (2024, 3, 1),
        ),
        (_keys("year", "month"), ["2024", "12"], (2024, 12, 1), (2025, 1, 1)),
        (
            _keys("customer", "dt", "hour"),
            ["c1", "2024-01-15", "23"],
            (2024, 1, 15, 23),
            (2024, 1, 16),
        ),
        (_keys("dt:int"), ["20240115"], (2024, 1, 15), (2024, 1, 16)),
        (_keys("day"), ["2024-01-15"], (2024, 1, 15), (2024, 1, 16)),
        (
            _keys("s", "ts:timestamp"),
            ["x", "2024-01-15 10:20:30"],
            (2024, 1, 15, 10, 20, 30),
            (2024, 1, 15, 10, 20, 31),
        ),
    ],
)
def test_period(
    keys: list[PartitionKey], values: list[str], start: tuple[int, ...], end: tuple[int, ...]
) -> None:
    assert split_keys(keys).period(values) == (datetime(*start), datetime(*end))


@pytest.mark.parametrize(
    ("keys", "values"),
    [
        (_keys("year", "month"), ["2024", "13"]),
        (_keys("year", "month"), ["2024", "xx"]),
        (_keys("dt"), ["__HIVE_DEFAULT_PARTITION__"]),
        (_keys("month", "day"), ["01", "15"]),  # no year: not a point in time
        (_keys("category"), ["a"]),
    ],
)
def test_period_none(keys: list[PartitionKey], values: list[str]) -> None:
    assert split_keys(keys).period(values) is None
