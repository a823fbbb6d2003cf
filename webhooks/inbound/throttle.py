"""The receiver's per-integration rate limit: fixed windows counted in Redis, leased out in slices.

A process takes a slice of the current window's budget at once (one ``INCRBY``), spends it locally
and asks again when it runs out, so most requests are decided without a round trip. All processes
together never admit more than the limit in a window. A slice a process holds unspent when the
window ends is lost, which errs towards throttling; slices are a tenth of the limit (1 for small
limits), so the exact count is kept where it matters. A fixed window can admit up to twice the limit
across a window boundary: fine for shedding a flood, which is what this is for. Without Redis
(the embedded default) each process counts on its own.

Outbound calls to providers use ``connectors.ratelimit`` (a moving window, exact to the request)
because there a single extra request earns a 429.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from config.redis_clients import redis_client
from connectors.ratelimit import parse_rate

logger = logging.getLogger(__name__)

MAX_SLICE = 100


@dataclass
class _Lease:
    window: int
    left: int


_leases: dict[str, _Lease] = {}
_local_counts: dict[str, tuple[int, int]] = {}  # key → (window, count): the store without Redis
_lock = threading.Lock()


def admit(key: str, rate: str) -> float | None:
    """Count one request against ``key``'s limit: None if admitted, else seconds until the window ends.

    Fails open: if Redis cannot be reached the request is admitted (and logged), because refusing
    a provider's delivery over our own outage would only make it retry into the same outage.
    """
    limit, seconds = _parsed(rate)
    now = time.time()
    window = int(now // seconds)
    with _lock:
        lease = _leases.get(key)
        if lease is not None and lease.window == window and lease.left > 0:
            lease.left -= 1
            return None
    try:
        granted = _take(key, window, limit, seconds, slice_size=max(1, min(MAX_SLICE, limit // 10)))
    except Exception:  # fail open, whatever the Redis client raised; logged with its traceback
        logger.exception("webhook rate limit unavailable: admitting", extra={"key": key})
        return None
    if granted <= 0:
        return max(0.001, (window + 1) * seconds - now)
    with _lock:
        _leases[key] = _Lease(window=window, left=granted - 1)
    return None


@functools.lru_cache(maxsize=64)
def _parsed(rate: str) -> tuple[int, int]:
    return parse_rate(rate)


def _take(key: str, window: int, limit: int, seconds: int, *, slice_size: int) -> int:
    """Claim up to ``slice_size`` of the window's budget; returns how many were granted."""
    if settings.REDIS_URL:
        counter = f"ingress:{key}:{window}"
        pipe = redis_client().pipeline(transaction=False)
        pipe.incrby(counter, slice_size)
        pipe.expire(counter, seconds + 1)
        total = pipe.execute()[0]
    else:
        with _lock:
            seen, count = _local_counts.get(key, (window, 0))
            total = (count if seen == window else 0) + slice_size
            _local_counts[key] = (window, total)
    return min(slice_size, limit - (total - slice_size))


def reset(key: str, rate: str) -> None:
    """Forget ``key``'s current window (tests, and an operator clearing a throttle)."""
    _, seconds = parse_rate(rate)
    window = int(time.time() // seconds)
    with _lock:
        _leases.pop(key, None)
        _local_counts.pop(key, None)
    if settings.REDIS_URL:
        redis_client().delete(f"ingress:{key}:{window}")


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
