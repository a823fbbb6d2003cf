"""Sync runs: request one (API, admin, schedule, command), execute it under the integration's lease.

A run pulls each entity page by page (cursor committed with its page), then pushes local changes.
Running the same run twice is safe: a redelivered task resumes from the committed cursors.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.base import AuthError, ConnectorError, PermanentError, TransientError
from integrations.claims import rows_claim
from integrations.log_context import integration_log_ids, log_bind, log_context_kept
from integrations.models import Integration
from integrations.services import connector_for, integration_mark_error
from sync import hooks
from sync.engine import (
    EntityContext,
    Outcome,
    apply_pull_page,
    create_intents_reconcile,
    push_changes,
    push_records,
    unlinked_local_ids,
)
from sync.entities import in_dependency_order
from sync.fields import connector_wants_mapped
from sync.lease import LeaseLost, lease_acquire, lease_release, lease_renew
from sync.models import CreateIntent, SyncCursor, SyncLease, SyncRecordError, SyncRun
from sync.prefetch import coalesce, prefetch

logger = logging.getLogger(__name__)

SYNCABLE = (Integration.Status.ACTIVE, Integration.Status.PENDING, Integration.Status.ERROR)
EXPORT_CHUNK = 500
RUN_EXECUTE_TASK = "sync.run_execute"  # sync/tasks.py: sync_run_execute_task
APPLY_BATCH = 1000  # remote records applied per transaction (provider pages are merged up to it)
PREFETCH_PAGES = 6  # fetched ahead while a batch is applied: a batch is several small pages


class SyncBusy(Exception):
    """A run of this integration is already queued or running."""

    def __init__(self, run: SyncRun):
        super().__init__(f"sync #{run.pk} of this integration is {run.status}")
        self.run = run


class SyncNotAllowed(Exception):
    pass


@dataclass(frozen=True)
class Progress:
    """What a foreground caller (sync_now) is told after each page."""

    entity: str
    phase: str
    outcome: Outcome


class ManualRunBusy(Exception):
    """A sync of this integration is queued or running: a manual run now could interleave writes."""


def manual_run_begin(*, integration: Integration, entities: list[str], actor: str, owner: str) -> SyncRun:
    """A running ``manual`` run holding the integration's lease as ``owner`` (the caller releases
    it and finishes the run). Raises ManualRunBusy when another run is queued or running.

    The run is created first: from its commit on, a run requested meanwhile is refused (SyncBusy)
    instead of being queued to fail on the lease taken next.
    """
    with transaction.atomic():
        # The same lock sync_run_request takes: a run requested now waits, then sees ours as active.
        Integration.objects.select_for_update().filter(pk=integration.pk).first()
        if SyncRun.objects.filter(integration=integration, status__in=SyncRun.ACTIVE).exists():
            raise ManualRunBusy(
                "a sync of this integration is queued or running: try again when it has finished"
            )
        run = SyncRun.objects.create(
            subaccount_id=integration.subaccount_id,
            integration=integration,
            kind=SyncRun.Kind.MANUAL,
            direction=integration.direction,
            entities=entities,
            status=SyncRun.Status.RUNNING,
            started_at=timezone.now(),
            requested_by=actor,
        )
    if not lease_acquire(integration_id=integration.pk, owner=owner):
        run.delete()  # never started: nothing to show in the run log
        raise ManualRunBusy("a sync of this integration is running: try again when it has finished")
    return run


def sync_run_request(
    *,
    integration: Integration,
    kind: str = SyncRun.Kind.DELTA,
    entities: list[str] | None = None,
    requested_by: str = "",
    enqueue: bool = True,
    direction: str | None = None,
) -> SyncRun:
    """Create a queued run and enqueue it after commit. Busy → SyncBusy (the API answers 409).

    ``direction`` narrows the run to one way the integration syncs ("outbound": push the Change
    log only, as enrichment asks after writing); by default the integration's own direction.
    """
    if integration.status not in SYNCABLE:
        raise SyncNotAllowed(f"the integration is {integration.status}: resume or reconnect it first")
    connector_cls = connector_for(integration).__class__
    wanted = in_dependency_order(e for e in (entities or connector_cls.entities) if connector_cls.supports(e))
    if not wanted:
        raise SyncNotAllowed("none of the requested entities is synced by this connector")
    with transaction.atomic():
        # Lock the integration row so two requests cannot both see "not busy" (PostgreSQL); on
        # SQLite writes are serialised anyway, and the lease still guarantees one run executes.
        Integration.objects.select_for_update().filter(pk=integration.pk).first()
        active = SyncRun.objects.filter(integration=integration, status__in=SyncRun.ACTIVE).first()
        if active is not None:
            raise SyncBusy(active)
        run = SyncRun.objects.create(
            subaccount=integration.subaccount,
            integration=integration,
            kind=kind,
            direction=direction or integration.direction,
            entities=wanted,
            requested_by=requested_by,
        )
        if enqueue:  # by name: sync.tasks builds on this module, not the other way round
            transaction.on_commit(partial(current_app.tasks[RUN_EXECUTE_TASK].delay, run.pk))
    return run


@log_context_kept
def sync_run_execute(*, run_id: int, progress: Callable[[Progress], None] | None = None) -> SyncRun:
    """Execute a run. Returns the run; raises TransientError for the task to retry later."""
    run = SyncRun.objects.select_related("integration__template", "integration__subaccount").get(pk=run_id)
    if run.status not in SyncRun.ACTIVE:
        return run  # already finished (a duplicate delivery)
    integration = run.integration
    log_bind(sync_run_id=run.pk, **integration_log_ids(integration))
    owner = f"run-{run.pk}-{uuid.uuid4().hex[:8]}"
    if not lease_acquire(integration_id=integration.pk, owner=owner):
        holder = SyncLease.objects.filter(integration_id=integration.pk).first()
        if holder is None or not holder.owner.startswith(f"run-{run.pk}-"):
            _finish(run, SyncRun.Status.FAILED, "another sync of this integration is running")
            return run
        # Our own earlier attempt died holding the lease: resume once it expires.
        wait = (holder.expires_at - timezone.now()).total_seconds() if holder.expires_at else 1
        raise TransientError(
            "this run's previous worker stopped; resuming when its lease expires",
            retry_after=max(1.0, wait + 1),
        )
    try:
        first_start = run.started_at is None
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.RUNNING, started_at=run.started_at or timezone.now()
        )
        _execute(run, owner, first_start=first_start, progress=progress)
    except LeaseLost:
        logger.warning("sync lease lost", extra={"sync_run_id": run.pk})
        return run
    except AuthError as exc:
        integration_mark_error(integration=integration, message=str(exc), reauthorize=True)
        _finish(run, SyncRun.Status.FAILED, str(exc))
    except (PermanentError, ConnectorError) as exc:
        if isinstance(exc, TransientError):
            raise
        _finish(run, SyncRun.Status.FAILED, str(exc))
    finally:
        lease_release(integration_id=integration.pk, owner=owner)
    run.refresh_from_db()
    return run


def _execute(run: SyncRun, owner: str, *, first_start: bool, progress) -> None:
    integration = run.integration
    connector = connector_for(integration)
    contexts = {
        entity: EntityContext.build(integration, entity) for entity in in_dependency_order(run.entities)
    }
    connector_wants_mapped(connector, integration)  # the mapped custom fields are pulled too
    heartbeat = partial(lease_renew, integration_id=integration.pk, owner=owner)
    # The run's own direction may be narrower than the integration's (a push-only run), never wider.
    pulls = {run.direction, integration.direction} <= {"inbound", "bidirectional"}
    pushes = {run.direction, integration.direction} <= {"outbound", "bidirectional"}
    if run.kind == SyncRun.Kind.FULL and first_start:
        SyncCursor.objects.filter(integration=integration, kind=SyncCursor.Kind.PULL).delete()
    if CreateIntent.objects.filter(integration=integration).exists():
        _set_phase(run, "reconciling interrupted creates")
        for ctx in contexts.values():
            create_intents_reconcile(ctx, connector, run=run)  # before the pull can import them as new
    if pulls:
        for entity, ctx in contexts.items():
            if not ctx.spec.listable:
                continue  # the provider cannot list them: they arrive by webhook only
            _set_phase(run, f"pulling {entity}s")
            cursor = (
                SyncCursor.objects.filter(integration=integration, entity=entity, kind=SyncCursor.Kind.PULL)
                .values_list("position", flat=True)
                .first()
            )
            pages = prefetch(connector.pull(entity, cursor=cursor or None), depth=PREFETCH_PAGES)
            for page in coalesce(pages, limit=APPLY_BATCH):
                heartbeat()
                outcome = apply_pull_page(ctx, page.records, cursor=page.cursor, run=run)
                if page.remaining is not None:
                    _estimate_total(run, page.remaining)
                if progress:
                    progress(Progress(entity, "pull", outcome))
    if pushes:
        if run.kind == SyncRun.Kind.FULL:
            chunk = max(EXPORT_CHUNK, connector.batch_size)  # one provider batch a chunk at least
            for entity, ctx in contexts.items():
                if not ctx.spec.writable:
                    continue
                _set_phase(run, f"exporting new {entity}s")
                after = 0
                while ids := unlinked_local_ids(ctx, after_id=after, limit=chunk):
                    heartbeat()
                    outcome = push_records(ctx, connector, ids, run=run)
                    after = ids[-1]
                    if progress:
                        progress(Progress(entity, "export", outcome))
        _set_phase(run, "pushing changes")
        outcome = push_changes(contexts, connector, run=run, heartbeat=heartbeat)
        if progress:
            progress(Progress("*", "push", outcome))
    run.refresh_from_db()
    unsettled = CreateIntent.objects.filter(integration=integration).count()
    if unsettled:  # never "succeeded" while records we may have created are unlinked
        _finish(
            run,
            SyncRun.Status.PARTIAL,
            f"{unsettled} creates have an unknown outcome: the next run settles them",
        )
    else:
        _finish(run, SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.SUCCEEDED, "")
    Integration.objects.filter(pk=integration.pk).update(last_sync_at=timezone.now())


def sync_run_give_up(*, run_id: int, error: str) -> None:
    """Fail a run whose retries are spent, announced like any finished run (sync.failed webhook,
    failure e-mail). A run that finished meanwhile is left as it is."""
    run = SyncRun.objects.select_related("integration", "subaccount").get(pk=run_id)
    if run.status in SyncRun.ACTIVE:
        _finish(run, SyncRun.Status.FAILED, error)


def _estimate_total(run: SyncRun, remaining: int) -> None:
    """Records processed so far plus what the provider says is left: the progress bar's 100 %."""
    processed = SyncRun.objects.filter(pk=run.pk).values_list("processed", flat=True).first() or 0
    SyncRun.objects.filter(pk=run.pk).update(progress_total=processed + remaining)


