"""AITable's Fusion API v1 as the official SDK (apitable 1.5.0) speaks it, returning the ``data`` of
its envelopes (providers.md §4).

Three things set AITable apart from the other providers:

- Most errors arrive as **HTTP 200** with ``{"success": false, "code": n}``: every answer's envelope
  is read, never only the status (``raise_for_response``).
- The limit is 5 requests/s per datasheet (or space) in the URL *and* token, with no rate headers and
  no ``Retry-After``: one limiter per (token, datasheet) paces requests so they queue instead of
  earning 429s, and a 429 that happens anyway waits a second and goes again.
- ``fieldKey=name`` on every record call: fields are keyed by column name both ways.

List parameters (``recordIds``, ``fields``) go as repeated keys, as the SDK's ``requests`` sends them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import requests

from connectors.base import AuthError, ConfigError, PermanentError, RateLimited, TransientError
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty
from connectors.ratelimit import RateLimiter

API = "/fusion/v1"
PAGE_SIZE = 1000  # AITable's cap on ``pageSize``
WRITE_CAP = 10  # records per create / update / delete request
IDS_PER_READ = 1000  # ``recordIds`` per read (one full page)
RATE_LIMIT_WAIT = 1.0  # AITable's 429 names no wait: its window is one second
FIELD_KEY = "name"

# Envelope codes (packages/core/src/config/api_tip_config.auto.json).
VALIDATION = 400
NOT_FOUND_NODE = 301
NO_PERMISSION = 602
WRITE_FAILED = {211: "insert", 212: "update", 214: "delete"}
CAPACITY = {426: "the space's record or API capacity is used up", 428: "an attachment limit was reached"}

_SCOPES = (
    re.compile(r"/datasheets/(dst[A-Za-z0-9]+)"),
    re.compile(r"/spaces/(spc[A-Za-z0-9]+)"),
    re.compile(r"/nodes/([A-Za-z0-9]+)"),
)


def token_key(token: str) -> str:
    """What a token's rate limits are kept under: a short hash, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def rate_scope(path: str) -> str:
    """The datasheet (else space, else node) a request's limit counts against; "spaces" for the
    space list, which names none."""
    for pattern in _SCOPES:
        found = pattern.search(path)
        if found:
            return found.group(1)
    return "spaces"


def is_validation(exc: PermanentError) -> bool:
    """Whether AITable refused the request's content (code 400, ``api_params_*``): the whole
    request was not applied, so its records may be sent again one by one."""
    return exc.code == str(VALIDATION) or exc.code.startswith("api_param")


