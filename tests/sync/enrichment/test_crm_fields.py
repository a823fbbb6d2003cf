"""Enrichment fields pushed to CRMs as custom fields, over real HTTP to the emulators: created in
HubSpot (properties API) and Salesforce (Tooling API), mapped outbound, pushed with a record's
score, sub-scores, signals, next actions, stage and summary; named as missing (and left unmapped)
where the connector cannot create them; refused as anything but outbound in mappings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction
from hubspot import HubSpot

from connectors.registry import connector_class, emulator_module
from integrations.tokens import IntegrationTokenStore
from sync.canonical import assign, local_values
from sync.enrichment.crm_fields import crm_fields_ensure, crm_fields_status, field_specs
from sync.mapping import MappingInvalid, mappings_for, validate_rows
from sync.models import Change, Company, Contact, FieldMapping, ScoringProfile
from sync.services import change_log_lock, change_record
from sync.single import record_sync_now
from tests.integrations.test_api import api_for
from tests.sandbox import simple_salesforce_client
from tests.sync.helpers import remote_id_of, run_to_success

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = (
    "summary",
    "score",
    "score_financial",
    "score_growth",
    "score_engagement",
    "score_fit",
    "signals",
    "next_actions",
    "deal_stage",
)
ENRICHED = {
    "score": 72,
    "score_breakdown": {"financial": 40, "growth": 65, "engagement": 90, "fit": 80},
    "signals": ["hiring", "funding"],
    "next_actions": [
        {"action": "Schedule call", "due_at": "2024-05-03T09:00:00+00:00", "rule": 1},
        {"action": "Send pricing", "due_at": "2024-05-10T17:30:00+00:00", "rule": 2},
    ],
    "suggested_stage": "qualification",
    "enriched": {"builtin": {"domain": "acme.test"}, "enrichment_http": {"summary": "Acme builds rockets."}},
}
# What the CRM's fields hold afterwards, by field suffix.
PUSHED = {
    "score": "72",
    "score_financial": "40",
    "score_growth": "65",
    "score_engagement": "90",
    "score_fit": "80",
    "signals": "hiring, funding",
    "next_actions": "Schedule call (due 2024-05-03); Send pricing (due 2024-05-10)",
    "deal_stage": "qualification",
    "summary": "Acme builds rockets.",
}


def enrich(record, **values) -> None:
    """Write enrichment columns as the pipeline does: the row and its Change, in one transaction."""
    with transaction.atomic():
        change_log_lock(subaccount_id=record.subaccount_id)
        for name, value in values.items():
            setattr(record, name, value)
        record.version += 1
        record.save()
        change_record(record=record, op="update", fields=sorted(values), origin="enrichment")


def enrichment_rows(integration, entity="contact"):
    return sorted(
        FieldMapping.objects.filter(
            integration=integration, entity=entity, local_field__startswith="enrichment:"
        ).values_list("pk", "local_field", "remote_field", "direction", "position")
    )


# --- HubSpot ----------------------------------------------------------------------------------------


@pytest.fixture
def hubspot(integration_for):
    emulator_module("hubspot").emulator.reset()
    return integration_for("hubspot")


@pytest.fixture
def official(hubspot) -> HubSpot:
    return HubSpot(access_token=hubspot.config["access_token"], host=hubspot.config["base_url"])


def test_status_names_the_missing_fields_and_creates_nothing(hubspot, official):
    report = crm_fields_status(hubspot)

    assert report.mapped == [] and report.created == []
    assert len(report.missing) == 2 * len(KEYS)
    assert 'contact: "Platform score" (platform_score, number)' in report.missing_names()
    properties = {p.name for p in official.crm.properties.core_api.get_all("contacts").results}
    assert "platform_score" not in properties
    assert enrichment_rows(hubspot) == []


def test_hubspot_fields_are_created_mapped_once_and_pushed(hubspot, official, subaccount):
    report = crm_fields_ensure(hubspot)

    assert report.missing == []
    assert sorted((f.entity, f.remote) for f in report.created) == sorted(
        (entity, f"platform_{key}") for entity in ("contact", "company") for key in KEYS
    )
    assert all(f.installed for f in report.mapped)
    created = {p.name: p for p in official.crm.properties.core_api.get_all("contacts").results}
    assert (created["platform_score"].type, created["platform_score"].label) == ("number", "Platform score")
    assert created["platform_summary"].field_type == "textarea"
    assert created["platform_deal_stage"].field_type == "text"
    rows = enrichment_rows(hubspot)
    assert sorted((local, remote, direction) for _, local, remote, direction, _ in rows) == sorted(
        (f"enrichment:{key}", f"platform_{key}", "to_remote") for key in KEYS
    )
    assert {"email", "firstname"} <= {  # the connector's defaults are still there
        m.remote for m in mappings_for(hubspot, "contact")
    }

    again = crm_fields_ensure(hubspot)
    assert again.created == [] and again.missing == [] and len(again.mapped) == 2 * len(KEYS)
    assert enrichment_rows(hubspot) == rows and enrichment_rows(hubspot, "company")

    ana = Contact.objects.create(subaccount=subaccount, email="ana@acme.test", first_name="Ana")
    acme = Company.objects.create(subaccount=subaccount, name="Acme", domain="acme.test")
    run_to_success(hubspot, "full")
    enrich(Contact.objects.get(pk=ana.pk), **ENRICHED)
    enrich(Company.objects.get(pk=acme.pk), score=55, signals=["funding"])
    run_to_success(hubspot)  # the delta run pushes what the enrichment Changes name

    names = [f"platform_{key}" for key in KEYS]
    person = official.crm.contacts.basic_api.get_by_id(
        remote_id_of(hubspot, "contact", ana), properties=names
    )
    assert {name: person.properties[name] for name in names} == {
        f"platform_{k}": v for k, v in PUSHED.items()
    }
    firm = official.crm.companies.basic_api.get_by_id(
        remote_id_of(hubspot, "company", acme), properties=names
    )
    assert (firm.properties["platform_score"], firm.properties["platform_signals"]) == ("55", "funding")

    # Pulls never write enrichment values back: a full run changes nothing locally.
    run_to_success(hubspot, "full")
    stored = Contact.objects.get(pk=ana.pk)
    assert (stored.score, stored.signals) == (72, ["hiring", "funding"])


def test_a_configured_prefix_names_the_fields(hubspot, official, subaccount):
    ScoringProfile.objects.create(subaccount=subaccount, field_prefix="acme_")
    report = crm_fields_ensure(hubspot)
    assert {f.remote for f in report.mapped if f.entity == "contact"} == {f"acme_{key}" for key in KEYS}
    assert official.crm.properties.core_api.get_by_name("contacts", "acme_score").label == "Acme score"


def test_mapping_rows_the_operator_set_are_kept(hubspot):
    crm_fields_ensure(hubspot)
    FieldMapping.objects.filter(
        integration=hubspot, entity="contact", local_field="enrichment:summary"
    ).update(direction="none")
    FieldMapping.objects.filter(integration=hubspot, entity="contact", local_field="enrichment:score").update(
        remote_field="email"  # pointed elsewhere on purpose
    )
    before = enrichment_rows(hubspot)
    report = crm_fields_ensure(hubspot)
    assert enrichment_rows(hubspot) == before
    by_local = {f.local: f for f in report.mapped if f.entity == "contact"}
    assert by_local["enrichment:score"].remote == "email"
    assert by_local["enrichment:summary"].installed is False


# --- Salesforce -------------------------------------------------------------------------------------


@pytest.fixture
def salesforce(integration_for):
    emulator_module("salesforce").emulator.reset()
    return integration_for("salesforce")


def test_salesforce_fields_are_created_through_the_tooling_api_and_pushed(salesforce, subaccount):
    report = crm_fields_ensure(salesforce)

    assert report.missing == []
    assert {f.remote for f in report.created if f.entity == "contact"} == {f"platform_{k}__c" for k in KEYS}
    assert {f.remote for f in report.created if f.entity == "company"} == {f"platform_{k}__c" for k in KEYS}
    tokens = IntegrationTokenStore(salesforce.pk).load()
    sf = simple_salesforce_client(tokens.extra["instance_url"], tokens.access_token)
    described = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert (described["platform_score__c"]["type"], described["platform_score__c"]["custom"]) == (
        "double",
        True,
    )
    assert described["platform_next_actions__c"]["type"] == "textarea"
    rows = enrichment_rows(salesforce)
    assert len(rows) == len(KEYS) and all(direction == "to_remote" for *_, direction, _ in rows)
    assert crm_fields_ensure(salesforce).created == [] and enrichment_rows(salesforce) == rows

    lee = Contact.objects.create(subaccount=subaccount, last_name="Lee", email="lee@acme.test")
    run_to_success(salesforce, "full")
    enrich(Contact.objects.get(pk=lee.pk), **ENRICHED)
    result = record_sync_now(integration=salesforce, entity="contact", local_id=lee.pk, actor="test")
    assert result.pushed == "updated", result.errors

    row = sf.Contact.get(remote_id_of(salesforce, "contact", lee))
    assert row["platform_score__c"] == 72 and row["platform_score_engagement__c"] == 90
    assert (row["platform_signals__c"], row["platform_next_actions__c"]) == (
        PUSHED["signals"],
        PUSHED["next_actions"],
    )
    assert (row["platform_deal_stage__c"], row["platform_summary__c"]) == (
        "qualification",
        "Acme builds rockets.",
    )


# --- a CRM whose API cannot create the fields -------------------------------------------------------


def test_fields_a_crm_cannot_create_are_named_and_skipped_until_they_exist(
    integration_for, subaccount, monkeypatch
):
    monkeypatch.setattr(connector_class("pipedrive"), "creates_fields", False)
    emulator = emulator_module("pipedrive").emulator
    emulator.reset()
    score = emulator.add_custom_field("persons", "Platform score", "double")  # made by hand, in Pipedrive
    pipedrive = integration_for("pipedrive")

    report = crm_fields_ensure(pipedrive)

    assert [(f.entity, f.local) for f in report.mapped] == [("contact", "enrichment:score")]
    assert report.mapped[0].remote.endswith(score["key"])
    assert report.created == []
    assert len(report.missing) == 2 * len(KEYS) - 1
    assert all("cannot create custom fields" in f.error for f in report.missing)
    assert [local for _, local, *_ in enrichment_rows(pipedrive)] == ["enrichment:score"]
    assert enrichment_rows(pipedrive, "company") == []

    kim = Contact.objects.create(
        subaccount=subaccount, first_name="Kim", last_name="Ng", email="kim@acme.test"
    )
    enrich(kim, **ENRICHED)
    run_to_success(pipedrive, "full")
    person = emulator.records("persons").get(remote_id=remote_id_of(pipedrive, "contact", kim))
    assert str(person.data["custom_fields"][score["key"]]) in {"72", "72.0"}


# --- reading and validating enrichment names --------------------------------------------------------


def test_local_values_read_enrichment_as_the_crm_fields_hold_it(subaccount):
    ana = Contact.objects.create(subaccount=subaccount, email="ana@acme.test", **ENRICHED)
    names = [f"enrichment:{key}" for key in KEYS]
    assert local_values(ana, names) == {f"enrichment:{k}": v for k, v in PUSHED.items()}
    ana.next_actions = [
        {"action": "Follow up", "due_at": datetime(2024, 6, 1, 8, tzinfo=UTC)},
        {"action": "Nurture"},
    ]
    ana.signals, ana.score, ana.enriched = [], None, {}
    values = local_values(ana, names)
    assert values["enrichment:next_actions"] == "Follow up (due 2024-06-01); Nurture"
    assert values["enrichment:signals"] is None and values["enrichment:score"] is None
    assert values["enrichment:summary"] is None
    with pytest.raises(ValueError, match="never assigned"):
        assign(ana, {"enrichment:score": "10"})


@pytest.mark.parametrize("direction", ["both", "from_remote", None])
def test_enrichment_rows_must_push_only(direction):
    row = {"local": "enrichment:score", "remote": "platform_score"}
    if direction:
        row["direction"] = direction
    with pytest.raises(MappingInvalid) as refused:
        validate_rows("contact", [row])
    assert "only pushed: its direction must be to_remote (or none)" in str(refused.value)


def test_enrichment_names_are_checked():
    assert [
        m.local
        for m in validate_rows(
            "company", [{"local": "enrichment:score_fit", "remote": "x", "direction": "to_remote"}]
        )
    ] == ["enrichment:score_fit"]
    [row] = validate_rows("contact", [{"local": "enrichment:score", "remote": "x", "direction": "none"}])
    assert not row.inbound and not row.outbound
    for entity, local, needle in [
        ("deal", "enrichment:score", "only contacts and companies"),
        ("contact", "enrichment:shoe_size", "unknown enrichment field"),
    ]:
        with pytest.raises(MappingInvalid, match=needle):
            validate_rows(entity, [{"local": local, "remote": "x", "direction": "to_remote"}])


def test_the_mappings_api_reads_and_writes_enrichment_rows(hubspot, subaccount):
    crm_fields_ensure(hubspot)
    api = api_for(subaccount)
    url = f"/api/v1/integrations/{hubspot.pk}/mappings/"
    body = api.get(url).json()
    assert {
        "local": "enrichment:score",
        "remote": "platform_score",
        "remote_label": "Platform score",
    }.items() <= next(row for row in body["contact"] if row["local"] == "enrichment:score").items()

    rows = [
        {"local": "email", "remote": "email"},
        {"local": "enrichment:score", "remote_label": "Platform score", "direction": "to_remote"},
    ]
    assert api.put(url, {"contact": rows}, format="json").status_code == 200
    refused = api.put(
        url, {"contact": [{"local": "enrichment:score", "remote": "platform_score"}]}, format="json"
    )
    assert refused.status_code == 400 and "to_remote" in str(refused.json()["error"]["details"])
    assert [local for _, local, *_ in enrichment_rows(hubspot)] == ["enrichment:score"]
    assert Change.objects.filter(origin="enrichment").count() == 0


def test_field_specs_follow_the_prefix():
    specs = dict(field_specs("platform_"))
    assert (specs["enrichment:score_fit"].name, specs["enrichment:score_fit"].label) == (
        "platform_score_fit",
        "Platform fit score",
    )
    assert specs["enrichment:summary"].type == "text" and specs["enrichment:deal_stage"].type == "string"