def _set_phase(run: SyncRun, phase: str) -> None:
    SyncRun.objects.filter(pk=run.pk).update(phase=phase)


def _finish(run: SyncRun, status: str, error: str) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        status=status, error=error[:2000], finished_at=timezone.now(), phase=""
    )
    run.refresh_from_db()
    hooks.sync_run_finished.send(sender=SyncRun, run=run)
    logger.info(
        "sync finished",
        extra={
            "sync_run_id": run.pk,
            "integration_id": run.integration_id,
            "status": status,
            "processed": run.processed,
            "failed": run.failed,
        },
    )


RETRY_BATCH = 1000  # record errors one retry run takes; the rest wait for the next one
RETRY_CLAIM_TTL = timedelta(hours=1)  # a retry that died holding rows lets go of them after this


def sync_retry_failed(*, integration: Integration) -> SyncRun | None:
    """Re-try unresolved record errors (≤ MAX_ATTEMPTS each) in one retry run, in the foreground
    (the hourly job); None when there is nothing to retry or the integration cannot sync now."""
    try:
        return _retry_errors(
            integration, Q(attempts__lt=SyncRecordError.MAX_ATTEMPTS), requested_by="system:retry"
        )
    except (SyncBusy, SyncNotAllowed):
        return None


def record_errors_retry(*, integration: Integration, error_ids: list[int], actor: str) -> SyncRun | None:
    """A person's "Retry": re-pull or re-push these failed records now, in one retry run, however
    often they were tried before. Settled ones are marked resolved; those that fail again are
    recorded afresh by the run (its ``record_errors``). None when none of them is still open (or
    another retry holds them); SyncBusy / SyncNotAllowed when the integration cannot sync now."""
    return _retry_errors(integration, Q(pk__in=error_ids), requested_by=actor)


