"""Google's error bodies, the OAuth token endpoint (JWT-bearer grant) and bearer checks.

Tokens: ``POST /token`` with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an
RS256 ``assertion`` whose ``kid`` names a registered key, ``iss`` its service account, ``aud`` this
endpoint (or Google's), a ``scope`` and ``exp ≤ iat + 3600`` → a one-hour token, no refresh token;
anything else → 400 ``invalid_grant``. The API also takes a self-signed JWT as the bearer (what
Google's client libraries send when told to skip the exchange), verified the same way.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from connectors.google_analytics.emulator.keys import JwtInvalid, jwt_parts, verify_rs256
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxRecord, SandboxToken

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint)
DATA_API_AUDIENCE = "https://analyticsdata.googleapis.com/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ANALYTICS_SCOPES = (
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics",
)
MAX_ASSERTION_SECONDS = 3600
CLOCK_SKEW = 300
KEYS = "sa_key"
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class GoogleAuth(Emulator):
    provider = "google_analytics"
    mount_paths = ("google_analytics", "ga4")
    token_prefix = "ya29"  # noqa: S105 (what Google's access tokens start with)
    token_lifetime = timedelta(hours=1)
    rate_limit = None  # the Data API's quotas are counted in reports.py

    # --- error bodies -------------------------------------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        name = code or STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return JsonResponse(
            {"error": {"code": status, "message": message, "status": name, **extra}}, status=status
        )

    def unauthorized(self) -> HttpResponse:
        return self.error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
            "cookie or other valid authentication credential.",
        )

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        return self.error(429, "Exhausted concurrent requests quota.")

    def grant_error(self, description: str, error: str = "invalid_grant") -> JsonResponse:
        return JsonResponse({"error": error, "error_description": description}, status=400)

    # --- keys ---------------------------------------------------------------------------------------

    def key_register(self, *, private_key_id: str, client_email: str, public_pem: str) -> None:
        now = timezone.now()
        SandboxRecord.objects.update_or_create(
            provider=self.provider,
            object_type=KEYS,
            remote_id=private_key_id,
            defaults={
                "data": {"client_email": client_email, "public_pem": public_pem},
                "created_at": now,
                "updated_at": now,
            },
        )

    def verified_claims(self, token: str, *, audiences: set[str] | None) -> dict[str, Any]:
        """The claims of an RS256 JWT signed by a registered key for its own service account, alive
        and at most an hour long, for one of ``audiences`` (None: any); JwtInvalid saying why not."""
        header, claims, signed, signature = jwt_parts(token)
        if header.get("alg") != "RS256":
            raise JwtInvalid("Invalid JWT: only RS256 is accepted.")
        key = self.records(KEYS).filter(remote_id=str(header.get("kid") or "")).first()
        if key is None:
            raise JwtInvalid("Invalid JWT Signature.")
        verify_rs256(key.data["public_pem"], signed, signature)
        if claims.get("iss") != key.data["client_email"]:
            raise JwtInvalid("Invalid JWT: the issuer is not the key's service account.")
        try:
            issued, expires = int(claims["iat"]), int(claims["exp"])
        except (KeyError, TypeError, ValueError):
            raise JwtInvalid("Invalid JWT: iat and exp are required.") from None
        now = time.time()
        if expires - issued > MAX_ASSERTION_SECONDS or expires <= now or issued > now + CLOCK_SKEW:
            raise JwtInvalid(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                "Check your iat and exp values in the JWT claim."
            )
        if audiences is not None and claims.get("aud") not in audiences:
            raise JwtInvalid("Invalid JWT: the audience is not this token endpoint.")
        return claims

    # --- the token endpoint -------------------------------------------------------------------------

    def token_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.grant_error("Use POST.", "invalid_request")
        if request.POST.get("grant_type") != JWT_BEARER:
            return self.grant_error("Invalid grant_type.", "unsupported_grant_type")
        own_url = request.build_absolute_uri(request.path)
        try:
            claims = self.verified_claims(
                request.POST.get("assertion", ""), audiences={own_url, GOOGLE_TOKEN_URL}
            )
        except JwtInvalid as exc:
            return self.grant_error(str(exc))
        scopes = str(claims.get("scope") or "").split()
        if not set(scopes) & set(ANALYTICS_SCOPES):
            return self.grant_error("Invalid OAuth scope or ID token audience provided.", "invalid_scope")
        token = self.issue_token(
            kind="service_account", scopes=scopes, refresh=False, data={"client_email": claims["iss"]}
        )
        return JsonResponse({"access_token": token.access_token, "expires_in": 3599, "token_type": "Bearer"})

    # --- bearer checks ------------------------------------------------------------------------------

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        """An access token from ``/token``, or a self-signed JWT for the Data API (or with a scope)."""
        value = self.bearer_token(request)
        if value.count(".") != 2:
            return super().authenticate(request)
        host = request.build_absolute_uri("/")
        try:
            # A JWT with a scope claim needs no audience; one without names the API's host.
            scoped = bool(jwt_parts(value)[1].get("scope"))
            audiences = None if scoped else {DATA_API_AUDIENCE, host, host.rstrip("/")}
            claims = self.verified_claims(value, audiences=audiences)
        except JwtInvalid:
            return None
        return SandboxToken(
            provider=self.provider,
            access_token=value[-64:],
            kind="self_signed_jwt",
            data={"client_email": claims["iss"]},
        )
