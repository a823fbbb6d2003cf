"""The sync engine end to end over real HTTP against the emulators (runs executed in the foreground)."""

from __future__ import annotations

import time

import pytest

from connectors.registry import emulator_module
from integrations.models import Integration
from sync.conflicts import conflict_resolve
from sync.mapping import mappings_replace
from sync.models import Change, Conflict, Contact, EntityLink, SyncCursor, SyncRecordError, SyncRun
from sync.runs import SyncBusy, sync_retry_failed, sync_run_execute, sync_run_request

pytestmark = pytest.mark.django_db(transaction=True)

REMOTE_CONTACTS = {"hubspot": "contacts", "salesforce": "Contact"}
EMAIL_FIELD = {"hubspot": "email", "salesforce": "Email"}
NAME_FIELD = {"hubspot": "firstname", "salesforce": "FirstName"}


def run_sync(integration: Integration, kind: str = "delta") -> SyncRun:
    run = sync_run_request(integration=integration, kind=kind, entities=["contact"], enqueue=False)
    return sync_run_execute(run_id=run.pk)


def remote_contacts(provider: str) -> list[dict]:
    em = emulator_module(provider).emulator
    return [r.data for r in em.records(REMOTE_CONTACTS[provider]).filter(archived=False)]


def test_full_sync_imports_everything_matches_by_email_and_exports_local_only(
    provider, emulator, integration_for, subaccount
):
    emulator.seed(REMOTE_CONTACTS[provider], 25, None)
    emails = sorted(r[EMAIL_FIELD[provider]] for r in remote_contacts(provider))
    twin = Contact.objects.create(subaccount=subaccount, email=emails[0].upper().lower(), first_name="Local")
    Contact.objects.create(
        subaccount=subaccount, email="only-local@example.com", first_name="Only", last_name="Local"
    )
    integration = integration_for(provider)

    run = run_sync(integration, "full")

    assert run.status == "succeeded", (run.error, list(run.record_errors.values_list("message", flat=True)))
    assert (
        Contact.objects.filter(subaccount=subaccount).count() == 26
    )  # 25 remote + 1 local-only, no duplicate
    assert EntityLink.objects.filter(integration=integration, entity="contact").count() == 26
    assert EntityLink.objects.get(integration=integration, local_id=twin.pk)
    assert any(r[EMAIL_FIELD[provider]] == "only-local@example.com" for r in remote_contacts(provider))
    # The export comes back with what the provider filled in (Salesforce assigns OwnerId): taken once,
    # then re-applying the same remote state changes nothing.
    run_sync(integration, "full")
    again = run_sync(integration, "full")
    assert (again.created, again.updated, again.pushed) == (0, 0, 0)
    assert Contact.objects.filter(subaccount=subaccount).count() == 26


def test_delta_brings_a_remote_edit_and_pushes_a_local_edit_without_echo(
    provider, emulator, integration_for, subaccount
):
    emulator.seed(REMOTE_CONTACTS[provider], 5, None)
    integration = integration_for(provider)
    run_sync(integration, "full")
    link = EntityLink.objects.filter(integration=integration).order_by("id").first()
    bare_id = link.remote_id.split("/")[-1]
    emulator.touch(REMOTE_CONTACTS[provider], bare_id, {NAME_FIELD[provider]: "Remote-Edit"})
    other = Contact.objects.exclude(pk=link.local_id).filter(subaccount=subaccount).first()
    from sync.services import record_update

    record_update(record=other, fields={"first_name": "Local-Edit"}, origin="api")

    run = run_sync(integration)

    assert run.status == "succeeded", run.error
    assert Contact.objects.get(pk=link.local_id).first_name == "Remote-Edit"
    assert any(r[NAME_FIELD[provider]] == "Local-Edit" for r in remote_contacts(provider))
    changes_before = Change.objects.count()
    quiet = run_sync(integration)  # our own push comes back: no change, no new Change row
    assert (quiet.updated, quiet.created, quiet.pushed) == (0, 0, 0)
    assert Change.objects.count() == changes_before


