"""Where enrichment listens: new Change rows kick the feed; an integration that becomes active with
enrichment or scoring on gets the enrichment fields in its CRM. Connected in ``SyncConfig.ready``."""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.db import transaction

from integrations import hooks as integration_hooks
from integrations.models import Integration
from sync import hooks as sync_hooks
from sync.enrichment.feed import feed_kick
from sync.enrichment.setup import enrichment_wanted

FIELDS_SETUP_TASK = "sync.enrichment.crm_fields_setup"  # sync/enrichment/tasks.py


def on_changes_recorded(sender, *, subaccount_id: int, **kwargs) -> None:
    feed_kick()


def on_integration_status_changed(sender, *, integration: Integration, old: str, new: str, **kwargs) -> None:
    if new != Integration.Status.ACTIVE:
        return
    if enrichment_wanted(integration):
        transaction.on_commit(partial(_fields_setup, integration.pk))


def _fields_setup(integration_id: int) -> None:
    current_app.tasks[FIELDS_SETUP_TASK].apply_async((integration_id,))


def connect() -> None:
    sync_hooks.changes_recorded.connect(on_changes_recorded, dispatch_uid="sync.enrichment.feed")
    integration_hooks.integration_status_changed.connect(
        on_integration_status_changed, dispatch_uid="sync.enrichment.fields"
    )
