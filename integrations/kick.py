"""Debounced task kicks: many writers, at most one queued run of a task per window.

The first kick in a window queues the task to run when the window closes; kicks during the window
are swallowed. That is safe because whoever kicks has already committed its rows, and the queued run
starts after every kick of its window, so it sees them all. The window is shared by every process
through Redis when ``REDIS_URL`` is set, and kept per process otherwise (each process then queues
its own run: still complete, just more runs).

Each process also remembers until when the current window is known to be covered, so under load
a kick costs no round trip at all: only the first kick of a process in each window asks Redis.

A kick never fails its caller: if Redis or the broker is down, the rows wait for the periodic
sweep that reads the database (``inbound_retry_due``, ``outbox_pump`` on beat).
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Task
from django.conf import settings
from redis.commands.core import Script

from config.redis_clients import redis_client

logger = logging.getLogger(__name__)

# Open the window if it is closed (returns -1: the caller queues the run), else its remaining ms.
_OPEN_OR_REMAINING = """
if redis.call('set', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then return -1 end
return redis.call('pttl', KEYS[1])
"""
# Trust a window seen in Redis this much less than its remaining time (clock jitter).
_MARGIN = 0.005

_covered_until: dict[str, float] = {}
_lock = threading.Lock()


_scripts: dict[str, Script] = {}


def _script(url: str) -> Script:
    script = _scripts.get(url)
    if script is None:
        script = _scripts[url] = redis_client(url).register_script(_OPEN_OR_REMAINING)
    return script


def window_open(key: str, window: float) -> bool:
    """True for the first caller in a ``window``-second window for ``key``: that caller queues the run."""
    now = time.monotonic()
    if _covered_until.get(key, 0.0) > now:
        return False  # a run queued for this window starts after now: it sees our rows
    if not settings.REDIS_URL:
        with _lock:
            if _covered_until.get(key, 0.0) > now:
                return False
            _covered_until[key] = now + window
            return True
    remaining_ms = _script(settings.REDIS_URL)(keys=[f"kick:{key}"], args=[max(1, int(window * 1000))])
    opened = remaining_ms < 0
    covered = window if opened else remaining_ms / 1000 - _MARGIN
    if covered > 0:
        _covered_until[key] = now + covered
    return opened


def kick(task: Task, *, key: str, window: float, args: tuple = ()) -> bool:
    """Queue ``task`` (with ``args``) to run ``window`` seconds from now unless a run is already
    queued for this window of ``key``.

    Call it after the rows the task will read have committed. Returns whether a run was queued.
    """
    try:
        if not window_open(key, window):
            return False
        if args:
            task.apply_async(args, countdown=window)
        else:
            task.apply_async(countdown=window)
    except Exception:  # best effort by design: Redis or broker trouble must not fail the caller
        kick_reset(key, best_effort=True)  # the window promised a run that was never queued
        logger.exception("kick failed: the periodic sweep will pick the work up", extra={"kick": key})
        return False
    return True


def kick_reset(key: str, *, best_effort: bool = False) -> None:
    """Forget ``key``'s current window, in this process and in Redis."""
    _covered_until.pop(key, None)
    if settings.REDIS_URL:
        try:
            redis_client().delete(f"kick:{key}")
        except Exception:
            if not best_effort:
                raise
