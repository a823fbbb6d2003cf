"""HubSpot's webhooks: a JSON array of events POSTed to the app's target URL, signed v3."""

from __future__ import annotations

import json
import time
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from connectors.hubspot.emulator.schema import APP_ID, HUB_ID, epoch_ms
from connectors.hubspot.webhooks import signature_v3
from connectors.sandbox.emulator import Emulator
from connectors.sandbox.models import SandboxWebhook


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
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": 0,
                "changeSource": "CRM",
                "changeFlag": "NEW",
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
