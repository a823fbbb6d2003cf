"""OAuth 2: the authorization-code flow (state + PKCE) and token refresh under a lock.

``OAuthClient`` speaks to a provider's authorize and token endpoints. ``OAuthAuth`` plugs into
``ProviderClient`` and keeps the access token fresh: it refreshes ahead of ``expires_at`` and once
more on a 401, always while holding the ``TokenStore`` lock and after re-reading the stored
tokens, so two workers never refresh the same token and a rotated refresh token is never lost.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings

from config.logging import redact
from connectors.errors import PermanentError, ReauthorizationNeeded, TransientError
from connectors.types import OAuthSpec, Tokens, TokenStore

# Refresh this long before the provider's expiry, so a token never dies mid-request.
EXPIRY_MARGIN_SECONDS = 120


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)[:96]


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OAuthClient:
    """One provider app's OAuth endpoints, with the client id and secret from the config."""

    def __init__(
        self,
        spec: OAuthSpec,
        *,
        client_id: str,
        client_secret: str,
        authorize_url: str | None = None,
        token_url: str | None = None,
        revoke_url: str | None = None,
        timeout: float | None = None,
    ):
        self.spec = spec
        self.client_id = client_id
        self.client_secret = client_secret
        self.authorize_endpoint = authorize_url or spec.authorize_url
        self.token_endpoint = token_url or spec.token_url
        self.revoke_endpoint = revoke_url or spec.revoke_url
        self.timeout = timeout or settings.CONNECTOR_HTTP_TIMEOUT

    def authorize_url(self, *, state: str, redirect_uri: str, verifier: str | None) -> str:
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            **self.spec.extra_authorize_params,
        }
        if self.spec.scopes:
            params["scope"] = " ".join(self.spec.scopes)
        if self.spec.pkce and verifier:
            params["code_challenge"] = code_challenge(verifier)
            params["code_challenge_method"] = "S256"
        return f"{self.authorize_endpoint}?{urlencode(params)}"

    def exchange_code(self, *, code: str, redirect_uri: str, verifier: str | None) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.spec.pkce and verifier:
            form["code_verifier"] = verifier
        return self._token_request(form)

    def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise ReauthorizationNeeded("the access token expired and there is no refresh token: reconnect")
        fresh = self._token_request({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        # Providers that do not rotate send no refresh token back: keep the one we have.
        if not fresh.refresh_token:
            fresh.refresh_token = tokens.refresh_token
        fresh.extra = {**tokens.extra, **fresh.extra}
        return fresh

    def _token_request(self, form: dict[str, str]) -> Tokens:
        auth = None
        if self.spec.client_auth == "basic":
            auth = (self.client_id, self.client_secret)
        else:
            form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            resp = requests.post(
                self.token_endpoint,
                data=form,
                auth=auth,
                timeout=self.timeout,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException:
            raise TransientError("could not reach the provider's token endpoint") from None
        body: Any
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 500:
            raise TransientError(f"token endpoint error {resp.status_code}", status=resp.status_code)
        if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("message") or body.get("error") or "")
            detail = redact(detail)[:200] or f"HTTP {resp.status_code}"
            if isinstance(body, dict) and body.get("error") == "invalid_grant":
                raise ReauthorizationNeeded(f"the provider refused the grant: {detail}")
            raise PermanentError(f"token request refused: {detail}", status=resp.status_code)
        return tokens_from_response(body)


def tokens_from_response(body: Mapping[str, Any]) -> Tokens:
    known = {"access_token", "refresh_token", "expires_in", "token_type", "scope", "scopes"}
    expires_in = body.get("expires_in")
    scope = body.get("scope") or " ".join(body.get("scopes") or [])
    return Tokens(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_at=time.time() + float(expires_in) if expires_in else None,
        token_type=str(body.get("token_type") or "Bearer"),
        scope=str(scope),
        extra={k: v for k, v in body.items() if k not in known},
    )


class OAuthAuth:
    """``Auth`` for ProviderClient backed by a TokenStore and an OAuthClient."""

    def __init__(self, store: TokenStore, client: OAuthClient):
        self.store = store
        self.client = client

    def current(self) -> Tokens:
        tokens = self.store.load()
        if tokens is None:
            raise ReauthorizationNeeded("not connected yet: authorize the integration")
        if tokens.expires_at is not None and tokens.expires_at - EXPIRY_MARGIN_SECONDS <= time.time():
            tokens = self._refresh(stale_access_token=tokens.access_token)
        return tokens

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.current().access_token}"}

    def on_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        sent = sent_headers.get("Authorization", "").removeprefix("Bearer ")
        self._refresh(stale_access_token=sent)
        return True

    def _refresh(self, *, stale_access_token: str) -> Tokens:
        with self.store.lock():
            tokens = self.store.load()  # another worker may have refreshed while we waited
            if tokens is None:
                raise ReauthorizationNeeded("not connected yet: authorize the integration")
            fresh_enough = (
                tokens.expires_at is None or tokens.expires_at - EXPIRY_MARGIN_SECONDS > time.time()
            )
            if tokens.access_token != stale_access_token and fresh_enough:
                return tokens
            try:
                fresh = self.client.refresh(tokens)
            except ReauthorizationNeeded as exc:
                self.store.mark_reauthorization_needed(str(exc))
                raise
            self.store.save(fresh)
            return fresh
