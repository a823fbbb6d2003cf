"""Pulled relations waiting for their target: stored per record, applied when the target is linked.

A deal can arrive before its company (another page, a webhook, a company outside the last delta).
Its ``company_id`` is then unknown, not empty: the engine leaves the local value alone, stores the
remote ids here (``pending_store``) and, as soon as a page links one of them
(``pending_resolve``), merges the relation into the record three-way, as if it had just been
pulled: a local change made meanwhile wins nothing silently (conflicts and strategies apply).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.utils import timezone

from connectors.base import RelationSpec, RemoteRecord
from integrations.models import Integration
from sync import hooks
from sync.canonical import assign, field_names, local_values
from sync.conflict_rows import conflict_rows
from sync.entities import ENTITIES
from sync.merge import FieldRule, merge
from sync.models import Conflict, EntityLink, PendingRelation
from sync.relations import Resolved, canonical_ids, local_ids, relations_preload
from sync.services import records_write

__all__ = ["pending_resolve", "pending_store"]


def pending_store(
    integration: Integration,
    entity: str,
    specs: Mapping[str, RelationSpec],
    records: Mapping[str, models.Model],
    newest: Mapping[str, RemoteRecord],
    resolved: Resolved,
) -> None:
    """Replace the pending relations of the page's records that carried relations: two statements.

    A record whose relations were read now says what it points at, so what was pending for it
    before is stale whatever it says now."""
    read = [obj.pk for rid, obj in records.items() if newest[rid].relations]
    if not read:
        return
    PendingRelation.objects.filter(integration=integration, entity=entity, local_id__in=read).delete()
    PendingRelation.objects.bulk_create(
        [
            PendingRelation(
                integration=integration,
                entity=entity,
                local_id=records[rid].pk,
                relation=name,
                target=specs[name].target,
                remote_ids=ids,
            )
            for rid, per_record in resolved.pending.items()
            if rid in records
            for name, ids in per_record.items()
        ],
        ignore_conflicts=True,
    )


def pending_resolve(
    integration: Integration, target: str, remote_ids: list[str], *, origin: str
) -> tuple[int, int]:
    """Apply the pending relations that point at these newly linked ``target`` records; returns
    (records updated, conflicts opened). Call it in the transaction that wrote the links."""
    wanted = set(remote_ids)
    waiting = [
        row
        for row in PendingRelation.objects.filter(integration=integration, target=target)
        if wanted.intersection(row.remote_ids)
    ]
    totals = {"updated": 0, "conflicts": 0}
    if not waiting:
        return 0, 0
    links = dict(
        EntityLink.objects.filter(
            integration=integration,
            entity=target,
            remote_id__in={i for row in waiting for i in row.remote_ids},
        ).values_list("remote_id", "local_id")
    )
    by_entity: dict[str, list[PendingRelation]] = {}
    for row in waiting:
        by_entity.setdefault(row.entity, []).append(row)
    for entity, rows in by_entity.items():
        _apply(integration, entity, rows, links, origin=origin, totals=totals)
    return totals["updated"], totals["conflicts"]


def _apply(
    integration: Integration,
    entity: str,
    rows: list[PendingRelation],
    links: dict[str, int],
    *,
    origin: str,
    totals: dict[str, int],
) -> None:
    definition = ENTITIES[entity]
    objs = definition.model.objects.filter(subaccount_id=integration.subaccount_id).in_bulk(
        [row.local_id for row in rows]
    )
    relations_preload(definition, list(objs.values()))
    record_links = {
        link.local_id: link
        for link in EntityLink.objects.filter(
            integration=integration, entity=entity, local_id__in=[row.local_id for row in rows]
        )
    }
    now = timezone.now()
    updated: dict[int, models.Model] = {}
    columns: set[str] = set()
    changes: list[tuple[models.Model, str, list[str]]] = []
    touched: list[EntityLink] = []
    conflicts: list[Conflict] = []
    done: list[int] = []
    for row in rows:
        obj, link = objs.get(row.local_id), record_links.get(row.local_id)
        if obj is None or link is None or obj.is_deleted:
            done.append(row.pk)  # nothing left to apply it to
            continue
        many = row.relation in definition.many
        found = [links[i] for i in row.remote_ids if i in links]
        missing = [i for i in row.remote_ids if i not in links]
        if missing and not many:
            continue  # still waiting (cannot happen for one id, kept for safety)
        base = link.base.get(row.relation)
        remote = (
            canonical_ids(local_ids(base) + found, many=True) if many else canonical_ids(found, many=False)
        )
        result = merge(
            rules=[FieldRule(row.relation, True, True)],
            base=link.base,
            local=local_values(obj, [row.relation]),
            remote={row.relation: remote},
            strategy=integration.conflict_strategy,
            local_is_newer=False,
        )
        conflicts += conflict_rows(
            result,
            integration=integration,
            entity=entity,
            local_id=obj.pk,
            remote_id=link.remote_id,
            strategy=integration.conflict_strategy,
            now=now,
        )
        totals["conflicts"] += len(result.conflicts)
        if result.to_local:
            assign(obj, result.to_local)
            if obj.pk not in updated:
                obj.version += 1
                obj.updated_at = now
                updated[obj.pk] = obj
            columns |= field_names(result.to_local)
            changes.append((obj, "update", sorted(result.to_local)))
            totals["updated"] += 1
        if result.new_base != link.base:
            link.base = result.new_base
            if link not in touched:
                touched.append(link)
        if missing:
            row.remote_ids = missing
            row.save(update_fields=["remote_ids"])
        else:
            done.append(row.pk)
    records_write(
        definition,
        created=[],
        updated=list(updated.values()),
        columns=columns,
        changes=changes,
        origin=origin,
    )
    if touched:
        EntityLink.objects.bulk_update(touched, ["base"])
    if conflicts:
        Conflict.objects.bulk_create(conflicts, ignore_conflicts=True)
        if any(row.status == Conflict.Status.OPEN for row in conflicts):
            opened = Conflict.objects.filter(
                integration=integration, entity=entity, status=Conflict.Status.OPEN, created_at__gte=now
            )
            hooks.conflicts_detected.send(sender=Conflict, conflicts=list(opened))
    PendingRelation.objects.filter(pk__in=done).delete()
