"""Metadata the connector's field discovery and Zoho's SDK read: ``settings/fields?module=``,
``settings/modules``, ``users?type=CurrentUser`` and ``org``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.zoho.emulator.schema import MODULES, ORG_ID, USER, ZGID, ZohoSchema


class ZohoMeta(ZohoSchema):
    def fields_view(self, request: HttpRequest, version: str) -> HttpResponse:
        module = request.GET.get("module", "")
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
        return JsonResponse({"fields": self.fields_of(module)})

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
