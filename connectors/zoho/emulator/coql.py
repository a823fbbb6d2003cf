"""COQL, the subset providers.md §7 lists: ``select f1, f2 from Module [where c1 and|or c2 …]
[order by f asc|desc] [limit n | limit offset, n]`` with conditions ``f = | != | > | >= | < | <= 'v'``
(or a number), ``f is null``, ``f is not null`` and ``f in ('a', 'b')``; at most 50 fields and 25
conditions, one kind of connective per query (Zoho wants brackets to mix them). LIMIT defaults to 200,
at most 2,000; offset + limit reaches 100,000. A query costs 1 credit up to 200 rows, 2 up to 1,000 and 3
up to 2,000. No rows → 204; a query the grammar refuses → 400 ``SYNTAX_ERROR``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime

from connectors.sandbox.emulator import _strategy_for_sandbox, json_body
from connectors.zoho.emulator.credits import ZohoLimits
from connectors.zoho.emulator.records import QueryError, ZohoRecords
from connectors.zoho.emulator.schema import MODULES

MAX_LIMIT = 2000
MAX_REACH = 100_000
MAX_FIELDS = 50
MAX_CONDITIONS = 25
_QUERY = re.compile(
    r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<module>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s+by\s+(?P<order>[\w$]+)(?:\s+(?P<direction>asc|desc))?)?"
    r"(?:\s+limit\s+(?P<first>\d+)(?:\s*,\s*(?P<second>\d+))?)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\(?\s*(?P<field>[\w$.]+)\s*(?:(?P<op>!=|>=|<=|=|>|<)\s*(?P<value>'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?)"
    r"|(?P<null>is\s+not\s+null|is\s+null)|in\s*\((?P<values>[^)]*)\))\s*\)?$",
    re.IGNORECASE,
)


def _credits(limit: int) -> int:
    return 1 if limit <= 200 else (2 if limit <= 1000 else 3)


class ZohoCoql(ZohoRecords, ZohoLimits):
    def coql_view(self, request: HttpRequest, version: str) -> HttpResponse:
        body = json_body(request)
        query = body.get("select_query") if isinstance(body, dict) else None
        if request.method != "POST" or not isinstance(query, str):
            return self.error(
                400,
                "select_query is missing",
                code="REQUIRED_PARAM_MISSING",
                details={"param": "select_query"},
            )
        try:
            module, fields, test, order, offset, limit = self._parse(query)
        except QueryError as exc:
            return self._refuse(exc)
        extra = _credits(limit) - 1  # the first credit was taken on the way in
        if extra and self.state().rate_limit_enabled:
            if not _strategy_for_sandbox().hit(
                self._credit_item(), "sandbox", self.provider, "credits", cost=extra
            ):
                return self.rate_limited_response(retry_after=0)
        rows = [self.wire(r) for r in self.records(module).filter(archived=False).order_by("pk")]
        rows = [row for row in rows if test(row)]
        if order:
            name, descending = order
            rows.sort(key=lambda row: _sortable(row.get(name)), reverse=descending)
        page = rows[offset : offset + limit]
        if not page:
            return HttpResponse(status=204)
        data = [{"id": row["id"], **{f: row.get(f) for f in fields}} for row in page]
        return JsonResponse(
            {"data": data, "info": {"count": len(data), "more_records": offset + limit < len(rows)}}
        )

    def _parse(
        self, query: str
    ) -> tuple[str, list[str], Callable[[dict], bool], tuple[str, bool] | None, int, int]:
        found = _QUERY.match(query)
        if not found:
            raise QueryError(
                400, "SYNTAX_ERROR", "error occured while parsing the query", {"near": query[:40]}
            )
        module = found["module"]
        if module not in MODULES:
            raise QueryError(400, "INVALID_QUERY", "invalid module", {"module": module})
        fields = [f.strip() for f in found["fields"].split(",") if f.strip()]
        if len(fields) > MAX_FIELDS:
            raise QueryError(400, "LIMIT_EXCEEDED", "select columns limit exceeded", {"limit": MAX_FIELDS})
        test = self._where(found["where"])
        order = (found["order"], (found["direction"] or "asc").lower() == "desc") if found["order"] else None
        first, second = found["first"], found["second"]
        offset, limit = (int(first), int(second)) if second is not None else (0, int(first or 200))
        if not 1 <= limit <= MAX_LIMIT or offset + limit > MAX_REACH:
            raise QueryError(
                400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": MAX_LIMIT, "reach": MAX_REACH}
            )
        return module, fields, test, order, offset, limit

    def _where(self, where: str | None) -> Callable[[dict], bool]:
        if not where:
            return lambda row: True
        text = where.strip()
        if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
            text = text[1:-1]
        ands = re.split(r"\s+and\s+", text, flags=re.IGNORECASE)
        ors = re.split(r"\s+or\s+", text, flags=re.IGNORECASE)
        if len(ands) > 1 and len(ors) > 1:
            raise QueryError(400, "SYNTAX_ERROR", "use brackets to mix and / or", {"near": where[:40]})
        parts, joined = (ands, all) if len(ands) >= len(ors) else (ors, any)
        if len(parts) > MAX_CONDITIONS:
            raise QueryError(400, "LIMIT_EXCEEDED", "criteria limit exceeded", {"limit": MAX_CONDITIONS})
        tests = [self._condition(part) for part in parts]
        return lambda row: joined(t(row) for t in tests)

    @staticmethod
    def _condition(text: str) -> Callable[[dict], bool]:
        found = _CONDITION.match(text.strip())
        if not found:
            raise QueryError(
                400, "SYNTAX_ERROR", "error occured while parsing the query", {"near": text[:40]}
            )
        name = found["field"]
        if found["null"]:
            wants_null = "not" not in found["null"].lower()
            return lambda row: (_value(row, name) in (None, "")) == wants_null
        if found["values"] is not None:
            values = {_literal(v.strip()) for v in found["values"].split(",") if v.strip()}
            return lambda row: _value(row, name) in values
        op, wanted = found["op"], _literal(found["value"])
        return lambda row: _compare(_value(row, name), op, wanted)


def _value(row: dict[str, Any], name: str) -> Any:
    head, _, tail = name.partition(".")
    value = row.get(head)
    if isinstance(value, dict):
        value = value.get(tail or "id")
    return value


def _literal(token: str) -> Any:
    if token.startswith("'") and token.endswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return float(token)


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    stamp = parse_datetime(value) if isinstance(value, str) else None
    if isinstance(value, dict):
        value = value.get("id")
    return (
        1,
        stamp.timestamp()
        if isinstance(stamp, datetime)
        else (value if isinstance(value, int | float) else str(value)),
    )


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual in (None, ""):
        return op == "!="
    if isinstance(wanted, str):
        a, w = parse_datetime(str(actual)), parse_datetime(wanted)
        if a is None or w is None:
            a, w = str(actual).lower(), wanted.lower()
    else:
        try:
            a, w = float(actual), wanted
        except (TypeError, ValueError):
            return False
    return {"=": a == w, "!=": a != w, ">": a > w, ">=": a >= w, "<": a < w, "<=": a <= w}[op]
