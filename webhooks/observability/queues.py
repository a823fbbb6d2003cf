"""Celery queue depths, read from the Redis broker: messages waiting, not yet taken by a worker.

kombu keeps a Redis queue as a list named after it, plus one list per priority step
(``<queue>\\x06\\x16<n>``) once messages carry a priority; the depth is their sum. Its own client
with half-second timeouts: a scrape or the health page must not hang on a stalled Redis.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

from config.celery import app

# The queues config/celery.py declares, in its order.
QUEUES: tuple[str, ...] = tuple(queue.name for queue in app.conf.task_queues)
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)  # kombu's default steps besides 0, which is the plain list
TIMEOUT_SECONDS = 0.5

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


class BrokerUnavailable(Exception):
    """The broker is not Redis, or did not answer within TIMEOUT_SECONDS."""


def broker_client() -> redis.Redis:
    """The broker's Redis with short timeouts; BrokerUnavailable when the broker is not Redis."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise BrokerUnavailable(f"the broker is {url.split(':', 1)[0]}://, not Redis")
    with _lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
        return _clients[url]


def broker_ping() -> None:
    """Raise BrokerUnavailable unless the broker answers a PING now."""
    try:
        broker_client().ping()
    except (redis.RedisError, OSError) as exc:
        raise BrokerUnavailable(f"Redis did not answer ({type(exc).__name__})") from None


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue (every priority list summed); raises BrokerUnavailable."""
    names = [(queue, key) for queue in QUEUES for key in _lists(queue)]
    try:
        pipe = broker_client().pipeline(transaction=False)
        for _queue, key in names:
            pipe.llen(key)
        lengths = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        raise BrokerUnavailable(f"Redis did not answer ({type(exc).__name__})") from None
    depths = dict.fromkeys(QUEUES, 0)
    for (queue, _key), length in zip(names, lengths, strict=True):
        depths[queue] += int(length)
    return depths


def _lists(queue: str) -> list[str]:
    return [queue, *(f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS)]
