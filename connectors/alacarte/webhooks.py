"""À La Carte Chat webhooks (providers.md §8): signed ``"{timestamp}.{body}"``, no event id.

``X-Webhook-Signature`` is the lowercase hex HMAC-SHA256 of ``"{X-Webhook-Timestamp}.{raw body}"``
keyed with the secret the dashboard generated (config ``webhook_secret``; without it every delivery
is refused), the timestamp in Unix seconds within 300 s (connectors.signatures checks it).

Bodies read ``{"event", "timestamp", "business_id", "data"}``. ``data`` is canonically nested
(``{"message", "customer", "attachments"}``, ``{"conversation", "customer"}``, ``{"customer"}``);
one seed snippet reads it flat (the message or conversation itself, its customer inside), so both
are accepted. A delivery carrying a customer snapshot yields a contact event too (only the fields
the snapshot has), so a message from a new customer brings the customer along.

The provider gives no event id: each event's id is the sha256 of the event name, the entity, the
object's id and the body's ``timestamp``: a re-delivery of the same event (same body) has the same
ids and is dropped by the receiver's de-duplication.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.alacarte.records import conversation_record, customer_record, message_record, when
from connectors.base import PermanentError, WebhookEvent, WebhookRequest
from connectors.signatures import verify_timestamped_hmac

MESSAGE_EVENTS = ("message.received", "message.sent")
CONVERSATION_EVENTS = ("conversation.created", "conversation.assigned", "conversation.status_changed")
CUSTOMER_EVENTS = ("customer.created", "customer.updated")
EVENTS = MESSAGE_EVENTS + CONVERSATION_EVENTS + CUSTOMER_EVENTS
ACK = b'{"success":true}'
REFUSAL = b'{"error":"Invalid signature"}'
JSON = "application/json"


def verify(
    request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any] | None = None
) -> None:
    """Return only when the delivery is authentic; raise SignatureInvalid otherwise (fail closed).
    Only the secret À La Carte Chat generated signs its deliveries: ours is never a fallback."""
    verify_timestamped_hmac(request, secret=str((config or {}).get("webhook_secret") or ""), now=now)


def ack_response() -> tuple[bytes, str]:
    """What À La Carte Chat expects from a receiver that took the delivery."""
    return ACK, JSON


def refusal_response() -> tuple[bytes, str]:
    """The body its sample receivers answer an unverifiable delivery with (status 401)."""
    return REFUSAL, JSON


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """The delivery's events: the customer's (when it carries one) before the message's or the
    conversation's. PermanentError when the body is not an À La Carte Chat event."""
    body = _body(request.body)
    name = body.get("event")
    if name not in EVENTS:
        raise PermanentError(f"unknown À La Carte Chat event {name!r}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PermanentError("the À La Carte Chat webhook carries no data object")
    stamp = body.get("timestamp")
    occurred = when(stamp)
    if occurred is None:
        raise PermanentError("the À La Carte Chat webhook timestamp is not an ISO date")
    event = _Event(name=name, stamp=str(stamp), occurred_at=occurred, raw=body)
    if name in CUSTOMER_EVENTS:
        customer = data.get("customer") if isinstance(data.get("customer"), dict) else data
        return [event.contact(customer, required=True, action=name.split(".")[1])]
    subject = "message" if name in MESSAGE_EVENTS else "conversation"
    thing, customer = _split(data, subject)
    events = [event.contact(customer)] if customer is not None else []
    if subject == "message":
        events.append(event.message(thing, data.get("attachments")))
    else:
        events.append(event.conversation(thing))
    return [e for e in events if e is not None]


class _Event:
    """Builds one delivery's events with their derived ids."""

    def __init__(self, *, name: str, stamp: str, occurred_at: datetime, raw: Mapping[str, Any]):
        self.name, self.stamp, self.occurred_at, self.raw = name, stamp, occurred_at, raw

    def _made(self, entity: str, remote_id: str, action: str, record) -> WebhookEvent:
        return WebhookEvent(
            event_id=event_id(self.name, entity, remote_id, self.stamp),
            entity=entity,
            remote_id=remote_id,
            action=action,
            occurred_at=self.occurred_at,
            record=record,
            raw=self.raw,
        )

    def contact(
        self, customer: Any, *, required: bool = False, action: str = "updated"
    ) -> WebhookEvent | None:
        if not isinstance(customer, dict) or not customer.get("id"):
            if required:
                raise PermanentError(f"the À La Carte Chat {self.name} webhook names no customer")
            return None
        record = customer_record(customer)
        return self._made("contact", record.id, action, record)

    def message(self, message: Mapping[str, Any], extra_attachments: Any) -> WebhookEvent:
        if not (message.get("id") or message.get("message_id")):
            raise PermanentError(f"the À La Carte Chat {self.name} webhook names no message")
        record = message_record(message, extra_attachments)
        return self._made("activity", record.id, "created", record)

    def conversation(self, conversation: Mapping[str, Any]) -> WebhookEvent:
        if not conversation.get("id"):
            raise PermanentError(f"the À La Carte Chat {self.name} webhook names no conversation")
        record = conversation_record(conversation)
        action = "created" if self.name == "conversation.created" else "updated"
        return self._made("conversation", record.id, action, record)


def event_id(name: str, entity: str, remote_id: str, stamp: str) -> str:
    """A stable id for an event the provider numbers not: same delivery, same id."""
    return hashlib.sha256(f"{name}|{entity}|{remote_id}|{stamp}".encode()).hexdigest()


def _split(data: Mapping[str, Any], subject: str) -> tuple[dict[str, Any], Any]:
    """(the message or conversation, the customer snapshot) from a nested or a flat ``data``."""
    nested = data.get(subject)
    if isinstance(nested, dict):
        return nested, data.get("customer")
    flat = {key: value for key, value in data.items() if key not in ("customer", "attachments")}
    customer = data.get("customer")
    if "customer_id" not in flat and isinstance(customer, dict) and customer.get("id"):
        flat["customer_id"] = customer["id"]
    return flat, customer


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise PermanentError("the À La Carte Chat webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise PermanentError("the À La Carte Chat webhook body is not an object")
    return body
