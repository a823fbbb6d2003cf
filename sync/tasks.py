"""Celery tasks: ids in, a service does the work. Schedules live in django-celery-beat (editable)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Max
from django.utils import timezone
from django_celery_results.models import TaskResult

from connectors.base import ConnectorError, TransientError
from integrations.models import Integration
from integrations.services import integration_test, integration_webhooks_renew
from sync.conflicts import conflict_sweep
from sync.deletions import DELETIONS_FIND_TASK, deletions_find, deletions_sweep
from sync.fields import FIELDS_REFRESH_ALL_TASK, fields_refresh_all
from sync.lead_events import SEND_TASK as LEAD_EVENTS_TASK
from sync.lead_events import lead_events_run
from sync.lease import lease_is_free
from sync.models import SyncRecordError, SyncRun
from sync.polling import POLL_TASK, poll_due
from sync.push_feed import FEED_TASK, PUSH_RETRY_EVERY, PUSH_TASK, feed_run, push_kick
from sync.reports import REPORTS_TASK, reports_due
from sync.retries import RetryState, retry_plan, run_progress, run_waiting
from sync.runs import (
    RUN_EXECUTE_TASK,
    SyncBusy,
    SyncNotAllowed,
    sync_retry_failed,
    sync_run_execute,
    sync_run_give_up,
    sync_run_request,
)
from sync.schedules import full_sync_due
from sync.services import idempotency_keys_purge

logger = logging.getLogger(__name__)

LOG_RETENTION = timedelta(days=30)


# Celery's own retry count includes rate-limit waits, which must never fail a run: lifted here,
# the run's error budget (max_retries) is counted by sync.retries instead.
CELERY_RETRIES_UNBOUNDED = 1_000_000


@shared_task(bind=True, acks_late=True, max_retries=5, name=RUN_EXECUTE_TASK)
def sync_run_execute_task(
    self, sync_run_id: int, not_counted: int = 0, rate_waited: float = 0.0, progress_mark: int | None = None
) -> str:
    """Running twice is safe (lease + committed cursors), hence acks_late. A 429 never spends the
    error retries (sync.retries): only errors do, ``max_retries`` of them without progress."""
    try:
        run = sync_run_execute(run_id=sync_run_id)
    except TransientError as exc:
        plan = retry_plan(
            exc,
            retries=self.request.retries,
            max_retries=self.max_retries,
            state=RetryState(not_counted, rate_waited, progress_mark),
            progress=run_progress(sync_run_id),
        )
        if plan.give_up:
            sync_run_give_up(run_id=sync_run_id, error=f"gave up after {self.max_retries} retries: {exc}")
            return "failed"
        run_waiting(sync_run_id, plan, exc)
        # The budget is counted above, not by Celery (which counts rate-limit waits too).
        raise self.retry(
            exc=exc,
            countdown=plan.countdown,
            max_retries=CELERY_RETRIES_UNBOUNDED,
            kwargs=plan.state.kwargs(),
        ) from None
    return run.status


# A queued run whose task message was lost: no worker ever took it. Queued runs may also wait
# their turn behind others, so only an old one is re-sent (a duplicate delivery is harmless).
LOST_MESSAGE_AFTER = timedelta(minutes=2)


def _recover_stale_runs() -> int:
    """Re-enqueue the runs whose worker is gone, every 15 seconds (beat), so a killed worker's run
    resumes from its cursors at most ~15 s after its lease expires: a run whose lease is still
    held in its name but expired (the worker died without releasing it; a run waiting out a retry
    released its lease and is left to that retry), and a queued run nobody took in two minutes."""
    now = timezone.now()
    recovered = 0
    orphaned = SyncRun.objects.filter(
        status=SyncRun.Status.RUNNING, integration__sync_lease__expires_at__lt=now
    ).exclude(integration__sync_lease__owner="")
    for run_id, owner in orphaned.values_list("pk", "integration__sync_lease__owner"):
        if owner.startswith(f"run-{run_id}-"):
            sync_run_execute_task.delay(run_id)
            recovered += 1
    for run in SyncRun.objects.filter(status=SyncRun.Status.QUEUED, created_at__lt=now - LOST_MESSAGE_AFTER):
        if lease_is_free(integration_id=run.integration_id):
            sync_run_execute_task.delay(run.pk)
            recovered += 1
    return recovered


@shared_task(name="sync.recover_stale_runs")
def sync_recover_stale_runs_task() -> int:
    return _recover_stale_runs()


# A full run that reached the end counts for the week, also with a few rejected records (those are
# retried hourly); only a failed one leaves the weekly full sync due.
FULL_SYNC_DONE = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)


@shared_task(name="sync.dispatch_due")
def sync_dispatch_due_task() -> int:
    """Every minute: queue for each active integration its first sync (full:
    it imports and exports everything), its weekly full sync when its slot has come
    (sync.schedules.full_sync_due), else a delta sync when its interval has passed."""
    now = timezone.now()
    queued = 0
    last_full = dict(
        SyncRun.objects.filter(
            kind=SyncRun.Kind.FULL, status__in=FULL_SYNC_DONE, integration__status=Integration.Status.ACTIVE
        )
        .values("integration_id")
        .annotate(at=Max("finished_at"))
        .values_list("integration_id", "at")
    )
    # Each integration has its own interval; compared here rather than in SQL, where multiplying a
    # duration by a column is not portable (SQLite refuses it).
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).select_related(
        "template", "subaccount"
    ):
        full = full_sync_due(
            enabled=integration.weekly_full_sync,
            weekday=integration.full_sync_weekday,
            hour=integration.full_sync_hour,
            now=now,
            created_at=integration.created_at,
            last_full_at=last_full.get(integration.pk),
        )
        last = integration.last_sync_at
        first = last is None  # a new integration's first run is full: it also exports what we have
        if (
            not full
            and last is not None
            and last > now - timedelta(minutes=integration.sync_interval_minutes)
        ):
            continue
        try:
            sync_run_request(
                integration=integration,
                kind=SyncRun.Kind.FULL if full or first else SyncRun.Kind.DELTA,
                requested_by="schedule:weekly_full" if full else "schedule:first" if first else "schedule",
            )
            queued += 1
        except (SyncBusy, SyncNotAllowed):
            continue
    return queued


@shared_task(name="sync.health_check")
def integrations_health_check_task() -> int:
    failing = 0
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).select_related(
        "template"
    ):
        failing += not integration_test(integration=integration, actor="system:health_check").ok
    return failing


@shared_task(name="sync.retry_failed_records")
def sync_retry_failed_task() -> int:
    ids = (
        SyncRecordError.objects.filter(resolved=False, attempts__lt=SyncRecordError.MAX_ATTEMPTS)
        .values_list("integration_id", flat=True)
        .distinct()
    )
    runs = 0
    for integration in Integration.objects.filter(pk__in=list(ids), status=Integration.Status.ACTIVE):
        runs += sync_retry_failed(integration=integration) is not None
    return runs


@shared_task(name=FIELDS_REFRESH_ALL_TASK)
def fields_refresh_all_task() -> dict[str, int]:
    """Daily: every active integration's provider fields, for label mappings and type-aware
    transforms (sync.fields). A provider error is stored per entity, never raised."""
    return fields_refresh_all()


@shared_task(name="sync.webhook_subscriptions_renew")
def webhook_subscriptions_renew_task() -> dict[str, int]:
    """Daily: give each active integration's connector the chance to renew its provider-side
    webhook subscription before it expires; one failing integration does not stop the others."""
    counts = {"renewed": 0, "failed": 0}
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).exclude(
        webhook_subscription={}
    ):
        try:
            counts["renewed"] += integration_webhooks_renew(integration=integration)
        except ConnectorError as exc:
            counts["failed"] += 1
            logger.warning(
                "webhook subscription renewal failed",
                extra={"integration_id": integration.pk, "error": type(exc).__name__},
            )
    return counts


@shared_task(name="sync.conflict_sweep")
def conflict_sweep_task() -> int:
    return conflict_sweep()


@shared_task(name="sync.cleanup_logs")
def cleanup_logs_task() -> dict[str, int]:
    """Drop finished runs, resolved record errors and task results older than 30 days."""
    cutoff = timezone.now() - LOG_RETENTION
    counts = {
        "idempotency_keys": idempotency_keys_purge(),
        "runs": SyncRun.objects.filter(finished_at__lt=cutoff).delete()[0],
        "record_errors": SyncRecordError.objects.filter(resolved=True, updated_at__lt=cutoff).delete()[0],
        "task_results": TaskResult.objects.filter(date_done__lt=cutoff).delete()[0],
    }
    return counts


@shared_task(name="sync.deletions_sweep")
def deletions_sweep_task() -> dict[str, int]:
    """Daily: deletes by id diff for providers that report none (sync.deletions)."""
    return deletions_sweep()


@shared_task(name=DELETIONS_FIND_TASK)
def deletions_find_task(integration_id: int) -> dict[str, int]:
    """After a full sync of a provider that reports no deletions: what it no longer has."""
    integration = Integration.objects.filter(pk=integration_id, status=Integration.Status.ACTIVE).first()
    return deletions_find(integration).deleted if integration is not None else {}


@shared_task(name=FEED_TASK)
def push_feed_task(subaccount_id: int) -> list[int]:
    """After a commit that wrote Change rows: push to the sub-account's other integrations."""
    return feed_run(subaccount_id)


