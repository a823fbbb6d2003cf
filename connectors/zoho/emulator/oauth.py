"""Zoho Accounts on each data centre: consent (``/oauth/v2/auth``), tokens (``/oauth/v2/token``: code and
refresh grants), revoke, and the ``Zoho-oauthtoken`` header the API takes.

The sandbox root (``/sandbox/zoho/``) is the US data centre; ``/sandbox/zoho/dc/<dc>/`` (eu, in, com.au,
jp, com.cn, ca, sa) serves the same accounts and API paths for another one. A grant names its accounts
server (``accounts-server`` on the callback) and its ``api_domain``; a token works only on the API host
of the data centre that issued it (elsewhere: 401 ``INVALID_TOKEN``), as on the real hosts.

Facts (providers.md §7): access tokens live 1 h; refresh tokens are not rotated (the refresh answer has
none); at most ``refresh_cap`` (10) access tokens per refresh token per 10 minutes, then the token
endpoint answers ``Access Denied`` / too many requests; a bad code or refresh token is HTTP 200
``{"error": "invalid_code"}``; a ``Bearer`` header is refused.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from connectors.base import Tokens
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxAuthCode, SandboxToken

SCOPES = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.READ",
    "ZohoCRM.settings.fields.CREATE",
    "ZohoCRM.coql.READ",
    "ZohoCRM.notifications.ALL",
)
DATA_CENTRES = ("com", "eu", "in", "com.au", "jp", "com.cn", "ca", "sa")
DC_PATH = re.compile(r"/zoho/dc/(?P<dc>[a-z.]+)/")
DEFAULT_REFRESH_CAP = 10
REFRESH_WINDOW = timedelta(minutes=10)


def dc_of(request: HttpRequest) -> str:
    found = DC_PATH.search(request.path)
    return found.group("dc") if found else "com"


def sandbox_root(request: HttpRequest) -> str:
    """``{scheme}://{host}/…/zoho`` for this request (the US data centre's hosts)."""
    path = request.path
    return f"{request.scheme}://{request.get_host()}{path[: path.index('/zoho/') + len('/zoho')]}"


def dc_base(request: HttpRequest, dc: str) -> str:
    root = sandbox_root(request)
    return root if dc == "com" else f"{root}/dc/{dc}"


