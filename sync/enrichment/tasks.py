"""Celery tasks of enrichment, on the ``enrichment`` queue (config/celery.py routes ``sync.enrichment.*``).

The drain runs jobs until the queue is empty or its time slice is spent, then queues itself again,
so a long backlog never holds a worker for ever and every slice starts with the most urgent jobs.
The feed is kicked after every commit that wrote Change rows (``sync.apps``) and, like the drain,
swept every minute by beat in case a kick was lost.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task

from connectors.registry import connector_class
from integrations.models import Integration
from sync.enrichment.feed import FEED_TASK, feed_run
from sync.enrichment.jobs import DRAIN_TASK, jobs_purge
from sync.enrichment.persist import decay_rescore
from sync.enrichment.pipeline import jobs_run
from sync.enrichment.setup import crm_fields_setup
from sync.enrichment.signals import FIELDS_SETUP_TASK

logger = logging.getLogger(__name__)

SWEEP_TASK = "sync.enrichment.sweep"
DECAY_RESCORE_TASK = "sync.enrichment.decay_rescore"
DRAIN_SLICE = 20.0  # seconds of jobs per drain task


@shared_task(name=DRAIN_TASK, acks_late=True)
def jobs_drain_task() -> int:
    """Run jobs by priority until none is due or the slice is spent (then continue in a new task)."""
    done = 0
    deadline = time.monotonic() + DRAIN_SLICE
    while time.monotonic() < deadline:
        result = jobs_run()
        done += result.claimed
        if not result.claimed:
            return done
    jobs_drain_task.apply_async()
    return done


@shared_task(name=FEED_TASK)
def feed_task() -> int:
    """Queue jobs for the changes that matter; the queued jobs kick the drain."""
    queued = 0
    while True:
        result = feed_run()
        queued += result.jobs
        if not result.behind:
            return queued


@shared_task(name=DECAY_RESCORE_TASK)
def decay_rescore_task() -> int:
    """Nightly: re-score what time alone changed; returns how many records changed. Safe to run
    twice: a second run finds nothing left to change."""
    return decay_rescore()


@shared_task(name=SWEEP_TASK)
def sweep_task() -> dict[str, int]:
    """Beat, every minute: feed what a lost kick left, then drain what is due."""
    queued = feed_task()
    drained = jobs_drain_task()
    return {"queued": queued, "drained": drained, "purged": jobs_purge()}


@shared_task(bind=True, name=FIELDS_SETUP_TASK, max_retries=8)
def crm_fields_setup_task(self, integration_id: int) -> dict:
    """Create and map the enrichment fields in the integration's CRM, then push existing scores;
    while the CRM cannot be reached (fields reported with an error), try again with back-off."""
    integration = (
        Integration.objects.filter(pk=integration_id).select_related("template", "subaccount").first()
    )
    if integration is None or not connector_class(integration.template.connector).entities:
        return {}
    report, run = crm_fields_setup(integration)
    if any(f.error for f in report.missing) and self.request.retries < self.max_retries:
        raise self.retry(countdown=min(600, 10 * 2**self.request.retries))
    return {**report.to_dict(), "backfill_run": run.pk if run else None}
