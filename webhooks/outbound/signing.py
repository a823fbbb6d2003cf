"""Standard Webhooks signatures: ``whsec_`` secrets and the ``webhook-id/-timestamp/-signature`` headers.

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
The signed content is ``"{msg_id}.{timestamp}.{body}"`` with the exact body bytes we send, keyed
with the base64-decoded secret. While a secret is being rotated, every message carries one
signature per active secret, space-separated, so receivers can switch over at their own pace.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes
ROTATION_GRACE = timedelta(hours=24)  # the previous secret keeps signing this long after a rotation


class SecretInvalid(ValueError):
    """A secret that is not ``whsec_<base64>`` of enough bytes."""


def secret_generate() -> str:
    """A new random secret, ``whsec_`` + base64 of SECRET_BYTES bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise SecretInvalid("the secret is not base64 after the whsec_ prefix") from None
    if len(key) < 24:
        raise SecretInvalid("the secret must hold at least 24 bytes")
    return key


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``msg_id.timestamp.body`` under ``secret``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_headers(*, msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per secret (current first)."""
    if not secrets:
        raise SecretInvalid("at least one secret is needed to sign")
    signatures = [signature(secret=s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def active_secrets(
    *, secret: str, previous_secret: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets to sign with now: the current one, plus the previous one until it expires."""
    active = [secret]
    if previous_secret and previous_expires_at and previous_expires_at > now:
        active.append(previous_secret)
    return active
