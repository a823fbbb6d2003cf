"""Requests sent to providers and rate-limit answers, counted per provider in Redis for ``/metrics``.

Every web and worker process sends provider requests, so in-process counters would each see a
slice: two Redis hashes add them up for every process and survive restarts. A request only adds to
this process's pending counts (no round trip on the provider's hot path); a timer sends them in one
pipeline of ``HINCRBY`` at most ``FLUSH_SECONDS`` later, and at exit. Counting never gets in a
sync's way: without Redis it does nothing, and after a Redis error it stays quiet for
``BACKOFF_SECONDS`` (dropping those counts: they are metrics, not records).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter

from django.conf import settings
from redis import RedisError

from config.redis_clients import redis_client

logger = logging.getLogger(__name__)

CALLS_KEY = "crm:metrics:provider_calls"
RATE_LIMITED_KEY = "crm:metrics:provider_rate_limited"
BACKOFF_SECONDS = 30.0
FLUSH_SECONDS = 1.0

_quiet_until = 0.0
_lock = threading.Lock()
_pending_calls: Counter[str] = Counter()
_pending_limited: Counter[str] = Counter()
_timer: threading.Timer | None = None


def _enabled() -> bool:
    return bool(settings.REDIS_URL) and time.monotonic() >= _quiet_until


def _back_off(exc: Exception) -> None:
    global _quiet_until
    with _lock:
        _quiet_until = time.monotonic() + BACKOFF_SECONDS
    logger.warning("provider call counters unavailable", extra={"error": type(exc).__name__})


def record(provider: str, *, calls: int, rate_limited: bool) -> None:
    """Add ``calls`` requests (and one rate-limit answer) to ``provider``'s totals, sent to Redis
    within ``FLUSH_SECONDS``; fails open."""
    global _timer
    if (not calls and not rate_limited) or not _enabled():
        return
    with _lock:
        _pending_calls[provider] += calls
        _pending_limited[provider] += int(rate_limited)
        if _timer is None:
            _timer = threading.Timer(FLUSH_SECONDS, flush)
            _timer.daemon = True
            _timer.start()


def flush() -> None:
    """Send this process's pending counts to Redis now (the timer's job; ``totals`` and exit call it)."""
    global _timer
    with _lock:
        calls, limited = +_pending_calls, +_pending_limited
        _pending_calls.clear()
        _pending_limited.clear()
        if _timer is not None and _timer is not threading.current_thread():
            _timer.cancel()
        _timer = None
    if not (calls or limited) or not _enabled():
        return
    try:
        pipe = redis_client().pipeline(transaction=False)
        for provider, n in calls.items():
            pipe.hincrby(CALLS_KEY, provider, n)
        for provider, n in limited.items():
            pipe.hincrby(RATE_LIMITED_KEY, provider, n)
        pipe.execute()
    except (RedisError, OSError) as exc:
        _back_off(exc)


def _forget_in_child() -> None:
    """A forked worker starts with no counts and no timer: the parent's are the parent's to send."""
    global _lock, _timer
    _lock = threading.Lock()
    _pending_calls.clear()
    _pending_limited.clear()
    _timer = None


os.register_at_fork(after_in_child=_forget_in_child)
atexit.register(flush)


def totals() -> tuple[dict[str, int], dict[str, int]]:
    """(requests, rate-limit answers) per provider since the counters began; raises RedisError.

    This process's pending counts are sent first; other processes' arrive within ``FLUSH_SECONDS``."""
    flush()
    pipe = redis_client().pipeline(transaction=False)
    pipe.hgetall(CALLS_KEY)
    pipe.hgetall(RATE_LIMITED_KEY)
    calls, limited = pipe.execute()
    return _ints(calls), _ints(limited)


def _ints(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {key.decode(): int(value) for key, value in raw.items()}


def reset() -> None:
    """Forget the totals (tests), pending counts and any back-off."""
    global _quiet_until, _timer
    with _lock:
        if _timer is not None:
            _timer.cancel()
        _timer = None
        _pending_calls.clear()
        _pending_limited.clear()
    _quiet_until = 0.0
    if settings.REDIS_URL:
        redis_client().delete(CALLS_KEY, RATE_LIMITED_KEY)
