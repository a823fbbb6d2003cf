"""GoHighLevel's request rules: the ``Version`` header, location-scoped Bearer tokens (private
integration tokens and OAuth access tokens alike), the per-location burst (100 / 10 s) and daily
(200,000) limits with their ``X-RateLimit-*`` headers, and the NestJS-style error bodies
(providers.md §6 "Auth", "Rate limits", "Errors").

Settings (``POST _control/settings``): ``burst_max`` (100), ``burst_ms`` (10000), ``daily_max``
(200000), ``allow_duplicate_contact`` (false), ``search_page_max`` (100).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from limits import RateLimitItemPerDay, RateLimitItemPerSecond

from connectors.gohighlevel.emulator.store import GoHighLevelStore
from connectors.sandbox.emulator import _strategy_for_sandbox
from connectors.sandbox.models import SandboxToken

VERSIONS = ("2021-07-28", "2021-04-15", "v3")
DEFAULTS: dict[str, Any] = {"burst_max": 100, "burst_ms": 10_000, "daily_max": 200_000}
ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}


class GoHighLevelLimits(GoHighLevelStore):
    """Version header, token scope and the two rate limits, checked for every API call."""

    rate_limit = None  # the base's per-token window is replaced by the per-location limits here

    def error(self, status: int, message: Any, *, code: str = "", **extra: Any) -> HttpResponse:
        body: dict[str, Any] = {"statusCode": status, "message": message}
        if status in ERROR_NAMES and status not in (400, 429):
            body["error"] = ERROR_NAMES[status]
        body.update(extra)
        return JsonResponse(body, status=status)

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "Invalid token: access token is invalid")

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        response = self.error(429, "Too Many Requests")
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    def limits(self) -> dict[str, Any]:
        return {**DEFAULTS, **self.state().settings}

    def _items(self) -> tuple[RateLimitItemPerSecond, RateLimitItemPerDay]:
        conf = self.limits()
        burst_seconds = max(1, int(conf["burst_ms"]) // 1000)
        return RateLimitItemPerSecond(int(conf["burst_max"]), burst_seconds), RateLimitItemPerDay(
            int(conf["daily_max"])
        )

    def token_location(self, token: SandboxToken | None) -> str:
        return str((token.data if token else {}).get("locationId") or self.location_id())

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        if token is None:
            return {}
        burst, daily = self._items()
        strategy = _strategy_for_sandbox()
        location = self.token_location(token)
        burst_left = strategy.get_window_stats(burst, "sandbox", self.provider, "burst", location).remaining
        daily_left = strategy.get_window_stats(daily, "sandbox", self.provider, "daily", location).remaining
        conf = self.limits()
        return {
            "X-RateLimit-Limit-Daily": str(conf["daily_max"]),
            "X-RateLimit-Daily-Remaining": str(daily_left),
            "X-RateLimit-Interval-Milliseconds": str(conf["burst_ms"]),
            "X-RateLimit-Max": str(conf["burst_max"]),
            "X-RateLimit-Remaining": str(burst_left),
        }

    def over_limit(self, token: SandboxToken) -> HttpResponse | None:
        """A 429 once the location's burst window or day is used up; counts this call otherwise."""
        if not self.state().rate_limit_enabled:
            return None
        strategy = _strategy_for_sandbox()
        location = self.token_location(token)
        burst, daily = self._items()
        for item, scope in ((burst, "burst"), (daily, "daily")):
            if not strategy.test(item, "sandbox", self.provider, scope, location):
                stats = strategy.get_window_stats(item, "sandbox", self.provider, scope, location)
                return self.rate_limited_response(retry_after=stats.reset_time - time.time())
        strategy.hit(burst, "sandbox", self.provider, "burst", location)
        strategy.hit(daily, "sandbox", self.provider, "daily", location)
        return None

    def api(self, view):
        """An API view: faults and auth (the base pipeline), then Version, location scope, limits."""

        @functools.wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            token = request.sandbox_token  # type: ignore[attr-defined]
            if request.headers.get("Version", "") not in VERSIONS:
                return self.error(400, "Version header is missing or invalid")
            asked = request.GET.get("locationId") or request.GET.get("location_id")
            if asked and asked != self.token_location(token):
                return self.error(403, "The token does not have access to this location")
            blocked = self.over_limit(token)
            if blocked is not None:
                return blocked
            return view(request, *args, **kwargs)

        return self.endpoint(checked)

    def reset(self) -> None:
        super().reset()
        _strategy_for_sandbox().storage.reset()
