"""What stays on Pipedrive API v1: field definitions (``/v1/personFields`` …), notes, recents (with
deleted items flagged) and the webhooks registry (providers.md §3). Served under ``/v1/`` and
``/api/v1/`` as Pipedrive does, with v1 offset paging (``start``/``limit`` → ``pagination``)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from connectors.pipedrive.emulator.rest import PipedriveRest, _int_param
from connectors.pipedrive.emulator.store import SINGULAR, USER_ID, BadRequest, v1_time
from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxRecord, SandboxState

V1_LIMIT_MAX = 500
FIELD_ENDPOINTS = {
    "personFields": "persons",
    "organizationFields": "organizations",
    "dealFields": "deals",
    "activityFields": "activities",
    "noteFields": "notes",
}
# Standard fields per object: (key, name, field_type, editable); a subset of what Pipedrive lists.
STANDARD_FIELDS: dict[str, tuple[tuple[str, str, str, bool], ...]] = {
    "persons": (
        ("id", "ID", "int", False),
        ("name", "Name", "varchar", True),
        ("first_name", "First name", "varchar", False),
        ("last_name", "Last name", "varchar", False),
        ("email", "Email", "varchar", True),
        ("phone", "Phone", "phone", True),
        ("org_id", "Organization", "org", True),
        ("owner_id", "Owner", "user", True),
        ("visible_to", "Visible to", "visible_to", True),
        ("label_ids", "Labels", "set", True),
        ("add_time", "Person created", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "organizations": (
        ("id", "ID", "int", False),
        ("name", "Name", "varchar", True),
        ("address", "Address", "address", True),
        ("owner_id", "Owner", "user", True),
        ("visible_to", "Visible to", "visible_to", True),
        ("add_time", "Organization created", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "deals": (
        ("id", "ID", "int", False),
        ("title", "Title", "varchar", True),
        ("value", "Value", "monetary", True),
        ("currency", "Currency", "varchar", True),
        ("status", "Status", "status", True),
        ("stage_id", "Stage", "stage", True),
        ("pipeline_id", "Pipeline", "double", True),
        ("person_id", "Contact person", "people", True),
        ("org_id", "Organization", "org", True),
        ("owner_id", "Owner", "user", True),
        ("expected_close_date", "Expected close date", "date", True),
        ("probability", "Probability", "double", True),
        ("add_time", "Deal created", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "activities": (
        ("id", "ID", "int", False),
        ("subject", "Subject", "varchar", True),
        ("type", "Type", "enum", True),
        ("due_date", "Due date", "date", True),
        ("due_time", "Due time", "time", True),
        ("done", "Done", "boolean", True),
        ("note", "Note", "text", True),
        ("person_id", "Contact person", "people", True),
        ("org_id", "Organization", "org", True),
        ("deal_id", "Deal", "deal", True),
        ("owner_id", "Assigned to user", "user", True),
        ("add_time", "Add time", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "notes": (
        ("id", "ID", "int", False),
        ("content", "Content", "text", True),
        ("person_id", "Person", "people", True),
        ("org_id", "Organization", "org", True),
        ("deal_id", "Deal", "deal", True),
        ("user_id", "User", "user", True),
        ("add_time", "Add time", "date", False),
        ("update_time", "Update time", "date", False),
    ),
}
ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")
WEBHOOKS_PER_USER = 40
EVENT_ACTIONS = ("create", "change", "delete", "*", "added", "updated", "deleted", "merged")
# What ``POST /v1/{object}Fields`` takes as ``field_type``.
CREATABLE_TYPES = (
    "address",
    "date",
    "daterange",
    "double",
    "enum",
    "monetary",
    "org",
    "people",
    "phone",
    "set",
    "text",
    "time",
    "timerange",
    "user",
    "varchar",
    "varchar_auto",
)
EVENT_OBJECTS = ("activity", "deal", "note", "organization", "person", "lead", "product", "user", "*")


def _options(given: Any) -> list[str]:
    """An add-field ``options``: labels, or ``{"label"}`` objects, or a JSON-encoded list of either."""
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError:
            raise BadRequest("Invalid options", info="options is a list of {label} objects.") from None
    if given in (None, ""):
        return []
    if not isinstance(given, list):
        raise BadRequest("Invalid options", info="options is a list of {label} objects.")
    labels = [str(o.get("label") if isinstance(o, dict) else o).strip() for o in given]
    return [label for label in labels if label and label != "None"]


def _page(items: list[Any], request: HttpRequest) -> tuple[list[Any], dict[str, Any]]:
    """v1 offset paging: ``start``/``limit`` → ``additional_data.pagination``."""
    start = max(0, _int_param(request, "start", 0))
    limit = max(1, min(_int_param(request, "limit", 100), V1_LIMIT_MAX))
    page = items[start : start + limit]
    more = start + limit < len(items)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return page, {"pagination": pagination}


def _v1_since(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"Invalid timestamp {value!r}", info="Use YYYY-MM-DD HH:MM:SS (UTC).") from None


class PipedriveV1(PipedriveRest):
    """Fields, notes, recents and webhooks."""

    # --- fields -----------------------------------------------------------------------------------

    def fields_view(self, request: HttpRequest, endpoint: str) -> HttpResponse:
        object_type = FIELD_ENDPOINTS.get(endpoint)
        if object_type is None:
            return self.error(404, "Unknown method .")
        handler = {"GET": self._fields, "POST": self._add_field}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} not allowed")
        return self.guard(handler, request, object_type)

    def _fields(self, request: HttpRequest, object_type: str) -> HttpResponse:
        rows: list[dict[str, Any]] = []
        for position, (key, name, kind, editable) in enumerate(STANDARD_FIELDS[object_type], start=1):
            row = {
                "id": position,
                "key": key,
                "name": name,
                "field_type": kind,
                "edit_flag": False,
                "bulk_edit_allowed": editable,
                "mandatory_flag": key in {"name", "title", "subject", "content"},
                "active_flag": True,
            }
            if key == "type" and object_type == "activities":
                row["options"] = [{"id": t, "label": t.capitalize()} for t in ACTIVITY_TYPES]
            if key == "visible_to":
                row["options"] = [
                    {"id": 1, "label": "Owner & followers"},
                    {"id": 3, "label": "Entire company"},
                ]
            if key == "status":
                row["options"] = [{"id": s, "label": s.capitalize()} for s in ("open", "won", "lost")]
            rows.append(row)
        for offset, definition in enumerate(
            self.custom_fields(object_type) if object_type != "notes" else []
        ):
            rows.append(self._custom_row(definition, 9000 + offset))
        page, additional = _page(rows, request)
        return self.ok(page, additional)

    @staticmethod
    def _custom_row(definition: dict[str, Any], fallback_id: int) -> dict[str, Any]:
        """A custom field as the field list (and the add answer) shows it."""
        return {
            "id": definition.get("id", fallback_id),
            "key": definition["key"],
            "name": definition["name"],
            "field_type": definition["field_type"],
            "options": definition.get("options"),
            "add_time": definition.get("add_time"),
            "edit_flag": True,
            "bulk_edit_allowed": True,
            "mandatory_flag": False,
            "active_flag": True,
        }

    def _add_field(self, request: HttpRequest, object_type: str) -> HttpResponse:
        """``POST /v1/personFields`` (organization/deal/activity): a new custom field with a fresh
        40-hex key. Pipedrive allows several fields with one name: each gets its own key."""
        if object_type == "notes":
            return self.error(404, "Unknown method .")
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid request body", info="The body must be a JSON object.")
        name = str(body.get("name") or "").strip()
        if not name:
            raise BadRequest("Field name must be given", info="'name' is required.")
        kind = str(body.get("field_type") or "")
        if kind not in CREATABLE_TYPES:
            raise BadRequest(
                f"Invalid field_type: {kind!r}" if kind else "Field type must be given",
                info=f"field_type is one of {', '.join(CREATABLE_TYPES)}.",
            )
        options = _options(body.get("options"))
        if kind in ("enum", "set") and not options:
            raise BadRequest(f"Options must be given for a field of type {kind}")
        definition = self.add_custom_field(
            object_type,
            name,
            kind,
            options if kind in ("enum", "set") else None,
            key=secrets.token_hex(20),
        )
        return self.ok(self._custom_row(definition, definition["id"]))

    # --- notes ------------------------------------------------------------------------------------

    def notes_view(self, request: HttpRequest) -> HttpResponse:
        handler = {"GET": self._notes, "POST": self._add_note}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} not allowed")
        return self.guard(handler, request)

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        handler = {"GET": self._note, "PUT": self._put_note, "DELETE": self._delete_note}.get(
            request.method or ""
        )
        if handler is None:
            return self.error(405, f"Method {request.method} not allowed")
        return self.guard(handler, request, object_id)

    def _notes(self, request: HttpRequest) -> HttpResponse:
        qs = self.live("notes")
        if request.GET.get("updated_since"):
            qs = qs.filter(updated_at__gte=_v1_since(request.GET["updated_since"]))
        for name in ("person_id", "org_id", "deal_id"):
            if request.GET.get(name):
                qs = qs.filter(**{f"data__{name}": _int_param(request, name, 0)})
        order = ["updated_at", "id"] if request.GET.get("sort", "").startswith("update_time") else ["id"]
        start = max(0, _int_param(request, "start", 0))
        limit = max(1, min(_int_param(request, "limit", 100), V1_LIMIT_MAX))
        rows = list(qs.order_by(*order)[start : start + limit + 1])
        more = len(rows) > limit
        pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return self.ok([self.serialize(r) for r in rows[:limit]], {"pagination": pagination})

    def _note(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self.ok(self.serialize(self.find_one("notes", object_id)))

    def _add_note(self, request: HttpRequest) -> HttpResponse:
        data = self.clean("notes", json_body(request), creating=True)
        if not any(data.get(k) for k in ("person_id", "org_id", "deal_id")):
            raise BadRequest(
                "Note must be attached to a deal, person or organization",
                info="Give deal_id, person_id or org_id.",
            )
        record = self.create("notes", {"user_id": USER_ID, **data})
        self.record_change(record, "create", None)
        return self.ok(self.serialize(record), status=201)

    def _put_note(self, request: HttpRequest, object_id: str) -> HttpResponse:
        record = self.find_one("notes", object_id)
        data = self.clean("notes", json_body(request), creating=False)
        before = self.serialize(record)
        self.update(record, data)
        self.record_change(record, "change", before)
        return self.ok(self.serialize(record))

    def _delete_note(self, request: HttpRequest, object_id: str) -> HttpResponse:
        record = self.find_one("notes", object_id)
        self.soft_delete(record)
        self.record_change(record, "delete", None)
        return self.ok(True)

    # --- recents ----------------------------------------------------------------------------------

    def recents_view(self, request: HttpRequest) -> HttpResponse:
        return self.guard(self._recents, request)

    def _recents(self, request: HttpRequest) -> HttpResponse:
        """Everything changed since ``since_timestamp``, deleted items included (``active_flag``
        false, ``deleted`` true): what tells a poller about deletions."""
        if not request.GET.get("since_timestamp"):
            raise BadRequest("since_timestamp is required", info="YYYY-MM-DD HH:MM:SS")
        since = _v1_since(request.GET["since_timestamp"])
        wanted = [i for i in request.GET.get("items", "").split(",") if i] or list(SINGULAR.values())
        plural = {v: k for k, v in SINGULAR.items()}
        object_types = [plural[i] for i in wanted if i in plural]
        start = max(0, _int_param(request, "start", 0))
        limit = max(1, min(_int_param(request, "limit", 100), V1_LIMIT_MAX))
        qs = SandboxRecord.objects.filter(
            provider=self.provider, object_type__in=object_types, updated_at__gte=since
        )
        rows = list(qs.order_by("updated_at", "id")[start : start + limit + 1])
        items = []
        for row in rows[:limit]:
            body = self.serialize(row)
            body.update(
                active_flag=not row.archived, deleted=row.archived, update_time=v1_time(row.updated_at)
            )
            items.append({"item": SINGULAR[row.object_type], "id": int(row.remote_id), "data": body})
        more = len(rows) > limit
        pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        last = v1_time(rows[min(limit, len(rows)) - 1].updated_at) if rows else None
        return self.ok(
            items,
            {"since_timestamp": v1_time(since), "last_timestamp_on_page": last, "pagination": pagination},
        )

    # --- webhooks registry ------------------------------------------------------------------------

    def webhooks_view(self, request: HttpRequest) -> HttpResponse:
        handler = {"GET": self._webhook_list, "POST": self._webhook_add}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} not allowed")
        return self.guard(handler, request)

    def webhook_view(self, request: HttpRequest, hook_id: str) -> HttpResponse:
        if request.method != "DELETE":
            return self.error(405, f"Method {request.method} not allowed")
        return self.guard(self._webhook_delete, request, hook_id)

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self.state().settings.get("webhooks", []))

    def _webhook_list(self, request: HttpRequest) -> HttpResponse:
        return self.ok([self._public(h) for h in self.subscriptions()])

    @staticmethod
    def _public(hook: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in hook.items() if k != "http_auth_password"}
        shown["http_auth_password"] = "******" if hook.get("http_auth_password") else None
        return shown

    def _webhook_add(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid request body")
        problems = [
            name for name in ("subscription_url", "event_action", "event_object") if not body.get(name)
        ]
        if problems:
            raise BadRequest(f"{', '.join(problems)} is required")
        if body["event_action"] not in EVENT_ACTIONS or body["event_object"] not in EVENT_OBJECTS:
            raise BadRequest("Invalid event_action or event_object")
        if not str(body["subscription_url"]).startswith(("http://", "https://")):
            raise BadRequest("subscription_url must be a full, valid URL")
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)[0]
            hooks = list(state.settings.get("webhooks", []))
            if len(hooks) >= WEBHOOKS_PER_USER:
                raise BadRequest(
                    "Webhooks limit reached",
                    status=403,
                    info=f"At most {WEBHOOKS_PER_USER} webhooks per user.",
                )
            next_id = int(state.settings.get("next_webhook_id", 1))
            hook = {
                "id": next_id,
                "company_id": 12882925,
                "owner_id": USER_ID,
                "user_id": USER_ID,
                "event_action": body["event_action"],
                "event_object": body["event_object"],
                "subscription_url": body["subscription_url"],
                "name": body.get("name") or "",
                "version": str(body.get("version") or "2.0"),
                "is_active": 1,
                "add_time": v1_time(datetime.now(UTC)),
                "type": "general",
                "http_auth_user": body.get("http_auth_user"),
                "http_auth_password": body.get("http_auth_password"),
            }
            state.settings = {**state.settings, "webhooks": [*hooks, hook], "next_webhook_id": next_id + 1}
            state.save(update_fields=["settings"])
        return self.ok(self._public(hook), status=201)

    def _webhook_delete(self, request: HttpRequest, hook_id: str) -> HttpResponse:
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)[0]
            hooks = list(state.settings.get("webhooks", []))
            kept = [h for h in hooks if str(h["id"]) != hook_id]
            if len(kept) == len(hooks):
                raise BadRequest("Webhook not found", status=404)
            state.settings = {**state.settings, "webhooks": kept}
            state.save(update_fields=["settings"])
        return self.ok({"id": int(hook_id)})
