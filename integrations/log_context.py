"""The ids every log line carries while a piece of work runs (config/logging.py renders them).

Work binds what it knows (``log_bind``) at its start: a request its ``request_id``, a Celery task
its ``task_id``, a sync run its ``sync_run_id`` and integration, an inbound event its ``event_id``, a
delivery its ``delivery_id``. The ids live in structlog's context variables, so every line logged
below, through any stdlib logger, carries them. ``log_context_kept`` puts the caller's ids back when
the work returns: a run executed inside a request or a test leaves nothing bound behind it.

No model is imported here: config/celery.py imports this before Django is set up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

P = ParamSpec("P")
R = TypeVar("R")


def log_bind(**ids: Any) -> None:
    """Bind ids (those that are None are left out) to every line logged from here on."""
    bind_contextvars(**{name: value for name, value in ids.items() if value is not None})


def log_context_restore(saved: dict[str, Any]) -> None:
    """Make ``saved`` (a ``get_contextvars()`` snapshot) the whole context again."""
    clear_contextvars()
    bind_contextvars(**saved)


def log_context_kept(func: Callable[P, R]) -> Callable[P, R]:
    """Whatever ``func`` binds is gone again when it returns or raises."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        saved = get_contextvars()
        try:
            return func(*args, **kwargs)
        finally:
            log_context_restore(saved)

    return wrapper


def integration_log_ids(integration: Any) -> dict[str, Any]:
    """An integration's ids for the log: its own and its sub-account's (the slug when it is loaded
    already: naming it never costs a query)."""
    ids: dict[str, Any] = {"integration_id": integration.pk, "subaccount_id": integration.subaccount_id}
    if type(integration)._meta.get_field("subaccount").is_cached(integration):
        ids["subaccount"] = integration.subaccount.slug
    return ids
