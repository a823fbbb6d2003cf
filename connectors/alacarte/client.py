"""The HTTP side of À La Carte Chat: one Supabase Edge Function per path, ``x-api-key`` on every call.

Errors read ``{"error": "<message>", "details": ...}``; the shared client (connectors.http) maps 401
to AuthError, 429 to RateLimited (honouring ``Retry-After``), 5xx to TransientError and other 4xx
to PermanentError, whose code this client names from the status (``not_found``, ``too_large``,
``invalid_request``) because the bodies carry no code of their own.

This module speaks the wire only (dicts in, dicts out); ``records.py`` turns them into records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from connectors.errors import PermanentError
from connectors.http import ERROR_EXCERPT, ProviderClient, StaticAuth, json_or_empty

MAX_CUSTOMERS = 1000  # per sync / bulk-create request
MAX_LOOKUP_VALUES = 1000  # ids + emails + phones + external_ids per batch lookup
MAX_MESSAGES = 100  # ``limit`` of /api-messages-since
LOOKUP_KEYS = ("ids", "emails", "phones", "external_ids")
STATUS_CODES = {400: "invalid_request", 404: "not_found", 405: "not_allowed", 413: "too_large"}


def api_key_auth(key: str) -> StaticAuth:
    return StaticAuth({"x-api-key": key})


class AlaCarteClient(ProviderClient):
    provider = "À La Carte Chat"

    def error_message(self, resp: requests.Response) -> str:
        """``error`` plus ``details`` when the provider gives them (which field, which value)."""
        message = super().error_message(resp)
        body = json_or_empty(resp)
        details = body.get("details") if isinstance(body, dict) else None
        if details:
            text = details if isinstance(details, str) else json.dumps(details, ensure_ascii=False)
            message = f"{message} ({text})"
        return message[:ERROR_EXCERPT]

    def error_code(self, resp: requests.Response) -> str:
        return STATUS_CODES.get(resp.status_code, "")

    # --- customers ----------------------------------------------------------------------------

    def customer_get(self, **params: str) -> dict[str, Any] | None:
        """``GET /api-customers`` by one of id / email / phone / external_id; None when unknown."""
        try:
            body = self.get_json("/api-customers", params=params)
        except PermanentError as exc:
            if exc.code == "not_found":
                return None
            raise
        return _object(body, "customer")

    def customers_lookup(self, **values: list[str]) -> list[dict[str, Any]]:
        """Every customer matching any of the values (``ids``, ``emails``, ``phones``,
        ``external_ids``), each once, asked in requests of at most 1000 values. A lookup only
        reads, so it is resent after an ambiguous failure."""
        pending = [(key, str(v)) for key in LOOKUP_KEYS for v in dict.fromkeys(values.get(key) or ()) if v]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(pending), MAX_LOOKUP_VALUES):
            body: dict[str, list[str]] = {}
            for key, value in pending[start : start + MAX_LOOKUP_VALUES]:
                body.setdefault(key, []).append(value)
            answer = self.post_json("/api-customers-batch-lookup", body, idempotent=True)
            for customer in _list(answer, "customers"):
                if customer.get("id"):
                    found[str(customer["id"])] = customer
        return list(found.values())

    def customers_sync(self, customers: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``POST /api-customers-sync`` (≤ 1000): the per-input ``details``.

        Resent after an ambiguous failure: every customer carries a match key (external_id, email
        or phone), so a repeat updates what the first attempt created instead of making it twice.
        """
        if len(customers) > MAX_CUSTOMERS:
            raise ValueError(f"at most {MAX_CUSTOMERS} customers per sync request")
        body = self.post_json("/api-customers-sync", {"customers": list(customers)}, idempotent=True)
        results = body.get("results") if isinstance(body, dict) else None
        details = results.get("details") if isinstance(results, dict) else None
        if not isinstance(details, list):
            raise PermanentError(f"{self.provider} answered a customer sync without results.details")
        return [entry for entry in details if isinstance(entry, dict)]

    # --- messages and conversations -----------------------------------------------------------

    def messages_since(self, since: str, *, limit: int = MAX_MESSAGES) -> tuple[list[dict[str, Any]], bool]:
        """One page of ``GET /api-messages-since`` (``created_at >= since``, oldest first)."""
        params = {
            "since": since,
            "include_attachments": "true",
            "limit": max(1, min(limit, MAX_MESSAGES)),
        }
        body = self.get_json("/api-messages-since", params=params)
        return _list(body, "messages"), bool(body.get("has_more")) if isinstance(body, dict) else False

    def conversations_by_customer(self, **key: str) -> dict[str, Any]:
        """``{"customer", "conversations": [... with messages and attachments]}`` for one customer,
        named by ``external_id`` or ``customer_id``."""
        params = {**key, "include_messages": "true", "include_attachments": "true"}
        body = self.get_json("/api-conversations-by-customer", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("conversations"), list):
            raise PermanentError(f"{self.provider} answered a conversation list without conversations")
        return body

    def message_send(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api-send-message``; never resent after an ambiguous failure (it would send twice)."""
        return _object(self.post_json("/api-send-message", dict(body)), "message")

    def attachment_upload(self, *, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
        """``POST /api-upload-attachment`` with the multipart field ``file``."""
        resp = self.request("POST", "/api-upload-attachment", files={"file": (filename, data, content_type)})
        return _object(json_or_empty(resp), "attachment")

    def sso_token(self, *, customer_id: str, expires_in: int) -> dict[str, Any]:
        """``POST /api-sso-generate-token`` for the inbox scope. The answer holds a live token: the
        caller never logs it; errors raised here never contain it (it is only in a 200's body)."""
        body = {"customer_id": customer_id, "scope": "inbox", "expires_in": expires_in}
        answer = self.post_json("/api-sso-generate-token", body, idempotent=True)
        if not isinstance(answer, dict) or not isinstance(answer.get("token"), str) or not answer["token"]:
            raise PermanentError(f"{self.provider} answered the SSO token request without a token")
        return answer


def _object(body: Any, key: str) -> dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise PermanentError(f'À La Carte Chat answered without a "{key}" object')
    return value


def _list(body: Any, key: str) -> list[dict[str, Any]]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, list):
        raise PermanentError(f'À La Carte Chat answered without a "{key}" list')
    return [item for item in value if isinstance(item, dict)]
