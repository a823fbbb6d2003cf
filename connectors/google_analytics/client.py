"""Google's HTTP plumbing (providers.md §10, Errors & Rate limits): error bodies, the token
exchange and the bearer auth that re-signs a JWT whenever the cached token runs out.

Google APIs answer ``{"error": {"code", "message", "status"}}``: ``PERMISSION_DENIED`` (403) is a
service account that is not a user of the property, ``RESOURCE_EXHAUSTED`` (429) a spent quota
(hourly and daily token quotas wait for the next hour or day; the concurrency limit is retried
soon). The token endpoint answers OAuth-style ``{"error": "invalid_grant", ...}``: the key was
rejected (deleted, disabled, or a clock far off).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from config.logging import redact
from connectors.errors import AuthError, PermanentError, RateLimited
from connectors.google_analytics.credentials import JWT_BEARER, ServiceAccountKey
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty
from connectors.types import Tokens, TokenStore

# Renew a cached token this long before Google says it expires.
EXPIRY_MARGIN = 60.0
PERMISSION_DENIED = "PERMISSION_DENIED"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"


def google_error(resp: requests.Response) -> dict[str, Any]:
    body = json_or_empty(resp)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def quota_wait(message: str, *, now: datetime | None = None) -> float | None:
    """Seconds until a spent quota renews: the next hour for an hourly one, the next day for a
    daily one (Google counts days in Pacific time; UTC midnight is close enough to re-check);
    None for the concurrency limit, which frees up within seconds."""
    current = now or datetime.now(UTC)
    text = message.lower()
    if "per hour" in text or "hourly" in text:
        return float(3600 - (current.minute * 60 + current.second))
    if "per day" in text or "daily" in text:
        tomorrow = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (tomorrow - current).total_seconds()
    return None


class GoogleClient(ProviderClient):
    """A Google API (the Data API, the Measurement Protocol's validation server)."""

    provider = "Google Analytics"

    def __init__(self, *, client_email: str = "", property_id: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.client_email = client_email
        self.property_id = property_id

    def error_message(self, resp: requests.Response) -> str:
        message = str(google_error(resp).get("message") or "")
        return redact(message)[:ERROR_EXCERPT] if message else super().error_message(resp)

    def raise_for_response(self, resp: requests.Response) -> None:
        if resp.status_code in self.ok_statuses:
            return
        error = google_error(resp)
        status_name = str(error.get("status") or "")
        message = self.error_message(resp)
        if resp.status_code == 429 or status_name == RESOURCE_EXHAUSTED:
            raise RateLimited(
                f"{self.provider} quota exhausted ({RESOURCE_EXHAUSTED}): {message}",
                retry_after=quota_wait(message),
                status=resp.status_code,
            )
        if resp.status_code == 403 and status_name == PERMISSION_DENIED:
            who = f"the service account {self.client_email}" if self.client_email else "the service account"
            prop = f"property {self.property_id}" if self.property_id else "the property"
            raise AuthError(
                f"Google Analytics refused access to {prop} ({PERMISSION_DENIED}): add {who} to the "
                "property (GA4 Admin → Property access management) as a user with the Viewer role, "
                f"and check the Property ID. Google said: {message}",
                status=403,
                code=PERMISSION_DENIED,
            )
        if status_name and resp.status_code < 500 and resp.status_code != 401:
            raise PermanentError(
                f"{self.provider} refused the request ({status_name}): {message}",
                status=resp.status_code,
                code=status_name,
            )
        super().raise_for_response(resp)


class TokenClient(ProviderClient):
    """Google's OAuth token endpoint, for the JWT-bearer grant."""

    provider = "Google's token endpoint"

    def raise_for_response(self, resp: requests.Response) -> None:
        if resp.status_code in self.ok_statuses or resp.status_code == 429 or resp.status_code >= 500:
            super().raise_for_response(resp)
            return
        body = json_or_empty(resp)
        code = str(body.get("error") or "") if isinstance(body, dict) else ""
        if code == "invalid_grant":
            raise AuthError(
                "the key was rejected by Google (invalid_grant: "
                f"{self.error_message(resp)}): it may have been deleted or disabled in Google Cloud, "
                "or this server's clock is off. Create a new JSON key for the service account and paste it.",
                status=resp.status_code,
                code=code,
            )
        super().raise_for_response(resp)

    def exchange(self, key: ServiceAccountKey) -> Tokens:
        """Sign a JWT and exchange it for a one-hour access token (no refresh token exists)."""
        body = json_or_empty(
            self.request(
                "POST",
                key.token_uri,
                idempotent=True,  # a second token is harmless
                auth=False,
                data={"grant_type": JWT_BEARER, "assertion": key.assertion()},
            )
        )
        token = str(body.get("access_token") or "") if isinstance(body, dict) else ""
        if not token:
            raise AuthError("Google's token endpoint answered without an access token")
        lifetime = float(body.get("expires_in") or 3599)
        return Tokens(
            access_token=token,
            expires_at=time.time() + lifetime,
            token_type=str(body.get("token_type") or "Bearer"),
            scope=str(body.get("scope") or ""),
            extra={"client_email": key.client_email, "private_key_id": key.private_key_id},
        )


class ServiceAccountAuth:
    """Bearer auth from the service account: the token kept in the integration's (encrypted) token
    store while it lives and belongs to this key, a freshly signed JWT exchanged otherwise, and once
    more when Google answers 401 to a cached token."""

    def __init__(self, key: ServiceAccountKey, *, token_client: TokenClient, store: TokenStore | None):
        self.key = key
        self.token_client = token_client
        self.store = store
        self._tokens: Tokens | None = None
        self._lock = threading.Lock()

    def _usable(self, tokens: Tokens | None) -> bool:
        return (
            tokens is not None
            and tokens.extra.get("client_email") == self.key.client_email
            and tokens.extra.get("private_key_id") == self.key.private_key_id
            and tokens.expires_at is not None
            and tokens.expires_at - EXPIRY_MARGIN > time.time()
        )

    def current(self) -> Tokens:
        if self._usable(self._tokens):
            return self._tokens  # type: ignore[return-value]
        stored = self.store.load() if self.store is not None else None
        if self._usable(stored):
            self._tokens = stored
            return stored  # type: ignore[return-value]
        return self.renew(stale=stored.access_token if stored else "")

    def renew(self, *, stale: str = "") -> Tokens:
        """A new token, unless another worker already replaced ``stale`` meanwhile."""
        guard = self.store.lock() if self.store is not None else self._lock
        with guard:
            stored = self.store.load() if self.store is not None else self._tokens
            if self._usable(stored) and stored is not None and stored.access_token != stale:
                self._tokens = stored
                return stored
            tokens = self.token_client.exchange(self.key)
            if self.store is not None:
                self.store.save(tokens)
            self._tokens = tokens
            return tokens

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.current().access_token}"}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        sent = str(sent_headers.get("Authorization", "")).removeprefix("Bearer ").strip()
        self._tokens = None
        self.renew(stale=sent)
        return True
