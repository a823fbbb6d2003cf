"""The ``filterByFormula`` subset the emulator evaluates: equality (``=``, ``!=``) between a column
``{Name}`` / ``{fldId}`` and a literal (``"text"``, ``'text'``, a number, ``BLANK()``, ``TRUE()``,
``FALSE()``), combined with ``AND(…)`` / ``OR(…)`` / ``NOT(…)``. That covers what the official SDK
builds (``records.filter(a="x", b=1)`` → ``AND({a}="x",{b}=1)``) and what connectors send to find a
row by a key column. Anything else is refused as AITable refuses a bad formula: an HTTP-200 error
envelope with code 400 (the caller turns FormulaError into it), never silently matching everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<field>\{[^{}]+\})
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>!=|=|\(|\)|,)
      | (?P<name>[A-Za-z_]+)
    )""",
    re.VERBOSE,
)
_CONSTANTS = {"BLANK", "TRUE", "FALSE"}
_LOGIC = {"AND", "OR", "NOT"}


class FormulaError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    ref: str


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int/float, bool, or None for BLANK()


@dataclass(frozen=True)
class Compare:
    left: Field | Literal
    op: str
    right: Field | Literal


@dataclass(frozen=True)
class Logic:
    name: str
    args: tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FormulaError(f"unexpected {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise FormulaError(f"expected {value or 'more'} at token {self.pos + 1}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        node = self.expression()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self) -> Any:
        token = self.peek()
        if token and token[0] == "name" and token[1].upper() in _LOGIC:
            name = self.take()[1].upper()
            self.take("(")
            args = [self.expression()]
            while self.peek() and self.peek()[1] == ",":
                self.take(",")
                args.append(self.expression())
            self.take(")")
            if name == "NOT" and len(args) != 1:
                raise FormulaError("NOT takes one argument")
            return Logic(name, tuple(args))
        left = self.operand()
        token = self.peek()
        if token is None or token[1] not in {"=", "!="}:
            raise FormulaError("only comparisons with = or != are supported")
        op = self.take()[1]
        right = self.operand()
        if not (isinstance(left, Field) or isinstance(right, Field)):
            raise FormulaError("a comparison needs a {column}")
        return Compare(left, op, right)

    def operand(self) -> Field | Literal:
        kind, value = self.take()
        if kind == "field":
            return Field(value[1:-1])
        if kind == "string":
            return Literal(re.sub(r"\\(.)", r"\1", value[1:-1]))
        if kind == "number":
            return Literal(float(value) if "." in value else int(value))
        if kind == "name" and value.upper() in _CONSTANTS:
            self.take("(")
            self.take(")")
            return Literal({"BLANK": None, "TRUE": True, "FALSE": False}[value.upper()])
        raise FormulaError(f"unsupported {value!r}")


def formula_parse(text: str, known: Callable[[str], bool]) -> Any:
    """The parsed formula; every ``{column}`` must satisfy ``known``. Raises FormulaError."""
    tree = _Parser(text).parse()
    for ref in _refs(tree):
        if not known(ref):
            raise FormulaError(f"unknown field {{{ref}}}")
    return tree


def _refs(node: Any) -> list[str]:
    if isinstance(node, Logic):
        return [ref for arg in node.args for ref in _refs(arg)]
    if isinstance(node, Compare):
        return [side.ref for side in (node.left, node.right) if isinstance(side, Field)]
    return []


def formula_match(tree: Any, value_of: Callable[[str], Any]) -> bool:
    """Whether a row matches; ``value_of(ref)`` is the row's cell (None when empty)."""
    if isinstance(tree, Logic):
        results = (formula_match(arg, value_of) for arg in tree.args)
        if tree.name == "AND":
            return all(results)
        if tree.name == "OR":
            return any(results)
        return not next(results)
    left, right = (value_of(s.ref) if isinstance(s, Field) else s.value for s in (tree.left, tree.right))
    equal = _equal(left, right)
    return equal if tree.op == "=" else not equal


def _equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return _blank(left) and _blank(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left) == bool(right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    return _text(left) == _text(right)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
