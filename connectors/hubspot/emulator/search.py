"""HubSpot's CRM search: ``POST .../search`` with filter groups, operators, one sort, a free-text query,
offset paging up to the search ceiling, and its own per-second limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.hubspot.emulator.errors import BadRequest
from connectors.hubspot.emulator.schema import CREATED_PROPS, MODIFIED_PROPS
from connectors.sandbox.emulator import Emulator, json_body

OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
SEARCHABLE = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain"),
    "deals": ("dealname",),
}


def parse_time(value: Any) -> datetime:
    """A filter value for a date property: epoch-ms (string or number) or ISO 8601."""
    text = str(value).strip()
    if text.lstrip("-").isdecimal():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{text!r} is not a valid date value (epoch milliseconds or ISO 8601)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class HubSpotSearch(Emulator):
    """The search view and its translation of filters and sorts into the ORM."""

    def search_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, f"Method {request.method} is not supported on this path")
        blocked = self.check_rate(
            request.sandbox_token,
            (int(self.limits()["search_rate"]), 1),  # type: ignore[attr-defined]
            scope="search",
        )
        if blocked is not None:
            return blocked
        return self._guard(request, object_type, self._search)

    def _search(self, request: HttpRequest, object_type: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        limits = self.limits()
        limit = int(body.get("limit") or 10)
        if limit > int(limits["search_limit_max"]) or limit < 1:
            raise BadRequest(f"limit must be between 1 and {limits['search_limit_max']}")
        try:
            offset = int(body.get("after") or 0)
        except ValueError:
            raise BadRequest("after must be a number") from None
        ceiling = int(limits["search_ceiling"])
        if offset >= ceiling:
            raise BadRequest(
                f"Search results are limited to {ceiling} per query: 'after' {offset} is past the "
                "end. Narrow the filters instead of paging further."
            )
        qs = self.records(object_type).filter(archived=False).filter(self._filters(object_type, body))
        if body.get("query"):
            words = Q()
            for name in SEARCHABLE.get(object_type, ()):
                words |= Q(**{f"data__{name}__icontains": str(body["query"])})
            qs = qs.filter(words) if words else qs
        qs = qs.order_by(*self._ordering(body.get("sorts") or []))
        total = qs.count()
        end = min(offset + limit, ceiling)
        rows = list(qs[offset:end])
        result: dict[str, Any] = {
            "total": total,
            "results": [self.serialize(r, body.get("properties")) for r in rows],
        }
        if offset + len(rows) < total:
            result["paging"] = {"next": {"after": str(offset + len(rows))}}
        return JsonResponse(result)

    def _filters(self, object_type: str, body: dict[str, Any]) -> Q:
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list):
            raise BadRequest("filterGroups must be a list")
        if len(groups) > 5:
            raise BadRequest(
                f"Too many filter groups: {len(groups)}. A search may have at most 5 filterGroups."
            )
        total = 0
        combined = Q()
        for group in groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > 10:
                raise BadRequest(f"Too many filters in a group: {len(filters)}. A group may have at most 10.")
            total += len(filters)
            if total > 25:
                raise BadRequest(
                    "Too many filters: a search may have at most 25 filters across all filterGroups."
                )
            clause = Q()
            for spec in filters:
                clause &= self._filter(object_type, spec)
            combined |= clause
        return combined

    def _filter(self, object_type: str, spec: dict[str, Any]) -> Q:
        name, op = str(spec.get("propertyName", "")), str(spec.get("operator", "EQ")).upper()
        if op not in OPERATORS:
            raise BadRequest(f"Unknown operator {op!r}; allowed: {', '.join(sorted(OPERATORS))}")
        if name in MODIFIED_PROPS or name in CREATED_PROPS:
            # The modified/created times are columns (indexed), not JSON: filter them there.
            column = "updated_at" if name in MODIFIED_PROPS else "created_at"
            convert = parse_time
        elif name == "hs_object_id":
            column, convert = "remote_id", str
        else:
            column, convert = f"data__{name}", str
        if op == "HAS_PROPERTY":
            return Q(data__has_key=name) if column.startswith("data__") else Q()
        if op == "NOT_HAS_PROPERTY":
            return ~Q(data__has_key=name) if column.startswith("data__") else Q(pk__in=[])
        if op in {"IN", "NOT_IN"}:
            values = spec.get("values")
            if not isinstance(values, list):
                raise BadRequest(f"{op} needs a 'values' list")
            q = Q(**{f"{column}__in": [self._value(name, convert, v) for v in values]})
            return q if op == "IN" else ~q
        if "value" not in spec:
            raise BadRequest(f"{op} on {name} needs a 'value'")
        value = self._value(name, convert, spec["value"])
        if op == "BETWEEN":
            if "highValue" not in spec:
                raise BadRequest("BETWEEN needs a 'highValue'")
            return Q(
                **{f"{column}__gte": value, f"{column}__lte": self._value(name, convert, spec["highValue"])}
            )
        if op in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
            q = Q(**{f"{column}__icontains": str(value).strip("*")})
            return q if op == "CONTAINS_TOKEN" else ~q
        lookup = {"EQ": "exact", "NEQ": "exact", "LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte"}[op]
        q = Q(**{f"{column}__{lookup}": value})
        return ~q if op == "NEQ" else q

    @staticmethod
    def _value(name: str, convert: Any, raw: Any) -> Any:
        value = convert(raw)
        return value.lower() if name == "email" and isinstance(value, str) else value

    @staticmethod
    def _ordering(sorts: list[Any]) -> list[str]:
        """``sorts`` as HubSpot takes it (strings, "-name", or {propertyName, direction}) → order_by()."""
        order: list[str] = []
        for sort in sorts[:1]:  # HubSpot honours one sort
            if isinstance(sort, str):
                name, descending = sort.lstrip("-"), sort.startswith("-")
            else:
                name = str(sort.get("propertyName", ""))
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            column = (
                "updated_at"
                if name in MODIFIED_PROPS
                else "created_at"
                if name in CREATED_PROPS
                else "id"
                if name == "hs_object_id"
                else f"data__{name}"
            )
            order.append(f"-{column}" if descending else column)
        tiebreak = "-id" if order and order[0].startswith("-") else "id"
        return [*order, tiebreak] if order else ["id"]
