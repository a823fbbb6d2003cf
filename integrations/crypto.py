"""Encryption at rest on MultiFernet, keyed by ``settings.FIELD_ENCRYPTION_KEYS`` (newest first)."""

import functools
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """No configured key opens this value. Never carries the ciphertext."""


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: give at least one Fernet key")
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a malformed key: each must be 32 url-safe base64 bytes "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_json(value: Any) -> str:
    """Encrypt any JSON value exactly: ``0``, ``False`` and ``""`` stay what they are."""
    payload = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return fernet().encrypt(payload).decode()


def decrypt_json(token: str, *, label: str = "value") -> Any:
    try:
        payload = fernet().decrypt(token.encode())
    except InvalidToken:
        raise DecryptionError(
            f"Cannot decrypt {label}: none of the keys in FIELD_ENCRYPTION_KEYS opens it. "
            "Add the key it was written with (newest first) and run `manage.py reencrypt`."
        ) from None
    return json.loads(payload)


def rotate(token: str, *, label: str = "value") -> str:
    """Re-encrypt a stored token with the newest key (``manage.py reencrypt``)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            f"Cannot re-encrypt {label}: none of the keys in FIELD_ENCRYPTION_KEYS opens it."
        ) from None
