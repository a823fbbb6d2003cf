"""Processing stored inbound events: claim, apply through the sync merge, record each outcome.

Pending events are drained oldest first by ``inbound_drain``, which the receiver kicks (debounced)
once it has stored a delivery; each run first reads pending deliveries into events
(``inbound.parsing``). Work is claimed a batch at a time (pending/due → processing) with
``integrations.claims.rows_claim``, so two workers never apply the same event, on SQLite and
PostgreSQL alike. A claim is a lease: ``next_attempt_at`` holds
its expiry while an event is processing, so the work of a worker that died mid-way is picked up
again by ``inbound_retry_due``, which reads everything it needs from the database (a lost broker
message loses nothing). Events are applied per entity, oldest first, by ``apply_webhook_events``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.base import ConnectorError, RemoteRecord, TransientError, WebhookEvent
from connectors.registry import UnknownConnector, connector_class
from integrations.claims import rows_claim
from integrations.log_context import integration_log_ids, log_bind, log_context_kept
from integrations.models import Integration
from sync.models import EntityLink
from sync.onboarding.events import flow_events_apply
from sync.webhook_apply import INBOUND_DIRECTIONS, apply_webhook_events
from webhooks.inbound.parsing import deliveries_parse
from webhooks.models import InboundEvent

logger = logging.getLogger(__name__)

Status = InboundEvent.Status

# Waits after the 1st, 2nd, 3rd, 4th failed attempt; the MAX_ATTEMPTS-th failure is final.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
# A claim held longer than this belongs to a worker that died: the event is taken up again.
CLAIM_LEASE = timedelta(minutes=10)
# A pending event older than this lost its task message (broker trouble, e.g. accepted while Redis
# was down): the sweep takes it. Claims make the sweep and a late drain safe to overlap, so the
# grace only spares the sweep work a kicked drain is about to do.
PENDING_GRACE = timedelta(seconds=30)
SWEEP_LIMIT = 500
# A drain run claims this many events at a time, and hands over to a fresh run after DRAIN_BUDGET s.
DRAIN_BATCH = 200
DRAIN_BUDGET = 30.0
_ERROR_MAX = 2000
_LIVE = (Integration.Status.PENDING, Integration.Status.ACTIVE, Integration.Status.ERROR)


@dataclass
class ProcessResult:
    """How many of the claimed events ended in each status."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    more: bool = False  # stopped on its time budget with events still pending

    def add(self, status: str, n: int = 1) -> None:
        self.counts[status] += n

    def merge(self, other: ProcessResult) -> None:
        for status, n in other.counts.items():
            self.add(status, n)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def inbound_drain(*, batch: int | None = None, budget: float | None = None) -> ProcessResult:
    """Claim pending events oldest first, a batch at a time, and apply them until none is left or
    ``budget`` seconds are spent (then ``result.more`` is set and the caller queues another run).

    Running several at once is safe: claims are exclusive, and each run takes what the others left.
    """
    batch = batch or DRAIN_BATCH
    deadline = time.monotonic() + (DRAIN_BUDGET if budget is None else budget)
    result = ProcessResult()
    while True:
        parsed = deliveries_parse()
        claimed = _claim(Q(status=Status.PENDING), order_by=("pk",), limit=batch)
        if not claimed and not parsed:
            return result  # nothing pending, or other runs have it all
        result.merge(_process(claimed))
        if time.monotonic() >= deadline:
            result.more = True
            return result


