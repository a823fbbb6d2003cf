"""The Graph API's plumbing as the emulator reproduces it (providers.md §9): ``{"error": {...}}``
bodies, tokens passed as ``?access_token=`` (or a form field, or ``Authorization: Bearer``), code
190 with the subcode saying why a token is refused, and throttling as HTTP 400 + code 4/17/32/613
with ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers carrying
``estimated_time_to_regain_access`` (minutes), never a Retry-After.

Token kinds: ``user_short`` (about an hour), ``user_long`` (60 days, from ``fb_exchange_token``),
``page`` (never expires; ``data.page_id``) and ``app`` (``{app_id}|{app_secret}``).
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxToken

SHORT_LIVED = timedelta(hours=1, minutes=59)
LONG_LIVED_SECONDS = 5183944  # the expires_in Meta answers an fb_exchange_token with
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls within one hour have exceeded the rate limit",
}
# Subcodes of error 190: why the token is refused.
EXPIRED, PASSWORD_CHANGED, APP_REMOVED = 463, 460, 458


def fbtrace_id() -> str:
    return secrets.token_urlsafe(8)


class GraphBase(Emulator):
    provider = "facebook_leads"
    token_prefix = "EAAB"  # noqa: S105 (what Meta's tokens start with, not a secret)
    # Graph calls per token per hour before error 4/17/32 (settings: ``calls_per_hour``).
    rate_limit = (200, 3600)

    # --- error bodies ---------------------------------------------------------------------------

    def graph_error(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        kind: str = "OAuthException",
        subcode: int | None = None,
        transient: bool | None = None,
    ) -> JsonResponse:
        error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": fbtrace_id()}
        if subcode is not None:
            error["error_subcode"] = subcode
        if transient is not None:
            error["is_transient"] = transient
        return JsonResponse({"error": error}, status=status)

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        """Injected faults and unknown failures: 5xx is code 2 (temporary), others code 1."""
        return self.graph_error(message, code=2 if status >= 500 else 1, status=status, transient=True)

    def unauthorized(self) -> HttpResponse:
        return self.graph_error("Invalid OAuth access token - Cannot parse access token", code=190)

    def bad_parameter(self, message: str) -> JsonResponse:
        return self.graph_error(f"(#100) {message}", code=100)

    def not_found(self, object_id: str) -> JsonResponse:
        return self.graph_error(
            f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due "
            "to missing permissions, or does not support this operation.",
            code=100,
            subcode=33,
            kind="GraphMethodException",
        )

    # --- throttling -----------------------------------------------------------------------------

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        """400 + the configured code (``throttle_code``, default 4), usage at 100 % and the wait in
        minutes: the injected ``throttle_minutes`` when set, else the window's remaining time."""
        code = int(self.setting("throttle_code", 4))
        minutes = self.setting("throttle_minutes", None)
        minutes = int(minutes) if minutes is not None else int(retry_after // 60)
        response = self.graph_error(
            THROTTLE_MESSAGES.get(code, THROTTLE_MESSAGES[4]), code=code, transient=True
        )
        for name, value in self.usage_headers(percent=100, minutes=minutes).items():
            response[name] = value
        return response

    def usage_headers(self, *, percent: int, minutes: int = 0, page_id: str = "") -> dict[str, str]:
        app = {
            "call_count": percent,
            "total_cputime": min(percent, 100) // 2,
            "total_time": min(percent, 100) // 2,
        }
        buc = {
            page_id or self.setting("page_id", "0"): [
                {"type": "pages", **app, "estimated_time_to_regain_access": minutes}
            ]
        }
        return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        return self.usage_headers(percent=1)

    # --- tokens ---------------------------------------------------------------------------------

    def token_value(self, request: HttpRequest) -> str:
        return (
            request.GET.get("access_token")
            or (request.POST.get("access_token") if request.method == "POST" else "")
            or self.bearer_token(request)
        )

    def app_token_valid(self, value: str) -> bool:
        app_id, secret = self.client_credentials()
        return value == f"{app_id}|{secret}"

    def graph_token(self, request: HttpRequest) -> tuple[SandboxToken | None, HttpResponse | None]:
        """The request's token, or the 190 error refusing it (subcode: expired, password changed)."""
        value = self.token_value(request)
        if value and self.app_token_valid(value):
            return SandboxToken(provider=self.provider, access_token=value, kind="app"), None
        token = (
            SandboxToken.objects.filter(provider=self.provider, access_token=value).first() if value else None
        )
        if token is None:
            return None, self.unauthorized()
        if token.revoked:
            return None, self.graph_error(
                "Error validating access token: The session has been invalidated because the user changed "
                "their password or Facebook has changed the session for security reasons.",
                code=190,
                subcode=PASSWORD_CHANGED,
            )
        if token.expires_at and token.expires_at <= timezone.now():
            return None, self.graph_error(
                "Error validating access token: Session has expired.", code=190, subcode=EXPIRED
            )
        return token, None

    def graph(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        """Wrap a Graph view: faults (``endpoint``), then the token, then the per-token hourly limit."""

        @functools.wraps(view)
        def authenticated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            token, refusal = self.graph_token(request)
            if refusal is not None:
                return refusal
            calls = int(self.setting("calls_per_hour", self.rate_limit[0]))
            blocked = self.check_rate(token, (calls, 3600), scope="graph")
            if blocked is not None:
                return blocked
            request.sandbox_token = token  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return self.endpoint(authenticated, auth=False, limited=False)

    def issue_user_token(self, *, long_lived: bool) -> SandboxToken:
        token = self.issue_token(kind="user_long" if long_lived else "user_short", refresh=False)
        token.expires_at = timezone.now() + (
            timedelta(seconds=LONG_LIVED_SECONDS) if long_lived else SHORT_LIVED
        )
        token.save(update_fields=["expires_at"])
        return token

    def page_token(self, page_id: str) -> SandboxToken:
        """The Page's token (one per Page, never expiring), made on first use."""
        token = (
            SandboxToken.objects.filter(
                provider=self.provider, kind="page", data__page_id=page_id, revoked=False
            )
            .order_by("pk")
            .first()
        )
        return token or self.issue_token(kind="page", refresh=False, data={"page_id": page_id})

    def token_page(self, token: SandboxToken) -> str:
        return str(token.data.get("page_id", "")) if token.kind == "page" else ""
