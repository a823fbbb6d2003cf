"""Salesforce's OAuth web-server flow: the consent page, the token endpoint (code with PKCE, refresh),
revoke, the Identity URL, session timeouts and the token response."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from connectors.base import Tokens
from connectors.oauth import code_challenge
from connectors.salesforce.client import API_VERSION
from connectors.salesforce.emulator.schema import ORG_ID, PREFIX, USER_ID
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxAuthCode, SandboxToken

SCOPES = ("api", "refresh_token")
DEFAULT_SESSION_SECONDS = 7200


class SalesforceOAuth(Emulator):
    """The OAuth views, sessions, and how tokens are shown."""

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        token = super().authenticate(request)
        if token is None:
            return None
        session = timedelta(seconds=int(self.setting("session_seconds", DEFAULT_SESSION_SECONDS)))
        return token if timezone.now() - token.created_at < session else None

    def token_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"instance_url": self.instance_url(request)}

    def instance_url(self, request: HttpRequest) -> str:
        return f"{request.scheme}://{request.get_host()}{PREFIX}"

    def token_response(
        self, token: SandboxToken, request: HttpRequest, *, include_refresh: bool = True
    ) -> dict[str, Any]:
        instance = token.data.get("instance_url") or self.instance_url(request)
        identity = f"{instance}/id/{ORG_ID}/{USER_ID}"
        issued_at = str(int(token.created_at.timestamp() * 1000))
        secret = self.client_credentials()[1].encode()
        signature = base64.b64encode(
            hmac.new(secret, (identity + issued_at).encode(), hashlib.sha256).digest()
        )
        body: dict[str, Any] = {
            "access_token": token.access_token,
            "instance_url": instance,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature.decode(),
            "scope": " ".join(token.scopes or SCOPES),
        }
        if include_refresh and token.refresh_token:
            body["refresh_token"] = token.refresh_token
        return body

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A ready OAuth credential: config for the connector and the tokens to store."""
        instance = sandbox_base.rstrip("/") + "/salesforce"
        client_id, client_secret = self.client_credentials()
        token = self.issue_token(client_id=client_id, scopes=SCOPES, data={"instance_url": instance})
        config = {
            "login_url": instance,
            "client_id": client_id,
            "client_secret": client_secret,
            "api_version": API_VERSION,
            "organization_id": ORG_ID,
        }
        return config, Tokens(
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            scope=" ".join(SCOPES),
            extra={"instance_url": instance},
        )

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        """The consent page: Allow → redirect_uri?code&state, Deny → error=access_denied."""
        params = request.POST if request.method == "POST" else request.GET
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        state = params.get("state", "")
        if client_id != self.client_credentials()[0]:
            return HttpResponse(
                "error=invalid_client_id: client identifier invalid", status=400, content_type="text/plain"
            )
        if urlsplit(redirect_uri).scheme not in {"http", "https"}:
            return HttpResponse(
                "error=redirect_uri_mismatch: redirect_uri must match configuration",
                status=400,
                content_type="text/plain",
            )
        if params.get("response_type") != "code":
            return _redirect(
                redirect_uri,
                error="unsupported_response_type",
                error_description="response type not supported",
                state=state,
            )
        method = params.get("code_challenge_method", "S256")
        if params.get("code_challenge") and method != "S256":
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="code_challenge_method must be S256",
                state=state,
            )
        if request.method != "POST":
            return HttpResponse(self._consent_page(params))
        if params.get("decision") != "allow":
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description="end-user denied authorization",
                state=state,
            )
        code = SandboxAuthCode.objects.create(
            provider=self.provider,
            code=f"aPr{secrets.token_urlsafe(32)}",
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=params.get("code_challenge", ""),
            scopes=(params.get("scope") or " ".join(SCOPES)).split(),
            expires_at=timezone.now() + timedelta(minutes=15),
        )
        return _redirect(redirect_uri, code=code.code, state=state)

    def _consent_page(self, params: Any) -> str:
        hidden = format_html_join(
            "",
            '<input type="hidden" name="{}" value="{}">',
            (
                (name, params.get(name, ""))
                for name in (
                    "response_type",
                    "client_id",
                    "redirect_uri",
                    "scope",
                    "state",
                    "code_challenge",
                    "code_challenge_method",
                )
            ),
        )
        return format_html(
            "<!doctype html><html><head><title>Allow Access? | Salesforce</title></head><body>"
            "<h1>Allow Access?</h1><p>The app <b>{}</b> is asking to access your Salesforce data "
            "(scopes: {}) as <b>sandbox.user@example.com</b>.</p>"
            '<form method="post">{}<button type="submit" name="decision" value="deny">Deny</button> '
            '<button type="submit" name="decision" value="allow">Allow</button></form></body></html>',
            params.get("client_id", ""),
            params.get("scope") or " ".join(SCOPES),
            hidden,
        )

    def oauth_token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse(
                {"error": "invalid_request", "error_description": "must use HTTP POST"}, status=400
            )
        form = request.POST
        client_id, client_secret = self.client_credentials()
        if form.get("client_id") != client_id or not hmac.compare_digest(
            form.get("client_secret", "").encode(), client_secret.encode()
        ):
            return _oauth_error("invalid_client", "invalid client credentials")
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._grant_code(request, form)
        if grant == "refresh_token":
            return self._grant_refresh(request, form)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _grant_code(self, request: HttpRequest, form: Any) -> HttpResponse:
        with transaction.atomic():
            code = SandboxAuthCode.objects.filter(provider=self.provider, code=form.get("code", "")).first()
            if code is None or code.used or code.expires_at <= timezone.now():
                return _oauth_error("invalid_grant", "authentication failure")
            if code.redirect_uri != form.get("redirect_uri", ""):
                return _oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
            if code.code_challenge:
                verifier = form.get("code_verifier", "")
                if not verifier or not hmac.compare_digest(code_challenge(verifier), code.code_challenge):
                    return _oauth_error("invalid_grant", "invalid code verifier")
            if not SandboxAuthCode.objects.filter(pk=code.pk, used=False).update(used=True):
                return _oauth_error("invalid_grant", "authentication failure")
        token = self.issue_token(client_id=code.client_id, scopes=code.scopes, data=self.token_data(request))
        return JsonResponse(self.token_response(token, request))

    def _grant_refresh(self, request: HttpRequest, form: Any) -> HttpResponse:
        refresh = form.get("refresh_token", "")
        known = SandboxToken.objects.filter(
            provider=self.provider, refresh_token=refresh, revoked=False
        ).first()
        if not refresh or known is None:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        token = self.issue_token(
            client_id=known.client_id, scopes=known.scopes, data=known.data, refresh=False
        )
        token.refresh_token = refresh  # not rotated: the same refresh token keeps working
        token.save(update_fields=["refresh_token"])
        return JsonResponse(self.token_response(token, request, include_refresh=False))

    def revoke_view(self, request: HttpRequest) -> HttpResponse:
        value = (request.POST if request.method == "POST" else request.GET).get("token", "")
        tokens = SandboxToken.objects.filter(provider=self.provider)
        found = tokens.filter(Q(access_token=value) | Q(refresh_token=value)).first() if value else None
        if found is None:
            return _oauth_error("invalid_token", "invalid token")
        if found.refresh_token == value:
            tokens.filter(refresh_token=value).update(
                revoked=True
            )  # a refresh token takes its sessions along
        else:
            tokens.filter(pk=found.pk).update(revoked=True)
        return HttpResponse(status=200)

    def identity_view(self, request: HttpRequest, org_id: str, user_id: str) -> HttpResponse:
        """The Identity URL from the token response: who the session belongs to."""
        if (org_id, user_id) != (ORG_ID, USER_ID):
            return self.error(404, "The requested resource does not exist", code="NOT_FOUND")
        base = self.instance_url(request)
        return JsonResponse(
            {
                "id": f"{base}/id/{ORG_ID}/{USER_ID}",
                "organization_id": ORG_ID,
                "user_id": USER_ID,
                "username": "sandbox.user@example.com",
                "display_name": "Sandbox User",
                "active": True,
                "urls": {
                    "rest": f"{PREFIX}/services/data/v{{version}}/",
                    "query": f"{PREFIX}/services/data/v{{version}}/query/",
                },
            }
        )


def _redirect(uri: str, **params: str) -> HttpResponse:
    separator = "&" if urlsplit(uri).query else "?"
    return HttpResponseRedirect(uri + separator + urlencode({k: v for k, v in params.items() if v}))


def _oauth_error(error: str, description: str) -> HttpResponse:
    return JsonResponse({"error": error, "error_description": description}, status=400)
