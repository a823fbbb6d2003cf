"""Relations and custom fields through whole sync runs against the Pipedrive emulator, read back
with pipedrive-python-lib."""

import pytest
from pipedrive.client import Client

from sync.fields import fields_refresh
from sync.mapping import mappings_replace
from sync.models import Company, Contact, Deal, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from tests.sandbox import sandbox_integration


@pytest.fixture
def integration(pd, catalog, subaccount, sandbox_url):
    return sandbox_integration(subaccount, "pipedrive", sandbox_url)


@pytest.fixture
def lib(integration) -> Client:
    client = Client(domain=integration.config["base_url"])
    client.BASE_URL = integration.config["base_url"] + "/api/v2/"
    client.set_api_token(integration.config["api_token"])
    return client


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


def test_local_relations_are_pushed_as_id_fields_and_cleared(integration, lib, subaccount):
    acme = Company.objects.create(subaccount=subaccount, name="Acme")
    ana = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lee", email="ana@example.com", company=acme
    )
    deal = Deal.objects.create(subaccount=subaccount, name="Big", company=acme)
    deal.contacts.add(ana)

    run(integration, "full")

    org = int(remote_id(integration, "company", acme))
    person = lib.persons.get_person(remote_id(integration, "contact", ana))["data"]
    assert (
        person["org_id"] == org
        and person["name"] == "Ana Lee"
        and person["emails"][0]["value"] == "ana@example.com"
    )
    pipedrive_deal = lib.deals.get_deal(remote_id(integration, "deal", deal))["data"]
    assert (pipedrive_deal["org_id"], pipedrive_deal["person_id"]) == (org, person["id"])

    record_update(record=Deal.objects.get(pk=deal.pk), fields={"company_id": None}, origin="api_key:t")
    run(integration)
    assert lib.deals.get_deal(pipedrive_deal["id"])["data"]["org_id"] is None


def test_relations_made_in_pipedrive_are_pulled(integration, lib):
    org = lib.organizations.create_organization({"name": "Globex"})["data"]["id"]
    person = lib.persons.create_person({"name": "Kim Park", "org_id": org})["data"]["id"]
    deal = lib.deals.create_deal({"title": "Deal", "org_id": org, "person_id": person})["data"]["id"]

    run(integration, "full")

    kim = local(integration, "contact", str(person), Contact)
    globex = local(integration, "company", str(org), Company)
    stored = local(integration, "deal", str(deal), Deal)
    assert (kim.first_name, kim.last_name) == ("Kim", "Park")
    assert kim.company == globex and stored.company == globex and stored.contact_ids == [kim.pk]


def test_custom_fields_are_discovered_mapped_by_label_pulled_and_pushed(integration, lib, pd):
    tier = pd.add_custom_field("persons", "Customer tier", "enum", ["Gold", "Silver"])
    seats = pd.add_custom_field("persons", "Seats", "double")
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
    person = lib.persons.create_person(
        {
            "name": "Ana Lee",
            "emails": [{"value": "ana@example.com", "primary": True}],
            "custom_fields": {tier["key"]: 1, seats["key"]: 12},
        }
    )["data"]["id"]

    run(integration, "full")

    ana = local(integration, "contact", str(person), Contact)
    assert ana.custom_fields == {"tier": "Gold", "seats": "12"}
    record_update(record=ana, fields={"custom_fields": {"tier": "Silver", "seats": 40}}, origin="api_key:t")
    run(integration)
    read = lib.persons.get_person(person)["data"]["custom_fields"]
    assert (read[tier["key"]], read[seats["key"]]) == (2, 40)
