"""Wiring the flow (and the deletion sweep after full syncs) to the engine's announcements,
called from ``SyncConfig.ready``."""

from sync.deletions import on_sync_run_finished
from sync.hooks import records_pulled, records_pushed, sync_run_finished
from sync.onboarding.triggers import on_records_pulled, on_records_pushed


def connect() -> None:
    records_pulled.connect(on_records_pulled, dispatch_uid="onboarding.records_pulled")
    records_pushed.connect(on_records_pushed, dispatch_uid="onboarding.records_pushed")
    sync_run_finished.connect(on_sync_run_finished, dispatch_uid="sync.deletions.run_finished")
