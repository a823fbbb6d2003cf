"""Sync endpoints: trigger (202 / 409), runs, mappings with validation, conflicts and resolution, tenancy."""

import pytest

from sync.models import Change, Conflict, Contact, EntityLink, FieldMapping, SyncRun
from tests.factories import IntegrationFactory
from tests.integrations.test_api import api_for


@pytest.fixture
def integration(catalog, subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        status="active",
        config={"auth_mode": "private_app", "access_token": "pat-test-1234"},
    )


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)


def test_sync_request_queues_a_run_after_commit_and_a_second_is_409(
    api, integration, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"/api/v1/integrations/{integration.pk}/sync/", {"kind": "full"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["kind"] == "full"
    assert set(body["entities"]) == {"contact", "company", "deal", "activity"}
    assert len(callbacks) == 1  # enqueued only once the transaction commits
    busy = api.post(f"/api/v1/integrations/{integration.pk}/sync/", {}, format="json")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "sync_busy"
    assert busy.json()["error"]["details"]["sync_run"] == body["id"]


def test_sync_request_validates_its_body(api, integration):
    response = api.post(f"/api/v1/integrations/{integration.pk}/sync/", {"kind": "sometimes"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()["error"]["details"]
    assert not SyncRun.objects.exists()


def test_a_paused_integration_cannot_sync(api, integration):
    integration.status = "paused"
    integration.save()
    response = api.post(f"/api/v1/integrations/{integration.pk}/sync/", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "sync_not_allowed"


def test_sync_runs_list_and_detail_with_errors(api, integration, subaccount):
    run = SyncRun.objects.create(
        subaccount=subaccount, integration=integration, kind="delta", status="partial", processed=10, failed=1
    )
    run.record_errors.create(
        integration=integration,
        entity="contact",
        direction="push",
        local_id=5,
        message="Required fields are missing: [LastName]",
        code="REQUIRED_FIELD_MISSING",
    )
    listed = api.get("/api/v1/sync-runs/").json()["results"]
    assert [r["id"] for r in listed] == [run.pk]
    detail = api.get(f"/api/v1/sync-runs/{run.pk}/").json()
    assert detail["errors"][0]["message"].startswith("Required fields")


def test_mappings_get_defaults_and_put_replaces_with_validation(api, integration):
    body = api.get(f"/api/v1/integrations/{integration.pk}/mappings/").json()
    assert {
        "local": "email",
        "remote": "email",
        "direction": "both",
        "transform": {"name": "lowercase", "args": {}},
    } in body["contact"] or any(
        row["local"] == "email" and row["remote"] == "email" for row in body["contact"]
    )
    rows = [
        {"local": "email", "remote": "email"},
        {"local": "custom:tier", "remote": "tier_c", "direction": "from_remote"},
    ]
    response = api.put(f"/api/v1/integrations/{integration.pk}/mappings/", {"contact": rows}, format="json")
    assert response.status_code == 200, response.content
    assert [r["local"] for r in response.json()["contact"]] == ["email", "custom:tier"]
    assert FieldMapping.objects.filter(integration=integration, entity="contact").count() == 2


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ({"local": "shoe_size", "remote": "x"}, "unknown local field"),
        ({"local": "email", "remote": "email", "transform": {"name": "rot13"}}, "rot13"),
        ({"local": "email", "remote": "email", "direction": "sideways"}, "direction"),
        ({"local": "email", "remote": "not a field!"}, "not a valid field name"),
    ],
)
def test_bad_mappings_are_refused_with_a_clear_message(api, integration, row, needle):
    before = FieldMapping.objects.filter(integration=integration).count()
    response = api.put(f"/api/v1/integrations/{integration.pk}/mappings/", {"contact": [row]}, format="json")
    assert response.status_code == 400
    assert needle in str(response.json()["error"]["details"])
    assert FieldMapping.objects.filter(integration=integration).count() == before


@pytest.fixture
def first_name_conflict(integration, subaccount):
    """A linked contact whose first name changed on both sides: Local here, Remote there, Base before."""
    contact = Contact.objects.create(subaccount=subaccount, first_name="Local")
    link = EntityLink.objects.create(
        integration=integration,
        entity="contact",
        local_id=contact.pk,
        remote_id="77",
        base={"first_name": "Base"},
    )
    conflict = Conflict.objects.create(
        subaccount=subaccount,
        integration=integration,
        entity="contact",
        local_id=contact.pk,
        remote_id="77",
        field="first_name",
        local_value="Local",
        remote_value="Remote",
        base_value="Base",
    )
    return contact, link, conflict


def test_resolving_a_conflict_writes_the_choice_and_marks_it_for_the_push(api, first_name_conflict):
    contact, link, conflict = first_name_conflict
    assert api.get("/api/v1/conflicts/?status=open").json()["results"][0]["id"] == conflict.pk

    response = api.post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/", {"choice": "custom", "value": "Both"}, format="json"
    )

    assert response.status_code == 200 and response.json()["status"] == "resolved"
    contact.refresh_from_db()
    link.refresh_from_db()
    assert contact.first_name == "Both"
    # The remote value was considered: it is the new base, so "Both" differs from it and is pushed.
    assert link.base["first_name"] == "Remote"
    change = Change.objects.filter(record_id=contact.pk).latest("seq")
    assert change.fields == ["first_name"] and change.origin == f"conflict:{conflict.pk}"
    again = api.post(f"/api/v1/conflicts/{conflict.pk}/resolve/", {"choice": "local"}, format="json")
    assert again.status_code == 409


def test_taking_the_remote_value_moves_the_base_so_nothing_is_pushed_back(
    api, integration, first_name_conflict
):
    contact, link, conflict = first_name_conflict
    api.post(f"/api/v1/conflicts/{conflict.pk}/resolve/", {"choice": "remote"}, format="json")
    link.refresh_from_db()
    contact.refresh_from_db()
    assert contact.first_name == "Remote" and link.base["first_name"] == "Remote"
    assert Change.objects.filter(record_id=contact.pk).latest("seq").origin == f"integration:{integration.pk}"


def test_custom_resolution_needs_a_value(api, integration, subaccount):
    conflict = Conflict.objects.create(
        subaccount=subaccount,
        integration=integration,
        entity="contact",
        local_id=1,
        remote_id="1",
        field="first_name",
    )
    response = api.post(f"/api/v1/conflicts/{conflict.pk}/resolve/", {"choice": "custom"}, format="json")
    assert response.status_code == 400 and "value" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("post", "/api/v1/integrations/{integration}/sync/"),
        ("get", "/api/v1/integrations/{integration}/mappings/"),
        ("put", "/api/v1/integrations/{integration}/mappings/"),
        ("get", "/api/v1/sync-runs/{run}/"),
        ("get", "/api/v1/conflicts/{conflict}/"),
        ("post", "/api/v1/conflicts/{conflict}/resolve/"),
    ],
)
def test_another_subaccounts_sync_objects_are_404(catalog, subaccount, other_subaccount, method, route):
    theirs = IntegrationFactory(
        subaccount=other_subaccount,
        status="active",
        config={"auth_mode": "private_app", "access_token": "pat-theirs-1"},
    )
    run = SyncRun.objects.create(subaccount=other_subaccount, integration=theirs, kind="delta")
    conflict = Conflict.objects.create(
        subaccount=other_subaccount,
        integration=theirs,
        entity="contact",
        local_id=1,
        remote_id="1",
        field="email",
    )
    url = route.format(integration=theirs.pk, run=run.pk, conflict=conflict.pk)
    response = getattr(api_for(subaccount), method)(url, {"choice": "local", "contact": []}, format="json")
    assert response.status_code == 404
    assert not SyncRun.objects.filter(integration=theirs).exclude(pk=run.pk).exists()
    assert Conflict.objects.get(pk=conflict.pk).status == "open"
    assert api_for(subaccount).get("/api/v1/sync-runs/").json()["results"] == []


def test_the_schedule_queues_only_integrations_whose_interval_has_passed(
    integration, subaccount, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from sync.tasks import sync_dispatch_due_task

    fresh = IntegrationFactory(
        subaccount=subaccount,
        status="active",
        last_sync_at=timezone.now(),
        config={"auth_mode": "private_app", "access_token": "pat-fresh-1"},
    )
    integration.last_sync_at = timezone.now() - timedelta(minutes=16)
    integration.save()
    with django_capture_on_commit_callbacks(execute=False):
        assert sync_dispatch_due_task.apply().get() == 1
    assert SyncRun.objects.filter(integration=integration, kind="delta").exists()
    assert not SyncRun.objects.filter(integration=fresh).exists()
