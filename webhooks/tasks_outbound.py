"""Celery tasks for outbound webhooks: ids in, a service does the work (webhooks.delivery / outbox)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="webhooks.deliver", acks_late=True, ignore_result=True)
def deliver_task(delivery_id: int) -> int:
    """Send what is due, in batches, this delivery among it (if it is due and nobody else has it).

    Safe to run twice or late: the claim decides who sends. The id is what the message is about;
    a batch takes along every delivery that is due, so one task usually empties the queue and the
    tasks behind it find nothing left to do.
    """
    from webhooks.delivery import deliveries_send_due

    return deliveries_send_due()


@shared_task(name="webhooks.deliver_due", ignore_result=True)
def deliver_due_task() -> int:
    """Periodic: send what is due according to the database (retries, and anything whose queued
    task was lost with its worker or its broker)."""
    from webhooks.delivery import deliveries_send_due

    return deliveries_send_due()


@shared_task(name="webhooks.outbox_pump", acks_late=True, ignore_result=True)
def outbox_pump_task() -> int:
    """Periodic and kicked after commit: Change rows → messages. Re-queues itself while behind."""
    from webhooks.outbox import outbox_pump

    result = outbox_pump()
    if result.behind:
        outbox_pump_task.delay()
    return result.messages
