"""Salesforce's error bodies: the JSON-array error, the 401, and the two ways a write is refused
(``RequestError`` for the whole request, ``RecordError`` for one record)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse, JsonResponse

from connectors.sandbox.emulator import Emulator


class RequestError(Exception):
    """Refuses the whole request: answered as Salesforce's JSON-array error body."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, list(fields)


class RecordError(Exception):
    """Refuses one record of a write: a per-item error in collections, a 400 for single-record calls."""

    def __init__(self, code: str, message: str, fields: Iterable[str] = ()):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, list(fields)

    def as_item(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


class SalesforceErrors(Emulator):
    """Every error Salesforce answers with, as its JSON array (with ``Sforce-Limit-Info``)."""

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        default_code = {
            400: "MALFORMED_REQUEST",
            401: "INVALID_SESSION_ID",
            403: "INSUFFICIENT_ACCESS",
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            500: "UNKNOWN_EXCEPTION",
            503: "SERVER_UNAVAILABLE",
        }.get(status, "UNKNOWN_EXCEPTION")
        body = [{"message": message, "errorCode": code or default_code, **extra}]
        response = JsonResponse(body, status=status, safe=False)
        response["Sforce-Limit-Info"] = self._limit_info()
        return response

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "Session expired or invalid", code="INVALID_SESSION_ID")

    def _refusal(self, exc: RequestError | RecordError) -> HttpResponse:
        status = exc.status if isinstance(exc, RequestError) else 400
        return self.error(status, exc.message, code=exc.code, fields=exc.fields)
