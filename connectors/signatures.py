"""Webhook signature schemes, written once and reused by every connector's ``webhooks.py``.

HMACs and constant-time comparison live here so no connector hand-rolls its own (HubSpot's v3
uses ``hmac_signature`` and ``matches_any``). Each verifier returns only when the request is authentic and raises ``SignatureInvalid`` otherwise.
All of them read the raw request bytes (never re-serialised JSON), compare in constant time and
fail closed: no secret or key configured, no signature header, a malformed or stale timestamp all
reject. Schemes (providers.md): HMAC over the body or over ``"{timestamp}.{body}"`` (À La Carte
Chat, MissionX), a shared secret header (AITable), Facebook's ``X-Hub-Signature-256`` and its
``hub.challenge`` handshake, GoHighLevel's Ed25519 (``x-ghl-signature``) and RSA
(``x-wh-signature``) signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from requests.structures import CaseInsensitiveDict

from connectors.base import SignatureInvalid, WebhookRequest

Encoding = Literal["hex", "base64"]

# Signed timestamps older (or further in the future) than this are replays or clock trouble.
DEFAULT_TOLERANCE_SECONDS = 300
# Epoch values above this are milliseconds: 10**11 seconds is the year 5138.
_MS_THRESHOLD = 10**11


def _key_bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


def hmac_signature(
    secret: str | bytes, message: bytes, *, encoding: Encoding = "hex", digest: str = "sha256"
) -> str:
    """The HMAC of ``message`` keyed by ``secret``, as lowercase hex or standard base64."""
    mac = hmac.new(_key_bytes(secret), message, getattr(hashlib, digest)).digest()
    return mac.hex() if encoding == "hex" else base64.b64encode(mac).decode()


def verify_hmac(
    secret: str | bytes,
    message: bytes,
    signature: str,
    *,
    encoding: Encoding = "hex",
    digest: str = "sha256",
    prefix: str = "",
) -> None:
    """Check ``signature`` (optionally ``prefix``-ed, e.g. ``sha256=``) against the HMAC of ``message``.

    Hex signatures compare case-insensitively (hex digits carry no case); base64 ones exactly.
    """
    if not secret:
        raise SignatureInvalid("no signing secret configured")
    provided = (signature or "").strip()
    if not provided:
        raise SignatureInvalid("no signature")
    if prefix:
        if not provided.startswith(prefix):
            raise SignatureInvalid(f"the signature does not start with {prefix!r}")
        provided = provided[len(prefix) :]
    if encoding == "hex":
        provided = provided.lower()
    expected = hmac_signature(secret, message, encoding=encoding, digest=digest)
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise SignatureInvalid("signature mismatch")


def matches_any(expected: list[str], provided: str) -> bool:
    """Whether ``provided`` equals one of the ``expected`` signatures, compared in constant time.

    Every candidate is compared (no early exit), so timing reveals nothing about which matched.
    """
    matches = [hmac.compare_digest(e.encode(), provided.encode()) for e in expected]
    return any(matches)


def signed_message(timestamp: str, body: bytes, *, separator: bytes = b".") -> bytes:
    """The bytes of ``"{timestamp}.{body}"``-style strings to sign: timestamp, separator, raw body."""
    return timestamp.encode() + separator + body


def check_timestamp(
    timestamp: str,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    unit: Literal["s", "ms", "auto"] = "s",
) -> float:
    """Return the timestamp in epoch seconds when it is within ``tolerance`` of ``now``.

    ``unit``: seconds, milliseconds, or ``auto`` (values above 10**11 are read as milliseconds).
    """
    value = (timestamp or "").strip()
    if not value.isdecimal():
        raise SignatureInvalid("missing or malformed timestamp")
    seconds = int(value)
    if unit == "ms" or (unit == "auto" and seconds > _MS_THRESHOLD):
        seconds = seconds / 1000
    if abs(now - seconds) > tolerance:
        raise SignatureInvalid("stale timestamp")
    return float(seconds)


def verify_shared_secret(provided: str, secret: str) -> None:
    """The header carries the shared secret itself: compare in constant time."""
    if not secret:
        raise SignatureInvalid("no shared secret configured")
    if not provided or not hmac.compare_digest(provided.strip().encode(), secret.encode()):
        raise SignatureInvalid("the shared secret does not match")


def _headers(request: WebhookRequest) -> CaseInsensitiveDict:
    return CaseInsensitiveDict(request.headers)


# --- provider schemes ------------------------------------------------------------------------


def verify_timestamped_hmac(
    request: WebhookRequest,
    *,
    secret: str,
    now: float,
    signature_header: str = "X-Webhook-Signature",
    timestamp_header: str = "X-Webhook-Timestamp",
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """À La Carte Chat and MissionX: hex HMAC-SHA256 of ``"{timestamp}.{raw body}"``, seconds, 300 s."""
    if not secret:
        raise SignatureInvalid("no signing secret configured")
    headers = _headers(request)
    timestamp = headers.get(timestamp_header, "")
    check_timestamp(timestamp, now=now, tolerance=tolerance, unit="s")
    verify_hmac(secret, signed_message(timestamp.strip(), request.body), headers.get(signature_header, ""))


def verify_aitable(request: WebhookRequest, *, secret: str, accept_hmac: bool = False) -> None:
    """AITable: ``X-AITable-Signature`` carries the shared secret verbatim (AITable cannot sign).

    With ``accept_hmac``, a relay that can sign may send hex HMAC-SHA256(secret, raw body) instead.
    """
    if not secret:
        raise SignatureInvalid("no shared secret configured")
    provided = _headers(request).get("X-AITable-Signature", "").strip()
    if not provided:
        raise SignatureInvalid("no X-AITable-Signature header")
    verbatim = hmac.compare_digest(provided.encode(), secret.encode())
    signed = accept_hmac and hmac.compare_digest(
        hmac_signature(secret, request.body).encode(), provided.lower().encode()
    )
    if not (verbatim or signed):
        raise SignatureInvalid("the X-AITable-Signature does not match")


def verify_facebook(request: WebhookRequest, *, secret: str) -> None:
    """Meta: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``."""
    signature = _headers(request).get("X-Hub-Signature-256", "")
    if not signature:
        raise SignatureInvalid("no X-Hub-Signature-256 header")
    verify_hmac(secret, request.body, signature, prefix="sha256=")


def hub_challenge(query: Mapping[str, str], *, verify_token: str) -> str | None:
    """Meta's subscription handshake: the ``hub.challenge`` to echo back, or None to refuse (403).

    Refuses unless ``hub.mode`` is ``subscribe`` and ``hub.verify_token`` equals ours (constant time).
    """
    if not verify_token or query.get("hub.mode") != "subscribe":
        return None
    provided = str(query.get("hub.verify_token") or "")
    challenge = str(query.get("hub.challenge") or "")
    if not challenge or not hmac.compare_digest(provided.encode(), verify_token.encode()):
        return None
    return challenge


# --- public-key signatures (GoHighLevel) ------------------------------------------------------


def load_public_key(material: str) -> ed25519.Ed25519PublicKey | rsa.RSAPublicKey:
    """A public key from a PEM or base64 DER (SPKI), or an Ed25519 key as 32 raw bytes in base64 or hex."""
    text = (material or "").strip()
    if not text:
        raise SignatureInvalid("no public key configured")
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
            if len(raw) == 32:
                key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            else:
                key = serialization.load_der_public_key(raw)
    except (ValueError, binascii.Error, TypeError):
        raise SignatureInvalid("the configured public key cannot be read") from None
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise SignatureInvalid("the configured public key is neither Ed25519 nor RSA")
    return key


def _b64_signature(signature: str) -> bytes:
    if not signature or not signature.strip():
        raise SignatureInvalid("no signature")
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise SignatureInvalid("the signature is not base64") from None


def verify_ed25519(public_key: str, message: bytes, signature: str) -> None:
    """Base64 Ed25519 ``signature`` of ``message`` under ``public_key`` (PEM, base64 or hex)."""
    key = load_public_key(public_key)
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SignatureInvalid("the configured key is not an Ed25519 key")
    try:
        key.verify(_b64_signature(signature), message)
    except InvalidSignature:
        raise SignatureInvalid("signature mismatch") from None


def verify_rsa_sha256(public_key: str, message: bytes, signature: str) -> None:
    """Base64 RSA PKCS#1 v1.5 + SHA-256 ``signature`` of ``message`` under a PEM ``public_key``."""
    key = load_public_key(public_key)
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureInvalid("the configured key is not an RSA key")
    try:
        key.verify(_b64_signature(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureInvalid("signature mismatch") from None


def verify_gohighlevel(
    request: WebhookRequest,
    *,
    ed25519_key: str = "",
    rsa_key: str = "",
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """GoHighLevel: ``x-ghl-signature`` (Ed25519) when present, and then only it; else ``x-wh-signature`` (RSA).

    With ``now``, the body's ISO ``timestamp`` must also be within ``tolerance`` (replay window);
    it is read only after the signature has been verified.
    """
    headers = _headers(request)
    current = headers.get("x-ghl-signature", "")
    if current:
        verify_ed25519(ed25519_key, request.body, current)
    else:
        legacy = headers.get("x-wh-signature", "")
        if not legacy:
            raise SignatureInvalid("no x-ghl-signature or x-wh-signature header")
        verify_rsa_sha256(rsa_key, request.body, legacy)
    if now is not None:
        _check_body_timestamp(request.body, now=now, tolerance=tolerance)


def _check_body_timestamp(body: bytes, *, now: float, tolerance: float) -> None:
    try:
        sent = json.loads(body).get("timestamp")
        when = datetime.fromisoformat(str(sent).replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError, TypeError):
        raise SignatureInvalid("missing or malformed timestamp in the body") from None
    if abs(now - when) > tolerance:
        raise SignatureInvalid("stale timestamp")
