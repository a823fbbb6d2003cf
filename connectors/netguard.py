"""Refuse outgoing calls to private, loopback, link-local and metadata addresses.

Connector base URLs and webhook targets are user input: without this guard a sub-account
could make our workers call the cloud metadata service or an internal admin port. The sandbox
allows loopback because the emulators live on this very server.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from connectors.errors import ConfigError


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


# --- enforcement at connect time ----------------------------------------------------------------
#
# check_url runs before a request, but the name is resolved again when the connection is made: a
# host whose DNS answers a public address to the check and 169.254.169.254 to the connection (DNS
# rebinding) would slip through. Sessions from ``guarded_session`` resolve once, at connect time,
# refuse private answers and connect to exactly the address they checked. TLS still verifies the
# certificate against the host name.


class AddressRefused(NewConnectionError):
    """The host resolved to an address we may not call; nothing was sent to it."""


class _GuardedConnection:
    def _new_conn(self) -> socket.socket:
        host = self._dns_host
        if host.lower() in _allowed_hosts():
            return super()._new_conn()
        try:
            infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = [info[4][0] for info in infos]
        if not addresses or any(is_private_address(address) for address in addresses):
            raise AddressRefused(self, f"{host} resolves to a private or loopback address: refused")
        error: OSError | None = None
        for address in addresses:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _GuardedHTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections refuse private addresses when they connect."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def guarded_session() -> requests.Session:
    """A session for user-supplied URLs: private addresses refused at connect time, environment
    proxies ignored (the host we check must be the host we call)."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def refused_address(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused behind a requests error, if that is what it was (requests wraps urllib3's
    MaxRetryError, whose ``reason`` is the connection's error)."""
    for candidate in (exc, *exc.args):
        reason = getattr(candidate, "reason", candidate)
        if isinstance(reason, AddressRefused):
            return reason
    return None
