"""Contacts API v2 of the emulator: create, get, update, delete, upsert, duplicate search, advanced
search (``pageLimit`` + ``page`` or ``searchAfter``, ``dateUpdated`` range filters, sort), the
deprecated list, and the notes and tasks under a contact (providers.md §6 "Objects & endpoints",
"Paging & delta"). Each write emits its webhook event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.gohighlevel.emulator.hooks import GoHighLevelHooks
from connectors.sandbox.emulator import iso_ms, json_body, parse_iso
from connectors.sandbox.models import SandboxRecord

DEPRECATED_LIST_MAX = 100
RANGE_OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _sort_value(data: dict[str, Any], field: str) -> Any:
    value = data.get(field)
    if field.startswith("date"):
        parsed = parse_iso(str(value or ""))
        return parsed.timestamp() * 1000 if parsed else 0
    return str(value or "").lower()


def _matches(data: dict[str, Any], rule: dict[str, Any]) -> bool:
    field, operator, value = str(rule.get("field", "")), rule.get("operator"), rule.get("value")
    if operator == "range" and isinstance(value, dict):
        have = _sort_value(data, field)
        for op, bound in value.items():
            when = parse_iso(str(bound)) if field.startswith("date") else None
            limit = when.timestamp() * 1000 if when else bound
            if op not in RANGE_OPS or not RANGE_OPS[op](have, limit):
                return False
        return True
    if operator == "eq":
        return str(data.get(field) or "").lower() == str(value or "").lower()
    if operator == "exists":
        return bool(data.get(field))
    return False


DB_RANGE = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}


def _updated_query(
    rows: QuerySet, filters: list, descending: bool, after: Any
) -> tuple[QuerySet, QuerySet] | None:
    """The common search (``dateUpdated`` ranges, sorted by ``dateUpdated``, ``searchAfter``) in
    the database rather than over every contact: ``dateUpdated`` is always written in one format
    (UTC, milliseconds, ``Z``), so its text sorts as its time; the id breaks ties. Returns (the
    page's rows in order, every match for the total), or None for other searches."""
    rows = rows.annotate(updated=KeyTextTransform("dateUpdated", "data"))
    for rule in filters:
        value = rule.get("value") if isinstance(rule, dict) else None
        if not (
            isinstance(rule, dict)
            and rule.get("field") == "dateUpdated"
            and rule.get("operator") == "range"
            and isinstance(value, dict)
            and all(op in DB_RANGE and parse_iso(str(bound)) for op, bound in value.items())
        ):
            return None
        rows = rows.filter(
            **{f"updated__{DB_RANGE[op]}": iso_ms(parse_iso(str(bound))) for op, bound in value.items()}
        )
    matching = rows
    if isinstance(after, list) and len(after) == 2:
        try:
            ms = round(float(after[0]))  # exact to the millisecond, as dateUpdated is kept
            mark = iso_ms(datetime.fromtimestamp(ms // 1000, tz=UTC) + timedelta(milliseconds=ms % 1000))
        except (TypeError, ValueError, OverflowError):
            return None
        beyond = "lt" if descending else "gt"
        rows = rows.filter(
            Q(**{f"updated__{beyond}": mark}) | Q(updated=mark, **{f"remote_id__{beyond}": str(after[1])})
        )
    order = ("-updated", "-remote_id") if descending else ("updated", "remote_id")
    return rows.order_by(*order), matching


def _page(body: dict[str, Any]) -> int | None:
    page = body.get("page", 1)
    return page if isinstance(page, int) and not isinstance(page, bool) and page >= 1 else None


class GoHighLevelContacts(GoHighLevelHooks):
    """The contact endpoints and the notes and tasks under a contact."""

    def body_or_400(self, request: HttpRequest) -> dict[str, Any] | HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "Bad Request")
        return body

    def contact_or_404(self, contact_id: str) -> SandboxRecord | HttpResponse:
        row = self.record("contacts", contact_id)
        return row if row is not None else self.error(400, "Contact not found")

    # --- contacts -------------------------------------------------------------------------------

    def contacts_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            return self.contact_create(request)
        if request.method == "GET":
            return self.contacts_list(request)
        return self.error(404, f"Cannot {request.method} {request.path}")

    def contact_create(self, request: HttpRequest, *, upsert: bool = False) -> HttpResponse:
        body = self.body_or_400(request)
        if isinstance(body, HttpResponse):
            return body
        if body.get("locationId") != self.token_location(request.sandbox_token):  # type: ignore[attr-defined]
            return self.error(
                422,
                ["locationId should not be empty"]
                if not body.get("locationId")
                else ["locationId is invalid"],
            )
        problems = self.contact_problems(body)
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        fields = {k: v for k, v in body.items() if k != "locationId"}
        existing = self.duplicate_of(str(fields.get("email") or ""), str(fields.get("phone") or ""))
        if upsert and existing is not None:
            row = self.save_changes(existing, self.contact_body({**existing.data, **fields}))
            self.event("ContactUpdate", row.data)
            return JsonResponse({"new": False, "contact": row.data, "traceId": request.path}, status=200)
        if existing is not None and not self.setting("allow_duplicate_contact", False):
            return self.error(
                400,
                "This location does not allow duplicated contacts.",
                meta={
                    "contactName": existing.data.get("name", ""),
                    "contactId": existing.remote_id,
                    "matchingField": "email" if fields.get("email") else "phone",
                },
            )
        row = self.save_new("contacts", self.contact_body({"tags": [], "customFields": [], **fields}))
        self.event("ContactCreate", row.data)
        if upsert:
            return JsonResponse({"new": True, "contact": row.data, "traceId": request.path}, status=201)
        return JsonResponse({"contact": row.data}, status=201)

    def upsert_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(404, f"Cannot {request.method} {request.path}")
        return self.contact_create(request, upsert=True)

    def contact_view(self, request: HttpRequest, contact_id: str) -> HttpResponse:
        row = self.contact_or_404(contact_id)
        if isinstance(row, HttpResponse):
            return row
        if request.method == "GET":
            return JsonResponse({"contact": row.data})
        if request.method == "DELETE":
            data = row.data
            SandboxRecord.objects.filter(
                provider=self.provider, object_type__in=("notes", "tasks"), data__contactId=row.remote_id
            ).delete()
            row.delete()
            self.event("ContactDelete", data)
            return JsonResponse({"succeded": True})
        if request.method == "PUT":
            body = self.body_or_400(request)
            if isinstance(body, HttpResponse):
                return body
            problems = self.contact_problems(body) + (
                ["property locationId should not exist"] if "locationId" in body else []
            )
            if problems:
                return self.error(422, problems, error="Unprocessable Entity")
            clash = self.duplicate_of(
                str(body.get("email") or ""), str(body.get("phone") or ""), exclude=row.remote_id
            )
            if clash is not None and not self.setting("allow_duplicate_contact", False):
                return self.error(
                    400,
                    "This location does not allow duplicated contacts.",
                    meta={"contactId": clash.remote_id},
                )
            row = self.save_changes(row, self.contact_body({**row.data, **body}))
            self.event("ContactUpdate", row.data)
            return JsonResponse({"succeded": True, "contact": row.data})
        return self.error(404, f"Cannot {request.method} {request.path}")

    def duplicate_view(self, request: HttpRequest) -> HttpResponse:
        if not request.GET.get("locationId"):
            return self.error(422, ["locationId should not be empty"], error="Unprocessable Entity")
        row = self.duplicate_of(request.GET.get("email", ""), request.GET.get("number", ""))
        return JsonResponse({"contact": row.data if row is not None else None})

    def search_view(self, request: HttpRequest) -> HttpResponse:
        """``POST /contacts/search``: filters, sort, ``page`` or ``searchAfter`` paging."""
        body = self.body_or_400(request)
        if isinstance(body, HttpResponse):
            return body
        if body.get("locationId") != self.token_location(request.sandbox_token):  # type: ignore[attr-defined]
            return self.error(422, ["locationId is invalid"], error="Unprocessable Entity")
        page_max = int(self.setting("search_page_max", 100))
        limit = body.get("pageLimit", 20)
        if not isinstance(limit, int) or not 1 <= limit <= page_max:
            return self.error(
                422, [f"pageLimit must not be greater than {page_max}"], error="Unprocessable Entity"
            )
        filters = body.get("filters") or []
        sort = (body.get("sort") or [{"field": "dateAdded", "direction": "desc"}])[0]
        field, descending = str(sort.get("field", "dateAdded")), sort.get("direction") == "desc"
        fast = (
            _updated_query(self.records("contacts"), filters, descending, body.get("searchAfter"))
            if field == "dateUpdated"
            and isinstance(filters, list)
            and (isinstance(body.get("searchAfter"), list) or _page(body) is not None)
            else None
        )
        if fast is not None:  # the sync's own query, without reading every contact per page
            page_rows, matching = fast
            if not isinstance(body.get("searchAfter"), list):
                start = (_page(body) - 1) * limit
                page_rows = page_rows[start : start + limit]
            found = [
                {**r.data, "searchAfter": [_sort_value(r.data, field), r.data["id"]]}
                for r in page_rows[:limit]
            ]
            return JsonResponse({"contacts": found, "total": matching.count()})
        rows = [r.data for r in self.records("contacts")]
        rows = [d for d in rows if all(_matches(d, rule) for rule in filters if isinstance(rule, dict))]
        rows.sort(key=lambda d: (_sort_value(d, field), d["id"]), reverse=descending)
        total = len(rows)
        after = body.get("searchAfter")
        if isinstance(after, list) and len(after) == 2:
            mark = (after[0], after[1])
            rows = [
                d
                for d in rows
                if (
                    (_sort_value(d, field), d["id"]) < mark
                    if descending
                    else (_sort_value(d, field), d["id"]) > mark
                )
            ]
        else:
            page = body.get("page", 1)
            if not isinstance(page, int) or page < 1:
                return self.error(422, ["page must not be less than 1"], error="Unprocessable Entity")
            rows = rows[(page - 1) * limit :]
        found = [{**d, "searchAfter": [_sort_value(d, field), d["id"]]} for d in rows[:limit]]
        return JsonResponse({"contacts": found, "total": total})

    def contacts_list(self, request: HttpRequest) -> HttpResponse:
        """The deprecated ``GET /contacts/``: oldest first, ``startAfterId``/``startAfter`` paging."""
        try:
            limit = int(request.GET.get("limit", 20))
        except ValueError:
            limit = 0
        if not 1 <= limit <= DEPRECATED_LIST_MAX:
            return self.error(422, ["limit must not be greater than 100"], error="Unprocessable Entity")
        rows = sorted(
            (r.data for r in self.records("contacts")), key=lambda d: (_sort_value(d, "dateAdded"), d["id"])
        )
        query = request.GET.get("query", "").lower()
        if query:
            rows = [
                d
                for d in rows
                if query
                in " ".join(str(d.get(f) or "") for f in ("name", "email", "phone", "companyName")).lower()
            ]
        start_id, start_at = request.GET.get("startAfterId"), request.GET.get("startAfter")
        if start_id and start_at:
            mark = (float(start_at), start_id)
            rows = [d for d in rows if (_sort_value(d, "dateAdded"), d["id"]) > mark]
        page = rows[:limit]
        meta: dict[str, Any] = {
            "total": len(rows),
            "startAfterId": None,
            "startAfter": None,
            "nextPageUrl": None,
        }
        if len(rows) > limit:
            last = page[-1]
            meta.update(startAfterId=last["id"], startAfter=int(_sort_value(last, "dateAdded")))
            meta["nextPageUrl"] = request.build_absolute_uri(
                f"{request.path}?locationId={request.GET.get('locationId', '')}&limit={limit}"
                f"&startAfterId={last['id']}&startAfter={meta['startAfter']}"
            )
        return JsonResponse({"contacts": page, "count": len(page), "meta": meta})

    # --- notes and tasks --------------------------------------------------------------------------

    def children_view(self, request: HttpRequest, contact_id: str, kind: str) -> HttpResponse:
        contact = self.contact_or_404(contact_id)
        if isinstance(contact, HttpResponse):
            return contact
        if request.method == "GET":
            rows = self.records(kind).filter(data__contactId=contact_id).order_by("created_at", "pk")
            return JsonResponse({kind: [r.data for r in rows]})
        if request.method != "POST":
            return self.error(404, f"Cannot {request.method} {request.path}")
        body = self.body_or_400(request)
        if isinstance(body, HttpResponse):
            return body
        problems = self.child_problems(kind, body, creating=True)
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        defaults = {"completed": False} if kind == "tasks" else {}
        row = self.save_new(kind, {**defaults, **body, "contactId": contact_id})
        self.event("NoteCreate" if kind == "notes" else "TaskCreate", row.data)
        return JsonResponse({kind[:-1]: row.data}, status=201)

    def child_view(self, request: HttpRequest, contact_id: str, kind: str, child_id: str) -> HttpResponse:
        row = self.record(kind, child_id)
        if row is None or row.data.get("contactId") != contact_id:
            return self.error(404, f"{kind[:-1].capitalize()} not found")
        if request.method == "GET":
            return JsonResponse({kind[:-1]: row.data})
        if request.method == "DELETE":
            data = row.data
            row.delete()
            self.event("NoteDelete" if kind == "notes" else "TaskDelete", data)
            return JsonResponse({"succeded": True})
        if request.method == "PUT":
            body = self.body_or_400(request)
            if isinstance(body, HttpResponse):
                return body
            problems = self.child_problems(kind, body, creating=False)
            if problems:
                return self.error(422, problems, error="Unprocessable Entity")
            row = self.save_changes(row, body)
            if kind == "tasks":
                self.event("TaskUpdate" if "completed" not in body else "TaskComplete", row.data)
            else:
                self.event("NoteUpdate", row.data)
            return JsonResponse({kind[:-1]: row.data})
        return self.error(404, f"Cannot {request.method} {request.path}")

    @staticmethod
    def child_problems(kind: str, body: dict[str, Any], *, creating: bool) -> list[str]:
        allowed = {
            "notes": {"body", "userId", "title", "color", "pinned"},  # the SDK 3.0 NotesDTO
            "tasks": {"title", "body", "dueDate", "completed", "assignedTo"},
        }[kind]
        problems = [f"property {name} should not exist" for name in sorted(set(body) - allowed)]
        if creating and kind == "notes" and not body.get("body"):
            problems.append("body should not be empty")
        if creating and kind == "tasks":
            problems += [f"{f} should not be empty" for f in ("title", "dueDate") if not body.get(f)]
        if body.get("dueDate") and parse_iso(str(body["dueDate"])) is None:
            problems.append("dueDate must be a valid ISO 8601 date string")
        return problems
