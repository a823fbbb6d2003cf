"""Pipedrive's auth and limits: the ``x-api-token`` header (or legacy ``?api_token=``) and OAuth
bearer tokens, the rolling 2-second burst window per token, the daily token budget per company,
the ``x-ratelimit-*`` headers and the 429 body (providers.md §3 "Rate limits").

Settings (``POST _control/settings``): ``burst_api_token`` (40 per 2 s), ``burst_oauth`` (160 per 2 s),
``burst_search`` (10 per 2 s), ``daily_budget`` (tokens per day), ``retry_after_header`` (false).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from limits import RateLimitItemPerDay, RateLimitItemPerSecond, strategies

from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.sandbox.emulator import _strategy_for_sandbox
from connectors.sandbox.models import SandboxToken

BURST_WINDOW = 2
SETTINGS_DEFAULTS: dict[str, Any] = {
    "burst_api_token": 40,
    "burst_oauth": 160,
    "burst_search": 10,
    "daily_budget": 30_000 * 5 * 10,  # 30,000 × plan multiplier (Professional: 5) × seats (10)
    "retry_after_header": False,
}
# What a call costs against the daily budget ([3P] figures in providers.md).
# The cost of the request being handled, set by ``PipedriveLimits.api`` (one request per thread).
_CURRENT = threading.local()
COSTS = {"get": 2, "list": 20, "search": 40, "update": 10, "create": 10, "delete": 6, "other": 5}


def call_cost(request: HttpRequest, view_name: str) -> int:
    if "search" in view_name:
        return COSTS["search"]
    if request.method == "GET":
        return COSTS["list"] if view_name.endswith("collection_view") else COSTS["get"]
    return COSTS.get(
        {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}.get(
            request.method or "", "other"
        ),
        5,
    )


class PipedriveLimits(PipedriveStore):
    """Authentication and the two limits every API call counts against."""

    def limits(self) -> dict[str, Any]:
        return {**SETTINGS_DEFAULTS, **self.state().settings}

    @property
    def rate_limit(self) -> tuple[int, int]:  # type: ignore[override]
        return int(self.limits()["burst_api_token"]), BURST_WINDOW

    def api(self, view: Any, *, search: bool = False) -> Any:
        """``endpoint`` plus the call's budget cost; search views get their own burst window."""
        inner = self.endpoint(view, rate=(1, BURST_WINDOW) if search else None)

        @csrf_exempt
        @functools.wraps(view)
        def costed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            _CURRENT.cost = call_cost(request, view.__name__)
            return inner(request, *args, **kwargs)

        return costed

    # --- auth -----------------------------------------------------------------------------------

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        value = (
            request.headers.get("x-api-token", "").strip()
            or self.bearer_token(request)
            or request.GET.get("api_token", "").strip()
        )
        if not value:
            return None
        token = SandboxToken.objects.filter(provider=self.provider, access_token=value, revoked=False).first()
        if token is None or (token.expires_at and token.expires_at <= timezone.now()):
            return None
        return token

    # --- limits ---------------------------------------------------------------------------------

    def burst_for(self, token: SandboxToken | None, scope: str) -> tuple[int, int]:
        limits = self.limits()
        if "search" in scope:
            return int(limits["burst_search"]), BURST_WINDOW
        key = "burst_oauth" if token is not None and token.kind == "oauth" else "burst_api_token"
        return int(limits[key]), BURST_WINDOW

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        """The burst window (search has its own), then the company's daily budget."""
        if rate is None:
            return None
        blocked = super().check_rate(token, self.burst_for(token, scope), scope=scope)
        if blocked is None and self.state().rate_limit_enabled:
            cost = getattr(_CURRENT, "cost", COSTS["other"])
            if not self._daily().hit(self._daily_item(), "sandbox", self.provider, "daily", cost=cost):
                blocked = self.rate_limited_response(retry_after=self._seconds_to_midnight(), daily=True)
        return blocked

    def rate_limited_response(self, *, retry_after: float, daily: bool = False) -> HttpResponse:
        resp = JsonResponse(
            {
                "success": False,
                "error": "Request over limit" if not daily else "Daily API token budget exhausted",
                "error_info": "Please check developers.pipedrive.com/docs/api/v1/rate-limiting",
                "data": None,
                "additional_data": {},
            },
            status=429,
        )
        limit = int(self.limits()["burst_api_token"])
        resp["x-ratelimit-limit"] = str(limit)
        resp["x-ratelimit-remaining"] = "0"
        resp["x-ratelimit-reset"] = str(max(1, math.ceil(retry_after)))
        if daily:
            resp["x-daily-requests-left"] = "0"
        if self.limits().get("retry_after_header"):
            resp["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return resp

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        if token is None:
            return {}
        amount, seconds = self.burst_for(token, "")
        item = RateLimitItemPerSecond(amount, seconds)
        stats = _strategy_for_sandbox().get_window_stats(
            item, "sandbox", self.provider, "", token.access_token
        )
        return {
            "x-ratelimit-limit": str(amount),
            "x-ratelimit-remaining": str(max(0, stats.remaining)),
            "x-ratelimit-reset": str(max(0, math.ceil(stats.reset_time - time.time()))),
            "x-daily-requests-left": str(self._daily_remaining()),
        }

    def _daily(self) -> strategies.FixedWindowRateLimiter:
        return strategies.FixedWindowRateLimiter(_strategy_for_sandbox().storage)

    def _daily_item(self) -> RateLimitItemPerDay:
        return RateLimitItemPerDay(int(self.limits()["daily_budget"]))

    def _daily_remaining(self) -> int:
        stats = self._daily().get_window_stats(self._daily_item(), "sandbox", self.provider, "daily")
        return max(0, stats.remaining)

    @staticmethod
    def _seconds_to_midnight() -> float:
        now = timezone.now()
        return float(86_400 - (now.hour * 3600 + now.minute * 60 + now.second))
