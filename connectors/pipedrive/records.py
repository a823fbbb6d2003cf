"""Pipedrive v2 bodies ↔ the flat fields a RemoteRecord carries, and relations ↔ id fields.

Read: ``emails``/``phones`` become ``email``/``phone`` (the primary entry), an organization's
``address`` its text, ``custom_fields`` one field per hash key (``custom_fields.<key>``), and the id fields that point at other
records (``org_id``, ``person_id``, ``deal_id``) become ``RemoteRecord.relations``. Activities carry
``_kind`` (from ``type``; notes are ``note``). Write: the reverse, with ``first_name``/``last_name``
dropped (Pipedrive derives them from ``name``) and ``custom_fields.<key>`` sent inside
``custom_fields``.

A deal has one person (``person_id``): ``contact_ids`` reads as that one id. Deal participants
(``/v1/deals/{id}/participants``) are not synced: reading them costs a request per deal, which a
delta of many deals cannot afford; a write adding several contacts links the first and reports the
others as failed relations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import RELATIONS_KEY, RemoteRecord
from connectors.pipedrive.fields import custom_key, custom_name, is_custom

# Relation name → the id field holding it, per remote type.
RELATION_FIELDS: dict[str, dict[str, str]] = {
    "persons": {"company_id": "org_id"},
    "deals": {"company_id": "org_id", "contact_ids": "person_id"},
    "activities": {"contact_id": "person_id", "company_id": "org_id", "deal_id": "deal_id"},
    "notes": {"contact_id": "person_id", "company_id": "org_id", "deal_id": "deal_id"},
}
# Flat fields read per remote type (besides custom fields).
READ_FIELDS: dict[str, tuple[str, ...]] = {
    "persons": (
        "name",
        "first_name",
        "last_name",
        "owner_id",
        "visible_to",
        "label_ids",
        "add_time",
        "update_time",
    ),
    "organizations": ("name", "owner_id", "visible_to", "add_time", "update_time"),
    "deals": (
        "title",
        "value",
        "currency",
        "status",
        "stage_id",
        "pipeline_id",
        "owner_id",
        "expected_close_date",
        "probability",
        "add_time",
        "update_time",
    ),
    "activities": (
        "subject",
        "type",
        "due_date",
        "due_time",
        "done",
        "note",
        "owner_id",
        "add_time",
        "update_time",
    ),
    "notes": ("content", "user_id", "add_time", "update_time"),
}
# Standard fields a write may carry per remote type (flat names).
WRITE_FIELDS: dict[str, frozenset[str]] = {
    "persons": frozenset({"name", "email", "phone", "owner_id", "visible_to", "label_ids"}),
    "organizations": frozenset({"name", "address", "owner_id", "visible_to", "label_ids"}),
    "deals": frozenset(
        {
            "title",
            "value",
            "currency",
            "status",
            "stage_id",
            "pipeline_id",
            "owner_id",
            "expected_close_date",
            "probability",
            "visible_to",
        }
    ),
    "activities": frozenset(
        {"subject", "type", "due_date", "due_time", "duration", "done", "note", "owner_id"}
    ),
    "notes": frozenset({"content", "user_id"}),
}
ACTIVITY_KINDS = {
    "call": "call",
    "meeting": "meeting",
    "email": "email",
    "task": "task",
    "deadline": "task",
    "lunch": "meeting",
}
KIND_TYPES = {"call": "call", "meeting": "meeting", "event": "meeting", "email": "email", "task": "task"}
# Fields the other activity object has: a write to one drops the other's.
FOREIGN = {"activities": {"content", "user_id"}, "notes": WRITE_FIELDS["activities"] - {"owner_id"}}


def parse_time(value: Any) -> datetime | None:
    """v2 RFC 3339 (``2025-01-01T10:20:00Z``) or v1 ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def v1_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def primary(points: Any) -> str | None:
    """The primary entry of ``emails``/``phones`` (v2 objects, or the strings search returns)."""
    if not isinstance(points, list) or not points:
        return None
    entries = [p if isinstance(p, dict) else {"value": p} for p in points]
    chosen = next((p for p in entries if p.get("primary")), entries[0])
    return str(chosen.get("value") or "") or None


def record_id(remote_type: str, bare_id: Any) -> str:
    """Activities span two objects: their ids read ``activities/12`` and ``notes/34``."""
    return f"{remote_type}/{bare_id}" if remote_type in ("activities", "notes") else str(bare_id)


def split_id(entity: str, remote_id: str, default_type: str) -> tuple[str, str]:
    if entity != "activity":
        return default_type, remote_id
    remote_type, _, bare = remote_id.partition("/")
    if remote_type not in ("activities", "notes") or not bare.isdecimal():
        raise ValueError(f"activity ids look like activities/12 or notes/34, not {remote_id!r}")
    return remote_type, bare


