"""How the OpenAPI schema describes our authentication (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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


def request_subaccount(request):
    """The request's sub-account; None while the schema is generated (no request is authenticated then),
    which scopes querysets to nothing instead of failing."""
    return getattr(request, "subaccount", None)
