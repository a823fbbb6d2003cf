"""Named fault-injection points for crash tests; inert unless ``SYNC_FAILPOINTS`` arms them.

The idea of etcd's gofail and TiKV's fail-rs: the engine marks the few places where a crash would
hurt most, and a test arms one in the environment of a worker process it starts, e.g.
``SYNC_FAILPOINTS="push.after_create=exit@3"``: the third time the point is reached, the process
dies at once (``os._exit``, as under ``kill -9``: no cleanup, no transaction commit).

Actions: ``exit`` (die) and ``raise`` (raise ``FailpointError``). ``@N`` fires on the N-th hit
only (default: every hit). Several points are separated by commas.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

from django.conf import settings

POINTS = {
    "push.after_create": "the provider answered a create batch; its links are not stored yet",
}

_hits: Counter[str] = Counter()
_lock = threading.Lock()


class FailpointError(RuntimeError):
    """Raised by an armed ``raise`` failpoint."""


def _armed() -> dict[str, tuple[str, int | None]]:
    armed = {}
    for spec in filter(None, (s.strip() for s in settings.SYNC_FAILPOINTS.split(","))):
        name, _, action = spec.partition("=")
        action, _, nth = action.partition("@")
        if name not in POINTS or action not in ("exit", "raise"):
            raise ValueError(f"SYNC_FAILPOINTS: unknown point or action in {spec!r}")
        armed[name] = (action, int(nth) if nth else None)
    return armed


def failpoint(name: str) -> None:
    """Do what ``SYNC_FAILPOINTS`` says for ``name``; nothing when it is not armed (the normal case)."""
    if not settings.SYNC_FAILPOINTS:
        return
    action, nth = _armed().get(name, ("", None))
    if not action:
        return
    with _lock:
        _hits[name] += 1
        count = _hits[name]
    if nth is not None and count != nth:
        return
    if action == "exit":
        os._exit(137)
    raise FailpointError(f"failpoint {name} fired (hit {count})")
