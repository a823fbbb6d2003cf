"""The outbound event catalogue, the versioned payload envelope, and ``event_emit``.

Every event is one Message (the envelope below, documented in docs/webhooks.md) and one Delivery
per enabled endpoint subscribed to its type. Deliveries are enqueued only after the transaction
that created them commits, so a worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from integrations.models import Integration, SubAccount
from sync.api.serializers import RECORD_SERIALIZERS
from sync.entities import ENTITIES
from webhooks.models import Delivery, Endpoint, Message

DELIVER_TASK = "webhooks.deliver"  # webhooks/outbound/tasks.py: deliver_task

# The payload format version; bump it (and document the change) when the envelope or data change shape.
PAYLOAD_VERSION = "2026-11-01"

# Every registered entity (sync.entities.ENTITIES): its changes are <entity>.created|updated|deleted.
RECORD_ENTITIES = tuple(ENTITIES)
RECORD_ACTIONS = {"create": "created", "update": "updated", "delete": "deleted"}

EVENT_TYPES: dict[str, str] = {
    **{
        f"{entity}.{action}": f"A {entity} was {action}"
        for entity in RECORD_ENTITIES
        for action in RECORD_ACTIONS.values()
    },
    "sync.completed": "A sync run finished (succeeded, or partial with per-record errors)",
    "sync.failed": "A sync run failed",
    "conflict.detected": "A field changed on both sides and needs a manual decision",
    "integration.status_changed": "An integration changed status (active, paused, error, ...)",
    "endpoint.disabled": "One of your other endpoints was disabled after failing",
    "endpoint.test": "A test event, sent on request to one endpoint only",
}


class UnknownEventType(ValueError):
    pass


def event_type_for_change(entity: str, op: str) -> str:
    """``contact`` + ``create`` → ``contact.created``."""
    return f"{entity}.{RECORD_ACTIONS[op]}"


def filter_errors(patterns: Iterable[Any]) -> list[str]:
    """Why each bad entry of an endpoint's event filter is bad (empty: the filter is valid).

    An entry is a catalogue type (``contact.created``) or a family wildcard (``contact.*``).
    """
    families = {name.split(".", 1)[0] for name in EVENT_TYPES}
    errors = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            errors.append(f"{pattern!r} is not a string")
        elif pattern.endswith(".*"):
            if pattern[:-2] not in families:
                errors.append(f"{pattern!r}: no event family {pattern[:-2]!r}")
        elif pattern not in EVENT_TYPES:
            errors.append(f"{pattern!r} is not an event type")
    return errors


def subscribed(patterns: Iterable[str], event_type: str) -> bool:
    """Whether an endpoint with this filter gets ``event_type`` (an empty filter gets everything)."""
    patterns = list(patterns)
    if not patterns:
        return True
    family = event_type.split(".", 1)[0]
    return any(p == event_type or p == f"{family}.*" for p in patterns)


def new_msg_id() -> str:
    """A unique ``msg_...`` id: the webhook-id header and the payload's ``id``, stable across retries."""
    return "msg_" + secrets.token_urlsafe(18)


def envelope(
    *, msg_id: str, event_type: str, subaccount: SubAccount, data: Mapping[str, Any], created_at: datetime
) -> dict[str, Any]:
    """The versioned payload every event shares (docs/webhooks.md)."""
    return {
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "id": msg_id,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "subaccount": subaccount.slug,
        "data": dict(data),
    }


# --- data builders: what ``data`` holds for each family -------------------------------------------


def record_data(
    *, entity: str, record_id: int, op: str, fields: list[str], origin: str, change_seq: int | None, record
) -> dict[str, Any]:
    """``data`` of ``<entity>.created|updated|deleted``: the record as the REST API shows it."""
    return {
        "entity": entity,
        "id": record_id,
        "op": op,
        "changed_fields": list(fields),
        "origin": origin,
        "change_seq": change_seq,
        "record": RECORD_SERIALIZERS[entity](record).data if record is not None else None,
    }


def sync_run_data(run) -> dict[str, Any]:
    """``data`` of ``sync.completed`` / ``sync.failed``."""
    return {
        "sync_run": {
            "id": run.pk,
            "integration_id": run.integration_id,
            "kind": run.kind,
            "status": run.status,
            "entities": list(run.entities or []),
            "counts": {
                name: getattr(run, name)
                for name in ("processed", "created", "updated", "unchanged", "deleted", "pushed")
            }
            | {"conflicts": run.conflicts, "failed": run.failed},
            "error": run.error,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
        }
    }


