"""Partition layouts: how partition values map to S3 key prefixes, path parsing and escaping,
value checks, and S3 URLs (listing is S3Listing's).

Everything that knows how a partition maps to an S3 prefix lives here, so the Glue side never
has to guess at paths and each layout can be tested without AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Protocol

from modules.TimeKeys import HIVE_DEFAULT_PARTITION, DateProjection, PartitionKey

TEMPLATE_PARAMETER = "storage.location.template"
FOLDER_MARKER_SUFFIX = "_$folder$"
# A partition value is 1 to 1,024 characters (Glue API reference, PartitionInput.Values).
MAX_VALUE_LENGTH = 1024

# Hive's FileUtils.escapePathName escapes these (plus control characters) in partition paths.
_HIVE_ESCAPED = set("\"#%'*/:=?\\\x7f{[]^")
_HIVE_UNESCAPE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")

_INT_RANGES = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)  # ASCII digits only, as Hive reads them
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?")


# --------------------------------------------------------------------------- paths and names


# Hadoop's S3 connectors (`s3a://`, the older `s3n://`) name the same objects as `s3://`; tables
# written by open-source Spark or Hive often carry them, and every engine reads them.
S3_SCHEMES = ("s3", "s3a", "s3n")


def split_s3_url(url: str) -> tuple[str, str]:
    """Split `s3://bucket/prefix` (or `s3a://`, `s3n://`) into bucket and a key prefix ending in
    `/` (or empty)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in S3_SCHEMES:
        raise ValueError(f"location {url!r} is not an S3 URL (s3://, s3a:// or s3n://)")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"location {url!r} has no bucket")
    if key and not key.endswith("/"):
        key += "/"
    return bucket, key


def is_s3_url(url: str) -> bool:
    """True for an `s3://`, `s3a://` or `s3n://` URL."""
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in S3_SCHEMES


def url_scheme(url: str) -> str:
    """The scheme of an S3 URL, as written (`s3a`), so that new partitions keep the table's."""
    return url.partition("://")[0] if is_s3_url(url) else "s3"


def canonical_url(url: str) -> str:
    """The `s3://` form of an S3 URL, for comparing locations whatever scheme wrote them."""
    return "s3://" + url.partition("://")[2] if is_s3_url(url) else url


def is_ignored_name(name: str) -> bool:
    """Engines skip files and directories whose names start with `_` or `.`."""
    return name.startswith(("_", "."))


def is_data_key(relative_key: str) -> bool:
    """True when an object (path relative to a partition or table) is data an engine would read.

    Folder markers (`…_$folder$`, keys ending in `/`) and anything at or under an ignored
    name (`_SUCCESS`, `_temporary/…`, `.hive-staging…/…`) are not data.
    """
    if not relative_key or relative_key.endswith(("/", FOLDER_MARKER_SUFFIX)):
        return False
    return not any(is_ignored_name(part) for part in relative_key.split("/"))


def key_after_prefix(prefix: str) -> str:
    """The smallest string that sorts after every key under the directory `prefix`.

    `ListObjectsV2(StartAfter=…)` with it skips the whole directory: `0` is the character right
    after `/`, so `a/b0` sorts after every `a/b/…` key (`a/b` is taken as the directory `a/b/`).
    """
    return prefix.removesuffix("/") + "0"


def hive_escape(value: str) -> str:
    """Escape a partition value the way Hive writes it into a path (`:` → `%3A`)."""
    if value == "":
        return ""
    return "".join(
        f"%{ord(ch):02X}" if ch in _HIVE_ESCAPED or ord(ch) < 0x20 else ch for ch in value
    )


def hive_unescape(text: str) -> str:
    """Undo path escaping. A run of `%XX` escapes is read as UTF-8 bytes: pyarrow and pandas
    write `na%C3%AFve` for `naïve`, while Hive and Spark escape only ASCII (`%3A`), which reads the
    same either way. A run that is not UTF-8 is read one byte per character; a `%` not followed
    by two hex digits stays as it is."""

    def decode(match: re.Match[str]) -> str:
        raw = bytes.fromhex(match.group(0).replace("%", ""))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    return _HIVE_UNESCAPE.sub(decode, text)


