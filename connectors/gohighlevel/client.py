"""GoHighLevel's HTTP calls (API v2, providers.md §6), returning the API's raw bodies.

Every request carries the ``Version`` header. Limits are read from every answer: when
``X-RateLimit-Remaining`` reaches 0 the next request waits out the burst window
(``X-RateLimit-Interval-Milliseconds``); a 429 waits ``Retry-After`` (else the window); an
exhausted day (``X-RateLimit-Daily-Remaining: 0``) becomes a RateLimited long enough for Celery,
not tenacity, to schedule. Errors are NestJS bodies whose ``message`` may be a list of problems.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests

from connectors.base import AuthError, PermanentError, RateLimited
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty, parse_retry_after

DEFAULT_VERSION = "2021-07-28"
SEARCH_PAGE = 100  # the advanced search's pageLimit (providers.md §6)
LIST_PAGE = 100  # the opportunity search's largest limit
BURST_WINDOW = 10.0  # seconds, when the headers name none
DAILY_RETRY_AFTER = 3600.0
MAX_ATTEMPTS = 6  # a 429 storm is waited out, not failed
NOT_FOUND = (400, 404)  # GoHighLevel answers 400 "Contact not found" for an unknown contact id


def _number(resp: requests.Response, name: str) -> float | None:
    try:
        return float(resp.headers[name])
    except (KeyError, ValueError):
        return None


class GoHighLevelClient(ProviderClient):
    provider = "GoHighLevel"

    def __init__(self, *, location_id: str, version: str = DEFAULT_VERSION, **kwargs: Any):
        kwargs.setdefault("max_attempts", MAX_ATTEMPTS)
        super().__init__(**kwargs)
        self.location_id = location_id
        self.version = version
        self._resume_at = 0.0  # monotonic time the burst window frees up, per the last headers
        self.limits_seen: dict[str, str] = {}  # the last answer's X-RateLimit-* headers

    # --- transport, limits and errors ----------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        pause = self._resume_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        kwargs["headers"] = {"Version": self.version, **kwargs.get("headers", {})}
        return super()._send(method, path, **kwargs)

    def _window(self, resp: requests.Response) -> float:
        interval = _number(resp, "X-RateLimit-Interval-Milliseconds")
        return interval / 1000 if interval else BURST_WINDOW

    def observe_limits(self, resp: requests.Response) -> None:
        """Hold the next request until the burst window frees up once none is left in it."""
        self.limits_seen = {k: v for k, v in resp.headers.items() if k.lower().startswith("x-ratelimit-")}
        remaining = _number(resp, "X-RateLimit-Remaining")
        if remaining is not None and remaining <= 0:
            self._resume_at = time.monotonic() + self._window(resp)

    def error_message(self, resp: requests.Response) -> str:
        """``message`` as GoHighLevel writes it: a string, or a list of problems (422)."""
        body = json_or_empty(resp)
        if isinstance(body, dict) and isinstance(body.get("message"), list):
            return "; ".join(str(m) for m in body["message"])[:ERROR_EXCERPT]
        return super().error_message(resp)

    def error_code(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        return str(body.get("statusCode") or resp.status_code) if isinstance(body, dict) else ""

    def raise_for_response(self, resp: requests.Response) -> None:
        self.observe_limits(resp)
        daily_left = _number(resp, "X-RateLimit-Daily-Remaining")
        if resp.status_code == 429:
            if daily_left is not None and daily_left <= 0:
                raise RateLimited(
                    "GoHighLevel's daily request limit is used up", retry_after=DAILY_RETRY_AFTER, status=429
                )
            wait = parse_retry_after(resp.headers.get("Retry-After"))
            raise RateLimited(
                f"GoHighLevel rate limit: {self.error_message(resp)}",
                retry_after=wait if wait is not None else self._window(resp),
                status=429,
            )
        super().raise_for_response(resp)

    def usage(self) -> list[dict[str, str]]:
        """The quota rows a connection test reports (``USAGE_KEY``), from the last answer's headers."""
        seen = {k.lower(): v for k, v in self.limits_seen.items()}
        rows = []
        if "x-ratelimit-daily-remaining" in seen and "x-ratelimit-limit-daily" in seen:
            rows.append(
                {
                    "label": "Requests left today",
                    "value": f"{seen['x-ratelimit-daily-remaining']} of {seen['x-ratelimit-limit-daily']}",
                }
            )
        if "x-ratelimit-remaining" in seen and "x-ratelimit-max" in seen:
            window = seen.get("x-ratelimit-interval-milliseconds", "10000")
            rows.append(
                {
                    "label": "Burst window",
                    "value": f"{seen['x-ratelimit-remaining']} of {seen['x-ratelimit-max']} per {int(window) // 1000} s",
                }
            )
        return rows

    # --- contacts -----------------------------------------------------------------------------------

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        """A contact, or None when GoHighLevel has none by that id (it answers 400 or 404)."""
        resp = self.session_get_optional(f"/contacts/{contact_id}")
        return (json_or_empty(resp) or {}).get("contact") if resp is not None else None

    def session_get_optional(self, path: str) -> requests.Response | None:
        """GET that reads "not found" (GoHighLevel says 400 for an unknown contact) as None."""
        try:
            return self.request("GET", path)
        except AuthError:
            raise
        except PermanentError as exc:
            if exc.status in NOT_FOUND:
                return None
            raise

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_json("/contacts/", {**body, "locationId": self.location_id})["contact"]

    def upsert_contact(self, body: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        """``{"new": bool, "contact": {...}}``: matched by email or phone as the location's rule says.
        Keyed by email or phone it may be resent safely (it would match what it made)."""
        return self.post_json(
            "/contacts/upsert", {**body, "locationId": self.location_id}, idempotent=idempotent
        )

    def update_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return json_or_empty(self.request("PUT", f"/contacts/{contact_id}", json=body)).get("contact") or {}

    def delete(self, path: str) -> bool:
        """DELETE; False when it was already gone (GoHighLevel's 400/404 for an unknown id)."""
        try:
            self.request("DELETE", path)
        except AuthError:
            raise
        except PermanentError as exc:
            if exc.status in NOT_FOUND:
                return False
            raise
        return True

    def search_contacts(
        self,
        *,
        filters: list[dict[str, Any]],
        limit: int = SEARCH_PAGE,
        search_after: list[Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "locationId": self.location_id,
            "pageLimit": limit,
            "filters": filters,
            "sort": [{"field": "dateUpdated", "direction": "asc"}],
        }
        if search_after:
            body["searchAfter"] = search_after
        else:
            body["page"] = 1
        return self.post_json("/contacts/search", body, idempotent=True)

    def iter_contacts(self, filters: list[dict[str, Any]]) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Pages of contacts oldest change first, with the search's total, by ``searchAfter``."""
        after: list[Any] | None = None
        while True:
            data = self.search_contacts(filters=filters, search_after=after)
            contacts = data.get("contacts") or []
            yield contacts, int(data.get("total") or 0)
            if len(contacts) < SEARCH_PAGE:
                return
            after = contacts[-1].get("searchAfter")
            if not after:
                return

    def duplicate(self, *, email: str = "", phone: str = "") -> dict[str, Any] | None:
        params = {"locationId": self.location_id, **({"email": email} if email else {"number": phone})}
        return self.get_json("/contacts/search/duplicate", params=params).get("contact")

    def custom_fields(self) -> list[dict[str, Any]]:
        return self.get_json(f"/locations/{self.location_id}/customFields").get("customFields") or []

    # --- notes and tasks ---------------------------------------------------------------------------

    def child(self, contact_id: str, kind: str, child_id: str) -> dict[str, Any] | None:
        resp = self.session_get_optional(f"/contacts/{contact_id}/{kind}/{child_id}")
        return (json_or_empty(resp) or {}).get(kind[:-1]) if resp is not None else None

    def children(self, contact_id: str, kind: str) -> list[dict[str, Any]] | None:
        """The contact's notes or tasks (one list, GoHighLevel does not page them); None when the
        contact is gone."""
        resp = self.session_get_optional(f"/contacts/{contact_id}/{kind}")
        return (json_or_empty(resp) or {}).get(kind) or [] if resp is not None else None

    def create_child(self, contact_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /contacts/{id}/notes|tasks`` → the note or task (``{"note": …}`` / ``{"task": …}``)."""
        return self.post_json(f"/contacts/{contact_id}/{kind}", body)[kind[:-1]]

    def update_child(self, contact_id: str, kind: str, child_id: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.request("PUT", f"/contacts/{contact_id}/{kind}/{child_id}", json=body)
        return json_or_empty(resp).get(kind[:-1]) or {}

    # --- calendar appointments (calendars API) -------------------------------------------------------

    def appointment(self, event_id: str) -> dict[str, Any] | None:
        resp = self.session_get_optional(f"/calendars/events/appointments/{event_id}")
        return (json_or_empty(resp) or {}).get("event") if resp is not None else None

    def calendar(self, calendar_id: str) -> dict[str, Any]:
        return self.get_json(f"/calendars/{calendar_id}").get("calendar") or {}

    def free_slots(self, calendar_id: str, *, start_ms: int, end_ms: int) -> dict[str, Any]:
        """Day → ``{"slots": [ISO start, …]}`` between the two epoch-ms bounds."""
        params = {"startDate": str(start_ms), "endDate": str(end_ms)}
        return self.get_json(f"/calendars/{calendar_id}/free-slots", params=params)

    def book_appointment(self, body: dict[str, Any]) -> dict[str, Any]:
        """The appointment as GoHighLevel made it (flat). Not resent: a lost answer may have booked."""
        return self.post_json("/calendars/events/appointments", body, idempotent=False)

    def calendar_events(self, calendar_id: str, *, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """The calendar's events starting between ``start_ms`` and ``end_ms`` (epoch ms)."""
        params = {
            "locationId": self.location_id,
            "calendarId": calendar_id,
            "startTime": str(start_ms),
            "endTime": str(end_ms),
        }
        return self.get_json("/calendars/events", params=params).get("events") or []

    # --- opportunities ------------------------------------------------------------------------------

    def opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        resp = self.session_get_optional(f"/opportunities/{opportunity_id}")
        return (json_or_empty(resp) or {}).get("opportunity") if resp is not None else None

    def create_opportunity(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post_json("/opportunities/", {**body, "locationId": self.location_id})["opportunity"]

    def update_opportunity(self, opportunity_id: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.request("PUT", f"/opportunities/{opportunity_id}", json=body)
        return json_or_empty(resp).get("opportunity") or {}

    def iter_opportunities(self, **filters: str) -> Iterator[list[dict[str, Any]]]:
        """Every opportunity of the location, by ``startAfter``/``startAfterId`` pages."""
        params: dict[str, Any] = {"location_id": self.location_id, "limit": LIST_PAGE, **filters}
        while True:
            data = self.get_json("/opportunities/search", params=params)
            yield data.get("opportunities") or []
            meta = data.get("meta") or {}
            if not meta.get("startAfterId"):
                return
            params = {**params, "startAfterId": meta["startAfterId"], "startAfter": meta["startAfter"]}

    def pipelines(self) -> list[dict[str, Any]]:
        return (
            self.get_json("/opportunities/pipelines", params={"locationId": self.location_id}).get(
                "pipelines"
            )
            or []
        )
