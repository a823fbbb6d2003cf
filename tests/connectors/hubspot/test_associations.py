"""HubSpot associations over real HTTP: the emulator's v4 and v3 association API as the official
client (hubspot-api-client) uses it, and the connector's relations (pull, get, writes, webhooks)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    AssociationSpec as V3AssociationSpec,
)
from hubspot.crm.contacts import (
    PublicAssociationsForObject,
    PublicObjectId,
)
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.contacts.exceptions import ApiException

from connectors.base import RELATIONS_KEY, WebhookRequest
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator.webhooks import association_change_events
from tests.connectors.hubspot.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)

PRIMARY = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)


@pytest.fixture
def official(config):
    """HubSpot's own Python client, pointed at the emulator (only the host differs)."""
    return HubSpot(access_token=config["access_token"], host=config["base_url"])


def contact(official, email, **extra):
    return official.crm.contacts.basic_api.create(ContactInput(properties={"email": email}, **extra)).id


def company(official, name):
    return official.crm.companies.basic_api.create(CompanyInput(properties={"name": name})).id


def deal(api, base, name):
    resp = api.post(f"{base}/crm/v3/objects/deals", json={"properties": {"dealname": name}}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def note(api, base, body):
    resp = api.post(
        f"{base}/crm/v3/objects/notes",
        json={"properties": {"hs_note_body": body, "hs_timestamp": "1700000000000"}},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def linked(official, from_type, from_id, to_type):
    """to id → [(typeId, label)] as the official client reads a record's associations."""
    page = official.crm.associations.v4.basic_api.get_page(from_type, from_id, to_type)
    return {r.to_object_id: sorted((t.type_id, t.label) for t in r.association_types) for r in page.results}


def pull_all(connector, entity):
    return [r for page in connector.pull(entity, cursor=None) for r in page.records]


# --- the emulator, through the official client -----------------------------------------------


def test_default_associations_read_from_both_sides_with_hubspots_type_ids(hs, official):
    person, firm = contact(official, "ana@example.com"), company(official, "Acme")
    made = official.crm.associations.v4.basic_api.create_default("contacts", person, "companies", firm)
    assert made.results[0].association_spec.association_type_id == 279
    assert linked(official, "contacts", person, "companies") == {firm: [(279, None)]}
    assert linked(official, "companies", firm, "contacts") == {person: [(280, None)]}
    labels = official.crm.associations.v4.schema.definitions_api.get_all("contacts", "companies")
    assert {(t.type_id, t.label) for t in labels.results} == {(1, "Primary"), (279, None)}


def test_labelled_primary_association_keeps_the_unlabeled_one_and_moves_between_companies(hs, official):
    person = contact(official, "ana@example.com")
    first, second = company(official, "First"), company(official, "Second")
    pair = official.crm.associations.v4.basic_api.create("contacts", person, "companies", first, [PRIMARY])
    assert (
        pair.labels == ["Primary"] and pair.from_object_type_id == "0-1" and pair.to_object_type_id == "0-2"
    )
    assert linked(official, "contacts", person, "companies") == {first: [(1, "Primary"), (279, None)]}
    official.crm.associations.v4.basic_api.create("contacts", person, "companies", second, [PRIMARY])
    # A contact has one primary company: the new one takes the label, the old stays associated.
    assert linked(official, "contacts", person, "companies") == {
        first: [(279, None)],
        second: [(1, "Primary"), (279, None)],
    }
    assert linked(official, "companies", second, "contacts") == {person: [(2, "Primary"), (280, None)]}
    official.crm.associations.v4.basic_api.archive("contacts", person, "companies", second)
    assert linked(official, "contacts", person, "companies") == {first: [(279, None)]}


def test_batch_read_reports_records_without_associations_as_207_errors(hs, official):
    person, lonely, firm = (
        contact(official, "a@example.com"),
        contact(official, "b@example.com"),
        company(official, "Acme"),
    )
    official.crm.associations.v4.basic_api.create_default("contacts", person, "companies", firm)
    body = BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[
            PublicFetchAssociationsBatchRequest(id=person),
            PublicFetchAssociationsBatchRequest(id=lonely),
        ]
    )
    answer = official.crm.associations.v4.batch_api.get_page("contacts", "companies", body)
    assert [(r._from.id, [t.to_object_id for t in r.to]) for r in answer.results] == [(person, [firm])]
    assert answer.num_errors == 1
    assert answer.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert answer.errors[0].context["fromObjectId"] == [lonely]


def test_v3_create_honours_associations_and_reads_return_them(hs, official):
    firm = company(official, "Acme")
    link = PublicAssociationsForObject(
        to=PublicObjectId(id=firm),
        types=[V3AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
    )
    person = contact(official, "ana@example.com", associations=[link])
    record = official.crm.contacts.basic_api.get_by_id(person, associations=["companies"])
    assert sorted((a.id, a.type) for a in record.associations["companies"].results) == [
        (firm, "contact_to_company"),
        (firm, "contact_to_company_unlabeled"),
    ]
    listed = official.crm.companies.basic_api.get_page(associations=["contacts"])
    assert [a.id for a in listed.results[0].associations["contacts"].results] == [person, person]
    with pytest.raises(ApiException) as refused:
        bad = PublicAssociationsForObject(
            to=PublicObjectId(id="999999"),
            types=[V3AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=279)],
        )
        contact(official, "bob@example.com", associations=[bad])
    assert refused.value.status == 400


def test_archived_records_drop_out_of_association_reads(hs, official):
    person, firm = contact(official, "ana@example.com"), company(official, "Acme")
    official.crm.associations.v4.basic_api.create_default("contacts", person, "companies", firm)
    official.crm.companies.basic_api.archive(firm)
    assert linked(official, "contacts", person, "companies") == {}


def test_associating_moves_neither_records_modified_date(hs, official):
    """HubSpot: an association change alone shows in no modified-date delta (associationChange
    webhooks report it), so the emulator leaves both dates alone."""
    person, firm = contact(official, "ana@example.com"), company(official, "Acme")
    before = {r.remote_id: r.updated_at for r in hs.records("contacts")} | {
        r.remote_id: r.updated_at for r in hs.records("companies")
    }
    time.sleep(0.01)
    official.crm.associations.v4.basic_api.create("contacts", person, "companies", firm, [PRIMARY])
    after = {r.remote_id: r.updated_at for r in hs.records("contacts")} | {
        r.remote_id: r.updated_at for r in hs.records("companies")
    }
    assert after == before


def test_unknown_association_type_and_missing_records_are_refused(hs, official, api, base):
    person = contact(official, "ana@example.com")
    resp = api.put(
        f"{base}/crm/v4/objects/contacts/{person}/associations/companies/999999",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
        timeout=10,
    )
    assert resp.status_code == 404 and resp.json()["category"] == "OBJECT_NOT_FOUND"
    firm = company(official, "Acme")
    resp = api.put(
        f"{base}/crm/v4/objects/contacts/{person}/associations/companies/{firm}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["category"] == "VALIDATION_ERROR"
    resp = api.post(
        f"{base}/crm/v4/associations/contacts/companies/batch/associate/default",
        json={
            "inputs": [
                {"from": {"id": person}, "to": {"id": "999999"}},
                {"from": {"id": person}, "to": {"id": firm}},
            ]
        },
        timeout=10,
    )
    assert resp.status_code == 207
    assert resp.json()["errors"][0]["context"]["toObjectId"] == ["999999"]
    assert len(resp.json()["results"]) == 1


# --- the connector ------------------------------------------------------------------------------


def test_pull_reads_relations_primary_first_then_lowest_id(hs, official, api, base, connector):
    low, high = company(official, "Low"), company(official, "High")
    with_primary, unlabeled, alone = (
        contact(official, "p@example.com"),
        contact(official, "u@example.com"),
        contact(official, "n@example.com"),
    )
    v4 = official.crm.associations.v4.basic_api
    v4.create_default("contacts", with_primary, "companies", low)
    v4.create("contacts", with_primary, "companies", high, [PRIMARY])
    v4.create_default("contacts", unlabeled, "companies", high)
    v4.create_default("contacts", unlabeled, "companies", low)
    contacts = {r.id: r for r in pull_all(connector, "contact")}
    assert contacts[with_primary].relations == {"company_id": (high,)}
    assert contacts[unlabeled].relations == {"company_id": (low,)}
    assert contacts[alone].relations == {"company_id": ()}

    sale = deal(api, base, "Big deal")
    v4.create_default("deals", sale, "contacts", unlabeled)
    v4.create_default("deals", sale, "contacts", with_primary)
    v4.create_default("companies", low, "deals", sale)  # written from the other side
    (pulled,) = pull_all(connector, "deal")
    assert pulled.relations == {
        "company_id": (low,),
        "contact_ids": tuple(sorted((with_primary, unlabeled), key=int)),
    }

    memo = note(api, base, "Called")
    v4.create_default("notes", memo, "contacts", alone)
    v4.create_default("notes", memo, "deals", sale)
    (activity,) = pull_all(connector, "activity")
    assert activity.id == f"notes/{memo}"
    assert activity.relations == {"contact_id": (alone,), "company_id": (), "deal_id": (sale,)}
    assert connector.get("activity", [activity.id])[0].relations == activity.relations
    assert connector.get("contact", [with_primary])[0].relations == {"company_id": (high,)}


def test_pull_reads_associations_with_one_call_per_thousand_records(hs, config, make_connector):
    hs.seed("contacts", 2250, None)
    connector = make_connector(config)
    pages = list(connector.pull("contact", cursor=None))
    records = [r for page in pages for r in page.records]
    assert len(records) == 2250 and all(r.relations == {"company_id": ()} for r in records)
    # Twelve search pages (11 × 200 + 50), read for five pages at a time: three association reads
    # (1,000 + 1,000 + 250), and one archived list. Pages keep their own cursors, in order.
    assert connector.client.calls == 12 + 3 + 1
    assert [len(page.records) for page in pages] == [200] * 11 + [50]
    assert len({page.cursor for page in pages}) == len(pages)


def test_an_association_read_over_a_thousand_ids_is_refused(hs, config):
    ids = [{"id": str(i)} for i in range(1001)]
    resp = requests.post(
        f"{config['base_url']}/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": ids},
        headers={"Authorization": f"Bearer {config['access_token']}"},
        timeout=10,
    )
    assert resp.status_code == 400 and "1001 inputs" in resp.json()["message"]


def test_create_writes_relation_adds_after_the_record(hs, official, connector):
    low, high = company(official, "Low"), company(official, "High")
    people = [contact(official, f"p{i}@example.com") for i in range(2)]
    results = connector.create(
        "contact",
        [{"email": "new@example.com", RELATIONS_KEY: {"company_id": {"add": [high], "remove": []}}}],
    )
    assert results[0].ok and not results[0].relations_failed
    person = results[0].remote_id
    # A single relation becomes the contact's primary company.
    assert linked(official, "contacts", person, "companies") == {high: [(1, "Primary"), (279, None)]}

    (made,) = connector.create(
        "deal",
        [
            {
                "dealname": "D",
                RELATIONS_KEY: {"company_id": {"add": [low], "remove": []}, "contact_ids": {"add": people}},
            }
        ],
    )
    assert made.ok and not made.relations_failed
    assert set(linked(official, "deals", made.remote_id, "contacts")) == set(people)
    assert linked(official, "deals", made.remote_id, "companies") == {low: [(5, "Primary"), (341, None)]}

    (memo,) = connector.create(
        "activity",
        [
            {
                "_kind": "note",
                "hs_note_body": "x",
                "hs_timestamp": "1700000000000",
                RELATIONS_KEY: {"contact_id": {"add": [person]}, "deal_id": {"add": [made.remote_id]}},
            }
        ],
    )
    assert memo.ok and memo.remote_id.startswith("notes/") and not memo.relations_failed
    note_id = memo.remote_id.partition("/")[2]
    assert linked(official, "notes", note_id, "contacts") == {person: [(202, None)]}
    assert connector.get("activity", [memo.remote_id])[0].relations["deal_id"] == (made.remote_id,)


def test_update_moves_and_removes_relations(hs, official, connector):
    low, high = company(official, "Low"), company(official, "High")
    people = [contact(official, f"p{i}@example.com") for i in range(3)]
    (made,) = connector.create(
        "deal",
        [{"dealname": "D", RELATIONS_KEY: {"company_id": {"add": [high]}, "contact_ids": {"add": people}}}],
    )
    (person,) = connector.create(
        "contact", [{"email": "c@example.com", RELATIONS_KEY: {"company_id": {"add": [low]}}}]
    )
    results = connector.update(
        "deal",
        [
            (
                made.remote_id,
                {
                    "amount": "10",
                    RELATIONS_KEY: {
                        "company_id": {"add": [low], "remove": [high]},
                        "contact_ids": {"add": [], "remove": [people[0]]},
                    },
                },
            )
        ],
    )
    assert results[0].ok and not results[0].relations_failed
    assert linked(official, "deals", made.remote_id, "companies") == {low: [(5, "Primary"), (341, None)]}
    assert set(linked(official, "deals", made.remote_id, "contacts")) == set(people[1:])
    # A relation-only update: the company is cleared.
    (cleared,) = connector.update(
        "contact", [(person.remote_id, {RELATIONS_KEY: {"company_id": {"remove": [low]}}})]
    )
    assert cleared.ok
    assert linked(official, "contacts", person.remote_id, "companies") == {}
    assert connector.get("contact", [person.remote_id])[0].relations == {"company_id": ()}


def test_a_refused_association_leaves_the_record_written(hs, official, connector):
    firm = company(official, "Acme")
    results = connector.create(
        "contact",
        [
            {"email": "bad@example.com", RELATIONS_KEY: {"company_id": {"add": ["999999"]}}},
            {"email": "good@example.com", RELATIONS_KEY: {"company_id": {"add": [firm]}}},
        ],
    )
    bad, good = results
    assert bad.ok and bad.remote_id and bad.created
    assert bad.relations_failed == ("company_id",) and "999999" in bad.relations_error
    assert good.ok and not good.relations_failed
    assert linked(official, "contacts", good.remote_id, "companies") == {firm: [(1, "Primary"), (279, None)]}
    assert hs.records("contacts").filter(remote_id=bad.remote_id).exists()
    (odd,) = connector.update(
        "contact", [(good.remote_id, {RELATIONS_KEY: {"no_such_relation": {"add": [firm]}}})]
    )
    assert odd.ok and odd.relations_failed == ("no_such_relation",)


def test_a_failing_association_call_fails_only_the_relations(hs, official, base, connector):
    person = contact(official, "ana@example.com")
    control(base, "faults", {"rule": {"path_contains": "/crm/v4/associations/", "status": 404, "count": 5}})
    (result,) = connector.update(
        "contact", [(person, {"firstname": "Ana", RELATIONS_KEY: {"company_id": {"add": ["123"]}}})]
    )
    assert result.ok and result.remote_id == person
    assert result.relations_failed == ("company_id",) and "404" in result.relations_error
    assert hs.records("contacts").get(remote_id=person).data["firstname"] == "Ana"


def test_relations_are_never_sent_as_properties_nor_searched_by(hs, connector):
    payload = {"email": "ana@example.com", RELATIONS_KEY: {"company_id": {"add": [], "remove": []}}}
    since = datetime.now(UTC) - timedelta(seconds=5)
    (made,) = connector.create("contact", [payload])
    assert made.ok and "_relations" not in hs.records("contacts").get(remote_id=made.remote_id).data
    assert connector.find_created("contact", [payload], since=since) == [[made.remote_id]]


def test_association_change_webhooks_parse_as_updates_of_the_from_object(hs, official, base):
    person, firm = contact(official, "ana@example.com"), company(official, "Acme")
    events = association_change_events("contacts", person, "companies", firm, removed=True)
    # The emulator signs and sends HubSpot's array; its own state endpoint takes the POST.
    hook = control(base, "webhooks", {"target_url": f"{base}/_control/state", "events": events})
    sent = json.loads(hook["body"])
    assert {e["subscriptionType"] for e in sent} == {"contact.associationChange", "company.associationChange"}
    assert all("objectId" not in e and e["associationRemoved"] is True for e in sent)
    assert sent[0]["associationType"] == "CONTACT_TO_COMPANY"
    request = WebhookRequest(
        method="POST", url=f"{base}/_control/state", headers=hook["headers"], body=hook["body"].encode()
    )
    parsed = HubSpotConnector.parse_webhook(request)
    assert [(e.entity, e.remote_id, e.action) for e in parsed] == [
        ("contact", person, "updated"),
        ("company", firm, "updated"),
    ]
    assert parsed[0].record is None and parsed[0].event_id == str(sent[0]["eventId"])
