"""The HubSpot portal's data model: object types, their properties, the writable sets, value formats,
record storage (ids, serialisation, validation, writes) and the sample and seed data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from connectors.hubspot.emulator.errors import BadRequest
from connectors.hubspot.emulator.property_catalog import standard_names
from connectors.sandbox.emulator import Emulator, now_ms, sample_phone
from connectors.sandbox.models import SandboxRecord, SandboxState

HUB_ID = 62515
APP_ID = 54321
USER_ID = 1234567

# Writable standard properties per object type (providers.md §1 "Objects & endpoints").
PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "mobilephone",
        "jobtitle",
        "company",
        "hubspot_owner_id",
        "lifecyclestage",
    ),
    "companies": ("name", "domain", "phone", "industry", "hubspot_owner_id"),
    "deals": (
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "closedate",
        "hubspot_owner_id",
        "deal_currency_code",
    ),
    "notes": ("hs_timestamp", "hs_note_body", "hubspot_owner_id"),
    "tasks": (
        "hs_timestamp",
        "hs_task_subject",
        "hs_task_body",
        "hs_task_status",
        "hs_task_priority",
        "hubspot_owner_id",
    ),
    "calls": (
        "hs_timestamp",
        "hs_call_title",
        "hs_call_body",
        "hs_call_direction",
        "hs_call_duration",
        "hubspot_owner_id",
    ),
    "emails": ("hs_timestamp", "hs_email_subject", "hs_email_text", "hs_email_direction", "hubspot_owner_id"),
    "meetings": (
        "hs_timestamp",
        "hs_meeting_title",
        "hs_meeting_body",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hubspot_owner_id",
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {"notes": ("hs_timestamp",)}
# What HubSpot returns when the caller names no properties.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
}
CREATED_PROPS = ("createdate", "hs_createdate")
MODIFIED_PROPS = ("lastmodifieddate", "hs_lastmodifieddate")
READ_ONLY = {"hs_object_id", *CREATED_PROPS, *MODIFIED_PROPS}
SEED_CHUNK = 2_000


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: datetime) -> int:
    """Epoch milliseconds, exactly (float timestamps can be off by one)."""
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def as_string(name: str, value: Any) -> str:
    """HubSpot keeps every property value as a string; objects and lists are refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float | str):
        return str(value)
    raise BadRequest(f"Property values were not valid: {name} must be a string, number or boolean")


