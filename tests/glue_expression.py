"""Glue's `GetPartitions` `Expression` language, parsed and evaluated the way Glue does.

The Glue API reference (GetPartitions, `Expression`) lists the operators `=`, `<>`, `>`, `<`,
`>=`, `<=` and the logical operators `AND`, `OR`, `IN`, `BETWEEN`, `LIKE`, `NOT`, `IS NULL`,
and the key types that can be filtered: string, date, timestamp, int, bigint, long, tinyint,
smallint, decimal. Glue parses with JSQLParser, whose reserved words cannot name a column
(the set Presto's and Trino's `GlueExpressionUtil` avoid; `key` in trinodb/trino#11512).
Comparisons follow the key's type, and Glue converts every stored value of a typed key the
expression uses, so one that does not convert fails the whole call (aws/aws-sdk#670).

moto 5.2 has its own parser, which calls `varchar(n)`, `char(n)` and `decimal(p,s)` "Unknown
type", refuses `NOT`, and accepts reserved words: the strict layer evaluates expressions here
instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_LENGTH = 2048

# JSQLParser's reserved words, as listed by Presto's and Trino's GlueExpressionUtil. Common key
# names such as year, month, day, hour, date and dt are not among them and Glue accepts them.
RESERVED = frozenset(
    """
    AS BY DO IS IN OR ON ALL AND ANY KEY NOT SET ASC TOP END DESC INTO NULL LIKE DROP JOIN
    LEFT FROM OPEN CASE WHEN THEN ELSE SOME FULL WITH TABLE WHERE USING UNION GROUP BEGIN
    INDEX INNER LIMIT OUTER ORDER RIGHT DELETE CREATE SELECT OFFSET EXISTS HAVING INSERT
    UPDATE VALUES ESCAPE PRIMARY NATURAL REPLACE BETWEEN TRUNCATE DISTINCT INTERSECT
    """.split()  # noqa: SIM905
)
_OPERATORS = frozenset({"AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "IS", "NULL"})


class ExpressionError(Exception):
    """The expression is refused (Glue: InvalidInputException)."""


class StoredValueError(Exception):
    """A stored value does not convert to its key's type (Glue: InvalidStateException)."""


# --------------------------------------------------------------------------- key types

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TIMESTAMP = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})(\.\d{1,9})?")


def _to_integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError("an integer")
    return int(text)


def _to_decimal(text: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise ValueError("a decimal")
    try:
        return Decimal(text)
    except InvalidOperation as e:
        raise ValueError("a decimal") from e


def _to_date(text: str) -> date:
    match = _DATE.fullmatch(text)
    try:
        return date(*map(int, match.groups()))  # type: ignore[union-attr]
    except (AttributeError, ValueError) as e:
        raise ValueError("a date") from e


def _to_timestamp(text: str) -> tuple[datetime, int]:
    match = _TIMESTAMP.fullmatch(text)
    try:
        *parts, fraction = match.groups()  # type: ignore[union-attr]
        nanos = int((fraction or ".0")[1:].ljust(9, "0"))
        return datetime(*map(int, parts)), nanos
    except (AttributeError, ValueError) as e:
        raise ValueError("a timestamp") from e


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "varchar": str,
    "char": str,
    "tinyint": _to_integer,
    "smallint": _to_integer,
    "int": _to_integer,
    "integer": _to_integer,
    "bigint": _to_integer,
    "long": _to_integer,
    "decimal": _to_decimal,
    "date": _to_date,
    "timestamp": _to_timestamp,
}


@dataclass(frozen=True)
class Key:
    """A partition key as the table declares it."""

    name: str
    type: str

    @property
    def base_type(self) -> str:
        """`varchar(10)` → `varchar`, `decimal(10,2)` → `decimal`, `array<int>` → `array`."""
        return re.split(r"[(<\s]", self.type.strip().lower(), maxsplit=1)[0]

    def convert(self, text: str) -> Any:
        """The value as the key's type compares it; ValueError names the type it is not."""
        return _CONVERTERS[self.base_type](text)


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Node:
    """A boolean node of the expression."""

    def names(self) -> set[str]:
        raise NotImplementedError

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        """`row`: converted values by key name; `raw`: the stored text."""
        raise NotImplementedError


