"""Inbound provider webhooks: store what arrived, and hand it to a worker after commit.

The receiver (``inbound.views``) verifies first; these services never see an unverified delivery.
``inbound_delivery_reject`` keeps a row for each refused delivery (counted and shown in the admin);
``inbound_delivery_accept`` keeps a verified delivery as received, in one INSERT of a narrow receipt
(``inbound.insert``), and kicks a debounced drain run once it is committed: the worker files it as
a delivery, reads that into de-duplicated events (``inbound.parsing``) and applies them
(``inbound.processing``). ``inbound_events_replay`` puts chosen events back in the queue,
``inbound_deliveries_reparse`` chosen failed deliveries.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from connectors.base import WebhookRequest
from integrations.kick import kick
from integrations.models import Integration
from webhooks.inbound.insert import receipt_insert, stored_body
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundDelivery, InboundEvent

logger = logging.getLogger(__name__)

# Headers that can carry credentials are never stored: signatures, auth, tokens, keys, cookies.
_SECRET_HEADER = re.compile(r"signature|auth|token|secret|key|cookie|password|session|verify", re.I)
_REASON_MAX = InboundDelivery._meta.get_field("reason").max_length
KICK_KEY = "webhooks:inbound"
KICK_WINDOW = 0.25  # seconds: events arriving within it are processed by one drain run


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers minus any that could carry a credential (stored and shown in the admin)."""
    return {name: str(value)[:500] for name, value in headers.items() if _header_kept(name)}


@functools.lru_cache(maxsize=1024)
def _header_kept(name: str) -> bool:
    """Decided once per header name (the receiver sees the same few names on every request)."""
    return not _SECRET_HEADER.search(name)


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
        body=stored_body(request.body),
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


def inbound_delivery_accept(*, integration: Integration, request: WebhookRequest) -> int:
    """Store a verified delivery as received (durable once this returns in autocommit) and kick
    processing after commit; returns its receipt's id. Filing it as a delivery, parsing,
    de-duplication and events are the worker's."""
    receipt_id = receipt_insert(
        integration_id=integration.pk,
        headers=safe_headers(request.headers),
        body=stored_body(request.body),
        remote_addr=request.remote_addr or "",
    )
    transaction.on_commit(inbound_kick)
    return receipt_id


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


def inbound_deliveries_reparse(*, delivery_ids: Iterable[int]) -> int:
    """Have chosen failed deliveries read again (after a connector fix); returns how many.

    Callers scope ``delivery_ids`` as for ``inbound_events_replay``. Events already stored from a
    delivery are not stored twice: the worker's insert de-duplicates them.
    """
    ids = list(delivery_ids)
    with transaction.atomic():
        queued = InboundDelivery.objects.filter(
            pk__in=ids, parse_status=InboundDelivery.ParseStatus.FAILED
        ).update(parse_status=InboundDelivery.ParseStatus.PENDING, reason="")
        if queued:
            transaction.on_commit(inbound_kick)
    return queued
