"""Metadata the connector's field discovery and Zoho's SDK read: ``settings/fields?module=``,
``settings/modules``, ``users?type=CurrentUser`` and ``org``; and custom fields created through
``POST settings/fields?module=`` (API v6 and later)."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.sandbox.emulator import json_body
from connectors.sandbox.models import SandboxState
from connectors.zoho.emulator.schema import MODULES, ORG_ID, USER, ZGID, RecordError, ZohoSchema, new_id

# What ``POST settings/fields`` creates, and the length a text field may have.
CREATABLE_TYPES = (
    "text",
    "textarea",
    "email",
    "phone",
    "website",
    "picklist",
    "multiselectpicklist",
    "integer",
    "bigint",
    "double",
    "currency",
    "percent",
    "boolean",
    "date",
    "datetime",
)
TEXT_LENGTH_MAX = 255
FIELD_CREATE_SINCE = 6  # the create-custom-fields API exists from v6
# Scopes that allow creating fields (a grant with none of them is refused OAUTH_SCOPE_MISMATCH).
FIELD_CREATE_SCOPES = frozenset(
    {"ZohoCRM.settings.ALL", "ZohoCRM.settings.fields.ALL", "ZohoCRM.settings.fields.CREATE"}
)


def api_name_for(label: str, taken: set[str]) -> str:
    """The API name Zoho generates from a label: runs of other characters become one underscore
    ("Platform score" → "Platform_score"); a name already taken gets a number."""
    base = re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_") or "Field"
    name, n = base, 1
    while name.casefold() in taken:
        name, n = f"{base}{n}", n + 1
    return name


class ZohoMeta(ZohoSchema):
    def fields_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if request.method == "POST":
            return self._create_fields(request, version)
        if request.method != "GET":
            return self.error(
                405, "the http request method type is not a valid one", code="INVALID_REQUEST_METHOD"
            )
        module = request.GET.get("module", "")
        problem = self._module_problem(module)
        if problem is not None:
            return problem
        return JsonResponse({"fields": self.fields_of(module)})

    def _module_problem(self, module: str) -> HttpResponse | None:
        """Zoho's answer to a missing or unknown ``module`` parameter (None when it is fine)."""
        if not module:
            return self.error(
                400,
                "One of the expected parameter is missing",
                code="REQUIRED_PARAM_MISSING",
                details={"param": "module"},
            )
        if module not in MODULES:
            return self.error(
                400,
                "the module name given seems to be invalid",
                code="INVALID_MODULE",
                details={"module": module},
            )
        return None

    def _create_fields(self, request: HttpRequest, version: str) -> HttpResponse:
        """``POST settings/fields?module=`` with ``{"fields": [{field_label, data_type, length?,
        pick_list_values?}]}``: per field ``SUCCESS`` with its id, or its error (``DUPLICATE_DATA``
        when the module has a field with that label); 201 all made, 207 mixed, 400 none."""
        if int(version[1:]) < FIELD_CREATE_SINCE:
            return self.error(
                400, "the http request method type is not a valid one", code="INVALID_REQUEST_METHOD"
            )
        token = getattr(request, "sandbox_token", None)
        if token is not None and token.scopes and not FIELD_CREATE_SCOPES & set(token.scopes):
            return self.error(
                401,
                "invalid oauth scope to access this URL",
                code="OAUTH_SCOPE_MISMATCH",
                details={"permissions": sorted(FIELD_CREATE_SCOPES)},
            )
        module = request.GET.get("module", "")
        problem = self._module_problem(module)
        if problem is not None:
            return problem
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list) or not body["fields"]:
            return self.error(
                400,
                "body must be a JSON object with a non-empty fields array",
                code="INVALID_DATA",
                details={"api_name": "fields", "expected_data_type": "jsonarray"},
            )
        answers = []
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get_or_create(provider=self.provider)[0]
            catalog = {m: dict(v) for m, v in (state.settings.get("custom_fields") or {}).items()}
            defined = dict(catalog.get(module) or {})
            existing = [*MODULES[module]["fields"], *self.custom_fields(module)]
            names = {f["api_name"].casefold() for f in existing} | {n.casefold() for n in defined}
            labels = {f["field_label"].strip().casefold() for f in existing}
            for position, item in enumerate(body["fields"]):
                try:
                    name, spec = self._new_field(item, names, labels)
                except RecordError as exc:
                    exc.details.setdefault("json_path", f"$.fields[{position}]")
                    answers.append(exc.as_item())
                    continue
                defined[name] = spec
                names.add(name.casefold())
                labels.add(spec["field_label"].strip().casefold())
                answers.append(
                    {
                        "code": "SUCCESS",
                        "details": {"id": spec["id"]},
                        "message": "field created",
                        "status": "success",
                    }
                )
            catalog[module] = defined
            state.settings = {**state.settings, "custom_fields": catalog}
            state.save(update_fields=["settings"])
        made = sum(1 for a in answers if a["status"] == "success")
        return JsonResponse(
            {"fields": answers}, status=400 if not made else (207 if made < len(answers) else 201)
        )

    @staticmethod
    def _new_field(item: Any, names: set[str], labels: set[str]) -> tuple[str, dict[str, Any]]:
        """One field of a create: (API name, its ``custom_fields`` setting entry), or RecordError."""
        if not isinstance(item, dict):
            raise RecordError("INVALID_DATA", "invalid data", {"expected_data_type": "jsonobject"})
        for required in ("field_label", "data_type"):
            if not str(item.get(required) or "").strip():
                raise RecordError("MANDATORY_NOT_FOUND", "required field not found", {"api_name": required})
        label, kind = str(item["field_label"]).strip(), str(item["data_type"])
        if kind not in CREATABLE_TYPES:
            raise RecordError(
                "INVALID_DATA", "invalid data", {"api_name": "data_type", "expected_data_type": "picklist"}
            )
        if label.casefold() in labels:
            raise RecordError("DUPLICATE_DATA", "duplicate data", {"api_name": "field_label"})
        spec: dict[str, Any] = {"field_label": label, "data_type": kind, "id": new_id()}
        if kind == "text":
            length = item.get("length")
            if length in (None, ""):
                raise RecordError("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "length"})
            if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= TEXT_LENGTH_MAX:
                raise RecordError(
                    "INVALID_DATA",
                    "invalid data",
                    {"api_name": "length", "maximum_length": TEXT_LENGTH_MAX},
                )
            spec["length"] = length
        if kind in ("picklist", "multiselectpicklist"):
            values = item.get("pick_list_values")
            if not isinstance(values, list) or not values:
                raise RecordError(
                    "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "pick_list_values"}
                )
            spec["pick_list_values"] = values
        return api_name_for(label, names), spec

    def modules_view(self, request: HttpRequest, version: str) -> HttpResponse:
        modules = [
            {
                "api_name": name,
                "module_name": name,
                "singular_label": spec["singular"],
                "plural_label": name,
                "api_supported": True,
                "generated_type": "default",
                "creatable": True,
                "editable": True,
                "deletable": True,
                "viewable": True,
                "id": str(5725767000000002170 + n),
            }
            for n, (name, spec) in enumerate(MODULES.items())
        ]
        return JsonResponse({"modules": modules})

    def users_view(self, request: HttpRequest, version: str) -> HttpResponse:
        user = {
            **USER,
            "full_name": USER["name"],
            "status": "active",
            "role": {"name": "CEO", "id": "5725767000000026005"},
        }
        return JsonResponse(
            {"users": [user], "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False}}
        )

    def org_view(self, request: HttpRequest, version: str) -> HttpResponse:
        return JsonResponse(
            {
                "org": [
                    {
                        "id": ORG_ID,
                        "zgid": ZGID,
                        "company_name": "Sandbox Org",
                        "primary_email": USER["email"],
                        "currency": "USD",
                        "time_zone": "UTC",
                        "license_details": {"paid_type": "standard", "users_license_purchased": 10},
                    }
                ]
            }
        )
