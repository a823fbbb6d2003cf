"""GoHighLevel OAuth in the emulator (providers.md §6 "Auth"): the location chooser
(``/oauth/chooselocation``), the form-encoded token endpoint (``/oauth/token``) with 1-day access
tokens and **rotating** refresh tokens (the old one is refused once used), private integration
tokens, and ``connect`` for the tests and the demo."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone

from connectors.base import Tokens
from connectors.gohighlevel.emulator.opportunities import GoHighLevelOpportunities
from connectors.gohighlevel.emulator.store import SANDBOX_COMPANY
from connectors.sandbox.models import SandboxAuthCode, SandboxToken

SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "opportunities.readonly",
    "opportunities.write",
    "locations.readonly",
)


class GoHighLevelOAuth(GoHighLevelOpportunities):
    token_prefix = "pit"  # noqa: S105 (a prefix for generated tokens)

    def token_data(self, request: HttpRequest | None) -> dict[str, Any]:
        location = self.location_id()
        return {"locationId": location, "account": location, "companyId": SANDBOX_COMPANY}

    def token_response(self, token: SandboxToken, request: HttpRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": token.access_token, "token_type": "Bearer"}
        if token.expires_at:
            body["expires_in"] = max(0, round((token.expires_at - timezone.now()).total_seconds()))
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        body.update(
            scope=" ".join(token.scopes or SCOPES),
            userType="Location",
            locationId=token.data.get("locationId"),
            companyId=token.data.get("companyId"),
            userId="sandboxUser000000001",
        )
        return body

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """An OAuth (Marketplace app) config with a freshly issued token pair, and the public keys
        this emulator signs webhooks with."""
        client_id, client_secret = self.client_credentials()
        token = self.issue_token(kind="oauth", client_id=client_id, scopes=SCOPES, data=self.token_data(None))
        config = {
            "auth_mode": "oauth",
            "client_id": client_id,
            "client_secret": client_secret,
            "locationId": token.data["locationId"],
            "base_url": f"{sandbox_base.rstrip('/')}/gohighlevel",
            **self.public_keys(),
        }
        tokens = Tokens(
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_at=token.expires_at.timestamp() if token.expires_at else None,
            extra={"locationId": token.data["locationId"], "companyId": token.data["companyId"]},
        )
        return config, tokens

    def private_integration_token(self) -> str:
        """A static location token, as Settings → Private Integrations makes one."""
        return self.issue_token(kind="private", refresh=False, data=self.token_data(None)).access_token

    def oauth_error(self, status: int, error: str, description: str) -> HttpResponse:
        return JsonResponse({"error": error, "error_description": description}, status=status)

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        """The location chooser: the sandbox location is chosen at once (no person to ask)."""
        client_id, redirect_uri = request.GET.get("client_id", ""), request.GET.get("redirect_uri", "")
        if client_id != self.client_credentials()[0] or not redirect_uri.startswith(("http://", "https://")):
            return HttpResponse("Unknown app or missing redirect_uri", status=400)
        code = SandboxAuthCode.objects.create(
            provider=self.provider,
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=request.GET.get("scope", "").split(),
            expires_at=timezone.now() + timedelta(minutes=10),
        )
        params = {"code": code.code}
        if request.GET.get("state"):
            params["state"] = request.GET["state"]
        return HttpResponseRedirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}")

    def token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.oauth_error(405, "invalid_request", "POST only")
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            return self.oauth_error(400, "invalid_request", "the body must be form-urlencoded")
        form = request.POST
        if (form.get("client_id"), form.get("client_secret")) != self.client_credentials():
            return self.oauth_error(401, "invalid_client", "Invalid client credentials")
        grant = form.get("grant_type")
        with transaction.atomic():
            if grant == "authorization_code":
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
                if code is None or code.redirect_uri != form.get("redirect_uri", code.redirect_uri):
                    return self.oauth_error(400, "invalid_grant", "Invalid authorization code")
                code.used = True
                code.save(update_fields=["used"])
                scopes = code.scopes or list(SCOPES)
            elif grant == "refresh_token":
                old = (
                    SandboxToken.objects.select_for_update()
                    .filter(
                        provider=self.provider, refresh_token=form.get("refresh_token") or "-", revoked=False
                    )
                    .first()
                )
                if old is None:
                    return self.oauth_error(400, "invalid_grant", "Invalid refresh token")
                old.revoked, old.refresh_token = True, ""  # rotating: the used refresh token is spent
                old.save(update_fields=["revoked", "refresh_token"])
                scopes = list(old.scopes)
            else:
                return self.oauth_error(
                    400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
                )
            token = self.issue_token(
                kind="oauth", client_id=form["client_id"], scopes=scopes, data=self.token_data(request)
            )
        return JsonResponse(self.token_response(token, request))
