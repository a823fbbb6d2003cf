"""The enrichment queue: one pending job per record, claimed by priority, retried with back-off.

A job is queued by the change feed (``feed``), the sync API and the admin. Queuing a record that
already has a pending job does not add a second one: the pending job takes the higher priority
(and runs the providers unless both asked to skip them). Workers claim jobs through
``integrations.claims`` (priority first, then the oldest), so a high-priority job overtakes any
backlog of bulk ones. A claimed job holds a lease: a worker that dies leaves it to be claimed again
once the lease runs out.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.claims import rows_claim
from integrations.kick import kick
from sync.models import EnrichmentJob

logger = logging.getLogger(__name__)

DRAIN_TASK = "sync.enrichment.jobs_drain"  # sync/enrichment/tasks.py
KICK_KEY = "enrichment:drain"
KICK_WINDOW = 0.1  # seconds
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6
BACKOFF_BASE = 15  # seconds: 15, 30, 60, 120, 240

PRIORITY_BULK = 1  # records a full or delta sync brought in
PRIORITY_NORMAL = 5  # one record written through the API or a webhook
PRIORITY_HIGH = 8


def jobs_enqueue(
    *,
    subaccount_id: int,
    entity: str,
    record_ids: Iterable[int],
    integration_id: int | None = None,
    priority: int = PRIORITY_NORMAL,
    skip_enrichment: bool = False,
    reason: str = "",
    operation: str = "update",
    join_pending: bool = False,
) -> int:
    """Queue a job for each record (one statement); returns how many rows were inserted or raised.

    A record with a pending job keeps that one: it takes the higher priority, and runs the
    providers unless both requests skip them. ``join_pending`` (the change feed) only raises the
    priority: a pending job reads the record when it runs, so it covers a later change as it is,
    ``skip_enrichment`` included (the sync API's skipEnrichment is not undone by the Change its
    own write made).

    Call it inside the transaction that made the records what they are; the drain is kicked once
    that transaction commits.
    """
    ids = sorted({int(pk) for pk in record_ids})
    if not ids:
        return 0
    priority = max(0, min(10, int(priority)))
    now = timezone.now()
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    table = EnrichmentJob._meta.db_table
    columns = (
        "subaccount_id, integration_id, entity, record_id, operation, priority, skip_enrichment, reason, "
        "status, attempts, available_at, owner, enrichments, error, created_at"
    )
    row = "(%s, %s, %s, %s, %s, %s, %s, %s, 'pending', 0, %s, '', '{}', '', %s)"
    params: list = []
    for pk in ids:
        params += [
            subaccount_id,
            integration_id,
            entity,
            pk,
            operation,
            priority,
            skip_enrichment,
            reason[:100],
        ]
        params += [now, now]
    # The partial unique index (one pending job per record) is the conflict target; a conflict
    # raises the pending job's priority and keeps provider calls if either request wants them.
    skip = "" if join_pending else f"skip_enrichment = {table}.skip_enrichment AND excluded.skip_enrichment, "
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(ids))} "  # noqa: S608 (fixed names)
        f"ON CONFLICT (entity, record_id) WHERE status = 'pending' DO UPDATE SET "
        f"priority = {greatest}({table}.priority, excluded.priority), {skip}"
        f"available_at = CASE WHEN excluded.priority > {table}.priority THEN excluded.available_at "
        f"ELSE {table}.available_at END"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        count = cursor.rowcount
    drain_kick_on_commit(urgent=priority >= PRIORITY_HIGH)
    return count


def drain_kick_on_commit(*, urgent: bool = False) -> None:
    """Have a worker drain the queue once the current transaction commits (debounced, or at once
    for an urgent job)."""
    transaction.on_commit(partial(_kick, urgent))


def _kick(urgent: bool) -> None:
    task = current_app.tasks[DRAIN_TASK]
    if urgent:
        try:
            task.apply_async()
        except Exception:  # a kick never fails its caller: the beat sweep drains what it left
            logger.exception("enrichment drain kick failed: the periodic sweep will drain the queue")
        return
    kick(task, key=KICK_KEY, window=KICK_WINDOW)


def jobs_claim(*, limit: int, owner: str | None = None, now: datetime | None = None) -> list[EnrichmentJob]:
    """Claim up to ``limit`` jobs, the highest priority and then the oldest first: due pending ones
    and running ones whose worker's lease ran out."""
    now = now or timezone.now()
    owner = owner or uuid.uuid4().hex[:16]
    due = Q(status=EnrichmentJob.Status.PENDING, available_at__lte=now) | Q(
        status=EnrichmentJob.Status.RUNNING, locked_until__lt=now
    )
    ids = rows_claim(
        EnrichmentJob,
        where=due,
        order_by=("-priority", "available_at", "id"),
        limit=limit,
        values={
            "status": EnrichmentJob.Status.RUNNING,
            "locked_until": now + LEASE,
            "owner": owner,
            "started_at": now,
            "attempts": F("attempts") + 1,
        },
    )
    return list(EnrichmentJob.objects.filter(pk__in=ids).order_by("-priority", "available_at", "id"))


def job_succeed(job: EnrichmentJob, *, enrichments: dict, duration_ms: int, enrichment_ms: int) -> None:
    EnrichmentJob.objects.filter(pk=job.pk, owner=job.owner).update(
        status=EnrichmentJob.Status.SUCCEEDED,
        enrichments=enrichments,
        error="",
        duration_ms=duration_ms,
        enrichment_ms=enrichment_ms,
        finished_at=timezone.now(),
        locked_until=None,
    )


def job_fail(job: EnrichmentJob, *, error: str, retry: bool, duration_ms: int | None = None) -> bool:
    """Record the failure; with ``retry`` (and attempts left) the job waits its back-off and is
    claimed again. Returns whether it will be retried."""
    now = timezone.now()
    rows = EnrichmentJob.objects.filter(pk=job.pk, owner=job.owner)
    if retry and job.attempts < MAX_ATTEMPTS:
        delay = BACKOFF_BASE * 2 ** max(0, job.attempts - 1)
        try:
            with transaction.atomic():
                rows.update(
                    status=EnrichmentJob.Status.PENDING,
                    available_at=now + timedelta(seconds=delay),
                    locked_until=None,
                    error=error[:2000],
                    duration_ms=duration_ms,
                )
            return True
        except IntegrityError:
            # The record was queued again meanwhile: that pending job does the work.
            error = f"{error} (superseded by a newer job for this record)"
    rows.update(
        status=EnrichmentJob.Status.FAILED,
        error=error[:2000],
        duration_ms=duration_ms,
        finished_at=now,
        locked_until=None,
    )
    return False


def jobs_purge(*, older_than: timedelta = timedelta(days=30), now: datetime | None = None) -> int:
    """Delete finished jobs (the sync log) older than ``older_than``."""
    cutoff = (now or timezone.now()) - older_than
    finished = (EnrichmentJob.Status.SUCCEEDED, EnrichmentJob.Status.FAILED)
    deleted, _ = EnrichmentJob.objects.filter(status__in=finished, finished_at__lt=cutoff).delete()
    return deleted
