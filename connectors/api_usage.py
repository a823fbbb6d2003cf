"""Requests sent to providers and rate-limit answers, counted per provider in Redis for ``/metrics``.

Every web and worker process sends provider requests, so in-process counters would each see a
slice: two Redis hashes (``HINCRBY``, one round trip per request) add them up for every process
and survive restarts. Counting never gets in a sync's way: without Redis it does nothing, and
after a Redis error it stays quiet for ``BACKOFF_SECONDS`` instead of waiting on every request.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from redis import RedisError

from config.redis_clients import redis_client

logger = logging.getLogger(__name__)

CALLS_KEY = "crm:metrics:provider_calls"
RATE_LIMITED_KEY = "crm:metrics:provider_rate_limited"
BACKOFF_SECONDS = 30.0

_quiet_until = 0.0
_lock = threading.Lock()


def _enabled() -> bool:
    return bool(settings.REDIS_URL) and time.monotonic() >= _quiet_until


def _back_off(exc: Exception) -> None:
    global _quiet_until
    with _lock:
        _quiet_until = time.monotonic() + BACKOFF_SECONDS
    logger.warning("provider call counters unavailable", extra={"error": type(exc).__name__})


def record(provider: str, *, calls: int, rate_limited: bool) -> None:
    """Add ``calls`` requests (and one rate-limit answer) to ``provider``'s totals; fails open."""
    if (not calls and not rate_limited) or not _enabled():
        return
    try:
        pipe = redis_client().pipeline(transaction=False)
        if calls:
            pipe.hincrby(CALLS_KEY, provider, calls)
        if rate_limited:
            pipe.hincrby(RATE_LIMITED_KEY, provider, 1)
        pipe.execute()
    except (RedisError, OSError) as exc:
        _back_off(exc)


def totals() -> tuple[dict[str, int], dict[str, int]]:
    """(requests, rate-limit answers) per provider since the counters began; raises RedisError."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.hgetall(CALLS_KEY)
    pipe.hgetall(RATE_LIMITED_KEY)
    calls, limited = pipe.execute()
    return _ints(calls), _ints(limited)


def _ints(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {key.decode(): int(value) for key, value in raw.items()}


def reset() -> None:
    """Forget the totals (tests) and any back-off."""
    global _quiet_until
    _quiet_until = 0.0
    if settings.REDIS_URL:
        redis_client().delete(CALLS_KEY, RATE_LIMITED_KEY)
