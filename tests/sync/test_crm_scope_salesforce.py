"""Relations, custom fields and leads through whole sync runs against the Salesforce emulator, read
back and written with simple-salesforce (the client a Salesforce developer would use)."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.format import format_soql

from connectors.registry import emulator_module
from integrations.tokens import IntegrationTokenStore
from sync.fields import fields_refresh
from sync.mapping import mappings_replace
from sync.models import Company, Contact, Deal, EntityLink
from sync.services import record_update
from tests.sandbox import simple_salesforce_client
from tests.sync.helpers import local_of, remote_id_of, run_to_success

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def org():
    emulator_module("salesforce").emulator.reset()


@pytest.fixture
def integration(org, integration_for):
    return integration_for("salesforce")


def client(integration):
    tokens = IntegrationTokenStore(integration.pk).load()
    return simple_salesforce_client(tokens.extra["instance_url"], tokens.access_token)


def test_local_relations_are_pushed_as_lookups_and_contact_roles(integration, subaccount):
    acme = Company.objects.create(subaccount=subaccount, name="Acme")
    ana = Contact.objects.create(
        subaccount=subaccount, last_name="Lee", email="ana@example.com", company=acme
    )
    bo = Contact.objects.create(subaccount=subaccount, last_name="Bo", email="bo@example.com")
    deal = Deal.objects.create(
        subaccount=subaccount, name="Big", stage="Prospecting", close_date="2026-12-31", company=acme
    )
    deal.contacts.add(ana, bo)

    run_to_success(integration, "full")

    sf = client(integration)
    account = remote_id_of(integration, "company", acme)
    assert sf.Contact.get(remote_id_of(integration, "contact", ana))["AccountId"] == account
    opportunity = remote_id_of(integration, "deal", deal)
    assert sf.Opportunity.get(opportunity)["AccountId"] == account
    roles = sf.query(
        format_soql("SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = {}", opportunity)
    )
    assert sorted(r["ContactId"] for r in roles["records"]) == sorted(
        [remote_id_of(integration, "contact", ana), remote_id_of(integration, "contact", bo)]
    )

    # a local change of relation is pushed as one: the old role goes, the lookup moves
    beta = Company.objects.create(subaccount=subaccount, name="Beta")
    record_update(
        record=Deal.objects.get(pk=deal.pk),
        fields={"company_id": beta.pk, "contact_ids": [ana.pk]},
        origin="api_key:t",
    )
    run_to_success(integration, "full")
    assert sf.Opportunity.get(opportunity)["AccountId"] == remote_id_of(integration, "company", beta)
    roles = sf.query(
        format_soql("SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = {}", opportunity)
    )
    assert [r["ContactId"] for r in roles["records"]] == [remote_id_of(integration, "contact", ana)]


def test_relations_made_in_salesforce_are_pulled(integration, subaccount):
    run_to_success(integration, "full")
    sf = client(integration)
    account = sf.Account.create({"Name": "Globex"})["id"]
    contact = sf.Contact.create({"LastName": "Kim", "Email": "kim@example.com", "AccountId": account})["id"]
    opportunity = sf.Opportunity.create(
        {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-12-31", "AccountId": account}
    )["id"]
    sf.OpportunityContactRole.create({"OpportunityId": opportunity, "ContactId": contact})
    sf.Task.create({"Subject": "Call Kim", "WhoId": contact, "WhatId": opportunity})

    run_to_success(integration)

    company = local_of(integration, "company", account)
    kim = local_of(integration, "contact", contact)
    deal = local_of(integration, "deal", opportunity)
    assert kim.company == company and deal.company == company and deal.contact_ids == [kim.pk]
    activity = deal.activities.get()
    assert (activity.contact, activity.subject) == (kim, "Call Kim")


def test_a_converted_lead_relinks_its_contact_without_a_duplicate(org, subaccount, integration_for):
    integration = integration_for("salesforce", settings={"lead_mode": "both"})
    sf = client(integration)
    lead = sf.Lead.create(
        {"FirstName": "Ana", "LastName": "Lee", "Company": "Acme", "Email": "ana@example.com"}
    )["id"]
    run_to_success(integration, "full")
    ana = local_of(integration, "contact", lead)
    assert ana.lifecycle_stage == "lead"

    (answer,) = sf.restful(
        "actions/standard/convertLead",
        method="POST",
        json={
            "inputs": [
                {"leadId": lead, "convertedStatus": "Closed - Converted", "opportunityName": "Acme deal"}
            ]
        },
    )
    run_to_success(integration)

    out = answer["outputValues"]
    assert Contact.objects.filter(subaccount=subaccount, email="ana@example.com").count() == 1
    assert local_of(integration, "contact", out["contactId"]) == ana
    assert not EntityLink.objects.filter(integration=integration, remote_id=lead).exists()
    acme = local_of(integration, "company", out["accountId"])
    assert Contact.objects.get(pk=ana.pk).company == acme
    assert local_of(integration, "deal", out["opportunityId"]).company == acme


def test_custom_fields_are_discovered_mapped_by_label_pulled_and_pushed(integration, subaccount):
    tokens = IntegrationTokenStore(integration.pk).load()
    requests.post(
        f"{tokens.extra['instance_url']}/_control/settings",
        json={
            "custom_fields": {
                "Contact": {
                    "Favourite_Colour__c": {
                        "type": "picklist",
                        "label": "Favourite colour",
                        "picklist": [
                            {"value": "dk_blue", "label": "Dark blue"},
                            {"value": "red", "label": "Red"},
                        ],
                    },
                    "Seats__c": {"type": "double", "label": "Seats"},
                }
            }
        },
        timeout=10,
    ).raise_for_status()
    fields_refresh(integration)
    rows = mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {"local": "last_name", "remote": "LastName"},
            {"local": "email", "remote": "Email"},
            {"local": "custom_fields.colour", "remote_label": "Favourite colour"},
            {"local": "custom_fields.seats", "remote_label": "seats"},
        ],
    )
    assert [row.remote for row in rows][2:] == ["Favourite_Colour__c", "Seats__c"]
    sf = client(integration)
    made = sf.Contact.create(
        {"LastName": "Kim", "Email": "kim@example.com", "Favourite_Colour__c": "dk_blue", "Seats__c": 12}
    )["id"]

    run_to_success(integration, "full")

    kim = local_of(integration, "contact", made)
    assert kim.custom_fields == {"colour": "Dark blue", "seats": "12"}
    record_update(record=kim, fields={"custom_fields": {"colour": "Red", "seats": 40}}, origin="api_key:t")
    run_to_success(integration)
    stored = sf.Contact.get(made)
    assert (stored["Favourite_Colour__c"], stored["Seats__c"]) == ("red", 40)
