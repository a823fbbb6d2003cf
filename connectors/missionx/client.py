"""The HTTP side of MissionX (providers.md §5, our [project] contract): portals and their files.

Everything under ``{base_url}/v1`` with ``Authorization: Bearer <api key>``. Errors read
``{"error": {"code", "message"}}``; the shared client (connectors.http) maps 401 to AuthError, 429
to RateLimited (honouring ``Retry-After``), 5xx to TransientError and other 4xx to PermanentError
carrying the body's code. A 404 is always ``not_found``, whatever the body says, because callers
(the onboarding flow) tell "gone" from "refused" by that code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import requests

from connectors.errors import PermanentError
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty

MAX_PAGE = 100
CHUNK_BYTES = 64 * 1024


def _error_object(resp: requests.Response) -> Mapping[str, Any]:
    body = json_or_empty(resp)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, Mapping) else {}


class MissionXClient(ProviderClient):
    provider = "MissionX"

    def error_message(self, resp: requests.Response) -> str:
        message = _error_object(resp).get("message")
        return str(message)[:ERROR_EXCERPT] if message else super().error_message(resp)

    def error_code(self, resp: requests.Response) -> str:
        if resp.status_code == 404:
            return "not_found"
        code = _error_object(resp).get("code")
        return str(code) if code else super().error_code(resp)

    # --- portals ----------------------------------------------------------------------------

    def portal_create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v1/portals. Not resent after an ambiguous failure (the shared client's rule for
        POST): the caller finds a create whose answer was lost through ``portals_list``."""
        return self._object(self.post_json("/v1/portals", dict(body)))

    def portal_get(self, portal_id: str) -> dict[str, Any]:
        return self._object(self.get_json(f"/v1/portals/{_segment(portal_id)}"))

    def portal_update(self, portal_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH sets absolute values, so resending it after a timeout is harmless."""
        resp = self.request("PATCH", f"/v1/portals/{_segment(portal_id)}", json=dict(changes))
        return self._object(json_or_empty(resp))

    def portals_pages(
        self, *, updated_since: str | None = None, limit: int = MAX_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of ``GET /v1/portals`` (oldest change first), following ``next_cursor``."""
        params: dict[str, Any] = {"limit": max(1, min(limit, MAX_PAGE))}
        if updated_since:
            params["updated_since"] = updated_since
        while True:
            body = self.get_json("/v1/portals", params=params)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise PermanentError(f'{self.provider} answered a portal list without "data"')
            yield [item for item in data if isinstance(item, dict)]
            cursor = body.get("next_cursor")
            if not cursor:
                return
            params = {"limit": params["limit"], "cursor": cursor}

    # --- files --------------------------------------------------------------------------------

    def portal_files(self, portal_id: str) -> list[dict[str, Any]]:
        body = self.get_json(f"/v1/portals/{_segment(portal_id)}/files")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise PermanentError(f'{self.provider} answered a file list without "data"')
        return [item for item in data if isinstance(item, dict)]

    def file_stream(self, file_id: str) -> requests.Response:
        """The open download response (``stream=True``): the caller checks its size before reading
        the body and must close it."""
        return self.request(
            "GET",
            f"/v1/files/{_segment(file_id)}/download",
            stream=True,
            headers={"Accept": "*/*"},
        )

    def _object(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("id"):
            raise PermanentError(f"{self.provider} answered without a portal object")
        return body


def _segment(value: str) -> str:
    """An id as one path segment: a slash or dot-dot in an id must not reach another endpoint."""
    text = str(value)
    if not text or "/" in text or text in (".", "..") or "?" in text or "#" in text:
        raise PermanentError(f"{text!r} is not a MissionX id", code="not_found")
    return text
