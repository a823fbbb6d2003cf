"""Per-key API throttling (DRF throttle class): every API key, and every staff user's session, gets
``API_RATE_LIMIT`` requests per window (``"6000/minute"`` by default; empty turns it off).

A fixed-window counter in the cache (Redis in production): one ``INCR`` per request, whatever the
rate, where DRF's ``SimpleRateThrottle`` would read and rewrite a list of every request's timestamp
in the window. Over the limit the request is answered 429 ``{"error": {"code": "throttled", ...}}``
with ``Retry-After`` (the seconds left in the window), by the API's exception handler.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from integrations.api.authentication import ApiKeyPrincipal

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int] | None:
    """``"6000/minute"`` → (6000, 60); ``""`` → None (no limit). DRF's notation: the period's first
    letter counts (s, m, h, d)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    try:
        return int(count), PERIODS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ValueError(f"API_RATE_LIMIT must look like '6000/minute', not {rate!r}") from None


def client_of(request) -> str:
    """Whose budget a request spends: its API key, else its user, else its address."""
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return f"key:{user.key.pk}"
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class PerKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        rate = parse_rate(settings.API_RATE_LIMIT)
        if rate is None:
            return True
        limit, window = rate
        now = time.time()
        slot = int(now // window)
        key = f"api-throttle:{client_of(request)}:{window}:{slot}"
        cache.add(key, 0, timeout=window + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # the window's counter expired between add and incr
            cache.set(key, 1, timeout=window + 1)
            used = 1
        if used <= limit:
            return True
        self.retry_after = max(1.0, (slot + 1) * window - now)
        return False

    def wait(self) -> float | None:
        return self.retry_after
