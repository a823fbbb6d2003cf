"""AITable's envelope, auth and rate limit (providers.md §4 "Errors", "Rate limits").

Every answer is ``{"success","code","message","data"}``. Most errors are HTTP 200 with a non-200
``code`` (``fail``); only a bad token (401), an unknown path (404), the rate limit (429) and server
faults (500, injected) use the real status. The limit is 5 requests per second per (datasheet or space
named in the URL) + token, moving window; the 429 carries no rate headers and no Retry-After.

Settings (``POST _control/settings``): ``qps`` (5).
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from connectors.aitable.emulator.schema import AITableSchema

DEFAULT_QPS = 5
TOO_FAST = (
    "The API request frequency is too high. Please reduce the request frequency or upgrade the "
    "space plan to raise the limit."
)
MESSAGES = {
    401: "The API token is invalid or missing. Please check the Authorization header.",
    404: "The requested resource does not exist.",
    500: "Server error. Please try again later.",
}


def envelope(data: Any) -> JsonResponse:
    """A successful answer."""
    return JsonResponse({"success": True, "code": 200, "message": "SUCCESS", "data": data})


def fail(code: int, message: str, *, status: int = 200) -> JsonResponse:
    """An error answer: HTTP 200 unless ``status`` says otherwise (providers.md §4)."""
    return JsonResponse({"success": False, "code": code, "message": message, "data": None}, status=status)


class AITableLimits(AITableSchema):
    """Envelope-shaped faults, 401s and the per-node rate limit."""

    @property
    def rate_limit(self) -> tuple[int, int]:  # type: ignore[override]
        return int(self.setting("qps", DEFAULT_QPS)), 1

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        """Faults injected through ``_control/faults`` (and real-status errors) in AITable's shape."""
        return fail(
            status, MESSAGES.get(status, message) if message == "injected failure" else message, status=status
        )

    def unauthorized(self) -> HttpResponse:
        return fail(401, MESSAGES[401], status=401)

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        return fail(429, TOO_FAST, status=429)

    def api(self, view: Any) -> Any:
        """``endpoint`` (faults, then the token) and then the rate limit of the datasheet or space the
        URL names, per token."""

        @functools.wraps(view)
        def node_limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            node = kwargs.get("dst_id") or kwargs.get("space_id") or kwargs.get("node_id") or "account"
            blocked = self.check_rate(request.sandbox_token, self.rate_limit, scope=node)
            return blocked if blocked is not None else view(request, *args, **kwargs)

        return csrf_exempt(self.endpoint(node_limited, limited=False))

    def not_found_view(self, request: HttpRequest, rest: str = "") -> HttpResponse:
        return fail(404, MESSAGES[404], status=404)
