"""MissionX webhooks from the emulator: its event body on the shared signed delivery
(``connectors.sandbox.delivery``: targets, ``X-Webhook-Signature`` over ``"{ts}.{body}"``, the
2 s / 4 s / 8 s retries on 5xx, 429 and timeouts, the ``_control/deliveries`` log).

Each event is ``{"id": "evt_…", "event", "timestamp", "data"}``; a target registered without a
secret gets it signed with its account's webhook secret (the one ``connect`` hands out).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone

from connectors.missionx.emulator.store import MissionXStore, iso


class MissionXDelivery(MissionXStore):
    webhook_user_agent = "MissionX-Webhooks/1.0 (sandbox)"

    def emit(self, account: str, event: str, data: dict[str, Any], *, wait: bool = False) -> dict[str, Any]:
        """Build the event and send it to every target for ``account`` (now, with ``wait``).
        Returns the body."""
        body = {
            "id": f"evt_{secrets.token_hex(10)}",
            "event": event,
            "timestamp": iso(timezone.now()),
            "data": data,
        }
        self.dispatch(account, event, body, event_id=body["id"], wait=wait)
        return body
