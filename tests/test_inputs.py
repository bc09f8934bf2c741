"""Shared inputs and expected outputs for the tests, kept as plain data (lists of cases).

Every expected value here was worked out by hand from the rules it tests (Hive's path
escaping, the Hive/Glue column types, Java date patterns, calendar arithmetic), not copied
from the code's output.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

Case = dict[str, Any]

# --------------------------------------------------------------------------- layouts

BUCKET = "lake"
TABLE_PREFIX = "raw/events/"

# Hive layout: `keys` are (name, Glue type); `key` is relative to TABLE_PREFIX. A case either
# parses (`values`), is skipped (`reason`, a substring of the reported reason), or is ignored
# (`ignored`: the key is not data, so it says nothing about partitions). `prefix` is the
# partition's (or skipped path's) prefix relative to TABLE_PREFIX.
DT_HOUR = [("dt", "string"), ("hour", "string")]
DT_HOUR_TYPED = [("dt", "date"), ("hour", "int")]

HIVE_PARSE_CASES: list[Case] = [
    {
        "id": "plain",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/hour=07/part-0.parquet",
        "values": ("2024-01-15", "07"),
        "prefix": "dt=2024-01-15/hour=07/",
    },
    {
        "id": "typed-07-stays-07",
        "keys": DT_HOUR_TYPED,
        "key": "dt=2024-01-15/hour=07/part-0.parquet",
        "values": ("2024-01-15", "07"),
        "prefix": "dt=2024-01-15/hour=07/",
    },
    {
        "id": "key-names-case-insensitive",
        "keys": DT_HOUR,
        "key": "DT=2024-01-15/Hour=07/part-0.parquet",
        "values": ("2024-01-15", "07"),
        "prefix": "DT=2024-01-15/Hour=07/",
    },
    {
        "id": "escaped-colon",
        "keys": [("ts", "string")],
        "key": "ts=2024-01-15 07%3A30%3A00/part-0.parquet",
        "values": ("2024-01-15 07:30:00",),
        "prefix": "ts=2024-01-15 07%3A30%3A00/",
    },
    {
        "id": "escaped-colon-lowercase-hex",
        "keys": [("ts", "timestamp")],
        "key": "ts=2024-01-15 07%3a30%3a00/part-0.parquet",
        "values": ("2024-01-15 07:30:00",),
        "prefix": "ts=2024-01-15 07%3a30%3a00/",
    },
    {
        "id": "escaped-slash",
        "keys": [("path", "string")],
        "key": "path=a%2Fb/part-0.parquet",
        "values": ("a/b",),
        "prefix": "path=a%2Fb/",
    },
    {
        "id": "escaped-percent-then-hex-text",
        "keys": [("path", "string")],
        "key": "path=%252F/part-0.parquet",
        "values": ("%2F",),
        "prefix": "path=%252F/",
    },
    {
        "id": "percent-at-end-stays",
        "keys": [("pct", "string")],
        "key": "pct=100%/part-0.parquet",
        "values": ("100%",),
        "prefix": "pct=100%/",
    },
    {
        "id": "percent-before-non-hex-stays",
        "keys": [("pct", "string")],
        "key": "pct=50%zz/part-0.parquet",
        "values": ("50%zz",),
        "prefix": "pct=50%zz/",
    },
    {
        "id": "percent-one-hex-digit-stays",
        "keys": [("pct", "string"), ("n", "string")],
        "key": "pct=%2/n=1/part-0.parquet",
        "values": ("%2", "1"),
        "prefix": "pct=%2/n=1/",
    },
    {
        "id": "hive-default-partition-passes-int-check",
        "keys": DT_HOUR_TYPED,
        "key": "dt=2024-01-15/hour=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
        "values": ("2024-01-15", "__HIVE_DEFAULT_PARTITION__"),
        "prefix": "dt=2024-01-15/hour=__HIVE_DEFAULT_PARTITION__/",
    },
    {
        "id": "equals-inside-value",
        "keys": [("q", "string")],
        "key": "q=a=b/part-0.parquet",
        "values": ("a=b",),
        "prefix": "q=a=b/",
    },
    {
        # Glue takes partition values of 1 to 1,024 characters (PartitionInput.Values): an
        # empty one would fail its whole chunk of 100 on every run.
        "id": "empty-value",
        "keys": [("q", "string")],
        "key": "q=/part-0.parquet",
        "reason": "empty value",
        "prefix": "q=/",
    },
    {
        "id": "value-over-1024-characters",
        "keys": [("q", "string")],
        "key": "q=" + "x" * 1025 + "/part-0.parquet",
        "reason": "value of 1,025 characters",
        "prefix": "q=" + "x" * 1025 + "/",
    },
    {
        "id": "deeper-file-maps-to-partition",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/hour=07/sub/dir/part-0.parquet",
        "values": ("2024-01-15", "07"),
        "prefix": "dt=2024-01-15/hour=07/",
    },
    {
        "id": "wrong-key-name",
        "keys": DT_HOUR,
        "key": "day=2024-01-15/hour=07/part-0.parquet",
        "prefix": "day=2024-01-15/hour=07/",
        "reason": "expected key 'dt', found 'day'",
    },
    {
        "id": "wrong-order",
        "keys": DT_HOUR,
        "key": "hour=07/dt=2024-01-15/part-0.parquet",
        "prefix": "hour=07/dt=2024-01-15/",
        "reason": "expected key 'dt', found 'hour'",
    },
    {
        "id": "missing-equals",
        "keys": DT_HOUR,
        "key": "2024-01-15/hour=07/part-0.parquet",
        "prefix": "2024-01-15/hour=07/",
        "reason": "'2024-01-15' is not key=value",
    },
    {
        "id": "too-shallow",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/part-0.parquet",
        "prefix": "dt=2024-01-15/",
        "reason": "fewer than 2 directory levels",
    },
    {
        "id": "file-at-table-root",
        "keys": DT_HOUR,
        "key": "part-0.parquet",
        "prefix": "",
        "reason": "fewer than 2 directory levels",
    },
    {
        "id": "invalid-date",
        "keys": DT_HOUR_TYPED,
        "key": "dt=2024-02-30/hour=07/part-0.parquet",
        "prefix": "dt=2024-02-30/hour=07/",
        "reason": "dt: '2024-02-30' is not a valid date",
    },
    {
        "id": "not-an-int",
        "keys": DT_HOUR_TYPED,
        "key": "dt=2024-01-15/hour=7a/part-0.parquet",
        "prefix": "dt=2024-01-15/hour=7a/",
        "reason": "hour: '7a' is not an int",
    },
    {
        "id": "success-marker-ignored",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/hour=07/_SUCCESS",
        "ignored": True,
    },
    {
        "id": "temporary-ignored",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/_temporary/0/part-0.parquet",
        "ignored": True,
    },
    {
        "id": "folder-key-ignored",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/hour=07/",
        "ignored": True,
    },
    {
        "id": "folder-marker-ignored",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/hour=07_$folder$",
        "ignored": True,
    },
    {
        "id": "crc-dot-file-ignored",
        "keys": DT_HOUR,
        "key": "dt=2024-01-15/hour=07/.part-0.parquet.crc",
        "ignored": True,
    },
]

# Positional (Kinesis Firehose `YYYY/MM/dd/HH/`): the n-th directory is the n-th key.
YMDH = [("year", "string"), ("month", "string"), ("day", "string"), ("hour", "string")]
YMDH_INT = [("year", "int"), ("month", "int"), ("day", "int"), ("hour", "int")]

POSITIONAL_PARSE_CASES: list[Case] = [
    {
        "id": "firehose",
        "keys": YMDH,
        "key": "2024/01/15/07/delivery-1-2024-01-15-07-00-00-abc.gz",
        "values": ("2024", "01", "15", "07"),
        "prefix": "2024/01/15/07/",
    },
    {
        "id": "int-keys-keep-leading-zeros",
        "keys": YMDH_INT,
        "key": "2024/01/15/07/file.gz",
        "values": ("2024", "01", "15", "07"),
        "prefix": "2024/01/15/07/",
    },
    {
        "id": "deeper",
        "keys": YMDH,
        "key": "2024/01/15/07/extra/file.gz",
        "values": ("2024", "01", "15", "07"),
        "prefix": "2024/01/15/07/",
    },
    {
        "id": "too-shallow",
        "keys": YMDH,
        "key": "2024/01/15/file.gz",
        "prefix": "2024/01/15/",
        "reason": "fewer than 4 directory levels",
    },
    {
        "id": "not-an-int",
        "keys": YMDH_INT,
        "key": "2024/ab/15/07/file.gz",
        "prefix": "2024/ab/15/07/",
        "reason": "month: 'ab' is not an int",
    },
    {
        "id": "tinyint-out-of-range",
        "keys": [("year", "int"), ("month", "tinyint")],
        "key": "2024/128/file.gz",
        "prefix": "2024/128/",
        "reason": "month: '128' is out of range for tinyint",
    },
    {
        "id": "success-ignored",
        "keys": YMDH,
        "key": "2024/01/15/07/_SUCCESS",
        "ignored": True,
    },
    {
        "id": "dot-file-ignored",
        "keys": YMDH,
        "key": "2024/01/15/07/.file.gz.crc",
        "ignored": True,
    },
    {
        "id": "hive-staging-ignored",
        "keys": YMDH,
        "key": ".hive-staging_hive_2024-01-15_07/-ext-10000/file.gz",
        "ignored": True,
    },
]

# A positional table with one key whose `projection.<key>.type=date` fixes its format.
PROJECTED_POSITIONAL = {
    "keys": [("dt", "string")],
    "params": {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2020-01-01,NOW",
    },
    "cases": [
        {"key": "2024-01-15/f.json", "values": ("2024-01-15",), "prefix": "2024-01-15/"},
        {
            "key": "20240115/f.json",
            "prefix": "20240115/",
            "reason": "dt: '20240115' does not fit the date format 'yyyy-MM-dd'",
        },
        {
            "key": "2024-02-30/f.json",
            "prefix": "2024-02-30/",
            "reason": "does not fit the date format",
        },
    ],
}

# Template layouts: `template` and `params` are table parameters; `key` is a full S3 key.
NOW = datetime(2024, 6, 15, 12, 0)
DATE_HOURLY_PARAMS = {
    "projection.enabled": "true",
    "projection.dt.type": "date",
    "projection.dt.format": "yyyy/MM/dd/HH",
    "projection.dt.range": "2024/01/01/00,NOW",
    "projection.dt.interval": "1",
    "projection.dt.interval.unit": "HOURS",
}

TEMPLATE_PARSE_CASES: list[Case] = [
    {
        "id": "ymd",
        "template": "s3://lake/events/${year}/${month}/${day}/",
        "keys": [("year", "string"), ("month", "string"), ("day", "string")],
        "params": {},
        "key": "events/2024/01/15/part-0.json",
        "values": ("2024", "01", "15"),
        "prefix": "events/2024/01/15/",
        "list_prefix": "events/",
    },
    {
        "id": "ymd-deeper-file",
        "template": "s3://lake/events/${year}/${month}/${day}/",
        "keys": [("year", "string"), ("month", "string"), ("day", "string")],
        "params": {},
        "key": "events/2024/01/15/extra/part-0.json",
        "values": ("2024", "01", "15"),
        "prefix": "events/2024/01/15/",
        "list_prefix": "events/",
    },
    {
        "id": "ymd-too-shallow-skipped",
        "template": "s3://lake/events/${year}/${month}/${day}/",
        "keys": [("year", "string"), ("month", "string"), ("day", "string")],
        "params": {},
        "key": "events/2024/01/part-0.json",
        "prefix": "events/2024/01/",
        "reason": "does not match the template events/${year}/${month}/${day}/",
        "list_prefix": "events/",
    },
    {
        "id": "ymd-int-type-checked",
        "template": "s3://lake/events/${year}/${month}/${day}/",
        "keys": [("year", "int"), ("month", "string"), ("day", "string")],
        "params": {},
        "key": "events/20x4/01/15/part-0.json",
        "prefix": "events/20x4/01/15/",
        "reason": "year: '20x4' is not an int",
        "list_prefix": "events/",
    },
    {
        "id": "ymd-success-ignored",
        "template": "s3://lake/events/${year}/${month}/${day}/",
        "keys": [("year", "string"), ("month", "string"), ("day", "string")],
        "params": {},
        "key": "events/2024/01/15/_SUCCESS",
        "ignored": True,
        "list_prefix": "events/",
    },
    {
        "id": "keys-named-case-insensitively",
        "template": "s3://lake/events/${Year}/${MONTH}/",
        "keys": [("year", "string"), ("month", "string")],
        "params": {},
        "key": "events/2024/02/f.json",
        "values": ("2024", "02"),
        "prefix": "events/2024/02/",
        "list_prefix": "events/",
    },
    {
        "id": "placeholders-out-of-key-order",
        "template": "s3://lake/rev/${day}-${month}-${year}/",
        "keys": [("year", "string"), ("month", "string"), ("day", "string")],
        "params": {},
        "key": "rev/15-01-2024/f.json",
        "values": ("2024", "01", "15"),
        "prefix": "rev/15-01-2024/",
        "list_prefix": "rev/",
    },
    {
        "id": "date-spanning-levels",
        "template": "s3://lake/logs/${dt}/",
        "keys": [("dt", "string")],
        "params": DATE_HOURLY_PARAMS,
        "key": "logs/2024/01/15/07/f.gz",
        "values": ("2024/01/15/07",),
        "prefix": "logs/2024/01/15/07/",
        "list_prefix": "logs/",
    },
    {
        "id": "date-spanning-levels-too-shallow",
        "template": "s3://lake/logs/${dt}/",
        "keys": [("dt", "string")],
        "params": DATE_HOURLY_PARAMS,
        "key": "logs/2024/01/15/f.gz",
        "prefix": "logs/2024/01/15/",
        "reason": "does not match the template logs/${dt}/",
        "list_prefix": "logs/",
    },
    {
        "id": "date-format-mismatch",
        "template": "s3://lake/logs/${dt}/",
        "keys": [("dt", "string")],
        "params": DATE_HOURLY_PARAMS,
        "key": "logs/2024-01-15-07/f.gz",
        "prefix": "logs/2024-01-15-07/",
        "reason": "does not match the template",
        "list_prefix": "logs/",
    },
    {
        "id": "date-impossible-day",
        "template": "s3://lake/logs/${dt}/",
        "keys": [("dt", "string")],
        "params": DATE_HOURLY_PARAMS,
        "key": "logs/2024/02/30/07/f.gz",
        "prefix": "logs/2024/02/30/07/",
        "reason": "dt: '2024/02/30/07' does not fit the date format 'yyyy/MM/dd/HH'",
        "list_prefix": "logs/",
    },
    {
        "id": "enum-and-date",
        "template": "s3://lake/app/region=${region}/${dt}/",
        "keys": [("region", "string"), ("dt", "string")],
        "params": {
            "projection.region.type": "enum",
            "projection.region.values": "eu,us",
            "projection.dt.type": "date",
            "projection.dt.format": "yyyy-MM-dd",
            "projection.dt.range": "2024-01-01,NOW",
        },
        "key": "app/region=eu/2024-01-15/f.json",
        "values": ("eu", "2024-01-15"),
        "prefix": "app/region=eu/2024-01-15/",
        "list_prefix": "app/region=",
    },
    {
        "id": "enum-value-not-allowed",
        "template": "s3://lake/app/region=${region}/${dt}/",
        "keys": [("region", "string"), ("dt", "string")],
        "params": {
            "projection.region.type": "enum",
            "projection.region.values": "eu,us",
            "projection.dt.type": "date",
            "projection.dt.format": "yyyy-MM-dd",
            "projection.dt.range": "2024-01-01,NOW",
        },
        "key": "app/region=ap/2024-01-15/f.json",
        "prefix": "app/region=ap/2024-01-15/",
        "reason": "region: 'ap' is not an allowed value",
        "list_prefix": "app/region=",
    },
]

# Templates that cannot describe the table: (template, keys, substring of the ValueError).
BAD_TEMPLATES: list[tuple[str, list[str], str]] = [
    ("s3://lake/events/${year}/", ["year", "month"], "no placeholder for month"),
    ("s3://lake/events/${year}/${week}/", ["year"], "unknown keys week"),
    ("lake/events/${year}/", ["year"], "not an S3 URL"),
]

# Each layout renders the path a partition's values give (the inverse of parsing). Directory
# layouts live under TABLE_PREFIX; a template's path is the full key prefix.
PATH_OF_CASES: list[Case] = [
    {
        "id": "hive",
        "layout": "hive",
        "keys": DT_HOUR,
        "values": ["2024-01-15", "07"],
        "path": "raw/events/dt=2024-01-15/hour=07/",
    },
    {
        "id": "hive-escaped",
        "layout": "hive",
        "keys": [("ts", "string"), ("p", "string")],
        "values": ["2024-01-15 07:30:00", "a/b"],
        "path": "raw/events/ts=2024-01-15 07%3A30%3A00/p=a%2Fb/",
    },
    {
        "id": "positional",
        "layout": "positional",
        "keys": YMDH,
        "values": ["2024", "01", "15", "07"],
        "path": "raw/events/2024/01/15/07/",
    },
    {
        "id": "template-ymd",
        "layout": "template",
        "template": "s3://lake/events/${year}/${month}/${day}/",
        "keys": [("year", "string"), ("month", "string"), ("day", "string")],
        "values": ["2024", "01", "15"],
        "path": "events/2024/01/15/",
    },
    {
        "id": "template-case-insensitive-no-trailing-slash",
        "layout": "template",
        "template": "s3://lake/events/${Year}/${MONTH}",
        "keys": [("year", "int"), ("month", "int")],
        "values": ["2024", "02"],
        "path": "events/2024/02/",
    },
    {
        "id": "template-date-spanning-levels",
        "layout": "template",
        "template": "s3://lake/logs/${dt}/",
        "params": DATE_HOURLY_PARAMS,
        "keys": [("dt", "string")],
        "values": ["2024/01/15/07"],
        "path": "logs/2024/01/15/07/",
    },
    {
        "id": "template-backslash-is-literal",
        "layout": "template",
        "template": "s3://lake/t/${k}/",
        "keys": [("k", "string")],
        "values": ["a\\1\\g<0>"],
        "path": "t/a\\1\\g<0>/",
    },
]

# --------------------------------------------------------------------------- Hive escaping

# (value, how Hive writes it into a path): Hive's FileUtils.escapePathName escapes control
# characters and " # % ' * / : = ? \ DEL { [ ] ^ as %XX (upper-case hex); nothing else.
HIVE_ESCAPE_CASES: list[tuple[str, str]] = [
    ("2024-01-15", "2024-01-15"),
    ("07:30", "07%3A30"),
    ("a/b", "a%2Fb"),
    ("k=v", "k%3Dv"),
    ("100%", "100%25"),
    ("with space", "with space"),
    ("ünïcödé 日本", "ünïcödé 日本"),
    ("", ""),
    ("a\\b", "a%5Cb"),
    ("\"#'*?", "%22%23%27%2A%3F"),
    ("{[x]}^", "%7B%5Bx%5D}%5E"),
    ("tab\there", "tab%09here"),
    ("\x01\x7f", "%01%7F"),
]

# (path text, value after Hive unescaping).
HIVE_UNESCAPE_CASES: list[tuple[str, str]] = [
    ("07%3A30", "07:30"),
    ("07%3a30", "07:30"),
    ("a%2Fb", "a/b"),
    ("100%", "100%"),
    ("50%zz", "50%zz"),
    ("%2", "%2"),
    ("%252F", "%2F"),
    ("%%3A", "%:"),
    ("plain", "plain"),
]

# Values whose Hive path must parse back to exactly themselves.
HIVE_ROUND_TRIP_VALUES: list[str] = [
    "07:30:00",
    "a/b/c",
    "k=v",
    "100%",
    "%2F",
    "%%",
    "with space",
    "  leading and trailing  ",
    "ünïcödé 日本 🙂",
    "a\\b",
    "#?*'\"",
    "{[]}^",
    "tab\there\nnewline",
    "__HIVE_DEFAULT_PARTITION__",
    "_starts_with_underscore",
    ".starts.with.dot",
]

# --------------------------------------------------------------------------- value types

# (Glue type, value, fits).
TYPE_CASES: list[tuple[str, str, bool]] = [
    ("int", "7", True),
    ("int", "07", True),
    ("int", "+7", True),
    ("int", "-7", True),
    ("int", "2147483647", True),
    ("int", "-2147483648", True),
    ("int", "2147483648", False),
    ("int", "-2147483649", False),
    ("int", "7.0", False),
    ("int", "seven", False),
    ("int", "", False),
    ("int", " 7", False),
    ("INT", "7", True),
    ("integer", "2147483648", False),
    ("bigint", "9223372036854775807", True),
    ("bigint", "-9223372036854775808", True),
    ("bigint", "9223372036854775808", False),
    ("bigint", "-9223372036854775809", False),
    ("smallint", "32767", True),
    ("smallint", "-32768", True),
    ("smallint", "32768", False),
    ("smallint", "-32769", False),
    ("tinyint", "127", True),
    ("tinyint", "-128", True),
    ("tinyint", "007", True),
    ("tinyint", "128", False),
    ("tinyint", "-129", False),
    ("int", "__HIVE_DEFAULT_PARTITION__", True),
    ("date", "2024-01-15", True),
    ("date", "2024-02-29", True),
    ("date", "2023-02-29", False),
    ("date", "2024-02-30", False),
    ("date", "2024-13-01", False),
    ("date", "2024-1-5", False),
    ("date", "20240115", False),
    ("date", "2024/01/15", False),
    ("date", "__HIVE_DEFAULT_PARTITION__", True),
    ("boolean", "true", True),
    ("boolean", "FALSE", True),
    ("boolean", "1", False),
    ("boolean", "yes", False),
    ("timestamp", "2024-01-15 07:30:00", True),
    ("timestamp", "2024-01-15 07:30:00.123456", True),
    ("timestamp", "2024-01-15T07:30:00", False),
    ("timestamp", "2024-01-15 25:00:00", False),
    ("timestamp", "2024-02-30 00:00:00", False),
    ("timestamp", "2024-01-15", False),
    ("decimal(10,2)", "12.34", True),
    ("decimal(10,2)", "-1", True),
    ("decimal", "abc", False),
    ("double", "1.5", True),
    ("double", "1e5", True),
    ("double", "x", False),
    ("double", " 1 ", False),
    ("double", "1_000", False),
    ("double", "NaN", False),
    ("double", ".5", True),
    ("float", "-2.", True),
    ("float", "3", True),
    ("string", "anything at all", True),
    ("string", "", False),  # Glue takes values of 1 to 1,024 characters
    ("string", "x" * 1024, True),
    ("varchar(10)", "x", True),
]

# --------------------------------------------------------------------------- ignored names

# (path relative to a table or partition, is it data an engine would read?).
DATA_KEY_CASES: list[tuple[str, bool]] = [
    ("part-0.parquet", True),
    ("dt=2024-01-15/part-0.parquet", True),
    ("dt=2024-01-15/part_0.parquet", True),
    ("dt=2024-01-15/sub.dir/part-0", True),
    ("dt=_x/part-0", True),
    ("_SUCCESS", False),
    ("dt=2024-01-15/_SUCCESS", False),
    ("_temporary/0/_temporary/attempt_1/part-0", False),
    ("dt=2024-01-15/_temporary/0/part-0", False),
    (".hive-staging_hive_2024-01-15_07-00-00/-ext-10000/part-0", False),
    ("dt=2024-01-15/.hive-staging_x/part-0", False),
    ("dt=2024-01-15_$folder$", False),
    ("dt=2024-01-15/hour=07_$folder$", False),
    ("dt=2024-01-15/", False),
    ("dt=2024-01-15/.part-0.parquet.crc", False),
    ("", False),
]

# prefix_has_data: the bucket's objects, then (prefix, holds data, ListObjectsV2 calls it
# takes to tell): one call, plus one per ignored directory jumped over (`p/ignored-only/` has
# two: `.hive-staging_1/` and `_temporary/`; `p/big-temporary/` holds 1,500 ignored keys).
PREFIX_DATA_OBJECTS: list[str] = [
    "p/data/x.parquet",
    "p/deep/a/b/c/x.parquet",
    "p/ignored-only/_SUCCESS",
    "p/ignored-only/.x.parquet.crc",
    "p/ignored-only/sub_$folder$",
    "p/ignored-only/sub/",
    "p/ignored-only/_temporary/0/x.parquet",
    "p/ignored-only/.hive-staging_1/x.parquet",
    "p/empty/x.parquet",
    "p/emp_$folder$",
]
PREFIX_DATA_CASES: list[tuple[str, bool, int]] = [
    ("p/data/", True, 1),
    ("p/deep/", True, 1),
    ("p/ignored-only/", False, 3),
    ("p/missing/", False, 1),
    ("p/emp/", False, 1),
    ("p/big-temporary/", False, 2),
]

# key_after_prefix: prefixes (each ending in `/`), keys under them, and keys of sibling
# directories that must come after or before it (`{p}` is the prefix without its final `/`).
ORDERING_PREFIXES: list[str] = [
    "a/b/",
    "raw/events/dt=2024-01-15/hour=07/",
    "raw/firehose/2024/01/",
    "x/",
]
KEYS_UNDER_PREFIX: list[str] = [
    "",
    "part-0.parquet",
    "~~~~",
    "zzz/zzz/zzz",
    "\U0010ffff\U0010ffff",
    "ÿ",
    "_temporary/0/x",
]
SIBLINGS_AFTER: list[str] = ["{p}0/x", "{p}1/x", "{p}_/x", "{p}a/x", "{p}~/x"]
SIBLINGS_BEFORE: list[str] = ["{p}-x/y", "{p}.x/y", "{p}"]

# --------------------------------------------------------------------------- Java dates

# (pattern, moment, text): format(moment) == text and parse(text) == moment.
JAVA_FORMAT_CASES: list[tuple[str, datetime, str]] = [
    ("yyyy-MM-dd", datetime(2024, 1, 5), "2024-01-05"),
    ("yyyy/MM/dd/HH", datetime(2024, 1, 5, 7), "2024/01/05/07"),
    ("yyyyMMdd", datetime(2024, 12, 31), "20241231"),
    ("yyyy-MM-dd-HH-mm", datetime(2024, 2, 29, 23, 59), "2024-02-29-23-59"),
    ("yyyy-MM-dd'T'HH", datetime(2024, 1, 5, 7), "2024-01-05T07"),
    ("yyyy-MM-dd'T'HH:mm:ss", datetime(2024, 1, 5, 7, 8, 9), "2024-01-05T07:08:09"),
    ("yyyy-MM", datetime(2024, 3, 1), "2024-03"),
    ("yyyy", datetime(2024, 1, 1), "2024"),
    ("yy-MM-dd", datetime(2024, 1, 5), "24-01-05"),
    ("'dt='yyyyMMdd", datetime(2024, 1, 5), "dt=20240105"),
    # Java reads only ASCII letters as pattern letters; any other character is a literal.
    ("yyyy年MM月dd日", datetime(2024, 1, 15), "2024年01月15日"),
    # Two quotes inside a quoted literal stand for one quote.
    ("yyyy-MM-dd HH 'o''clock'", datetime(2024, 1, 5, 7), "2024-01-05 07 o'clock"),
    ("yyyy''MM", datetime(2024, 1, 1), "2024'01"),
]

# (pattern, text that must not parse).
JAVA_PARSE_FAILURES: list[tuple[str, str]] = [
    ("yyyy-MM-dd", "2024-02-30"),
    ("yyyy-MM-dd", "2023-02-29"),
    ("yyyy-MM-dd", "2024/01/05"),
    ("yyyy-MM-dd", "2024-01-05-07"),
    ("yyyy-MM-dd", "2024-1-05"),
    ("yyyyMMdd", "2024015"),
    ("yyyy/MM/dd/HH", "2024/01/05/24"),
    ("yyyy/MM/dd/HH", "2024/01/05"),
    ("yyyy-MM-dd'T'HH", "2024-01-05X07"),
]

# (pattern, the finest unit it carries).
JAVA_UNIT_CASES: list[tuple[str, str]] = [
    ("yyyy", "YEARS"),
    ("yyyy-MM", "MONTHS"),
    ("yyyy-MM-dd", "DAYS"),
    ("yyyy/MM/dd/HH", "HOURS"),
    ("yyyy-MM-dd-HH-mm", "MINUTES"),
    ("yyyy-MM-dd'T'HH:mm:ss", "SECONDS"),
]

# (pattern, substring of the ValueError).
JAVA_BAD_PATTERNS: list[tuple[str, str]] = [
    ("yyyy-MM-dd hh:mm a", "letter 'h' is not supported"),
    ("EEE yyyy-MM-dd", "letter 'E' is not supported"),
    ("YYYY-MM-dd", "letter 'Y' is not supported"),
    ("yyyy-MM-dd HH:mm:ss.SSS", "letter 'S' is not supported"),
    ("MM-dd", "has no year"),
    ("HH", "has no year"),
    ("yyyy-MM-dd'T", "unclosed quote"),
    ("yyyy-MMM-dd", "month names are not supported"),
]

# --------------------------------------------------------------------------- date arithmetic

# (start, amount, unit, expected): calendar units clamp to the month's last day.
ADD_INTERVAL_CASES: list[tuple[datetime, int, str, datetime]] = [
    (datetime(2024, 1, 31), 1, "MONTHS", datetime(2024, 2, 29)),
    (datetime(2023, 1, 31), 1, "MONTHS", datetime(2023, 2, 28)),
    (datetime(2024, 1, 31), 2, "MONTHS", datetime(2024, 3, 31)),
    (datetime(2024, 1, 31), 3, "MONTHS", datetime(2024, 4, 30)),
    (datetime(2024, 3, 31), -1, "MONTHS", datetime(2024, 2, 29)),
    (datetime(2024, 12, 31), 1, "MONTHS", datetime(2025, 1, 31)),
    (datetime(2024, 1, 15), -1, "MONTHS", datetime(2023, 12, 15)),
    (datetime(2024, 1, 15), -13, "MONTHS", datetime(2022, 12, 15)),
    (datetime(2024, 1, 31, 13, 45), 1, "MONTHS", datetime(2024, 2, 29, 13, 45)),
    (datetime(2024, 2, 29), 1, "YEARS", datetime(2025, 2, 28)),
    (datetime(2024, 2, 29), 4, "YEARS", datetime(2028, 2, 29)),
    (datetime(2024, 2, 29), -1, "YEARS", datetime(2023, 2, 28)),
    (datetime(2024, 1, 15, 23), 1, "HOURS", datetime(2024, 1, 16, 0)),
    (datetime(2024, 1, 31, 23), 1, "HOURS", datetime(2024, 2, 1, 0)),
    (datetime(2024, 2, 28, 23), 1, "HOURS", datetime(2024, 2, 29, 0)),
    (datetime(2024, 12, 31, 23), 1, "HOURS", datetime(2025, 1, 1, 0)),
    (datetime(2025, 1, 1, 0), -1, "HOURS", datetime(2024, 12, 31, 23)),
    (datetime(2024, 12, 31), 1, "DAYS", datetime(2025, 1, 1)),
    (datetime(2024, 2, 28), 1, "days", datetime(2024, 2, 29)),
    (datetime(2023, 2, 28), 1, "DAY", datetime(2023, 3, 1)),
    (datetime(2024, 1, 1), 2, "WEEKS", datetime(2024, 1, 15)),
    (datetime(2024, 1, 1, 23, 30), 90, "MINUTES", datetime(2024, 1, 2, 1, 0)),
    (datetime(2024, 12, 31, 23, 59, 59), 1, "SECONDS", datetime(2025, 1, 1)),
]

# candidates_after: the table's projection parameters for key `dt`, the newest registered
# value, now, the limit, and the expected values (None: give up and list instead).
CANDIDATE_CASES: list[Case] = [
    {
        "id": "daily-up-to-now",
        "params": {"format": "yyyy-MM-dd", "range": "2024-01-01,NOW"},
        "last": "2024-01-15",
        "now": datetime(2024, 1, 18, 10, 0),
        "expected": ["2024-01-16", "2024-01-17", "2024-01-18"],
    },
    {
        "id": "daily-across-year-end",
        "params": {"format": "yyyyMMdd", "range": "20200101,NOW"},
        "last": "20241230",
        "now": datetime(2025, 1, 2, 0, 0),
        "expected": ["20241231", "20250101", "20250102"],
    },
    {
        "id": "monthly-from-31st-no-drift",
        "params": {
            "format": "yyyy-MM-dd",
            "range": "2024-01-01,NOW",
            "interval": "1",
            "interval.unit": "MONTHS",
        },
        "last": "2024-01-31",
        "now": datetime(2024, 6, 15),
        "expected": ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"],
    },
    {
        "id": "yearly-from-leap-day",
        "params": {"format": "yyyy-MM-dd", "interval.unit": "YEARS"},
        "last": "2024-02-29",
        "now": datetime(2028, 3, 1),
        "expected": ["2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"],
    },
    {
        "id": "hourly-across-midnight-and-year-end",
        "params": {"format": "yyyy/MM/dd/HH", "range": "2024/01/01/00,NOW"},
        "last": "2024/12/31/22",
        "now": datetime(2025, 1, 1, 1, 30),
        "expected": ["2024/12/31/23", "2025/01/01/00", "2025/01/01/01"],
    },
    {
        "id": "hourly-across-month-end-leap",
        "params": {"format": "yyyy-MM-dd-HH", "interval.unit": "HOURS"},
        "last": "2024-02-28-23",
        "now": datetime(2024, 2, 29, 1, 0),
        "expected": ["2024-02-29-00", "2024-02-29-01"],
    },
    {
        "id": "every-6-hours",
        "params": {
            "format": "yyyy/MM/dd/HH",
            "range": "2024/01/01/00,NOW",
            "interval": "6",
            "interval.unit": "HOURS",
        },
        "last": "2024/02/28/18",
        "now": datetime(2024, 3, 1, 6, 0),
        "expected": [
            "2024/02/29/00",
            "2024/02/29/06",
            "2024/02/29/12",
            "2024/02/29/18",
            "2024/03/01/00",
            "2024/03/01/06",
        ],
    },
    {
        "id": "every-2-days",
        "params": {"format": "yyyy-MM-dd", "interval": "2", "interval.unit": "DAYS"},
        "last": "2024-02-27",
        "now": datetime(2024, 3, 4, 23, 0),
        "expected": ["2024-02-29", "2024-03-02", "2024-03-04"],
    },
    {
        "id": "every-15-minutes",
        "params": {"format": "yyyy-MM-dd-HH-mm", "interval": "15", "interval.unit": "MINUTES"},
        "last": "2024-12-31-23-30",
        "now": datetime(2025, 1, 1, 0, 20),
        "expected": ["2024-12-31-23-45", "2025-01-01-00-00", "2025-01-01-00-15"],
    },
    {
        "id": "fixed-range-end",
        "params": {"format": "yyyy-MM-dd", "range": "2024-01-01,2024-01-20"},
        "last": "2024-01-18",
        "now": datetime(2024, 3, 1),
        "expected": ["2024-01-19", "2024-01-20"],
    },
    {
        "id": "range-start-after-last",
        "params": {"format": "yyyy-MM-dd", "range": "2024-03-01,NOW"},
        "last": "2024-02-27",
        "now": datetime(2024, 3, 2, 8, 0),
        "expected": ["2024-03-01", "2024-03-02"],
    },
    {
        "id": "now-minus-3-days",
        "params": {"format": "yyyy-MM-dd", "range": "NOW-3DAYS,NOW"},
        "last": "2024-01-10",
        "now": datetime(2024, 1, 17),
        "expected": ["2024-01-14", "2024-01-15", "2024-01-16", "2024-01-17"],
    },
    {
        "id": "now-minus-3-hours",
        "params": {"format": "yyyy/MM/dd/HH", "range": "NOW-3HOURS,NOW"},
        "last": "2024/01/17/05",
        "now": datetime(2024, 1, 17, 12, 0),
        "expected": ["2024/01/17/09", "2024/01/17/10", "2024/01/17/11", "2024/01/17/12"],
    },
    {
        # A NOW-relative bound is truncated to the format (as Athena does): at 13:00 the
        # start NOW-3DAYS is 2024-01-14, so that whole day is in range.
        "id": "now-minus-3-days-at-midday",
        "params": {"format": "yyyy-MM-dd", "range": "NOW-3DAYS,NOW"},
        "last": "2024-01-10",
        "now": datetime(2024, 1, 17, 13, 0),
        "expected": ["2024-01-14", "2024-01-15", "2024-01-16", "2024-01-17"],
    },
    {
        "id": "now-minus-3-hours-at-half-past",
        "params": {"format": "yyyy/MM/dd/HH", "range": "NOW-3HOURS,NOW"},
        "last": "2024/01/17/05",
        "now": datetime(2024, 1, 17, 12, 30),
        "expected": ["2024/01/17/09", "2024/01/17/10", "2024/01/17/11", "2024/01/17/12"],
    },
    {
        "id": "end-in-the-future-stops-at-now",
        "params": {"format": "yyyy-MM-dd", "range": "2024-01-01,NOW+1DAYS"},
        "last": "2024-01-16",
        "now": datetime(2024, 1, 17, 6, 0),
        "expected": ["2024-01-17"],
    },
    {
        "id": "up-to-date",
        "params": {"format": "yyyy-MM-dd", "range": "2024-01-01,NOW"},
        "last": "2024-01-17",
        "now": datetime(2024, 1, 17, 23, 59),
        "expected": [],
    },
    {
        "id": "exactly-the-limit",
        "params": {"format": "yyyy-MM-dd"},
        "last": "2024-01-01",
        "now": datetime(2024, 1, 11),
        "limit": 10,
        "expected": [f"2024-01-{d:02d}" for d in range(2, 12)],
    },
    {
        "id": "limit-exceeded",
        "params": {"format": "yyyy-MM-dd"},
        "last": "2024-01-01",
        "now": datetime(2024, 1, 12),
        "limit": 10,
        "expected": None,
    },
    {
        "id": "last-value-in-another-format",
        "params": {"format": "yyyy-MM-dd"},
        "last": "2024/01/15",
        "now": datetime(2024, 1, 18),
        "expected": None,
    },
    {
        "id": "last-value-impossible-date",
        "params": {"format": "yyyy-MM-dd"},
        "last": "2024-02-30",
        "now": datetime(2024, 3, 18),
        "expected": None,
    },
]

# Projection parameters DateProjection refuses: (params for key `dt`, substring of the error).
BAD_PROJECTIONS: list[tuple[dict[str, str], str]] = [
    ({"range": "2024-01-01,NOW"}, "format is missing"),
    ({"format": "yyyy-MM-dd", "range": "2024-01-01"}, "range must be 'start,end'"),
    ({"format": "yyyy-MM-dd", "range": "2024/01/01,NOW"}, "does not fit its format"),
    ({"format": "yyyy-MM-dd", "interval": "x"}, "interval is not an integer"),
    ({"format": "yyyy-MM-dd", "interval": "0"}, "at least 1"),
    ({"format": "yyyy-MM-dd", "interval.unit": "FORTNIGHTS"}, "FORTNIGHTS"),
    ({"format": "yyyy-MM-dd hh"}, "letter 'h' is not supported"),
]

# --------------------------------------------------------------------------- layout detection

# (table parameters, sample paths relative to the location, expected layout name).
DETECT_CASES: list[tuple[dict[str, str], list[str], str]] = [
    ({"storage.location.template": "s3://lake/raw/t/${dt}/${hour}/"}, [], "template"),
    (
        {"storage.location.template": "s3://lake/raw/t/${dt}/${hour}/"},
        ["dt=2024-01-15/hour=07/"],
        "template",
    ),
    ({}, ["dt=2024-01-15/hour=07/part-0.parquet"], "hive"),
    ({}, ["DT=2024-01-15/hour=07/"], "hive"),
    ({}, ["2024/01/15/07/file.gz"], "positional"),
    ({}, ["hour=07/dt=2024-01-15/"], "positional"),
]

# With nothing registered (no sample path), the first data key listed decides: (keys seen in
# order, the layout chosen). Keys are relative to TABLE_PREFIX; ignored ones decide nothing.
AUTO_LAYOUT_CASES: list[tuple[list[str], str]] = [
    (["_SUCCESS", "dt=2024-01-15/hour=07/part-0", "2024/01/15/07/f.gz"], "hive"),
    (["Dt=2024-01-15/hour=07/part-0"], "hive"),
    # A stray file at the table root is listed first but says nothing of the layout.
    (["README.txt", "dt=2024-01-15/hour=07/part-0"], "hive"),
    ([".hive-staging_1/x", "2024/01/15/07/f.gz", "dt=2024-01-15/hour=07/part-0"], "positional"),
]