@pytest.mark.parametrize(
    ("strategy", "expected"), [("app_wins", "Local"), ("crm_wins", "Remote"), ("newest_wins", "Remote")]
)
def test_conflict_strategies_settle_a_field_changed_on_both_sides(
    emulator, integration_for, subaccount, strategy, expected
):
    provider = "hubspot"
    emulator_module(provider).emulator.reset()
    emulator_module(provider).emulator.seed("contacts", 1, None)
    integration = integration_for(provider, conflict_strategy=strategy)
    run_sync(integration, "full")
    link = EntityLink.objects.get(integration=integration)
    from sync.services import record_update

    record_update(record=Contact.objects.get(pk=link.local_id), fields={"first_name": "Local"}, origin="api")
    time.sleep(0.01)  # HubSpot stamps milliseconds: make the remote edit unambiguously the newer one
    emulator_module(provider).emulator.touch("contacts", link.remote_id, {"firstname": "Remote"})

    run = run_sync(integration)

    assert run.status == "succeeded"
    assert Contact.objects.get(pk=link.local_id).first_name == expected
    assert remote_contacts(provider)[0]["firstname"] == expected
    settled = Conflict.objects.get(integration=integration)  # recorded, so it can be audited
    assert (settled.status, settled.field, settled.resolved_by, settled.resolved_value) == (
        "resolved",
        "first_name",
        f"strategy:{strategy}",
        expected,
    )
    assert settled.resolution == ("local" if expected == "Local" else "remote")
    assert not Conflict.objects.filter(status="open").exists()


def test_manual_conflict_is_recorded_other_fields_flow_and_resolution_is_pushed(integration_for, subaccount):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 1, None)
    integration = integration_for("hubspot", conflict_strategy="manual")
    run_sync(integration, "full")
    link = EntityLink.objects.get(integration=integration)
    from sync.services import record_update

    record_update(record=Contact.objects.get(pk=link.local_id), fields={"first_name": "Local"}, origin="api")
    em.touch("contacts", link.remote_id, {"firstname": "Remote", "jobtitle": "CTO"})

    run = run_sync(integration)

    contact = Contact.objects.get(pk=link.local_id)
    assert run.conflicts == 1 and contact.first_name == "Local" and contact.job_title == "CTO"
    conflict = Conflict.objects.get(integration=integration)
    assert (conflict.field, conflict.local_value, conflict.remote_value) == ("first_name", "Local", "Remote")
    assert remote_contacts("hubspot")[0]["firstname"] == "Remote"  # held while the conflict is open

    conflict_resolve(conflict=conflict, choice="custom", value="Chosen", actor="test")
    run_sync(integration)

    assert Contact.objects.get(pk=link.local_id).first_name == "Chosen"
    assert remote_contacts("hubspot")[0]["firstname"] == "Chosen"


def test_remote_delete_archives_locally_and_local_delete_propagates(integration_for, subaccount):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 3, None)
    integration = integration_for("hubspot", delete_policy="propagate")
    run_sync(integration, "full")
    first, second = EntityLink.objects.filter(integration=integration).order_by("id")[:2]
    em.records("contacts").filter(remote_id=first.remote_id).update(archived=True)
    from django.utils import timezone

    em.records("contacts").filter(remote_id=first.remote_id).update(archived_at=timezone.now())
    from sync.services import record_delete

    record_delete(record=Contact.objects.get(pk=second.local_id), origin="api")

    run = run_sync(integration)

    assert run.status == "succeeded", run.error
    assert Contact.objects.get(pk=first.local_id).is_deleted
    assert em.records("contacts").get(remote_id=second.remote_id).archived