def conflict_data(conflict) -> dict[str, Any]:
    """``data`` of ``conflict.detected``."""
    return {
        "conflict": {
            "id": conflict.pk,
            "integration_id": conflict.integration_id,
            "entity": conflict.entity,
            "record_id": conflict.local_id,
            "remote_id": conflict.remote_id,
            "field": conflict.field,
            "local_value": conflict.local_value,
            "remote_value": conflict.remote_value,
            "base_value": conflict.base_value,
        }
    }


def integration_status_data(*, integration: Integration, old: str, new: str, reason: str = "") -> dict:
    """``data`` of ``integration.status_changed`` (never the config or tokens)."""
    return {
        "integration": {"id": integration.pk, "name": integration.name, "template": integration.template.key},
        "old_status": old,
        "new_status": new,
        "reason": reason,
    }


def endpoint_disabled_data(endpoint: Endpoint) -> dict[str, Any]:
    """``data`` of ``endpoint.disabled`` (the URL without its query string, which may hold a token)."""
    return {
        "endpoint": {
            "id": endpoint.pk,
            "url": endpoint.url.split("?", 1)[0],
            "disabled_reason": endpoint.disabled_reason,
            "disabled_at": _iso(endpoint.disabled_at),
        }
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- emitting -----------------------------------------------------------------------------------


def subscribers(*, subaccount_id: int, event_type: str) -> list[Endpoint]:
    """The sub-account's enabled endpoints whose filter takes ``event_type``."""
    endpoints = Endpoint.objects.filter(subaccount_id=subaccount_id, enabled=True).order_by("id")
    return [e for e in endpoints if subscribed(e.event_types, event_type)]


def event_emit(
    *, subaccount: SubAccount, event_type: str, data: Mapping[str, Any], ordering_key: str = ""
) -> Message | None:
    """Store ``event_type`` for every subscribed enabled endpoint and send it after commit.

    Returns the Message, or None when no endpoint wants this type (nothing is stored then).
    """
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(f"{event_type!r} is not in webhooks.outbound.events.EVENT_TYPES")
    endpoints = subscribers(subaccount_id=subaccount.pk, event_type=event_type)
    if not endpoints:
        return None
    return message_create(
        subaccount=subaccount,
        event_type=event_type,
        data=data,
        endpoints=endpoints,
        ordering_key=ordering_key,
    )


def message_create(
    *,
    subaccount: SubAccount,
    event_type: str,
    data: Mapping[str, Any],
    endpoints: Iterable[Endpoint],
    ordering_key: str = "",
    change_seq: int | None = None,
) -> Message:
    """One Message with one pending Delivery per endpoint, enqueued once the transaction commits."""
    msg_id, now = new_msg_id(), timezone.now()
    payload = envelope(msg_id=msg_id, event_type=event_type, subaccount=subaccount, data=data, created_at=now)
    with transaction.atomic():
        message = Message.objects.create(
            subaccount=subaccount,
            msg_id=msg_id,
            event_type=event_type,
            payload=payload,
            ordering_key=ordering_key,
            change_seq=change_seq,
        )
        deliveries = Delivery.objects.bulk_create(
            [Delivery(message=message, endpoint=e, next_attempt_at=now) for e in endpoints]
        )
        deliveries_enqueue_on_commit([d.pk for d in deliveries])
    return message


def deliveries_enqueue_on_commit(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    """Queue one ``webhooks.deliver`` task per delivery (``countdown`` seconds later, if given) once
    the current transaction commits."""
    # Looked up by name: the task module builds on this one (a delivery can emit an event, and every
    # event queues deliveries), so importing it here would close a circle.
    deliver_task = current_app.tasks[DELIVER_TASK]
    for delivery_id in delivery_ids:
        transaction.on_commit(partial(deliver_task.apply_async, (delivery_id,), countdown=countdown))


# --- convenience emitters for the rest of the platform ------------------------------------------


def sync_run_finished_emit(*, run) -> Message | None:
    """``sync.completed`` (succeeded / partial) or ``sync.failed`` for a finished run."""
    event_type = "sync.failed" if run.status == "failed" else "sync.completed"
    return event_emit(
        subaccount=run.subaccount,
        event_type=event_type,
        data=sync_run_data(run),
        ordering_key=f"sync:{run.integration_id}",
    )


def conflict_detected_emit(*, conflict) -> Message | None:
    return event_emit(
        subaccount=conflict.subaccount,
        event_type="conflict.detected",
        data=conflict_data(conflict),
        ordering_key=f"{conflict.entity}:{conflict.local_id}",
    )


def integration_status_changed_emit(
    *, integration: Integration, old: str, new: str, reason: str = ""
) -> Message | None:
    return event_emit(
        subaccount=integration.subaccount,
        event_type="integration.status_changed",
        data=integration_status_data(integration=integration, old=old, new=new, reason=reason),
        ordering_key=f"integration:{integration.pk}",
    )