def to_record(remote_type: str, raw: Mapping[str, Any], wanted: frozenset[str] = frozenset()) -> RemoteRecord:
    fields: dict[str, Any] = {name: raw.get(name) for name in READ_FIELDS[remote_type] if name in raw}
    if remote_type == "persons":
        fields["email"], fields["phone"] = primary(raw.get("emails")), primary(raw.get("phones"))
    if remote_type == "organizations":
        address = raw.get("address")
        fields["address"] = address.get("value") if isinstance(address, dict) else address
    if remote_type == "activities":
        fields["_kind"] = ACTIVITY_KINDS.get(str(raw.get("type") or ""), "task")
    if remote_type == "notes":
        fields["_kind"] = "note"
    for key, value in (raw.get("custom_fields") or {}).items():
        fields[custom_name(key)] = value
    for key in wanted:  # a mapped custom field with no value is still read, as empty
        if is_custom(key):
            fields.setdefault(key, None)
    relations = {
        name: (str(raw[field]),) if raw.get(field) else ()
        for name, field in RELATION_FIELDS.get(remote_type, {}).items()
    }
    return RemoteRecord(
        id=record_id(remote_type, raw["id"]),
        modified_at=parse_time(raw.get("update_time")),
        fields=fields,
        remote_type=remote_type,
        relations=relations,
    )


def tombstone(remote_type: str, bare_id: Any, when: datetime | None, replaced_by: Any = None) -> RemoteRecord:
    return RemoteRecord(
        id=record_id(remote_type, bare_id),
        modified_at=when,
        fields={},
        deleted=True,
        remote_type=remote_type,
        replaced_by=record_id(remote_type, replaced_by) if replaced_by else "",
    )


def to_body(remote_type: str, fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the request body, relation name → why it cannot be written) for a payload of flat fields."""
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in fields.items():
        if name in (RELATIONS_KEY, "_kind", "first_name", "last_name", "id", "add_time", "update_time"):
            continue
        if name in FOREIGN.get(remote_type, set()):
            continue
        if is_custom(name):
            custom[custom_key(name)] = value
        elif remote_type == "persons" and name in ("email", "phone"):
            body[f"{name}s"] = (
                [{"value": str(value), "primary": True, "label": "work"}] if value not in (None, "") else []
            )
        elif remote_type == "organizations" and name == "address":
            body["address"] = {"value": str(value)} if value not in (None, "") else None
        else:
            body[name] = value  # unknown names go as they are: Pipedrive refuses them clearly
    if remote_type == "persons" and "name" not in body and ("first_name" in fields or "last_name" in fields):
        name = " ".join(str(fields[k]).strip() for k in ("first_name", "last_name") if fields.get(k))
        if name:
            body["name"] = name
    if remote_type == "activities" and "type" not in body and fields.get("_kind"):
        body["type"] = KIND_TYPES.get(str(fields["_kind"]), "task")
    if custom:
        body["custom_fields"] = custom
    failed = relation_fields(remote_type, fields.get(RELATIONS_KEY) or {}, body)
    return body, failed


def relation_fields(remote_type: str, changes: Mapping[str, Any], body: dict[str, Any]) -> dict[str, str]:
    """Put ``RELATIONS_KEY`` changes into the id fields; returns the relations that cannot be
    written (unknown here, or more than the one id the field holds)."""
    failed: dict[str, str] = {}
    fields = RELATION_FIELDS.get(remote_type, {})
    for name, delta in changes.items():
        field = fields.get(name)
        if field is None:
            failed[name] = f"Pipedrive {remote_type} have no {name!r} relation"
            continue
        adds = [str(i) for i in (delta or {}).get("add") or []]
        removes = [str(i) for i in (delta or {}).get("remove") or []]
        if adds:
            body[field] = int(adds[0]) if adds[0].isdecimal() else adds[0]
            if len(adds) > 1:
                failed[name] = (
                    f"a Pipedrive {remote_type[:-1]} has one {field}: linked {adds[0]}, not {', '.join(adds[1:])}"
                )
        elif removes:
            body[field] = None
    return failed


def coerce_custom(kinds: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """Custom values as Pipedrive takes them: option ids (``enum``) and lists of them (``set``) as
    integers, numbers as numbers. Mappings hand over text ("2", "1,3"); Pipedrive refuses text ids."""
    return {key: _coerce(kinds.get(key, ""), value) for key, value in values.items()}


def _coerce(kind: str, value: Any) -> Any:
    if value in (None, ""):
        return None
    if kind == "enum":
        return _number(value, integral=True)
    if kind == "set":
        items = value if isinstance(value, list | tuple) else str(value).replace(";", ",").split(",")
        return [_number(item, integral=True) for item in items if str(item).strip()]
    if kind in ("double", "monetary", "int"):
        return _number(value, integral=kind == "int")
    return value


def _number(value: Any, *, integral: bool) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return value  # not a number: Pipedrive's 400 will say so
    return int(number) if integral or number.is_integer() else number
