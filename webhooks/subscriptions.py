"""Where webhooks listens to the layers below it (``sync.hooks``, ``integrations.hooks``).

Connected once in ``WebhooksConfig.ready``; each receiver turns an announcement into outbound
messages (or a pump kick) inside the announcing transaction.
"""

from __future__ import annotations

from integrations import hooks as integration_hooks
from sync import hooks as sync_hooks
from webhooks.outbound.events import (
    conflict_detected_emit,
    integration_status_changed_emit,
    sync_run_finished_emit,
)
from webhooks.outbound.outbox import outbox_kick


def on_changes_recorded(sender, *, subaccount_id: int, **kwargs) -> None:
    outbox_kick()  # the pump turns the new Change rows into messages once they commit


def on_conflicts_detected(sender, *, conflicts, **kwargs) -> None:
    for conflict in conflicts:
        conflict_detected_emit(conflict=conflict)


def on_sync_run_finished(sender, *, run, **kwargs) -> None:
    sync_run_finished_emit(run=run)


def on_integration_status_changed(sender, *, integration, old: str, new: str, reason: str, **kwargs) -> None:
    integration_status_changed_emit(integration=integration, old=old, new=new, reason=reason)


def connect() -> None:
    """Subscribe to every announcement webhooks turns into messages (idempotent: dispatch_uid)."""
    for signal, receiver in (
        (sync_hooks.changes_recorded, on_changes_recorded),
        (sync_hooks.conflicts_detected, on_conflicts_detected),
        (sync_hooks.sync_run_finished, on_sync_run_finished),
        (integration_hooks.integration_status_changed, on_integration_status_changed),
    ):
        signal.connect(receiver, dispatch_uid=f"webhooks.{receiver.__name__}")
