"""Settling conflicts: the user's choice is written locally and reaches the other side on the next run."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from sync.canonical import assign, local_values
from sync.engine import origin_of
from sync.entities import ENTITIES, EntityDef, entity_def
from sync.mapping import canonical_value
from sync.models import Conflict, EntityLink
from sync.normalize import normalise_reference, normalise_references
from sync.relations import canonical_ids
from sync.services import change_log_lock, change_record, relations_write


class ConflictClosed(ValueError):
    pass


def conflict_resolve(*, conflict: Conflict, choice: str, value: Any = None, actor: str) -> Conflict:
    """Apply "local", "remote" or "custom" to the record and close the conflict.

    local/custom: the record keeps/gets the value and a Change row makes the push phase send it.
    remote: the record takes the remote value; the link's base moves to it, so nothing is pushed
    back to this integration while other integrations still hear about the change.
    """
    if choice not in Conflict.Choice.values:
        raise ValueError(f"choice must be one of {', '.join(Conflict.Choice.values)}")
    with transaction.atomic():
        change_log_lock(subaccount_id=conflict.subaccount_id)
        conflict = Conflict.objects.select_for_update().get(pk=conflict.pk)
        if conflict.status != Conflict.Status.OPEN:
            raise ConflictClosed("this conflict is already resolved")
        model = entity_def(conflict.entity).model
        obj = model.objects.filter(pk=conflict.local_id, subaccount_id=conflict.subaccount_id).first()
        definition = entity_def(conflict.entity)
        chosen = {"local": conflict.local_value, "remote": conflict.remote_value}.get(
            choice, canonical_value(value)
        )
        if choice == "custom" and conflict.field in definition.relations:
            chosen = _relation_value(definition, conflict, value)
        if obj is not None:
            integration = conflict.integration
            origin = origin_of(integration) if choice == "remote" else f"conflict:{conflict.pk}"
            current = local_values(obj, [conflict.field])[conflict.field]
            if current != chosen or choice != "remote":
                assign(obj, {conflict.field: chosen})
                obj.version += 1
                obj.save()
                relations_write(definition, [obj])  # a deal's contacts live in their own table
                change_record(record=obj, op="update", fields=[conflict.field], origin=origin)
            # The remote value has now been considered: it becomes the base, so the next pull does
            # not raise the same conflict again, and a local/custom choice differs from it and is pushed.
            link = EntityLink.objects.filter(
                integration=integration, entity=conflict.entity, local_id=obj.pk
            ).first()
            if link is not None:
                link.base = {**link.base, conflict.field: conflict.remote_value}
                link.save(update_fields=["base", "last_synced_at"])
        conflict.status = Conflict.Status.RESOLVED
        conflict.resolution = choice
        conflict.resolved_value = chosen
        conflict.resolved_by = actor
        conflict.resolved_at = timezone.now()
        conflict.save()
    return conflict


def _relation_value(definition: EntityDef, conflict: Conflict, value: Any) -> Any:
    """A custom value for a relation: ids of live records of the conflict's sub-account only."""
    target = ENTITIES[definition.relations[conflict.field]].model
    many = conflict.field in definition.many
    try:
        ids = normalise_references(value) if many else [pk for pk in [normalise_reference(value)] if pk]
    except ValueError as exc:
        raise ValueError(f"{conflict.field}: {exc}") from None
    live = set(
        target.objects.filter(subaccount_id=conflict.subaccount_id, is_deleted=False, pk__in=ids).values_list(
            "pk", flat=True
        )
    )
    missing = [pk for pk in ids if pk not in live]
    if missing:
        raise ValueError(f"{conflict.field}: no record with id {missing[0]} in this sub-account")
    return canonical_ids(ids, many=many)


def conflict_sweep() -> int:
    """Close open conflicts that no longer stand: the record is gone, or both sides now agree."""
    closed = 0
    for conflict in Conflict.objects.filter(status=Conflict.Status.OPEN).select_related("integration")[:5000]:
        obj = entity_def(conflict.entity).model.objects.filter(pk=conflict.local_id).first()
        if obj is None or obj.is_deleted:
            reason = "record deleted"
        elif local_values(obj, [conflict.field])[conflict.field] == conflict.remote_value:
            reason = "sides agree"
        else:
            continue
        Conflict.objects.filter(pk=conflict.pk, status=Conflict.Status.OPEN).update(
            status=Conflict.Status.RESOLVED,
            resolution=Conflict.Choice.REMOTE,
            resolved_by=f"system:{reason}",
            resolved_at=timezone.now(),
            resolved_value=conflict.remote_value,
        )
        closed += 1
    return closed
