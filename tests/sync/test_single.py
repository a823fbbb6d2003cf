"""Sync one record now (``sync.single``, ``POST integrations/{id}/sync/ {entity, id|remote_id}``),
over real HTTP against each provider's emulator."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from connectors.registry import emulator_module
from integrations.models import Integration, Membership
from sync import hooks
from sync.lease import lease_acquire, lease_is_free, lease_release
from sync.models import Conflict, Contact, EntityLink, SyncRun
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from sync.single import RecordNotFound, record_sync_now
from tests.connectors.test_contract import control
from tests.integrations.test_api import api_for
from tests.sync.test_engine import EMAIL_FIELD, NAME_FIELD, REMOTE_CONTACTS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)


@pytest.fixture
def finished_runs():
    seen: list[SyncRun] = []

    def receiver(sender, run, **kwargs):
        seen.append(run)

    hooks.sync_run_finished.connect(receiver, weak=False)
    yield seen
    hooks.sync_run_finished.disconnect(receiver)


def sync_one(api, integration: Integration, **body):
    return api.post(
        f"/api/v1/integrations/{integration.pk}/sync/", {"entity": "contact", **body}, format="json"
    )


def full_sync(integration: Integration) -> SyncRun:
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    return sync_run_execute(run_id=run.pk)


def remote(provider: str, remote_id: str) -> dict:
    em = emulator_module(provider).emulator
    return em.records(REMOTE_CONTACTS[provider]).get(remote_id=remote_id.rpartition("/")[2]).data


def test_a_local_only_contact_is_created_remotely_linked_and_logged_as_a_manual_run(
    provider, emulator, integration_for, subaccount, api, finished_runs
):
    integration = integration_for(provider)
    contact = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lima", email="ana@example.com"
    )

    response = sync_one(api, integration, id=contact.pk)

    assert response.status_code == 200, response.content
    body = response.json()
    link = EntityLink.objects.get(integration=integration, entity="contact", local_id=contact.pk)
    run = SyncRun.objects.get(pk=body.pop("sync_run"))
    assert body == {
        "entity": "contact",
        "local_id": contact.pk,
        "remote_id": link.remote_id,
        "pulled": "absent",
        "pushed": "created",
        "conflicts": 0,
        "errors": [],
    }
    assert remote(provider, link.remote_id)[EMAIL_FIELD[provider]] == "ana@example.com"
    assert (run.kind, run.status, run.pushed) == ("manual", "succeeded", 1)
    assert run.requested_by.startswith("api_key:")
    assert run.started_at and run.finished_at
    assert [r.pk for r in finished_runs] == [run.pk]  # the run log's hook fires as for any run
    assert lease_is_free(integration_id=integration.pk)


def test_a_remote_change_is_pulled_for_one_record_by_local_id_and_by_remote_id(
    provider, emulator, integration_for, subaccount, api
):
    emulator.seed(REMOTE_CONTACTS[provider], 3, None)
    integration = integration_for(provider)
    full_sync(integration)
    first, second, third = EntityLink.objects.filter(integration=integration).order_by("id")
    for link in (first, second, third):
        emulator.touch(
            REMOTE_CONTACTS[provider], link.remote_id.rpartition("/")[2], {NAME_FIELD[provider]: "Now"}
        )

    by_local = sync_one(api, integration, id=first.local_id).json()
    by_remote = sync_one(api, integration, remote_id=second.remote_id).json()

    assert (by_local["pulled"], by_local["pushed"], by_local["remote_id"]) == (
        "updated",
        "unchanged",
        first.remote_id,
    )
    assert (by_remote["pulled"], by_remote["local_id"]) == ("updated", second.local_id)
    assert Contact.objects.get(pk=first.local_id).first_name == "Now"
    assert Contact.objects.get(pk=second.local_id).first_name == "Now"
    assert Contact.objects.get(pk=third.local_id).first_name != "Now"  # one record, not a run
    again = sync_one(api, integration, id=first.local_id).json()
    assert (again["pulled"], again["pushed"]) == ("unchanged", "unchanged")


def test_a_remote_record_never_seen_is_created_locally_and_linked(
    provider, emulator, integration_for, subaccount, api
):
    emulator.seed(REMOTE_CONTACTS[provider], 2, None)
    integration = integration_for(provider)
    wanted = emulator.records(REMOTE_CONTACTS[provider]).order_by("pk").first()

    body = sync_one(api, integration, remote_id=wanted.remote_id).json()

    assert body["pulled"] == "created" and body["errors"] == []
    contact = Contact.objects.get(subaccount=subaccount)  # only that one
    assert contact.pk == body["local_id"] and contact.email == wanted.data[EMAIL_FIELD[provider]]
    assert EntityLink.objects.get(integration=integration).remote_id == body["remote_id"]


def test_a_local_change_is_pushed_at_once(provider, emulator, integration_for, subaccount, api):
    emulator.seed(REMOTE_CONTACTS[provider], 1, None)
    integration = integration_for(provider)
    full_sync(integration)
    link = EntityLink.objects.get(integration=integration)
    record_update(
        record=Contact.objects.get(pk=link.local_id), fields={"first_name": "Local-Edit"}, origin="api"
    )

    body = sync_one(api, integration, id=link.local_id).json()

    assert (body["pulled"], body["pushed"]) == ("unchanged", "updated")
    assert remote(provider, link.remote_id)[NAME_FIELD[provider]] == "Local-Edit"


@pytest.mark.parametrize(("strategy", "expected"), [("app_wins", "Local"), ("crm_wins", "Remote")])
def test_a_field_changed_on_both_sides_is_settled_by_the_strategy(
    integration_for, subaccount, api, strategy, expected
):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 1, None)
    integration = integration_for("hubspot", conflict_strategy=strategy)
    full_sync(integration)
    link = EntityLink.objects.get(integration=integration)
    record_update(record=Contact.objects.get(pk=link.local_id), fields={"first_name": "Local"}, origin="api")
    time.sleep(0.01)  # HubSpot stamps milliseconds
    em.touch("contacts", link.remote_id, {"firstname": "Remote"})

    body = sync_one(api, integration, id=link.local_id).json()

    assert body["errors"] == [] and body["conflicts"] == 0
    assert Contact.objects.get(pk=link.local_id).first_name == expected
    assert remote("hubspot", link.remote_id)["firstname"] == expected
    assert not Conflict.objects.filter(status="open").exists()  # settled: recorded, not left open
    settled = Conflict.objects.get(field="first_name")
    assert (settled.status, settled.resolved_by, settled.resolved_value) == (
        "resolved",
        f"strategy:{strategy}",
        expected,
    )


def test_a_field_changed_on_both_sides_under_manual_is_a_conflict_held_from_the_push(
    integration_for, subaccount, api
):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 1, None)
    integration = integration_for("hubspot", conflict_strategy="manual")
    full_sync(integration)
    link = EntityLink.objects.get(integration=integration)
    record_update(record=Contact.objects.get(pk=link.local_id), fields={"first_name": "Local"}, origin="api")
    em.touch("contacts", link.remote_id, {"firstname": "Remote", "jobtitle": "CTO"})

    body = sync_one(api, integration, id=link.local_id).json()

    assert (body["conflicts"], body["pulled"]) == (1, "updated")  # the job title came in
    conflict = Conflict.objects.get(integration=integration)
    assert (conflict.field, conflict.local_value, conflict.remote_value) == ("first_name", "Local", "Remote")
    contact = Contact.objects.get(pk=link.local_id)
    assert (contact.first_name, contact.job_title) == ("Local", "CTO")
    assert remote("hubspot", link.remote_id)["firstname"] == "Remote"
    assert SyncRun.objects.get(pk=body["sync_run"]).conflicts == 1


def test_direction_is_respected(integration_for, subaccount, api):
    emulator_module("hubspot").emulator.reset()
    integration = integration_for("hubspot", direction="inbound")
    contact = Contact.objects.create(subaccount=subaccount, first_name="Stay", email="stay@example.com")

    body = sync_one(api, integration, id=contact.pk).json()

    assert (body["pulled"], body["pushed"], body["remote_id"]) == ("absent", "skipped", None)
    assert not emulator_module("hubspot").emulator.records("contacts").exists()
    integration.direction = "outbound"
    integration.save()
    unknown = sync_one(api, integration, remote_id="12345")
    assert unknown.status_code == 404  # outbound-only never pulls: an unlinked remote id is unknown


def test_a_running_sync_holds_the_record_back_with_409(provider, emulator, integration_for, subaccount, api):
    integration = integration_for(provider)
    contact = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lima", email="a@example.com"
    )
    assert lease_acquire(integration_id=integration.pk, owner="run-1-abc")

    busy = sync_one(api, integration, id=contact.pk)

    assert busy.status_code == 409 and busy.json()["error"]["code"] == "sync_busy"
    assert "running" in busy.json()["error"]["message"]
    assert not EntityLink.objects.exists() and not SyncRun.objects.exists()
    lease_release(integration_id=integration.pk, owner="run-1-abc")
    queued = sync_run_request(integration=integration, entities=["contact"], enqueue=False)
    assert sync_one(api, integration, id=contact.pk).status_code == 409  # it would find the lease taken
    queued.delete()
    assert sync_one(api, integration, id=contact.pk).status_code == 200


def test_another_tenants_record_or_an_unknown_one_is_404(integration_for, subaccount, other_subaccount, api):
    emulator_module("hubspot").emulator.reset()
    integration = integration_for("hubspot")
    theirs = Contact.objects.create(subaccount=other_subaccount, first_name="Secret", email="s@globex.test")

    for body in ({"id": theirs.pk}, {"id": theirs.pk + 1000}, {"remote_id": "999999"}):
        response = sync_one(api, integration, **body)
        assert response.status_code == 404, body
        assert response.json()["error"]["code"] == "not_found"
    assert not EntityLink.objects.exists()
    assert not emulator_module("hubspot").emulator.records("contacts").exists()
    with pytest.raises(RecordNotFound):
        record_sync_now(integration=integration, entity="contact", local_id=theirs.pk, actor="test")


def test_a_record_the_provider_refuses_is_reported_in_errors_and_a_failed_run(
    integration_for, subaccount, api, sandbox_url
):
    emulator_module("hubspot").emulator.reset()
    integration = integration_for("hubspot")
    contact = Contact.objects.create(subaccount=subaccount, first_name="Ana", email="ana@example.com")
    control(sandbox_url, "hubspot", "faults", {"fail_status": 400, "fail_count": 1})

    body = sync_one(api, integration, id=contact.pk).json()

    assert (body["pushed"], body["remote_id"]) == ("failed", None)
    assert body["errors"] == [
        {
            "direction": "push",
            "message": "HubSpot refused the request (400): injected failure",
            "code": "VALIDATION_ERROR",
        }
    ]
    run = SyncRun.objects.get(pk=body["sync_run"])
    assert (run.status, run.failed) == ("failed", 1)
    assert run.record_errors.get().local_id == contact.pk  # retried by the hourly job like any other
    assert not EntityLink.objects.exists()


def test_provider_errors_are_4xx_with_the_providers_message_and_a_failed_run(
    integration_for, subaccount, api, sandbox_url
):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 1, None)
    integration = integration_for("hubspot")
    remote_id = em.records("contacts").get().remote_id
    control(sandbox_url, "hubspot", "faults", {"fail_status": 403, "fail_count": 1})

    refused = sync_one(api, integration, remote_id=remote_id)

    assert refused.status_code == 422, refused.content
    error = refused.json()["error"]
    assert error["code"] == "provider_refused" and "403" in error["message"]
    run = SyncRun.objects.get(kind="manual")
    assert run.status == "failed" and run.error == error["message"]
    assert lease_is_free(integration_id=integration.pk)
    integration.config = {**integration.config, "base_url": "http://127.0.0.1:9"}
    integration.save()
    unreachable = sync_one(api, integration, remote_id=remote_id)
    assert unreachable.status_code == 409 and unreachable.json()["error"]["code"] == "provider_unavailable"
    assert lease_is_free(integration_id=integration.pk)


def test_the_request_body_is_one_form_or_the_other(integration_for, subaccount, api):
    emulator_module("hubspot").emulator.reset()
    integration = integration_for("hubspot")
    url = f"/api/v1/integrations/{integration.pk}/sync/"
    for body in (
        {"entity": "contact"},
        {"entity": "contact", "id": 1, "remote_id": "1"},
        {"entity": "contact", "id": 1, "kind": "full"},
        {"entity": "widget", "id": 1},
        {"kind": "full", "extra": 1},
    ):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid"
    assert not SyncRun.objects.exists()


@pytest.fixture
def operator(subaccount, client):
    user = get_user_model().objects.create_user("bob", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "change_contact"]))
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)
    return client


def test_the_admin_action_syncs_selected_records_with_each_active_integration(
    integration_for, subaccount, operator
):
    emulator_module("hubspot").emulator.reset()
    emulator_module("salesforce").emulator.reset()
    hubspot, salesforce = integration_for("hubspot"), integration_for("salesforce")
    contact = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lima", email="ana@example.com"
    )

    page = operator.post(
        "/admin/sync/contact/", {"action": "sync_now", "_selected_action": [contact.pk]}, follow=True
    )

    assert page.status_code == 200
    shown = [str(m) for m in page.context["messages"]]
    assert len(shown) == 2 and all("pushed created" in m for m in shown), shown
    for integration in (hubspot, salesforce):
        assert EntityLink.objects.get(integration=integration, local_id=contact.pk)
        assert SyncRun.objects.get(integration=integration).requested_by == "user:bob"


def test_the_admin_action_refuses_more_than_twenty_records(integration_for, subaccount, operator):
    emulator_module("hubspot").emulator.reset()
    integration_for("hubspot")
    ids = [Contact.objects.create(subaccount=subaccount, first_name=f"C{i}").pk for i in range(21)]

    page = operator.post("/admin/sync/contact/", {"action": "sync_now", "_selected_action": ids}, follow=True)

    assert "at most 20" in str(next(iter(page.context["messages"])))
    assert not SyncRun.objects.exists() and not EntityLink.objects.exists()
