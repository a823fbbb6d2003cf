"""The Graph API client: error bodies mapped to our errors, cursor paging, ``appsecret_proof``.

Graph refuses with ``{"error": {"code", "error_subcode", "message", "is_transient"}}``, mostly as
HTTP 400, so the status alone says little (providers.md §9): 190 is a dead token (the user must log
in again: no refresh token exists), 4/17/32/613 and 80000-80014 are throttling with no Retry-After
(the wait is ``estimated_time_to_regain_access`` minutes in the usage headers), 1/2 and
``is_transient`` are worth a retry, 10 and 200-299 are missing permissions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from config.logging import redact
from connectors.errors import AuthError, PermanentError, RateLimited, ReauthorizationNeeded, TransientError
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty

TOKEN_REFUSED = 190
NOT_FOUND = 100  # "invalid parameter": what Graph answers for an id it cannot load
BATCH_LIMIT = 50
THROTTLED = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT = frozenset({1, 2})
PERMISSION = frozenset({10, *range(200, 300)})
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-Ad-Account-Usage", "X-App-Usage")
# Throttled with no estimate: wait this long (seconds) before trying again.
DEFAULT_THROTTLE_WAIT = 60.0


def graph_error(resp: requests.Response) -> dict[str, Any]:
    body = json_or_empty(resp)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def regain_access_seconds(headers: Any) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) any usage header gives, in seconds."""
    minutes: list[float] = []
    for name in USAGE_HEADERS:
        try:
            usage = json.loads(headers.get(name) or "null")
        except ValueError:
            continue
        for item in _usage_items(usage):
            value = item.get("estimated_time_to_regain_access")
            if isinstance(value, int | float):
                minutes.append(float(value))
    return max(minutes) * 60 if minutes else None


def _usage_items(usage: Any) -> Iterator[dict[str, Any]]:
    """X-App-Usage is one object; the business-use-case headers map ids to lists of objects."""
    if isinstance(usage, dict) and "call_count" in usage:
        yield usage
    elif isinstance(usage, dict):
        for value in usage.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    yield item


def appsecret_proof(app_secret: str, access_token: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


class GraphClient(ProviderClient):
    """One access token's Graph session. ``on_token_refused`` is told when Graph answers 190."""

    provider = "Facebook"

    def __init__(
        self,
        *,
        access_token: str,
        app_secret: str = "",
        on_token_refused: Callable[[str], None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.access_token = access_token
        self.app_secret = app_secret
        self.on_token_refused = on_token_refused

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if auth:
            headers["Authorization"] = f"Bearer {self.access_token}"
            if self.app_secret and not path.startswith(("http://", "https://")):
                kwargs["params"] = {**kwargs.get("params", {}), "appsecret_proof": self.proof()}
        return super()._send(method, path, auth=auth, headers=headers, **kwargs)

    def proof(self) -> str:
        return appsecret_proof(self.app_secret, self.access_token)

    def paged(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Each page's ``data``, following ``paging.next`` until it is absent."""
        body = self.get_json(path, params=params)
        while True:
            yield list(body.get("data") or [])
            next_url = (body.get("paging") or {}).get("next")
            if not next_url:
                return
            body = self.get_json(next_url)

    def error_message(self, resp: requests.Response) -> str:
        message = str(graph_error(resp).get("message") or "")
        return redact(message)[:ERROR_EXCERPT] if message else super().error_message(resp)

    def raise_for_response(self, resp: requests.Response) -> None:
        if resp.status_code in self.ok_statuses:
            return
        error = graph_error(resp)
        if not isinstance(error.get("code"), int):
            super().raise_for_response(resp)
            return
        self.raise_graph_error(error, status=resp.status_code, headers=resp.headers)

    def raise_graph_error(self, error: Mapping[str, Any], *, status: int, headers: Mapping[str, str]) -> None:
        """Raise what a Graph ``error`` object means (a response's, or one request's of a batch)."""
        code = error.get("code")
        message = redact(str(error.get("message") or f"HTTP {status}"))[:ERROR_EXCERPT]
        subcode = error.get("error_subcode")
        label = f"{code}/{subcode}" if subcode else str(code)
        if code == TOKEN_REFUSED:
            reason = f"Facebook refused the access token ({label}): {message}. Reconnect the integration."
            if self.on_token_refused is not None:
                self.on_token_refused(reason)
            raise ReauthorizationNeeded(reason, status=status, code=label)
        if code in THROTTLED:
            wait = regain_access_seconds(headers)
            raise RateLimited(
                f"Facebook throttled the app ({label}): {message}",
                retry_after=max(wait, 1.0) if wait is not None else DEFAULT_THROTTLE_WAIT,
                status=status,
            )
        if code in TRANSIENT or error.get("is_transient") is True or status >= 500:
            raise TransientError(f"Facebook error ({label}): {message}", status=status)
        if code in PERMISSION:
            raise AuthError(
                f"Facebook needs more permissions ({label}): {message}", status=status, code=label
            )
        raise PermanentError(f"Facebook refused the request ({label}): {message}", status=status, code=label)

    def batch_get(self, relative_urls: list[str]) -> list[dict[str, Any] | None]:
        """GET up to ``BATCH_LIMIT`` paths in one Graph batch request; per path its body, or None
        when Graph has no such object (error 100). Any other error of one request is raised."""
        if len(relative_urls) > BATCH_LIMIT:
            raise ValueError(f"a Graph batch takes at most {BATCH_LIMIT} requests")
        batch = [{"method": "GET", "relative_url": url} for url in relative_urls]
        answers = self.post_json(
            "", None, idempotent=True, data={"batch": json.dumps(batch), "include_headers": "false"}
        )
        if not isinstance(answers, list) or len(answers) != len(relative_urls):
            raise TransientError("Facebook answered the batch request with something else")
        bodies: list[dict[str, Any] | None] = []
        for answer in answers:
            code = int((answer or {}).get("code") or 500)
            try:
                body = json.loads((answer or {}).get("body") or "null")
            except ValueError:
                body = None
            if code == 200 and isinstance(body, dict):
                bodies.append(body)
                continue
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                raise TransientError(f"Facebook batch request failed ({code})", status=code)
            if error.get("code") == NOT_FOUND:
                bodies.append(None)
                continue
            headers = {h.get("name", ""): h.get("value", "") for h in (answer or {}).get("headers") or []}
            self.raise_graph_error(error, status=code, headers=headers)
        return bodies
