"""Field discovery from describe, the org's custom fields, and want_fields pulling them."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

COLOURS = [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]


@pytest.fixture
def custom(org):
    org.control(
        "settings",
        {
            "custom_fields": {
                "Contact": {
                    "Favourite_Colour__c": {
                        "type": "picklist",
                        "label": "Favourite colour",
                        "picklist": COLOURS,
                        "restricted": True,
                    },
                    "Score__c": {"type": "double"},
                }
            }
        },
    )


def by_name(fields, remote_type=""):
    return {f.name: f for f in fields if f.remote_type == remote_type}


def test_discovery_reads_describe_with_types_labels_and_options(connector):
    deal = by_name(connector.discover_fields("deal"))
    assert (deal["CloseDate"].type, deal["CloseDate"].format, deal["CloseDate"].label) == (
        "date",
        "date",
        "Close Date",
    )
    assert deal["Amount"].type == "number" and deal["AccountId"].type == "reference"
    assert deal["AccountId"].label == "Account ID"
    assert (
        deal["StageName"].type == "enumeration" and ("Closed Won", "Closed Won") in deal["StageName"].options
    )
    assert deal["Id"].type == "id" and deal["Id"].read_only and not deal["Name"].read_only
    assert deal["SystemModstamp"].format == "iso"
    assert {f.name for f in deal.values() if f.custom} == {"External_Id__c"}  # the org's external id
    company = by_name(connector.discover_fields("company"))
    assert company["Website"].type == "url" and company["Description"].type == "text"
    activity = connector.discover_fields("activity")
    assert {f.remote_type for f in activity} == {"Task", "Event", "ContentNote"}


def test_a_custom_picklist_is_discovered_and_lead_fields_named_by_object(make_connector, custom):
    fields = make_connector(lead_mode="both").discover_fields("contact")
    contact, lead = by_name(fields, "Contact"), by_name(fields, "Lead")
    colour = contact["Favourite_Colour__c"]
    assert (colour.type, colour.label, colour.custom) == ("enumeration", "Favourite colour", True)
    assert colour.options == (("red", "Red"), ("blue", "Blue"))
    assert contact["Score__c"].type == "number" and "Favourite_Colour__c" not in lead
    assert lead["Company"].type == "string" and lead["IsConverted"].read_only


def test_custom_fields_are_writable_and_queryable_through_simple_salesforce(sf, custom):
    made = sf.Contact.create({"LastName": "Ana", "Favourite_Colour__c": "red", "Score__c": 4.5})["id"]
    rows = sf.query("SELECT Id, Score__c FROM Contact WHERE Favourite_Colour__c = 'red'")["records"]
    assert [(r["Id"], r["Score__c"]) for r in rows] == [(made, 4.5)]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "Bo", "Favourite_Colour__c": "green"})
    assert exc.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.create({"LastName": "Cy", "Company": "C", "Favourite_Colour__c": "red"})  # Contact only


def test_want_fields_pulls_a_custom_field_only_where_it_exists(make_connector, sf, custom):
    contact = sf.Contact.create({"LastName": "Ana", "Favourite_Colour__c": "blue"})["id"]
    lead = sf.Lead.create({"LastName": "Lee", "Company": "Acme"})["id"]
    connector = make_connector(lead_mode="both")
    before = {r.id: r for page in connector.pull("contact", cursor=None) for r in page.records}
    assert "Favourite_Colour__c" not in before[contact].fields
    connector.want_fields("contact", ["Favourite_Colour__c", "_lifecycle", "No_Such__c"])
    records = {r.id: r for page in connector.pull("contact", cursor=None) for r in page.records}
    assert records[contact].fields["Favourite_Colour__c"] == "blue"
    assert "Favourite_Colour__c" not in records[lead].fields and "No_Such__c" not in records[contact].fields
    assert connector.get("contact", [contact])[0].fields["Favourite_Colour__c"] == "blue"

    (result,) = connector.update("contact", [(contact, {"Favourite_Colour__c": "red"})])
    assert result.ok and sf.Contact.get(contact)["Favourite_Colour__c"] == "red"
    # the same payload on a Lead drops the field the Lead lacks instead of failing the record
    (result,) = connector.update("contact", [(lead, {"Favourite_Colour__c": "red", "Title": "CTO"})])
    assert result.ok and sf.Lead.get(lead)["Title"] == "CTO"
