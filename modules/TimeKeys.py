"""Time in partition keys: Java date formats, Athena's date projections, and which keys are time.

Both the Glue side (recent-window and retention expressions) and the S3 side (layouts, candidate
prefixes) need to know which partition keys carry time and what period a partition's values
denote, so that knowledge lives here, below both.

A table's keys split into branch keys (those before the first time-like key: `region` in
`region/yyyy/MM/dd`) and time keys (the first time-like key and every key after it). New data
arrives in time order within a branch, which is what incremental discovery relies on.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class PartitionKey:
    """A partition column as Glue describes it."""

    name: str
    type: str = "string"


# --------------------------------------------------------------------------- Java date formats

_QUOTED = re.compile(r"'((?:[^']|'')*)'")  # a quoted literal; '' inside it is one quote
_JAVA_FIELDS = {"y": "year", "M": "month", "d": "day", "H": "hour", "m": "minute", "s": "second"}
_SORTED_FIELDS = ("year", "month", "day", "hour", "minute", "second")
_UNIT_ORDER = ["YEARS", "MONTHS", "DAYS", "HOURS", "MINUTES", "SECONDS"]
_FIELD_UNIT = {
    "year": "YEARS",
    "month": "MONTHS",
    "day": "DAYS",
    "hour": "HOURS",
    "minute": "MINUTES",
    "second": "SECONDS",
}


class JavaDateFormat:
    """The subset of Java's DateTimeFormatter patterns Athena partition projection uses.

    Supports `y M d H m s`, quoted literals (`'T'`) and any other character as a literal, which
    covers `yyyy-MM-dd`, `yyyy/MM/dd/HH`, `yyyyMMdd`, `yyyy-MM-dd-HH-mm` and the like.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.tokens: list[tuple[str, str]] = []  # ("field", letters) or ("literal", text)
        i = 0
        while i < len(pattern):
            ch = pattern[i]
            if ch == "'":
                quoted = _QUOTED.match(pattern, i)
                if not quoted:
                    raise ValueError(f"date format {pattern!r} has an unclosed quote")
                self.tokens.append(("literal", quoted.group(1).replace("''", "'") or "'"))
                i = quoted.end()
            elif ch.isascii() and ch.isalpha():
                if ch not in _JAVA_FIELDS:
                    raise ValueError(f"date format {pattern!r}: letter {ch!r} is not supported")
                j = i
                while j < len(pattern) and pattern[j] == ch:
                    j += 1
                if ch == "M" and j - i > 2:
                    raise ValueError(f"date format {pattern!r}: month names are not supported")
                self.tokens.append(("field", pattern[i:j]))
                i = j
            else:
                self.tokens.append(("literal", ch))
                i += 1
        fields = [_JAVA_FIELDS[t[1][0]] for t in self.tokens if t[0] == "field"]
        if "year" not in fields:
            raise ValueError(f"date format {pattern!r} has no year")
        self.fields = fields
        self.unit = max((_FIELD_UNIT[f] for f in fields), key=_UNIT_ORDER.index)
        self._regex = re.compile("".join(self._token_regex(t) for t in self.tokens), re.ASCII)

    @staticmethod
    def _token_regex(token: tuple[str, str]) -> str:
        kind, text = token
        if kind == "literal":
            return re.escape(text)
        name = _JAVA_FIELDS[text[0]]
        if text[0] == "y":
            width = "{4}" if len(text) != 2 else "{2}"
            return f"(?P<{name}>\\d{width})"
        return f"(?P<{name}>\\d{{{len(text)}}})" if len(text) > 1 else f"(?P<{name}>\\d{{1,2}})"

    @property
    def sorts(self) -> bool:
        """True when formatted values sort as text in time order: fields from the year down,
        each of fixed width (`yyyy-MM-dd`, `yyyyMMddHH`); not `dd-MM-yyyy`, not `yyyy-M-d`."""
        widths = [text for kind, text in self.tokens if kind == "field"]
        in_order = self.fields == list(_SORTED_FIELDS[: len(self.fields)])
        return in_order and widths[0] == "yyyy" and all(len(w) == 2 for w in widths[1:])

    def regex(self) -> str:
        """A regex fragment (no named groups) that matches formatted values."""
        return re.sub(r"\(\?P<\w+>", "(?:", self._regex.pattern)

    def format(self, moment: datetime) -> str:
        """Render a datetime with this pattern."""
        out = []
        for kind, text in self.tokens:
            if kind == "literal":
                out.append(text)
                continue
            number = getattr(moment, _JAVA_FIELDS[text[0]])
            if text[0] == "y" and len(text) == 2:
                number %= 100
            out.append(str(number).zfill(len(text)))
        return "".join(out)

    def parse(self, value: str) -> datetime | None:
        """Parse a value written with this pattern, or None when it does not fit."""
        match = self._regex.fullmatch(value)
        if not match:
            return None
        parts = {k: int(v) for k, v in match.groupdict().items()}
        if "year" in parts and len(match.group("year")) == 2:
            parts["year"] += 2000
        try:
            return datetime(
                parts["year"],
                parts.get("month", 1),
                parts.get("day", 1),
                parts.get("hour", 0),
                parts.get("minute", 0),
                parts.get("second", 0),
            )
        except ValueError:
            return None

    def truncate(self, moment: datetime) -> datetime:
        """Drop the fields finer than this pattern's unit (`yyyy-MM-dd` keeps the date)."""
        return self.parse(self.format(moment)) or moment


