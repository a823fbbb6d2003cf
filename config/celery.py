"""The Celery app: queues ``sync``, ``webhooks``, ``enrichment``, ``flows`` and ``default``."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "sync", "webhooks", "enrichment", "flows")]
# First match wins (celery.app.routes.MapRoute reads the patterns in order): the narrower first.
app.conf.task_routes = {
    "sync.enrichment.*": {"queue": "enrichment"},
    "sync.onboarding.*": {"queue": "flows"},
    "sync.*": {"queue": "sync"},
    "webhooks.*": {"queue": "webhooks"},
}
app.autodiscover_tasks()