def modified_prop(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def created_prop(object_type: str) -> str:
    return "createdate" if object_type in {"contacts", "companies", "deals"} else "hs_createdate"


class HubSpotSchema(Emulator):
    """Object types and records: what may be written, how records are stored, shown, seeded and touched."""

    def object_types(self) -> tuple[str, ...]:
        return tuple(PROPERTIES)

    def writable(self, object_type: str) -> set[str]:
        custom = self.limits().get("custom_properties", {}).get(object_type, [])
        return {*PROPERTIES[object_type], *custom}

    def allocate_ids(self, count: int) -> list[str]:
        """``count`` fresh numeric ids, increasing, never reused until reset."""
        with transaction.atomic():
            state, _ = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)
            start = int(state.settings.get("next_id", 101))
            state.settings = {**state.settings, "next_id": start + count}
            state.save(update_fields=["settings"])
        return [str(start + i) for i in range(count)]

    def serialize(self, record: SandboxRecord, properties: list[str] | None) -> dict[str, Any]:
        wanted = list(properties) if properties else list(DEFAULT_PROPERTIES.get(record.object_type, ()))
        always = ("hs_object_id", created_prop(record.object_type), modified_prop(record.object_type))
        # HubSpot ignores names it does not know; a custom property shows once it holds a value.
        known = standard_names(record.object_type)
        props = {
            name: record.data.get(name) for name in (*always, *wanted) if name in known or name in record.data
        }
        body: dict[str, Any] = {
            "id": record.remote_id,
            "properties": props,
            "createdAt": iso(record.created_at),
            "updatedAt": iso(record.updated_at),
            "archived": record.archived,
        }
        if record.archived and record.archived_at:
            body["archivedAt"] = iso(record.archived_at)
        return body

    def clean_properties(self, object_type: str, given: Any, *, creating: bool) -> dict[str, str]:
        """Validate and stringify a write; raise BadRequest the way HubSpot words it."""
        if not isinstance(given, dict):
            raise BadRequest("Invalid input JSON: properties must be an object")
        allowed = self.writable(object_type)
        problems = []
        for name in given:
            if name in READ_ONLY:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                        "error": "READ_ONLY_VALUE",
                        "name": name,
                    }
                )
            elif name not in allowed:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": name,
                    }
                )
        if creating:
            for name in REQUIRED.get(object_type, ()):
                if not given.get(name):
                    problems.append(
                        {
                            "isValid": False,
                            "message": f'Property "{name}" is required',
                            "error": "REQUIRED_PROPERTY",
                            "name": name,
                        }
                    )
        if problems:
            raise BadRequest(f"Property values were not valid: {json.dumps(problems)}")
        clean = {name: as_string(name, value) for name, value in given.items()}
        if "email" in clean:
            clean["email"] = clean["email"].strip().lower()  # HubSpot keeps emails lower-case
        return clean

    def existing_emails(self, emails: list[str], *, exclude: set[str] = frozenset()) -> dict[str, str]:
        """email → id of live contacts holding it: one query for a whole batch."""
        wanted = [e for e in emails if e]
        if not wanted:
            return {}
        rows = self.records("contacts").filter(archived=False, data__email__in=wanted)
        return {r.data["email"]: r.remote_id for r in rows if r.remote_id not in exclude}

    def new_record(
        self, object_type: str, remote_id: str, props: dict[str, str], when: datetime
    ) -> SandboxRecord:
        data = {k: v for k, v in props.items() if v != ""}
        data.update(
            {
                "hs_object_id": remote_id,
                created_prop(object_type): iso(when),
                modified_prop(object_type): iso(when),
            }
        )
        return SandboxRecord(
            provider=self.provider,
            object_type=object_type,
            remote_id=remote_id,
            data=data,
            created_at=when,
            updated_at=when,
        )

    def apply_update(self, record: SandboxRecord, props: dict[str, str], when: datetime) -> None:
        for name, value in props.items():
            if value == "":
                record.data.pop(name, None)  # "" clears a value
            else:
                record.data[name] = value
        record.data[modified_prop(record.object_type)] = iso(when)
        record.updated_at = when

    def create_many(self, object_type: str, items: list[dict[str, str]]) -> list[SandboxRecord | BadRequest]:
        """Create records in order; each result is the record or the error that refused it."""
        outcome: list[SandboxRecord | BadRequest] = []
        taken = self.existing_emails([p.get("email", "") for p in items]) if object_type == "contacts" else {}
        ids = iter(self.allocate_ids(len(items)))
        when = now_ms()
        fresh: list[SandboxRecord] = []
        for props in items:
            email = props.get("email", "")
            if email and email in taken:
                outcome.append(self.contact_exists(taken[email]))
                continue
            record = self.new_record(object_type, next(ids), props, when)
            if email:
                taken[email] = record.remote_id
            fresh.append(record)
            outcome.append(record)
        SandboxRecord.objects.bulk_create(fresh)
        return outcome

    @staticmethod
    def contact_exists(existing_id: str) -> BadRequest:
        return BadRequest(
            f"Contact already exists. Existing ID: {existing_id}",
            category="OBJECT_ALREADY_EXISTS",
            status=409,
            error="CONTACT_EXISTS",
        )

    def find(self, object_type: str, ids: list[str], *, id_property: str = "", archived: bool = False):
        """id (or idProperty value) → record, for the given ids."""
        qs = self.records(object_type).filter(archived=archived)
        if id_property and id_property != "hs_object_id":
            if id_property != "email" or object_type != "contacts":
                raise BadRequest(f"{id_property} is not a unique identifier property")
            lowered = [i.strip().lower() for i in ids]
            return {r.data.get("email"): r for r in qs.filter(data__email__in=lowered)}
        return {r.remote_id: r for r in qs.filter(remote_id__in=ids)}

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        if entity == "contact":
            return {
                "email": f"sample{i}@example.com",
                "firstname": f"Sample{i}",
                "lastname": "Person",
                "phone": sample_phone(i),
                "jobtitle": "Buyer",
            }
        if entity == "company":
            return {
                "name": f"Sample Co {i}",
                "domain": f"sample{i}.example.com",
                "industry": "COMPUTER_SOFTWARE",
            }
        if entity == "deal":
            return {
                "dealname": f"Sample deal {i}",
                "amount": str(1000 + i),
                "dealstage": "appointmentscheduled",
                "pipeline": "default",
            }
        if entity == "activity":
            return {
                "_kind": "note",
                "hs_note_body": f"Sample note {i}",
                "hs_timestamp": str(1_700_000_000_000 + i),
            }
        raise ValueError(f"hubspot has no {entity!r} records")

    def invalid_record(self, entity: str) -> dict[str, Any]:
        """A record HubSpot refuses with VALIDATION_ERROR: it names a property that does not exist."""
        record = self.sample_record(entity, 999_999)
        record["no_such_property"] = "x"
        return record

    def seed(self, object_type: str, count: int, request: HttpRequest | None = None) -> int:
        """bulk_create ``count`` records, modified one second apart ending now, in chunks."""
        object_type = object_type.lower()
        if object_type not in PROPERTIES:
            raise ValueError(f"hubspot cannot seed {object_type!r}: one of {', '.join(PROPERTIES)}")
        if count < 0:
            raise ValueError("count must be positive")
        ids = self.allocate_ids(count)
        end = now_ms()
        for start in range(0, count, SEED_CHUNK):
            batch = [
                self.new_record(
                    object_type,
                    ids[i],
                    self._seed_props(object_type, ids[i]),
                    end - timedelta(seconds=count - i),
                )
                for i in range(start, min(count, start + SEED_CHUNK))
            ]
            SandboxRecord.objects.bulk_create(batch)
        return count

    @staticmethod
    def _seed_props(object_type: str, remote_id: str) -> dict[str, str]:
        n = int(remote_id)
        return {
            "contacts": {
                "firstname": f"Seed{n}",
                "lastname": "Contact",
                "email": f"seed{n}@example.com",
                "phone": sample_phone(n),
                "company": f"Seed Co {n % 97}",
                "lifecyclestage": "lead",
            },
            "companies": {"name": f"Seed Co {n}", "domain": f"seed{n}.example.com", "industry": "RETAIL"},
            "deals": {
                "dealname": f"Seed deal {n}",
                "amount": str(100 + n % 900),
                "dealstage": "qualifiedtobuy",
                "pipeline": "default",
                "closedate": "1767225600000",
            },
            "notes": {"hs_note_body": f"Seed note {n}", "hs_timestamp": "1700000000000"},
            "tasks": {
                "hs_task_subject": f"Seed task {n}",
                "hs_task_status": "NOT_STARTED",
                "hs_timestamp": "1700000000000",
            },
            "calls": {
                "hs_call_title": f"Seed call {n}",
                "hs_call_direction": "OUTBOUND",
                "hs_timestamp": "1700000000000",
            },
            "emails": {"hs_email_subject": f"Seed email {n}", "hs_timestamp": "1700000000000"},
            "meetings": {"hs_meeting_title": f"Seed meeting {n}", "hs_timestamp": "1700000000000"},
        }[object_type]

    def touch(self, object_type: str, remote_id: str, fields: dict[str, Any]) -> None:
        """Change a record as a CRM user would: new values, a new modified time."""
        remote_id = remote_id.rpartition("/")[2]  # accept activity ids like "notes/123"
        record = self.records(object_type).get(remote_id=remote_id)
        self.apply_update(record, {k: as_string(k, v) for k, v in fields.items()}, now_ms())
        record.save(update_fields=["data", "updated_at"])
