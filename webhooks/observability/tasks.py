"""The beat task behind the system health page's queue chart."""

from __future__ import annotations

from celery import shared_task

from webhooks.observability.sampling import queues_sample


@shared_task(name="webhooks.queues_sample", ignore_result=True)
def queues_sample_task() -> int:
    """Every minute: each Celery queue's depth, into QueueSample (24 hours kept)."""
    return queues_sample()
