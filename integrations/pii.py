"""Personal data at rest: text encrypted with FIELD_ENCRYPTION_KEYS, and keyed blind indexes.

A ciphertext is different every time, so the database cannot compare two of them. Exact-match
lookups (matching by e-mail and phone, the API's ``?email=``, admin search) compare blind indexes
instead: ``HMAC-SHA256(PII_INDEX_KEY, normalised value)``, stored in an indexed column beside the
encrypted one. Without the key an index cannot be recomputed from a guessed address (a plain SHA-256
of e-mail addresses is reversed by a dictionary), and with it equal values give equal indexes.

``ENCRYPT_PII`` (on in production) decides what is *written*; reads accept both forms, so rows
written before the switch (or while it was off) stay readable and ``manage.py reencrypt`` converges
them. Blank values are stored blank (no personal data in "").
"""

import functools
import hashlib
import hmac
import json
import re
from typing import Any

from django.conf import settings

from integrations.crypto import decrypt_json, encrypt_json, fernet

EMAIL = "email"
PHONE = "phone"
KINDS = (EMAIL, PHONE)

# A Fernet token: version byte 0x80, timestamp, IV, ciphertext (>= 16 bytes) and HMAC: >= 73 bytes,
# base64url with padding (>= 100 chars).
_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_-]{92,}={0,2}")
_PHONE_NOISE = re.compile(r"[\s().\-/]")


def pii_encrypted() -> bool:
    return bool(getattr(settings, "ENCRYPT_PII", True))


def encrypt_text(value: str) -> str:
    """What a PII column stores for ``value``: a Fernet token when ENCRYPT_PII is on, else the text."""
    if not value or not pii_encrypted():
        return value
    return encrypt_json(value)


def is_token(stored: str) -> bool:
    return bool(_TOKEN.fullmatch(stored))


def decrypt_text(stored: str, *, label: str = "value") -> str:
    """The text a PII column holds, whether it was written encrypted or in clear.

    A token no key opens raises ``DecryptionError`` (never returns ciphertext as if it were text).
    """
    if not stored or not is_token(stored):
        return stored
    return str(decrypt_json(stored, label=label))


def json_text(value: Any, encoder: type[json.JSONEncoder] | None = None) -> str:
    """A JSON value as compact text, keys in the order given (an outbound payload keeps its envelope's)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, cls=encoder)


def encrypt_json_value(value: Any, encoder: type[json.JSONEncoder] | None = None) -> str:
    """What a JSON column holding copies of personal data stores: a Fernet token of the JSON text
    when ENCRYPT_PII is on, else the JSON text. An empty object or list carries no personal data
    and is stored as it is (most records have no custom fields: no cipher work for ``{}``)."""
    text = json_text(value, encoder)
    if value in ({}, []) or not pii_encrypted():
        return text
    return fernet().encrypt(text.encode()).decode()


def decrypt_json_value(stored: str, *, label: str = "value") -> Any:
    """The JSON value such a column holds, written encrypted or in clear. Unambiguous: a token is
    never valid JSON text (JSON text of a string starts with a quote)."""
    if is_token(stored):
        return decrypt_json(stored, label=label)
    return json.loads(stored)


def normalise_for_index(value: str, kind: str) -> str:
    """The form a value is indexed under: e-mail trimmed and lower-cased; a phone without spaces,
    dots, dashes or brackets (canonical phones are already E.164: ``+12025550123``)."""
    value = (value or "").strip()
    if kind == EMAIL:
        return value.lower()
    if kind == PHONE:
        return _PHONE_NOISE.sub("", value)
    raise ValueError(f"unknown blind index kind {kind!r}")


@functools.cache
def _index_key(key: str) -> bytes:
    return hashlib.sha256(b"crm-pii-blind-index-v1\x00" + key.encode()).digest()


def blind_index(value: str, kind: str) -> str:
    """The blind index of ``value``: 64 hex characters, or "" for a blank value (so ``email=""``
    still finds the records without an address)."""
    normalised = normalise_for_index(value, kind)
    if not normalised:
        return ""
    key = _index_key(settings.PII_INDEX_KEY)
    return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()
