"""Where the log context starts: each HTTP request and each Celery task binds its own ids.

A request gets a ``request_id`` (the caller's ``X-Request-ID`` when it is a sane token, else a new
one), echoed back in the response's ``X-Request-ID``; the webhook receiver's integration id joins
it. A task gets its ``task_id`` and ``task_name``. Either way the context bound before it (a test's,
an eager task's caller's) is back once it is over, and nothing from one request or task leaks into
the next one the same thread or worker process runs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from structlog.contextvars import clear_contextvars, get_contextvars

from integrations.log_context import log_bind, log_context_restore

logger = logging.getLogger("config.requests")

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming id may look like: short and printable, so it can neither forge log structure
# nor smuggle a payload into every line of the request.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# URL keyword arguments that name an integration (the webhook receiver's).
_INTEGRATION_KWARGS = ("integration_id",)


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestLogContextMiddleware:
    """Binds the request's ids for its lines, logs one line when it is answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        saved = get_contextvars()
        clear_contextvars()
        request_id = request_id_for(request)
        log_bind(request_id=request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if getattr(settings, "LOG_REQUESTS", True):
                logger.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path,  # never the query string: it may carry a code or token
                        "status": response.status_code,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    },
                )
            return response
        finally:
            log_context_restore(saved)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs: dict[str, Any]) -> None:
        for name in _INTEGRATION_KWARGS:
            if name in view_kwargs:
                log_bind(integration_id=view_kwargs[name])
        return None


# --- Celery ---------------------------------------------------------------------------------------

_saved_for_task: dict[str, dict[str, Any]] = {}


def task_context_bind(sender=None, task_id: str | None = None, task=None, **kwargs: Any) -> None:
    """``task_prerun``: the task's lines carry its id and name, and nothing bound before it."""
    _saved_for_task[task_id or ""] = get_contextvars()
    clear_contextvars()
    log_bind(task_id=task_id, task_name=getattr(task, "name", None))


def task_context_clear(sender=None, task_id: str | None = None, **kwargs: Any) -> None:
    """``task_postrun``: back to what was bound before the task (nothing, on a worker)."""
    log_context_restore(_saved_for_task.pop(task_id or "", {}))
