"""Polling the entities a provider would otherwise push to us by webhook.

A connector names them in ``poll_seconds`` (À La Carte Chat: messages every 30 s). While an
integration cannot receive its provider's webhooks (``Connector.receives_webhooks``: no webhook
secret configured), beat's ``sync.poll_due`` pulls those entities from their cursors, at most once
per interval, and applies them through the same merge as a run. No SyncRun is written for a poll
(the run log would fill with one every 30 s); what a poll did is logged.

Catch-up after downtime needs nothing more: the cursor stays where the last poll or run left it,
so the next pull reads everything since (the connector dedupes its provider's overlap, the links
dedupe the rest). The integration's ordinary delta runs pull these entities too, webhooks or not.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache

from connectors.registry import connector_class
from integrations.models import Integration
from integrations.services import connector_for
from sync.engine import EntityContext, Outcome, apply_pull_page
from sync.fields import connector_wants_mapped
from sync.lease import lease_acquire, lease_release, lease_renew
from sync.models import SyncCursor

logger = logging.getLogger(__name__)

POLL_TASK = "sync.poll_due"  # sync/tasks.py; beat runs it every 30 s (sync.schedules)
INBOUND = (Integration.Direction.INBOUND, Integration.Direction.BIDIRECTIONAL)


def polled_entities(integration: Integration) -> dict[str, int]:
    """Entity → seconds, for what this integration should poll now that it receives no webhooks."""
    cls = connector_class(integration.template.connector)
    if not cls.poll_seconds or cls.receives_webhooks(integration.config or {}):
        return {}
    return {entity: seconds for entity, seconds in cls.poll_seconds.items() if cls.supports(entity)}


def poll_due() -> dict[int, int]:
    """Poll every active integration that is due; integration id → records applied."""
    done = {}
    for integration in Integration.objects.filter(
        status=Integration.Status.ACTIVE, direction__in=INBOUND
    ).select_related("template", "subaccount"):
        entities = {
            entity: seconds
            for entity, seconds in polled_entities(integration).items()
            # At most once per interval, across every worker (the cache is Redis when configured).
            if cache.add(f"poll:{integration.pk}:{entity}", 1, timeout=max(1, seconds - 1))
        }
        if entities:
            done[integration.pk] = poll(integration, list(entities)).processed
    return done


def poll(integration: Integration, entities: list[str]) -> Outcome:
    """Pull ``entities`` from their cursors and apply them; nothing while a run holds the
    integration's lease (that run pulls them)."""
    owner = f"poll-{uuid.uuid4().hex[:12]}"
    total = Outcome()
    if not lease_acquire(integration_id=integration.pk, owner=owner):
        return total
    try:
        connector = connector_for(integration)
        connector_wants_mapped(connector, integration)
        for entity in entities:
            ctx = EntityContext.build(integration, entity)
            cursor = (
                SyncCursor.objects.filter(integration=integration, entity=entity, kind=SyncCursor.Kind.PULL)
                .values_list("position", flat=True)
                .first()
            )
            for page in connector.pull(entity, cursor=cursor or None):
                total.add(apply_pull_page(ctx, page.records, cursor=page.cursor, run=None))
                lease_renew(integration_id=integration.pk, owner=owner)
    finally:
        lease_release(integration_id=integration.pk, owner=owner)
    if total.processed:
        logger.info(
            "poll applied",
            extra={
                "integration_id": integration.pk,
                "entities": entities,
                "records_processed": total.processed,
                "records_created": total.created,
                "records_failed": total.failed,
            },
        )
    return total
