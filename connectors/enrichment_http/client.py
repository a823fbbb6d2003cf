"""The HTTP side of ``enrichment_http`` (providers.md §11): one ``POST {base_url}/enrich`` per batch.

Enriching reads and never writes, so a batch is resent after a 5xx or a timeout as after a 429
(``idempotent=True``): the shared client (connectors.http) retries, honours ``Retry-After`` and maps
401 to AuthError, 429 to RateLimited, 5xx to TransientError. Error bodies read
``{"error": {"code", "message"}}``; a plain ``{"message"}`` or ``{"error": "..."}`` is read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from connectors.errors import PermanentError
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty


def _error_object(resp: requests.Response) -> Mapping[str, Any]:
    body = json_or_empty(resp)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, Mapping) else {}


class EnrichmentClient(ProviderClient):
    provider = "The enrichment service"

    def error_message(self, resp: requests.Response) -> str:
        message = _error_object(resp).get("message")
        return str(message)[:ERROR_EXCERPT] if message else super().error_message(resp)

    def error_code(self, resp: requests.Response) -> str:
        code = _error_object(resp).get("code")
        return str(code) if code else super().error_code(resp)

    def enrich(self, records: list[dict[str, Any]]) -> list[Any]:
        """The ``results`` list answering ``records`` (raw; the connector reads each entry)."""
        body = self.post_json("/enrich", {"records": records}, idempotent=True)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise PermanentError(f'{self.provider} answered without a "results" list')
        return results
