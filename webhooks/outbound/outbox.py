"""Turn the Change log into ``<entity>.created|updated|deleted`` messages, exactly once per Change.

Each sub-account has its own cursor (OutboxCursor ``changes:<subaccount id>``): ``change_log_lock``
makes one tenant's Change rows become visible in seq order, but two tenants' rows can commit out
of order, so a single global cursor could step over a seq that commits late and lose it for ever.
The cursor moves in the transaction that creates the messages, under a row lock, so a crash or a
second pump never makes two messages for one Change row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from celery import current_app
from django.db import transaction
from django.db.models import CharField, Max, OuterRef, Value
from django.db.models.functions import Cast, Concat

from integrations.kick import kick
from integrations.models import SubAccount
from sync.entities import ENTITIES
from sync.models import Change
from sync.selectors import subaccounts_with_changes_after
from webhooks.models import Delivery, Endpoint, Message, OutboxCursor
from webhooks.outbound.events import (
    RECORD_ACTIONS,
    deliveries_enqueue_on_commit,
    envelope,
    event_type_for_change,
    new_msg_id,
    record_data,
    subscribed,
)

logger = logging.getLogger(__name__)

CURSOR_PREFIX = "changes:"
PUMP_BATCH = 500
KICK_KEY = "webhooks:outbox"
PUMP_TASK = "webhooks.outbox_pump"  # webhooks/outbound/tasks.py: outbox_pump_task
KICK_WINDOW = 0.5  # seconds: kicks within this window share one pump run


@dataclass(frozen=True)
class PumpResult:
    changes: int  # Change rows consumed (the cursors moved past them)
    messages: int  # messages created
    behind: bool = False  # some sub-account had more than ``limit`` new rows: run again


def cursor_name(subaccount_id: int) -> str:
    return f"{CURSOR_PREFIX}{subaccount_id}"


def outbox_pump(*, limit: int = PUMP_BATCH) -> PumpResult:
    """Consume up to ``limit`` Change rows per sub-account with news; repeatable and idempotent."""
    changes = messages = 0
    behind = False
    for subaccount_id in _subaccounts_with_news():
        result = _pump_subaccount(subaccount_id, limit=limit)
        changes += result.changes
        messages += result.messages
        behind = behind or result.behind
    return PumpResult(changes=changes, messages=messages, behind=behind)


def outbox_kick() -> None:
    """Ask for a pump run once the current transaction commits (call it after writing Changes).

    Debounced (``integrations.kick``): the first kick in a KICK_WINDOW queues the pump KICK_WINDOW
    seconds later, so every Change committed during the window (whose kicks were swallowed) is in
    that run.
    """
    transaction.on_commit(_kick_now)


def _kick_now() -> None:
    # Looked up by name: the task module runs outbox_pump from this one.
    kick(current_app.tasks[PUMP_TASK], key=KICK_KEY, window=KICK_WINDOW)


def _subaccounts_with_news() -> list[int]:
    """Sub-accounts with a Change after their cursor, in one query."""
    return subaccounts_with_changes_after(
        OutboxCursor.objects.filter(
            name=Concat(Value(CURSOR_PREFIX), Cast(OuterRef("pk"), CharField()))
        ).values("position")[:1]
    )


def _pump_subaccount(subaccount_id: int, *, limit: int) -> PumpResult:
    name = cursor_name(subaccount_id)
    OutboxCursor.objects.get_or_create(name=name)
    with transaction.atomic():
        # The lock makes a concurrent pump wait here, then read the moved position.
        cursor = OutboxCursor.objects.select_for_update().get(name=name)
        endpoints = list(Endpoint.objects.filter(subaccount_id=subaccount_id, enabled=True).order_by("id"))
        pending = Change.objects.filter(subaccount_id=subaccount_id, seq__gt=cursor.position)
        if not endpoints:
            # Nobody listens: skip ahead. Later seqs of this tenant commit after this one (see above).
            last = pending.aggregate(last=Max("seq"))["last"]
            count = pending.count() if last else 0
            _advance(cursor, last)
            return PumpResult(changes=count, messages=0)
        changes = list(pending.order_by("seq")[:limit])
        created = _messages_for(subaccount_id, changes, endpoints)
        _advance(cursor, changes[-1].seq if changes else None)
    if created:
        logger.info("outbox pumped", extra={"subaccount_id": subaccount_id, "messages": created})
    return PumpResult(changes=len(changes), messages=created, behind=len(changes) >= limit)


def _advance(cursor: OutboxCursor, seq: int | None) -> None:
    if seq is not None and seq > cursor.position:
        cursor.position = seq
        cursor.save(update_fields=["position", "updated_at"])


def _messages_for(subaccount_id: int, changes: list[Change], endpoints: list[Endpoint]) -> int:
    """Bulk-create one message (and its deliveries) per Change some endpoint wants."""
    if not changes:
        return 0
    subaccount = SubAccount.objects.get(pk=subaccount_id)
    # Belt and braces: a Change that already has a message (e.g. a restored cursor) gets no second one.
    done = set(
        Message.objects.filter(
            subaccount_id=subaccount_id, change_seq__in=[c.seq for c in changes]
        ).values_list("change_seq", flat=True)
    )
    plan: list[tuple[Change, list[Endpoint]]] = []
    for change in changes:
        if change.seq in done or change.entity not in ENTITIES or change.op not in RECORD_ACTIONS:
            continue
        event_type = event_type_for_change(change.entity, change.op)
        # An endpoint hears about changes made after it was created, never older history.
        targets = [
            e
            for e in endpoints
            if e.created_at <= change.created_at and subscribed(e.event_types, event_type)
        ]
        if targets:
            plan.append((change, targets))
    if not plan:
        return 0
    records = _records(subaccount_id, [change for change, _ in plan])
    messages = []
    for change, _ in plan:
        msg_id = new_msg_id()
        data = record_data(
            entity=change.entity,
            record_id=change.record_id,
            op=change.op,
            fields=change.fields,
            origin=change.origin,
            change_seq=change.seq,
            record=records[change.entity].get(change.record_id),
        )
        event_type = event_type_for_change(change.entity, change.op)
        messages.append(
            Message(
                subaccount_id=subaccount_id,
                msg_id=msg_id,
                event_type=event_type,
                payload=envelope(
                    msg_id=msg_id,
                    event_type=event_type,
                    subaccount=subaccount,
                    data=data,
                    created_at=change.created_at,
                ),
                ordering_key=f"{change.entity}:{change.record_id}",
                change_seq=change.seq,
            )
        )
    messages = Message.objects.bulk_create(messages)
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(message=message, endpoint=endpoint, next_attempt_at=message.created_at)
            for message, (_, targets) in zip(messages, plan, strict=True)
            for endpoint in targets
        ]
    )
    deliveries_enqueue_on_commit([d.pk for d in deliveries])
    return len(messages)


def _records(subaccount_id: int, changes: list[Change]) -> dict[str, dict[int, object]]:
    """The records the changes point at, one query per entity (deleted rows are None)."""
    ids: dict[str, set[int]] = defaultdict(set)
    for change in changes:
        ids[change.entity].add(change.record_id)
    found: dict[str, dict[int, object]] = defaultdict(dict)
    for entity, pks in ids.items():
        model = ENTITIES[entity].model
        found[entity] = model.objects.filter(subaccount_id=subaccount_id, pk__in=pks).in_bulk()
    return found
