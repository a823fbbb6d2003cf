"""Salesforce's Tooling API for custom fields: ``POST /services/data/vXX.X/tooling/sobjects/CustomField/``
with ``{"FullName": "Contact.Score__c", "Metadata": {"label", "type", ...}}`` creates a field, and
``GET .../CustomField/{id}`` reads one back.

A created field joins the org's ``custom_fields`` setting (the same place configured fields live), so
from then on it is in the object's describe (``custom: true``), queryable and writable. The metadata is
checked as Salesforce checks it: a developer name of letters, digits and single underscores ending in
``__c``, a label, the sizes each type requires (Number: precision 1-18 and scale; Text: length up to
255; LongTextArea: length 256-131072 and visibleLines); a name the object already has answers 400
``DUPLICATE_DEVELOPER_NAME``. Refusals are Salesforce's JSON-array error body.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.salesforce.client import normalize_id
from connectors.salesforce.emulator.errors import RequestError
from connectors.salesforce.emulator.schema import OBJECTS, new_ids
from connectors.sandbox.emulator import Emulator, json_body
from connectors.sandbox.models import SandboxState

CUSTOM_FIELD_PREFIX = "00N"  # CustomField ids' key prefix
DEVELOPER_NAME = re.compile(r"^[A-Za-z](?!.*__)[A-Za-z0-9_]{0,39}(?<!_)$")
MAX_LABEL = 40
# Metadata type → the describe type the field gets, and the sizes it must give.
TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Number": ("double", ("precision", "scale")),
    "Currency": ("currency", ("precision", "scale")),
    "Percent": ("percent", ("precision", "scale")),
    "Text": ("string", ("length",)),
    "TextArea": ("textarea", ()),
    "LongTextArea": ("textarea", ("length", "visibleLines")),
    "Checkbox": ("boolean", ("defaultValue",)),
    "Date": ("date", ()),
    "DateTime": ("datetime", ()),
    "Email": ("email", ()),
    "Phone": ("phone", ()),
    "Url": ("url", ()),
}
TEXT_AREA_LENGTH = 255


def _integrity(message: str, fields: tuple[str, ...] = ()) -> RequestError:
    return RequestError(400, "FIELD_INTEGRITY_EXCEPTION", message, fields)


def _int(metadata: dict[str, Any], name: str) -> int:
    value = metadata.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _integrity(f"{name}: value not of required type: {value!r}", (name,))
    return int(value)


def _sizes(kind: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The field's sizes, checked against the type's bounds."""
    required = TYPES[kind][1]
    missing = [name for name in required if metadata.get(name) in (None, "")]
    if missing:
        raise _integrity(f"{missing[0].capitalize()}: You must enter a value", tuple(missing))
    if "precision" in required:
        precision, scale = _int(metadata, "precision"), _int(metadata, "scale")
        if not 1 <= precision <= 18 or not 0 <= scale <= precision:
            raise _integrity("The precision must be 1-18 and the scale 0 up to the precision", ("precision",))
        return {"precision": precision, "scale": scale}
    if kind == "Text":
        length = _int(metadata, "length")
        if not 1 <= length <= 255:
            raise _integrity("Length: the length of a Text field must be 1-255", ("length",))
        return {"length": length}
    if kind == "LongTextArea":
        length, lines = _int(metadata, "length"), _int(metadata, "visibleLines")
        if not 256 <= length <= 131_072 or lines < 2:
            raise _integrity(
                "Length must be 256-131072 and visibleLines at least 2 for a Long Text Area",
                ("length", "visibleLines"),
            )
        return {"length": length}
    if kind == "TextArea":
        return {"length": TEXT_AREA_LENGTH}
    return {}


class SalesforceTooling(Emulator):
    """The Tooling API's CustomField resource."""

    def tooling_custom_fields_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:  # type: ignore[attr-defined]
            return bad
        if request.method != "POST":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are POST")
        body = json_body(request)
        if not isinstance(body, dict):
            return self.error(400, "The body must be a JSON object", code="JSON_PARSER_ERROR")
        try:
            made = self._create_custom_field(body)
        except RequestError as exc:
            return self._refusal(exc)  # type: ignore[attr-defined]
        return JsonResponse(
            {"id": made, "success": True, "errors": [], "warnings": [], "infos": []}, status=201
        )

    def tooling_custom_field_view(self, request: HttpRequest, version: str, field_id: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:  # type: ignore[attr-defined]
            return bad
        if request.method != "GET":
            return self.error(405, f"HTTP Method '{request.method}' not allowed. Allowed are GET")
        wanted = normalize_id(field_id)
        for sobject, fields in (self.setting("custom_fields", {}) or {}).items():
            for name, options in fields.items():
                if wanted and options.get("tooling_id") == wanted:
                    return JsonResponse(_as_tooling(sobject, name, options, version))
        return self.error(404, "The requested resource does not exist", code="NOT_FOUND")

    def _create_custom_field(self, body: dict[str, Any]) -> str:
        full_name, metadata = str(body.get("FullName") or ""), body.get("Metadata")
        if not isinstance(metadata, dict):
            raise _integrity("Metadata: You must enter a value", ("Metadata",))
        sobject, _, name = full_name.partition(".")
        found = next((known for known in OBJECTS if known.lower() == sobject.lower()), None)
        if found is None:
            raise _integrity(f"FullName: no sObject named {sobject!r}", ("FullName",))
        if not name.endswith("__c") or not DEVELOPER_NAME.match(name.removesuffix("__c")):
            raise RequestError(
                400,
                "INVALID_FIELD",
                f"The field name {name!r} is not valid: use letters, digits and single underscores, "
                "starting with a letter, at most 40 characters, ending in __c",
                ["FullName"],
            )
        label, kind = str(metadata.get("label") or ""), str(metadata.get("type") or "")
        if not label or len(label) > MAX_LABEL:
            raise _integrity(f"Field Label: enter 1-{MAX_LABEL} characters", ("label",))
        if kind not in TYPES:
            raise _integrity(f"Data Type: {kind!r} is not one of {', '.join(TYPES)}", ("type",))
        options = {"type": TYPES[kind][0], "label": label, **_sizes(kind, metadata), "metadata": metadata}
        with transaction.atomic():
            state, _ = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)
            configured = dict(state.settings.get("custom_fields", {}) or {})
            of_object = dict(configured.get(found, {}))
            spec = self._spec(found)  # type: ignore[attr-defined]
            if spec.lookup(name) is not None:
                raise RequestError(
                    400,
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already a field named {name.removesuffix('__c')} on {found}.",
                )
            options["tooling_id"] = new_ids(CUSTOM_FIELD_PREFIX)[0]
            of_object[name] = options
            configured[found] = of_object
            state.settings = {**state.settings, "custom_fields": configured}
            state.save(update_fields=["settings"])
        return options["tooling_id"]


def _as_tooling(sobject: str, name: str, options: dict[str, Any], version: str) -> dict[str, Any]:
    """A CustomField record as the Tooling API returns it."""
    field_id = options["tooling_id"]
    return {
        "attributes": {
            "type": "CustomField",
            "url": f"/services/data/{version}/tooling/sobjects/CustomField/{field_id}",
        },
        "Id": field_id,
        "DeveloperName": name.removesuffix("__c"),
        "TableEnumOrId": sobject,
        "FullName": f"{sobject}.{name}",
        "Metadata": options.get("metadata") or {"label": options.get("label"), "type": options.get("type")},
    }