def add_interval(moment: datetime, amount: int, unit: str) -> datetime:
    """Add `amount` calendar units; months and years clamp to the month's last day."""
    unit = unit.upper().rstrip("S") + "S"
    if unit in ("YEARS", "MONTHS"):
        months = moment.month - 1 + amount * (12 if unit == "YEARS" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    seconds = {"WEEKS": 604800, "DAYS": 86400, "HOURS": 3600, "MINUTES": 60, "SECONDS": 1}
    if unit not in seconds:
        raise ValueError(f"interval unit {unit!r} is not one of YEARS … SECONDS")
    return moment + timedelta(seconds=amount * seconds[unit])


_NOW_RE = re.compile(r"NOW(?:\s*([+-])\s*(\d+)\s*([A-Z]+?)S?)?", re.IGNORECASE)


@dataclass(frozen=True)
class DateProjection:
    """Athena's `projection.<key>.*` settings for a `date` key, resolved against a `now`."""

    key: str
    fmt: JavaDateFormat
    start: datetime | None
    end: datetime | None
    interval: int
    unit: str

    @classmethod
    def from_parameters(cls, key: str, params: dict[str, str], now: datetime) -> DateProjection:
        """Read `projection.<key>.format/range/interval/interval.unit`; raise ValueError if bad."""
        prefix = f"projection.{key}."
        fmt_text = params.get(prefix + "format")
        if not fmt_text:
            raise ValueError(f"projection.{key}.format is missing for a date projection")
        fmt = JavaDateFormat(fmt_text)
        start = end = None
        if prefix + "range" in params:
            bounds = [b.strip() for b in params[prefix + "range"].split(",")]
            if len(bounds) != 2:
                raise ValueError(f"projection.{key}.range must be 'start,end'")
            start, end = (cls._bound(b, fmt, now, key) for b in bounds)
        try:
            interval = int(params.get(prefix + "interval", "1"))
        except ValueError:
            raise ValueError(f"projection.{key}.interval is not an integer") from None
        if interval < 1:
            raise ValueError(f"projection.{key}.interval must be at least 1")
        unit = params.get(prefix + "interval.unit", fmt.unit).upper()
        add_interval(now, 0, unit)  # validates the unit
        return cls(key, fmt, start, end, interval, unit)

    @staticmethod
    def _bound(text: str, fmt: JavaDateFormat, now: datetime, key: str) -> datetime:
        match = _NOW_RE.fullmatch(text)
        if match:
            sign, amount, unit = match.groups()
            if not sign:
                return fmt.truncate(now)
            return fmt.truncate(add_interval(now, int(amount) * (1 if sign == "+" else -1), unit))
        parsed = fmt.parse(text)
        if parsed is None:
            raise ValueError(f"projection.{key}.range bound {text!r} does not fit its format")
        return parsed

    def candidates_after(self, last_value: str, now: datetime, limit: int) -> list[str] | None:
        """Values after `last_value` up to now (and the range's end), oldest first.

        Steps are computed from the anchor (`anchor + k·interval`), not chained, so month ends
        and leap days do not drift. Returns None when there would be more than `limit`.
        """
        anchor = self.fmt.parse(last_value)
        if anchor is None:
            return None
        stop = min(now, self.end) if self.end else now
        values = []
        k = 1
        while True:
            moment = add_interval(anchor, k * self.interval, self.unit)
            if moment > stop:
                return values
            if self.start is None or moment >= self.start:
                values.append(self.fmt.format(moment))
                if len(values) > limit:
                    return None
            k += 1


# --------------------------------------------------------------------------- which keys are time

INT_TYPES = frozenset({"tinyint", "smallint", "int", "integer", "bigint"})
# Keys whose whole value is a date (`dt=2024-01-15`).
DATE_KEY_NAMES = frozenset(
    {
        "dt",
        "date",
        "ds",
        "event_date",
        "partition_date",
        "load_date",
        "ingestion_date",
        "p_date",
    }
)
# Keys that hold one calendar field each (`year=2024/month=01/day=15/hour=07`).
CALENDAR_NAMES = {
    "year": "year",
    "yr": "year",
    "yyyy": "year",
    "month": "month",
    "mon": "month",
    "mm": "month",
    "day": "day",
    "dd": "day",
    "hour": "hour",
    "hr": "hour",
    "hh": "hour",
}
CALENDAR_FIELDS = ("year", "month", "day", "hour")
_CALENDAR_RANGE = {"year": (1, 9999), "month": (1, 12), "day": (1, 31), "hour": (0, 23)}
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Formats tried on the registered values of a date-named key (`dt`): year-first padded ones, then
# Spark's and people's others, day-first before month-first (a day over 12 settles it).
DATE_FORMATS = (
    "yyyy-MM-dd",
    "yyyyMMdd",
    "yyyy-MM-dd-HH",
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy-M-d",
    "dd-MM-yyyy",
    "d-M-yyyy",
    "MM-dd-yyyy",
)
# Formats tried on registered values of a key whose name and type say nothing (`ingest=2024-01-15`);
# only formats with separators, so that numeric ids are never taken for dates.
VALUE_FORMATS = ("yyyy-MM-dd", "yyyy-MM-dd-HH", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss")


@dataclass(frozen=True)
class TimeField:
    """How one time key's value maps to time: a whole date in `fmt`, or one calendar field."""

    key: PartitionKey
    index: int  # the key's position among all partition keys
    fmt: JavaDateFormat | None = None
    calendar_field: str | None = None
    guessed: bool = False  # `fmt` comes from the key's name alone, with no value to show it
    padded: bool = False  # a calendar field whose registered values show a leading zero

    @property
    def numeric(self) -> bool:
        """A whole-number key: Glue compares its values as numbers."""
        return self.key.type.strip().lower() in INT_TYPES

    @property
    def path_ordered(self) -> bool:
        """True when this key's directories sort in time order: a year, a zero-padded calendar
        field, or a date format that sorts. Spark writes `int` keys unpadded (`month=9` sorts
        after `month=10`), AWS Config writes `2026/9/30`: those are not."""
        if self.calendar_field is not None:
            return self.calendar_field == "year" or self.padded
        return self.fmt is not None and self.fmt.sorts

    @property
    def glue_ordered(self) -> bool:
        """True when Glue's `<`, `>=` on this key follow time: numbers for whole-number keys,
        dates for `date`/`timestamp` keys, text for keys whose values sort as text."""
        if self.calendar_field is not None and self.numeric:
            return True
        if self.key.type.strip().lower() in ("date", "timestamp"):
            return True
        return self.path_ordered

    def misfit(self, value: str) -> str | None:
        """Why `value` cannot be this key's time (Firehose's `processing-failed` folder in the
        year's place), or None. Hive's null partition fits any key."""
        if value == HIVE_DEFAULT_PARTITION:
            return None
        if self.calendar_field is not None:
            low, high = _CALENDAR_RANGE[self.calendar_field]
            if value.isascii() and value.isdigit() and low <= int(value) <= high:
                return None
            return f"{value!r} is not a {self.calendar_field}"
        formats = DATE_FORMATS if self.guessed else (self.fmt.pattern,)  # type: ignore[union-attr]
        if any(JavaDateFormat(f).parse(value) is not None for f in formats):
            return None
        return f"{value!r} is not a date ({' or '.join(formats)})"


@dataclass(frozen=True)
class KeySplit:
    """A table's partition keys, split into branch keys and time keys."""

    keys: list[PartitionKey]
    branch: list[PartitionKey]
    time: list[PartitionKey]
    fields: list[TimeField] = field(default_factory=list)  # the time keys that carry time

    @property
    def has_time(self) -> bool:
        return bool(self.fields)

    @property
    def path_ordered(self) -> bool:
        """True when, within a branch, the order of paths is the order of time."""
        return all(tf.path_ordered for tf in self.fields)

    def value_order(self, index: int) -> Callable[[str], tuple[int, Any]]:
        """How the values of the key at `index` compare in time: calendar fields as numbers,
        dates as dates, other keys as text; what does not read as time sorts first."""
        tf = next((f for f in self.fields if f.index == index), None)
        if tf is None:
            return lambda value: (1, value)
        if tf.calendar_field is not None:
            return lambda value: (1, int(value)) if value.isascii() and value.isdigit() else (0, 0)
        fmt = tf.fmt
        assert fmt is not None

        def as_time(value: str) -> tuple[int, Any]:
            moment = fmt.parse(value)
            return (0, datetime.min) if moment is None else (1, moment)

        return as_time

    def time_order(self, values: Sequence[str]) -> tuple[datetime, tuple[str, ...]]:
        """A sort key that puts a branch's partitions in time order; values that do not read as
        time (Hive's null partition) come first, then ties go by the values."""
        period = self.period(values)
        return (period[0] if period else datetime.min, tuple(values))

    def branch_of(self, values: Sequence[str]) -> tuple[str, ...]:
        """The branch part of a partition's values."""
        return tuple(values[: len(self.branch)])

    def period(self, values: Sequence[str]) -> tuple[datetime, datetime] | None:
        """The period a partition's values denote, as [start, end): `hour=13` of a day is
        13:00-14:00. None when the values do not read as time (or the table has no year)."""
        base: datetime | None = None
        parts: dict[str, int] = {}
        unit = None
        for tf in self.fields:
            value = values[tf.index]
            if tf.fmt is not None:
                base = tf.fmt.parse(value)
                if base is None:
                    return None
                unit = _finer(unit, tf.fmt.unit)
            else:
                if not value.isdigit():
                    return None
                parts[tf.calendar_field or ""] = int(value)
                unit = _finer(unit, _FIELD_UNIT[tf.calendar_field or ""])
        if unit is None:
            return None
        try:
            if base is None:
                if "year" not in parts:
                    return None
                base = datetime(parts.pop("year"), 1, 1)
            start = base.replace(**parts)
        except ValueError:
            return None
        return start, add_interval(start, 1, unit)


def _finer(unit: str | None, other: str) -> str:
    if unit is None:
        return other
    return max(unit, other, key=_UNIT_ORDER.index)


def split_keys(
    keys: list[PartitionKey],
    params: dict[str, str] | None = None,
    samples: Iterable[Sequence[str]] = (),
) -> KeySplit:
    """Split keys at the first time-like one: type `date`/`timestamp`, a `date` projection, a
    date-like name (`dt`, `year`, `hour`, ...), or registered `samples` whose values all parse as
    dates in a known format. A table without any time-like key is all branch-free: one branch,
    no time keys."""
    params = params or {}
    sample_list = [list(s) for s in samples]
    fields: list[TimeField] = []
    first: int | None = None
    for i, key in enumerate(keys):
        values = [s[i] for s in sample_list if len(s) == len(keys)]
        previous = fields[-1] if fields else None
        tf = _time_field(key, i, params, values, previous)
        if tf is not None:
            first = i if first is None else first
            fields.append(tf)
    if first is None:
        return KeySplit(keys, [], [], [])
    if _writer_pads(fields, sample_list):
        fields = [replace(tf, padded=tf.calendar_field is not None) for tf in fields]
    return KeySplit(keys, keys[:first], keys[first:], fields)


def _writer_pads(fields: list[TimeField], samples: list[list[str]]) -> bool:
    """Whether the registered values show zero-padded calendar fields. A writer pads all of
    them or none, so one `07` among any month, day or hour values says so, and one `7` says not;
    values of 10 and over say nothing (then the paths cannot be proven to sort in time)."""
    seen = [
        s[tf.index]
        for tf in fields
        if tf.calendar_field not in (None, "year")
        for s in samples
        if len(s) > tf.index and s[tf.index].isascii() and s[tf.index].isdigit()
    ]
    return any(v.startswith("0") and len(v) > 1 for v in seen) and not any(
        len(v) == 1 for v in seen
    )


def _time_field(
    key: PartitionKey,
    index: int,
    params: dict[str, str],
    values: list[str],
    previous: TimeField | None,
) -> TimeField | None:
    name, kind = key.name.lower(), key.type.strip().lower()
    if params.get(f"projection.{key.name}.type", "").lower() == "date":
        fmt_text = params.get(f"projection.{key.name}.format")
        return TimeField(key, index, fmt=JavaDateFormat(fmt_text)) if fmt_text else None
    if kind == "date":
        return TimeField(key, index, fmt=JavaDateFormat("yyyy-MM-dd"))
    if kind == "timestamp":
        return TimeField(key, index, fmt=JavaDateFormat("yyyy-MM-dd HH:mm:ss"))
    calendar_field = CALENDAR_NAMES.get(name)
    if calendar_field == "day" and (previous is None or previous.calendar_field != "month"):
        # `day` without a month before it holds a whole date (`day=2024-01-15`)
        return _date_field(key, index, kind, values)
    if calendar_field is not None:
        return TimeField(key, index, calendar_field=calendar_field)
    if name in DATE_KEY_NAMES:
        return _date_field(key, index, kind, values)
    fmt = _fitting_format(VALUE_FORMATS, [v for v in values if v != HIVE_DEFAULT_PARTITION])
    return TimeField(key, index, fmt=fmt) if fmt else None


def _date_field(key: PartitionKey, index: int, kind: str, values: list[str]) -> TimeField:
    """A date-named key: the format its registered values show, else a guess from its type."""
    values = [v for v in values if v != HIVE_DEFAULT_PARTITION]
    fmt = _fitting_format(DATE_FORMATS, values)
    if fmt is not None:
        return TimeField(key, index, fmt=fmt)
    guess = JavaDateFormat("yyyyMMdd" if kind in INT_TYPES else "yyyy-MM-dd")
    return TimeField(key, index, fmt=guess, guessed=True)


def time_checks(split: KeySplit) -> dict[str, Callable[[str], str | None]]:
    """For each time key, why a value cannot be its time (see `TimeField.misfit`)."""
    return {tf.key.name: tf.misfit for tf in split.fields}


def _fitting_format(patterns: Iterable[str], values: list[str]) -> JavaDateFormat | None:
    """The first of `patterns` that every one of `values` parses with; None without values."""
    for pattern in patterns:
        fmt = JavaDateFormat(pattern)
        if values and all(fmt.parse(v) is not None for v in values):
            return fmt
    return None
