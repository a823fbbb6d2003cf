"""HubSpot's HTTP calls: CRM v3 objects list/get/search/batch, returning HubSpot's raw dicts.

Error mapping specifics live in ``raise_for_response``: HubSpot's 429 carries no Retry-After, so
the wait is worked out from the policy (DAILY: an hour; the rolling 10-second window: until our
oldest request in it leaves), and a duplicate-email 409 keeps HubSpot's ``CONTACT_EXISTS`` code.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from typing import Any

import requests

from connectors.base import PermanentError, RateLimited
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty, parse_retry_after
from connectors.ratelimit import RateLimiter

DAILY_RETRY_AFTER = 3600.0
SECONDLY_RETRY_AFTER = 1.0
DEFAULT_INTERVAL_SECONDS = 10.0
LIST_LIMIT = 100  # HubSpot's cap for list pages
# Remember this many send times: enough to cover the largest 10-second allowance (250 requests).
SEND_HISTORY = 256


class HubSpotClient(ProviderClient):
    provider = "HubSpot"

    def __init__(self, *, search_limiter: RateLimiter | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.search_limiter = search_limiter
        self._sent: collections.deque[float] = collections.deque(maxlen=SEND_HISTORY)

    # --- error mapping ------------------------------------------------------------------------

    def error_message(self, resp: requests.Response) -> str:
        """HubSpot's ``message``; for refused properties, the per-property messages it embeds as JSON."""
        message = super().error_message(resp)
        prefix = "Property values were not valid: "
        if message.startswith(prefix):
            try:
                problems = json.loads(json_or_empty(resp)["message"][len(prefix) :])
                message = prefix + "; ".join(
                    str(p.get("message", "")) for p in problems if isinstance(p, dict)
                )
            except (ValueError, KeyError, TypeError):
                pass  # not the embedded-JSON form: keep HubSpot's text as it is
        return message[:ERROR_EXCERPT]

    def error_code(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        if isinstance(body, dict):
            if body.get("error") == "CONTACT_EXISTS":
                return "CONTACT_EXISTS"
            return str(body.get("category") or body.get("errorType") or body.get("error") or "")
        return ""

    def raise_for_response(self, resp: requests.Response) -> None:
        # Approximate when the request left: its answer came back ``elapsed`` after that.
        self._sent.append(time.monotonic() - resp.elapsed.total_seconds())
        if resp.status_code == 429:
            body = json_or_empty(resp)
            policy = str(body.get("policyName", "")) if isinstance(body, dict) else ""
            message = self.error_message(resp)
            if policy == "DAILY":
                # The daily cap resets at midnight: retrying within seconds only burns attempts.
                raise RateLimited(
                    f"HubSpot daily limit reached: {message}", retry_after=DAILY_RETRY_AFTER, status=429
                )
            # The search endpoints' own limit is per second; everything else rides the rolling window.
            # HubSpot documents no Retry-After; should one arrive, it is the provider's own word.
            wait = parse_retry_after(resp.headers.get("Retry-After"))
            if wait is None:
                wait = SECONDLY_RETRY_AFTER if policy == "SECONDLY" else self.window_wait(resp)
            raise RateLimited(f"HubSpot rate limit: {message}", retry_after=wait, status=429)
        if resp.status_code == 409 and self.error_code(resp) == "CONTACT_EXISTS":
            raise PermanentError(
                f"HubSpot refused a duplicate: {self.error_message(resp)}", status=409, code="CONTACT_EXISTS"
            )
        super().raise_for_response(resp)

    def window_wait(self, resp: requests.Response) -> float:
        """Seconds until HubSpot's rolling window frees a slot: our oldest send in it, plus the interval.

        HubSpot documents no Retry-After; the interval comes from X-HubSpot-RateLimit-Interval-Milliseconds.
        """
        try:
            interval = float(resp.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")) / 1000
        except ValueError:
            interval = DEFAULT_INTERVAL_SECONDS
        now = time.monotonic()
        in_window = [t for t in self._sent if t > now - interval]
        if not in_window:
            return interval
        return max(0.05, min(in_window) + interval - now)

    # --- raw calls ------------------------------------------------------------------------------

    def list_page(
        self,
        object_type: str,
        *,
        limit: int = LIST_LIMIT,
        after: str | None = None,
        properties: list[str] | None = None,
        archived: bool = False,
    ) -> dict[str, Any]:
        """One page of ``GET /crm/v3/objects/{type}``."""
        params: dict[str, Any] = {"limit": limit, "archived": "true" if archived else "false"}
        if after:
            params["after"] = after
        if properties:
            params["properties"] = ",".join(properties)
        return self.get_json(f"/crm/v3/objects/{object_type}", params=params)

    def iter_list(self, object_type: str, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list, following ``paging.next.after``."""
        after = None
        while True:
            page = self.list_page(object_type, after=after, **kwargs)
            yield page.get("results", [])
            after = page.get("paging", {}).get("next", {}).get("after")
            if not after:
                return

    def get(
        self, object_type: str, object_id: str, *, properties: list[str] | None = None
    ) -> dict[str, Any] | None:
        """One record, or None when HubSpot has no such (live) record."""
        params = {"properties": ",".join(properties)} if properties else {}
        try:
            return self.get_json(f"/crm/v3/objects/{object_type}/{object_id}", params=params)
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def search(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """One page of ``POST /crm/v3/objects/{type}/search`` (search has its own, lower rate limit)."""
        if self.search_limiter is not None:
            self.search_limiter.acquire()
        return self.post_json(f"/crm/v3/objects/{object_type}/search", body, idempotent=True)

    def batch(
        self, object_type: str, action: str, inputs: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        """``POST /crm/v3/objects/{type}/batch/{action}``; 207 partial results come back as a dict, not an error."""
        resp = self.request(
            "POST",
            f"/crm/v3/objects/{object_type}/batch/{action}",
            json={"inputs": inputs, **extra},
            idempotent=action != "create",  # read, update, archive and upsert can be resent
        )
        body = json_or_empty(resp) if resp.status_code != 204 else {}
        return body if isinstance(body, dict) else {}

    def batch_read(self, object_type: str, ids: list[str], *, properties: list[str]) -> dict[str, Any]:
        return self.batch(object_type, "read", [{"id": i} for i in ids], properties=properties)

    # --- associations (v4) and properties -------------------------------------------------------

    def association_batch(
        self, from_type: str, to_type: str, action: str, inputs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``POST /crm/v4/associations/{from}/{to}/batch/{action}`` (read, create, archive,
        associate/default); 207 partial results come back as a dict. Every one of them can be
        resent: associating twice, or removing what is gone, changes nothing."""
        resp = self.request(
            "POST",
            f"/crm/v4/associations/{from_type}/{to_type}/batch/{action}",
            json={"inputs": inputs},
            idempotent=True,
        )
        body = json_or_empty(resp) if resp.status_code != 204 else {}
        return body if isinstance(body, dict) else {}

    def association_labels(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """The association types defined from one object type to another (type ids and labels)."""
        body = self.get_json(f"/crm/v4/associations/{from_type}/{to_type}/labels")
        return list(body.get("results", [])) if isinstance(body, dict) else []

    def properties(self, object_type: str) -> list[dict[str, Any]]:
        """Every property definition of an object type, standard and custom."""
        body = self.get_json(f"/crm/v3/properties/{object_type}")
        return list(body.get("results", [])) if isinstance(body, dict) else []

    def property(self, object_type: str, name: str) -> dict[str, Any]:
        """One property definition (``GET /crm/v3/properties/{type}/{name}``)."""
        body = self.get_json(f"/crm/v3/properties/{object_type}/{name}")
        return body if isinstance(body, dict) else {}

    def create_property(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/properties/{type}`` → the created definition. HubSpot answers 409 when the
        name is taken, so a create resent after a timeout cannot make the property twice."""
        created = self.post_json(f"/crm/v3/properties/{object_type}", body, idempotent=True)
        return created if isinstance(created, dict) else {}

    def ensure_property_group(self, object_type: str, name: str, label: str) -> None:
        """Create a property group unless it exists (HubSpot's 409 says it does)."""
        try:
            self.post_json(
                f"/crm/v3/properties/{object_type}/groups",
                {"name": name, "label": label, "displayOrder": -1},
                idempotent=True,
            )
        except PermanentError as exc:
            if exc.status != 409:
                raise
