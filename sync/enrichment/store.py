"""Writing enrichment columns: only what changed, one Change per changed record, in bulk.

Enrichment fields are never written by the API or a sync, only here, with the origin naming who
wrote them (``enrichment``): a write that changes nothing writes nothing, so re-enriching
unchanged input makes no Change, no push and no outbound webhook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
            for name in names:
                setattr(record, name, values[name])
            if names:
                changed.append((record, names))
        changed_rows_write(changed, origin=origin)
    return [record for record, _ in changed]


def changed_rows_write(
    changed: Sequence[tuple[Record, list[str]]], *, origin: str, also: Iterable[str] = ()
) -> None:
    """Write records whose enrichment columns the caller has set: bump each one's version, write
    the changed columns (plus ``also``: set on every record but named in no Change, as
    ``scored_at``) and one Change per record naming its own changed columns. Call it inside the
    transaction holding the sub-account's ``change_log_lock``."""
    if not changed:
        return
    now = timezone.now()
    for record, _ in changed:
        record.version += 1
        record.updated_at = now
    records_write(
        entity_for(changed[0][0]),
        created=[],
        updated=[record for record, _ in changed],
        columns=sorted({name for _, names in changed for name in names} | set(also)),
        changes=[(record, Change.Op.UPDATE, names) for record, names in changed],
        origin=origin,
    )