def test_push_batches_at_the_provider_cap_and_a_rejected_record_fails_alone(integration_for, subaccount):
    em = emulator_module("salesforce").emulator
    em.reset()
    integration = integration_for("salesforce")
    Contact.objects.bulk_create(
        [
            Contact(subaccount=subaccount, first_name=f"P{i}", last_name=f"L{i}", email=f"p{i}@example.com")
            for i in range(205)
        ]
    )
    Contact.objects.create(subaccount=subaccount, first_name="NoLastName", email="bad@example.com")

    run = run_sync(integration, "full")

    assert run.status == "partial"
    assert run.pushed == 205 and run.failed == 1
    error = SyncRecordError.objects.get(integration=integration)
    assert error.direction == "push" and "LastName" in error.message
    assert len(remote_contacts("salesforce")) == 205
    # The hourly retry tries again (still refused), at most 3 attempts in all.
    for _ in range(4):
        sync_retry_failed(integration=integration)
    assert SyncRecordError.objects.filter(integration=integration, resolved=False).get().attempts == 3


def test_custom_mapping_with_transform_flows_inbound(integration_for, subaccount):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 2, None)
    integration = integration_for("hubspot")
    mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {
                "local": "email",
                "remote": "email",
                "direction": "both",
                "transform": {"name": "lowercase", "args": {}},
            },
            {
                "local": "lifecycle_stage",
                "remote": "lifecyclestage",
                "direction": "from_remote",
                "transform": {
                    "name": "value_map",
                    "args": {"map": {"lead": "Lead", "customer": "Customer"}, "default": "Other"},
                },
            },
            {"local": "custom:hs_id_copy", "remote": "firstname", "direction": "from_remote"},
        ],
    )
    run = run_sync(integration, "full")
    assert run.status == "succeeded", run.error
    contact = Contact.objects.filter(subaccount=subaccount).first()
    assert contact.lifecycle_stage in {"Lead", "Customer", "Other"}
    assert contact.custom_fields["hs_id_copy"]


def test_only_one_run_per_integration_at_a_time(integration_for):
    integration = integration_for("hubspot")
    sync_run_request(integration=integration, kind="delta", enqueue=False)
    with pytest.raises(SyncBusy):
        sync_run_request(integration=integration, kind="delta", enqueue=False)


def test_revoked_credentials_fail_the_run_and_mark_the_integration(integration_for):
    integration = integration_for("hubspot")
    integration.config = {**integration.config, "access_token": "pat-revoked-0000"}
    integration.save()
    run = run_sync(integration)
    integration.refresh_from_db()
    assert run.status == "failed" and "credentials" in run.error.lower()
    assert integration.status == "error" and "pat-revoked-0000" not in integration.last_error


def test_a_value_a_transform_cannot_take_fails_that_record_alone_and_the_page_goes_on(
    integration_for, subaccount
):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 4, None)
    bad = em.records("contacts").order_by("id").first()
    em.touch("contacts", bad.remote_id, {"phone": "not a phone number"})
    integration = integration_for("hubspot")

    run = run_sync(integration, "full")

    assert run.status == "partial" and run.failed == 1
    error = SyncRecordError.objects.get(integration=integration)
    assert error.remote_id == bad.remote_id and "e164" in error.message and error.direction == "pull"
    assert Contact.objects.filter(subaccount=subaccount).count() == 3
    assert SyncCursor.objects.get(integration=integration, entity="contact", kind="pull").position  # moved on


def test_a_record_whose_value_cannot_be_mapped_fails_alone_in_a_push(integration_for, subaccount):
    emulator_module("hubspot").emulator.reset()
    # Written around the services (an import, a region changed since): not a phone E.164 knows.
    Contact.objects.create(subaccount=subaccount, email="bad-phone@example.com", phone="+353800000000")
    Contact.objects.create(subaccount=subaccount, email="good@example.com", phone="+12025550123")
    run = run_sync(integration_for("hubspot"), "full")
    assert (run.status, run.failed) == ("partial", 1)
    [error] = SyncRecordError.objects.filter(run=run)
    assert "e164" in error.message and error.direction == "push"
    assert [c["email"] for c in remote_contacts("hubspot")] == ["good@example.com"]
