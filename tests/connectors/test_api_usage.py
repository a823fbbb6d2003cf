"""Provider request counters for /metrics: no Redis round trip per request, one batch a second."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings

from config.redis_clients import redis_client
from connectors import api_usage


@pytest.fixture
def counters():
    assert settings.REDIS_URL, "these counters live in Redis"
    api_usage.reset()
    yield redis_client()
    api_usage.reset()


def _count(redis, key: str, provider: str) -> int:
    return int(redis.hget(key, provider) or 0)


def test_requests_are_counted_in_process_and_sent_in_one_batch_within_the_interval(counters):
    for _ in range(50):
        api_usage.record("hubspot", calls=1, rate_limited=False)
    api_usage.record("hubspot", calls=2, rate_limited=True)
    api_usage.record("pipedrive", calls=1, rate_limited=False)

    assert counters.hgetall(api_usage.CALLS_KEY) == {}  # nothing on the provider's hot path
    deadline = time.monotonic() + api_usage.FLUSH_SECONDS + 3
    while _count(counters, api_usage.CALLS_KEY, "hubspot") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _count(counters, api_usage.CALLS_KEY, "hubspot") == 52
    assert _count(counters, api_usage.CALLS_KEY, "pipedrive") == 1
    assert _count(counters, api_usage.RATE_LIMITED_KEY, "hubspot") == 1
    assert _count(counters, api_usage.RATE_LIMITED_KEY, "pipedrive") == 0


def test_totals_include_this_process_s_pending_counts(counters):
    api_usage.record("zoho", calls=3, rate_limited=True)
    calls, limited = api_usage.totals()
    assert (calls["zoho"], limited["zoho"]) == (3, 1)


def test_a_forked_child_starts_without_its_parent_s_pending_counts(counters):
    api_usage.record("hubspot", calls=5, rate_limited=False)
    pid = os.fork()
    if pid == 0:  # the child: whatever it flushes must not include the parent's 5
        api_usage.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    assert _count(counters, api_usage.CALLS_KEY, "hubspot") == 0
    api_usage.flush()
    assert _count(counters, api_usage.CALLS_KEY, "hubspot") == 5
