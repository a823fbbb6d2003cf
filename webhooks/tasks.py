"""Celery discovers tasks here: inbound processing and retries, outbound delivery and the outbox."""

from webhooks.tasks_inbound import inbound_drain_task, inbound_retry_due_task  # noqa: F401
from webhooks.tasks_outbound import deliver_due_task, deliver_task, outbox_pump_task  # noqa: F401
