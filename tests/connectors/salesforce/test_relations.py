"""Relations: lookups and OpportunityContactRole read and written by the connector, checked with
simple-salesforce against the emulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import RELATIONS_KEY


def pull(connector, entity):
    return {r.id: r for page in connector.pull(entity, cursor=None) for r in page.records}


def add(*ids):
    return {"add": list(ids), "remove": []}


def roles(sf, opportunity_id):
    soql = "SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = "
    rows = sf.query(soql + f"'{opportunity_id}'")  # an id the emulator issued
    return sorted(row["ContactId"] for row in rows["records"])


def test_records_made_with_simple_salesforce_pull_with_their_relations(connector, sf):
    account = sf.Account.create({"Name": "Acme"})["id"]
    ana = sf.Contact.create({"LastName": "Ana", "AccountId": account})["id"]
    loner = sf.Contact.create({"LastName": "Loner"})["id"]
    deal = sf.Opportunity.create(
        {"Name": "Big", "StageName": "Prospecting", "CloseDate": "2025-06-30", "AccountId": account}
    )["id"]
    sf.OpportunityContactRole.create({"OpportunityId": deal, "ContactId": ana, "Role": "Decision Maker"})
    sf.OpportunityContactRole.create({"OpportunityId": deal, "ContactId": loner})
    on_deal = sf.Task.create({"Subject": "Call", "WhoId": ana, "WhatId": deal})["id"]
    on_account = sf.Task.create({"Subject": "Visit", "WhatId": account})["id"]
    bare = sf.Event.create({"Subject": "Lunch", "ActivityDate": "2025-06-30", "DurationInMinutes": 30})["id"]

    contacts = pull(connector, "contact")
    assert contacts[ana].relations == {"company_id": (account,)}
    assert contacts[loner].relations == {"company_id": ()}
    deals = pull(connector, "deal")
    assert deals[deal].relations["company_id"] == (account,)
    assert sorted(deals[deal].relations["contact_ids"]) == sorted([ana, loner])
    activities = pull(connector, "activity")
    # WhatId names a deal: the company is unknown (absent), not "none"
    assert activities[on_deal].relations == {"contact_id": (ana,), "deal_id": (deal,)}
    assert activities[on_account].relations == {"contact_id": (), "company_id": (account,)}
    assert activities[bare].relations == {
        "contact_id": (),
        "company_id": (),
        "deal_id": (),
        "conversation_id": (),
    }
    assert connector.get("deal", [deal])[0].relations["contact_ids"] != ()


def test_relation_writes_become_lookups_and_contact_roles(connector, sf):
    (acme,) = connector.create("company", [{"Name": "Acme"}])
    (other,) = connector.create("company", [{"Name": "Other"}])
    ana, bo, cy = connector.create(
        "contact",
        [
            {"LastName": "Ana", RELATIONS_KEY: {"company_id": add(acme.remote_id)}},
            {"LastName": "Bo"},
            {"LastName": "Cy"},
        ],
    )
    assert sf.Contact.get(ana.remote_id)["AccountId"] == acme.remote_id
    (deal,) = connector.create(
        "deal",
        [
            {
                "Name": "Big",
                "StageName": "Prospecting",
                "CloseDate": "2025-06-30",
                RELATIONS_KEY: {
                    "company_id": add(acme.remote_id),
                    "contact_ids": add(ana.remote_id, bo.remote_id),
                },
            }
        ],
    )
    assert deal.ok and deal.relations_failed == ()
    assert sf.Opportunity.get(deal.remote_id)["AccountId"] == acme.remote_id
    assert roles(sf, deal.remote_id) == sorted([ana.remote_id, bo.remote_id])

    changes = {
        "company_id": {"add": [other.remote_id], "remove": [acme.remote_id]},
        "contact_ids": {"add": [cy.remote_id], "remove": [bo.remote_id]},
    }
    (updated,) = connector.update("deal", [(deal.remote_id, {"Amount": 5, RELATIONS_KEY: changes})])
    assert updated.ok and updated.relations_failed == ()
    opportunity = sf.Opportunity.get(deal.remote_id)
    assert (opportunity["AccountId"], opportunity["Amount"]) == (other.remote_id, 5)
    assert roles(sf, deal.remote_id) == sorted([ana.remote_id, cy.remote_id])

    cleared = {"company_id": {"add": [], "remove": [acme.remote_id]}}
    (result,) = connector.update("contact", [(ana.remote_id, {RELATIONS_KEY: cleared})])
    assert result.ok and sf.Contact.get(ana.remote_id)["AccountId"] is None

    (task,) = connector.create(
        "activity",
        [
            {
                "_kind": "task",
                "Subject": "Follow up",
                RELATIONS_KEY: {
                    "contact_id": add(bo.remote_id),
                    "company_id": add(acme.remote_id),
                    "deal_id": add(deal.remote_id),
                },
            }
        ],
    )
    stored = sf.Task.get(task.remote_id)
    assert (stored["WhoId"], stored["WhatId"]) == (bo.remote_id, deal.remote_id)  # the deal wins WhatId


def test_a_refused_contact_role_keeps_the_deal_and_names_the_relation(connector, sf):
    (ana,) = connector.create("contact", [{"LastName": "Ana"}])
    connector.delete("contact", [ana.remote_id])
    (deal,) = connector.create(
        "deal",
        [
            {
                "Name": "Solo",
                "StageName": "Prospecting",
                "CloseDate": "2025-06-30",
                RELATIONS_KEY: {"contact_ids": add(ana.remote_id)},
            }
        ],
    )
    assert deal.ok and deal.relations_failed == ("contact_ids",)
    assert "INVALID_CROSS_REFERENCE_KEY" in deal.relations_error
    assert sf.Opportunity.get(deal.remote_id)["Name"] == "Solo" and roles(sf, deal.remote_id) == []


def test_find_created_ignores_relations(connector):
    since = datetime.now(UTC) - timedelta(seconds=5)
    (acme,) = connector.create("company", [{"Name": "Acme"}])
    payload = {
        "LastName": "Zed",
        "Email": "zed@example.com",
        RELATIONS_KEY: {"company_id": add(acme.remote_id)},
    }
    (made,) = connector.create("contact", [payload])
    assert connector.find_created("contact", [payload], since=since) == [[made.remote_id]]


def test_deleting_an_opportunity_takes_its_contact_roles(connector, sf):
    (ana,) = connector.create("contact", [{"LastName": "Ana"}])
    (deal,) = connector.create(
        "deal",
        [
            {
                "Name": "D",
                "StageName": "Prospecting",
                "CloseDate": "2025-06-30",
                RELATIONS_KEY: {"contact_ids": add(ana.remote_id)},
            }
        ],
    )
    assert roles(sf, deal.remote_id) == [ana.remote_id]
    connector.delete("deal", [deal.remote_id])
    assert roles(sf, deal.remote_id) == []


@pytest.mark.parametrize("bad", ["not-an-id"])
def test_malformed_relation_ids_are_ignored_not_sent(connector, sf, bad):
    (made,) = connector.create("contact", [{"LastName": "Ana", RELATIONS_KEY: {"company_id": add(bad)}}])
    assert made.ok and sf.Contact.get(made.remote_id)["AccountId"] is None
