"""Pipedrive OAuth (``oauth.pipedrive.com``): consent, the token endpoint with HTTP Basic client
auth, rotating refresh tokens, ``api_domain`` in every token response, revoke (providers.md §3)."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone

from connectors.base import Tokens
from connectors.pipedrive.emulator.hooks import PipedriveHooks
from connectors.sandbox.models import SandboxAuthCode, SandboxToken

SCOPES = ("base", "deals:full", "contacts:full", "activities:full", "webhooks:full")


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class PipedriveOAuth(PipedriveHooks):
    """Consent page, token grants, revoke, and ``connect`` for tests and the demo."""

    token_prefix = "v1u"  # noqa: S105 (a prefix for generated tokens, not a secret)

    def api_domain(self, request: HttpRequest) -> str:
        """The company's API base, as the token response names it: this emulator's root."""
        path = request.path
        root = (
            path[: path.index("/pipedrive/") + len("/pipedrive")]
            if "/pipedrive/" in path
            else "/sandbox/pipedrive"
        )
        return request.build_absolute_uri(root)

    def token_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"api_domain": self.api_domain(request)}

    def token_response(self, token: SandboxToken, request: HttpRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": token.access_token, "token_type": "Bearer"}
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        if token.expires_at:
            body["expires_in"] = int((token.expires_at - timezone.now()).total_seconds())
        body["scope"] = ",".join(token.scopes or SCOPES)
        body["api_domain"] = token.data.get("api_domain") or self.api_domain(request)
        return body

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """An API-token config pointing at this emulator (no OAuth tokens needed)."""
        token = self.issue_token(kind="api_token", client_id="", refresh=False)
        config = {
            "auth_mode": "api_token",
            "api_token": token.access_token,
            "company_domain": "sandbox",
            "base_url": f"{sandbox_base.rstrip('/')}/pipedrive",
        }
        return config, None

    def oauth_error(self, status: int, error: str, message: str) -> HttpResponse:
        return JsonResponse({"success": False, "error": error, "error_description": message}, status=status)

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        params = request.GET if request.method == "GET" else request.POST
        client_id, redirect_uri, state = (
            params.get("client_id", ""),
            params.get("redirect_uri", ""),
            params.get("state", ""),
        )
        if not redirect_uri or client_id != self.client_credentials()[0]:
            return HttpResponse("<p>Unknown app or missing redirect_uri.</p>", status=400)
        if request.method == "POST":
            if params.get("decision") != "allow":
                return HttpResponseRedirect(
                    _with_query(redirect_uri, {"error": "user_denied", "state": state})
                )
            code = SandboxAuthCode.objects.create(
                provider=self.provider,
                code=secrets.token_urlsafe(24),
                client_id=client_id,
                redirect_uri=redirect_uri,
                scopes=list(SCOPES),
                expires_at=timezone.now() + timedelta(minutes=5),
            )
            return HttpResponseRedirect(_with_query(redirect_uri, {"code": code.code, "state": state}))
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{escape(params.get(k, ""))}">'
            for k in ("client_id", "redirect_uri", "state")
        )
        return HttpResponse(
            "<!doctype html><html><head><title>Pipedrive sandbox: authorize</title></head><body>"
            "<h1>Allow the sandbox app to access your Pipedrive company?</h1>"
            f'<form method="post">{hidden}<button name="decision" value="allow">Allow and install</button> '
            '<button name="decision" value="deny">Cancel</button></form></body></html>',
            content_type="text/html; charset=utf-8",
        )

    def _client_from_basic(self, request: HttpRequest) -> str | None:
        """The client id when the Basic header carries the app's id and secret, else None."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, _, client_secret = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected_id, expected_secret = self.client_credentials()
        if client_id != expected_id or not secrets.compare_digest(client_secret, expected_secret):
            return None
        return client_id

    def token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.oauth_error(405, "invalid_request", "use POST")
        client_id = self._client_from_basic(request)
        if client_id is None:
            return self.oauth_error(401, "invalid_client", "Invalid client credentials (HTTP Basic)")
        grant = request.POST.get("grant_type", "")
        if grant == "authorization_code":
            return self._grant_code(request, client_id)
        if grant == "refresh_token":
            return self._grant_refresh(request, client_id)
        return self.oauth_error(400, "unsupported_grant_type", f"unsupported grant_type {grant!r}")

    def _grant_code(self, request: HttpRequest, client_id: str) -> HttpResponse:
        with transaction.atomic():
            code = (
                SandboxAuthCode.objects.select_for_update()
                .filter(
                    provider=self.provider,
                    code=request.POST.get("code", ""),
                    used=False,
                    expires_at__gt=timezone.now(),
                )
                .first()
            )
            if code is None or code.client_id != client_id:
                return self.oauth_error(400, "invalid_grant", "Invalid or expired authorization code")
            if code.redirect_uri != request.POST.get("redirect_uri", ""):
                return self.oauth_error(400, "invalid_grant", "redirect_uri does not match")
            code.used = True
            code.save(update_fields=["used"])
        token = self.issue_token(
            kind="oauth", client_id=client_id, scopes=code.scopes, data=self.token_data(request)
        )
        return JsonResponse(self.token_response(token, request))

    def _grant_refresh(self, request: HttpRequest, client_id: str) -> HttpResponse:
        """Pipedrive may reissue the refresh token: the emulator always rotates it."""
        value = request.POST.get("refresh_token", "")
        with transaction.atomic():
            current = (
                SandboxToken.objects.select_for_update()
                .filter(provider=self.provider, refresh_token=value, revoked=False, client_id=client_id)
                .first()
                if value
                else None
            )
            if current is None:
                return self.oauth_error(400, "invalid_grant", "Invalid refresh token")
            current.revoked = True
            current.save(update_fields=["revoked"])
        token = self.issue_token(kind="oauth", client_id=client_id, scopes=current.scopes, data=current.data)
        return JsonResponse(self.token_response(token, request))

    def revoke_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.oauth_error(405, "invalid_request", "use POST")
        value = request.POST.get("token", "")
        if value:
            SandboxToken.objects.filter(provider=self.provider).filter(
                Q(refresh_token=value) | Q(access_token=value)
            ).update(revoked=True)
        return HttpResponse(status=200)
