"""Per-key API throttling (a DRF throttle class): every API key, and every staff user's session, gets
``API_RATE_LIMIT`` requests per window (``"6000/minute"`` by default, the ``limits`` library's
notation; empty turns it off).

Counted by ``limits``' fixed window on the shared rate-limit storage (Redis in production, the one
the connectors' limits use): one counter per client per window, whatever the rate. Over the limit
the request is answered 429 ``{"error": {"code": "throttled", ...}}`` with ``Retry-After`` (the
seconds left in the window) by the API's exception handler. If the storage is unreachable the
request is let through and the outage logged: our own outage is no reason to refuse clients.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from django.conf import settings
from limits import RateLimitItem, parse
from rest_framework.throttling import BaseThrottle

from connectors.ratelimit import fixed_window
from integrations.api.authentication import ApiKeyPrincipal
from integrations.request_address import client_address

logger = logging.getLogger(__name__)


@cache
def parse_rate(rate: str) -> RateLimitItem | None:
    """``"6000/minute"`` → 6000 per minute; ``""`` → None (no limit)."""
    if not rate:
        return None
    try:
        return parse(rate)
    except ValueError:
        raise ValueError(
            f"API_RATE_LIMIT must look like '6000/minute' or '100/second', not {rate!r}"
        ) from None


def client_of(request) -> str:
    """Whose budget a request spends: its API key, else its user, else its address."""
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return f"key:{user.key.pk}"
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return f"address:{client_address(request)}"


class PerKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        item = parse_rate(settings.API_RATE_LIMIT)
        if item is None:
            return True
        limiter, client = fixed_window(), client_of(request)
        try:
            if limiter.hit(item, "api", client):
                return True
            reset = limiter.get_window_stats(item, "api", client).reset_time
        except Exception:  # fail open, whatever the storage's client raised; logged with its traceback
            logger.exception("API rate limit unavailable: admitting")
            return True
        self.retry_after = max(1.0, reset - time.time())
        return False

    def wait(self) -> float | None:
        return self.retry_after
