"""Custom properties created through HubSpot's properties API: the emulator's property groups and
property creation as the official client (hubspot-api-client) uses them, and the connector's
``create_fields`` over real HTTP."""

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate
from hubspot.crm.properties.exceptions import ApiException

from connectors.base import FieldSpec, PermanentError
from connectors.hubspot.connector import PROPERTY_GROUP, HubSpotConnector

pytestmark = pytest.mark.django_db(transaction=True)

SPECS = [
    FieldSpec("platform_score", "Platform score", "number"),
    FieldSpec("platform_deal_stage", "Platform deal stage", "string"),
    FieldSpec("platform_summary", "Platform summary", "text"),
]


@pytest.fixture
def official(config):
    return HubSpot(access_token=config["access_token"], host=config["base_url"])


def test_official_client_creates_reads_and_lists_property_groups(hs, official):
    groups = official.crm.properties.groups_api
    made = groups.create("contacts", PropertyGroupCreate(name="platform", label="Platform", display_order=-1))
    assert (made.name, made.label, made.archived) == ("platform", "Platform", False)
    assert groups.get_by_name("contacts", "platform").label == "Platform"
    names = {g.name for g in groups.get_all("contacts").results}
    assert {"contactinformation", "platform"} <= names
    assert "platform" not in {g.name for g in groups.get_all("companies").results}  # per object type
    with pytest.raises(ApiException) as duplicate:
        groups.create("contacts", PropertyGroupCreate(name="platform", label="Again"))
    assert duplicate.value.status == 409 and "OBJECT_ALREADY_EXISTS" in duplicate.value.body
    with pytest.raises(ApiException) as missing:
        groups.get_by_name("contacts", "nope")
    assert missing.value.status == 404


def test_a_property_must_name_an_existing_group_and_a_valid_type(hs, official):
    core = official.crm.properties.core_api
    with pytest.raises(ApiException) as no_group:
        core.create(
            "contacts",
            PropertyCreate(name="tier", label="Tier", type="string", field_type="text", group_name="nowhere"),
        )
    assert no_group.value.status == 400 and "VALIDATION_ERROR" in no_group.value.body
    with pytest.raises(ApiException) as bad_type:
        core.create(
            "contacts",
            PropertyCreate(
                name="tier",
                label="Tier",
                type="number",
                field_type="textarea",
                group_name="contactinformation",
            ),
        )
    assert bad_type.value.status == 400 and "VALIDATION_ERROR" in bad_type.value.body


def test_create_fields_makes_the_group_and_properties_that_records_then_hold(hs, connector, official):
    made = connector.create_fields("contact", SPECS)

    assert [(f.name, f.label, f.type, f.custom) for f in made] == [
        ("platform_score", "Platform score", "number", True),
        ("platform_deal_stage", "Platform deal stage", "string", True),
        ("platform_summary", "Platform summary", "text", True),
    ]
    stored = official.crm.properties.core_api.get_by_name("contacts", "platform_summary")
    assert (stored.type, stored.field_type, stored.group_name) == ("string", "textarea", PROPERTY_GROUP)
    assert official.crm.properties.core_api.get_by_name("contacts", "platform_score").field_type == "number"
    assert official.crm.properties.groups_api.get_by_name("contacts", PROPERTY_GROUP).label == "Platform"
    discovered = {f.name for f in connector.discover_fields("contact")}
    assert {"platform_score", "platform_deal_stage", "platform_summary"} <= discovered

    person = official.crm.contacts.basic_api.create(ContactInput(properties={"email": "ana@example.com"}))
    official.crm.contacts.basic_api.update(
        person.id, SimplePublicObjectInput(properties={"platform_score": "72", "platform_deal_stage": "demo"})
    )
    read = official.crm.contacts.basic_api.get_by_id(
        person.id, properties=["platform_score", "platform_deal_stage"]
    )
    assert (read.properties["platform_score"], read.properties["platform_deal_stage"]) == ("72", "demo")


def test_create_fields_again_treats_existing_properties_as_made(hs, connector, make_connector, config):
    connector.create_fields("company", SPECS[:1])
    again = make_connector(config).create_fields("company", SPECS)  # the group and one property exist
    assert [f.name for f in again] == ["platform_score", "platform_deal_stage", "platform_summary"]
    assert sum(f.name == "platform_score" for f in connector.discover_fields("company")) == 1


def test_a_refused_property_is_named_and_the_others_are_still_made(hs, connector):
    specs = [FieldSpec("Bad Name!", "Bad", "string"), FieldSpec("platform_fit", "Platform fit", "number")]
    with pytest.raises(PermanentError) as refused:
        connector.create_fields("contact", specs)
    assert "bad name!" in str(refused.value)
    assert "platform_fit" in {f.name for f in connector.discover_fields("contact")}


def test_hubspot_names_are_lower_case():
    assert HubSpotConnector.custom_field_name("Platform_Score") == "platform_score"
    assert HubSpotConnector.creates_fields is True
