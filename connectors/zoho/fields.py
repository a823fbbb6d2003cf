"""Zoho field metadata (``settings/fields``) as RemoteFields: types, picklists, custom flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import FieldSpec, RemoteField

# Zoho data_type → RemoteField type (FIELD_TYPES).
TYPES = {
    "text": "string",
    "textarea": "text",
    "email": "email",
    "phone": "phone",
    "website": "url",
    "picklist": "enumeration",
    "multiselectpicklist": "multi_enumeration",
    "integer": "number",
    "bigint": "number",
    "double": "number",
    "decimal": "number",
    "currency": "number",
    "percent": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "lookup": "reference",
    "ownerlookup": "reference",
    "userlookup": "reference",
    "multiselectlookup": "reference",
    "autonumber": "string",
    "formula": "string",
}
FORMATS = {"date": "date", "datetime": "iso"}
# FieldSpec type → the data_type a created custom field gets; text fields take a length.
CREATE_TYPES = {"number": "double", "string": "text", "text": "textarea"}
TEXT_LENGTH = 255


def create_body(spec: FieldSpec) -> dict[str, Any]:
    """One field of ``POST settings/fields``: Zoho names it by its label (the API name it generates
    is the label with underscores for spaces: "Platform score" → ``Platform_score``)."""
    kind = CREATE_TYPES.get(spec.type, "text")
    body: dict[str, Any] = {"field_label": spec.label, "data_type": kind}
    if kind == "text":
        body["length"] = TEXT_LENGTH
    return body


def labelled(raw: Mapping[str, Any], label: str) -> bool:
    """Whether a field carries this label (Zoho refuses a second field with one, case aside)."""
    return str(raw.get("field_label") or "").strip().casefold() == label.strip().casefold()


def remote_field(raw: Mapping[str, Any], remote_type: str = "") -> RemoteField:
    """One field: picklist options as (actual_value, display_value), read-only from Zoho's flags."""
    kind = str(raw.get("data_type") or "text")
    options = tuple(
        (str(p.get("actual_value")), str(p.get("display_value") or p.get("actual_value")))
        for p in raw.get("pick_list_values") or []
        if isinstance(p, Mapping) and p.get("actual_value") not in (None, "-None-")
    )
    name = str(raw["api_name"])
    return RemoteField(
        name=name,
        label=str(raw.get("field_label") or raw.get("display_label") or name),
        type=TYPES.get(kind, "string"),
        options=options,
        custom=bool(raw.get("custom_field")),
        read_only=bool(raw.get("read_only") or raw.get("field_read_only")),
        remote_type=remote_type,
        format=FORMATS.get(kind, ""),
    )
