"""Salesforce's limits: the daily API budget (403 ``REQUEST_LIMIT_EXCEEDED``, never 429),
``Sforce-Limit-Info`` on every response, and the ``/limits`` resource."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxToken

DEFAULT_DAILY_LIMIT = 15000


class SalesforceLimits(Emulator):
    """The daily budget every API call is counted against, and how it is reported."""

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        """An injected "slow down": Salesforce's concurrent-request limit (no 429, no Retry-After)."""
        return self.error(403, "ConcurrentPerOrgLongTxn Limit exceeded.", code="REQUEST_LIMIT_EXCEEDED")

    def daily_limit_response(self) -> HttpResponse:
        """The exhausted daily budget: the same 403 shape, lifted only as the 24 h window moves on."""
        return self.error(403, "TotalRequests Limit exceeded.", code="REQUEST_LIMIT_EXCEEDED")

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        return {"Sforce-Limit-Info": self._limit_info()}

    def _daily_limit(self) -> int:
        return int(self.setting("daily_limit", DEFAULT_DAILY_LIMIT))

    def _limit_info(self) -> str:
        state = self.state()
        limit = int(state.settings.get("daily_limit", DEFAULT_DAILY_LIMIT))
        return f"api-usage={min(state.requests, limit)}/{limit}"

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        # The daily budget counts every API request since the last reset (SandboxState.requests).
        if self.state().requests > self._daily_limit():
            return self.daily_limit_response()
        return super().check_rate(token, rate, scope=scope)

    def limits_view(self, request: HttpRequest, version: str) -> HttpResponse:
        if (bad := self._check_version(version)) is not None:
            return bad
        state = self.state()
        limit = int(state.settings.get("daily_limit", DEFAULT_DAILY_LIMIT))
        return JsonResponse(
            {
                "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - state.requests)},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
                "ConcurrentSyncLongRunningRequests": {"Max": 25, "Remaining": 25},
            }
        )
