"""Every API error is ``{"error": {"code", "message", "details"}}`` with a 4xx status (see common.py)."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from integrations.api.common import ApiError, error_body
from integrations.config_schema import ConfigInvalid

logger = logging.getLogger(__name__)


CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: _flatten(value) if isinstance(value, dict) else [str(v) for v in _as_list(value)]
            for key, value in detail.items()
        }
    return {"non_field_errors": [str(v) for v in _as_list(detail)]}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def exception_handler(exc, context):
    if isinstance(exc, ConfigInvalid):
        return Response(
            error_body(
                "invalid_config", "The config does not match the template's schema.", {"config": exc.errors}
            ),
            status=400,
        )
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, str(exc.detail), exc.details), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (JSON for the API)
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", "The request is not valid.", _flatten(exc.detail))
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        body = error_body("unauthenticated", str(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        body = error_body("malformed", str(exc.detail))
    else:
        code = CODES.get(response.status_code, "error")
        body = error_body(code, str(getattr(exc, "detail", exc)))
    response.data = body
    return response


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    return server_error(request)
