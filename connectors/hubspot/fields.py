"""HubSpot property definitions (``GET /crm/v3/properties/{objectType}``) → RemoteField.

HubSpot types a property twice: ``type`` (string, number, date, datetime, enumeration, bool,
phone_number) says what the value is, ``fieldType`` (text, textarea, select, checkbox,
booleancheckbox, phonenumber...) how it is edited. Both matter: a ``checkbox`` enumeration holds
several values (``a;b``), a ``booleancheckbox`` one is a yes/no. Dates and datetimes travel as
epoch-millisecond strings (a date at midnight UTC), hence ``format="epoch_ms"``; system dates such as
``createdate`` come back as ISO 8601 text, which the epoch formats of ``date_format`` read too.
"""

from __future__ import annotations

from typing import Any

from connectors.base import FieldSpec, RemoteField

SCALAR_TYPES = {"number": "number", "date": "date", "datetime": "datetime", "bool": "boolean"}
FIELD_TYPES = {
    "textarea": "text",
    "html": "text",
    "phonenumber": "phone",
    "phone_number": "phone",
    "checkbox": "multi_enumeration",
    "booleancheckbox": "boolean",
}


# FieldSpec types → how a new property is typed: (type, fieldType).
CREATE_TYPES = {
    "number": ("number", "number"),
    "string": ("string", "text"),
    "text": ("string", "textarea"),
}


def property_create_body(spec: FieldSpec, *, name: str, group: str) -> dict[str, Any]:
    """The ``POST /crm/v3/properties/{type}`` body for a custom field the platform wants."""
    if spec.type not in CREATE_TYPES:
        raise ValueError(
            f"HubSpot properties are not created as {spec.type!r} here: use number, string or text"
        )
    kind, edit = CREATE_TYPES[spec.type]
    return {"name": name, "label": spec.label, "type": kind, "fieldType": edit, "groupName": group}


def field_type(raw: dict[str, Any]) -> str:
    """One of FIELD_TYPES (connectors.types) for a HubSpot property definition."""
    name, kind, edit = str(raw.get("name", "")), str(raw.get("type", "")), str(raw.get("fieldType", ""))
    if name == "hs_object_id":
        return "id"
    if raw.get("referencedObjectType"):
        return "reference"  # e.g. hubspot_owner_id → an owner
    if kind == "phone_number":
        return "phone"
    if kind in SCALAR_TYPES:
        return SCALAR_TYPES[kind]
    if kind == "enumeration":
        return (
            FIELD_TYPES.get(edit, "enumeration") if edit in {"checkbox", "booleancheckbox"} else "enumeration"
        )
    if name == "email":
        return "email"
    return FIELD_TYPES.get(edit, "string")


def remote_field(raw: dict[str, Any], remote_type: str = "") -> RemoteField:
    kind = field_type(raw)
    metadata = raw.get("modificationMetadata") or {}
    return RemoteField(
        name=str(raw["name"]),
        label=str(raw.get("label") or raw["name"]),
        type=kind,
        options=tuple(
            (str(o.get("value", "")), str(o.get("label") or o.get("value", "")))
            for o in raw.get("options") or []
            if not o.get("hidden")
        ),
        custom=not raw.get("hubspotDefined", False),
        read_only=bool(metadata.get("readOnlyValue") or raw.get("calculated")),
        remote_type=remote_type,
        format="epoch_ms" if kind in {"date", "datetime"} else "",
    )
