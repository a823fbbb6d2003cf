"""``/metrics`` for Prometheus, and the admin's system health page (health.py gathers it).

Who may scrape: with ``METRICS_TOKEN`` set, only a request carrying ``Authorization: Bearer
<token>`` (none: 401, another: 403; compared in constant time, never logged). Without a token,
only a request made on this machine: from a loopback address and through no proxy (no
``X-Forwarded-For`` or ``Forwarded`` header, since a reverse proxy on the same host also connects
from loopback); anyone else gets 404, as if there were no such page.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from webhooks.observability.health import system_health
from webhooks.observability.metrics import REGISTRY

PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def _from_this_machine(request: HttpRequest) -> bool:
    try:
        loopback = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
    return loopback and not any(request.META.get(header) for header in PROXY_HEADERS)


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request that may not scrape, or None when it may."""
    token = settings.METRICS_TOKEN
    if not token:
        if _from_this_machine(request):
            return None
        raise Http404("No such page")
    given = _bearer(request)
    if given is None:
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse("That token is not accepted.\n", status=403, content_type="text/plain")
    return None


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
    response = HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def system_health_view(request: HttpRequest) -> HttpResponse:
    """The admin's system health page (wrapped by the admin site: staff log-in); superusers only,
    since it shows the whole platform."""
    if not request.user.is_superuser:
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "System health",
        **system_health(),
    }
    return render(request, "admin/system_health.html", context)
