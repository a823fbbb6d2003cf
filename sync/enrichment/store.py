"""Writing enrichment columns: only what changed, one Change per changed record, in bulk.

Enrichment fields are never written by the API or a sync, only here, with the origin naming who
wrote them (``enrichment``): a write that changes nothing writes nothing, so re-enriching
unchanged input makes no Change, no push and no outbound webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from sync.enrichment.types import Record
from sync.entities import entity_for
from sync.models import Change
from sync.services import change_log_lock, records_write


def enrichment_write(updates: Sequence[tuple[Record, Mapping[str, Any]]], *, origin: str) -> list[Record]:
    """Set each record's given enrichment columns; return the records that changed.

    ``updates`` hold one sub-account's records of one entity. Values equal to the stored ones are
    dropped first; records left with nothing to change are not written.
    """
    if not updates:
        return []
    definition = entity_for(updates[0][0])
    wanted = {record.pk: values for record, values in updates}
    now = timezone.now()
    with transaction.atomic():
        change_log_lock(subaccount_id=updates[0][0].subaccount_id)
        # Compare with the rows as they are now (a sync may have written them since they were read).
        fresh = definition.model.objects.select_for_update().in_bulk(list(wanted))
        changed: list[tuple[Record, list[str]]] = []
        for pk, values in wanted.items():
            record = fresh.get(pk)
            if record is None:
                continue
            names = [name for name, value in values.items() if getattr(record, name) != value]
            if not names:
                continue
            for name in names:
                setattr(record, name, values[name])
            record.version += 1
            record.updated_at = now
            changed.append((record, names))
        if not changed:
            return []
        records_write(
            definition,
            created=[],
            updated=[record for record, _ in changed],
            columns=sorted({name for _, names in changed for name in names}),
            changes=[(record, Change.Op.UPDATE, names) for record, names in changed],
            origin=origin,
        )
    return [record for record, _ in changed]
