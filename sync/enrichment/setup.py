"""Give a CRM the enrichment fields: create them where its API allows (``crm_fields.crm_fields_ensure``),
map them outbound, then push the scores records already have.

A push sends what changed since the link's base, so records scored before their fields existed in
the CRM are sent once here (a ``manual`` run under the integration's lease, shown in the run log),
rather than waiting for their next change.
"""

from __future__ import annotations

import logging
import uuid

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from integrations.automation import automation_settings_for
from integrations.models import Integration
from integrations.services import connector_for
from sync.engine import EntityContext, Outcome, push_records
from sync.enrichment.crm_fields import CrmFieldsReport, crm_fields_ensure
from sync.entities import ENTITIES
from sync.lease import lease_release
from sync.models import EntityLink, SyncRun
from sync.runs import SYNCABLE, ManualRunBusy, _finish, manual_run_begin

logger = logging.getLogger(__name__)

BACKFILL_CHUNK = 500
# ``enriched`` is encrypted at rest (a PiiJSONField: the database cannot look inside it), but an
# empty object carries nothing personal and is stored as this text: "found nothing yet" stays a
# database filter.
EMPTY_OBJECT = "{}"


def enrichment_wanted(integration: Integration) -> bool:
    settings = automation_settings_for(integration.subaccount, integration)
    return settings.auto_enrich or settings.auto_score


def crm_fields_setup(
    integration: Integration, *, actor: str = "enrichment"
) -> tuple[CrmFieldsReport, SyncRun | None]:
    """Ensure the fields and, when rows were newly mapped, push the records' enrichment values."""
    before = _mapped(integration)
    report = crm_fields_ensure(integration)
    added = {(f.entity, f.local) for f in report.mapped} - before
    run = None
    if added and integration.status in SYNCABLE and integration.direction != Integration.Direction.INBOUND:
        run = enrichment_backfill(integration, entities=sorted({entity for entity, _ in added}), actor=actor)
    return report, run


def _mapped(integration: Integration) -> set[tuple[str, str]]:
    return set(
        integration.field_mappings.filter(local_field__startswith="enrichment:").values_list(
            "entity", "local_field"
        )
    )


def enrichment_backfill(integration: Integration, *, entities: list[str], actor: str) -> SyncRun | None:
    """Push every linked, enriched record of ``entities`` once (None when a run holds the lease:
    that run, or the next, pushes them as they change)."""
    owner = f"fields-{uuid.uuid4().hex[:12]}"
    try:
        run = manual_run_begin(integration=integration, entities=entities, actor=actor, owner=owner)
    except ManualRunBusy:
        return None
    total = Outcome()
    try:
        connector = connector_for(integration)
        for entity in entities:
            ctx = EntityContext.build(integration, entity)
            model = ENTITIES[entity].model
            enriched = (
                model.objects.filter(subaccount_id=integration.subaccount_id, is_deleted=False)
                .annotate(enriched_text=Cast("enriched", TextField()))
                .filter(Q(score__isnull=False) | ~Q(enriched_text=EMPTY_OBJECT))
            )
            linked = EntityLink.objects.filter(integration=integration, entity=entity).values("local_id")
            ids = list(enriched.filter(pk__in=linked).order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(ids), BACKFILL_CHUNK):
                total.add(push_records(ctx, connector, ids[start : start + BACKFILL_CHUNK], run=run))
        _finish(run, SyncRun.Status.SUCCEEDED if not total.failed else SyncRun.Status.PARTIAL, "")
    except Exception as exc:
        _finish(run, SyncRun.Status.FAILED, str(exc)[:500])
        logger.exception("enrichment fields backfill failed", extra={"integration_id": integration.pk})
    finally:
        lease_release(integration_id=integration.pk, owner=owner)
    run.refresh_from_db()
    return run