class AITableClient(ProviderClient):
    provider = "AITable"

    def __init__(
        self,
        *,
        token: str,
        requests_per_second: int = 5,
        limiter_factory: Callable[[str], RateLimiter] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._token_key = token_key(token)
        self._rate = f"{max(1, int(requests_per_second))}/1"
        self._limiter_factory = limiter_factory or self._default_limiter
        self._limiters: dict[str, RateLimiter] = {}

    # --- limits -----------------------------------------------------------------------------------

    def _default_limiter(self, scope: str) -> RateLimiter:
        return RateLimiter(key=f"aitable:{self._token_key}:{scope}", rate=self._rate)

    def limiter_for(self, path: str) -> RateLimiter:
        scope = rate_scope(path)
        if scope not in self._limiters:
            self._limiters[scope] = self._limiter_factory(scope)
        return self._limiters[scope]

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.limiter_for(path).acquire()  # every attempt, retries included, waits its turn
        return super()._send(method, path, **kwargs)

    # --- errors -----------------------------------------------------------------------------------

    def error_message(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])[:ERROR_EXCERPT]
        return super().error_message(resp)

    def raise_for_response(self, resp: requests.Response) -> None:
        """The envelope decides, whatever the HTTP status: ``success: false`` is an error even
        under 200; a 2xx that is no envelope at all (a proxy's page) is worth another try."""
        body = json_or_empty(resp)
        if resp.status_code in self.ok_statuses:
            if not isinstance(body, dict) or "success" not in body:
                raise TransientError(
                    f"AITable answered {resp.status_code} without its JSON envelope", status=resp.status_code
                )
            if body.get("success") is True:
                return
        code = _code(body, resp.status_code)
        message = self.error_message(resp)
        raise self._error(code, message, resp)

    def _error(self, code: int, message: str, resp: requests.Response) -> Exception:
        path = resp.request.path_url if resp.request is not None else ""
        status = resp.status_code
        if code == 429 or status == 429:
            return RateLimited(f"AITable rate limit: {message}", retry_after=RATE_LIMIT_WAIT, status=429)
        if code == 401 or status == 401:
            return AuthError(f"AITable rejected the API token: {message}", status=401, code=str(code))
        if 500 <= code < 600 or status >= 500:
            return TransientError(f"AITable error {code}: {message}", status=status)
        if code in (NOT_FOUND_NODE, NO_PERMISSION):
            return _unavailable(code, message, path)
        if code in WRITE_FAILED:
            return PermanentError(
                f"AITable could not {WRITE_FAILED[code]} the records: {message}",
                status=status,
                code=str(code),
            )
        if code in CAPACITY:
            return PermanentError(
                f"AITable refused: {CAPACITY[code]} ({message})", status=status, code=str(code)
            )
        if code == 403 or status == 403:
            return PermanentError(
                f"AITable forbids this request (permission or usage quota): {message}", status=403, code="403"
            )
        return PermanentError(
            f"AITable refused the request ({code}): {message}", status=status, code=str(code)
        )

    # --- records ----------------------------------------------------------------------------------

    def records_page(self, datasheet: str, *, page_num: int = 1, **params: Any) -> dict[str, Any]:
        """One page of ``GET /datasheets/{dst}/records``: ``{total, pageNum, pageSize, records}``."""
        query = {"fieldKey": FIELD_KEY, "pageSize": PAGE_SIZE, "pageNum": page_num}
        query.update({k: v for k, v in params.items() if v not in (None, "", [])})
        body = self.get_json(f"{API}/datasheets/{datasheet}/records", params=query)
        return dict(body.get("data") or {})

    def iter_records(self, datasheet: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page's data, ``pageNum`` from 1 until ``pageNum × pageSize ≥ total``."""
        page_num = 1
        while True:
            data = self.records_page(datasheet, page_num=page_num, **params)
            yield data
            size = int(data.get("pageSize") or params.get("pageSize") or PAGE_SIZE)
            if not data.get("records") or page_num * size >= int(data.get("total") or 0):
                return
            page_num += 1

    def records_by_ids(self, datasheet: str, ids: list[str]) -> list[dict[str, Any]]:
        """The live records among ``ids``, ``IDS_PER_READ`` per request."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), IDS_PER_READ):
            chunk = ids[start : start + IDS_PER_READ]
            for data in self.iter_records(datasheet, recordIds=chunk):
                found += data.get("records") or []
        return found

    def create_records(self, datasheet: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``POST …/records`` (≤ 10 rows): the created records, in input order."""
        body = {"records": [{"fields": fields} for fields in rows], "fieldKey": FIELD_KEY}
        answer = self.post_json(f"{API}/datasheets/{datasheet}/records", body)
        return list((answer.get("data") or {}).get("records") or [])

    def update_records(self, datasheet: str, rows: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """``PATCH …/records`` (≤ 10 rows): only the given cells change."""
        body = {
            "records": [{"recordId": record_id, "fields": fields} for record_id, fields in rows],
            "fieldKey": FIELD_KEY,
        }
        answer = json_or_empty(self.request("PATCH", f"{API}/datasheets/{datasheet}/records", json=body))
        return list((answer.get("data") or {}).get("records") or [])

    def delete_records(self, datasheet: str, ids: list[str]) -> None:
        """``DELETE …/records?recordIds=…`` (≤ 10 ids)."""
        self.request("DELETE", f"{API}/datasheets/{datasheet}/records", params={"recordIds": ids})

    # --- schema and space -------------------------------------------------------------------------

    def fields(self, datasheet: str) -> list[dict[str, Any]]:
        body = self.get_json(f"{API}/datasheets/{datasheet}/fields")
        return list((body.get("data") or {}).get("fields") or [])

    def create_field(self, space: str, datasheet: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /spaces/{spc}/datasheets/{dst}/fields``: ``{id, name}`` of the new column."""
        answer = self.post_json(f"{API}/spaces/{space}/datasheets/{datasheet}/fields", body)
        return dict(answer.get("data") or {})

    def spaces(self) -> list[dict[str, Any]]:
        return list((self.get_json(f"{API}/spaces").get("data") or {}).get("spaces") or [])

    def space_nodes(self, space: str) -> list[dict[str, Any]]:
        """The nodes at the root of the space's workbench (datasheets, folders, forms, ...)."""
        return list((self.get_json(f"{API}/spaces/{space}/nodes").get("data") or {}).get("nodes") or [])

    def node(self, node_id: str) -> dict[str, Any]:
        """One node with its ``children`` (a folder's content)."""
        return dict(self.get_json(f"{API}/nodes/{node_id}").get("data") or {})


def _code(body: Any, status: int) -> int:
    """The envelope's ``code`` (the HTTP status when there is none)."""
    if isinstance(body, dict):
        try:
            return int(body.get("code"))
        except (TypeError, ValueError):
            pass
    return status if status >= 300 else VALIDATION


def _unavailable(code: int, message: str, path: str) -> ConfigError:
    """301 / 602: the configured datasheet (or space) does not exist or this token cannot see it."""
    scope = rate_scope(path)
    field = "space_id" if scope.startswith("spc") else "datasheets"
    what = f"datasheet {scope}" if scope.startswith("dst") else f"node {scope}"
    if code == NOT_FOUND_NODE:
        return ConfigError(
            f"AITable has no {what} visible to this API token (deleted, or another space): {message}",
            field=field,
        )
    return ConfigError(f"The API token's user has no permission on AITable {what}: {message}", field=field)
