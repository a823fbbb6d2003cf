"""Pipedrive API v2: list with cursor paging and ``updated_since``, get, add, update (PATCH), delete
(soft) and search, for persons, organizations, deals and activities (providers.md §3)."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from connectors.pipedrive.emulator.limits import PipedriveLimits
from connectors.pipedrive.emulator.store import SINGULAR, BadRequest, parse_rfc3339, rfc3339
from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxRecord

V2_OBJECTS = ("persons", "organizations", "deals", "activities")
LIST_DEFAULT, LIST_MAX = 100, 500
SORT_FIELDS = {"id": "id", "update_time": "updated_at", "add_time": "created_at"}
# Which fields ``search`` may look in, per object (``custom_fields`` and ``notes`` are accepted and
# match custom field values; notes are not indexed here).
SEARCH_FIELDS = {
    "persons": ("name", "email", "phone", "custom_fields", "notes"),
    "organizations": ("name", "address", "custom_fields", "notes"),
    "deals": ("title", "custom_fields", "notes"),
}
FILTERS = {"owner_id": "owner_id", "org_id": "org_id", "person_id": "person_id", "deal_id": "deal_id"}


def encode_cursor(value: Any, pk: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, pk]).encode()).decode()


def decode_cursor(value: str) -> tuple[Any, int]:
    try:
        sort_value, pk = json.loads(base64.urlsafe_b64decode(value.encode()))
        return sort_value, int(pk)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BadRequest(
            "Invalid cursor", info="Pass additional_data.next_cursor as it was returned."
        ) from None


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    try:
        return int(request.GET.get(name, default))
    except ValueError:
        raise BadRequest(f"Invalid {name}: {request.GET.get(name)!r}") from None


class PipedriveRest(PipedriveLimits):
    """The v2 views."""

    def guard(self, handler: Any, request: HttpRequest, *args: Any) -> HttpResponse:
        try:
            return handler(request, *args)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, info=exc.info)

    def collection_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        if object_type not in V2_OBJECTS:
            return self.error(404, "Unknown method .")
        handler = {"GET": self._list, "POST": self._add}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} not allowed")
        return self.guard(handler, request, object_type)

    def item_view(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        if object_type not in V2_OBJECTS:
            return self.error(404, "Unknown method .")
        handler = {"GET": self._get, "PATCH": self._patch, "DELETE": self._delete}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} not allowed", info="v2 updates use PATCH.")
        return self.guard(handler, request, object_type, object_id)

    def search_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        if object_type not in SEARCH_FIELDS:
            return self.error(404, "Unknown method .")
        return self.guard(self._search, request, object_type)

    # --- list -------------------------------------------------------------------------------------

    def _list(self, request: HttpRequest, object_type: str) -> HttpResponse:
        limit = max(1, min(_int_param(request, "limit", LIST_DEFAULT), LIST_MAX))
        sort_by = request.GET.get("sort_by", "id")
        direction = request.GET.get("sort_direction", "asc")
        if sort_by not in SORT_FIELDS or direction not in {"asc", "desc"}:
            raise BadRequest(f"Invalid sort_by/sort_direction: {sort_by} {direction}")
        qs = self.filtered(request, self.live(object_type))
        column = SORT_FIELDS[sort_by]
        descending = direction == "desc"
        if request.GET.get("cursor"):
            value, pk = decode_cursor(request.GET["cursor"])
            if column != "id":
                value = parse_rfc3339(value)
            after = "lt" if descending else "gt"
            qs = qs.filter(Q(**{f"{column}__{after}": value}) | Q(**{column: value, f"id__{after}": pk}))
        order = [f"-{column}", "-id"] if descending else [column, "id"]
        rows = list(qs.order_by(*order)[: limit + 1])
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            value = last.pk if column == "id" else rfc3339(getattr(last, column))
            next_cursor = encode_cursor(value, last.pk)
        return self.ok([self.serialize(r) for r in rows[:limit]], {"next_cursor": next_cursor})

    def filtered(self, request: HttpRequest, qs: QuerySet[SandboxRecord]) -> QuerySet[SandboxRecord]:
        if request.GET.get("updated_since"):
            qs = qs.filter(updated_at__gte=parse_rfc3339(request.GET["updated_since"]))
        if request.GET.get("updated_until"):
            qs = qs.filter(updated_at__lt=parse_rfc3339(request.GET["updated_until"]))
        if request.GET.get("ids"):
            ids = [i.strip() for i in request.GET["ids"].split(",") if i.strip()]
            if len(ids) > 100:
                raise BadRequest("At most 100 ids may be given")
            qs = qs.filter(remote_id__in=ids)
        for param, field in FILTERS.items():
            if request.GET.get(param):
                qs = qs.filter(**{f"data__{field}": _int_param(request, param, 0)})
        return qs

    # --- one record -----------------------------------------------------------------------------

    def _get(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        return self.ok(self.serialize(self.find_one(object_type, object_id)))

    def _add(self, request: HttpRequest, object_type: str) -> HttpResponse:
        data = self.clean(object_type, json_body(request), creating=True)
        record = self.create(object_type, data)
        self.record_change(record, "create", None)
        return self.ok(self.serialize(record))

    def _patch(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        record = self.find_one(object_type, object_id)
        data = self.clean(object_type, json_body(request), creating=False)
        before = self.serialize(record)
        self.update(record, data)
        self.record_change(record, "change", before)
        return self.ok(self.serialize(record))

    def _delete(self, request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
        record = self.find_one(object_type, object_id)
        self.soft_delete(record)
        self.record_change(record, "delete", None)
        return self.ok({"id": int(record.remote_id)})

    # --- search ---------------------------------------------------------------------------------

    def _search(self, request: HttpRequest, object_type: str) -> HttpResponse:
        term = request.GET.get("term", "").strip()
        exact = request.GET.get("exact_match", "false").lower() == "true"
        if len(term) < (1 if exact else 2):
            raise BadRequest("Search term must be at least 2 characters long (1 with exact_match)")
        fields = [f for f in request.GET.get("fields", "").split(",") if f] or list(
            SEARCH_FIELDS[object_type]
        )
        bad = [f for f in fields if f not in SEARCH_FIELDS[object_type]]
        if bad:
            raise BadRequest(f"Invalid search field(s): {', '.join(bad)}")
        limit = max(1, min(_int_param(request, "limit", LIST_DEFAULT), LIST_MAX))
        start = int(decode_cursor(request.GET["cursor"])[0]) if request.GET.get("cursor") else 0
        rows = self.live(object_type).filter(self._prefilter(term, fields)).order_by("id")
        matches = [r for r in rows if self._matches(r, term, fields, exact)]
        page = matches[start : start + limit]
        items = [{"result_score": 1.0 if exact else 0.5, "item": self._search_item(r)} for r in page]
        more = start + limit < len(matches)
        return self.ok({"items": items}, {"next_cursor": encode_cursor(start + limit, 0) if more else None})

    @staticmethod
    def _prefilter(term: str, fields: list[str]) -> Q:
        """A database filter no match escapes (the exact comparison runs on what it returns)."""
        column = {"email": "emails", "phone": "phones"}
        query = Q(pk__in=[])
        for name in fields:
            if name != "notes":
                query |= Q(**{f"data__{column.get(name, name)}__icontains": term})
        return query

    @staticmethod
    def _matches(record: SandboxRecord, term: str, fields: list[str], exact: bool) -> bool:
        data = record.data
        values: list[str] = []
        for name in fields:
            if name == "email":
                values += [e["value"] for e in data.get("emails") or []]
            elif name == "phone":
                values += [p["value"] for p in data.get("phones") or []]
            elif name == "address":
                address = data.get("address")
                values.append(address.get("value", "") if isinstance(address, dict) else str(address or ""))
            elif name == "custom_fields":
                values += [str(v) for v in (data.get("custom_fields") or {}).values() if v is not None]
            elif name in ("name", "title"):
                values.append(str(data.get(name) or ""))
        wanted = term.casefold()
        return any((v.casefold() == wanted) if exact else (wanted in v.casefold()) for v in values)

    def _search_item(self, record: SandboxRecord) -> dict[str, Any]:
        data = record.data
        item: dict[str, Any] = {"id": int(record.remote_id), "type": SINGULAR[record.object_type]}
        if record.object_type == "persons":
            item.update(
                name=data.get("name"),
                emails=[e["value"] for e in data.get("emails") or []],
                phones=[p["value"] for p in data.get("phones") or []],
                organization={"id": data["org_id"]} if data.get("org_id") else None,
            )
        elif record.object_type == "organizations":
            item.update(name=data.get("name"), address=data.get("address"))
        else:
            item.update(
                title=data.get("title"),
                value=data.get("value"),
                currency=data.get("currency"),
                status=data.get("status"),
            )
        item["owner"] = {"id": data.get("owner_id")} if data.get("owner_id") else None
        item["custom_fields"] = [str(v) for v in (data.get("custom_fields") or {}).values() if v is not None]
        item["update_time"] = rfc3339(record.updated_at)
        return item

    # --- hooks for webhooks -----------------------------------------------------------------------

    def record_change(self, record: SandboxRecord, action: str, before: dict[str, Any] | None) -> None:
        """Called after every write; the webhooks mixin delivers the matching subscriptions."""
