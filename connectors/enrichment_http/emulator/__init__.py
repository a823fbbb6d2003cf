"""A local enrichment service speaking the platform's ``enrichment_http`` contract (providers.md §11).

Served at ``/sandbox/enrichment/`` (the issue's address) and at ``/sandbox/enrichment_http/`` (the
registry key, which the catalog's sandbox instructions and the contract suite use): one emulator,
one state. ``POST enrich`` takes ``{"records": [{"id", "type", "fields"}]}`` and answers
``{"results": [{"id", "fields", "score"?, "signals"?, "error"?}]}``, one result per input, in input
order, each a pure function of its input (``derive``: the rules are written down there).

- Auth: ``Authorization: Bearer <key>``, a key issued by ``connect`` or ``_control/token``; anything
  else is a 401 ``{"error": {"code": "unauthorized", "message": ...}}``.
- Batch cap: the ``max_batch`` setting (``_control/settings``, default 100); a longer request is a
  400 ``batch_too_large``. A body without a ``records`` list, or a record without an ``id``, is a
  400 ``invalid_request``.
- Faults (``_control/faults``): injected 429s carry ``Retry-After: 1``; 5xx and latency (stalls)
  as for every emulator (connectors.sandbox.emulator).
"""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path

from connectors.enrichment_http.emulator.derive import enrich_one
from connectors.sandbox.emulator import Emulator, json_body
from connectors.types import Tokens

DEFAULT_MAX_BATCH = 100
STATUS_CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


class EnrichmentEmulator(Emulator):
    provider = "enrichment_http"
    mount_paths = ("enrichment", "enrichment_http")
    token_prefix = "enr"  # noqa: S105 (a prefix for generated keys)

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        code = code or STATUS_CODES.get(status, "rate_limited" if status == 429 else "server_error")
        return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "invalid API key: send Authorization: Bearer <key>", code="unauthorized")

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        response = self.error(429, "too many requests", code="rate_limited")
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A config pointing at this emulator with a fresh API key (no OAuth)."""
        key = self.issue_token(kind="api_key", refresh=False)
        config = {
            "base_url": f"{sandbox_base.rstrip('/')}/{self.mount_paths[0]}",
            "api_key": key.access_token,
            "timeout_s": 10,
            "max_batch": 50,
        }
        return config, None

    def enrich_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, "use POST")
        body = json_body(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return self.error(400, 'the body must be {"records": [...]}')
        limit = int(self.setting("max_batch", DEFAULT_MAX_BATCH))
        if len(records) > limit:
            return self.error(
                400, f"at most {limit} records per request, got {len(records)}", code="batch_too_large"
            )
        for index, record in enumerate(records):
            if not isinstance(record, dict) or record.get("id") in (None, ""):
                return self.error(400, f"records[{index}] needs an id")
        return JsonResponse({"results": [enrich_one(record) for record in records]})

    def api_urls(self) -> list[URLPattern]:
        return [path("enrich", self.endpoint(self.enrich_view), name="enrichment-enrich")]


emulator = EnrichmentEmulator()