def render_hive_path(keys: list[str], values: list[str]) -> str:
    """The relative Hive-style path (`k1=v1/k2=v2/`) for partition values."""
    return "".join(f"{hive_escape(k)}={hive_escape(v)}/" for k, v in zip(keys, values, strict=True))


# --------------------------------------------------------------------------- value types


def check_value(type_name: str, value: str) -> str | None:
    """Return why `value` does not fit the Hive/Glue column type, or None when it fits.

    This validates and never rewrites: `07` fits `int` and is registered as `07`.
    """
    t = type_name.strip().lower()
    if not value:
        return "empty value '': Glue takes 1 to 1,024 characters"
    if len(value) > MAX_VALUE_LENGTH:
        return f"value of {len(value):,} characters: Glue takes at most 1,024"
    if value == HIVE_DEFAULT_PARTITION:
        return None
    if t in _INT_RANGES:
        if not _INT_RE.fullmatch(value):
            return f"{value!r} is not an {t}"
        low, high = _INT_RANGES[t]
        if not low <= int(value) <= high:
            return f"{value!r} is out of range for {t}"
        return None
    if t == "date":
        if not _DATE_RE.fullmatch(value):
            return f"{value!r} is not a date (yyyy-MM-dd)"
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a valid date"
        return None
    if t == "boolean":
        return None if value.lower() in ("true", "false") else f"{value!r} is not a boolean"
    if t == "timestamp":
        if not _TIMESTAMP_RE.fullmatch(value):
            return f"{value!r} is not a timestamp (yyyy-MM-dd HH:mm:ss)"
        try:
            datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return f"{value!r} is not a valid timestamp"
        return None
    if t in ("float", "double") or t.startswith("decimal"):
        return None if _NUMBER_RE.fullmatch(value) else f"{value!r} is not a number"
    return None


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class Parsed:
    """What a layout makes of one S3 key: a partition, a skipped path, or nothing."""

    values: tuple[str, ...] | None = None
    prefix: str | None = None  # the partition's (or skipped path's) key prefix, ending in `/`
    reason: str | None = None  # why the path was skipped


@dataclass(frozen=True)
class BranchLevel:
    """One directory level above a table's time keys: how its names read as a branch key's value
    (`read`: the value, or None and why), and how a value is written (`render`, to expand an
    `enum` projection without listing). A level without a key is a template's fixed directory."""

    key: PartitionKey | None
    read: Callable[[str], tuple[str | None, str | None]] | None = None
    render: Callable[[str], str] | None = None
    literal: str = ""


class Layout(Protocol):
    """How one table's partitions map to S3 keys."""

    name: str
    bucket: str
    list_prefix: str
    keys: list[PartitionKey]
    validators: dict[str, Callable[[str], str | None]]
    scheme: str

    def url(self, prefix: str) -> str:
        """The URL of a key prefix of this table's bucket, in the table's own scheme."""
        ...

    def branch_levels(self, count: int) -> tuple[str, list[BranchLevel]] | None:
        """Where branch directories start, and one level per directory down to the `count`-th
        key; None when branches cannot be read directory by directory."""
        ...

    def parse(self, key: str) -> Parsed | None:
        """Map an S3 key (full, within `bucket`) to its partition, or None to ignore it."""
        ...

    def path_of(self, values: list[str]) -> str:
        """The key prefix the partition with these values has in this layout."""
        ...


def check_key_value(
    key: PartitionKey, value: str, validators: dict[str, Callable[[str], str | None]]
) -> str | None:
    """Why `value` does not fit `key`'s type or projection, or None."""
    check = validators.get(key.name)
    return check_value(key.type, value) or (check(value) if check else None)


def _checked(
    keys: list[PartitionKey],
    values: list[str],
    validators: dict[str, Callable[[str], str | None]],
    prefix: str,
) -> Parsed:
    """The partition at `prefix`, or a skip naming the first value that does not fit its key's
    type or its projection."""
    for key, value in zip(keys, values, strict=True):
        reason = check_key_value(key, value, validators)
        if reason:
            return Parsed(prefix=prefix, reason=f"{key.name}: {reason}")
    return Parsed(values=tuple(values), prefix=prefix)


