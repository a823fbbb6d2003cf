"""HubSpot's OAuth: the consent page, the token endpoint (code, refresh, client credentials), revoke,
introspect, and the tokens (OAuth and private-app) it issues."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.html import escape

from connectors.base import Tokens
from connectors.hubspot.emulator.schema import HUB_ID, USER_ID
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxAuthCode, SandboxToken

SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "oauth",
)


class HubSpotOAuth(Emulator):
    """The OAuth views, and how tokens are issued and shown."""

    def issue_token(
        self,
        *,
        kind: str = "oauth",
        client_id: str = "",
        scopes: Any = (),
        data: dict[str, Any] | None = None,
        refresh: bool = True,
    ) -> SandboxToken:
        token = super().issue_token(
            kind=kind,
            client_id=client_id,
            scopes=scopes or SCOPES,
            data={**self.token_data(None), **(data or {})},
            refresh=refresh and kind == "oauth",
        )
        if kind == "private_app":
            token.access_token = f"pat-na1-{uuid.uuid4()}"
            token.save(update_fields=["access_token"])
        return token

    def token_data(self, request: HttpRequest | None) -> dict[str, Any]:
        return {"hub_id": HUB_ID, "user_id": USER_ID, "hub_domain": "sandbox.hubspot.local"}

    def token_response(self, token: SandboxToken, request: HttpRequest | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": token.access_token,
            "token_type": "bearer",
            "token_use": "access_token",
            "hub_id": token.data.get("hub_id", HUB_ID),
            "user_id": token.data.get("user_id", USER_ID),
            "scopes": list(token.scopes),
        }
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        if token.expires_at:
            body["expires_in"] = max(0, round((token.expires_at - timezone.now()).total_seconds()))
        return body

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A private-app config pointing at this emulator; no OAuth tokens needed."""
        token = self.issue_token(kind="private_app", client_id=self.client_credentials()[0])
        client_id, client_secret = self.client_credentials()
        config = {
            "auth_mode": "private_app",
            "access_token": token.access_token,
            "base_url": f"{sandbox_base.rstrip('/')}/hubspot",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return config, None

    def oauth_error(self, status: int, error: str, hub_status: str, message: str) -> HttpResponse:
        # v3 standardised the OAuth fields and kept HubSpot's legacy ones alongside.
        return JsonResponse(
            {
                "error": error,
                "error_description": message,
                "status": hub_status,
                "message": message,
                "correlationId": str(uuid.uuid4()),
            },
            status=status,
        )

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        params = request.GET if request.method == "GET" else request.POST
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        state = params.get("state", "")
        if not redirect_uri:
            return self._authorize_page(400, "<p>Missing redirect_uri.</p>")
        if client_id != self.client_credentials()[0]:
            return self._authorize_page(400, "<p>Unknown client_id: this app is not installed here.</p>")
        if request.method == "POST":
            if params.get("decision") != "allow":
                return HttpResponseRedirect(
                    _with_query(redirect_uri, {"error": "access_denied", "state": state})
                )
            code = SandboxAuthCode.objects.create(
                provider=self.provider,
                code=secrets.token_urlsafe(24),
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=params.get("code_challenge", ""),
                scopes=params.get("scope", "").split(),
                expires_at=timezone.now() + timedelta(minutes=10),
            )
            return HttpResponseRedirect(_with_query(redirect_uri, {"code": code.code, "state": state}))
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(params.get(k, ""))}">'
            for k in (
                "client_id",
                "redirect_uri",
                "scope",
                "optional_scope",
                "state",
                "code_challenge",
                "code_challenge_method",
            )
        )
        scopes = "".join(f"<li>{escape(s)}</li>" for s in params.get("scope", "").split())
        return self._authorize_page(
            200,
            f"<h1>Connect the sandbox app to HubSpot account {HUB_ID}</h1><p>It asks for:</p><ul>{scopes}</ul>"
            f'<form method="post">{hidden}<button type="submit" name="decision" value="allow">Allow</button> '
            f'<button type="submit" name="decision" value="deny">Deny</button></form>',
        )

    @staticmethod
    def _authorize_page(status: int, content: str) -> HttpResponse:
        html = f"<!doctype html><html><head><title>HubSpot sandbox: authorize</title></head><body>{content}</body></html>"
        return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")

    def token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, "Method GET is not supported on this path")
        form = request.POST
        client_id, client_secret = self.client_credentials()
        grant = form.get("grant_type", "")
        if form.get("client_id") != client_id:
            return self.oauth_error(400, "invalid_client", "BAD_CLIENT_ID", "missing or unknown client id")
        if not secrets.compare_digest(form.get("client_secret", ""), client_secret):
            return self.oauth_error(
                400, "invalid_client", "BAD_CLIENT_SECRET", "missing or invalid client secret"
            )
        if grant == "authorization_code":
            return self._grant_code(request, form)
        if grant == "refresh_token":
            return self._grant_refresh(request, form)
        if grant == "client_credentials":
            token = self.issue_token(kind="oauth", client_id=client_id, refresh=False)
            return JsonResponse(self.token_response(token, request))
        return self.oauth_error(
            400, "unsupported_grant_type", "BAD_GRANT_TYPE", f"unsupported grant_type {grant!r}"
        )

    def _grant_code(self, request: HttpRequest, form: Any) -> HttpResponse:
        with transaction.atomic():
            code = (
                SandboxAuthCode.objects.select_for_update()
                .filter(
                    provider=self.provider,
                    code=form.get("code", ""),
                    used=False,
                    expires_at__gt=timezone.now(),
                )
                .first()
            )
            if code is None:
                return self.oauth_error(400, "invalid_grant", "BAD_AUTH_CODE", "missing or unknown auth code")
            if code.redirect_uri != form.get("redirect_uri", ""):
                return self.oauth_error(
                    400,
                    "invalid_grant",
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match the one used to authorize",
                )
            if code.code_challenge:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if not verifier or not secrets.compare_digest(expected, code.code_challenge):
                    return self.oauth_error(
                        400,
                        "invalid_grant",
                        "BAD_CODE_VERIFIER",
                        "code_verifier does not match the code_challenge",
                    )
            code.used = True
            code.save(update_fields=["used"])
        token = self.issue_token(kind="oauth", client_id=code.client_id, scopes=code.scopes or SCOPES)
        return JsonResponse(self.token_response(token, request))

    def _grant_refresh(self, request: HttpRequest, form: Any) -> HttpResponse:
        value = form.get("refresh_token", "")
        current = (
            (
                SandboxToken.objects.filter(provider=self.provider, refresh_token=value, revoked=False)
                .order_by("-id")
                .first()
            )
            if value
            else None
        )
        if current is None or current.client_id != form.get("client_id"):
            return self.oauth_error(
                400, "invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked"
            )
        # HubSpot keeps the refresh token (no rotation) and leaves older access tokens to expire.
        token = SandboxToken.objects.create(
            provider=self.provider,
            access_token=f"{self.token_prefix}-{secrets.token_urlsafe(24)}",
            refresh_token=current.refresh_token,
            kind="oauth",
            client_id=current.client_id,
            scopes=current.scopes,
            data=current.data,
            expires_at=timezone.now() + self.token_lifetime,
        )
        return JsonResponse(self.token_response(token, request))

    def revoke_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(405, "Method GET is not supported on this path")
        value = request.POST.get("token", "")
        if value:
            SandboxToken.objects.filter(provider=self.provider).filter(
                Q(refresh_token=value) | Q(access_token=value)
            ).update(revoked=True)
        return HttpResponse(status=204)

    def introspect_view(self, request: HttpRequest) -> HttpResponse:
        value = request.POST.get("token", "")
        token = (
            (
                SandboxToken.objects.filter(provider=self.provider, revoked=False)
                .filter(Q(access_token=value) | Q(refresh_token=value))
                .order_by("-id")
                .first()
            )
            if value
            else None
        )
        if token is None or (
            token.access_token == value and token.expires_at and token.expires_at <= timezone.now()
        ):
            return JsonResponse({"active": False})
        return JsonResponse(
            {
                "active": True,
                "token_use": "access_token" if token.access_token == value else "refresh_token",
                "client_id": token.client_id,
                "hub_id": HUB_ID,
                "user_id": USER_ID,
                "scopes": token.scopes,
            }
        )


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
