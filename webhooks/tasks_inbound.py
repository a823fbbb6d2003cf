"""Celery tasks for inbound webhooks: ids in, ``webhooks.inbound_processing`` does the work."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, name="webhooks.inbound_process")
def inbound_process_task(delivery_id: int) -> dict[str, int]:
    """Apply a delivery's pending events. Claims make a redelivered message harmless, hence acks_late."""
    from webhooks.inbound_processing import inbound_delivery_process

    return dict(inbound_delivery_process(delivery_id=delivery_id).counts)


@shared_task(acks_late=True, name="webhooks.inbound_retry_due")
def inbound_retry_due_task() -> dict[str, int]:
    """Every minute: failed events past their backoff, abandoned claims and lost messages, from the database."""
    from webhooks.inbound_processing import inbound_retry_due

    return dict(inbound_retry_due().counts)
