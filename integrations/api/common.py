"""Plumbing every API module shares: the error shape, how errors are documented, the sub-account.

Every API error is ``{"error": {"code", "message", "details"}}`` with a 4xx status; views raise
``ApiError`` for their own refusals and ``integrations.api.errors.exception_handler`` gives DRF's
and Django's exceptions the same shape. ``ERROR_RESPONSES`` documents that shape once: the schema
class (``integrations.api.schema.ApiAutoSchema``) adds the statuses each operation can answer.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers


class ApiError(exceptions.APIException):
    """Raise from a view with a code, a message and details."""

    def __init__(self, *, status_code: int, code: str, message: str, details: dict | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, conflict, ...")
    message = serializers.CharField(help_text="For people")
    details = serializers.DictField(help_text="For invalid input: field → reasons (nested for nested input)")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


ERROR_RESPONSES: dict[int, OpenApiResponse] = {
    400: error_response("Invalid input: error.details maps each field to its reasons"),
    401: error_response("Missing, unknown, revoked or expired API key"),
    403: error_response("A staff session without a sub-account it manages in X-Subaccount"),
    404: error_response("Not found (or another sub-account's), or an invalid cursor"),
    409: error_response("Not allowed in the resource's current state"),
    415: error_response("The body is not JSON (Content-Type: application/json)"),
}


def request_subaccount(request):
    """The request's sub-account; None while the schema is generated (no request is authenticated then),
    which scopes querysets to nothing instead of failing."""
    return getattr(request, "subaccount", None)
