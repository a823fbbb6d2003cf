"""Rate limits shared by every worker: the ``limits`` library on Redis, in-process without it.

A limiter is sized from the provider's published limit ("100/10": 100 requests per 10 s), kept a
little under it so clock skew between us and the provider never earns a 429, and keyed per
provider account so integrations do not starve each other.
"""

import threading
import time

from django.conf import settings
from limits import RateLimitItemPerSecond, storage, strategies

from connectors.errors import RateLimited

# Stay this far under the published limit: our window and the provider's never align exactly.
HEADROOM = 0.95
# Waiting longer than this in-process is the task's job (Celery retry with countdown).
MAX_WAIT_SECONDS = 30.0


_STRATEGIES: dict[tuple[str, type], strategies.RateLimiter] = {}
_STRATEGIES_LOCK = threading.Lock()


def _strategy(url: str, kind: type[strategies.RateLimiter] = strategies.MovingWindowRateLimiter):
    """One limiter of each kind per storage URL per process. Built under a lock: the limits
    library's storage set-up is not safe to run from several request threads at once."""
    with _STRATEGIES_LOCK:
        if (url, kind) not in _STRATEGIES:
            _STRATEGIES[url, kind] = kind(storage.storage_from_string(url))
        return _STRATEGIES[url, kind]


def moving_window(url: str | None = None) -> strategies.MovingWindowRateLimiter:
    """A moving-window limiter on the shared storage: exact to the request."""
    return _strategy(url or settings.RATELIMIT_STORAGE_URL)


def fixed_window(url: str | None = None) -> strategies.FixedWindowRateLimiter:
    """A fixed-window limiter on the shared storage: one counter per window, for budgets where
    admitting up to twice the limit across a window boundary is fine (our own API's clients)."""
    return _strategy(url or settings.RATELIMIT_STORAGE_URL, strategies.FixedWindowRateLimiter)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"100/10"`` → (100, 10): requests per window of seconds."""
    amount, _, seconds = rate.partition("/")
    return int(amount), int(seconds or 1)


# Below this many requests per window, rounding the headroom down costs too much (5/s → 4/s):
# such limits keep their exact count and are paced by spacing requests instead.
SMALL_BUDGET = 20


class RateLimiter:
    """Blocks until a request may go, up to MAX_WAIT_SECONDS; past that raises RateLimited.

    The moving window is shared by every process (Redis). Small limits are additionally paced in
    this process at ``headroom`` of the published rate, so 5/s becomes one request every 0.21 s.
    """

    def __init__(self, *, key: str, rate: str, storage_url: str | None = None, headroom: float = HEADROOM):
        amount, seconds = parse_rate(rate)
        if amount < SMALL_BUDGET:
            self.item = RateLimitItemPerSecond(amount, seconds)
            self.spacing = seconds / (amount * headroom)
        else:
            self.item = RateLimitItemPerSecond(max(1, int(amount * headroom)), seconds)
            self.spacing = 0.0
        self.key = key
        self.strategy = _strategy(storage_url or settings.RATELIMIT_STORAGE_URL)
        self._next_at = 0.0

    def acquire(self, *, max_wait: float = MAX_WAIT_SECONDS) -> None:
        deadline = time.monotonic() + max_wait
        if self.spacing:
            pause = self._next_at - time.monotonic()
            if pause > max_wait:
                raise RateLimited(f"rate limit for {self.key} reached", retry_after=pause)
            if pause > 0:
                time.sleep(pause)
        while not self.strategy.hit(self.item, "connector", self.key):
            stats = self.strategy.get_window_stats(self.item, "connector", self.key)
            wait = max(0.01, min(stats.reset_time - time.time(), self.item.get_expiry()))
            if time.monotonic() + wait > deadline:
                raise RateLimited(f"rate limit for {self.key} reached", retry_after=wait)
            time.sleep(min(wait, 0.25))
        if self.spacing:
            self._next_at = time.monotonic() + self.spacing

    def reset(self) -> None:
        """Forget this key's window (tests, and an operator clearing a throttle)."""
        self.strategy.clear(self.item, "connector", self.key)
