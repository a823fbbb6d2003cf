"""MissionX webhooks (providers.md §5): signed like À La Carte Chat, one event per delivery.

``X-Webhook-Signature`` is the lowercase hex HMAC-SHA256 of ``"{X-Webhook-Timestamp}.{raw body}"``,
the timestamp in Unix seconds and accepted within 300 s (connectors.signatures does the checking).
The secret is the one MissionX shows for the webhook (config ``webhook_secret``); without it, the
integration's own generated secret. Bodies read ``{"id": "evt_…", "event", "timestamp", "data":
{"portal": {…}, "file": {…}}}``; an event names a portal, not a CRM record, so it carries no
``record`` and the onboarding flow (not the merge) acts on it from ``raw``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import PermanentError, WebhookEvent, WebhookRequest
from connectors.signatures import verify_timestamped_hmac

ENTITY = "portal"
ACTIONS = {
    "portal.created": "created",
    "portal.activated": "activated",
    "file.uploaded": "file_uploaded",
}


def verify(
    request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any] | None = None
) -> None:
    """Return only when the delivery is authentic; raise SignatureInvalid otherwise (fail closed)."""
    configured = str((config or {}).get("webhook_secret") or "")
    verify_timestamped_hmac(request, secret=configured or secret, now=now)


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """The delivery's one event; PermanentError when the body is not a MissionX event."""
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise PermanentError("the MissionX webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise PermanentError("the MissionX webhook body is not an object")
    event_id = body.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise PermanentError("the MissionX webhook has no event id")
    name = body.get("event")
    if name not in ACTIONS:
        raise PermanentError(f"unknown MissionX event {name!r}")
    data = body.get("data")
    portal = data.get("portal") if isinstance(data, dict) else None
    if not isinstance(portal, dict) or not portal.get("id"):
        raise PermanentError("the MissionX webhook names no portal")
    if name == "file.uploaded" and not isinstance(data.get("file"), dict):
        raise PermanentError("the MissionX file.uploaded webhook carries no file")
    return [
        WebhookEvent(
            event_id=event_id,
            entity=ENTITY,
            remote_id=str(portal["id"]),
            action=ACTIONS[name],
            occurred_at=_timestamp(body.get("timestamp")),
            record=None,
            raw=data,
        )
    ]


def _timestamp(value: Any) -> datetime:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise PermanentError("the MissionX webhook timestamp is not an ISO date") from None
    if when.tzinfo is None:
        raise PermanentError("the MissionX webhook timestamp has no time zone")
    return when
