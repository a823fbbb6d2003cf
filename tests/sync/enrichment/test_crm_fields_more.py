"""Enrichment fields created as custom fields in Pipedrive (``POST /v1/personFields``) and Zoho CRM
(``POST settings/fields``) over real HTTP to the emulators: created once, mapped outbound under the
name each CRM's field discovery lists, and pushed with a scored record by a delta run."""

from __future__ import annotations

import pytest

from connectors.pipedrive.fields import CUSTOM_KEY, custom_key, is_custom
from connectors.registry import emulator_module
from sync.enrichment.crm_fields import crm_fields_ensure, crm_fields_status
from sync.models import Company, Contact
from tests.sync.enrichment.test_crm_fields import ENRICHED, KEYS, PUSHED, enrich, enrichment_rows
from tests.sync.helpers import remote_id_of, run_to_success

pytestmark = pytest.mark.django_db(transaction=True)


def created_once(integration) -> dict[tuple[str, str], str]:
    """crm_fields_ensure twice: every field made by the first call, none by the second; returns
    (entity, enrichment key) → the CRM's field name the mapping pushes."""
    report = crm_fields_ensure(integration)
    assert report.missing == [], report.missing_names()
    assert len(report.created) == 2 * len(KEYS) and all(f.installed for f in report.mapped)
    rows = enrichment_rows(integration)
    again = crm_fields_ensure(integration)
    assert again.created == [] and again.missing == [] and len(again.mapped) == 2 * len(KEYS)
    assert enrichment_rows(integration) == rows
    assert crm_fields_status(integration).complete
    return {(f.entity, f.local.removeprefix("enrichment:")): f.remote for f in report.mapped}


def scored_pair(integration, subaccount) -> tuple[Contact, Company]:
    """A contact and a company linked by a full run, then scored as the pipeline writes scores."""
    kim = Contact.objects.create(
        subaccount=subaccount, first_name="Kim", last_name="Ng", email="kim@acme.test"
    )
    acme = Company.objects.create(subaccount=subaccount, name="Acme", domain="acme.test")
    run_to_success(integration, "full")
    enrich(Contact.objects.get(pk=kim.pk), **ENRICHED)
    enrich(Company.objects.get(pk=acme.pk), score=55, signals=["funding"])
    run_to_success(integration)  # the delta run pushes what the enrichment Changes name
    return kim, acme


def as_text(value) -> str:
    """A pushed value as the CRM field shows it: numbers come back as numbers (72 or 72.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# --- Pipedrive --------------------------------------------------------------------------------------


@pytest.fixture
def pipedrive(integration_for):
    emulator_module("pipedrive").emulator.reset()
    return integration_for("pipedrive")


def test_pipedrive_fields_are_created_once_and_pushed(pipedrive, subaccount):
    emulator = emulator_module("pipedrive").emulator
    remote = created_once(pipedrive)

    assert all(is_custom(name) for name in remote.values())
    persons = {f["key"]: f for f in emulator.custom_fields("persons")}
    assert len(persons) == len(KEYS) and len(emulator.custom_fields("organizations")) == len(KEYS)
    score = persons[custom_key(remote["contact", "score"])]
    assert (score["name"], score["field_type"]) == ("Platform score", "double")
    assert persons[custom_key(remote["contact", "summary"])]["field_type"] == "text"
    assert persons[custom_key(remote["contact", "deal_stage"])]["field_type"] == "varchar"
    assert all(CUSTOM_KEY.match(key) for key in persons)

    kim, acme = scored_pair(pipedrive, subaccount)

    person = emulator.records("persons").get(remote_id=remote_id_of(pipedrive, "contact", kim))
    values = person.data["custom_fields"]
    assert {key: as_text(values[custom_key(remote["contact", key])]) for key in KEYS} == PUSHED
    org = emulator.records("organizations").get(remote_id=remote_id_of(pipedrive, "company", acme))
    pushed = org.data["custom_fields"]
    assert as_text(pushed[custom_key(remote["company", "score"])]) == "55"
    assert pushed[custom_key(remote["company", "signals"])] == "funding"


# --- Zoho CRM ---------------------------------------------------------------------------------------


@pytest.fixture
def zoho(integration_for):
    emulator_module("zoho").emulator.reset()
    return integration_for("zoho")


def test_zoho_fields_are_created_once_and_pushed(zoho, subaccount):
    emulator = emulator_module("zoho").emulator
    remote = created_once(zoho)

    assert remote["contact", "score"] == "Platform_score"
    assert remote["contact", "score_fit"] == "Platform_fit_score"
    assert remote["company", "next_actions"] == "Platform_next_actions"
    contacts = {f["api_name"]: f for f in emulator.custom_fields("Contacts")}
    assert len(contacts) == len(KEYS) and len(emulator.custom_fields("Accounts")) == len(KEYS)
    assert (contacts["Platform_score"]["field_label"], contacts["Platform_score"]["data_type"]) == (
        "Platform score",
        "double",
    )
    assert contacts["Platform_summary"]["data_type"] == "textarea"
    assert contacts["Platform_deal_stage"]["data_type"] == "text"

    kim, acme = scored_pair(zoho, subaccount)

    contact = emulator.records("Contacts").get(remote_id=remote_id_of(zoho, "contact", kim))
    assert {key: as_text(contact.data[remote["contact", key]]) for key in KEYS} == PUSHED
    account = emulator.records("Accounts").get(remote_id=remote_id_of(zoho, "company", acme))
    assert as_text(account.data["Platform_score"]) == "55"
    assert account.data["Platform_signals"] == "funding"