@dataclass
class _DirectoryLayout:
    """Shared parsing for layouts with one directory level per partition key."""

    bucket: str
    list_prefix: str
    keys: list[PartitionKey]
    validators: dict[str, Callable[[str], str | None]] = field(default_factory=dict)
    scheme: str = "s3"

    def url(self, prefix: str) -> str:
        return f"{self.scheme}://{self.bucket}/{prefix}"

    def _value(self, key: PartitionKey, part: str) -> tuple[str | None, str | None]:
        """One directory name read as the value of `key`, or None and why not."""
        raise NotImplementedError

    def _render(self, key: PartitionKey, value: str) -> str:
        """The directory name of `key`'s value."""
        raise NotImplementedError

    def _values(self, parts: list[str]) -> tuple[list[str] | None, str | None]:
        values = []
        for key, part in zip(self.keys, parts, strict=True):
            value, reason = self._value(key, part)
            if value is None:
                return None, reason
            values.append(value)
        return values, None

    def path_of(self, values: list[str]) -> str:
        return self.list_prefix + "".join(
            f"{self._render(k, v)}/" for k, v in zip(self.keys, values, strict=True)
        )

    def branch_levels(self, count: int) -> tuple[str, list[BranchLevel]] | None:
        """One level per branch key, each a directory of its own, from the table location."""
        levels = [
            BranchLevel(key, partial(self._value, key), partial(self._render, key))
            for key in self.keys[:count]
        ]
        return self.list_prefix, levels

    def parse(self, key: str) -> Parsed | None:
        relative = key[len(self.list_prefix) :]
        if not is_data_key(relative):
            return None
        n = len(self.keys)
        parts = relative.split("/")
        if len(parts) - 1 < n:
            where = self.list_prefix + "/".join(parts[:-1]) + ("/" if len(parts) > 1 else "")
            return Parsed(prefix=where, reason=f"fewer than {n} directory levels")
        prefix = self.list_prefix + "/".join(parts[:n]) + "/"
        values, reason = self._values(parts[:n])
        if values is None:
            return Parsed(prefix=prefix, reason=reason)
        return _checked(self.keys, values, self.validators, prefix)


@dataclass
class HiveLayout(_DirectoryLayout):
    """`key=value/…` directories, Hive path escaping, key names matched case-insensitively."""

    name: str = "hive"

    def _value(self, key: PartitionKey, part: str) -> tuple[str | None, str | None]:
        name, sep, raw = part.partition("=")
        if not sep:
            return None, f"{part!r} is not key=value"
        if hive_unescape(name).lower() != key.name.lower():
            return None, f"expected key {key.name!r}, found {hive_unescape(name)!r}"
        return hive_unescape(raw), None

    def _render(self, key: PartitionKey, value: str) -> str:
        return render_hive_path([key.name], [value])[:-1]


@dataclass
class PositionalLayout(_DirectoryLayout):
    """Firehose-style `2024/01/15/07/`: the n-th directory is the n-th partition key."""

    name: str = "positional"

    def _value(self, key: PartitionKey, part: str) -> tuple[str | None, str | None]:
        return part, None

    def _render(self, key: PartitionKey, value: str) -> str:
        return value


