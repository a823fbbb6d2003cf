"""The service-account key file (providers.md §10, Auth): read, checked, and turned into signed JWTs.

Google's Data API takes no API key: a service account signs a short JWT (RS256, ``kid`` = the
key's ``private_key_id``) that the token endpoint exchanges for a one-hour access token. There is
no refresh token; a new JWT is signed whenever the token runs out. google-auth does the signing
(``service_account.Credentials`` loads the PEM key the same way Google's own clients do), our
``connectors.http`` the exchange, so its retries and error mapping apply.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from google.auth import exceptions as google_exceptions
from google.auth import jwt
from google.oauth2 import service_account

from connectors.errors import ConfigError

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint, not a secret)
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3600  # the longest life Google accepts for the assertion (exp ≤ iat + 3600)
KEY_FIELD = "serviceAccountKey"
REQUIRED = ("client_email", "private_key")


@dataclass(frozen=True)
class ServiceAccountKey:
    """What the platform needs of a key file: who signs, with which key, and where to exchange."""

    client_email: str
    private_key_id: str
    token_uri: str
    credentials: service_account.Credentials

    def assertion(self, *, now: float | None = None) -> str:
        """A signed JWT for the token endpoint: iss = the account, aud = the token URL, one hour."""
        issued = int(now if now is not None else time.time())
        payload = {
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_SECONDS,
        }
        token = jwt.encode(self.credentials.signer, payload)
        return token.decode() if isinstance(token, bytes) else token


def key_info(raw: Any) -> dict[str, Any]:
    """The key file's JSON object; a ConfigError on ``serviceAccountKey`` saying what is wrong
    (never echoing the value: it holds a private key)."""
    if isinstance(raw, dict):
        info = raw
    else:
        try:
            info = json.loads(str(raw or ""))
        except ValueError:
            raise ConfigError(
                "the service account key is not valid JSON: paste the whole key file you downloaded "
                "from Google Cloud (IAM & Admin → Service accounts → Keys → Add key → JSON)",
                field=KEY_FIELD,
            ) from None
    if not isinstance(info, dict):
        raise ConfigError("the service account key must be a JSON object (the key file)", field=KEY_FIELD)
    missing = [name for name in REQUIRED if not str(info.get(name) or "").strip()]
    if missing:
        raise ConfigError(
            f"the service account key has no {' and no '.join(missing)}: paste the JSON key file itself",
            field=KEY_FIELD,
        )
    return info


def load_key(raw: Any) -> ServiceAccountKey:
    """The key file as google-auth loads it; a ConfigError when its private key is no PEM RSA key."""
    info = key_info(raw)
    token_uri = str(info.get("token_uri") or GOOGLE_TOKEN_URL)
    try:
        credentials = service_account.Credentials.from_service_account_info(
            {**info, "token_uri": token_uri}, scopes=[SCOPE]
        )
    except (ValueError, TypeError, google_exceptions.GoogleAuthError):
        raise ConfigError(
            "the service account key's private_key is not a PEM private key Google's libraries can "
            "load: download a new JSON key and paste the file unchanged",
            field=KEY_FIELD,
        ) from None
    return ServiceAccountKey(
        client_email=str(info["client_email"]),
        private_key_id=str(info.get("private_key_id") or ""),
        token_uri=token_uri,
        credentials=credentials,
    )
