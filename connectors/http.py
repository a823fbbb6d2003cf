"""The one HTTP client every provider uses: auth, rate limit, timeouts, retries, error mapping.

Providers subclass ``ProviderClient`` and override at most ``error_message`` (how their error
bodies read) and ``raise_for_response`` (special cases such as HubSpot's daily limit or
AITable's HTTP-200 errors). Short retries happen here with tenacity; long backoffs belong to
Celery.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests
from django.conf import settings
from tenacity import RetryCallState, retry, retry_if_exception

from config.logging import redact
from connectors import api_usage
from connectors.errors import AuthError, PermanentError, RateLimited, TransientError
from connectors.netguard import guarded_session, refused_address
from connectors.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_BACKOFF = 30.0
ERROR_EXCERPT = 300
# A 429 whose provider names no wait: try again after this long (and no sooner than the minimum).
RATE_LIMIT_DEFAULT_WAIT = 1.0
RATE_LIMIT_MIN_WAIT = 0.05
# 429s one request waits out in-process (each bounded by MAX_BACKOFF and, together, by the
# CONNECTOR_RATE_LIMIT_WAIT_SECONDS setting) before the task is left to wait instead.
RATE_LIMIT_MAX_TRIES = 50


class Auth(Protocol):
    """Supplies request headers; may refresh once when the provider answers 401."""

    def headers(self) -> dict[str, str]: ...

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """Return True when credentials were renewed and the request is worth repeating."""
        ...


class StaticAuth:
    """Fixed headers: a private-app token, an API key header, Basic auth."""

    def __init__(self, headers: Mapping[str, str]):
        self._headers = dict(headers)

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        return False


def bearer(token: str) -> StaticAuth:
    return StaticAuth({"Authorization": f"Bearer {token}"})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def json_or_empty(resp: requests.Response) -> Any:
    parsed = getattr(resp, "parsed_json", _UNPARSED)
    if parsed is not _UNPARSED:  # a 2xx answer ProviderClient already checked (see _json_checked)
        return parsed
    try:
        return resp.json()
    except ValueError:
        return {}


_UNPARSED = object()


def _json_checked(resp: requests.Response, provider: str) -> None:
    """A successful JSON answer must parse. One cut short (a proxy dropping the connection, a
    provider stalling mid-body) would otherwise read as ``{}``: an empty last page that ends a
    pull early, or a batch create that seems to have made nothing. It is transient and, for a
    write, ambiguous (the provider may have applied it). The parsed body is kept for
    ``json_or_empty``, so nothing parses twice."""
    if not resp.content or "json" not in resp.headers.get("Content-Type", ""):
        return
    try:
        resp.parsed_json = resp.json()  # type: ignore[attr-defined]
    except ValueError:
        raise TransientError(
            f"{provider} answered with malformed JSON (a truncated body?)", status=resp.status_code
        ) from None


def _worth_waiting_for(exc: BaseException) -> bool:
    """Transient, and soon: a wait longer than MAX_BACKOFF (a daily cap) is Celery's to schedule."""
    return isinstance(exc, TransientError) and (exc.retry_after is None or exc.retry_after <= MAX_BACKOFF)


def _safe_to_resend(exc: BaseException) -> bool:
    """Worth waiting for, and the provider certainly did not apply the request."""
    return _worth_waiting_for(exc) and not getattr(exc, "ambiguous", True)


def _rate_limit_wait(exc: RateLimited) -> float:
    """How long a 429 asks us to wait: the provider's word, else a second; never above MAX_BACKOFF."""
    told = exc.retry_after if exc.retry_after is not None else RATE_LIMIT_DEFAULT_WAIT
    return min(max(float(told), RATE_LIMIT_MIN_WAIT), MAX_BACKOFF)


