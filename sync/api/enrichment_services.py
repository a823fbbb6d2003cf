"""What the enrichment API writes: the sub-account's automation settings and scoring profile, and the
seed's "sync one record" (upsert through ``sync.services``, then queue its enrichment job)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from integrations.audit import audit_record
from integrations.models import AUTOMATION_SETTINGS, Integration, SubAccount
from sync.api.enrichment_serializers import SEED_ALIASES
from sync.enrichment.actions import profile_for
from sync.enrichment.jobs import jobs_enqueue
from sync.entities import ENTITIES
from sync.models import EnrichmentJob, ScoringProfile
from sync.normalize import RecordInvalid, normalise_record
from sync.services import record_upsert

OPERATIONS = {"created": "create", "updated": "update", "unchanged": "unchanged"}


def seed_fields(entity: str, given: Mapping[str, Any], *, region: str) -> dict[str, Any]:
    """Canonical fields from a body that may use the seed's camelCase names. When a field is given
    both ways the canonical name wins, but the other value must still be valid (RecordInvalid
    names it), so nothing invalid is accepted unnoticed."""
    aliases = SEED_ALIASES[entity]
    fields = {aliases[name]: value for name, value in given.items() if name in aliases}
    shadowed = {name: value for name, value in given.items() if aliases.get(name) in given}
    fields.update({name: value for name, value in given.items() if name not in aliases})
    errors: dict[str, str] = {}
    for alias, value in shadowed.items():
        try:
            normalise_record(ENTITIES[entity], {aliases[alias]: value}, region=region)
        except RecordInvalid as exc:
            errors[alias] = next(iter(exc.errors.values()))
    if errors:
        raise RecordInvalid(errors)
    return fields


def scoring_profile_get(*, subaccount: SubAccount) -> ScoringProfile:
    """The sub-account's profile, or an unsaved one with the defaults (saved on the first change)."""
    return ScoringProfile.objects.filter(subaccount=subaccount).first() or ScoringProfile(
        subaccount=subaccount
    )


def automation_update(
    *, subaccount: SubAccount, defaults: Mapping[str, Any], profile: Mapping[str, Any], actor: str
) -> ScoringProfile:
    """Change the sub-account's automation defaults and scoring profile (already validated); audited."""
    changes: dict[str, Any] = {}
    with transaction.atomic():
        locked = SubAccount.objects.select_for_update().get(pk=subaccount.pk)
        for name, value in defaults.items():
            if name in AUTOMATION_SETTINGS and getattr(locked, name) != value:
                changes[name] = {"from": getattr(locked, name), "to": value}
                setattr(locked, name, value)
        if changes:
            locked.save(update_fields=list(changes))
        stored = ScoringProfile.objects.select_for_update().filter(subaccount=locked).first()
        if stored is None:
            # Saved with the default next-action table on the first change (profile_for).
            stored = profile_for(locked) if profile else ScoringProfile(subaccount=locked)
        changed_profile = []
        for name, value in profile.items():
            if getattr(stored, name) != value:
                changes[f"scoring_profile.{name}"] = {"from": getattr(stored, name), "to": value}
                setattr(stored, name, value)
                changed_profile.append(name)
        if changed_profile:
            stored.save(update_fields=[*changed_profile, "updated_at"])
        if changes:
            audit_record(
                integration=None,
                subaccount=locked,
                actor=actor,
                action="automation.updated",
                changes=changes,
            )
    for name in AUTOMATION_SETTINGS:
        setattr(subaccount, name, getattr(locked, name))
    return stored


@dataclass(frozen=True)
class SyncQueued:
    record_id: int
    operation: str  # create / update / unchanged
    job_id: int


def enrichment_sync(
    *,
    subaccount: SubAccount,
    entity: str,
    fields: Mapping[str, Any],
    integration: Integration | None,
    priority: int,
    skip_enrichment: bool,
    origin: str,
) -> SyncQueued:
    """Upsert one contact or company (matched like the bulk API) and queue its enrichment job with
    the caller's priority; an unchanged record is queued too (the caller asked for it to be
    enriched and scored). Raises RecordInvalid / DuplicateRecord."""
    with transaction.atomic():
        result = record_upsert(subaccount=subaccount, entity=entity, fields=fields, origin=origin)
        operation = OPERATIONS[result.status]
        jobs_enqueue(
            subaccount_id=subaccount.pk,
            entity=entity,
            record_ids=[result.record.pk],
            integration_id=integration.pk if integration is not None else None,
            priority=priority,
            skip_enrichment=skip_enrichment,
            reason="api",
            operation="create" if operation == "create" else "update",
        )
        job_id = (
            EnrichmentJob.objects.filter(
                entity=entity, record_id=result.record.pk, status=EnrichmentJob.Status.PENDING
            )
            .values_list("pk", flat=True)
            .get()
        )
    return SyncQueued(record_id=result.record.pk, operation=operation, job_id=job_id)
