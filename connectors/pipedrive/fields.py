"""Pipedrive field definitions (``GET /v1/personFields`` …) → RemoteField.

Custom fields are keyed by a 40-hex hash and carry their human name as the label, so a mapping
written against the label ("Tier") resolves to the hash the API speaks. Their remote name is the
path of the value in a v2 body, ``custom_fields.<hash>`` (a bare hash may start with a digit, which
mapping names may not).
Enumeration options travel as option ids; ``options`` pairs them with their labels.
The connector flattens v2 records (``email``/``phone`` are the primary entries of ``emails``/
``phones``; ``address`` is the address text), so standard fields keep their v1 keys as names.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.base import FieldSpec, RemoteField

CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")
CUSTOM_PREFIX = "custom_fields."
TYPES = {
    "varchar": "string",
    "varchar_auto": "string",
    "varchar_options": "string",
    "text": "text",
    "double": "number",
    "monetary": "number",
    "int": "number",
    "date": "date",
    "daterange": "date",
    "time": "string",
    "timerange": "string",
    "enum": "enumeration",
    "set": "multi_enumeration",
    "visible_to": "enumeration",
    "status": "enumeration",
    "phone": "phone",
    "address": "string",
    "boolean": "boolean",
    "user": "reference",
    "org": "reference",
    "people": "reference",
    "deal": "reference",
    "stage": "reference",
}
# FieldSpec type → the ``field_type`` a created custom field gets.
CREATE_TYPES = {"number": "double", "string": "varchar", "text": "text"}
# Fields Pipedrive computes: never written.
READ_ONLY = {"id", "add_time", "update_time", "first_name", "last_name"}
# Dates that are datetimes on the wire (v2: RFC 3339).
DATETIMES = {"add_time", "update_time"}


def is_custom(name: str) -> bool:
    """Whether a flat field name is a custom field's (``custom_fields.<40-hex key>``)."""
    return name.startswith(CUSTOM_PREFIX) and bool(CUSTOM_KEY.match(name[len(CUSTOM_PREFIX) :]))


def custom_name(key: str) -> str:
    return f"{CUSTOM_PREFIX}{key}"


def custom_key(name: str) -> str:
    return name[len(CUSTOM_PREFIX) :]


def field_type(raw: dict[str, Any]) -> str:
    key, kind = str(raw.get("key", "")), str(raw.get("field_type", ""))
    if key == "id":
        return "id"
    if key == "email":
        return "email"
    if key in DATETIMES:
        return "datetime"
    return TYPES.get(kind, "string")


def remote_field(raw: dict[str, Any], remote_type: str = "") -> RemoteField:
    key = str(raw["key"])
    kind = field_type(raw)
    custom = bool(CUSTOM_KEY.match(key))
    return RemoteField(
        name=custom_name(key) if custom else key,
        label=str(raw.get("name") or key),
        type=kind,
        options=tuple(
            (str(o.get("id")), str(o.get("label") or o.get("id"))) for o in raw.get("options") or []
        ),
        custom=custom,
        read_only=key in READ_ONLY,
        remote_type=remote_type,
        format={"date": "date", "datetime": "iso"}.get(kind, ""),
    )


def create_body(spec: FieldSpec) -> dict[str, Any]:
    """``POST /v1/personFields`` body: Pipedrive names a custom field by its label (its API name is
    the hash it generates)."""
    return {"name": spec.label, "field_type": CREATE_TYPES.get(spec.type, "varchar")}


def same_name(raw: dict[str, Any], spec: FieldSpec) -> bool:
    """Whether a field definition is the custom field ``spec`` asks for: Pipedrive lets names
    repeat, so an existing one (case and spacing aside) is used rather than made twice."""
    return bool(CUSTOM_KEY.match(str(raw.get("key", "")))) and (
        str(raw.get("name") or "").strip().casefold() == spec.label.strip().casefold()
    )
