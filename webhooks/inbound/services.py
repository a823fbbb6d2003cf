"""Inbound provider webhooks: store what arrived, de-duplicated, and hand it to a worker after commit.

The receiver (``inbound.views``) verifies first; these services never see an unverified event.
``inbound_delivery_reject`` keeps a row for each refused delivery (counted and shown in the admin);
``inbound_events_store`` keeps the delivery and one ``InboundEvent`` per new provider event id
(a repeat is acknowledged and dropped) in one statement (``inbound.insert``) and kicks a debounced
drain run once they are committed; ``inbound_events_replay`` puts chosen events back in the queue.
Processing is ``inbound.processing``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from connectors.base import RemoteRecord, WebhookEvent, WebhookRequest
from integrations.kick import kick
from integrations.models import Integration
from webhooks.inbound.insert import inbound_insert
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundDelivery, InboundEvent

logger = logging.getLogger(__name__)

# Headers that can carry credentials are never stored: signatures, auth, tokens, keys, cookies.
_SECRET_HEADER = re.compile(r"signature|auth|token|secret|key|cookie|password|session|verify", re.I)
_EVENT_ID_MAX = InboundEvent._meta.get_field("event_id").max_length
_REASON_MAX = InboundDelivery._meta.get_field("reason").max_length
KICK_KEY = "webhooks:inbound"
KICK_WINDOW = 0.25  # seconds: events arriving within it are processed by one drain run


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers minus any that could carry a credential (stored and shown in the admin)."""
    return {name: str(value)[:500] for name, value in headers.items() if not _SECRET_HEADER.search(name)}


def _delivery(
    *, integration: Integration, provider: str, request: WebhookRequest, **fields: Any
) -> InboundDelivery:
    # The raw body is kept encrypted (the field), because some providers put credentials in it.
    return InboundDelivery(
        subaccount_id=integration.subaccount_id,
        integration=integration,
        provider=provider,
        method=request.method.upper()[:10],
        headers=safe_headers(request.headers),
        body=request.body.decode("utf-8", "replace"),
        remote_addr=request.remote_addr or None,
        **fields,
    )


def inbound_delivery_reject(
    *,
    integration: Integration,
    provider: str,
    request: WebhookRequest,
    outcome: str,
    reason: str,
    verified: bool = False,
) -> InboundDelivery:
    """Record a refused delivery (bad signature, throttled, forbidden address, malformed): nothing is processed.

    ``verified``: the signature was good but the body could not be read (malformed).
    """
    delivery = _delivery(
        integration=integration,
        provider=provider,
        request=request,
        outcome=outcome,
        reason=reason[:_REASON_MAX],
        verified=verified,
    )
    delivery.save()
    logger.warning(
        "inbound webhook refused",
        extra={"integration_id": integration.pk, "provider": provider, "outcome": outcome},
    )
    return delivery


def inbound_challenge_record(
    *, integration: Integration, provider: str, request: WebhookRequest, accepted: bool
) -> InboundDelivery:
    """Record a subscription handshake (GET hub.challenge), answered or refused."""
    outcome = InboundDelivery.Outcome.ACCEPTED if accepted else InboundDelivery.Outcome.REJECTED
    reason = "" if accepted else "subscription handshake refused"
    if not accepted:
        return inbound_delivery_reject(
            integration=integration, provider=provider, request=request, outcome=outcome, reason=reason
        )
    delivery = _delivery(
        integration=integration, provider=provider, request=request, outcome=outcome, verified=True
    )
    delivery.save()
    return delivery


def inbound_events_store(
    *, integration: Integration, provider: str, request: WebhookRequest, events: list[WebhookEvent]
) -> InboundDelivery:
    """Store a verified delivery and its new events, then kick processing (``inbound_kick``).

    Events whose provider id this integration has already stored (or that repeat within the
    delivery) are dropped and counted in ``delivery.duplicates``. Safe against concurrent repeats:
    the unique constraint decides, and only rows actually inserted are processed.
    """
    unique: dict[str, WebhookEvent] = {}
    for event in events:
        unique.setdefault(event_key(provider, event), event)
    delivery = _delivery(
        integration=integration,
        provider=provider,
        request=request,
        outcome=InboundDelivery.Outcome.ACCEPTED,
        verified=True,
        events=len(events),
    )
    rows = [_event_row(delivery, event_id, event) for event_id, event in unique.items()]
    stored = inbound_insert(delivery, rows)
    delivery.duplicates = len(events) - stored
    if delivery.duplicates:
        InboundDelivery.objects.filter(pk=delivery.pk).update(duplicates=delivery.duplicates)
    if stored:
        transaction.on_commit(inbound_kick)
    return delivery


def event_key(provider: str, event: WebhookEvent) -> str:
    """The id events are de-duplicated on: the provider's, else a digest of what the event says."""
    if event.event_id and len(event.event_id) <= _EVENT_ID_MAX:
        return event.event_id
    material = json.dumps(
        [provider, event.event_id, event.entity, event.remote_id, event.action, _jsonable(event.raw)],
        sort_keys=True,
        cls=DjangoJSONEncoder,
    )
    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()


def _event_row(delivery: InboundDelivery, event_id: str, event: WebhookEvent) -> InboundEvent:
    return InboundEvent(
        subaccount_id=delivery.subaccount_id,
        integration_id=delivery.integration_id,
        delivery=delivery,
        provider=delivery.provider,
        event_id=event_id,
        event_type=f"{event.entity}.{event.action}"[:100],
        entity=event.entity[:20],
        remote_id=event.remote_id[:120],
        action=event.action[:20],
        occurred_at=event.occurred_at,
        payload={"raw": _jsonable(event.raw), "record": record_to_dict(event.record)},
    )


def _jsonable(value: Any) -> Any:
    """Provider data as JSON (dates as ISO strings), as the JSONField will store it."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder)) if value else {}


def record_to_dict(record: RemoteRecord | None) -> dict[str, Any] | None:
    """A RemoteRecord as JSON; ``record_from_dict`` reads it back for processing."""
    if record is None:
        return None
    return {
        "id": record.id,
        "modified_at": record.modified_at.isoformat() if record.modified_at else None,
        "fields": _jsonable(dict(record.fields)),
        "deleted": record.deleted,
        "remote_type": record.remote_type,
        # A key present means "read" (even empty): absent and () differ to the engine.
        "relations": {name: list(ids) for name, ids in record.relations.items()},
        "replaced_by": record.replaced_by,
    }


def inbound_kick() -> None:
    """Have pending events processed within KICK_WINDOW; call once they are committed.

    Debounced across processes (``integrations.kick``): under load, one drain run per window takes every
    event that arrived in it. If the broker is down nothing is lost: the events stay pending and
    ``inbound_retry_due`` picks them up from the database.
    """
    kick(inbound_drain_task, key=KICK_KEY, window=KICK_WINDOW)


def inbound_events_replay(*, event_ids: Iterable[int]) -> int:
    """Put events back in the queue whatever their status, with a fresh retry budget; returns how many.

    Callers scope ``event_ids`` to what the user may see (the admin passes its scoped queryset's ids).
    """
    ids = list(event_ids)
    with transaction.atomic():
        replayed = InboundEvent.objects.filter(pk__in=ids).update(
            status=InboundEvent.Status.PENDING, attempts=0, next_attempt_at=None, error="", processed_at=None
        )
        if replayed:
            transaction.on_commit(inbound_kick)
    return replayed
