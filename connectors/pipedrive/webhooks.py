"""Pipedrive webhooks v2: HTTP Basic checks and parsing ``meta``/``data``/``previous`` bodies.

Pipedrive signs nothing: the only proof a delivery is Pipedrive's is the ``Authorization: Basic``
pair we gave at subscription time (providers.md §3). The pair is derived from the integration's
webhook secret, so nothing but the secret is stored; it is compared in constant time and a missing
secret fails closed. Events are identified by ``webhook_id`` + ``entity_id`` + ``action`` +
``timestamp`` (+ ``meta.id`` when present) for de-duplication; ``delete`` (a merge's deleted side
carries ``merged_to_id``) becomes a ``deleted`` event, so the receiver applies a tombstone, and
``create``/``change`` carry no record: the receiver fetches the current state, which makes events
that arrive late or twice harmless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from connectors.base import PermanentError, SignatureInvalid, WebhookEvent, WebhookRequest

ENTITIES = {
    "person": "contact",
    "organization": "company",
    "deal": "deal",
    "activity": "activity",
    "note": "activity",
}
ACTIONS = {
    "create": "created",
    "change": "updated",
    "delete": "deleted",
    "added": "created",
    "updated": "updated",
    "deleted": "deleted",
}
ID_PREFIX = {"activity": "activities/", "note": "notes/"}
USER = "pipedrive"


def credentials(secret: str) -> tuple[str, str]:
    """The Basic pair set on the subscription: a fixed user and a password derived from the secret
    (an HMAC, so the secret itself never leaves the platform)."""
    password = hmac.new(secret.encode(), b"pipedrive-webhook-basic-auth", hashlib.sha256).hexdigest()
    return USER, password


def verify(
    request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any] | None = None
) -> None:
    """Return only when the request carries our Basic credentials; else raise SignatureInvalid."""
    if not secret:
        raise SignatureInvalid("no webhook secret configured")
    header = CaseInsensitiveDict(request.headers).get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise SignatureInvalid("no HTTP Basic credentials")
    try:
        given = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid("malformed HTTP Basic credentials") from None
    user, password = credentials(secret)
    if not hmac.compare_digest(given, f"{user}:{password}".encode()):
        raise SignatureInvalid("wrong HTTP Basic credentials")


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """One event per delivery (Pipedrive sends one webhook per change); objects we do not sync
    (leads, products, users) give none."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
        raise PermanentError("Pipedrive webhook body is not a v2 event (no meta object)")
    meta = body["meta"]
    raw_entity = str(meta.get("entity") or meta.get("object") or "")
    entity, action = ENTITIES.get(raw_entity), ACTIONS.get(str(meta.get("action") or ""))
    entity_id = meta.get("entity_id") or meta.get("id")
    data = body.get("data") if isinstance(body.get("data"), dict) else body.get("previous") or {}
    if entity_id is None and isinstance(data, dict):
        entity_id = data.get("id")
    if entity is None or action is None or entity_id is None:
        return []
    timestamp = meta.get("timestamp")
    event_id = ":".join(
        str(part)
        for part in (
            "pipedrive",
            meta.get("webhook_id"),
            raw_entity,
            entity_id,
            action,
            timestamp,
            meta.get("id") or "",
        )
    )
    return [
        WebhookEvent(
            event_id=event_id,
            entity=entity,
            remote_id=f"{ID_PREFIX.get(raw_entity, '')}{entity_id}",
            action=action,
            occurred_at=_occurred_at(timestamp),
            record=None,
            raw=body,
        )
    ]


def _occurred_at(value: Any) -> datetime | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdecimal()):
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
