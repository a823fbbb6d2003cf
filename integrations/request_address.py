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
    return address_or_none(forwarded[-hops]) or remote


def address_or_none(value: object) -> str | None:
    """``value`` as an IP address's text, or None when it is not one. Sender addresses are stored
    in an address column and matched against allowlists: anything else stands for nothing (here,
    a forwarded entry that is not an address leaves REMOTE_ADDR to stand)."""
    try:
        return str(ipaddress.ip_address(str(value).strip())) if value else None
    except ValueError:
        return None