@dataclass(frozen=True)
class Logical(Node):
    operator: str  # AND, OR
    parts: tuple[Node, ...]

    def names(self) -> set[str]:
        return set().union(*(p.names() for p in self.parts))

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        combine = all if self.operator == "AND" else any
        return combine(p.test(row, raw) for p in self.parts)


@dataclass(frozen=True)
class Not(Node):
    part: Node

    def names(self) -> set[str]:
        return self.part.names()

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        return not self.part.test(row, raw)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class Compare(Node):
    key: str
    operator: str
    literal: Any

    def names(self) -> set[str]:
        return {self.key}

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        return _COMPARE[self.operator](row[self.key], self.literal)


@dataclass(frozen=True)
class Between(Node):
    key: str
    low: Any
    high: Any

    def names(self) -> set[str]:
        return {self.key}

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        return self.low <= row[self.key] <= self.high


@dataclass(frozen=True)
class In(Node):
    key: str
    literals: tuple[Any, ...]

    def names(self) -> set[str]:
        return {self.key}

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        return row[self.key] in self.literals


@dataclass(frozen=True)
class Like(Node):
    key: str
    pattern: re.Pattern[str]

    def names(self) -> set[str]:
        return {self.key}

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        return self.pattern.fullmatch(raw[self.key]) is not None


