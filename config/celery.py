"""The Celery app: queues ``sync``, ``webhooks``, ``enrichment`` and ``default``."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "sync", "webhooks", "enrichment")]
app.conf.task_routes = {
    "sync.*": {"queue": "sync"},
    "webhooks.*": {"queue": "webhooks"},
    "sync.enrichment.*": {"queue": "enrichment"},
}
app.autodiscover_tasks()