@dataclass
class TemplateLayout:
    """Partitions placed by `storage.location.template` (`s3://b/events/${year}/${month}/`)."""

    bucket: str
    list_prefix: str
    keys: list[PartitionKey]
    template_key: str  # the template's key part, `events/${year}/${month}/`
    regex: re.Pattern[str]
    validators: dict[str, Callable[[str], str | None]] = field(default_factory=dict)
    date_projection: DateProjection | None = None
    fragments: dict[str, str] = field(default_factory=dict)  # key name -> regex of its values
    scheme: str = "s3"
    name: str = "template"

    def url(self, prefix: str) -> str:
        return f"{self.scheme}://{self.bucket}/{prefix}"

    @classmethod
    def from_table(
        cls,
        template: str,
        keys: list[PartitionKey],
        params: dict[str, str],
        now: datetime,
        time_checks: dict[str, Callable[[str], str | None]] | None = None,
    ) -> TemplateLayout:
        """Build the layout from the template and the `projection.*` table parameters;
        `time_checks` test the values of time keys without a projection."""
        bucket, _ = split_s3_url(template)
        template_key = canonical_url(template)[len("s3://") + len(bucket) + 1 :]
        names = re.findall(r"\$\{([^}]+)\}", template_key)
        by_lower = {k.name.lower(): k for k in keys}
        missing = [k.name for k in keys if k.name.lower() not in {n.lower() for n in names}]
        if missing:
            raise ValueError(f"{TEMPLATE_PARAMETER} has no placeholder for {', '.join(missing)}")
        unknown = [n for n in names if n.lower() not in by_lower]
        if unknown:
            raise ValueError(f"{TEMPLATE_PARAMETER} names unknown keys {', '.join(unknown)}")
        validators, date_projection, pieces, fragments = {}, None, [], {}
        pos = 0
        seen: set[str] = set()
        for match in re.finditer(r"\$\{([^}]+)\}", template_key):
            pieces.append(re.escape(template_key[pos : match.start()]))
            key = by_lower[match.group(1).lower()]
            group = f"k{list(by_lower).index(key.name.lower())}"
            if key.name in seen:
                pieces.append(f"(?P={group})")
            else:
                seen.add(key.name)
                fragment, validator, projection = _projection_fragment(key.name, params, now)
                fragments[key.name] = fragment
                if validator:
                    validators[key.name] = validator
                if projection:
                    date_projection = date_projection or projection
                pieces.append(f"(?P<{group}>{fragment})")
            pos = match.end()
        tail = template_key[pos:]
        if tail and not tail.endswith("/"):
            tail += "/"
        pieces.append(re.escape(tail or "/"))
        list_prefix = template_key[: template_key.index("${")]
        return cls(
            bucket=bucket,
            list_prefix=list_prefix,
            keys=keys,
            template_key=template_key if template_key.endswith("/") else template_key + "/",
            regex=re.compile("".join(pieces), re.ASCII),
            validators={**(time_checks or {}), **validators},
            date_projection=date_projection,
            fragments=fragments,
            scheme=url_scheme(template),
        )

    def parse(self, key: str) -> Parsed | None:
        if not is_data_key(key[len(self.list_prefix) :]):
            return None
        match = self.regex.match(key)
        if not match:
            where = key.rsplit("/", 1)[0] + "/"
            return Parsed(prefix=where, reason=f"does not match the template {self.template_key}")
        values = [match.group(f"k{i}") for i in range(len(self.keys))]
        prefix = match.group(0)
        return _checked(self.keys, values, self.validators, prefix)

    def branch_levels(self, count: int) -> tuple[str, list[BranchLevel]] | None:
        """The template's directories down to its last branch key: a fixed name passes through,
        a directory holding one branch placeholder is a level. None when a branch placeholder
        shares its directory with another placeholder or follows a time key's."""
        first = self.template_key.index("${")
        root = self.template_key[: self.template_key.rfind("/", 0, first) + 1]
        wanted = {k.name.lower(): k for k in self.keys[:count]}
        levels: list[BranchLevel] = []
        for segment in self.template_key[len(root) :].split("/"):
            if not wanted:
                break
            names = re.findall(r"\$\{([^}]+)\}", segment)
            if not names:
                levels.append(BranchLevel(None, literal=segment))
                continue
            if len(names) != 1 or names[0].lower() not in wanted:
                return None
            key = wanted.pop(names[0].lower())
            head, tail = segment.split("${" + names[0] + "}")
            pattern = re.compile(
                re.escape(head) + f"({self.fragments[key.name]})" + re.escape(tail)
            )
            levels.append(
                BranchLevel(
                    key, partial(_read_segment, pattern), lambda v, h=head, t=tail: h + v + t
                )
            )
        return root, levels

    def path_of(self, values: list[str]) -> str:
        path = self.template_key
        for key, value in zip(self.keys, values, strict=True):
            placeholder = r"\$\{" + re.escape(key.name) + r"\}"
            path = re.sub(placeholder, lambda _m, v=value: v, path, flags=re.IGNORECASE)
        return path


def _read_segment(pattern: re.Pattern[str], segment: str) -> tuple[str | None, str | None]:
    match = pattern.fullmatch(segment)
    if match is None:
        return None, f"{segment!r} does not match {pattern.pattern!r}"
    return match.group(1), None