@dataclass(frozen=True)
class IsNull(Node):
    """Stored partition values are never null: `IS NULL` matches nothing (aws/aws-sdk#670)."""

    key: str

    def names(self) -> set[str]:
        return {self.key}

    def test(self, row: dict[str, Any], raw: dict[str, str]) -> bool:
        return False


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|''|\\.)*')
      | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+))
      | (?P<op><>|!=|<=|>=|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<quoted>[`"])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, op, word
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper()


def _tokens(expression: str) -> list[_Token]:
    found, position = [], 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise ExpressionError(f"Unsupported expression '{expression}'")
        if match.lastgroup == "quoted":
            raise ExpressionError(f"Quoted identifiers are not supported: '{expression}'")
        found.append(_Token(match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return found


def _unquote(text: str) -> str:
    """`'it''s'` and `'it\\'s'` are both `it's`."""
    return re.sub(r"''|\\'", "'", text[1:-1])


class _Parser:
    """Recursive descent: or → and → not → primary (parentheses or one predicate)."""

    def __init__(self, expression: str, keys: dict[str, Key]) -> None:
        self.expression = expression
        self.keys = keys
        self.tokens = _tokens(expression)
        self.position = 0

    def parse(self) -> Node:
        node = self._or()
        if self.position != len(self.tokens):
            self._fail()
        return node

    def _fail(self) -> None:
        raise ExpressionError(f"Unsupported expression '{self.expression}'")

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            self._fail()
        self.position += 1
        return token  # type: ignore[return-value]

    def _accept(self, *words: str) -> bool:
        token = self._peek()
        if token is not None and token.kind in ("word", "op") and token.upper in words:
            self.position += 1
            return True
        return False

    def _expect(self, word: str) -> None:
        if not self._accept(word):
            self._fail()

    def _or(self) -> Node:
        parts = [self._and()]
        while self._accept("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Logical("OR", tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while self._accept("AND"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else Logical("AND", tuple(parts))

    def _not(self) -> Node:
        if self._accept("NOT"):
            return Not(self._not())
        if self._accept("("):
            node = self._or()
            self._expect(")")
            return node
        return self._predicate()

    def _predicate(self) -> Node:
        left = self._next()
        if left.kind != "word":
            right_key = self._compare_literal_first(left)
            if right_key is not None:
                return right_key
            self._fail()
        key = self._key(left)
        if self._accept("IS"):
            negated = self._accept("NOT")
            self._expect("NULL")
            node: Node = IsNull(key.name)
            return Not(node) if negated else node
        negated = self._accept("NOT")
        if self._accept("BETWEEN"):
            low = self._literal(key)
            self._expect("AND")
            node = Between(key.name, low, self._literal(key))
        elif self._accept("IN"):
            self._expect("(")
            literals = [self._literal(key)]
            while self._accept(","):
                literals.append(self._literal(key))
            self._expect(")")
            node = In(key.name, tuple(literals))
        elif self._accept("LIKE"):
            node = Like(key.name, _like_pattern(self._raw_literal()))
        elif negated:
            self._fail()
        else:
            operator = self._next()
            if operator.kind != "op" or operator.text not in _COMPARE:
                self._fail()
            node = Compare(key.name, operator.text, self._literal(key))
        return Not(node) if negated else node

    def _compare_literal_first(self, literal: _Token) -> Node | None:
        """`'2024' <= year` is `year >= '2024'`."""
        operator, right = self._next(), self._next()
        if operator.kind != "op" or operator.text not in _COMPARE or right.kind != "word":
            return None
        key = self._key(right)
        value = self._convert_literal(key, literal)
        return Compare(key.name, _MIRROR.get(operator.text, operator.text), value)

    def _key(self, token: _Token) -> Key:
        if token.upper in RESERVED:
            if token.upper in _OPERATORS:
                self._fail()
            raise ExpressionError(
                f"Unsupported expression '{self.expression}': {token.text} is a reserved word"
            )
        key = self.keys.get(token.text.lower())
        if key is None:
            raise ExpressionError(f"Unknown column '{token.text}' in '{self.expression}'")
        if key.base_type not in _CONVERTERS:
            raise ExpressionError(
                f"Partition key {key.name} of type {key.type} cannot be used in a filter"
            )
        return key

    def _raw_literal(self) -> str:
        token = self._next()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            return token.text
        self._fail()
        return ""

    def _literal(self, key: Key) -> Any:
        return self._convert_literal(key, self._next())

    def _convert_literal(self, key: Key, token: _Token) -> Any:
        if token.kind not in ("string", "number"):
            self._fail()
        text = _unquote(token.text) if token.kind == "string" else token.text
        try:
            return key.convert(text)
        except ValueError as e:
            raise ExpressionError(f"{text!r} is not {e} (key {key.name})") from e


def _like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL LIKE: `%` any run of characters, `_` one character."""
    parts = {"%": ".*", "_": "."}
    return re.compile("".join(parts.get(c, re.escape(c)) for c in pattern), re.DOTALL)


# --------------------------------------------------------------------------- the filter


@dataclass(frozen=True)
class Filter:
    """A parsed expression bound to a table's partition keys."""

    root: Node
    keys: tuple[Key, ...]  # the table's keys, in order

    def select(self, partitions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The partitions that match. Every stored value of each typed key the expression
        uses is converted first: one that does not convert fails the whole call, whether or not
        its partition would have matched (aws/aws-sdk#670)."""
        used = [(i, k) for i, k in enumerate(self.keys) if k.name in self.root.names()]
        chosen = []
        for partition in partitions:
            values = partition["Values"]
            raw = {k.name: values[i] for i, k in used}
            row = {}
            for i, k in used:
                try:
                    row[k.name] = k.convert(values[i])
                except ValueError as e:
                    raise StoredValueError(f'For input string: "{values[i]}" is not {e}.') from e
            if self.root.test(row, raw):
                chosen.append(partition)
        return chosen


def check_length(expression: str) -> None:
    """Glue takes at most 2,048 characters (GetPartitions, `Expression`)."""
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(
            f"Expression is {len(expression)} characters long; at most {MAX_LENGTH} are allowed"
        )


def parse(expression: str, keys: Iterable[Key]) -> Filter:
    """The filter for `expression` on a table with these partition keys, or ExpressionError."""
    check_length(expression)
    by_name = {k.name.lower(): Key(k.name.lower(), k.type) for k in keys}
    root = _Parser(expression, by_name).parse()
    return Filter(root, tuple(by_name.values()))
