"""HubSpot's error bodies: ``BadRequest`` and the JSON error every endpoint answers with."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.sandbox.emulator import Emulator


class BadRequest(Exception):
    """A request HubSpot answers with 400 VALIDATION_ERROR (or another category)."""

    def __init__(self, message: str, *, category: str = "VALIDATION_ERROR", status: int = 400, **extra: Any):
        super().__init__(message)
        self.message, self.category, self.status, self.extra = message, category, status, extra


class HubSpotErrors(Emulator):
    """The error and 401 bodies, and the guard that turns a handler's BadRequest into one."""

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        category = code or {
            400: "VALIDATION_ERROR",
            401: "INVALID_AUTHENTICATION",
            403: "MISSING_SCOPES",
            404: "OBJECT_NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            409: "CONFLICT",
        }.get(status, "INTERNAL_ERROR")
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }
        body.setdefault("context", {})
        body.setdefault("links", {})
        return JsonResponse(body, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    def _guard(self, request: HttpRequest, object_type: str, handler: Any, *args: Any) -> HttpResponse:
        """Run a handler, turning BadRequest into HubSpot's error body."""
        if object_type not in self.object_types():
            return self.error(400, f"Unable to infer object type from: {object_type}")
        try:
            return handler(request, object_type, *args)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, code=exc.category, **exc.extra)
