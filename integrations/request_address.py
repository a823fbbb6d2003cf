"""Who sent a request, as rate limits, allowlists and the admin see it."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` reverse proxies the address the outermost of
    them saw: X-Forwarded-For counted from the right, because entries further left are whatever the
    sender chose to put there. A header with fewer entries than trusted hops did not come through
    them all, so REMOTE_ADDR stands.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        return remote
    return forwarded[-hops] if _is_address(forwarded[-hops]) else remote


def _is_address(value: str) -> bool:
    """Whether a forwarded entry is an IP address (it is stored in an address column, and matched
    against allowlists): anything else stands for nothing, and REMOTE_ADDR is used."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
