"""Celery tasks for inbound webhooks: ids in, ``webhooks.inbound.processing`` does the work."""

from __future__ import annotations

from celery import shared_task

from webhooks.inbound.processing import inbound_drain, inbound_retry_due


@shared_task(acks_late=True, name="webhooks.inbound_drain")
def inbound_drain_task() -> dict[str, int]:
    """Kicked by the receiver: apply pending events. Claims make a redelivered message harmless,
    hence acks_late. A run that spends its time budget queues the next one."""
    result = inbound_drain()
    if result.more:
        inbound_drain_task.delay()
    return dict(result.counts)


@shared_task(acks_late=True, name="webhooks.inbound_retry_due")
def inbound_retry_due_task() -> dict[str, int]:
    """Every minute: failed events past their backoff, abandoned claims and lost messages, from the database."""
    return dict(inbound_retry_due().counts)
