"""Provider webhooks as near-real-time delta syncs: the same merge, one page per entity.

An event that carries the record (Salesforce Outbound Messages) is applied as it is; one that
carries only an id (HubSpot) is fetched first, so what we apply is always the provider's current
state. A state older than the last one applied to that link is ignored by the engine (events can
arrive out of order), and applying the same state twice changes nothing (events can arrive twice).
"""

from __future__ import annotations

from collections import defaultdict

from connectors.base import RemoteRecord, WebhookEvent
from integrations.models import Integration
from integrations.services import connector_for
from sync.engine import EntityContext, Outcome, apply_pull_page
from sync.entities import in_dependency_order
from sync.fields import connector_wants_mapped
from sync.models import CreateIntent, EntityLink

INBOUND_DIRECTIONS = (Integration.Direction.INBOUND, Integration.Direction.BIDIRECTIONAL)


def apply_webhook_events(*, integration: Integration, events: list[WebhookEvent]) -> Outcome:
    """Apply verified events; raises TransientError/ConnectorError when the provider must be retried."""
    total = Outcome()
    if integration.direction not in INBOUND_DIRECTIONS:
        total.unchanged += len(events)
        return total
    connector = connector_for(integration)
    connector_wants_mapped(connector, integration)  # a fetched record carries the mapped custom fields
    by_entity: dict[str, list[WebhookEvent]] = defaultdict(list)
    for event in events:
        if connector.supports(event.entity):
            by_entity[event.entity].append(event)
        else:
            total.unchanged += 1
    for entity in in_dependency_order(by_entity):  # a message's sender before the message
        entity_events = by_entity[entity]
        records = _current_records(connector, entity, entity_events)
        records, deferred = _settled(integration, entity, records)
        total.unchanged += len(deferred)
        total.add(apply_pull_page(EntityContext.build(integration, entity), records, cursor=None, run=None))
    return total


def _settled(
    integration: Integration, entity: str, records: list[RemoteRecord]
) -> tuple[list[RemoteRecord], list[RemoteRecord]]:
    """(records to apply, records deferred). While creates of ours have an unknown outcome
    (CreateIntent), an unlinked remote record may be one of them: importing it now would make the
    local duplicate that the next run's reconciliation exists to prevent. That run settles the
    intents first and then pulls these records as changes, so nothing is lost by waiting."""
    if not CreateIntent.objects.filter(integration=integration, entity=entity).exists():
        return records, []
    linked = set(
        EntityLink.objects.filter(
            integration=integration, entity=entity, remote_id__in=[r.id for r in records]
        ).values_list("remote_id", flat=True)
    )
    return [r for r in records if r.id in linked], [r for r in records if r.id not in linked]


def _current_records(connector, entity: str, events: list[WebhookEvent]) -> list[RemoteRecord]:
    """The newest known state per remote id: inline data, a fetch, or a tombstone."""
    events = sorted(events, key=lambda e: e.occurred_at.timestamp() if e.occurred_at else 0.0)
    latest: dict[str, WebhookEvent] = {}
    for event in events:
        latest[event.remote_id] = event
    records: dict[str, RemoteRecord] = {}
    to_fetch = []
    for remote_id, event in latest.items():
        if event.action == "deleted":
            records[remote_id] = RemoteRecord(
                id=remote_id, modified_at=event.occurred_at, fields={}, deleted=True
            )
        elif event.record is not None:
            records[remote_id] = event.record
        else:
            to_fetch.append(remote_id)
    if to_fetch:
        for record in connector.get(entity, to_fetch):
            records[record.id] = record
    return list(records.values())
