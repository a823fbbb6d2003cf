"""HubSpot webhooks: signature checks (v3, v2, v1) and parsing the JSON array of events.

The signing secret is the app's client secret (config ``client_secret``). Which scheme applies is
read from the headers: ``X-HubSpot-Signature-v3`` (current: HMAC-SHA256, base64, ms timestamp),
else ``X-HubSpot-Signature`` with ``X-HubSpot-Signature-Version`` v2 or v1 (plain SHA-256, hex).
See https://developers.hubspot.com/docs/api/webhooks/validating-requests.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from connectors.base import PermanentError, SignatureInvalid, WebhookEvent, WebhookRequest
from connectors.signatures import hmac_signature, matches_any

# HubSpot signs v3 requests this long; older (or further in the future) is a replay.
MAX_AGE_SECONDS = 300

# HubSpot signs the URI with exactly these escapes decoded (the docs list them; the SDK omits it).
_URI_ESCAPES = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
}
_ESCAPE_RE = re.compile(r"%(" + "|".join(_URI_ESCAPES) + r")", re.IGNORECASE)

ENTITIES = {"contact": "contact", "company": "company", "deal": "deal"}
ACTIONS = {
    "creation": "created",
    "propertyChange": "updated",
    "associationChange": "updated",
    "deletion": "deleted",
    "privacyDeletion": "deleted",
    "merge": "merged",
    "restore": "restored",
}


def decode_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed %XX escapes decoded, everything else untouched."""
    return _ESCAPE_RE.sub(lambda m: _URI_ESCAPES[m.group(1).upper()], uri)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Base64 HMAC-SHA256 of method + decoded uri + body + timestamp (ms), keyed by the secret."""
    message = method.upper().encode() + decode_uri(uri).encode() + body + timestamp.encode()
    return hmac_signature(secret, message, encoding="base64")


def signature_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """Hex SHA-256 (a plain hash, not an HMAC) of secret + method + uri + body."""
    return hashlib.sha256(secret.encode() + method.upper().encode() + uri.encode() + body).hexdigest()


def signature_v1(secret: str, body: bytes) -> str:
    """Hex SHA-256 (a plain hash, not an HMAC) of secret + body."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def _secrets(secret: str, config: Mapping[str, Any] | None) -> list[str]:
    """Candidate signing secrets: the app's client secret, and the integration's webhook secret."""
    candidates = [str((config or {}).get("client_secret") or ""), secret or ""]
    return [c for i, c in enumerate(candidates) if c and c not in candidates[:i]]


def verify(
    request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any] | None = None
) -> None:
    """Return only when the request carries a valid HubSpot signature; else raise SignatureInvalid.

    Fails closed: no secret, no signature header, a malformed or stale timestamp all reject.
    """
    keys = _secrets(secret, config)
    if not keys:
        raise SignatureInvalid("no HubSpot client secret configured")
    headers = CaseInsensitiveDict(request.headers)
    v3 = headers.get("X-HubSpot-Signature-v3", "")
    if v3:
        timestamp = headers.get("X-HubSpot-Request-Timestamp", "")
        if not timestamp.isdecimal():
            raise SignatureInvalid("missing or malformed X-HubSpot-Request-Timestamp")
        if abs(now - int(timestamp) / 1000) >= MAX_AGE_SECONDS:
            raise SignatureInvalid("stale X-HubSpot-Request-Timestamp")
        expected = [signature_v3(k, request.method, request.url, request.body, timestamp) for k in keys]
        provided = v3.strip()
    else:
        provided = headers.get("X-HubSpot-Signature", "").strip()
        if not provided:
            raise SignatureInvalid("no HubSpot signature header")
        version = headers.get("X-HubSpot-Signature-Version", "v1").strip().lower()
        if version == "v2":
            expected = [signature_v2(k, request.method, request.url, request.body) for k in keys]
        elif version == "v1":
            expected = [signature_v1(k, request.body) for k in keys]
        else:
            raise SignatureInvalid("unknown X-HubSpot-Signature-Version")
    if not matches_any(expected, provided):
        raise SignatureInvalid("signature mismatch")


def _occurred_at(value: Any) -> datetime | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdecimal()):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return None


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """One WebhookEvent per item of HubSpot's JSON array; subscription types we do not sync are skipped.

    HubSpot payloads carry ids only, so ``record`` is None: the receiver fetches the record.
    ``*.associationChange`` (fromObjectId, toObjectId, associationType, associationRemoved) becomes
    "updated" for its from-object: HubSpot sends one event per side, and an association change
    alone moves neither record's modified date, so a delta pull would not see it.
    """
    try:
        items = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        items = None
    if not isinstance(items, list):
        raise PermanentError("HubSpot webhook body is not a JSON array of events")
    events: list[WebhookEvent] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        prefix, _, suffix = str(item.get("subscriptionType", "")).partition(".")
        entity, action = ENTITIES.get(prefix), ACTIONS.get(suffix)
        # An associationChange names both ends, not an objectId: the record whose associations
        # changed is the "from" end, re-read with its associations.
        object_id = item.get("fromObjectId") if suffix == "associationChange" else item.get("objectId")
        if entity is None or action is None or object_id is None:
            continue
        events.append(
            WebhookEvent(
                event_id=str(item.get("eventId", "")),
                entity=entity,
                remote_id=str(object_id),
                action=action,
                occurred_at=_occurred_at(item.get("occurredAt")),
                record=None,
                raw=item,
            )
        )
    return events
