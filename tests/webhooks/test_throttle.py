"""The receiver's rate limit (webhooks.inbound.throttle): exact for small limits, leased in slices for large
ones, never over the limit across processes, and failing open when Redis is unreachable."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from webhooks.inbound import throttle


@pytest.fixture
def key():
    return f"t-{time.monotonic_ns()}"  # the conftest gives each test a fresh process's memory


def another_process(monkeypatch) -> None:
    """What this process holds is gone, as in another process; the window in Redis stays."""
    monkeypatch.setattr(throttle, "_leases", {})


def admitted(key: str, rate: str, n: int) -> int:
    return sum(throttle.admit(key, rate) is None for _ in range(n))


def test_a_small_limit_is_exact_and_says_when_the_window_ends(key):
    assert admitted(key, "3/60", 3) == 3
    wait = throttle.admit(key, "3/60")
    assert wait is not None and 0 < wait <= 60
    assert throttle.retry_after_header(wait) == str(max(1, int(-(-wait // 1))))


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs the test Redis (make test starts one)")
def test_processes_sharing_redis_never_admit_more_than_the_limit_together(key, monkeypatch):
    """Each "process" (its leases dropped in between, as another process would not hold them) takes
    slices from the same window: together they stay within the limit."""
    total = 0
    for _ in range(6):
        total += admitted(key, "100/60", 40)
        another_process(monkeypatch)
    assert total == 100


def test_a_large_limit_is_decided_locally_for_most_requests(key, monkeypatch):
    calls = []
    real = throttle._take
    monkeypatch.setattr(throttle, "_take", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert admitted(key, "10000/60", 500) == 500
    assert len(calls) == 5  # slices of 100: one round trip per 100 requests


def test_without_redis_the_count_is_per_process(key, settings):
    settings.REDIS_URL = ""
    assert admitted(key, "5/60", 8) == 5


def test_redis_trouble_admits_the_request_and_logs_it(key, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert throttle.admit(key, "1/60") is None
    assert "rate limit unavailable" in caplog.text
