"""Settling conflicts: the user's choice is written locally and reaches the other side on the next
run, or at once when a person settles a record's conflicts (``record_conflicts_resolve``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from connectors.base import ConnectorError
from integrations.models import Integration
from integrations.services import connector_for
from sync.canonical import assign, local_values
from sync.engine import EntityContext, origin_of
from sync.entities import ENTITIES, EntityDef, entity_def
from sync.fields import connector_wants_mapped
from sync.mapping import canonical_value, remote_to_local
from sync.models import Conflict, EntityLink
from sync.normalize import normalise_reference, normalise_references
from sync.relations import canonical_ids
from sync.runs import SyncNotAllowed
from sync.services import change_log_lock, change_record, relations_write
from sync.single import EntityNotSynced, RecordNotFound, RecordSyncBusy, RecordSyncResult, record_sync_now
from sync.transforms import TransformError


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


@dataclass(frozen=True)
class FieldChoice:
    """A person's decision for one field: "local", "remote" or "custom" (with ``value``)."""

    choice: str
    value: Any = None


@dataclass
class RecordResolution:
    """What settling a record's conflicts did: the conflicts closed, and the sync of that record
    that carried the choices out at once (or why it could not run now: ``not_synced``)."""

    resolved: list[Conflict]
    sync: RecordSyncResult | None = None
    not_synced: str = ""


def record_conflicts_resolve(
    *, conflicts: Iterable[Conflict], choices: Mapping[str, FieldChoice], actor: str, sync_now: bool = True
) -> RecordResolution:
    """Settle one record's open conflicts field by field (``choices`` by field name; fields left
    out stay open), then sync that record with the integration at once, so the chosen values reach
    the provider now rather than on the next run.

    All or nothing: a custom value that does not fit, or a conflict someone closed meanwhile,
    raises (ValueError / ConflictClosed) and leaves every conflict open. The sync runs after the
    commit, as a ``manual`` run in the run log; when it cannot run now (a run holds the
    integration, it is paused, the provider fails) the values are kept and go with the next sync.
    """
    chosen = [c for c in conflicts if c.field in choices]
    if len({(c.integration_id, c.entity, c.local_id) for c in chosen}) > 1:
        raise ValueError("these conflicts belong to different records")
    with transaction.atomic():
        resolved = [
            conflict_resolve(
                conflict=conflict,
                choice=choices[conflict.field].choice,
                value=choices[conflict.field].value,
                actor=actor,
            )
            for conflict in chosen
        ]
    outcome = RecordResolution(resolved=resolved)
    if not resolved or not sync_now:
        return outcome
    first = resolved[0]
    try:
        outcome.sync = record_sync_now(
            integration=first.integration, entity=first.entity, local_id=first.local_id, actor=actor
        )
    except (RecordSyncBusy, SyncNotAllowed, RecordNotFound, EntityNotSynced, ConnectorError) as exc:
        outcome.not_synced = str(exc)
    return outcome


@dataclass
class RecordSides:
    """A record's values now, per field, here (``local``) and at the provider (``remote``, read
    from it through the integration's mappings; ``remote_error`` when it could not be read)."""

    local: dict[str, Any] = field(default_factory=dict)
    remote: dict[str, Any] = field(default_factory=dict)
    remote_error: str = ""


def record_sides(*, integration: Integration, entity: str, local_id: int, fields: list[str]) -> RecordSides:
    """Read one record on both sides, for the fields a person just settled: what each side holds
    after the resolution was carried out. Fields the mappings do not bring in stay out of ``remote``."""
    sides = RecordSides()
    obj = (
        entity_def(entity).model.objects.filter(pk=local_id, subaccount_id=integration.subaccount_id).first()
    )
    if obj is not None:
        sides.local = local_values(obj, fields)
    remote_id = (
        EntityLink.objects.filter(integration=integration, entity=entity, local_id=local_id)
        .values_list("remote_id", flat=True)
        .first()
    )
    if not remote_id:
        sides.remote_error = "not linked to a record at the provider"
        return sides
    ctx = EntityContext.build(integration, entity)
    connector = connector_for(integration)
    connector_wants_mapped(connector, integration)
    try:
        records = connector.get(entity, [remote_id])
        values = remote_to_local(ctx.maps, records[0].fields, region=ctx.region) if records else {}
    except (ConnectorError, TransformError) as exc:
        sides.remote_error = str(exc)
        return sides
    if not records:
        sides.remote_error = f"{remote_id} is not at the provider"
    sides.remote = {name: values[name] for name in fields if name in values}
    return sides


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
