"""Pipedrive field definitions (``GET /v1/personFields`` …) → RemoteField.

Custom fields are keyed by a 40-hex hash (``RemoteField.name``) and carry their human name as the
label, so a mapping written against the label ("Tier") resolves to the hash the API speaks.
Enumeration options travel as option ids; ``options`` pairs them with their labels.
The connector flattens v2 records (``email``/``phone`` are the primary entries of ``emails``/
``phones``; ``address`` is the address text), so standard fields keep their v1 keys as names.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.base import RemoteField

CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")
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
# Fields Pipedrive computes: never written.
READ_ONLY = {"id", "add_time", "update_time", "first_name", "last_name"}
# Dates that are datetimes on the wire (v2: RFC 3339).
DATETIMES = {"add_time", "update_time"}


def is_custom(name: str) -> bool:
    return bool(CUSTOM_KEY.match(name))


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
    return RemoteField(
        name=key,
        label=str(raw.get("name") or key),
        type=kind,
        options=tuple(
            (str(o.get("id")), str(o.get("label") or o.get("id"))) for o in raw.get("options") or []
        ),
        custom=is_custom(key),
        read_only=key in READ_ONLY,
        remote_type=remote_type,
        format={"date": "date", "datetime": "iso"}.get(kind, ""),
    )
