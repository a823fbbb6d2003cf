"""HubSpot's webhooks: a JSON array of events POSTed to the app's target URL, signed v3."""

from __future__ import annotations

import json
import time
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from connectors.hubspot.emulator.association_types import SINGULAR
from connectors.hubspot.emulator.schema import APP_ID, HUB_ID, epoch_ms
from connectors.hubspot.webhooks import signature_v3
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxWebhook

# An object event names its object; an associationChange event names both ends instead.
OBJECT_EVENT_DEFAULTS = {"subscriptionType": "contact.propertyChange", "objectId": 0, "changeFlag": "NEW"}
WEBHOOK_OBJECTS = ("contacts", "companies", "deals")  # the legacy subscription types' objects


def _is_association(event: dict[str, Any]) -> bool:
    return str(event.get("subscriptionType", "")).endswith(".associationChange")


def association_change_events(
    from_type: str, from_id: str, to_type: str, to_id: str, *, removed: bool = False, primary: bool = False
) -> list[dict[str, Any]]:
    """The events HubSpot sends when two records of different types are associated or dissociated:
    one ``<object>.associationChange`` per side, each naming its own side ``fromObjectId``
    (associationType reads ``CONTACT_TO_COMPANY``). Only contacts, companies and deals have these
    subscription types."""
    ends = ((from_type, from_id, to_type, to_id), (to_type, to_id, from_type, from_id))
    return [
        {
            "subscriptionType": f"{SINGULAR[a]}.associationChange",
            "associationType": f"{SINGULAR[a]}_TO_{SINGULAR[b]}".upper(),
            "fromObjectId": int(a_id),
            "toObjectId": int(b_id),
            "associationRemoved": removed,
            "isPrimaryAssociation": primary,
        }
        for a, a_id, b, b_id in ends
        if a in WEBHOOK_OBJECTS
    ]


class HubSpotWebhooks(Emulator):
    """Fires signed webhooks at a subscriber."""

    def fire_webhooks(self, request: HttpRequest | None, target_url: str, payload: Any) -> SandboxWebhook:
        """POST a JSON array of events to ``target_url``, signed v3 with the app's client secret."""
        events = (
            payload
            if payload is not None
            else [{"subscriptionType": "contact.creation", "objectId": self._latest_contact_id()}]
        )
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("events must be a list of objects")
        occurred = epoch_ms(timezone.now())
        full = [
            {
                "eventId": int(time.time() * 1000) * 100 + i,
                "subscriptionId": 12345,
                "portalId": HUB_ID,
                "appId": APP_ID,
                "occurredAt": occurred,
                "attemptNumber": 0,
                "changeSource": "CRM",
                **({} if _is_association(event) else OBJECT_EVENT_DEFAULTS),
                **event,
            }
            for i, event in enumerate(events)
        ]
        body = json.dumps(full, separators=(",", ":")).encode()
        timestamp = str(epoch_ms(timezone.now()))
        signature = signature_v3(self.client_credentials()[1], "POST", target_url, body, timestamp)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (sandbox)",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        return self.deliver(target_url, body, headers)

    def _latest_contact_id(self) -> int:
        latest = self.records("contacts").order_by("-id").values_list("remote_id", flat=True).first()
        return int(latest) if latest else 101