def inbound_retry_due(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> ProcessResult:
    """Apply events that are due: failed ones past their backoff, abandoned claims, lost messages.

    A claim abandoned by a dead worker counts as an attempt; past MAX_ATTEMPTS the event is dead.
    """
    now = now or timezone.now()
    while deliveries_parse():  # deliveries whose kick was lost (broker down) become events first
        pass
    due = (
        Q(status=Status.FAILED, next_attempt_at__lte=now)
        | Q(status=Status.PROCESSING, next_attempt_at__lt=now)
        | Q(status=Status.PENDING, created_at__lt=now - PENDING_GRACE)
    )
    _bury_abandoned(now)
    return _process(_claim(due, order_by=("next_attempt_at", "pk"), limit=limit))


def _bury_abandoned(now: datetime) -> None:
    InboundEvent.objects.filter(
        status=Status.PROCESSING, next_attempt_at__lt=now, attempts__gte=InboundEvent.MAX_ATTEMPTS
    ).update(status=Status.DEAD, next_attempt_at=None, error="processing never finished (worker lost)")


def _claim(condition: Q, *, order_by: tuple[str, ...], limit: int) -> list[InboundEvent]:
    """Take up to ``limit`` events matching ``condition``, counting an attempt and starting the lease."""
    claimed = rows_claim(
        InboundEvent,
        where=condition,
        order_by=order_by,
        limit=limit,
        values={
            "status": Status.PROCESSING,
            "attempts": F("attempts") + 1,
            "next_attempt_at": timezone.now() + CLAIM_LEASE,
        },
    )
    return list(
        InboundEvent.objects.filter(pk__in=claimed).select_related(
            "integration__template", "integration__subaccount"
        )
    )


def _process(events: list[InboundEvent]) -> ProcessResult:
    result = ProcessResult()
    groups: dict[tuple[int, str], list[InboundEvent]] = defaultdict(list)
    for event in events:
        groups[(event.integration_id, event.entity)].append(event)
    for (_, entity), group in groups.items():
        # Provider times are often whole seconds: equal ones go in arrival order (``created_at`` is
        # the delivery's arrival plus the event's place in it), not by id (the worker inserts a
        # batch's events in event-id order, see ``inbound.insert.events_insert``).
        group.sort(key=lambda e: (e.occurred_at or e.created_at, e.created_at, e.pk))
        _apply_group(group[0].integration, entity, group, result)
    return result


@log_context_kept
def _apply_group(
    integration: Integration, entity: str, events: list[InboundEvent], result: ProcessResult
) -> None:
    log_bind(**integration_log_ids(integration), **_event_log_ids(events))
    if _is_flow_entity(integration, entity):
        _apply_flow_group(integration, events, result)
        return
    skip = _not_synced(integration, entity)
    if skip:
        _finish(events, Status.IGNORED, skip, result)
        return
    try:
        outcome = apply_webhook_events(integration=integration, events=[_webhook_event(e) for e in events])
    except TransientError as exc:
        _fail(events, str(exc), retry_after=exc.retry_after, result=result)
        return
    except ConnectorError as exc:
        # The provider refused for good (revoked token, bad config): retrying cannot help. The
        # operator fixes the cause, then replays from the admin.
        _finish(events, Status.DEAD, str(exc), result)
        return
    errors = {ref: f"{message} ({code})" for ref, message, code in outcome.errors}
    links = {
        link.remote_id: link
        for link in EntityLink.objects.filter(
            integration=integration, entity=entity, remote_id__in={e.remote_id for e in events}
        )
    }
    by_status: dict[tuple[str, str], list[InboundEvent]] = defaultdict(list)
    for event in events:
        by_status[_classify(event, errors, links)].append(event)
    for (status, note), group in by_status.items():
        _finish(group, status, note, result)
    logger.info(
        "inbound events applied",
        extra={"entity": entity, **{status: len(group) for (status, _), group in by_status.items()}},
    )


def _event_log_ids(events: list[InboundEvent]) -> dict:
    """One event's id, or a group's first ids and its size (a drain applies up to a batch at once)."""
    if len(events) == 1:
        return {"event_id": events[0].pk}
    return {"event_ids": [e.pk for e in events[:20]], "events": len(events)}


def _is_flow_entity(integration: Integration, entity: str) -> bool:
    """Whether the connector's webhooks carry ``entity`` for a flow (MissionX portals), not the merge."""
    try:
        return entity in connector_class(integration.template.connector).event_entities
    except UnknownConnector:
        return False


def _apply_flow_group(integration: Integration, events: list[InboundEvent], result: ProcessResult) -> None:
    if integration.status not in _LIVE:
        _finish(events, Status.IGNORED, f"ignored: the integration is {integration.status}", result)
        return
    outcomes = flow_events_apply(integration, [_webhook_event(e) for e in events])
    by_status: dict[tuple[str, str], list[InboundEvent]] = defaultdict(list)
    for event in events:
        outcome, note = outcomes.get(event.event_id, ("ignored", "ignored: not applicable"))
        by_status[(Status.PROCESSED if outcome == "processed" else Status.IGNORED, note)].append(event)
    for (status, note), group in by_status.items():
        _finish(group, status, note, result)


def _not_synced(integration: Integration, entity: str) -> str:
    """Why events for this integration and entity are not applied at all ("" when they are)."""
    if integration.status not in _LIVE:
        return f"ignored: the integration is {integration.status}; its next sync catches up"
    if integration.direction not in INBOUND_DIRECTIONS:
        return "ignored: the integration does not sync inbound"
    try:
        supported = connector_class(integration.template.connector).supports(entity)
    except UnknownConnector:
        supported = False
    return "" if supported else f"ignored: {entity or 'this'} records are not synced"


def _classify(event: InboundEvent, errors: dict[str, str], links: dict[str, EntityLink]) -> tuple[str, str]:
    """The event's final status after its group was applied, and a note for the operator."""
    if event.remote_id in errors:
        return Status.DEAD, errors[event.remote_id]
    link = links.get(event.remote_id)
    if link is None:
        return Status.IGNORED, "ignored: no linked record (not synced, or gone at the provider)"
    record = event.payload.get("record")
    modified = parse_datetime(record["modified_at"]) if record and record.get("modified_at") else None
    if modified and link.remote_modified_at and modified < link.remote_modified_at:
        return Status.IGNORED, "ignored: stale, a newer state was already applied"
    return Status.PROCESSED, ""


def _finish(events: list[InboundEvent], status: str, note: str, result: ProcessResult) -> None:
    # Only rows still ours: an event replayed meanwhile (back to pending) is left to the replay.
    done = InboundEvent.objects.filter(pk__in=[e.pk for e in events], status=Status.PROCESSING).update(
        status=status, error=note[:_ERROR_MAX], next_attempt_at=None, processed_at=timezone.now()
    )
    result.add(status, done)


def _fail(
    events: list[InboundEvent], message: str, *, retry_after: float | None, result: ProcessResult
) -> None:
    now = timezone.now()
    for event in events:
        attempt = event.attempts  # already counted when claimed
        if attempt >= InboundEvent.MAX_ATTEMPTS:
            _finish([event], Status.DEAD, f"retries exhausted: {message}", result)
            continue
        wait = max(BACKOFF[min(attempt, len(BACKOFF)) - 1], timedelta(seconds=retry_after or 0))
        updated = InboundEvent.objects.filter(pk=event.pk, status=Status.PROCESSING).update(
            status=Status.FAILED, error=message[:_ERROR_MAX], next_attempt_at=now + wait
        )
        result.add(Status.FAILED, updated)
    logger.warning(
        "inbound events failed, will retry",
        extra={"integration_id": events[0].integration_id, "events": len(events)},
    )


def _webhook_event(event: InboundEvent) -> WebhookEvent:
    return WebhookEvent(
        event_id=event.event_id,
        entity=event.entity,
        remote_id=event.remote_id,
        action=event.action,
        occurred_at=event.occurred_at,
        record=record_from_dict(event.payload.get("record")),
        raw=event.payload.get("raw") or {},
    )


def record_from_dict(data: dict | None) -> RemoteRecord | None:
    """The RemoteRecord ``inbound.events.record_to_dict`` stored, or None for id-only events."""
    if not data:
        return None
    return RemoteRecord(
        id=str(data["id"]),
        modified_at=parse_datetime(data["modified_at"]) if data.get("modified_at") else None,
        fields=data.get("fields") or {},
        deleted=bool(data.get("deleted")),
        remote_type=str(data.get("remote_type") or ""),
        relations={name: tuple(str(i) for i in ids) for name, ids in (data.get("relations") or {}).items()},
        replaced_by=str(data.get("replaced_by") or ""),
    )
