"""``/healthz``: the process answers. ``/readyz``: database, broker and cache are reachable."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from config.celery import app

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_cache() -> None:
    key = "readyz:probe"
    cache.set(key, "1", 5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")


CHECKS = {"database": _check_database, "broker": _check_broker, "cache": _check_cache}


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 (any failure means "not ready"; reported, not raised)
            ready = False
            results[name] = {"ok": False, "error": type(exc).__name__}
            logger.warning("readiness check failed", extra={"check": name, "error": type(exc).__name__})
        else:
            results[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    results_body = {
        "status": "ready" if ready else "unavailable",
        "checks": results,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
    }
    return JsonResponse(results_body, status=200 if ready else 503)
