"""Service accounts as Google keeps them: generated RSA key files, their public keys by
``private_key_id``, and RS256 JWT verification (the token endpoint's assertions and the
self-signed JWTs Google's client libraries may send straight to the API)."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROJECT_ID = "sandbox-project"


class JwtInvalid(ValueError):
    """The JWT is malformed or its signature does not verify."""


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signed bytes, signature) of a compact JWT; JwtInvalid when unreadable."""
    pieces = token.split(".")
    if len(pieces) != 3:
        raise JwtInvalid("not a JWT")
    try:
        header = json.loads(b64url_decode(pieces[0]))
        claims = json.loads(b64url_decode(pieces[1]))
        signature = b64url_decode(pieces[2])
    except (ValueError, UnicodeDecodeError):
        raise JwtInvalid("not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtInvalid("not a JWT")
    return header, claims, f"{pieces[0]}.{pieces[1]}".encode(), signature


def verify_rs256(public_pem: str, signed: bytes, signature: bytes) -> None:
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise JwtInvalid("not an RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise JwtInvalid("Invalid JWT Signature.") from None


def generate_key_file(client_email: str, token_uri: str) -> tuple[dict[str, Any], str]:
    """A key file shaped like Google's download (type, project_id, private_key_id, private_key,
    client_email, client_id, token_uri...) and its public key in PEM."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key_file = {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": str(100000000000000000000 + secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    return key_file, public_pem
