"""Zoho's error bodies and limits: API credits over a rolling 24 hours per org, the per-org concurrency
cap, both answered with 429 ``TOO_MANY_REQUESTS`` (no Retry-After: Zoho documents none).

Settings: ``credit_limit`` (50,000: a Standard org's base), ``concurrency_limit`` (10, Standard),
``rate_headers`` (true: ``X-RATELIMIT-LIMIT``/``X-RATELIMIT-REMAINING`` on API answers; these header
names come from a third-party description, unverified, so a client must not depend on them).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from limits import RateLimitItemPerDay

from connectors.sandbox.emulator import Emulator, _strategy_for_sandbox
from connectors.sandbox.models import SandboxState, SandboxToken

DEFAULT_CREDIT_LIMIT = 50_000
# The emulator's state row as read when an API request began: the pipeline consults it several times
# (faults, settings, credits, headers), and one read per request is enough.
_request = threading.local()
DEFAULT_CONCURRENCY = 10


class ZohoLimits(Emulator):
    """Error bodies, the credit budget and the concurrency cap."""

    _in_flight = 0
    _in_flight_lock = threading.Lock()

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        default = {
            400: "INVALID_DATA",
            401: "INVALID_TOKEN",
            403: "NO_PERMISSION",
            404: "INVALID_URL_PATTERN",
            405: "INVALID_REQUEST_METHOD",
            429: "TOO_MANY_REQUESTS",
            500: "INTERNAL_ERROR",
            503: "INTERNAL_ERROR",
        }.get(status, "INTERNAL_ERROR")
        details = extra.pop("details", {})
        return JsonResponse(
            {"code": code or default, "details": details, "message": message, "status": "error", **extra},
            status=status,
        )

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "invalid oauth token", code="INVALID_TOKEN")

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        return self.error(
            429, "The number of API requests for your organization has exceeded the allowed limit."
        )

    def state(self) -> SandboxState:
        cached = getattr(_request, "state", None)
        return cached if cached is not None and cached.provider == self.provider else super().state()

    # --- credits --------------------------------------------------------------------------------

    def credit_limit(self) -> int:
        return int(self.setting("credit_limit", DEFAULT_CREDIT_LIMIT))

    def _credit_item(self) -> RateLimitItemPerDay:
        return RateLimitItemPerDay(self.credit_limit())

    def credits_used(self) -> int:
        stats = _strategy_for_sandbox().get_window_stats(
            self._credit_item(), "sandbox", self.provider, "credits"
        )
        return self.credit_limit() - int(stats.remaining)

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        """One credit per call against the org's rolling 24-hour budget."""
        if not self.state().rate_limit_enabled:
            return None
        if _strategy_for_sandbox().hit(self._credit_item(), "sandbox", self.provider, "credits", cost=1):
            return None
        return self.rate_limited_response(retry_after=0)

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        if not self.setting("rate_headers", True):
            return {}
        limit = self.credit_limit()
        return {
            "X-RATELIMIT-LIMIT": str(limit),
            "X-RATELIMIT-REMAINING": str(max(0, limit - self.credits_used())),
        }

    def reset(self) -> None:
        super().reset()
        _strategy_for_sandbox().storage.reset()

    def _state_dict(self, state: SandboxState) -> dict[str, Any]:
        return {
            **super()._state_dict(state),
            "credits_used": self.credits_used(),
            "credit_limit": self.credit_limit(),
        }

    # --- concurrency -------------------------------------------------------------------------------

    def endpoint(self, view=None, *, auth: bool = True, limited: bool = True, rate=None) -> Any:
        """The base pipeline, inside the org's concurrency cap (this process's in-flight API calls)."""
        if view is None:
            return functools.partial(self.endpoint, auth=auth, limited=limited, rate=rate)
        inner = super().endpoint(view, auth=auth, limited=limited, rate=rate)
        if not limited:
            return inner

        @functools.wraps(inner)
        def capped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            _request.state = super(ZohoLimits, self).state()
            try:
                limit = int(self.setting("concurrency_limit", DEFAULT_CONCURRENCY))
                with ZohoLimits._in_flight_lock:
                    busy = ZohoLimits._in_flight >= limit
                    if not busy:
                        ZohoLimits._in_flight += 1
                if busy:
                    return self.error(429, "concurrency limit exceeded for your organization")
                try:
                    return inner(request, *args, **kwargs)
                finally:
                    with ZohoLimits._in_flight_lock:
                        ZohoLimits._in_flight -= 1
            finally:
                _request.state = None

        return capped
