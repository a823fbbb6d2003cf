"""Zoho Notification API callbacks: verify our channel token, parse ids into events to fetch.

Zoho signs nothing. Each watch channel carries a ``token`` we chose (≤ 50 characters) and Zoho echoes it
in every callback; ours is an HMAC of the channel id under the integration's webhook secret, so the
secret itself never leaves us and a callback is accepted only when its token is the one derived for
the channel it names (constant-time compare, fail closed without a secret).

A callback holds ids only (``operation`` insert / update / delete): inserts and updates become events
the engine fetches (``Connector.get``), deletes tombstones. Event ids combine channel, server time,
module, operation and record id: a redelivered callback de-duplicates on them, and events for one record
are applied newest first whatever order they came in (the fetch reads the current state anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import SignatureInvalid, WebhookEvent, WebhookRequest

ENTITY_BY_MODULE = {
    "Contacts": "contact",
    "Leads": "contact",
    "Accounts": "company",
    "Deals": "deal",
    "Tasks": "activity",
    "Notes": "activity",
}
ACTIONS = {"insert": "created", "update": "updated", "delete": "deleted"}
TOKEN_LENGTH = 48  # Zoho takes at most 50 characters


def channel_token(secret: str, channel_id: str) -> str:
    """The token a channel is created with: HMAC-SHA256(secret, channel id), hex, 48 characters."""
    return hmac.new(secret.encode(), f"zoho-channel:{channel_id}".encode(), hashlib.sha256).hexdigest()[
        :TOKEN_LENGTH
    ]


def _payload(request: WebhookRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise SignatureInvalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise SignatureInvalid("the body is not a notification")
    return body


def verify(request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any]) -> None:
    """Raise SignatureInvalid unless the callback's token is the one derived for its channel."""
    body = _payload(request)
    channel_id, token = str(body.get("channel_id") or ""), str(body.get("token") or "")
    if not secret or not channel_id or not token:
        raise SignatureInvalid("no webhook secret configured, or no channel token in the notification")
    if not hmac.compare_digest(token.encode(), channel_token(secret, channel_id).encode()):
        raise SignatureInvalid("the channel token does not match")


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    body = _payload(request)
    module, operation = str(body.get("module") or ""), str(body.get("operation") or "")
    entity, action = ENTITY_BY_MODULE.get(module), ACTIONS.get(operation)
    if entity is None or action is None:
        return []  # a module or operation we do not sync
    server_time = body.get("server_time")
    occurred = (
        datetime.fromtimestamp(float(server_time) / 1000, tz=UTC)
        if isinstance(server_time, int | float)
        else None
    )
    channel = str(body.get("channel_id") or "")
    return [
        WebhookEvent(
            event_id=f"zoho:{channel}:{server_time}:{module}:{operation}:{remote_id}",
            entity=entity,
            remote_id=str(remote_id),
            action=action,
            occurred_at=occurred,
            raw={"module": module, "operation": operation, "id": str(remote_id), "server_time": server_time},
        )
        for remote_id in body.get("ids") or []
        if str(remote_id).isdigit()
    ]
