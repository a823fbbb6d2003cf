"""One signed POST to a sub-account's URL: SSRF-checked, redirects followed by hand, never raises.

Targets are user input, so every URL we are about to call (the endpoint's and each redirect's)
is resolved and refused when it points at a private, loopback, link-local or metadata address
(``connectors.netguard``; settings.ALLOWED_PRIVATE_HOSTS and the sandbox's loopback excepted).
requests would follow redirects without asking, hence ``allow_redirects=False`` and our own loop.
The session checks the address again when it connects, so a DNS answer that changes between the
check and the connection (rebinding) is refused too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import urllib3

from connectors.base import ConfigError
from connectors.http import parse_retry_after
from connectors.netguard import check_url, guarded_session, refused_address

MAX_REDIRECTS = 3
EXCERPT_BYTES = 1024
REDIRECT_CODES = {301, 302, 303, 307, 308}


class TargetRefused(ValueError):
    """The URL may not be called (scheme, private address, unresolvable host)."""


def target_check(url: str) -> str:
    """Return ``url`` if we may POST to it now, else raise TargetRefused with the reason."""
    try:
        return check_url(url)
    except ConfigError as exc:
        raise TargetRefused(str(exc)) from None


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    excerpt: str = ""
    duration_ms: int = 0
    error: str = ""
    retryable: bool = False  # for errors without a status: timeouts and connection errors
    retry_after: float | None = None


def outbound_session() -> requests.Session:
    """A keep-alive session for a run of sends to one endpoint: private addresses are refused again
    when it connects (no DNS rebinding past the check), environment proxies ignored."""
    return guarded_session()


def post_signed(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    session: requests.Session | None = None,
) -> SendResult:
    """POST ``body`` to ``url``, following up to MAX_REDIRECTS redirects, each target re-checked.

    The same body and signature go to a redirect's target: the signature covers id, timestamp
    and body, not the URL. Environment proxies are ignored so the checked host is the one called.
    A caller's ``session`` (from ``outbound_session``) keeps connections alive between sends; its
    cookies are cleared first, so nothing one response set reaches the next delivery.
    """
    started = time.monotonic()
    own_session = session is None
    session = session or outbound_session()
    session.cookies.clear()
    hop = 0
    try:
        while True:
            try:
                target_check(url)
            except TargetRefused as exc:
                where = "redirect target" if hop else "target"
                return SendResult(None, duration_ms=_ms(started), error=f"{where} refused: {exc}")
            try:
                response = session.post(
                    url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
                )
            except requests.Timeout:
                return SendResult(None, duration_ms=_ms(started), error="timed out", retryable=True)
            except requests.ConnectionError as exc:
                refused = refused_address(exc)
                if refused is not None:  # the name resolved differently when we connected
                    where = "redirect target" if hop else "target"
                    return SendResult(None, duration_ms=_ms(started), error=f"{where} refused: {refused}")
                return SendResult(None, duration_ms=_ms(started), error="connection failed", retryable=True)
            except requests.RequestException as exc:
                return SendResult(
                    None, duration_ms=_ms(started), error=f"request failed: {type(exc).__name__}"
                )
            with response:
                location = response.headers.get("Location")
                if response.status_code in REDIRECT_CODES and location:
                    if hop == MAX_REDIRECTS:
                        return SendResult(
                            response.status_code,
                            duration_ms=_ms(started),
                            error=f"more than {MAX_REDIRECTS} redirects",
                        )
                    hop += 1
                    url = urljoin(url, location)
                    continue
                return SendResult(
                    response.status_code,
                    excerpt=_excerpt(response),
                    duration_ms=_ms(started),
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
    finally:
        if own_session:
            session.close()


def _excerpt(response: requests.Response) -> str:
    """At most EXCERPT_BYTES of the body, read without downloading the rest."""
    try:
        raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
        return ""  # the status is what counts; a body cut short is not worth failing the attempt
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="ignore")  # "ignore" keeps it within 1 KB


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
