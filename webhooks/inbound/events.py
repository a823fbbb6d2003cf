"""A provider event as the row it is stored in: its de-duplication key and its JSON payload.

Used by the worker that reads acknowledged deliveries (``inbound.parsing``); ``record_to_dict`` is
read back by ``inbound.processing.record_from_dict``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from connectors.base import RemoteRecord, WebhookEvent
from webhooks.models import InboundDelivery, InboundEvent

_EVENT_ID_MAX = InboundEvent._meta.get_field("event_id").max_length


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


def event_row(delivery: InboundDelivery, event_id: str, event: WebhookEvent) -> InboundEvent:
    """The (unsaved) row for one event of ``delivery``."""
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
