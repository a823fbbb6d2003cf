"""``integrations/{id}/status/``: status and health with the sync state, as the README promises."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiKey, Integration
from sync.models import Conflict, EntityLink, SyncRecordError, SyncRun
from tests.factories import IntegrationFactory

COUNTERS = {
    "processed": 40,
    "created": 10,
    "updated": 9,
    "unchanged": 8,
    "deleted": 3,
    "pushed": 5,
    "conflicts": 2,
    "failed": 1,
}


@pytest.fixture
def api(subaccount) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {ApiKey.objects.create_key(name='t', subaccount=subaccount)[1]}"
    )
    return client


def test_status_reports_the_last_run_records_conflicts_failures_and_next_sync(api, subaccount):
    synced = timezone.now() - timedelta(minutes=5)
    integration = IntegrationFactory(
        subaccount=subaccount, status="active", last_sync_at=synced, sync_interval_minutes=15
    )
    other = IntegrationFactory(subaccount=subaccount)
    done = timezone.now() - timedelta(minutes=4)
    SyncRun.objects.create(
        subaccount=subaccount,
        integration=integration,
        kind="full",
        status="succeeded",
        finished_at=done - timedelta(hours=1),
    )
    last = SyncRun.objects.create(
        subaccount=subaccount,
        integration=integration,
        kind="delta",
        status="partial",
        finished_at=done,
        **COUNTERS,
    )
    SyncRun.objects.create(subaccount=subaccount, integration=integration, kind="delta", status="running")
    for n in range(3):
        EntityLink.objects.create(
            integration=integration, entity="contact", local_id=n + 1, remote_id=f"c{n}"
        )
    EntityLink.objects.create(integration=integration, entity="deal", local_id=1, remote_id="d1")
    EntityLink.objects.create(integration=other, entity="company", local_id=1, remote_id="x")
    for n, status in enumerate(["open", "open", "resolved"]):
        Conflict.objects.create(
            subaccount=subaccount,
            integration=integration,
            entity="contact",
            local_id=n + 1,
            remote_id=f"c{n}",
            field="email",
            status=status,
        )
    for resolved in (False, False, False, True):
        SyncRecordError.objects.create(
            run=last,
            integration=integration,
            entity="contact",
            direction="pull",
            remote_id="c0",
            message="no",
            resolved=resolved,
        )

    body = api.get(f"/api/v1/integrations/{integration.pk}/status/").json()

    assert (body["id"], body["status"], body["health"], body["connected"]) == (
        integration.pk,
        "active",
        "unknown",
        False,
    )
    assert body["last_run"] == {
        "id": last.pk,
        "kind": "delta",
        "status": "partial",
        "finished_at": done.isoformat().replace("+00:00", "Z"),
        **COUNTERS,
    }
    assert body["records"] == {"contact": 3, "company": 0, "deal": 1, "activity": 0, "conversation": 0}
    assert (body["open_conflicts"], body["failed_records"]) == (2, 3)
    assert body["next_sync_at"] == (synced + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")


def test_a_due_integration_syncs_next_now_and_a_new_one_has_no_run(api, subaccount):
    integration = IntegrationFactory(
        subaccount=subaccount, status="active", last_sync_at=timezone.now() - timedelta(hours=2)
    )
    before = timezone.now()
    body = api.get(f"/api/v1/integrations/{integration.pk}/status/").json()
    assert before.isoformat() <= body["next_sync_at"].replace("Z", "+00:00") <= timezone.now().isoformat()
    assert body["last_run"] is None and body["records"]["contact"] == 0
    Integration.objects.filter(pk=integration.pk).update(status="paused")
    assert api.get(f"/api/v1/integrations/{integration.pk}/status/").json()["next_sync_at"] is None


def test_the_schema_documents_the_status_fields(api):
    schema = api.get("/api/schema/?format=json").json()
    status = schema["components"]["schemas"]["IntegrationStatus"]["properties"]
    assert {"last_run", "records", "open_conflicts", "failed_records", "next_sync_at", "health"} <= set(
        status
    )
    assert set(schema["components"]["schemas"]["LastRun"]["properties"]) >= {
        "id",
        "kind",
        "finished_at",
        "pushed",
    }
    assert set(schema["components"]["schemas"]["RecordCounts"]["properties"]) == {
        "contact",
        "company",
        "deal",
        "activity",
        "conversation",
    }
