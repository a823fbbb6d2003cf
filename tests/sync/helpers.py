"""What the sync tests that run whole syncs share: a foreground run, and a record's twin by link."""

from __future__ import annotations

from integrations.models import Integration
from sync.entities import entity_def
from sync.models import CanonicalRecord, EntityLink, SyncRun
from sync.runs import sync_run_execute, sync_run_request


def run_to_success(integration: Integration, kind: str = "delta") -> SyncRun:
    """Run a sync of every entity in the foreground; fail the test with its errors unless it succeeded."""
    result = sync_run_execute(run_id=sync_run_request(integration=integration, kind=kind, enqueue=False).pk)
    errors = list(result.record_errors.values_list("message", flat=True))
    assert result.status == "succeeded", (result.error, errors)
    return result


def remote_id_of(integration: Integration, entity: str, record: CanonicalRecord) -> str:
    return EntityLink.objects.get(integration=integration, entity=entity, local_id=record.pk).remote_id


def local_of(integration: Integration, entity: str, remote_id: str) -> CanonicalRecord:
    link = EntityLink.objects.get(integration=integration, entity=entity, remote_id=remote_id)
    return entity_def(entity).model.objects.get(pk=link.local_id)
