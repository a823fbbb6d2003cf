"""Contacts and deals through whole sync runs against the GoHighLevel emulator: local records pushed
(the deal filed in the first pipeline, its contact as ``contactId``), records made in GoHighLevel
pulled with their relation, and a contact deleted there deleted here by the next delta."""

import pytest

from connectors.gohighlevel.emulator.store import PIPELINE_ID, SANDBOX_LOCATION, STAGES
from sync.models import Contact, Deal, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.sandbox import sandbox_integration


@pytest.fixture
def integration(ghl, catalog, subaccount, sandbox_url):
    return sandbox_integration(subaccount, "gohighlevel", sandbox_url)


def run(integration, kind="delta"):
    result = sync_run_execute(run_id=sync_run_request(integration=integration, kind=kind, enqueue=False).pk)
    assert result.status == "succeeded", (
        result.error,
        list(result.record_errors.values_list("message", flat=True)),
    )
    return result


def remote_id(integration, entity, record) -> str:
    return EntityLink.objects.get(integration=integration, entity=entity, local_id=record.pk).remote_id


def local(integration, entity, rid, model):
    return model.objects.get(
        pk=EntityLink.objects.get(integration=integration, entity=entity, remote_id=rid).local_id
    )


def test_local_contacts_and_deals_are_pushed_with_the_deals_contact(integration, subaccount, ghl):
    ana = Contact.objects.create(
        subaccount=subaccount,
        first_name="Ana",
        last_name="Lee",
        email="ana@example.com",
        phone="+14155550100",
    )
    deal = Deal.objects.create(subaccount=subaccount, name="Big", amount=2500)
    deal.contacts.add(ana)

    run(integration, "full")

    contact = ghl.record("contacts", remote_id(integration, "contact", ana)).data
    assert (contact["name"], contact["email"], contact["phone"]) == (
        "Ana Lee",
        "ana@example.com",
        "+14155550100",
    )
    opportunity = ghl.record("opportunities", remote_id(integration, "deal", deal)).data
    assert opportunity["contactId"] == contact["id"] and opportunity["monetaryValue"] == 2500
    assert (opportunity["pipelineId"], opportunity["pipelineStageId"], opportunity["status"]) == (
        PIPELINE_ID,
        STAGES[0][0],
        "open",
    )


def test_records_made_in_gohighlevel_are_pulled_with_their_relation_and_deletions_follow(integration, ghl):
    kim = ghl.save_new(
        "contacts", ghl.contact_body({"firstName": "Kim", "lastName": "Park", "email": "kim@example.com"})
    )
    gone = ghl.save_new("contacts", ghl.contact_body({"firstName": "Gone", "lastName": "Soon"}))
    opp = ghl.save_new(
        "opportunities",
        {
            "name": "Deal",
            "pipelineId": PIPELINE_ID,
            "pipelineStageId": STAGES[1][0],
            "status": "won",
            "monetaryValue": 10,
            "contactId": kim.remote_id,
            "locationId": SANDBOX_LOCATION,
        },
    )

    run(integration, "full")

    stored_kim = local(integration, "contact", kim.remote_id, Contact)
    assert (stored_kim.first_name, stored_kim.last_name, stored_kim.email) == (
        "Kim",
        "Park",
        "kim@example.com",
    )
    stored_deal = local(integration, "deal", opp.remote_id, Deal)
    assert stored_deal.contact_ids == [stored_kim.pk] and stored_deal.stage == STAGES[1][0]
    doomed = local(integration, "contact", gone.remote_id, Contact)

    gone.delete()
    run(integration)

    assert (
        Contact.all_objects.get(pk=doomed.pk).is_deleted
        if hasattr(Contact, "all_objects")
        else not Contact.objects.filter(pk=doomed.pk, is_deleted=False).exists()
    )