class _RetryBudget:
    """When one request stops retrying. Two budgets, kept apart: errors (5xx, timeouts, cut
    connections) spend ``max_attempts``; a 429 spends none of them, only waiting time, up to
    ``rate_wait_max`` seconds per request. A burst of 429s right after a 5xx therefore never
    turns into a failure here; past the waiting budget the RateLimited goes up to the task,
    which waits without spending its error retries either (sync.tasks).

    A client told to try fewer times than MAX_ATTEMPTS (a connection test, which must answer the
    wizard within seconds) keeps one budget for both: every try counts."""

    def __init__(self, *, max_attempts: int, rate_wait_max: float):
        self.max_attempts = max_attempts
        self.quick = max_attempts < MAX_ATTEMPTS
        self.rate_wait_max = rate_wait_max
        self.errors = 0
        self.rate_limited = 0
        self.waited = 0.0

    def stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if self.quick:
            return state.attempt_number >= self.max_attempts
        if isinstance(exc, RateLimited):
            self.rate_limited += 1
            wait = _rate_limit_wait(exc)
            if self.rate_limited > RATE_LIMIT_MAX_TRIES or self.waited + wait > self.rate_wait_max:
                return True
            self.waited += wait
            return False
        self.errors += 1
        return self.errors >= self.max_attempts

    def wait(self, state: RetryCallState) -> float:
        """Honour the provider's retry_after; otherwise exponential backoff (by errors so far)
        with full jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            logger.info("rate limited: waiting", extra={"error": str(exc)[:200]})
            return _rate_limit_wait(exc)
        return _wait(state)


def _wait(state: RetryCallState) -> float:
    """After an error: the provider's retry_after if it gave one; otherwise exponential backoff
    with full jitter."""
    exc = state.outcome.exception() if state.outcome else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        return min(float(retry_after), MAX_BACKOFF)
    return random.uniform(0, min(MAX_BACKOFF, 0.5 * 2 ** (state.attempt_number - 1)))  # noqa: S311 (jitter, not crypto)


class ProviderClient:
    """An HTTP session bound to one provider account."""

    provider: str = "provider"
    # Statuses a provider uses for "slow down" besides 429 (Salesforce uses 403 + an error code).
    ok_statuses = range(200, 300)

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth | None = None,
        limiter: RateLimiter | None = None,
        timeout: float | None = None,
        session: requests.Session | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter = limiter
        self.timeout = timeout or settings.CONNECTOR_HTTP_TIMEOUT
        # Base URLs are user input: connect-time address checks, as for webhook targets.
        self.session = session or guarded_session()
        self.max_attempts = max_attempts
        self.calls = 0  # requests actually sent (benchmarks and tests read it)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send with retries on TransientError; raise mapped errors for everything else.

        A request that is not idempotent (by default: POST; pass ``idempotent=True`` for a POST
        that only reads, or writes by key) is resent only after failures that prove it was not
        applied (429, a refused connection): resending a create after a timeout or a 5xx could
        make the record twice. The caller settles such an ambiguous failure itself.
        """
        if idempotent is None:
            idempotent = method.upper() != "POST"
        worth = _worth_waiting_for if idempotent else _safe_to_resend
        budget = _RetryBudget(
            max_attempts=self.max_attempts, rate_wait_max=settings.CONNECTOR_RATE_LIMIT_WAIT_SECONDS
        )
        retrying = retry(retry=retry_if_exception(worth), stop=budget.stop, wait=budget.wait, reraise=True)
        return retrying(self._send)(method, path, **kwargs)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return json_or_empty(self.request("GET", path, **kwargs))

    def post_json(self, path: str, body: Any, *, idempotent: bool | None = None, **kwargs: Any) -> Any:
        return json_or_empty(self.request("POST", path, json=body, idempotent=idempotent, **kwargs))

    @property
    def usage_key(self) -> str:
        """The provider's label in the call counters: the connector package's name ("hubspot")."""
        parts = type(self).__module__.split(".")
        return parts[1] if parts[0] == "connectors" and len(parts) > 2 else "other"

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        """One exchange (two with a credentials refresh), counted for ``/metrics`` whatever its end."""
        sent, limited = self.calls, False
        try:
            return self._exchange(method, path, auth=auth, **kwargs)
        except RateLimited:
            limited = self.calls > sent  # the provider said so, not our own limiter
            raise
        finally:
            api_usage.record(self.usage_key, calls=self.calls - sent, rate_limited=limited)

    def _exchange(self, method: str, path: str, *, auth: bool, **kwargs: Any) -> requests.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if auth and self.auth is not None:
            headers.update(self.auth.headers())
        if self.limiter is not None:
            self.limiter.acquire()
        try:
            self.calls += 1
            resp = self.session.request(
                method, self.url(path), headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.Timeout:
            raise TransientError(f"{self.provider} did not answer within {self.timeout:.0f} s") from None
        except requests.ConnectionError as exc:
            if refused_address(exc) is not None:  # resolved to a private address when connecting
                raise PermanentError(
                    f"{self.provider}'s host resolves to a private address: refused"
                ) from None
            # Refused before anything was sent, or dropped after: only the first is certain.
            sent = not isinstance(exc, requests.ConnectTimeout) and "NewConnectionError" not in repr(exc)
            raise TransientError(f"could not connect to {self.provider}", ambiguous=sent) from None
        if resp.status_code == 401 and auth and self.auth is not None and self.auth.on_unauthorized(headers):
            headers.update(self.auth.headers())
            self.calls += 1
            resp = self.session.request(
                method, self.url(path), headers=headers, timeout=self.timeout, **kwargs
            )
        self.raise_for_response(resp)
        _json_checked(resp, self.provider)
        return resp

    # --- the hooks providers override ---------------------------------------------------------

    def error_message(self, resp: requests.Response) -> str:
        """The provider's own words about an error, without secrets, shortened."""
        body = json_or_empty(resp)
        message = ""
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("error_description") or body.get("error") or "")
        elif isinstance(body, list) and body and isinstance(body[0], dict):
            message = str(body[0].get("message", ""))
        if not message:
            message = resp.reason or f"HTTP {resp.status_code}"
        return redact(message)[:ERROR_EXCERPT]

    def error_code(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        if isinstance(body, dict):
            return str(body.get("category") or body.get("errorCode") or body.get("code") or "")
        if isinstance(body, list) and body and isinstance(body[0], dict):
            return str(body[0].get("errorCode", ""))
        return ""

    def raise_for_response(self, resp: requests.Response) -> None:
        status = resp.status_code
        if status in self.ok_statuses:
            return
        message = self.error_message(resp)
        if status == 429:
            raise RateLimited(
                f"{self.provider} rate limit: {message}",
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                status=status,
            )
        if status >= 500 or status == 408:
            raise TransientError(
                f"{self.provider} error {status}: {message}",
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                status=status,
            )
        if status == 401:
            raise AuthError(
                f"{self.provider} rejected the credentials: {message}",
                status=status,
                code=self.error_code(resp),
            )
        raise PermanentError(
            f"{self.provider} refused the request ({status}): {message}",
            status=status,
            code=self.error_code(resp),
        )
