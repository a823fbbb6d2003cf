"""À La Carte Chat's webhook events, built on the shared signed delivery (``connectors.sandbox.delivery``).

Body ``{"event", "timestamp", "business_id", "data"}`` (the nested form the seed shows):
``message.received`` / ``message.sent`` carry ``{"message", "customer", "attachments"}``;
``conversation.created`` / ``.assigned`` / ``.status_changed`` carry ``{"conversation", "customer"}``;
``customer.created`` / ``.updated`` carry ``{"customer"}``. No event id: the delivery log gets one of
its own.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.utils import timezone

from connectors.alacarte.emulator.store import AlaCarteStore
from connectors.sandbox.models import SandboxRecord

EVENTS = (
    "message.received",
    "message.sent",
    "conversation.created",
    "conversation.assigned",
    "conversation.status_changed",
    "customer.created",
    "customer.updated",
)


class AlaCarteEvents(AlaCarteStore):
    def emit(self, event: str, data: dict[str, Any], *, wait: bool = False) -> dict[str, Any]:
        """Send ``event`` to every target that takes it (after the current transaction commits, or
        now with ``wait``); returns the body."""
        business_id = self.business()["business_id"]
        body = {
            "event": event,
            "timestamp": timezone.now().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "business_id": business_id,
            "data": data,
        }
        self.dispatch(business_id, event, body, wait=wait)
        return body

    def emit_customer(self, action: str, customer: SandboxRecord, *, wait: bool = False) -> None:
        self.emit(f"customer.{action}", {"customer": self.customer_dict(customer)}, wait=wait)

    def emit_conversation(
        self, event: str, conversation: SandboxRecord, customer: SandboxRecord, *, wait: bool = False
    ) -> None:
        data = {
            "conversation": self.conversation_dict(conversation),
            "customer": self.customer_dict(customer),
        }
        self.emit(f"conversation.{event}", data, wait=wait)

    def emit_message(
        self, event: str, message: SandboxRecord, customer: SandboxRecord, base: str, *, wait: bool = False
    ) -> None:
        data = {
            "message": self.message_dict(message, base),
            "customer": self.customer_dict(customer),
            "attachments": self.message_attachments(message, base),
        }
        self.emit(f"message.{event}", data, wait=wait)
