"""How the OpenAPI schema describes the API: authentication (drf-spectacular extensions) and the
schema class every API view uses (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"])."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from integrations.api.common import ERROR_RESPONSES, error_response


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api.authentication.ApiKeyAuthentication"
    name = ["ApiKeyBearer", "ApiKeyHeader"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A sub-account API key: `Authorization: Bearer <key>`",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Api-Key",
                "description": "The same key in `X-Api-Key`",
            },
        ]


class StaffSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api.authentication.StaffSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A staff admin session, with `X-Subaccount: <slug>` naming the sub-account",
        }


class ApiAutoSchema(AutoSchema):
    """The schema of every API operation says what the server does, without per-view boilerplate.

    - every error status the operation can answer, with the ``{"error": {...}}`` body (common.py);
      an explicitly declared 4xx without a body gets that body too;
    - query parameters: empty means absent (``allowEmptyValue``), as django-filter, our query
      serializers and the paginator all treat it, and filter bounds (``min_value``/``max_value``);
    - ``openapi_schema_extra`` on a serializer class is merged into its component (e.g.
      ``additionalProperties: false`` where unknown names are refused).
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        for parameter in query:
            parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for code, response in list(responses.items()):
            if code.isdigit() and int(code) >= 400 and "content" not in response:
                responses[code] = self._error_response(int(code), response.get("description"))
        for code in self._error_statuses(operation, bool(query)):
            if str(code) not in responses:
                responses[str(code)] = self._error_response(code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation: dict, has_query: bool) -> set[int]:
        codes: set[int] = set()
        if any(not issubclass(p, AllowAny) for p in getattr(self.view, "permission_classes", [])):
            codes |= {401, 403}  # no key, a bad key; a staff session naming no sub-account it manages
        if "{" in self.path or any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
            codes.add(404)  # another sub-account's or no such object; an invalid cursor
        if has_query:
            codes.add(400)
        if "requestBody" in operation:
            codes |= {400, 415}  # invalid or malformed JSON; not JSON at all
        return codes

    def _error_response(self, code: int, description: str | None = None) -> dict:
        declared = ERROR_RESPONSES.get(code) or error_response("Refused")
        if description and description != "No response body":
            declared = error_response(description)
        return self._get_response_for_code(declared, str(code))

    def _get_filter_parameters(self):
        parameters = super()._get_filter_parameters()
        filterset_class = self._filterset_class()
        if filterset_class is None:
            return parameters
        filters = filterset_class.base_filters
        for parameter in parameters:
            found = filters.get(parameter["name"])
            if found is None:
                continue
            schema = parameter.setdefault("schema", {})
            if "min_value" in found.extra:
                schema["minimum"] = found.extra["min_value"]
            if "max_value" in found.extra:
                schema["maximum"] = found.extra["max_value"]
            if isinstance(found, django_filters.BooleanFilter):
                # "true"/"false" (or "1"/"0"); django-filter ignores any other value.
                parameter["schema"] = {"type": "string"}
                parameter["description"] = "true or false; any other value is ignored"
            if isinstance(found, django_filters.ModelChoiceFilter):
                schema.update(type="integer", minimum=1)
                parameter["description"] = "The id of one of your " + str(
                    found.queryset.model._meta.verbose_name_plural
                    if found.queryset is not None and hasattr(found.queryset, "model")
                    else found.field_name
                )
        return parameters

    def _filterset_class(self):
        if not self.get_filter_backends():
            return None
        view = self.view
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is None and getattr(view, "filterset_fields", None):
            try:
                filterset_class = DjangoFilterBackend().get_filterset_class(view, view.get_queryset())
            except Exception:  # schema generation must not fail on a view that needs a request
                return None
        return filterset_class

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        extra = getattr(serializer, "openapi_schema_extra", None)
        if extra and direction == "request":
            schema.update(extra)
        return schema
