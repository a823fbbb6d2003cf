"""Custom fields created through Salesforce's Tooling API: the emulator's CustomField resource as
simple-salesforce calls it, and the connector's ``create_fields`` over real HTTP."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from connectors.base import FieldSpec, PermanentError
from connectors.salesforce.connector import SalesforceConnector

SPECS = [
    FieldSpec("platform_score", "Platform score", "number"),
    FieldSpec("platform_deal_stage", "Platform deal stage", "string"),
    FieldSpec("platform_summary", "Platform summary", "text"),
]


def described(sf, sobject: str) -> dict:
    return {f["name"]: f for f in getattr(sf, sobject).describe()["fields"]}


def score_field(sobject: str = "Contact", name: str = "Rating__c") -> dict:
    return {
        "FullName": f"{sobject}.{name}",
        "Metadata": {"label": "Rating", "type": "Number", "precision": 18, "scale": 0},
    }


def test_simple_salesforce_creates_a_field_that_describe_lists_and_records_hold(sf):
    made = sf.toolingexecute("sobjects/CustomField/", method="POST", data=score_field())
    assert made["success"] is True and made["id"].startswith("00N") and made["errors"] == []
    assert sf.toolingexecute(f"sobjects/CustomField/{made['id']}")["FullName"] == "Contact.Rating__c"

    field = described(sf, "Contact")["Rating__c"]
    assert (field["type"], field["custom"], field["label"], field["precision"], field["scale"]) == (
        "double",
        True,
        "Rating",
        18,
        0,
    )
    person = sf.Contact.create({"LastName": "Lee", "Rating__c": 72})
    found = sf.query(format_soql("SELECT Rating__c FROM Contact WHERE Id = {}", person["id"]))
    assert found["records"][0]["Rating__c"] == 72


def test_restful_post_works_and_a_duplicate_is_salesforces_error_list(sf):
    sf.restful("tooling/sobjects/CustomField/", method="POST", json=score_field("Account"))
    with pytest.raises(SalesforceMalformedRequest) as duplicate:
        sf.restful("tooling/sobjects/CustomField/", method="POST", json=score_field("Account"))
    assert duplicate.value.status == 400
    assert duplicate.value.content == [
        {
            "message": "There is already a field named Rating on Account.",
            "errorCode": "DUPLICATE_DEVELOPER_NAME",
            "fields": [],
        }
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {
                "FullName": "Contact.Rating",
                "Metadata": {"label": "R", "type": "Number", "precision": 3, "scale": 0},
            },
            "INVALID_FIELD",
        ),
        (
            {"FullName": "Contact.Bad__Name__c", "Metadata": {"label": "R", "type": "Text", "length": 10}},
            "INVALID_FIELD",
        ),
        (
            {"FullName": "Nope.Rating__c", "Metadata": {"label": "R", "type": "Text", "length": 10}},
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            {"FullName": "Contact.Rating__c", "Metadata": {"label": "R", "type": "Number"}},
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            {"FullName": "Contact.Rating__c", "Metadata": {"label": "R", "type": "Text", "length": 300}},
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            {
                "FullName": "Contact.Rating__c",
                "Metadata": {"label": "R", "type": "LongTextArea", "length": 1000},
            },
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            {"FullName": "Contact.Rating__c", "Metadata": {"type": "Text", "length": 10}},
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            {"FullName": "Contact.Email__c", "Metadata": {"label": "R", "type": "Blob"}},
            "FIELD_INTEGRITY_EXCEPTION",
        ),
    ],
)
def test_invalid_metadata_is_refused_as_salesforce_words_it(org, body, code):
    resp = org.call("POST", "/tooling/sobjects/CustomField/", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()[0]["errorCode"] == code
    assert "Rating__c" not in {f["name"] for f in org.get("/sobjects/Contact/describe").json()["fields"]}


def test_create_fields_makes_named_fields_the_connector_then_writes(connector, sf):
    made = connector.create_fields("contact", SPECS)

    assert [(f.name, f.label, f.type, f.custom) for f in made] == [
        ("platform_score__c", "Platform score", "number", True),
        ("platform_deal_stage__c", "Platform deal stage", "string", True),
        ("platform_summary__c", "Platform summary", "text", True),
    ]
    fields = described(sf, "Contact")
    assert (fields["platform_summary__c"]["type"], fields["platform_summary__c"]["length"]) == (
        "textarea",
        32768,
    )
    assert fields["platform_deal_stage__c"]["length"] == 255
    created = connector.create(
        "contact", [{"LastName": "Lee", "platform_score__c": 81, "platform_summary__c": "Builds CRMs"}]
    )
    assert created[0].ok, created[0].error
    row = sf.Contact.get(created[0].remote_id)
    assert (row["platform_score__c"], row["platform_summary__c"]) == (81, "Builds CRMs")


def test_create_fields_on_every_object_the_entity_writes_and_again_without_error(make_connector):
    both = make_connector(lead_mode="both")
    both.create_fields("contact", SPECS[:1])
    again = make_connector(lead_mode="both").create_fields("contact", SPECS[:1])  # duplicates: made already
    assert sorted((f.name, f.remote_type) for f in again) == [
        ("platform_score__c", "Contact"),
        ("platform_score__c", "Lead"),
    ]


def test_a_refused_field_is_named_and_the_others_are_still_made(connector):
    with pytest.raises(PermanentError) as refused:
        connector.create_fields("company", [FieldSpec("bad__name", "Bad", "string"), SPECS[0]])
    assert "Account.bad__name__c" in str(refused.value)
    assert "platform_score__c" in {f.name for f in connector.discover_fields("company")}


def test_salesforce_appends_the_custom_suffix_once():
    assert SalesforceConnector.custom_field_name("platform_score") == "platform_score__c"
    assert SalesforceConnector.custom_field_name("platform_score__c") == "platform_score__c"
