"""Whole sync runs against the Zoho emulator (the engine in-process): a storm of 429s is survived, and a
wrong client secret reaches the wizard's "test connection" as a clear message."""

from __future__ import annotations

import pytest

from connectors import http
from connectors.sandbox.models import SandboxState
from integrations.services import integration_test
from integrations.tokens import IntegrationTokenStore
from sync.fields import fields_refresh
from sync.mapping import mappings_replace
from sync.models import Company, Contact, Deal, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_update
from tests.connectors.zoho.conftest import control
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_full_sync_survives_a_storm_of_429s(zoho, catalog, subaccount, sandbox_url, monkeypatch):
    monkeypatch.setattr(http, "_wait", lambda state: 0.01)
    zoho.seed("Contacts", 450)
    integration = sandbox_integration(subaccount, "zoho", sandbox_url, direction="inbound")
    SandboxState.objects.filter(provider="zoho").update(ratelimit_count=5)  # the next five calls: 429

    run = sync_run_execute(
        run_id=sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False).pk
    )

    assert run.status == "succeeded", run.error
    assert Contact.objects.filter(subaccount=subaccount).count() == 450
    assert SandboxState.objects.get(provider="zoho").ratelimit_count == 0


def test_a_wrong_client_secret_is_a_clear_test_connection_message(zoho, catalog, subaccount, sandbox_url):
    integration = sandbox_integration(
        subaccount, "zoho", sandbox_url, settings={"client_secret": "not-the-secret"}
    )
    tokens = IntegrationTokenStore(integration.pk).load()
    tokens.expires_at = 0  # the next call refreshes, with the wrong secret
    IntegrationTokenStore(integration.pk).save(tokens)

    result = integration_test(integration=integration, actor="test")

    assert not result.ok and "client ID or secret" in result.message


def run(integration, kind="delta"):
    done = sync_run_execute(run_id=sync_run_request(integration=integration, kind=kind, enqueue=False).pk)
    assert done.status == "succeeded", (
        done.error,
        list(done.record_errors.values_list("message", flat=True)),
    )
    return done


def test_custom_fields_map_by_label_and_picklists_travel_as_labels(
    zoho, catalog, subaccount, sandbox_url, api, base
):
    integration = sandbox_integration(subaccount, "zoho", sandbox_url)
    picklist = [
        {"actual_value": "dk_blue", "display_value": "Dark blue"},
        {"actual_value": "red", "display_value": "Red"},
    ]
    custom = {
        "Favourite_Colour": {
            "data_type": "picklist",
            "field_label": "Favourite colour",
            "pick_list_values": picklist,
        },
        "Seats": {"data_type": "double", "field_label": "Seats"},
    }
    control(base, "settings", {"custom_fields": {"Contacts": custom}})
    fields_refresh(integration)
    rows = mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {"local": "last_name", "remote": "Last_Name"},
            {"local": "email", "remote": "Email"},
            {"local": "custom_fields.colour", "remote_label": "Favourite colour"},
            {"local": "custom_fields.seats", "remote_label": "seats"},
        ],
    )
    assert [row.remote for row in rows][2:] == ["Favourite_Colour", "Seats"]
    kim = {"Last_Name": "Kim", "Email": "kim@example.com", "Favourite_Colour": "dk_blue", "Seats": 12}
    made = api.post(f"{base}/crm/v7/Contacts", json={"data": [kim]}, timeout=10).json()["data"][0]["details"][
        "id"
    ]

    run(integration, "full")

    local = Contact.objects.get(pk=EntityLink.objects.get(integration=integration, remote_id=made).local_id)
    assert local.custom_fields == {"colour": "Dark blue", "seats": "12"}
    record_update(record=local, fields={"custom_fields": {"colour": "Red", "seats": 40}}, origin="api_key:t")
    run(integration)
    stored = zoho.records("Contacts").get(remote_id=made).data
    assert (stored["Favourite_Colour"], stored["Seats"]) == ("red", 40)


def test_deal_relations_go_up_as_lookups_and_come_back(zoho, catalog, subaccount, sandbox_url):
    integration = sandbox_integration(subaccount, "zoho", sandbox_url)
    acme = Company.objects.create(subaccount=subaccount, name="Acme")
    ana = Contact.objects.create(
        subaccount=subaccount, last_name="Lee", email="ana@example.com", company=acme
    )
    deal = Deal.objects.create(
        subaccount=subaccount, name="Big", stage="Qualification", close_date="2026-12-31", company=acme
    )
    deal.contacts.add(ana)

    run(integration, "full")

    def remote(entity, record):
        return EntityLink.objects.get(integration=integration, entity=entity, local_id=record.pk).remote_id

    stored = zoho.records("Deals").get(remote_id=remote("deal", deal)).data
    assert stored["Account_Name"]["id"] == remote("company", acme)
    assert stored["Contact_Name"]["id"] == remote("contact", ana)
    assert zoho.records("Contacts").get(remote_id=remote("contact", ana)).data["Account_Name"][
        "id"
    ] == remote("company", acme)
