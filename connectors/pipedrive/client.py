"""Pipedrive's HTTP calls: v2 records (cursor paging, search), v1 notes, fields, recents and
webhooks, returning Pipedrive's raw ``data`` (providers.md §3).

Limits are read from every answer: ``x-ratelimit-remaining: 0`` makes the next request wait out
``x-ratelimit-reset`` (the 2-second burst window), a 429 waits ``Retry-After`` or
``x-ratelimit-reset``, and an exhausted daily token budget (``x-daily-requests-left: 0``) becomes a
RateLimited long enough for Celery, not for tenacity, to schedule the retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests

from connectors.base import PermanentError, RateLimited
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty, parse_retry_after
from connectors.ratelimit import RateLimiter

LIST_LIMIT = 500  # v2's cap on ``limit``
V1_LIMIT = 500
BURST_RETRY_AFTER = 2.0  # the burst window, when a 429 names no wait
DAILY_RETRY_AFTER = 3600.0  # the daily budget: Celery's to wait for
MAX_ATTEMPTS = 6  # a 429 storm is waited out, not failed


def _header_number(resp: requests.Response, name: str) -> float | None:
    try:
        return float(resp.headers[name])
    except (KeyError, ValueError):
        return None


class PipedriveClient(ProviderClient):
    provider = "Pipedrive"

    def __init__(self, *, search_limiter: RateLimiter | None = None, **kwargs: Any):
        kwargs.setdefault("max_attempts", MAX_ATTEMPTS)
        super().__init__(**kwargs)
        self.search_limiter = search_limiter
        self._resume_at = 0.0  # monotonic time the burst window frees up, per the last headers
        self.searches = 0

    # --- limits and errors ----------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        pause = self._resume_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        return super()._send(method, path, **kwargs)

    def observe_limits(self, resp: requests.Response) -> None:
        """Remember when the burst window frees up once Pipedrive says none is left in it."""
        remaining = _header_number(resp, "x-ratelimit-remaining")
        if remaining is not None and remaining <= 0:
            reset = _header_number(resp, "x-ratelimit-reset")
            self._resume_at = time.monotonic() + (reset if reset is not None else BURST_RETRY_AFTER)

    def error_message(self, resp: requests.Response) -> str:
        """Pipedrive's ``error`` and ``error_info``; OAuth errors' ``error_description``."""
        body = json_or_empty(resp)
        if isinstance(body, dict) and (body.get("error") or body.get("error_description")):
            parts = [str(body.get("error_description") or body.get("error") or "")]
            info = body.get("error_info")
            if info and str(info) not in parts[0]:
                parts.append(str(info))
            return " — ".join(parts)[:ERROR_EXCERPT]
        return super().error_message(resp)

    def error_code(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        return str(body.get("code") or "") if isinstance(body, dict) else ""

    def raise_for_response(self, resp: requests.Response) -> None:
        self.observe_limits(resp)
        daily_left = _header_number(resp, "x-daily-requests-left")
        if resp.status_code == 429:
            message = self.error_message(resp)
            if daily_left is not None and daily_left <= 0:
                raise RateLimited(
                    f"Pipedrive daily token budget used up: {message}",
                    retry_after=DAILY_RETRY_AFTER,
                    status=429,
                )
            wait = parse_retry_after(resp.headers.get("Retry-After"))
            if wait is None:
                wait = _header_number(resp, "x-ratelimit-reset")
            raise RateLimited(
                f"Pipedrive rate limit: {message}",
                retry_after=max(0.1, wait if wait is not None else BURST_RETRY_AFTER),
                status=429,
            )
        super().raise_for_response(resp)

    # --- v2 records -------------------------------------------------------------------------------

    def list_page(self, object_type: str, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``GET /api/v2/{obj}``: (records, next cursor or None at the end)."""
        query = {k: v for k, v in params.items() if v not in (None, "")}
        query.setdefault("limit", LIST_LIMIT)
        body = self.get_json(f"/api/v2/{object_type}", params=query)
        return list(body.get("data") or []), (body.get("additional_data") or {}).get("next_cursor")

    def iter_list(self, object_type: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        cursor = None
        while True:
            rows, cursor = self.list_page(object_type, cursor=cursor, **params)
            yield rows
            if not cursor:
                return

    def get_one(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        """One live record, or None when Pipedrive has none (never existed, or deleted)."""
        try:
            return self.get_json(f"/api/v2/{object_type}/{object_id}").get("data")
        except PermanentError as exc:
            if exc.status in (404, 410):
                return None
            raise

    def by_ids(self, object_type: str, ids: list[str]) -> list[dict[str, Any]]:
        """Live records by id, 100 per request (v2's ``ids`` cap)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            for rows in self.iter_list(object_type, ids=",".join(chunk)):
                found += rows
        return found

    def search(self, object_type: str, term: str, field: str) -> list[dict[str, Any]]:
        """``GET /api/v2/{obj}/search`` with ``exact_match``: the matching items (first page; an
        exact email, phone or name matches a handful at most). Search has its own burst limit."""
        if self.search_limiter is not None:
            self.search_limiter.acquire()
        self.searches += 1
        body = self.get_json(
            f"/api/v2/{object_type}/search",
            params={"term": term, "fields": field, "exact_match": "true", "limit": 100},
        )
        return [i.get("item") or {} for i in (body.get("data") or {}).get("items") or []]

    def create(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_json(f"/api/v2/{object_type}", body).get("data") or {}

    def update(self, object_type: str, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.request("PATCH", f"/api/v2/{object_type}/{object_id}", json=body)
        return json_or_empty(resp).get("data") or {}

    def delete_path(self, path: str) -> bool:
        """DELETE ``path``: True when deleted now, False when it was already gone (404/410)."""
        try:
            self.request("DELETE", path)
        except PermanentError as exc:
            if exc.status in (404, 410):
                return False
            raise
        return True

    def delete(self, object_type: str, object_id: str) -> bool:
        """Soft-delete; True when deleted now, False when it was already gone (404)."""
        return self.delete_path(f"/api/v2/{object_type}/{object_id}")

    # --- v1: notes, fields, recents, webhooks ----------------------------------------------------

    def iter_v1(self, path: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """Every page of a v1 list: ``start``/``limit`` → ``pagination.next_start``."""
        start = 0
        while True:
            query = {k: v for k, v in params.items() if v not in (None, "")}
            body = self.get_json(path, params={**query, "start": start, "limit": V1_LIMIT})
            yield list(body.get("data") or [])
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return
            start = int(pagination.get("next_start") or start + V1_LIMIT)

    def fields(self, endpoint: str) -> list[dict[str, Any]]:
        """Every field definition of ``/v1/personFields`` (or organization/deal/activity/note)."""
        return [row for page in self.iter_v1(f"/api/v1/{endpoint}") for row in page]

    def add_field(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/personFields`` (or organization/deal): the new field, with its hash ``key``."""
        return self.post_json(f"/api/v1/{endpoint}", body).get("data") or {}

    def note(self, note_id: str) -> dict[str, Any] | None:
        try:
            return self.get_json(f"/api/v1/notes/{note_id}").get("data")
        except PermanentError as exc:
            if exc.status in (404, 410):
                return None
            raise

    def create_note(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_json("/api/v1/notes", body).get("data") or {}

    def update_note(self, note_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return json_or_empty(self.request("PUT", f"/api/v1/notes/{note_id}", json=body)).get("data") or {}

    def delete_note(self, note_id: str) -> bool:
        return self.delete_path(f"/api/v1/notes/{note_id}")

    def recents(self, since: str, item: str) -> Iterator[list[dict[str, Any]]]:
        """``GET /v1/recents``: everything of one kind changed since ``since`` (v1 time), deleted
        items included."""
        yield from self.iter_v1("/api/v1/recents", since_timestamp=since, items=item)

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_json("/api/v1/webhooks", body).get("data") or {}

    def delete_webhook(self, hook_id: str) -> bool:
        return self.delete_path(f"/api/v1/webhooks/{hook_id}")
