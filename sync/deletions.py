"""Deletes by id diff, for providers that report no deletions (``connectors.capabilities.IdLister``).

The connector lists the live remote ids of an entity; linked records whose id is missing were
deleted at the provider and are applied as tombstones through the same merge as any pulled page
(so the integration's delete policy decides what happens locally). Run daily by beat and after
each full sync of such an integration.

A listing that would delete more than half of an integration's linked records (and more than
``GUARD_MIN`` of them) is refused and logged instead: a datasheet swapped in the settings or a
token that suddenly sees another space must not wipe the platform's records. ``force`` runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from celery import current_app
from django.db import transaction
from django.utils import timezone

from connectors.base import ConnectorError, RemoteRecord
from connectors.capabilities import IdLister
from connectors.registry import connector_offers
from integrations.models import Integration
from integrations.services import connector_for
from sync.engine import EntityContext, apply_pull_page
from sync.models import EntityLink, SyncRun

logger = logging.getLogger(__name__)

DELETIONS_FIND_TASK = "sync.deletions_find"  # sync/tasks.py
PAGE = 500
GUARD_MIN = 10


@dataclass
class DeletionsResult:
    deleted: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def deletions_find(integration: Integration, *, force: bool = False) -> DeletionsResult:
    """Apply tombstones for the integration's linked records that are gone at the provider."""
    result = DeletionsResult()
    connector = connector_for(integration)
    if not isinstance(connector, IdLister):
        return result
    entities = EntityLink.objects.filter(integration=integration).values_list("entity", flat=True).distinct()
    for entity in sorted(set(entities)):
        if not connector.supports(entity):
            continue
        ctx = EntityContext.build(integration, entity)
        links = dict(
            EntityLink.objects.filter(integration=integration, entity=entity).values_list(
                "remote_id", "local_id"
            )
        )
        linked = set(links)
        missing = linked - set(connector.remote_ids(entity))
        # Already deleted here (an earlier sweep, or a sync brought the delete): nothing left to do.
        done = set(
            ctx.model.objects.filter(pk__in=[links[rid] for rid in missing], is_deleted=True).values_list(
                "pk", flat=True
            )
        )
        gone = sorted(rid for rid in missing if links[rid] not in done)
        if not force and len(gone) > GUARD_MIN and len(gone) * 2 > len(linked):
            result.refused[entity] = f"{len(gone)} of {len(linked)} linked records missing: not applied"
            logger.warning(
                "deletion sweep refused: too many records missing",
                extra={"integration_id": integration.pk, "entity": entity, "missing": len(gone)},
            )
            continue
        now = timezone.now()
        for start in range(0, len(gone), PAGE):
            tombstones = [
                RemoteRecord(id=rid, modified_at=now, fields={}, deleted=True)
                for rid in gone[start : start + PAGE]
            ]
            apply_pull_page(ctx, tombstones, cursor=None, run=None)
        result.deleted[entity] = len(gone)
    return result


def deletions_sweep() -> dict[str, int]:
    """Every active integration whose provider reports no deletions; one failing does not stop the rest."""
    counts = {"integrations": 0, "deleted": 0, "failed": 0}
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).select_related(
        "template"
    ):
        if not connector_offers(integration.template.connector, IdLister):
            continue  # asked of the class: no connector (or decrypted config) made for nothing
        try:
            result = deletions_find(integration)
        except ConnectorError as exc:
            counts["failed"] += 1
            logger.warning(
                "deletion sweep failed", extra={"integration_id": integration.pk, "error": type(exc).__name__}
            )
            continue
        if result.deleted or result.refused:
            counts["integrations"] += 1
            counts["deleted"] += sum(result.deleted.values())
    return counts


def on_sync_run_finished(sender, *, run: SyncRun, **kwargs) -> None:
    """A full sync of a provider that reports no deletions is followed by a deletion sweep."""
    if run.kind != SyncRun.Kind.FULL or run.status == SyncRun.Status.FAILED:
        return
    if connector_offers(run.integration.template.connector, IdLister):
        transaction.on_commit(partial(_queue_find, run.integration_id))


def _queue_find(integration_id: int) -> None:
    try:
        current_app.tasks[DELETIONS_FIND_TASK].apply_async(args=[integration_id])
    except Exception:  # the daily sweep finds what this one would have
        logger.exception("could not queue the deletion sweep", extra={"integration_id": integration_id})
