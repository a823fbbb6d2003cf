"""Refuse outgoing calls to private, loopback, link-local and metadata addresses.

Connector base URLs and webhook targets are user input: without this guard a sub-account
could make our workers call the cloud metadata service or an internal admin port. The sandbox
allows loopback because the emulators live on this very server.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

from connectors.base import ConfigError


def _allowed_hosts() -> set[str]:
    hosts = {h.lower() for h in settings.ALLOWED_PRIVATE_HOSTS}
    if settings.SANDBOX:
        hosts |= {"127.0.0.1", "localhost", "::1", "[::1]"}
    return hosts


def ip_allowed(remote_addr: str, allowed: Iterable[str]) -> bool:
    """True when ``remote_addr`` is one of the IPs or inside one of the CIDRs; bad entries never match.

    For sender allowlists (webhook receivers): the inbound counterpart of the checks below.
    """
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(str(entry).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def is_private_address(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


def check_url(url: str, *, resolve: bool = True) -> str:
    """Return ``url`` if it is an http(s) URL we may call, else raise ConfigError."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError("must be an http(s) URL with a host")
    host = parts.hostname.lower()
    if host in _allowed_hosts():
        return url
    if settings.SANDBOX and parts.scheme == "http":
        pass  # plain http is fine on the sandbox; production wants https below
    elif parts.scheme != "https":
        raise ConfigError("must use https")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP) if resolve else []
    except socket.gaierror:
        raise ConfigError(f"host {host!r} does not resolve") from None
    candidates = [info[4][0] for info in infos]
    try:
        candidates.append(str(ipaddress.ip_address(host)))
    except ValueError:
        pass
    if any(is_private_address(ip) for ip in candidates):
        raise ConfigError(
            f"host {host!r} is a private or loopback address; allowlist it in ALLOWED_PRIVATE_HOSTS"
        )
    return url
