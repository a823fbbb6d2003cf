"""The run pages (sync/admin_runs.py): a run reads like a sentence, its entities are labels, the live
fragment and progress.json carry rate/ETA/counters, and a failed record is retried from its page
(over real HTTP to the HubSpot emulator); another tenant's run is a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from connectors.registry import emulator_module
from integrations.models import Membership
from sync.models import Contact, SyncRecordError, SyncRun
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot():
    emulator = emulator_module("hubspot").emulator
    emulator.reset()
    return emulator


@pytest.fixture
def integration(catalog, subaccount, sandbox_url, hubspot):
    return sandbox_integration(subaccount, "hubspot", sandbox_url, name="HubSpot (sandbox)")


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    return client


def staff_of(client, subaccount):
    """A staff user of ``subaccount`` only, with the sync app's permissions."""
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(user.user_permissions.model.objects.filter(content_type__app_label="sync"))
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)
    return client


def full_sync(integration) -> SyncRun:
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    return sync_run_execute(run_id=run.pk)


def test_a_finished_run_reads_like_a_sentence_with_entity_labels_and_a_status_badge(
    operator, integration, hubspot
):
    hubspot.seed("contacts", 7, None)
    run = full_sync(integration)
    assert run.status == "succeeded"

    page = operator.get(f"/admin/sync/syncrun/{run.pk}/change/").content.decode()

    seconds = f"{run.duration_seconds:.1f} s"
    assert f"Full sync · HubSpot (sandbox) · Acme · 7 records in {seconds}" in page
    assert '<span class="run-entity">contact</span>' in page
    assert "[&#x27;contact&#x27;]" not in page and "['contact']" not in page
    assert 'class="badge badge-succeeded' in page and "Succeeded" in page
    assert 'id="run-count-created">7<' in page
    assert "No record failed." in page
    assert str(run) == f"Full sync #{run.pk} · HubSpot (sandbox)"
    delete = operator.get(f"/admin/sync/syncrun/{run.pk}/delete/")
    assert delete.status_code == 200 and f"Full sync #{run.pk} · HubSpot (sandbox)" in delete.content.decode()

    listing = operator.get("/admin/sync/syncrun/").content.decode()
    assert f"Full sync · HubSpot (sandbox) · Acme · 7 records in {seconds}" in listing
    assert '<span class="run-entity">contact</span>' in listing and "run-progress succeeded" in listing


def test_an_active_run_says_so_far_and_progress_json_has_rate_eta_and_counters(operator, integration):
    started = timezone.now() - timedelta(seconds=10)
    run = SyncRun.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        kind="delta",
        entities=["contact", "company"],
        status="running",
        phase="pulling contacts",
        processed=312,
        created=300,
        updated=12,
        progress_total=624,
        started_at=started,
    )

    progress = operator.get(f"/admin/sync/syncrun/{run.pk}/progress.json").json()

    assert progress["title"] == "Delta sync · HubSpot (sandbox) · Acme · 312 records so far"
    assert (
        progress["active"] is True and progress["percent"] == 50 and progress["phase"] == "pulling contacts"
    )
    assert 25 < progress["rate"] < 35  # ≈ 312 records in 10 s
    assert 8 < progress["eta_seconds"] < 12  # as many left at that rate
    assert progress["counters"] == {
        "processed": 312,
        "created": 300,
        "updated": 12,
        "unchanged": 0,
        "deleted": 0,
        "pushed": 0,
        "conflicts": 0,
        "failed": 0,
    }
    assert progress["label"] == "50 % · pulling contacts" and progress["errors"] == []

    live = operator.get(f"/admin/sync/syncrun/{run.pk}/live/").content.decode()
    assert 'data-active="1"' in live and "312 records so far" in live
    assert 'id="run-phase">pulling contacts<' in live and "records/s" in live
    assert '<span class="run-entity">company</span>' in live


def test_retrying_a_failed_push_after_fixing_the_record_sends_it_and_resolves_the_error(
    operator, integration, hubspot, subaccount
):
    # A phone no region can format as E.164: HubSpot's mapping refuses it and the push fails.
    bad = Contact.objects.create(subaccount=subaccount, email="bad-phone@example.com", phone="+353800000000")
    Contact.objects.create(subaccount=subaccount, email="good@example.com", phone="+12025550123")
    run = full_sync(integration)
    assert (run.status, run.failed) == ("partial", 1)
    error = SyncRecordError.objects.get(run=run)

    page = operator.get(f"/admin/sync/syncrun/{run.pk}/change/").content.decode()
    assert f'id="record-error-{error.pk}"' in page and "e164" in page
    assert f'href="/admin/sync/contact/{bad.pk}/change/"' in page  # the record, linked
    assert (
        f"/admin/sync/syncrun/{run.pk}/errors/{error.pk}/retry/" in page and "Retry all 1 open error" in page
    )

    # Still broken: the retry fails again and says so; the error moves to the retry run.
    response = operator.post(f"/admin/sync/syncrun/{run.pk}/errors/{error.pk}/retry/", follow=True)
    assert "failed again" in response.content.decode()
    again = SyncRecordError.objects.get(resolved=False)
    assert again.run.kind == "retry" and again.attempts == 2 and again.local_id == bad.pk

    record_update(record=bad, fields={"phone": "+12025550199"}, origin="api")  # the cause, fixed
    response = operator.post(f"/admin/sync/syncrun/{again.run_id}/errors/{again.pk}/retry/", follow=True)

    assert "all went through" in response.content.decode()
    assert not SyncRecordError.objects.filter(resolved=False).exists()
    pushed = [r.data for r in hubspot.records("contacts").filter(archived=False)]
    assert any(r.get("email") == "bad-phone@example.com" and r.get("phone") for r in pushed)


def test_retry_is_post_only_and_another_tenants_run_is_a_404(
    client, integration, other_subaccount, catalog, sandbox_url
):
    run = SyncRun.objects.create(
        subaccount=integration.subaccount, integration=integration, kind="delta", status="partial"
    )
    error = SyncRecordError.objects.create(
        run=run, integration=integration, entity="contact", direction="pull", remote_id="9", message="x"
    )
    staff = staff_of(client, other_subaccount)
    for url in (
        f"/admin/sync/syncrun/{run.pk}/change/",
        f"/admin/sync/syncrun/{run.pk}/live/",
        f"/admin/sync/syncrun/{run.pk}/progress.json",
    ):
        assert staff.get(url).status_code == 404, url
    assert staff.post(f"/admin/sync/syncrun/{run.pk}/errors/{error.pk}/retry/").status_code == 404
    assert staff.post(f"/admin/sync/syncrun/{run.pk}/errors/retry/").status_code == 404
    assert staff.get(f"/admin/sync/syncrun/{run.pk}/errors/retry/").status_code == 405
    error.refresh_from_db()
    assert not error.resolved and error.attempts == 1
    assert "HubSpot (sandbox)" not in staff.get("/admin/sync/syncrun/").content.decode()


def test_an_error_of_another_run_is_a_404(operator, integration):
    first = SyncRun.objects.create(subaccount=integration.subaccount, integration=integration, kind="delta")
    second = SyncRun.objects.create(
        subaccount=integration.subaccount, integration=integration, kind="delta", status="partial"
    )
    error = SyncRecordError.objects.create(
        run=first, integration=integration, entity="contact", direction="pull", remote_id="9", message="x"
    )
    assert operator.post(f"/admin/sync/syncrun/{second.pk}/errors/{error.pk}/retry/").status_code == 404
