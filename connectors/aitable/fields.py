"""AITable columns (``GET …/fields``) as ``RemoteField``s, and the bodies that create columns.

Every column is one the user named, so ``name`` and ``label`` are both the column name (records are
read and written with ``fieldKey=name``). Types map onto ``FIELD_TYPES``; computed columns (formulas,
lookups, auto numbers, created/modified time and by) and those the API marks ``editable: false`` are
read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import FieldSpec, PermanentError, RemoteField

TYPES = {
    "SingleText": "string",
    "Text": "text",
    "SingleSelect": "enumeration",
    "MultiSelect": "multi_enumeration",
    "Number": "number",
    "Currency": "number",
    "Percent": "number",
    "Rating": "number",
    "AutoNumber": "number",
    "DateTime": "datetime",
    "CreatedTime": "datetime",
    "LastModifiedTime": "datetime",
    "Checkbox": "boolean",
    "Email": "email",
    "Phone": "phone",
    "URL": "url",
    "OneWayLink": "reference",
    "TwoWayLink": "reference",
    "MagicLink": "reference",
    "Member": "string",
    "CreatedBy": "string",
    "LastModifiedBy": "string",
    "Attachment": "string",
    "WorkDoc": "text",
    "MagicLookUp": "string",
    "Formula": "string",
    "Button": "string",
}
COMPUTED = {
    "AutoNumber",
    "CreatedTime",
    "LastModifiedTime",
    "CreatedBy",
    "LastModifiedBy",
    "MagicLookUp",
    "Formula",
    "Button",
    # Written through ids and tokens the mapping layer does not make: shown, never mapped to.
    "Attachment",
    "Member",
    "WorkDoc",
}
# What a computed column's ``valueType`` says it yields.
VALUE_TYPES = {"Number": "number", "DateTime": "datetime", "Boolean": "boolean", "String": "string"}

# FieldSpec type → the column ``create_fields`` adds (``POST …/fields`` body without the name).
CREATE_BODIES: dict[str, dict[str, Any]] = {
    "string": {"type": "SingleText", "property": {}},
    "text": {"type": "Text"},
    "number": {"type": "Number", "property": {"precision": 2}},
}


def remote_field(raw: Mapping[str, Any]) -> RemoteField:
    kind = str(raw.get("type") or "")
    prop = raw.get("property") if isinstance(raw.get("property"), Mapping) else {}
    field_type = TYPES.get(kind, "string")
    if kind in ("Formula", "MagicLookUp"):
        field_type = VALUE_TYPES.get(str(prop.get("valueType") or ""), "string")
    options: tuple[tuple[str, str], ...] = ()
    if field_type in ("enumeration", "multi_enumeration"):
        options = tuple(
            (str(option["name"]), str(option["name"]))
            for option in prop.get("options") or []
            if isinstance(option, Mapping) and option.get("name")
        )
    name = str(raw.get("name") or "")
    return RemoteField(
        name=name,
        label=name,
        type=field_type,
        options=options,
        read_only=kind in COMPUTED or raw.get("editable") is False,
        format="epoch_ms" if field_type == "datetime" else "",
    )


def create_body(spec: FieldSpec) -> dict[str, Any]:
    """The ``POST …/fields`` body for a column named ``spec.name`` (the name the platform finds
    it by again)."""
    if spec.type not in CREATE_BODIES:
        raise PermanentError(f"AITable columns of type {spec.type!r} are not created by the platform")
    return {**CREATE_BODIES[spec.type], "name": spec.name}


def primary(raws: list[Mapping[str, Any]]) -> str:
    """The primary column's name (the first column when none is marked)."""
    for raw in raws:
        if raw.get("isPrimary"):
            return str(raw.get("name") or "")
    return str(raws[0].get("name") or "") if raws else ""
