"""Celery tasks for outbound webhooks: ids in, a service does the work (webhooks.outbound.delivery / outbox)."""

from __future__ import annotations

from celery import shared_task

from webhooks.outbound.delivery import deliveries_send_due, delivery_send
from webhooks.outbound.events import DELIVER_TASK
from webhooks.outbound.outbox import PUMP_TASK, outbox_pump


@shared_task(name=DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver_task(delivery_id: int) -> str:
    """Send this delivery (queued after commit when it is created, and with a countdown for each
    retry), then take along whatever else is due, so the tasks behind it usually find their
    deliveries already sent.

    Safe to run twice or late: the claim decides who sends, and a delivery that is not due, is
    blocked behind an earlier one or was sent meanwhile is left alone.
    """
    outcome = delivery_send(delivery_id=delivery_id)
    deliveries_send_due()
    return outcome


@shared_task(name="webhooks.deliver_due", ignore_result=True)
def deliver_due_task() -> int:
    """Periodic: send what is due according to the database (retries, and anything whose queued
    task was lost with its worker or its broker)."""
    return deliveries_send_due()


@shared_task(name=PUMP_TASK, acks_late=True, ignore_result=True)
def outbox_pump_task() -> int:
    """Periodic and kicked after commit: Change rows → messages. Re-queues itself while behind."""
    result = outbox_pump()
    if result.behind:
        outbox_pump_task.delay()
    return result.messages
