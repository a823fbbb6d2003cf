"""The system health page and its sampler against a real Celery worker process: the worker answers
the page's ping by name, and the sampling task is routed to a queue it serves and writes its rows."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.system.conftest import wait_for
from webhooks.models import QueueSample
from webhooks.observability.queues import QUEUES
from webhooks.observability.tasks import queues_sample_task

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


def test_a_running_worker_shows_by_name_and_samples_the_queues(workers, client):
    workers("health")
    client.force_login(get_user_model().objects.create_superuser("operator", "op@example.com", "pw"))
    response = client.get("/admin/system-health/")
    assert response.status_code == 200
    [hostname] = response.context["workers"].hostnames
    assert hostname.startswith("health@") and hostname in response.content.decode()
    assert "1 answering" in response.content.decode()

    queues_sample_task.delay()
    wait_for(lambda: QueueSample.objects.count() == len(QUEUES), timeout=30, message="the queue sample")
    assert set(QueueSample.objects.values_list("queue", flat=True)) == set(QUEUES)
