"""HubSpot's properties API: list and read an object type's properties and property groups,
create custom ones.

Standard properties come from ``property_catalog``; custom ones live in the emulator's settings
(``property_definitions``: {type: {name: definition}}), so every process sees them. The older
``custom_properties`` setting ({type: [names]}) still works: its names are plain text properties.
Property groups: each type's standard group (``contactinformation``...) plus the ones created
(``property_groups`` setting); a property names an existing group, as HubSpot requires.
Records accept values for custom properties once they exist, checked the way HubSpot checks them:
enumeration values against the options, numbers, booleans, and date values at midnight UTC.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.hubspot.emulator.association_types import object_type_name
from connectors.hubspot.emulator.errors import BadRequest
from connectors.hubspot.emulator.property_catalog import (
    definition,
    group_name,
    standard_group_label,
    standard_properties,
)
from connectors.hubspot.emulator.schema import iso
from connectors.sandbox.emulator import Emulator, json_body
from connectors.sandbox.models import SandboxState

DAY_MS = 86_400_000
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
FIELD_TYPES = {
    "string": {"text", "textarea", "html", "phonenumber", "file"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "bool": {"booleancheckbox"},
}


def _problem(name: str, message: str, error: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


class HubSpotProperties(Emulator):
    """The properties views, custom property storage, and value checks for custom properties."""

    # --- definitions ----------------------------------------------------------------------------

    def custom_definitions(self, object_type: str) -> dict[str, dict[str, Any]]:
        settings = self.state().settings
        legacy = {
            name: definition(name, name, group=group_name(object_type), hubspot_defined=False)
            for name in settings.get("custom_properties", {}).get(object_type, [])
        }
        return {**legacy, **settings.get("property_definitions", {}).get(object_type, {})}

    def property_groups(self, object_type: str) -> dict[str, dict[str, Any]]:
        """name → group: the type's standard group, then the ones created through the API."""
        standard = group_name(object_type)
        created = self.state().settings.get("property_groups", {}).get(object_type, {})
        return {standard: _group(standard, standard_group_label(object_type), 0), **created}

    def property_definitions(self, object_type: str) -> dict[str, dict[str, Any]]:
        return {**standard_properties(object_type), **self.custom_definitions(object_type)}

    def writable(self, object_type: str) -> set[str]:
        """The standard writable set (``HubSpotSchema``) plus every custom property."""
        custom = {n for n, d in self.custom_definitions(object_type).items() if not _read_only(d)}
        return {*super().writable(object_type), *custom}  # type: ignore[misc]

    def clean_properties(self, object_type: str, given: Any, *, creating: bool) -> dict[str, str]:
        """``HubSpotSchema``'s checks, then the value checks HubSpot makes for custom properties."""
        clean = super().clean_properties(object_type, given, creating=creating)  # type: ignore[misc]
        custom = self.custom_definitions(object_type)
        problems = []
        for name, value in list(clean.items()):
            if name in custom and value != "":
                checked = _check_value(custom[name], value)
                if isinstance(checked, dict):
                    problems.append(checked)
                else:
                    clean[name] = checked
        if problems:
            raise BadRequest(f"Property values were not valid: {json.dumps(problems)}")
        return clean

    # --- views ------------------------------------------------------------------------------------

    def properties_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        handler = {"GET": self._list_properties, "POST": self._create_property}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_properties(request, object_type, handler)

    def groups_view(self, request: HttpRequest, object_type: str) -> HttpResponse:
        handler = {"GET": self._list_groups, "POST": self._create_group}.get(request.method or "")
        if handler is None:
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_properties(request, object_type, handler)

    def group_view(self, request: HttpRequest, object_type: str, name: str) -> HttpResponse:
        if request.method != "GET":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_properties(request, object_type, self._read_group, name)

    def property_view(self, request: HttpRequest, object_type: str, name: str) -> HttpResponse:
        if request.method != "GET":
            return self.error(405, f"Method {request.method} is not supported on this path")
        return self._guard_properties(request, object_type, self._read_property, name)

    def _guard_properties(self, request: HttpRequest, object_type: str, handler: Any, *args: Any):
        found = object_type_name(object_type)
        if found is None:
            return self.error(400, f"Unable to infer object type from: {object_type}")
        try:
            return handler(request, found, *args)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, code=exc.category, **exc.extra)

    def _list_properties(self, request: HttpRequest, object_type: str) -> HttpResponse:
        return JsonResponse({"results": list(self.property_definitions(object_type).values())})

    def _read_property(self, request: HttpRequest, object_type: str, name: str) -> HttpResponse:
        found = self.property_definitions(object_type).get(name)
        if found is None:
            raise BadRequest(
                f"Unable to find property {name} for object type {object_type}",
                category="OBJECT_NOT_FOUND",
                status=404,
            )
        return JsonResponse(found)

    def _list_groups(self, request: HttpRequest, object_type: str) -> HttpResponse:
        return JsonResponse({"results": list(self.property_groups(object_type).values())})

    def _read_group(self, request: HttpRequest, object_type: str, name: str) -> HttpResponse:
        found = self.property_groups(object_type).get(name)
        if found is None:
            raise BadRequest(
                f"Unable to find property group {name} for object type {object_type}",
                category="OBJECT_NOT_FOUND",
                status=404,
            )
        return JsonResponse(found)

    def _create_group(self, request: HttpRequest, object_type: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        missing = [f for f in ("name", "label") if not body.get(f)]
        if missing:
            raise BadRequest(f"Invalid input JSON: missing required fields {', '.join(missing)}")
        name = str(body["name"])
        if not NAME_RE.match(name):
            raise BadRequest(
                f"Property group name '{name}' is invalid: use lower-case letters, digits and "
                "underscores, starting with a letter"
            )
        made = _group(name, str(body["label"]), int(body.get("displayOrder", -1)))
        with transaction.atomic():
            state, _ = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)
            groups = dict(state.settings.get("property_groups", {}))
            of_type = dict(groups.get(object_type, {}))
            if name in of_type or name == group_name(object_type):
                raise BadRequest(
                    f"A property group named '{name}' already exists.",
                    category="OBJECT_ALREADY_EXISTS",
                    status=409,
                )
            of_type[name] = made
            groups[object_type] = of_type
            state.settings = {**state.settings, "property_groups": groups}
            state.save(update_fields=["settings"])
        return JsonResponse(made, status=201)

    def _create_property(self, request: HttpRequest, object_type: str) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("Invalid input JSON on line 1")
        made = self._new_definition(object_type, body)
        if made["groupName"] not in self.property_groups(object_type):
            raise BadRequest(f"Property group {made['groupName']} does not exist")
        with transaction.atomic():
            state, _ = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)
            defined = dict(state.settings.get("property_definitions", {}))
            of_type = dict(defined.get(object_type, {}))
            if made["name"] in of_type or made["name"] in self.property_definitions(object_type):
                raise BadRequest(
                    f"Property named '{made['name']}' already exists.",
                    category="OBJECT_ALREADY_EXISTS",
                    status=409,
                )
            of_type[made["name"]] = made
            defined[object_type] = of_type
            state.settings = {**state.settings, "property_definitions": defined}
            state.save(update_fields=["settings"])
        return JsonResponse(made, status=201)

    @staticmethod
    def _new_definition(object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """A PropertyCreate body → the stored definition, refused the way HubSpot words it."""
        missing = [f for f in ("name", "label", "type", "fieldType", "groupName") if not body.get(f)]
        if missing:
            raise BadRequest(f"Invalid input JSON: missing required fields {', '.join(missing)}")
        name, type_, field_type = str(body["name"]), str(body["type"]), str(body["fieldType"])
        if not NAME_RE.match(name):
            raise BadRequest(
                f"Property name '{name}' is invalid: use lower-case letters, digits and underscores, "
                "starting with a letter"
            )
        if field_type not in FIELD_TYPES.get(type_, set()):
            raise BadRequest(f"Property type {type_!r} cannot have fieldType {field_type!r}")
        options = body.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, dict) and "value" in o for o in options):
            raise BadRequest("options must be a list of {label, value} objects")
        if type_ == "enumeration" and not options and not body.get("externalOptions"):
            raise BadRequest("An enumeration property needs at least one option")
        now = iso(timezone.now())
        return {
            **definition(
                name,
                str(body["label"]),
                type_,
                field_type,
                group=str(body["groupName"]),
                hubspot_defined=False,
                options=tuple((str(o["value"]), str(o.get("label", o["value"]))) for o in options),
            ),
            "description": str(body.get("description") or ""),
            "displayOrder": int(body.get("displayOrder", -1)),
            "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
            "hidden": bool(body.get("hidden", False)),
            "formField": bool(body.get("formField", False)),
            "createdAt": now,
            "updatedAt": now,
        }


