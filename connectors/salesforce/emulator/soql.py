"""A small SOQL parser and evaluator for the subset the emulator serves.

Grammar: ``SELECT f [, f ...] FROM T [WHERE cond [AND cond ...]] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST]]
[LIMIT n]`` where ``cond`` is ``f op literal`` (``= != <> < <= > >= LIKE``) or ``f [NOT] IN (literal, ...)``.
Literals: quoted strings with backslash escapes, numbers, ``true``/``false``/``null``, unquoted datetimes
(``2024-01-01T00:00:00Z``, ``...00.000+0000``) and dates (``2024-01-01``). Keywords and field names are
case-insensitive, as in Salesforce.

``parse`` checks syntax (``SoqlError``, shown as MALFORMED_QUERY); ``bind`` checks fields and literal types
against an object's schema (``InvalidField`` / ``SoqlError``); ``matches`` and ``sort_records`` evaluate the
query over records whose values are in their wire form (datetimes as ``...000+0000`` strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "LIKE")
SET_OPERATORS = ("IN", "NOT IN")

# Field types as the emulator's schema names them.
DATETIME, DATE, NUMBER, BOOLEAN = "datetime", "date", "double", "boolean"
NUMERIC_TYPES = frozenset({"double", "currency", "int", "percent"})


class SoqlError(ValueError):
    """The query cannot be parsed or a literal has the wrong type (Salesforce: MALFORMED_QUERY)."""

    code = "MALFORMED_QUERY"


class InvalidField(SoqlError):
    """The query names a field the object does not have (Salesforce: INVALID_FIELD)."""

    code = "INVALID_FIELD"


class InvalidType(SoqlError):
    """The query names an object that does not exist (Salesforce: INVALID_TYPE)."""

    code = "INVALID_TYPE"


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of COMPARISONS or SET_OPERATORS
    value: Any  # a tuple for IN / NOT IN


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...] = ()
    order_by: OrderBy | None = None
    limit: int | None = None


# --- tokens ---------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
    | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: Any


def parse_datetime_literal(text: str) -> datetime:
    """An unquoted SOQL datetime literal as an aware UTC datetime."""
    normalized = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", normalized):
        normalized = normalized[:-2] + ":" + normalized[-2:]
    try:
        return datetime.fromisoformat(normalized).astimezone(UTC)
    except ValueError:
        raise SoqlError(f"invalid dateTime literal: {text}") from None


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in _ESCAPES:
                raise SoqlError(f"invalid escape sequence: \\{nxt}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            snippet = text[pos:].strip()[:20]
            raise SoqlError(f"unexpected token: '{snippet}'")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        value: Any = raw
        if kind == "string":
            value = _unescape(raw[1:-1])
        elif kind == "datetime":
            value = parse_datetime_literal(raw)
        elif kind == "date":
            try:
                value = date.fromisoformat(raw)
            except ValueError:
                raise SoqlError(f"invalid date literal: {raw}") from None
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "op":
            value = "!=" if raw == "<>" else raw
        tokens.append(_Token(kind, raw, value))
        pos = match.end()
    return tokens


# --- parser ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        """Consume the keywords if they come next (case-insensitive)."""
        for offset, word in enumerate(words):
            index = self.pos + offset
            if index >= len(self.tokens):
                return False
            token = self.tokens[index]
            if token.kind != "ident" or token.text.upper() != word:
                return False
        self.pos += len(words)
        return True

    def expect_keyword(self, *words: str) -> None:
        if not self.keyword(*words):
            raise self.unexpected(" ".join(words))

    def unexpected(self, wanted: str) -> SoqlError:
        token = self.peek()
        if token is None:
            return SoqlError(f"unexpected end of query, expecting {wanted}")
        return SoqlError(f"unexpected token: '{token.text}', expecting {wanted}")

    def identifier(self) -> str:
        token = self.peek()
        if token is None or token.kind != "ident":
            raise self.unexpected("a field name")
        self.pos += 1
        return token.text

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.pos += 1
            return True
        return False

    def literal(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.unexpected("a value")
        if token.kind in {"string", "datetime", "date", "number"}:
            self.pos += 1
            return token.value
        if token.kind == "ident" and token.text.lower() in {"true", "false", "null"}:
            self.pos += 1
            return {"true": True, "false": False, "null": None}[token.text.lower()]
        raise self.unexpected("a value")

    def condition(self) -> Condition:
        name = self.identifier()
        if self.keyword("NOT", "IN") or self.keyword("IN"):
            op = "NOT IN" if self.tokens[self.pos - 2].text.upper() == "NOT" else "IN"
            if not self.punct("("):
                raise self.unexpected("(")
            values = [self.literal()]
            while self.punct(","):
                values.append(self.literal())
            if not self.punct(")"):
                raise self.unexpected(")")
            return Condition(name, op, tuple(values))
        if self.keyword("LIKE"):
            return Condition(name, "LIKE", self.literal())
        token = self.peek()
        if token is None or token.kind != "op":
            raise self.unexpected("an operator")
        self.pos += 1
        return Condition(name, token.value, self.literal())

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        fields = [self.identifier()]
        while self.punct(","):
            fields.append(self.identifier())
        self.expect_keyword("FROM")
        sobject = self.identifier()
        where: list[Condition] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
        order_by = None
        if self.keyword("ORDER", "BY"):
            field = self.identifier()
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
            nulls_last = descending
            if self.keyword("NULLS", "FIRST"):
                nulls_last = False
            elif self.keyword("NULLS", "LAST"):
                nulls_last = True
            order_by = OrderBy(field, descending, nulls_last)
        limit = None
        if self.keyword("LIMIT"):
            token = self.peek()
            if token is None or token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
                raise self.unexpected("a non-negative integer")
            self.pos += 1
            limit = token.value
        if self.peek() is not None:
            raise self.unexpected("end of query")
        return Query(tuple(fields), sobject, tuple(where), order_by, limit)


def parse(text: str) -> Query:
    """Parse SOQL text; raise SoqlError (MALFORMED_QUERY) on anything outside the subset."""
    if not text or not text.strip():
        raise SoqlError("query is empty")
    return _Parser(text).query()


# --- binding to a schema --------------------------------------------------------------------------


def _check_literal(field: str, field_type: str, value: Any) -> None:
    if value is None:
        return
    if field_type == DATETIME:
        ok = isinstance(value, datetime)
        wanted = "dateTime and should not be enclosed in quotes"
    elif field_type == DATE:
        ok = isinstance(value, date) and not isinstance(value, datetime)
        wanted = "date and should not be enclosed in quotes"
    elif field_type in NUMERIC_TYPES:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        wanted = "double and should not be enclosed in quotes"
    elif field_type == BOOLEAN:
        ok = isinstance(value, bool)
        wanted = "boolean and should not be enclosed in quotes"
    else:
        ok = isinstance(value, str)
        wanted = "string and should be enclosed in quotes"
    if not ok:
        raise SoqlError(f"value of filter criterion for field '{field}' must be of type {wanted}")


def bind(query: Query, schema: Mapping[str, str], *, sobject: str) -> Query:
    """Resolve field names case-insensitively against ``schema`` (name → type) and check literal types.

    Returns the query with the schema's spelling of every field name. Unknown field → InvalidField.
    """
    by_lower = {name.lower(): name for name in schema}

    def resolve(name: str) -> str:
        try:
            return by_lower[name.lower()]
        except KeyError:
            raise InvalidField(
                f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name. Please reference your "
                "WSDL or the describe call for the appropriate names."
            ) from None

    fields = tuple(resolve(name) for name in query.fields)
    where = []
    for cond in query.where:
        name = resolve(cond.field)
        values = cond.value if cond.op in SET_OPERATORS else (cond.value,)
        for value in values:
            _check_literal(name, schema[name], value)
        if cond.op == "LIKE" and not isinstance(cond.value, str):
            raise SoqlError(f"LIKE on field '{name}' needs a quoted string")
        if cond.op in {"<", "<=", ">", ">="} and cond.value is None:
            raise SoqlError(f"null can only be compared with = or != (field '{name}')")
        where.append(replace(cond, field=name))
    order_by = replace(query.order_by, field=resolve(query.order_by.field)) if query.order_by else None
    return replace(query, fields=fields, sobject=sobject, where=tuple(where), order_by=order_by)


# --- evaluation -----------------------------------------------------------------------------------


def _coerce(value: Any, field_type: str) -> Any:
    """A record's wire value in a form comparable with the bound literal."""
    if value is None:
        return None
    if field_type == DATETIME:
        return parse_datetime_literal(str(value)) if not isinstance(value, datetime) else value
    if field_type == DATE:
        return date.fromisoformat(str(value)) if not isinstance(value, date) else value
    if field_type in NUMERIC_TYPES:
        return float(value)
    if field_type == BOOLEAN:
        return bool(value)
    return str(value)


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _fold(value: Any) -> Any:
    # SOQL compares text case-insensitively.
    return value.lower() if isinstance(value, str) else value


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return _fold(left) == _fold(right)
    if op == "!=":
        return _fold(left) != _fold(right)
    if left is None or right is None:
        return False
    if op == "LIKE":
        return _like(str(left), str(right))
    left, right = _fold(left), _fold(right)
    if isinstance(right, datetime) and not isinstance(left, datetime):
        return False
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


def matches(record: Mapping[str, Any], where: Iterable[Condition], schema: Mapping[str, str]) -> bool:
    """True when the record satisfies every (bound) condition."""
    for cond in where:
        value = _coerce(record.get(cond.field), schema[cond.field])
        if cond.op in SET_OPERATORS:
            found = any(_compare(value, "=", item) for item in cond.value)
            if found != (cond.op == "IN"):
                return False
        elif not _compare(value, cond.op, cond.value):
            return False
    return True


def sort_records(records: list[Mapping[str, Any]], order_by: OrderBy, schema: Mapping[str, str]) -> list:
    """Records sorted by the (bound) ORDER BY, nulls placed as SOQL places them."""
    field_type = schema[order_by.field]
    present = [r for r in records if r.get(order_by.field) is not None]
    missing = [r for r in records if r.get(order_by.field) is None]
    present.sort(key=lambda r: _fold(_coerce(r[order_by.field], field_type)), reverse=order_by.descending)
    return present + missing if order_by.nulls_last else missing + present
