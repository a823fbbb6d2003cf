"""GoHighLevel webhooks: signature checks and parsing the flat per-event bodies (providers.md §6).

A delivery is authentic when its ``x-ghl-signature`` (Ed25519, base64, over the raw body) verifies
with the integration's ``webhook_public_key``, or, when that header is absent, its legacy
``x-wh-signature`` (RSA PKCS#1 v1.5 + SHA-256) verifies with ``webhook_rsa_public_key``; the body's
``timestamp`` must be recent (replay window). No key configured fails closed. Each event's
``webhookId`` is its id for de-duplication. Events carry no record: the receiver reads the current
state by id, so a late or repeated event is harmless; deletes become tombstones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors import signatures
from connectors.base import PermanentError, WebhookEvent, WebhookRequest
from connectors.gohighlevel.records import activity_id, appointment_id, parse_time

# Event type → (entity, action). Types we do not sync (AppInstall, InboundMessage, …) give no event.
EVENTS: dict[str, tuple[str, str]] = {
    "ContactCreate": ("contact", "created"),
    "ContactUpdate": ("contact", "updated"),
    "ContactDndUpdate": ("contact", "updated"),
    "ContactTagUpdate": ("contact", "updated"),
    "ContactDelete": ("contact", "deleted"),
    "OpportunityCreate": ("deal", "created"),
    "OpportunityUpdate": ("deal", "updated"),
    "OpportunityStatusUpdate": ("deal", "updated"),
    "OpportunityStageUpdate": ("deal", "updated"),
    "OpportunityMonetaryValueUpdate": ("deal", "updated"),
    "OpportunityAssignedToUpdate": ("deal", "updated"),
    "OpportunityDelete": ("deal", "deleted"),
    "NoteCreate": ("activity", "created"),
    "NoteUpdate": ("activity", "updated"),
    "NoteDelete": ("activity", "deleted"),
    "TaskCreate": ("activity", "created"),
    "TaskComplete": ("activity", "updated"),
    "TaskUpdate": ("activity", "updated"),
    "TaskDelete": ("activity", "deleted"),
    "AppointmentCreate": ("activity", "created"),
    "AppointmentUpdate": ("activity", "updated"),
    "AppointmentDelete": ("activity", "deleted"),
}


def keys(config: Mapping[str, Any]) -> tuple[str, str]:
    """(Ed25519 key, RSA key) the config holds; "" for one it does not."""
    return str(config.get("webhook_public_key") or ""), str(config.get("webhook_rsa_public_key") or "")


def verify(
    request: WebhookRequest, *, secret: str, now: float, config: Mapping[str, Any] | None = None
) -> None:
    """Return only for a delivery signed by GoHighLevel's key; else raise SignatureInvalid."""
    ed25519_key, rsa_key = keys(config or {})
    signatures.verify_gohighlevel(request, ed25519_key=ed25519_key, rsa_key=rsa_key, now=now)


def parse(request: WebhookRequest, *, config: Mapping[str, Any] | None = None) -> list[WebhookEvent]:
    """One event per delivery (GoHighLevel posts each event alone)."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not body.get("type"):
        raise PermanentError("GoHighLevel webhook body is not an event (no type)")
    kind = EVENTS.get(str(body["type"]))
    if kind is None:
        return []
    entity, action = kind
    if str(body["type"]).startswith("Appointment"):  # the appointment nested under "appointment" [3P]
        nested = body.get("appointment") if isinstance(body.get("appointment"), dict) else body
        if not nested.get("id"):
            return []
        remote_id = appointment_id(str(nested["id"]))
    elif not body.get("id"):
        return []
    else:
        remote_id = str(body["id"])
    if entity == "activity" and not remote_id.startswith("appointments/"):
        contact = str(body.get("contactId") or "")
        if not contact:
            return []
        remote_id = activity_id("notes" if body["type"].startswith("Note") else "tasks", contact, remote_id)
    event_id = str(body.get("webhookId") or f"{body['type']}:{remote_id}:{body.get('timestamp', '')}")
    return [
        WebhookEvent(
            event_id=f"gohighlevel:{event_id}",
            entity=entity,
            remote_id=remote_id,
            action=action,
            occurred_at=parse_time(body.get("timestamp")),
            record=None,
            raw=body,
        )
    ]
