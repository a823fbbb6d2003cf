"""The Celery app: queues ``sync``, ``webhooks``, ``enrichment``, ``flows`` and ``default``."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun
from django.conf import settings
from kombu import Queue

from config.log_context import task_context_bind, task_context_clear

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


@setup_logging.connect
def logging_from_settings(**kwargs) -> None:
    """Workers and beat log like the web (settings.LOGGING: JSON lines with the bound ids), not in
    Celery's own format: connecting this signal keeps Celery from configuring logging itself."""
    logging.config.dictConfig(settings.LOGGING)


task_prerun.connect(task_context_bind, weak=False)
task_postrun.connect(task_context_clear, weak=False)