def _retry_errors(integration: Integration, where: Q, *, requested_by: str) -> SyncRun | None:
    """Retry the open record errors ``where`` selects in one retry run.

    The errors are claimed first (``integrations.claims.rows_claim``), so two retries running at
    once never take the same rows; whatever this run does not settle is let go again.
    """
    owner = f"retry-{uuid.uuid4().hex[:12]}"
    now = timezone.now()
    claimed = rows_claim(
        SyncRecordError.objects.filter(integration=integration),
        where=Q(resolved=False) & where & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)),
        order_by=("pk",),
        limit=RETRY_BATCH,
        values={"claimed_by": owner, "claimed_until": now + RETRY_CLAIM_TTL},
    )
    if not claimed:
        return None
    errors = list(SyncRecordError.objects.filter(pk__in=claimed).order_by("pk"))
    mine = SyncRecordError.objects.filter(pk__in=claimed, claimed_by=owner)
    try:
        run = sync_run_request(
            integration=integration,
            kind=SyncRun.Kind.RETRY,
            requested_by=requested_by,
            entities=in_dependency_order({e.entity for e in errors}),
            enqueue=False,
        )
    except (SyncBusy, SyncNotAllowed):
        mine.update(claimed_by="", claimed_until=None)
        raise
    try:
        if not lease_acquire(integration_id=integration.pk, owner=owner):
            _finish(run, SyncRun.Status.FAILED, "another sync of this integration is running")
            return run
        try:
            unfetchable = _retry(run, integration, errors)
            mine.exclude(pk__in=unfetchable).update(resolved=True)
            SyncRecordError.objects.filter(pk__in=unfetchable).update(attempts=F("attempts") + 1)
            # Errors that failed again were recorded afresh by this run: carry the attempt count over.
            for error in errors:
                SyncRecordError.objects.filter(
                    run=run,
                    entity=error.entity,
                    direction=error.direction,
                    remote_id=error.remote_id,
                    local_id=error.local_id,
                ).update(attempts=error.attempts + 1)
            run.refresh_from_db()
            _finish(run, SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.SUCCEEDED, "")
        except ConnectorError as exc:
            _finish(run, SyncRun.Status.FAILED, str(exc))
        finally:
            lease_release(integration_id=integration.pk, owner=owner)
    finally:
        mine.update(claimed_by="", claimed_until=None)
    return run


def _retry(run: SyncRun, integration: Integration, errors: list[SyncRecordError]) -> list[int]:
    """Fetch the failed pulls again and push the failed pushes again, entity by entity; returns the
    errors whose records the provider cannot fetch by id (left unresolved)."""
    unfetchable: list[int] = []
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, started_at=timezone.now())
    connector = connector_for(integration)
    connector_wants_mapped(connector, integration)
    for entity in run.entities:
        ctx = EntityContext.build(integration, entity)
        mine = [e for e in errors if e.entity == entity]
        pulls = [e.remote_id for e in mine if e.direction == "pull" and e.remote_id]
        pushes = [e.local_id for e in mine if e.direction == "push" and e.local_id]
        if pulls:
            try:
                fetched = connector.get(entity, pulls)
            except PermanentError as exc:
                if exc.code != "unsupported":
                    raise
                # The provider cannot fetch these by id (chat messages): they stay listed as
                # failed, counted as tried, for someone to look at; the next pull is no help.
                unfetchable.extend(e.pk for e in mine if e.direction == "pull" and e.remote_id)
            else:
                apply_pull_page(ctx, fetched, cursor=None, run=run)
        if pushes:
            push_records(ctx, connector, pushes, run=run)
    return unfetchable
