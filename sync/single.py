"""Sync one record now, in the foreground: pull it, merge it, push it, under the integration's lease.

The engine does the work (``apply_pull_page`` for the three-way merge, conflicts and strategies;
``push_records`` for updates and idempotent creates), exactly as in a run; this module only picks
the one record, holds the lease so that no run interleaves its writes, and records the outcome in a
``manual`` SyncRun so that it shows in the run log like any other sync.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from django.db import models

from connectors.base import AuthError, Connector, ConnectorError
from connectors.registry import connector_class
from integrations.models import Integration
from integrations.services import connector_for, integration_mark_error
from sync.engine import EntityContext, Outcome, apply_pull_page, push_records
from sync.entities import entity_for
from sync.fields import connector_wants_mapped
from sync.lease import lease_release
from sync.models import CreateIntent, EntityLink, SyncRun
from sync.runs import SYNCABLE, ManualRunBusy, SyncNotAllowed, _finish, manual_run_begin

logger = logging.getLogger(__name__)


# A sync of this integration is queued or running: syncing a record now could interleave writes
# (the API and the admin answer it with 409).
RecordSyncBusy = ManualRunBusy


class RecordNotFound(LookupError):
    """No such record in the integration's sub-account (or, by remote id, nowhere to be found)."""


class EntityNotSynced(ValueError):
    """The integration's connector does not sync this entity."""


@dataclass
class RecordSyncResult:
    """What syncing one record did. ``pulled``/``pushed`` name the step's outcome (see the README)."""

    entity: str
    local_id: int | None
    remote_id: str | None
    pulled: str  # created | updated | deleted | unchanged | absent | skipped | failed
    pushed: str  # created | updated | deleted | unchanged | skipped | failed
    conflicts: int
    errors: list[dict[str, str]] = field(default_factory=list)  # {"direction", "message", "code"}
    run: SyncRun | None = None


def record_sync_now(
    *,
    integration: Integration,
    entity: str,
    local_id: int | None = None,
    remote_id: str | None = None,
    actor: str,
) -> RecordSyncResult:
    """Pull, merge and push one record (by local id or by remote id) now, as the direction allows.

    Raises SyncNotAllowed (integration paused/disconnected), EntityNotSynced, RecordNotFound,
    RecordSyncBusy (a run holds or awaits the lease), and the connector's errors (after recording
    them in the run).
    """
    if (local_id is None) == (remote_id is None):
        raise ValueError("give local_id or remote_id, not both")
    if integration.status not in SYNCABLE:
        raise SyncNotAllowed(f"the integration is {integration.status}: resume or reconnect it first")
    connector = connector_for(integration)
    if not connector.supports(entity):
        raise EntityNotSynced(f"{connector.display_name} does not sync {entity} records")
    ctx = EntityContext.build(integration, entity)
    connector_wants_mapped(connector, integration)  # the mapped custom fields are fetched too
    local_id, remote_id = _resolve(ctx, local_id=local_id, remote_id=remote_id)
    owner = f"one-{uuid.uuid4().hex[:12]}"
    run = manual_run_begin(integration=integration, entities=[entity], actor=actor, owner=owner)
    try:
        try:
            result = _sync(ctx, connector, run, local_id=local_id, remote_id=remote_id)
        except ConnectorError as exc:
            if isinstance(exc, AuthError):
                integration_mark_error(integration=integration, message=str(exc), reauthorize=True)
            _finish(run, SyncRun.Status.FAILED, str(exc))
            raise
        except RecordNotFound as exc:
            _finish(run, SyncRun.Status.FAILED, str(exc))
            raise
        _finish(run, *_status(run, ctx, result))
    finally:
        lease_release(integration_id=integration.pk, owner=owner)
    result.run = run
    return result


def record_sync_everywhere(
    *, record: models.Model, actor: str
) -> list[tuple[Integration, RecordSyncResult | str]]:
    """Sync one record now with every active integration of its sub-account that syncs its entity
    (the admin's "Sync now"): each integration's result, or why it could not (busy, provider down)."""
    entity = entity_for(record).name
    outcomes: list[tuple[Integration, RecordSyncResult | str]] = []
    integrations = Integration.objects.filter(
        subaccount_id=record.subaccount_id, status=Integration.Status.ACTIVE
    ).select_related("template", "subaccount")
    for integration in integrations.order_by("pk"):
        if not connector_class(integration.template.connector).supports(entity):
            continue
        try:
            result = record_sync_now(integration=integration, entity=entity, local_id=record.pk, actor=actor)
        except (RecordSyncBusy, SyncNotAllowed, RecordNotFound, ConnectorError) as exc:
            outcomes.append((integration, str(exc)))
        else:
            outcomes.append((integration, result))
    return outcomes