def _group(name: str, label: str, display_order: int) -> dict[str, Any]:
    return {"name": name, "label": label, "displayOrder": display_order, "archived": False}


def _read_only(found: dict[str, Any]) -> bool:
    return bool((found.get("modificationMetadata") or {}).get("readOnlyValue"))


def _check_value(found: dict[str, Any], value: str) -> str | dict[str, Any]:
    """The stored value, or the problem HubSpot reports for it."""
    name, type_ = found["name"], found["type"]
    allowed = [o["value"] for o in found.get("options") or []]
    if type_ == "enumeration" and allowed:
        chosen = value.split(";") if found.get("fieldType") == "checkbox" else [value]
        wrong = [v for v in chosen if v not in allowed]
        if wrong:
            return _problem(
                name, f"{wrong[0]} was not one of the allowed options: {allowed}", "INVALID_OPTION"
            )
    elif type_ == "bool" and value not in {"true", "false"}:
        return _problem(name, f"{value} is not a valid boolean (true or false)", "INVALID_BOOLEAN")
    elif type_ == "number":
        try:
            float(value)
        except ValueError:
            return _problem(name, f"{value} is not a valid number", "INVALID_FLOAT")
    elif type_ in {"date", "datetime"}:
        return _check_date(name, type_, value)
    return value


def _check_date(name: str, type_: str, value: str) -> str | dict[str, Any]:
    """Dates and datetimes travel as epoch milliseconds; a date must be midnight UTC. A date
    given as ``YYYY-MM-DD`` is stored as that midnight."""
    if not value.isdecimal():
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return _problem(name, f"{value} is not a valid date: use epoch milliseconds", "INVALID_DATE")
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        value = str(int(parsed.timestamp() * 1000))
    if type_ == "date" and int(value) % DAY_MS:
        return _problem(name, f"{value} is not at midnight UTC, as a date must be", "INVALID_DATE")
    return value