@shared_task(name=PUSH_TASK)
def push_task(integration_id: int, requested_by: str = "changes") -> str:
    """A push-only run, so the provider gets what others wrote (pulling is the schedule's job);
    while a run of the integration is busy, ask again shortly (that run may have read the log
    before the new rows)."""
    integration = Integration.objects.filter(pk=integration_id).select_related("template").first()
    if integration is None:
        return "gone"
    try:
        run = sync_run_request(
            integration=integration, requested_by=requested_by, direction=Integration.Direction.OUTBOUND
        )
    except SyncNotAllowed as exc:
        return f"skipped: {exc}"
    except SyncBusy:
        push_kick(integration_id, window=PUSH_RETRY_EVERY, requested_by=requested_by)
        return "busy: asked again"
    return f"run {run.pk}"


@shared_task(name=LEAD_EVENTS_TASK, acks_late=True)
def lead_events_send_task(subaccount_id: int | None = None) -> dict[str, int]:
    """After a commit that wrote Change rows (one sub-account), and on beat every minute (all):
    queue the lead events the changes amount to and send what is due to analytics services.
    Running twice is safe (unique outbox rows, claimed sends), hence acks_late."""
    return lead_events_run(subaccount_id=subaccount_id)


@shared_task(name=POLL_TASK)
def poll_due_task() -> dict[int, int]:
    """Beat, every 30 s: pull what integrations without webhooks must poll (sync.polling)."""
    return poll_due()


@shared_task(name=REPORTS_TASK)
def reports_due_task() -> dict[int, int]:
    """Beat, hourly: read the daily figures of reporting integrations that are due (sync.reports)."""
    return reports_due()
