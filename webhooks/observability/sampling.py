"""Queue depths sampled every minute (a beat task) into ``QueueSample``, kept for 24 hours: the
system health page's chart. A tick that finds the broker unreachable records nothing, so the gap
shows on the chart."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from webhooks.models import QueueSample
from webhooks.observability.queues import BrokerUnavailable, queue_depths

RETENTION = timedelta(hours=24)


def queues_sample(now: datetime | None = None) -> int:
    """Record each queue's depth now and forget samples past RETENTION; the rows written."""
    now = now or timezone.now()
    try:
        depths = queue_depths()
    except BrokerUnavailable:
        depths = {}
    with transaction.atomic():
        QueueSample.objects.bulk_create(
            QueueSample(sampled_at=now, queue=queue, depth=depth) for queue, depth in depths.items()
        )
        QueueSample.objects.filter(sampled_at__lt=now - RETENTION).delete()
    return len(depths)