def _resolve(
    ctx: EntityContext, *, local_id: int | None, remote_id: str | None
) -> tuple[int | None, str | None]:
    """The record's ids on both sides as far as they are known; RecordNotFound for another
    sub-account's (or no) local record, and for a remote id the integration cannot learn about."""
    links = EntityLink.objects.filter(integration=ctx.integration, entity=ctx.entity)
    if local_id is not None:
        if not ctx.model.objects.filter(subaccount_id=ctx.integration.subaccount_id, pk=local_id).exists():
            raise RecordNotFound(f"no {ctx.entity} {local_id} in this sub-account")
        return local_id, links.filter(local_id=local_id).values_list("remote_id", flat=True).first()
    local = links.filter(remote_id=remote_id).values_list("local_id", flat=True).first()
    if local is None and not _pulls(ctx.integration):
        raise RecordNotFound(
            f"no {ctx.entity} is linked to remote id {remote_id!r} (outbound-only: not pulled)"
        )
    return local, remote_id


def _pulls(integration: Integration) -> bool:
    return integration.direction in ("inbound", "bidirectional")


def _pushes(integration: Integration) -> bool:
    return integration.direction in ("outbound", "bidirectional")


def _sync(
    ctx: EntityContext, connector: Connector, run: SyncRun, *, local_id: int | None, remote_id: str | None
) -> RecordSyncResult:
    result = RecordSyncResult(
        ctx.entity, local_id, remote_id, pulled="skipped", pushed="skipped", conflicts=0
    )
    if _pulls(ctx.integration):
        result.pulled = "absent"
        records = connector.get(ctx.entity, [remote_id]) if remote_id else []
        if records:
            outcome = apply_pull_page(ctx, records, cursor=None, run=run)
            result.pulled = _step(outcome)
            _collect(result, outcome, "pull")
            # The provider's own spelling of the id (Salesforce: 15 → 18 characters) is the link's.
            result.remote_id = records[0].id
            if result.local_id is None:
                result.local_id = _linked(ctx, remote_id=result.remote_id)
        elif result.local_id is None:
            raise RecordNotFound(f"no {ctx.entity} {remote_id!r} at the provider, and none linked here")
    if _pushes(ctx.integration) and result.local_id is not None:
        outcome = push_records(ctx, connector, [result.local_id], run=run)
        result.pushed = _step(outcome)
        _collect(result, outcome, "push")
        if result.remote_id is None:
            result.remote_id = (
                EntityLink.objects.filter(
                    integration=ctx.integration, entity=ctx.entity, local_id=result.local_id
                )
                .values_list("remote_id", flat=True)
                .first()
            )
    return result


def _linked(ctx: EntityContext, *, remote_id: str) -> int | None:
    return (
        EntityLink.objects.filter(integration=ctx.integration, entity=ctx.entity, remote_id=remote_id)
        .values_list("local_id", flat=True)
        .first()
    )


def _step(outcome: Outcome) -> str:
    for name in ("created", "updated", "deleted"):
        if getattr(outcome, name):
            return name
    return "failed" if outcome.failed else "unchanged"


def _collect(result: RecordSyncResult, outcome: Outcome, direction: str) -> None:
    result.conflicts += outcome.conflicts
    result.errors += [
        {"direction": direction, "message": message, "code": code} for _, message, code in outcome.errors
    ]


def _status(run: SyncRun, ctx: EntityContext, result: RecordSyncResult) -> tuple[str, str]:
    run.refresh_from_db()
    if (
        result.local_id is not None
        and CreateIntent.objects.filter(
            integration=ctx.integration, entity=ctx.entity, local_id=result.local_id
        ).exists()
    ):  # never "succeeded" while the record may exist remotely unlinked
        return SyncRun.Status.PARTIAL, "the create has an unknown outcome: the next run settles it"
    if not run.failed:
        return SyncRun.Status.SUCCEEDED, ""
    return (SyncRun.Status.FAILED if run.failed >= run.processed else SyncRun.Status.PARTIAL), ""
