"""Pipedrive's records as the emulator keeps them: v2 shapes, soft deletes, custom fields, errors.

A ``SandboxRecord`` per object (``persons``, ``organizations``, ``deals``, ``activities``, ``notes``):
``data`` holds the v2 body without ``id``/``add_time``/``update_time`` (those come from the row), and a
delete only marks the row (``archived``), as Pipedrive's "marked as deleted" does (providers.md §3).
Custom fields are keyed by 40-hex hashes; their definitions live in the ``custom_fields`` setting.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpResponse, JsonResponse

from connectors.sandbox.emulator import Emulator, now_ms, sample_phone
from connectors.sandbox.models import SandboxRecord, SandboxState

COMPANY_ID = 12882925
USER_ID = 18487521
SEED_CHUNK = 2_000

# v2 object → the singular name webhooks and field endpoints use.
SINGULAR = {
    "persons": "person",
    "organizations": "organization",
    "deals": "deal",
    "activities": "activity",
    "notes": "note",
}
# Writable standard fields per object (providers.md §3 "Objects & endpoints").
WRITABLE: dict[str, tuple[str, ...]] = {
    "persons": ("name", "owner_id", "org_id", "emails", "phones", "visible_to", "label_ids"),
    "organizations": ("name", "owner_id", "address", "visible_to", "label_ids"),
    "deals": (
        "title",
        "value",
        "currency",
        "status",
        "stage_id",
        "pipeline_id",
        "person_id",
        "org_id",
        "owner_id",
        "expected_close_date",
        "probability",
        "visible_to",
    ),
    "activities": (
        "subject",
        "type",
        "due_date",
        "due_time",
        "duration",
        "done",
        "person_id",
        "org_id",
        "deal_id",
        "owner_id",
        "note",
    ),
    "notes": ("content", "person_id", "org_id", "deal_id", "user_id", "pinned_to_deal_flag"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "persons": ("name",),
    "organizations": ("name",),
    "deals": ("title",),
    "activities": ("subject",),
    "notes": ("content",),
}
# What Pipedrive fills in on create when the body leaves it out: the token's user owns the record,
# visible to the whole company (3), no labels, the default pipeline's first stage.
DEFAULTS: dict[str, dict[str, Any]] = {
    "persons": {"owner_id": USER_ID, "visible_to": 3, "label_ids": [], "emails": [], "phones": []},
    "organizations": {"owner_id": USER_ID, "visible_to": 3, "label_ids": []},
    "deals": {
        "owner_id": USER_ID,
        "visible_to": 3,
        "label_ids": [],
        "pipeline_id": 1,
        "stage_id": 1,
        "value": 0,
        "person_id": None,
        "org_id": None,
        "expected_close_date": None,
    },
    "activities": {"owner_id": USER_ID},
    "notes": {"user_id": USER_ID},
}
# v2 properties Pipedrive's OpenAPI description lets be null (tests/connectors/pipedrive/
# published_shapes.json); any other property with no value is left out of a body, not sent as null.
NULLABLE: dict[str, frozenset[str]] = {
    "persons": frozenset(),
    "organizations": frozenset({"website", "linkedin", "industry", "annual_revenue", "employee_count"}),
    "deals": frozenset(
        {"person_id", "org_id", "expected_close_date", "probability", "lost_reason", "close_time"}
        | {"won_time", "lost_time", "stage_change_time", "origin_id", "channel", "channel_id"}
    ),
    "activities": frozenset({"outcome"}),
}
# Objects whose v2 model has ``custom_fields`` (activities have none).
WITH_CUSTOM_FIELDS = frozenset({"persons", "organizations", "deals"})
# Fields that point at another object: a write naming a missing (or deleted) one is refused.
REFERENCES = {"org_id": "organizations", "person_id": "persons", "deal_id": "deals"}


class BadRequest(Exception):
    """A request Pipedrive refuses: ``{"success": false, "error": ..., "error_info": ...}``."""

    def __init__(self, message: str, *, status: int = 400, info: str = ""):
        super().__init__(message)
        self.message, self.status, self.info = message, status, info


def rfc3339(value: datetime) -> str:
    """Pipedrive v2 times: ``2025-01-01T10:20:00Z`` (second precision)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_time(value: datetime) -> str:
    """Pipedrive v1 times: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_rfc3339(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"Invalid date-time value: {value!r}", info="Use RFC 3339, e.g. 2025-01-01T10:20:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def field_key(object_type: str, name: str) -> str:
    """The 40-hex key Pipedrive gives a custom field (stable here: derived from its name)."""
    return hashlib.sha1(f"{object_type}:{name}".encode(), usedforsecurity=False).hexdigest()


def now_seconds() -> datetime:
    """Now at Pipedrive's precision (whole seconds)."""
    return now_ms().replace(microsecond=0)


