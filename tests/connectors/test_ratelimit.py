import time

import pytest

from connectors.base import RateLimited
from connectors.ratelimit import RateLimiter


def test_limiter_lets_the_budget_through_then_waits_for_the_window():
    limiter = RateLimiter(key=f"t-{time.time()}", rate="5/1", storage_url="memory://", headroom=1.0)
    started = time.monotonic()
    for _ in range(6):
        limiter.acquire()
    assert time.monotonic() - started >= 0.8  # the 6th waited for the 1 s window to move


def test_limiter_raises_rate_limited_instead_of_waiting_too_long():
    limiter = RateLimiter(key=f"t2-{time.time()}", rate="1/60", storage_url="memory://", headroom=1.0)
    limiter.acquire()
    with pytest.raises(RateLimited) as info:
        limiter.acquire(max_wait=0.2)
    assert info.value.retry_after > 1


def test_a_small_limit_is_paced_below_the_published_rate_not_rounded_down():
    limiter = RateLimiter(key=f"t3-{time.time()}", rate="5/1", storage_url="memory://")
    started = time.monotonic()
    for _ in range(10):
        limiter.acquire()
    elapsed = time.monotonic() - started
    assert 1.8 < elapsed < 2.3  # 9 gaps of 1 / (5 × 0.95) s: 4.75 requests a second, never 5+
