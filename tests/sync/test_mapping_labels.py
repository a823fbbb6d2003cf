"""Mappings over discovered fields: remote fields named by label, ``custom_fields.<name>``, names the
provider does not have refused, and the transform each field's type implies, both ways."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.base import RemoteField
from connectors.hubspot.connector import HubSpotConnector
from connectors.registry import emulator_module
from integrations.models import Integration
from sync.admin_engine import FieldMappingForm
from sync.fields import LabelAmbiguous, LabelUnknown, field_by_label, fields_refresh, implied_transform
from sync.mapping import (
    MappingInvalid,
    local_to_remote,
    mappings_for,
    mappings_replace,
    mappings_validate,
    remote_to_local,
    validate_rows,
)
from sync.models import Contact, DiscoveredFields, FieldMapping
from sync.runs import sync_run_execute, sync_run_request
from tests.factories import IntegrationFactory
from tests.integrations.test_api import api_for

FIELDS = [
    RemoteField("email", "Email", "email"),
    RemoteField("firstname", "First name"),
    RemoteField("lifecyclestage", "Lifecycle stage", "enumeration", options=(("lead", "Lead"),)),
    RemoteField(
        "favourite_colour",
        "Favourite colour",
        "enumeration",
        options=(("red", "Red"), ("dark_blue", "Dark blue")),
        custom=True,
    ),
    RemoteField(
        "hobbies",
        "Hobbies",
        "multi_enumeration",
        options=(("ski", "Skiing"), ("sail", "Sailing"), ("chess", "Chess")),
        custom=True,
    ),
    RemoteField("seats", "Seats", "number", custom=True),
    RemoteField("renewal", "Renewal date", "date", custom=True, format="epoch_ms"),
    RemoteField("signed_on", "Signed on", "date", custom=True, format="date"),
    RemoteField("last_seen", "Last seen", "datetime", custom=True, format="iso"),
    RemoteField("last_call", "Last call", "datetime", custom=True, format="epoch_ms"),
    RemoteField("vip", "VIP", "boolean", custom=True),
    RemoteField("status_a", "Status", custom=True),
    RemoteField("status_b", "status", custom=True),
    RemoteField("status_c", "Status", custom=True),
]


@pytest.fixture
def integration(catalog, subaccount) -> Integration:
    integration = IntegrationFactory(
        subaccount=subaccount, status="active", config={"auth_mode": "private_app", "access_token": "pat-t-1"}
    )
    DiscoveredFields.objects.create(
        integration=integration, entity="contact", fields=[f.to_dict() for f in FIELDS]
    )
    return integration


def refused(integration: Integration, row: dict) -> list[str]:
    with pytest.raises(MappingInvalid) as info:
        mappings_validate(integration=integration, entity="contact", rows=[row])
    return info.value.errors[0]


# --- labels ---------------------------------------------------------------------------------


def test_a_label_names_its_field_whatever_its_case(integration):
    [row] = mappings_validate(
        integration=integration,
        entity="contact",
        rows=[{"local": "custom:colour", "remote_label": "favourite COLOUR"}],
    )
    assert (row.local, row.remote) == ("custom:colour", "favourite_colour")


def test_an_unknown_label_is_refused_with_the_close_ones(integration):
    [message] = refused(integration, {"local": "custom:colour", "remote_label": "Favorite color"})
    assert message.startswith("no field is labelled 'Favorite color'; close: 'Favourite colour'")


def test_an_ambiguous_label_names_the_candidates(integration):
    [message] = refused(integration, {"local": "custom:status", "remote_label": "Status"})
    assert "several fields are labelled 'Status': status_a, status_c" in message
    # The one field whose label matches exactly, case included, is no ambiguity.
    [row] = mappings_validate(
        integration=integration, entity="contact", rows=[{"local": "custom:s", "remote_label": "status"}]
    )
    assert row.remote == "status_b"


def test_field_by_label_ignores_one_field_listed_per_remote_type():
    fields = [
        RemoteField("Subject", "Subject", remote_type="Task"),
        RemoteField("Subject", "Subject", remote_type="Event"),
        RemoteField("hs_note_body", "Body", remote_type="notes"),
        RemoteField("hs_task_body", "body", remote_type="tasks"),
        RemoteField("hs_call_body", "body", remote_type="calls"),
    ]
    assert field_by_label(fields, "subject").name == "Subject"
    assert field_by_label(fields, "Body").name == "hs_note_body"
    with pytest.raises(LabelAmbiguous, match=r"hs_task_body \(tasks\), hs_call_body \(calls\)"):
        field_by_label(fields, "BODY")
    with pytest.raises(LabelUnknown):
        field_by_label(fields, "Nothing like it")


def test_remote_and_label_together_must_name_the_same_field(integration):
    rows = [{"local": "email", "remote": "email", "remote_label": "Email"}]
    assert mappings_validate(integration=integration, entity="contact", rows=rows)[0].remote == "email"
    [message] = refused(integration, {"local": "email", "remote": "email", "remote_label": "First name"})
    assert "name different fields" in message


def test_a_label_without_discovered_fields_asks_for_a_refresh(catalog, subaccount):
    bare = IntegrationFactory(subaccount=subaccount)
    with pytest.raises(MappingInvalid) as info:
        mappings_validate(
            integration=bare, entity="contact", rows=[{"local": "email", "remote_label": "Email"}]
        )
    assert "needs the provider's fields: refresh them" in info.value.errors[0][0]


# --- names the provider does not have, custom_fields.<name> -----------------------------------------


def test_a_remote_name_the_provider_does_not_have_is_refused(integration):
    [message] = refused(integration, {"local": "email", "remote": "emial"})
    assert message.startswith("the provider has no field 'emial' for this entity; close: email")


def test_synthetic_names_and_uncached_entities_are_not_checked(integration):
    assert mappings_validate(
        integration=integration, entity="contact", rows=[{"local": "custom:k", "remote": "_kind"}]
    )
    assert mappings_validate(  # nothing discovered for deals: any valid name goes
        integration=integration, entity="deal", rows=[{"local": "name", "remote": "anything_at_all"}]
    )
    assert validate_rows("contact", [{"local": "email", "remote": "emial"}])  # no fields given


def test_custom_fields_dot_name_is_stored_as_custom_colon_name(integration):
    mappings_replace(
        integration=integration,
        entity="contact",
        rows=[{"local": "custom_fields.colour", "remote_label": "Favourite colour"}],
    )
    stored = FieldMapping.objects.get(integration=integration, entity="contact")
    assert (stored.local_field, stored.remote_field) == ("custom:colour", "favourite_colour")
    assert refused(integration, {"local": "custom_fields.", "remote": "email"})[0].startswith(
        "unknown local field"
    )


def test_the_mapping_api_takes_labels_and_shows_them(integration):
    api = api_for(integration.subaccount)
    rows = [
        {"local": "email", "remote": "email"},
        {"local": "custom_fields.colour", "remote_label": "Favourite colour", "direction": "from_remote"},
        {"local": "custom:k", "remote": "_kind"},
    ]

    response = api.put(f"/api/v1/integrations/{integration.pk}/mappings/", {"contact": rows}, format="json")

    assert response.status_code == 200, response.content
    contact = response.json()["contact"]
    assert contact[0] == {
        "local": "email",
        "remote": "email",
        "remote_label": "Email",
        "direction": "both",
        "transform": None,
    }
    assert contact[1]["local"] == "custom:colour"
    assert (contact[1]["remote"], contact[1]["remote_label"]) == ("favourite_colour", "Favourite colour")
    assert "remote_label" not in contact[2]  # not a discovered field
    # What GET answers can be sent back as it is.
    again = api.put(f"/api/v1/integrations/{integration.pk}/mappings/", {"contact": contact}, format="json")
    assert again.status_code == 200, again.content


def test_the_mapping_api_refuses_unknown_labels_and_fields_per_row(integration):
    api = api_for(integration.subaccount)
    rows = [{"local": "email", "remote": "emial"}, {"local": "custom:x", "remote_label": "Favourite"}]
    response = api.put(f"/api/v1/integrations/{integration.pk}/mappings/", {"contact": rows}, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]["contact"]
    assert "no field 'emial'" in details["0"][0]
    assert "no field is labelled 'Favourite'" in details["1"][0]


# --- transforms implied by the field's type ---------------------------------------------------


def maps(integration: Integration, rows: list[dict]):
    mappings_replace(integration=integration, entity="contact", rows=rows)
    return mappings_for(integration, "contact")


@pytest.mark.parametrize(
    ("remote", "remote_value", "local_value"),
    [
        ("seats", "17", Decimal("17")),
        ("seats", "2.50", Decimal("2.50")),
        ("renewal", "1572480000000", "2019-10-31"),
        ("signed_on", "2024-02-29", "2024-02-29"),
        ("last_seen", "2024-03-01T10:15:00+00:00", "2024-03-01T10:15:00+00:00"),
        ("last_call", "1709288100000", "2024-03-01T10:15:00+00:00"),
        ("vip", "true", True),
        ("vip", "false", False),
        ("favourite_colour", "dark_blue", "Dark blue"),
        ("favourite_colour", "green", "green"),  # not an option: passes through
        ("hobbies", "ski;chess", ["Skiing", "Chess"]),
        ("hobbies", "sail;kite", ["Sailing", "kite"]),
    ],
)
def test_the_implied_transform_reads_and_writes_each_type(integration, remote, remote_value, local_value):
    [m] = maps(integration, [{"local": "custom:x", "remote": remote}])

    assert m.to_local(remote_value, record={}, region="US") == local_value
    assert m.to_remote(local_value, record={}, region="US") in (remote_value, _json(remote_value))


def _json(remote_value: str):
    """The JSON value a transform sends for a wire string (numbers and booleans go as JSON)."""
    return {"17": 17, "2.50": 2.5, "true": True, "false": False}.get(remote_value, remote_value)


def test_booleans_read_every_spelling(integration):
    [m] = maps(integration, [{"local": "custom:vip", "remote": "vip"}])
    assert [m.to_local(v, record={}, region="US") for v in (True, 1, "1", "TRUE", 0, "0", "", None)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        None,
        None,
    ]
    assert m.to_remote(True, record={}, region="US") is True
    assert m.to_remote("false", record={}, region="US") is False


def test_pulled_and_pushed_records_go_through_the_implied_transforms(integration):
    rows = [
        {"local": "custom:colour", "remote": "favourite_colour"},
        {"local": "custom:hobbies", "remote": "hobbies"},
        {"local": "custom:seats", "remote": "seats"},
        {"local": "custom:renewal", "remote": "renewal"},
        {"local": "custom:vip", "remote": "vip"},
    ]
    current = maps(integration, rows)
    remote = {
        "favourite_colour": "red",
        "hobbies": "sail",
        "seats": "3",
        "renewal": "1572480000000",
        "vip": "true",
    }

    local = remote_to_local(current, remote, region="US")

    assert local == {
        "custom:colour": "Red",
        "custom:hobbies": ["Sailing"],
        "custom:seats": "3",
        "custom:renewal": "2019-10-31",
        "custom:vip": True,
    }
    assert local_to_remote(current, local, region="US") == {
        "favourite_colour": "red",
        "hobbies": "sail",
        "seats": 3,
        "renewal": "1572480000000",
        "vip": True,
    }


def test_canonical_fields_keep_provider_enumeration_values_and_explicit_transforms_win(integration):
    current = maps(
        integration,
        [
            {"local": "lifecycle_stage", "remote": "lifecyclestage"},
            {"local": "custom:colour_code", "remote": "favourite_colour", "transform": {"name": "lowercase"}},
        ],
    )
    assert [m.transform for m in current] == [None, {"name": "lowercase"}]
    assert current[0].to_local("lead", record={}, region="US") == "lead"


def test_implied_transforms_need_the_cache_and_cost_no_query_per_record(
    integration, django_assert_num_queries
):
    mappings_replace(
        integration=integration, entity="contact", rows=[{"local": "custom:n", "remote": "seats"}]
    )
    with django_assert_num_queries(3):  # defaults exist?, the cache, the mappings
        [m] = mappings_for(integration, "contact")
    with django_assert_num_queries(0):
        values = [m.to_local(str(n), record={}, region="US") for n in range(50)]
    assert values[-1] == Decimal(49)
    DiscoveredFields.objects.filter(integration=integration).delete()
    assert mappings_for(integration, "contact")[0].transform is None


def test_implied_transform_per_type():
    assert implied_transform(RemoteField("n", "N", "number"), "amount") == {"name": "number", "args": {}}
    assert implied_transform(RemoteField("d", "D", "date"), "close_date") == {
        "name": "date_format",
        "args": {"format": "date", "as_date": True},
    }
    assert implied_transform(RemoteField("t", "T", "datetime"), "custom:t") == {
        "name": "date_format",
        "args": {"format": "iso"},
    }
    enum = RemoteField("s", "S", "enumeration", options=(("a", "A"),))
    assert implied_transform(enum, "stage") is None
    assert implied_transform(RemoteField("s", "S", "enumeration"), "custom:s") is None  # no options
    assert implied_transform(RemoteField("x", "X", "string"), "custom:x") is None
    assert implied_transform(None, "custom:x") is None


def test_a_date_format_the_transform_does_not_know_copies_the_value(integration):
    DiscoveredFields.objects.filter(integration=integration).update(
        fields=[RemoteField("odd", "Odd", "date", format="julian").to_dict()]
    )
    [m] = maps(integration, [{"local": "custom:odd", "remote": "odd"}])
    assert m.transform is None


# --- end to end through the HubSpot emulator (pushes carry custom fields today) ----------------


@pytest.mark.django_db(transaction=True)
def test_a_custom_field_mapped_by_label_is_pushed_as_its_option_value(
    integration_for, subaccount, monkeypatch
):
    emulator = emulator_module("hubspot").emulator
    emulator.reset()
    state = emulator.state()
    state.settings = {**state.settings, "custom_properties": {"contacts": ["favourite_colour", "seats"]}}
    state.save(update_fields=["settings"])
    monkeypatch.setattr(
        HubSpotConnector,
        "discover_fields",
        lambda self, entity: (
            [f for f in FIELDS if f.name in ("email", "firstname", "favourite_colour", "seats")]
            if entity == "contact"
            else []
        ),
    )
    integration = integration_for("hubspot")
    assert fields_refresh(integration).ok
    mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {"local": "email", "remote_label": "Email", "transform": {"name": "lowercase"}},
            {"local": "first_name", "remote_label": "First name"},
            {"local": "custom_fields.colour", "remote_label": "Favourite colour", "direction": "to_remote"},
            {"local": "custom_fields.seats", "remote_label": "seats", "direction": "to_remote"},
        ],
    )
    Contact.objects.create(
        subaccount=subaccount,
        email="ada@example.com",
        first_name="Ada",
        custom_fields={"colour": "Dark blue", "seats": "12"},
    )
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    assert sync_run_execute(run_id=run.pk).status == "succeeded"

    [pushed] = [r.data for r in emulator.records("contacts") if r.data.get("email") == "ada@example.com"]
    assert pushed["favourite_colour"] == "dark_blue"
    assert pushed["seats"] == "12"


# --- the admin's mapping rows -----------------------------------------------------------------


def test_the_admin_mapping_form_checks_rows_against_the_discovered_fields(integration):
    def form(local: str, remote: str) -> FieldMappingForm:
        data = {"entity": "contact", "local_field": local, "remote_field": remote, "direction": "both"}
        data.update(position=0, transform="null")
        return FieldMappingForm(data=data, instance=FieldMapping(integration=integration))

    typo = form("email", "emial")
    assert not typo.is_valid()
    assert "the provider has no field 'emial'" in typo.non_field_errors()[0]
    alias = form("custom_fields.colour", "favourite_colour")
    assert alias.is_valid(), alias.errors
    assert alias.save().local_field == "custom:colour"