class PipedriveStore(Emulator):
    """Records, their v2 bodies, validation and the sample data the contract suite uses."""

    provider = "pipedrive"

    # --- errors ---------------------------------------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        body = {
            "success": False,
            "error": message,
            "error_info": extra.get("info") or "Please check developers.pipedrive.com for more information.",
            "data": None,
            "additional_data": {},
        }
        if code:
            body["code"] = code
        return JsonResponse(body, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(
            401,
            "unauthorized access",
            info="Please provide a valid api_token (x-api-token header) or an OAuth access token.",
        )

    def ok(self, data: Any, additional: dict[str, Any] | None = None, *, status: int = 200) -> JsonResponse:
        """Pipedrive's envelope."""
        body: dict[str, Any] = {"success": True, "data": data}
        if additional is not None:
            body["additional_data"] = additional
        return JsonResponse(body, status=status)

    # --- custom fields ----------------------------------------------------------------------------

    def custom_fields(self, object_type: str) -> list[dict[str, Any]]:
        """Custom field definitions: ``{"key", "name", "field_type", "options"?}`` per object."""
        return list(self.state().settings.get("custom_fields", {}).get(SINGULAR[object_type], []))

    def add_custom_field(
        self,
        object_type: str,
        name: str,
        field_type: str = "varchar",
        options: list[str] | None = None,
        *,
        key: str = "",
    ) -> dict[str, Any]:
        """Define a custom field (as the Pipedrive UI does); returns its definition with its hash key.

        Without ``key`` the key derives from the name (stable across resets, for tests and demos) and
        redefines a field of that name; the add-field endpoint passes a fresh one, as Pipedrive
        generates one per field even when names repeat."""
        definition: dict[str, Any] = {
            "key": key or field_key(object_type, name),
            "name": name,
            "field_type": field_type,
            "add_time": v1_time(now_seconds()),
        }
        if options:
            definition["options"] = [{"id": i + 1, "label": label} for i, label in enumerate(options)]
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)[0]
            catalog = dict(state.settings.get("custom_fields", {}))
            fields = [f for f in catalog.get(SINGULAR[object_type], []) if f["key"] != definition["key"]]
            definition["id"] = int(state.settings.get("next_field_id", 9000))
            catalog[SINGULAR[object_type]] = [*fields, definition]
            state.settings = {
                **state.settings,
                "custom_fields": catalog,
                "next_field_id": definition["id"] + 1,
            }
            state.save(update_fields=["settings"])
        return definition

    # --- records ----------------------------------------------------------------------------------

    def allocate_ids(self, count: int) -> list[str]:
        with transaction.atomic():
            state, _ = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)
            start = int(state.settings.get("next_id", 1))
            state.settings = {**state.settings, "next_id": start + count}
            state.save(update_fields=["settings"])
        return [str(start + i) for i in range(count)]

    def serialize(self, record: SandboxRecord) -> dict[str, Any]:
        body: dict[str, Any] = {"id": int(record.remote_id), **record.data}
        body["add_time"] = rfc3339(record.created_at)
        body["update_time"] = rfc3339(record.updated_at)
        if record.object_type == "notes":  # notes stay v1: their own time format and flags
            body["add_time"], body["update_time"] = v1_time(record.created_at), v1_time(record.updated_at)
            body["active_flag"] = not record.archived
            return body
        body["is_deleted"] = record.archived
        if record.object_type in WITH_CUSTOM_FIELDS:
            body.setdefault("custom_fields", {})
        nullable = NULLABLE[record.object_type]
        return {k: v for k, v in body.items() if v is not None or k in nullable}

    def live(self, object_type: str):
        return self.records(object_type).filter(archived=False)

    def find_one(self, object_type: str, remote_id: str) -> SandboxRecord:
        record = self.live(object_type).filter(remote_id=str(remote_id)).first()
        if record is None:
            raise BadRequest(f"{SINGULAR[object_type].capitalize()} not found", status=404)
        return record

    def clean(self, object_type: str, given: Any, *, creating: bool) -> dict[str, Any]:
        """Validate a write body the way Pipedrive words its 400s; returns what to store."""
        if not isinstance(given, dict):
            raise BadRequest("Invalid request body", info="The body must be a JSON object.")
        allowed = set(WRITABLE[object_type]) | (
            {"custom_fields"} if object_type in WITH_CUSTOM_FIELDS else set()
        )
        unknown = sorted(k for k in given if k not in allowed)
        if unknown:
            raise BadRequest(f"Unknown field(s): {', '.join(unknown)}", info="Check the request body fields.")
        if creating:
            for name in REQUIRED[object_type]:
                if not str(given.get(name) or "").strip():
                    raise BadRequest(f"{name.capitalize()} must be given", info=f"'{name}' is required.")
        elif any(name in given and not str(given[name] or "").strip() for name in REQUIRED[object_type]):
            raise BadRequest(f"{REQUIRED[object_type][0].capitalize()} cannot be empty")
        clean = dict(given)
        for name, target in REFERENCES.items():
            if clean.get(name) not in (None, ""):
                try:
                    ref = int(clean[name])
                except (TypeError, ValueError):
                    raise BadRequest(f"Invalid {name}: {clean[name]!r}") from None
                if not self.live(target).filter(remote_id=str(ref)).exists():
                    raise BadRequest(f"{SINGULAR[target].capitalize()} with id {ref} not found", info=name)
                clean[name] = ref
            elif name in clean:
                clean[name] = None
        for name in ("emails", "phones"):
            if name in clean:
                clean[name] = self._contact_points(name, clean[name])
        if clean.get("address") is not None and not isinstance(clean["address"], dict):
            raise BadRequest("Invalid address", info="address is an object: {value, country, locality, ...}.")
        if "custom_fields" in clean:
            clean["custom_fields"] = self._custom_values(object_type, clean["custom_fields"])
        return clean

    @staticmethod
    def _contact_points(name: str, value: Any) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) and "value" in v for v in value):
            raise BadRequest(
                f"Invalid {name}", info=f"{name} is a list of {{value, primary, label}} objects."
            )
        points = [
            {
                "value": str(v["value"]),
                "primary": bool(v.get("primary")),
                "label": str(v.get("label") or "work"),
            }
            for v in value
            if str(v.get("value") or "").strip()
        ]
        if points and not any(p["primary"] for p in points):
            points[0]["primary"] = True
        return points

    def _custom_values(self, object_type: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadRequest("Invalid custom_fields", info="custom_fields is an object keyed by field key.")
        known = {f["key"]: f for f in self.custom_fields(object_type)}
        unknown = sorted(k for k in value if k not in known)
        if unknown:
            raise BadRequest(f"Unknown custom field key(s): {', '.join(unknown)}")
        for key, item in value.items():
            options = {o["id"] for o in known[key].get("options", [])}
            chosen = item if isinstance(item, list) else [item]
            if options and any(v is not None and v not in options for v in chosen):
                raise BadRequest(f"Invalid option for custom field {known[key]['name']!r}: {item!r}")
        return dict(value)

    def new_record(
        self, object_type: str, remote_id: str, data: dict[str, Any], when: datetime
    ) -> SandboxRecord:
        return SandboxRecord(
            provider=self.provider,
            object_type=object_type,
            remote_id=remote_id,
            data=self._derived(object_type, data),
            created_at=when,
            updated_at=when,
        )

    @staticmethod
    def _derived(object_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Read-only fields Pipedrive computes: a person's first and last name from ``name``."""
        data = {k: v for k, v in data.items()}
        if object_type == "persons" and "name" in data:
            first, _, last = str(data["name"]).strip().partition(" ")
            data["first_name"], data["last_name"] = first, last or None
        if object_type == "deals":
            data.setdefault("status", "open")
            data.setdefault("currency", "USD")
        if object_type == "activities":
            data.setdefault("type", "task")
            data.setdefault("done", False)
        return data

    def create(self, object_type: str, data: dict[str, Any]) -> SandboxRecord:
        record = self.new_record(
            object_type, self.allocate_ids(1)[0], {**DEFAULTS[object_type], **data}, now_seconds()
        )
        record.save()
        return record

    def update(self, record: SandboxRecord, data: dict[str, Any]) -> None:
        merged = dict(record.data)
        custom = {**merged.get("custom_fields", {}), **data.pop("custom_fields", {})}
        merged.update(data)
        if custom:
            merged["custom_fields"] = {k: v for k, v in custom.items() if v is not None}
        record.data = self._derived(record.object_type, merged)
        record.updated_at = max(now_seconds(), record.updated_at)
        record.save(update_fields=["data", "updated_at"])

    def soft_delete(self, record: SandboxRecord) -> None:
        record.archived, record.archived_at = True, now_seconds()
        record.updated_at = max(record.archived_at, record.updated_at)
        record.save(update_fields=["archived", "archived_at", "updated_at"])

    def merge(self, object_type: str, loser_id: str, winner_id: str) -> tuple[SandboxRecord, SandboxRecord]:
        """Merge one record into another as the Pipedrive UI does: the loser is deleted, its empty
        fields filled on the winner, and what pointed at the loser points at the winner."""
        loser, winner = self.find_one(object_type, loser_id), self.find_one(object_type, winner_id)
        fill = {
            k: v
            for k, v in loser.data.items()
            if not winner.data.get(k) and k not in ("first_name", "last_name")
        }
        self.update(winner, fill)
        field = {"persons": "person_id", "organizations": "org_id", "deals": "deal_id"}.get(object_type)
        if field:
            for other in SINGULAR:
                for ref in self.live(other).filter(**{f"data__{field}": int(loser.remote_id)}):
                    self.update(ref, {field: int(winner.remote_id)})
        loser.data = {**loser.data, "merged_to_id": int(winner.remote_id)}
        loser.save(update_fields=["data"])
        self.soft_delete(loser)
        return loser, winner

    # --- samples and seeds ------------------------------------------------------------------------

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        """A create payload in the connector's field names (see connectors/pipedrive/connector.py)."""
        if entity == "contact":
            return {"name": f"Sample{i} Person", "email": f"sample{i}@example.com", "phone": sample_phone(i)}
        if entity == "company":
            return {"name": f"Sample Co {i}", "address": f"{i} Sample Street"}
        if entity == "deal":
            return {"title": f"Sample deal {i}", "value": 1000 + i, "currency": "EUR"}
        if entity == "activity":
            return {"_kind": "task", "subject": f"Sample task {i}", "due_date": "2026-01-15"}
        raise ValueError(f"pipedrive has no {entity!r} records")

    def invalid_record(self, entity: str) -> dict[str, Any]:
        """A record Pipedrive refuses with 400: its required name/title/subject is blank."""
        record = self.sample_record(entity, 999_999)
        for name in ("name", "title", "subject"):
            if name in record:
                record[name] = ""
        return record

    def seed(self, object_type: str, count: int, request: Any = None) -> int:
        """bulk_create ``count`` records modified one second apart ending now."""
        object_type = object_type.lower()
        if object_type not in SINGULAR:
            raise ValueError(f"pipedrive cannot seed {object_type!r}: one of {', '.join(SINGULAR)}")
        if count < 0:
            raise ValueError("count must be positive")
        ids = self.allocate_ids(count)
        end = now_seconds()
        for start in range(0, count, SEED_CHUNK):
            SandboxRecord.objects.bulk_create(
                self.new_record(
                    object_type,
                    ids[i],
                    {**DEFAULTS[object_type], **self._seed_data(object_type, int(ids[i]))},
                    end - timedelta(seconds=count - i),
                )
                for i in range(start, min(count, start + SEED_CHUNK))
            )
        return count

    @staticmethod
    def _seed_data(object_type: str, n: int) -> dict[str, Any]:
        return {
            "persons": {
                "name": f"Seed{n} Person",
                "emails": [{"value": f"seed{n}@example.com", "primary": True, "label": "work"}],
                "phones": [{"value": sample_phone(n), "primary": True, "label": "work"}],
                "owner_id": USER_ID,
                "visible_to": 3,
            },
            "organizations": {"name": f"Seed Co {n}", "owner_id": USER_ID, "visible_to": 3},
            "deals": {
                "title": f"Seed deal {n}",
                "value": 100 + n % 900,
                "currency": "USD",
                "stage_id": 1,
                "pipeline_id": 1,
            },
            "activities": {"subject": f"Seed call {n}", "type": "call", "due_date": "2026-01-15"},
            "notes": {"content": f"Seed note {n}"},
        }[object_type]

    def touch(self, object_type: str, remote_id: str, data: dict[str, Any]) -> None:
        """Change a record as a Pipedrive user would: new values, a new update_time."""
        self.update(self.find_one(object_type, remote_id.rpartition("/")[2]), dict(data))
