"""Celery discovers tasks here: inbound processing and retries, outbound delivery and the outbox,
and the queue sampling behind the system health page."""

from webhooks.inbound.tasks import inbound_drain_task, inbound_retry_due_task  # noqa: F401
from webhooks.observability.tasks import queues_sample_task  # noqa: F401
from webhooks.outbound.tasks import deliver_due_task, deliver_task, outbox_pump_task  # noqa: F401