def _projection_fragment(
    key: str, params: dict[str, str], now: datetime
) -> tuple[str, Callable[[str], str | None] | None, DateProjection | None]:
    """The regex for one template placeholder, its value check, and its date projection."""
    kind = params.get(f"projection.{key}.type", "").lower()
    if kind == "date":
        projection = DateProjection.from_parameters(key, params, now)
        fmt = projection.fmt

        def check(value: str) -> str | None:
            if fmt.parse(value) is None:
                return f"{value!r} does not fit the date format {fmt.pattern!r}"
            return None

        return fmt.regex(), check, projection
    if kind == "enum":
        allowed = [v.strip() for v in params.get(f"projection.{key}.values", "").split(",")]
        return "[^/]+", (lambda v: None if v in allowed else f"{v!r} is not an allowed value"), None
    if kind == "integer":
        return r"[+-]?\d+", None, None
    return "[^/]+", None, None


def projection_validators(
    keys: list[PartitionKey], params: dict[str, str], now: datetime
) -> dict[str, Callable[[str], str | None]]:
    """Value checks from `projection.<key>.type=date|enum` for directory layouts."""
    validators = {}
    for key in keys:
        if params.get(f"projection.{key.name}.type"):
            _, check, _ = _projection_fragment(key.name, params, now)
            if check:
                validators[key.name] = check
    return validators


def detect_layout(
    location: str,
    keys: list[PartitionKey],
    params: dict[str, str],
    now: datetime,
    sample_paths: Iterable[str] = (),
    time_checks: dict[str, Callable[[str], str | None]] | None = None,
) -> Layout:
    """Choose the table's layout: its template if it has one, else Hive when a sample path
    (relative to the location) starts with `<first key>=`, else positional; with no sample,
    the first data key listed decides. `time_checks` (key name -> why a value does not read
    as its time) make a path such as Firehose's `processing-failed/2026/…` a skipped one."""
    template = params.get(TEMPLATE_PARAMETER)
    if template:
        return TemplateLayout.from_table(template, keys, params, now, time_checks)
    bucket, prefix = split_s3_url(location)
    validators = {**(time_checks or {}), **projection_validators(keys, params, now)}
    scheme = url_scheme(location)
    hive = HiveLayout(bucket, prefix, keys, validators, scheme)
    positional = PositionalLayout(bucket, prefix, keys, validators, scheme)
    samples = list(sample_paths)
    if not samples:
        return AutoLayout(hive, positional)
    return hive if any(_looks_hive(hive, p) for p in samples) else positional


def _looks_hive(hive: HiveLayout, relative_path: str) -> bool:
    return hive_unescape(relative_path).lower().startswith(hive.keys[0].name.lower() + "=")


@dataclass
class AutoLayout:
    """Hive or positional for a table with nothing registered yet: decided by the first data key
    the listing meets, so that choosing costs no S3 call of its own."""

    hive: HiveLayout
    positional: PositionalLayout
    chosen: HiveLayout | PositionalLayout | None = None

    @property
    def name(self) -> str:
        return (self.chosen or self.positional).name

    @property
    def bucket(self) -> str:
        return self.positional.bucket

    @property
    def list_prefix(self) -> str:
        return self.positional.list_prefix

    @property
    def scheme(self) -> str:
        return self.positional.scheme

    def url(self, prefix: str) -> str:
        return self.positional.url(prefix)

    def parse(self, key: str) -> Parsed | None:
        if self.chosen is None:
            relative = key[len(self.list_prefix) :]
            if not is_data_key(relative):
                return None
            if "/" not in relative:  # a stray file at the table root says nothing of the layout
                return self.positional.parse(key)
            self.chosen = self.hive if _looks_hive(self.hive, relative) else self.positional
        return self.chosen.parse(key)

    def path_of(self, values: list[str]) -> str:
        return (self.chosen or self.positional).path_of(values)

    def branch_levels(self, count: int) -> tuple[str, list[BranchLevel]] | None:
        """The first branch directory listed decides Hive or positional, as a data key would."""

        def read(key: PartitionKey, part: str) -> tuple[str | None, str | None]:
            if self.chosen is None:
                self.chosen = self.hive if _looks_hive(self.hive, part) else self.positional
            return self.chosen._value(key, part)

        def render(key: PartitionKey, value: str) -> str:
            return (self.chosen or self.positional)._render(key, value)

        levels = [BranchLevel(k, partial(read, k), partial(render, k)) for k in self.keys[:count]]
        return self.list_prefix, levels

    @property
    def keys(self) -> list[PartitionKey]:
        return self.positional.keys

    @property
    def validators(self) -> dict[str, Callable[[str], str | None]]:
        return self.positional.validators
