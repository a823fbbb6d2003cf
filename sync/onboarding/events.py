"""Portal events from the portal provider's webhooks (``portal.created``, ``portal.activated``,
``file.uploaded``), handed over by the inbound webhook plane once verified and de-duplicated.

An uploaded file queues its audit step (keyed by the file's id: a replayed event queues nothing);
the portal's state is kept current from the others.
"""

from __future__ import annotations

from django.db import transaction

from connectors.base import WebhookEvent
from integrations.models import Integration
from sync.models import ClientPortal, FlowStep
from sync.onboarding.config import FlowConfig
from sync.onboarding.steps import StepSpec, steps_enqueue

PROCESSED = "processed"
IGNORED = "ignored"


def flow_events_apply(integration: Integration, events: list[WebhookEvent]) -> dict[str, tuple[str, str]]:
    """Apply the portal integration's events; event id → (processed | ignored, note)."""
    outcomes: dict[str, tuple[str, str]] = {}
    portals = {
        portal.remote_id: portal
        for portal in ClientPortal.objects.filter(
            portal_integration=integration, remote_id__in={e.remote_id for e in events}
        ).select_related("integration__template")
    }
    with transaction.atomic():
        for event in sorted(events, key=lambda e: (e.occurred_at is None, e.occurred_at)):
            portal = portals.get(event.remote_id)
            if portal is None:
                outcomes[event.event_id] = (IGNORED, "ignored: not a portal the onboarding flow created")
                continue
            outcomes[event.event_id] = _apply(portal, event)
    return outcomes


def _apply(portal: ClientPortal, event: WebhookEvent) -> tuple[str, str]:
    state = (event.raw or {}).get("portal") or {}
    if state.get("status") or "uploads_enabled" in state:
        ClientPortal.objects.filter(pk=portal.pk).update(
            status=str(state.get("status") or portal.status),
            uploads_enabled=bool(state.get("uploads_enabled", portal.uploads_enabled)),
        )
    if event.action != "file_uploaded":
        return PROCESSED, ""
    flow = FlowConfig.of(portal.integration)
    if flow is None:
        return IGNORED, "ignored: the onboarding flow is switched off for the lead integration"
    file = (event.raw or {}).get("file") or {}
    if not file.get("id"):
        return IGNORED, "ignored: the event names no file"
    steps_enqueue(
        portal.integration,
        [
            StepSpec(
                key=f"audit:{file['id']}",
                entity_type=FlowStep.EntityType.AUDIT_RESULT,
                datasheet_id=flow.audits_table,
                payload={
                    "portal_id": portal.remote_id,
                    "portal_integration_id": portal.portal_integration_id,
                    "file": file,
                },
            )
        ],
    )
    return PROCESSED, ""
