"""Relations and custom fields through whole sync runs against the HubSpot emulator, written and
read back with HubSpot's own Python client (hubspot-api-client)."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput
from hubspot.crm.properties import OptionInput, PropertyCreate

from connectors.base import WebhookEvent
from connectors.registry import emulator_module
from sync.fields import fields_refresh
from sync.mapping import mappings_replace
from sync.models import Company, Contact, Deal
from sync.services import record_update
from sync.webhook_apply import apply_webhook_events
from tests.sync.helpers import local_of, remote_id_of, run_to_success

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(integration_for):
    emulator_module("hubspot").emulator.reset()
    return integration_for("hubspot")


@pytest.fixture
def official(integration) -> HubSpot:
    return HubSpot(access_token=integration.config["access_token"], host=integration.config["base_url"])


def associated(official: HubSpot, from_type: str, from_id: str, to_type: str) -> list[str]:
    page = official.crm.associations.v4.basic_api.get_page(from_type, from_id, to_type)
    return sorted(str(r.to_object_id) for r in page.results)


def test_local_relations_are_pushed_as_associations(integration, official, subaccount):
    acme = Company.objects.create(subaccount=subaccount, name="Acme")
    ana = Contact.objects.create(subaccount=subaccount, email="ana@example.com", company=acme)
    bo = Contact.objects.create(subaccount=subaccount, email="bo@example.com")
    deal = Deal.objects.create(subaccount=subaccount, name="Big", company=acme)
    deal.contacts.add(ana, bo)

    run_to_success(integration, "full")

    company_id = remote_id_of(integration, "company", acme)
    assert associated(official, "contacts", remote_id_of(integration, "contact", ana), "companies") == [
        company_id
    ]
    deal_id = remote_id_of(integration, "deal", deal)
    assert associated(official, "deals", deal_id, "companies") == [company_id]
    assert associated(official, "deals", deal_id, "contacts") == sorted(
        [remote_id_of(integration, "contact", ana), remote_id_of(integration, "contact", bo)]
    )

    record_update(
        record=Deal.objects.get(pk=deal.pk),
        fields={"contact_ids": [bo.pk], "company_id": None},
        origin="api_key:t",
    )
    run_to_success(integration)
    assert associated(official, "deals", deal_id, "contacts") == [remote_id_of(integration, "contact", bo)]
    assert associated(official, "deals", deal_id, "companies") == []


def test_associations_made_in_hubspot_are_pulled_and_changes_arrive_by_webhook(integration, official):
    firm = official.crm.companies.basic_api.create(CompanyInput(properties={"name": "Globex"})).id
    other = official.crm.companies.basic_api.create(CompanyInput(properties={"name": "Initech"})).id
    person = official.crm.contacts.basic_api.create(ContactInput(properties={"email": "kim@example.com"})).id
    deal = official.crm.deals.basic_api.create(DealInput(properties={"dealname": "Deal"})).id
    v4 = official.crm.associations.v4.basic_api
    v4.create_default("contacts", person, "companies", firm)
    v4.create_default("deals", deal, "companies", firm)
    v4.create_default("deals", deal, "contacts", person)

    run_to_success(integration, "full")

    kim = local_of(integration, "contact", person)
    globex = local_of(integration, "company", firm)
    stored = local_of(integration, "deal", deal)
    assert kim.company == globex and stored.company == globex and stored.contact_ids == [kim.pk]

    # HubSpot does not move a record's modified date for an association: the associationChange
    # webhook is what tells us, and the record is fetched with its associations.
    v4.archive("contacts", person, "companies", firm)
    v4.create_default("contacts", person, "companies", other)
    event = WebhookEvent(
        event_id="a1", entity="contact", remote_id=person, action="updated", occurred_at=None
    )
    apply_webhook_events(integration=integration, events=[event])
    assert Contact.objects.get(pk=kim.pk).company == local_of(integration, "company", other)


def test_custom_properties_are_discovered_mapped_by_label_pulled_and_pushed(
    integration, official, subaccount
):
    official.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="customer_tier",
            label="Customer tier",
            type="enumeration",
            field_type="select",
            group_name="contactinformation",
            options=[
                OptionInput(label="Gold", value="gold", display_order=0, hidden=False),
                OptionInput(label="Silver", value="silver", display_order=1, hidden=False),
            ],
        ),
    )
    official.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="seats", label="Seats", type="number", field_type="number", group_name="contactinformation"
        ),
    )
    fields_refresh(integration)
    mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {"local": "email", "remote": "email"},
            {"local": "custom_fields.tier", "remote_label": "Customer tier"},
            {"local": "custom_fields.seats", "remote_label": "Seats"},
        ],
    )
    person = official.crm.contacts.basic_api.create(
        ContactInput(properties={"email": "ana@example.com", "customer_tier": "gold", "seats": "12"})
    ).id

    run_to_success(integration, "full")

    ana = local_of(integration, "contact", person)
    assert ana.custom_fields == {"tier": "Gold", "seats": "12"}
    record_update(record=ana, fields={"custom_fields": {"tier": "Silver", "seats": 40}}, origin="api_key:t")
    run_to_success(integration)
    read = official.crm.contacts.basic_api.get_by_id(person, properties=["customer_tier", "seats"])
    assert (read.properties["customer_tier"], read.properties["seats"]) == ("silver", "40")
