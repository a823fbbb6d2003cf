"""One Redis client per URL per process, for our own keys (kick windows, webhook rate limits).

Created under a lock: building clients concurrently from request threads left half-connected pool
connections behind under load (the ``limits`` storage in ``connectors.ratelimit`` is guarded the
same way). Timeouts are bounded so a stalled Redis cannot hold a request forever; callers decide
what a failure means (the receiver fails open).
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()

TIMEOUT_SECONDS = 5


def redis_client(url: str | None = None) -> redis.Redis:
    url = url or settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(
                    url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
                )
                _clients[url] = client
    return client