class ZohoOAuth(Emulator):
    """Accounts endpoints and API authentication."""

    def bearer_token(self, request: HttpRequest) -> str:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return value.strip() if scheme == "Zoho-oauthtoken" else ""

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        token = super().authenticate(request)
        if token is None or token.data.get("dc", "com") != dc_of(request):
            return None
        return token

    def token_data(self, request: HttpRequest) -> dict[str, Any]:
        dc = dc_of(request)
        return {"dc": dc, "api_domain": dc_base(request, dc)}

    def token_response(
        self, token: SandboxToken, request: HttpRequest, *, include_refresh: bool = True
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": token.access_token,
            "scope": " ".join(token.scopes or SCOPES),
            "api_domain": token.data.get("api_domain") or dc_base(request, dc_of(request)),
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        if include_refresh and token.refresh_token:
            body["refresh_token"] = token.refresh_token
        return body

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens | None]:
        """A connected integration on the US data centre of this emulator: config and tokens."""
        root = sandbox_base.rstrip("/") + "/zoho"
        client_id, client_secret = self.client_credentials()
        token = self.issue_token(client_id=client_id, scopes=SCOPES, data={"dc": "com", "api_domain": root})
        config = {
            "accounts_url": "https://accounts.zoho.com",
            "base_url": root,
            "client_id": client_id,
            "client_secret": client_secret,
            "api_version": "v7",
        }
        return config, Tokens(
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_at=token.expires_at.timestamp() if token.expires_at else None,
            scope=",".join(SCOPES),
            extra={"api_domain": root, "accounts_server": root},
        )

    # --- views ------------------------------------------------------------------------------------

    def authorize_view(self, request: HttpRequest) -> HttpResponse:
        """The consent page; Accept → ``redirect_uri?code&state&location&accounts-server``."""
        params = request.POST if request.method == "POST" else request.GET
        redirect_uri, state = params.get("redirect_uri", ""), params.get("state", "")
        if params.get("client_id") != self.client_credentials()[0]:
            return HttpResponse("Invalid Client", status=400, content_type="text/plain")
        if urlsplit(redirect_uri).scheme not in {"http", "https"}:
            return HttpResponse("Invalid Redirect Uri", status=400, content_type="text/plain")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        if request.method != "POST":
            return HttpResponse(self._consent_page(params))
        if params.get("decision") != "accept":
            return _redirect(redirect_uri, error="access_denied", state=state)
        code = SandboxAuthCode.objects.create(
            provider=self.provider,
            code=f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}",
            client_id=params["client_id"],
            redirect_uri=redirect_uri,
            scopes=[s for s in re.split(r"[ ,]+", params.get("scope") or ",".join(SCOPES)) if s],
            expires_at=timezone.now() + timedelta(minutes=2),
        )
        dc = dc_of(request)
        return _redirect(
            redirect_uri,
            code=code.code,
            state=state,
            location="us" if dc == "com" else dc,
            **{"accounts-server": dc_base(request, dc)},
        )

    def _consent_page(self, params: Any) -> str:
        hidden = format_html_join(
            "",
            '<input type="hidden" name="{}" value="{}">',
            (
                (n, params.get(n, ""))
                for n in ("response_type", "client_id", "redirect_uri", "scope", "state", "access_type")
            ),
        )
        return format_html(
            "<!doctype html><html><head><title>Zoho Accounts</title></head><body><h1>{} would like to access"
            ' your Zoho CRM data</h1><p>Scopes: {}</p><form method="post">{}'
            '<button type="submit" name="decision" value="reject">Reject</button> '
            '<button type="submit" name="decision" value="accept">Accept</button></form></body></html>',
            params.get("client_id", ""),
            params.get("scope", ""),
            hidden,
        )

    def oauth_token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse({"error": "invalid_request"}, status=405)
        form = request.POST if request.POST else request.GET  # Zoho takes the form or the query string
        client_id, client_secret = self.client_credentials()
        if form.get("client_id") != client_id or not hmac.compare_digest(
            form.get("client_secret", "").encode(), client_secret.encode()
        ):
            return JsonResponse({"error": "invalid_client"})
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._grant_code(request, form)
        if grant == "refresh_token":
            return self._grant_refresh(request, form)
        return JsonResponse({"error": "unsupported_grant_type"})

    def _grant_code(self, request: HttpRequest, form: Any) -> HttpResponse:
        code = SandboxAuthCode.objects.filter(provider=self.provider, code=form.get("code", "")).first()
        if code is None or code.used or code.expires_at <= timezone.now():
            return JsonResponse({"error": "invalid_code"})
        if code.redirect_uri != form.get("redirect_uri", ""):
            return JsonResponse({"error": "invalid_redirect_uri"})
        if not SandboxAuthCode.objects.filter(pk=code.pk, used=False).update(used=True):
            return JsonResponse({"error": "invalid_code"})
        token = self.issue_token(client_id=code.client_id, scopes=code.scopes, data=self.token_data(request))
        return JsonResponse(self.token_response(token, request))

    def _grant_refresh(self, request: HttpRequest, form: Any) -> HttpResponse:
        refresh = form.get("refresh_token", "")
        known = SandboxToken.objects.filter(
            provider=self.provider, refresh_token=refresh, revoked=False
        ).first()
        if not refresh or known is None or known.data.get("dc", "com") != dc_of(request):
            return JsonResponse({"error": "invalid_code"})
        recent = SandboxToken.objects.filter(
            provider=self.provider, refresh_token=refresh, created_at__gte=timezone.now() - REFRESH_WINDOW
        ).count()
        if recent > int(self.setting("refresh_cap", DEFAULT_REFRESH_CAP)):  # the grant's own token counts too
            return JsonResponse(
                {
                    "error_description": "You have made too many requests continuously. Please try again after some time.",
                    "error": "Access Denied",
                    "status": "failure",
                },
                status=400,
            )
        token = self.issue_token(
            client_id=known.client_id, scopes=known.scopes, data=known.data, refresh=False
        )
        token.refresh_token = refresh  # not rotated
        token.save(update_fields=["refresh_token"])
        return JsonResponse(self.token_response(token, request, include_refresh=False))

    def revoke_view(self, request: HttpRequest) -> HttpResponse:
        value = request.GET.get("token") or request.POST.get("token", "")
        tokens = SandboxToken.objects.filter(provider=self.provider)
        if value and tokens.filter(refresh_token=value).exists():
            tokens.filter(refresh_token=value).update(revoked=True)
        elif value:
            tokens.filter(access_token=value).update(revoked=True)
        return JsonResponse({"status": "success"})


def _redirect(uri: str, **params: str) -> HttpResponse:
    separator = "&" if urlsplit(uri).query else "?"
    return HttpResponseRedirect(uri + separator + urlencode({k: v for k, v in params.items() if v}))
