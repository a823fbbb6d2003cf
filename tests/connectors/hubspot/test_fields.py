"""HubSpot field discovery and custom fields over real HTTP: the emulator's properties API as the
official client uses it, ``discover_fields`` and ``want_fields`` in the connector."""

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.contacts.exceptions import ApiException as ContactApiException
from hubspot.crm.properties import OptionInput, PropertyCreate
from hubspot.crm.properties.exceptions import ApiException

from connectors.base import FIELD_TYPES
from tests.connectors.hubspot.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def official(config):
    return HubSpot(access_token=config["access_token"], host=config["base_url"])


def create_property(official, object_type="contacts", **fields):
    values = {"group_name": "contactinformation", **fields}
    return official.crm.properties.core_api.create(object_type, PropertyCreate(**values))


def tier_property(official):
    options = [
        OptionInput(label="Gold", value="gold", display_order=0, hidden=False),
        OptionInput(label="Silver", value="silver", display_order=1, hidden=False),
    ]
    return create_property(
        official,
        name="customer_tier",
        label="Customer tier",
        type="enumeration",
        field_type="select",
        options=options,
    )


def test_official_client_creates_lists_and_reads_a_custom_property(hs, official):
    made = tier_property(official)
    assert made.name == "customer_tier" and made.hubspot_defined is None
    assert [(o.value, o.label) for o in made.options] == [("gold", "Gold"), ("silver", "Silver")]
    listed = {p.name: p for p in official.crm.properties.core_api.get_all("contacts").results}
    assert listed["email"].hubspot_defined is True and listed["customer_tier"].label == "Customer tier"
    assert listed["lastmodifieddate"].modification_metadata.read_only_value is True
    assert official.crm.properties.core_api.get_by_name("contacts", "customer_tier").type == "enumeration"
    with pytest.raises(ApiException) as duplicate:
        tier_property(official)
    assert duplicate.value.status == 409
    with pytest.raises(ApiException) as missing:
        official.crm.properties.core_api.get_by_name("contacts", "no_such_property")
    assert missing.value.status == 404


def test_records_accept_and_check_custom_property_values(hs, official):
    tier_property(official)
    create_property(official, name="renewal_day", label="Renewal day", type="date", field_type="date")
    person = official.crm.contacts.basic_api.create(
        ContactInput(
            properties={"email": "ana@example.com", "customer_tier": "gold", "renewal_day": "2024-01-15"}
        )
    )
    read = official.crm.contacts.basic_api.get_by_id(person.id, properties=["customer_tier", "renewal_day"])
    assert read.properties["customer_tier"] == "gold"
    assert read.properties["renewal_day"] == "1705276800000"  # midnight UTC, epoch ms
    with pytest.raises(ContactApiException) as wrong:
        official.crm.contacts.basic_api.update(
            person.id, SimplePublicObjectInput(properties={"customer_tier": "bronze"})
        )
    assert wrong.value.status == 400 and "INVALID_OPTION" in wrong.value.body
    with pytest.raises(ContactApiException) as not_midnight:
        official.crm.contacts.basic_api.update(
            person.id, SimplePublicObjectInput(properties={"renewal_day": "1705276800001"})
        )
    assert not_midnight.value.status == 400 and "INVALID_DATE" in not_midnight.value.body


def test_the_custom_properties_setting_still_names_writable_text_properties(hs, base, api):
    control(base, "settings", {"custom_properties": {"companies": ["external_id"]}})
    made = api.post(
        f"{base}/crm/v3/objects/companies",
        json={"properties": {"name": "A", "external_id": "x1"}},
        timeout=10,
    )
    assert made.status_code == 201
    listed = api.get(f"{base}/crm/v3/properties/companies/external_id", timeout=10).json()
    assert listed["type"] == "string" and "hubspotDefined" not in listed


def test_discover_fields_maps_hubspot_types_labels_options_and_custom(hs, official, connector):
    tier_property(official)
    create_property(
        official,
        name="interests",
        label="Interests",
        type="enumeration",
        field_type="checkbox",
        options=[OptionInput(label="Golf", value="golf", display_order=0, hidden=False)],
    )
    create_property(official, name="vip", label="VIP", type="bool", field_type="booleancheckbox")
    create_property(official, name="renewal_day", label="Renewal day", type="date", field_type="date")
    create_property(official, name="seats", label="Seats", type="number", field_type="number")
    fields = {f.name: f for f in connector.discover_fields("contact")}
    assert all(f.type in FIELD_TYPES for f in fields.values())
    tier = fields["customer_tier"]
    assert (tier.label, tier.type, tier.custom, tier.options) == (
        "Customer tier",
        "enumeration",
        True,
        (("gold", "Gold"), ("silver", "Silver")),
    )
    assert fields["interests"].type == "multi_enumeration"
    assert fields["vip"].type == "boolean"
    assert (fields["renewal_day"].type, fields["renewal_day"].format) == ("date", "epoch_ms")
    assert fields["seats"].type == "number"
    assert fields["email"].type == "email" and not fields["email"].custom
    assert fields["phone"].type == "phone"
    assert (
        fields["lifecyclestage"].type == "enumeration"
        and ("lead", "Lead") in fields["lifecyclestage"].options
    )
    created = fields["createdate"]
    assert (created.type, created.read_only, created.format) == ("datetime", True, "epoch_ms")
    assert fields["hs_object_id"].type == "id" and fields["hubspot_owner_id"].type == "reference"
    assert all(f.remote_type == "" for f in fields.values())


def test_discover_fields_for_activities_names_each_object_type(hs, connector):
    fields = connector.discover_fields("activity")
    assert {f.remote_type for f in fields} == {"notes", "tasks", "calls", "emails", "meetings"}
    status = next(f for f in fields if f.remote_type == "tasks" and f.name == "hs_task_status")
    assert status.type == "enumeration" and ("COMPLETED", "Completed") in status.options
    stamp = next(f for f in fields if f.remote_type == "notes" and f.name == "hs_timestamp")
    assert (stamp.type, stamp.format) == ("datetime", "epoch_ms")


def test_want_fields_reads_custom_properties_in_pulls_and_gets(hs, official, config, make_connector):
    tier_property(official)
    person = official.crm.contacts.basic_api.create(
        ContactInput(properties={"email": "ana@example.com", "customer_tier": "silver"})
    ).id
    plain = make_connector(config)
    (record,) = [r for page in plain.pull("contact", cursor=None) for r in page.records]
    assert "customer_tier" not in record.fields

    wanting = make_connector(config)
    # Unknown names are ignored by HubSpot (and the emulator), as are synthetic ones.
    wanting.want_fields("contact", ["customer_tier", "no_such_property", "_kind"])
    (record,) = [r for page in wanting.pull("contact", cursor=None) for r in page.records]
    assert record.fields["customer_tier"] == "silver" and "no_such_property" not in record.fields
    assert wanting.get("contact", [person])[0].fields["customer_tier"] == "silver"
