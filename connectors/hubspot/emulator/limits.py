"""HubSpot's limits: the settings that hold them, the ten-second and daily windows, the 429 body and
the ``X-HubSpot-RateLimit-*`` headers."""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from limits import RateLimitItemPerDay, RateLimitItemPerSecond, strategies

from connectors.sandbox.emulator import Emulator, _strategy_for_sandbox
from connectors.sandbox.models import SandboxToken

SETTINGS_DEFAULTS: dict[str, Any] = {
    "rate_max": 100,
    "rate_interval_ms": 10_000,
    "search_rate": 5,
    "daily_limit": 250_000,
    "list_limit_max": 100,
    "search_limit_max": 200,
    "search_ceiling": 10_000,
    "batch_max": 100,
    "association_read_max": 1000,
}


class HubSpotLimits(Emulator):
    """Settings with their defaults, and the rate limits every API call is counted against."""

    def limits(self) -> dict[str, Any]:
        return {**SETTINGS_DEFAULTS, **self.state().settings}

    @property
    def rate_limit(self) -> tuple[int, int]:  # type: ignore[override]
        limits = self.limits()
        return int(limits["rate_max"]), max(1, int(limits["rate_interval_ms"]) // 1000)

    def rate_limited_response(
        self, *, retry_after: float, policy: str = "TEN_SECONDLY_ROLLING"
    ) -> HttpResponse:
        message = {
            "DAILY": "You have reached your daily limit.",
            "SECONDLY": "You have reached your secondly limit.",
        }.get(policy, "You have reached your ten_secondly_rolling limit.")
        resp = JsonResponse(
            {
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": policy,
                "requestId": str(uuid.uuid4()),
            },
            status=429,
        )
        max_, interval = self.rate_limit
        resp["X-HubSpot-RateLimit-Max"] = str(max_)
        resp["X-HubSpot-RateLimit-Remaining"] = "0"
        resp["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(interval * 1000)
        if self.limits().get("retry_after_header"):  # unverified for HubSpot: off unless asked for
            resp["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return resp

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        """The 10-second window (or the search scope's), then the account's daily allowance."""
        blocked = super().check_rate(token, rate, scope=scope)
        if blocked is not None:
            if scope == "search":
                blocked = self.rate_limited_response(retry_after=1, policy="SECONDLY")
        elif not scope and rate is not None and self.state().rate_limit_enabled:
            if not self._daily().hit(self._daily_item(), "sandbox", self.provider, "daily"):
                blocked = self.rate_limited_response(retry_after=3600, policy="DAILY")
        if blocked is not None and token is not None and token.kind == "private_app":
            blocked["X-HubSpot-RateLimit-Daily"] = str(self.limits()["daily_limit"])
            blocked["X-HubSpot-RateLimit-Daily-Remaining"] = str(self._daily_remaining())
        return blocked

    def _daily(self) -> strategies.FixedWindowRateLimiter:
        # A fixed window: a counter per day, cheap even at hundreds of thousands of calls.
        return strategies.FixedWindowRateLimiter(_strategy_for_sandbox().storage)

    def _daily_item(self) -> RateLimitItemPerDay:
        return RateLimitItemPerDay(int(self.limits()["daily_limit"]))

    def _daily_remaining(self) -> int:
        stats = self._daily().get_window_stats(self._daily_item(), "sandbox", self.provider, "daily")
        return max(0, stats.remaining)

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        if token is None:
            return {}
        max_, interval = self.rate_limit
        stats = _strategy_for_sandbox().get_window_stats(
            RateLimitItemPerSecond(max_, interval), "sandbox", self.provider, "", token.access_token
        )
        headers = {
            "X-HubSpot-RateLimit-Max": str(max_),
            "X-HubSpot-RateLimit-Remaining": str(max(0, stats.remaining)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval * 1000),
        }
        if token.kind == "private_app":  # HubSpot omits the daily pair on OAuth-token requests
            headers["X-HubSpot-RateLimit-Daily"] = str(self.limits()["daily_limit"])
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(self._daily_remaining())
        return headers
