"""Leads: lead_mode, Company and the lifecycle field, and conversion through the convertLead action
(called with simple-salesforce) showing up as ``replaced_by`` on the next pull."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.base import ConfigError
from connectors.salesforce.connector import SalesforceConnector


def pull(connector, entity, cursor=None):
    pages = list(connector.pull(entity, cursor=cursor))
    return [r for page in pages for r in page.records], (pages[-1].cursor if pages else cursor)


def convert(sf, lead_id, **options):
    inputs = [{"leadId": lead_id, "convertedStatus": "Closed - Converted", **options}]
    return sf.restful("actions/standard/convertLead", method="POST", json={"inputs": inputs})


def test_lead_mode_is_validated():
    SalesforceConnector.validate_config({"lead_mode": "both", "note_object": "Note"})
    with pytest.raises(ConfigError) as exc:
        SalesforceConnector.validate_config({"lead_mode": "leads"})
    assert exc.value.field == "lead_mode"


def test_both_mode_creates_a_lead_for_the_lead_lifecycle_and_a_contact_otherwise(make_connector, sf):
    connector = make_connector(lead_mode="both")
    lead, named, contact = connector.create(
        "contact",
        [
            {"LastName": "Lee", "Email": "lee@example.com", "_lifecycle": "lead"},
            {"LastName": "Kim", "Company": "Kim & Co", "_lifecycle": "lead"},
            {"LastName": "Cho", "Company": "Ignored", "_lifecycle": "customer"},
        ],
    )
    assert lead.remote_id.startswith("00Q") and named.remote_id.startswith("00Q")
    assert contact.remote_id.startswith("003")
    assert sf.Lead.get(lead.remote_id)["Company"] == "[not provided]"  # Salesforce's own placeholder
    assert sf.Lead.get(named.remote_id)["Company"] == "Kim & Co"
    assert sf.Contact.get(contact.remote_id)["LastName"] == "Cho"
    lead_mode = make_connector(lead_mode="lead")
    (only,) = lead_mode.create("contact", [{"LastName": "Any", "_lifecycle": "customer"}])
    assert only.remote_id.startswith("00Q")
    (default,) = make_connector().create("contact", [{"LastName": "Def", "_lifecycle": "lead"}])
    assert default.remote_id.startswith("003")


def test_both_mode_pulls_leads_first_marked_as_leads(make_connector, sf):
    contact = sf.Contact.create({"LastName": "Contact"})["id"]
    lead = sf.Lead.create({"LastName": "Lead", "Company": "Acme", "Email": "lead@example.com"})["id"]
    records, _ = pull(make_connector(lead_mode="both"), "contact")
    assert [r.id for r in records] == [lead, contact]
    first, second = records
    assert (first.remote_type, first.fields["_lifecycle"], first.fields["Company"]) == (
        "Lead",
        "lead",
        "Acme",
    )
    assert first.relations == {} and first.replaced_by == ""  # a lead has no account: not read
    assert "_lifecycle" not in second.fields and second.relations == {"company_id": ()}
    records, _ = pull(make_connector(), "contact")
    assert [r.id for r in records] == [contact]


def test_a_converted_lead_is_replaced_by_its_contact_then_the_contact_follows(make_connector, sf):
    connector = make_connector(lead_mode="both")
    lead = sf.Lead.create(
        {"FirstName": "Ana", "LastName": "Lee", "Company": "Acme", "Email": "ana@example.com"}
    )["id"]
    _, cursor = pull(connector, "contact")

    (answer,) = convert(sf, lead, opportunityName="Acme deal")
    assert answer["actionName"] == "convertLead" and answer["isSuccess"] is True and answer["errors"] is None
    out = answer["outputValues"]
    assert out["leadId"] == lead and out["contactId"].startswith("003") and out["accountId"].startswith("001")
    stored = sf.Lead.get(lead)
    assert stored["IsConverted"] is True and stored["ConvertedContactId"] == out["contactId"]
    assert stored["Status"] == "Closed - Converted" and stored["ConvertedDate"]
    contact = sf.Contact.get(out["contactId"])
    assert (contact["FirstName"], contact["Email"], contact["AccountId"]) == (
        "Ana",
        "ana@example.com",
        out["accountId"],
    )
    assert sf.Account.get(out["accountId"])["Name"] == "Acme"
    assert sf.Opportunity.get(out["opportunityId"])["Name"] == "Acme deal"
    opportunity = out["opportunityId"]
    soql = "SELECT ContactId, IsPrimary FROM OpportunityContactRole WHERE OpportunityId = "
    role = sf.query(soql + f"'{opportunity}'")
    assert [(r["ContactId"], r["IsPrimary"]) for r in role["records"]] == [(out["contactId"], True)]

    records, _ = pull(connector, "contact", cursor)
    assert [r.id for r in records] == [lead, out["contactId"]]  # the lead (replaced) before its successor
    assert records[0].replaced_by == out["contactId"] and records[0].fields["IsConverted"] is True
    assert records[1].relations == {"company_id": (out["accountId"],)}


def test_lead_mode_follows_a_conversion_to_the_contact_it_does_not_otherwise_pull(make_connector, sf):
    connector = make_connector(lead_mode="lead")
    lead = sf.Lead.create({"LastName": "Lee", "Company": "Acme"})["id"]
    sf.Contact.create({"LastName": "Unrelated"})
    _, cursor = pull(connector, "contact")
    (answer,) = convert(sf, lead, doNotCreateOpportunity=True)
    assert answer["outputValues"]["opportunityId"] is None
    records, _ = pull(connector, "contact", cursor)
    contact_id = answer["outputValues"]["contactId"]
    assert [(r.id, r.replaced_by) for r in records] == [(lead, contact_id), (contact_id, "")]


def test_conversion_refusals_fail_alone_and_a_converted_lead_is_read_only(org, sf):
    lead = sf.Lead.create({"LastName": "Lee", "Company": "Acme"})["id"]
    other = sf.Lead.create({"LastName": "Kim", "Company": "Kim Co"})["id"]
    bad_status, good = sf.restful(
        "actions/standard/convertLead",
        method="POST",
        json={
            "inputs": [
                {"leadId": other, "convertedStatus": "Working - Contacted"},
                {"leadId": lead, "convertedStatus": "Closed - Converted"},
            ]
        },
    )
    assert bad_status["isSuccess"] is False and bad_status["outputValues"] is None
    assert bad_status["errors"][0]["statusCode"] == "INVALID_STATUS"
    assert good["isSuccess"] is True
    (again,) = convert(sf, lead)
    assert again["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.update(lead, {"LastName": "Changed"})
    assert exc.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert sf.Lead.get(other)["IsConverted"] is False


def test_conversion_into_an_existing_account_and_contact_fills_only_empty_fields(sf):
    account = sf.Account.create({"Name": "Existing"})["id"]
    contact = sf.Contact.create({"LastName": "Kept", "AccountId": account})["id"]
    lead = sf.Lead.create({"LastName": "Lee", "Company": "Acme", "Title": "CTO"})["id"]
    (answer,) = convert(sf, lead, accountId=account, contactId=contact, createOpportunity=False)
    assert answer["outputValues"] == {
        "leadId": lead,
        "accountId": account,
        "contactId": contact,
        "opportunityId": None,
    }
    merged = sf.Contact.get(contact)
    assert (merged["LastName"], merged["Title"]) == ("Kept", "CTO")
    assert sf.Account.get(account)["Name"] == "Existing"
