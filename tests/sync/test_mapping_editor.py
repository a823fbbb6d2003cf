"""The field-mapping editor (``sync.mapping_editor``, ``sync.admin_mappings``): argument forms for
every transform, inline checks on the right row and argument, save, reset, a preview against the
HubSpot emulator over real HTTP that saves nothing, and tenant scoping."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from connectors.hubspot.emulator import emulator as hubspot_emulator
from connectors.registry import default_mappings
from integrations.models import AuditLog, Membership
from integrations.services import connector_for
from sync.fields import fields_refresh
from sync.mapping import mappings_ensure_defaults, mappings_for, remote_to_local
from sync.mapping_editor import (
    arg_fields,
    editor_check,
    editor_preview,
    editor_save,
    rows_posted,
    rows_saved,
    transform_choices,
)
from sync.models import Contact, FieldMapping
from sync.transforms import TRANSFORM_LABELS, TRANSFORMS, TransformError
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)

DATE_ROW = {
    "local": "custom:created_on",
    "remote": "createdate",
    "direction": "from_remote",
    "transform": "date_format",
    "args": {"format": "iso", "as_date": "on"},
}


@pytest.fixture
def hubspot(catalog, subaccount, sandbox_url):
    hubspot_emulator.reset()
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url)
    assert fields_refresh(integration, ["contact"]).ok
    yield integration
    hubspot_emulator.reset()


@pytest.fixture
def operator(db) -> Client:
    get_user_model().objects.create_superuser("operator", "op@example.com", "pw")
    client = Client()
    client.login(username="operator", password="pw")
    return client


def editor_url(integration, name: str = "sync_mapping_editor") -> str:
    return reverse(f"admin:{name}", args=[integration.pk])


def form_data(rows: list[dict], *, entity: str = "contact", **extra) -> dict[str, str]:
    """A posted editor form: one ``rows-<key>-...`` group per row (args by name)."""
    data = {"entity": entity, **extra}
    for key, row in enumerate(rows):
        prefix = f"rows-{key}-"
        data[prefix + "local"] = row["local"]
        data[prefix + "remote"] = row["remote"]
        data[prefix + "direction"] = row.get("direction", "both")
        data[prefix + "transform"] = row.get("transform", "")
        for name, value in row.get("args", {}).items():
            data[prefix + "arg-" + name] = value
    return data


def saved(integration, entity: str = "contact") -> list[tuple]:
    return list(
        FieldMapping.objects.filter(integration=integration, entity=entity)
        .order_by("position", "id")
        .values_list("local_field", "remote_field", "direction", "transform")
    )


# --- argument forms -----------------------------------------------------------------------------


def test_every_transform_gets_an_argument_form_from_its_schema():
    assert {name for name, _, _ in transform_choices()} == set(TRANSFORMS)
    assert set(TRANSFORM_LABELS) == set(TRANSFORMS)
    for name, transform in TRANSFORMS.items():
        fields = arg_fields(name)
        assert [f.name for f in fields] == list(transform.args)
        for f, spec in zip(fields, transform.args.values(), strict=True):
            assert f.label and f.kind in ("bool", "int", "list", "map", "text", "scalar")
            assert f.required == spec.required


def test_the_page_offers_each_transform_with_its_argument_form(operator, hubspot):
    page = operator.get(editor_url(hubspot)).content.decode()
    for name, transform in TRANSFORMS.items():
        assert f'<template id="args-{name}">' in page
        assert f'<option value="{name}"' in page
        for arg in transform.args:
            assert f'name="rows-__prefix__-arg-{arg}"' in page
    assert 'name="rows-0-local" value="first_name"' in page  # the defaults, as rows
    assert '<option value="email">Email</option>' in page  # remote fields listed by label


def test_every_default_mapping_round_trips_through_the_form(hubspot):
    """Saving the form unchanged saves the same specs: the argument widgets read back what they show."""
    for entity in default_mappings("hubspot"):
        rows = rows_saved(hubspot, entity)
        data = {"entity": entity}
        for row in rows:
            prefix = f"rows-{row.key}-"
            data.update(
                {
                    prefix + "local": row.local,
                    prefix + "remote": row.remote,
                    prefix + "direction": row.direction,
                }
            )
            data[prefix + "transform"] = row.transform
            for arg in row.args:
                if arg.kind == "bool":
                    if arg.value:
                        data[prefix + "arg-" + arg.name] = "on"
                else:
                    data[prefix + "arg-" + arg.name] = arg.value
        posted = rows_posted(data)
        expected = [(m[0], m[1], m[2], _without_false(m[3])) for m in saved(hubspot, entity)]
        assert [(r.local, r.remote, r.direction, r.spec) for r in posted] == expected, entity


def _without_false(spec):
    """A stored false flag and a left-out one mean the same (the default); the form leaves it out."""
    if not spec:
        return None
    return {
        "name": spec["name"],
        "args": {k: v for k, v in (spec.get("args") or {}).items() if v is not False},
    }


# --- checks, save, reset ------------------------------------------------------------------------


def test_a_bad_argument_is_refused_on_its_row_and_argument_and_nothing_is_saved(operator, hubspot):
    before = saved(hubspot)
    rows = [
        {"local": "email", "remote": "email", "transform": "lowercase"},
        {**DATE_ROW, "args": {"format": "someday"}},
        {"local": "phone", "remote": "phone", "transform": "number", "args": {"decimals": "two"}},
    ]
    check = operator.post(editor_url(hubspot, "sync_mapping_check"), form_data(rows)).json()
    assert check["ok"] is False
    assert set(check["rows"]) == {"1", "2"}
    assert "argument 'format' must be one of epoch_ms" in check["rows"]["1"]["args"]["format"][0]
    assert check["rows"]["2"]["args"]["decimals"] == ["'two' is not a whole number"]

    response = operator.post(editor_url(hubspot), form_data(rows, action="save"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not saved: correct the rows marked below." in page
    assert "argument &#x27;format&#x27; must be one of epoch_ms" in page
    assert saved(hubspot) == before


def test_a_missing_required_argument_and_an_unknown_field_are_named(hubspot):
    rows = rows_posted(
        form_data(
            [
                {"local": "custom:x", "remote": "createdate", "transform": "split_name"},
                {"local": "email", "remote": "emial"},
            ]
        )
    )
    assert editor_check(hubspot, "contact", rows) is None
    [part] = rows[0].args
    assert part.errors == ["transform 'split_name': missing required argument 'part'"]
    assert rows[1].errors[0].startswith("the provider has no field 'emial' for this entity; close: email")


def test_save_replaces_the_entitys_rows_and_writes_the_audit_log(operator, hubspot):
    rows = [
        {"local": "email", "remote": "email", "transform": "lowercase"},
        DATE_ROW,
        {"local": "custom_fields.stage", "remote": "Lifecycle Stage", "direction": "from_remote"},
    ]
    response = operator.post(editor_url(hubspot), form_data(rows, action="save"))
    assert response.status_code == 302
    assert saved(hubspot) == [
        ("email", "email", "both", {"name": "lowercase", "args": {}}),
        (
            "custom:created_on",
            "createdate",
            "from_remote",
            {"name": "date_format", "args": {"format": "iso", "as_date": True}},
        ),
        ("custom:stage", "lifecyclestage", "from_remote", None),  # typed by label, stored by name
    ]
    assert saved(hubspot, "company")  # other entities untouched
    log = AuditLog.objects.get(integration=hubspot, action="mappings_saved")
    assert log.changes == {"entity": "contact", "rows": 3} and log.actor == "user:operator"


def test_reset_restores_the_templates_defaults(operator, hubspot):
    mappings_ensure_defaults(hubspot)
    defaults = saved(hubspot)
    assert editor_save(
        integration=hubspot,
        entity="contact",
        rows=rows_posted(form_data([{"local": "email", "remote": "email"}])),
        actor="test",
    )
    assert len(saved(hubspot)) == 1
    response = operator.post(editor_url(hubspot, "sync_mapping_reset"), {"entity": "contact"})
    assert response.status_code == 302
    assert saved(hubspot) == defaults
    assert FieldMapping.objects.filter(integration=hubspot, entity="contact", is_default=False).count() == 0
    assert AuditLog.objects.filter(integration=hubspot, action="mappings_reset").exists()


# --- preview ------------------------------------------------------------------------------------


def test_the_preview_maps_a_remote_and_a_local_sample_and_saves_nothing(operator, hubspot, subaccount):
    [created] = hubspot_emulator.create_many(
        "contacts", [{"email": "Ada.Lovelace@Example.COM", "firstname": "Ada", "lastname": "Lovelace"}]
    )
    Contact.objects.create(subaccount=subaccount, email="Grace@Example.com", first_name="Grace", phone="")
    before = saved(hubspot)
    contacts = Contact.objects.count()
    rows = [
        {"local": "email", "remote": "email", "transform": "lowercase"},
        {"local": "first_name", "remote": "firstname", "transform": "default", "args": {"value": "Friend"}},
        DATE_ROW,
    ]
    response = operator.post(editor_url(hubspot), form_data(rows, action="preview"))
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.inbound.error == "" and preview.inbound.record_id == created.remote_id
    inbound = {f.local: f for f in preview.inbound.fields}
    assert inbound["email"].source == "Ada.Lovelace@Example.COM"
    assert inbound["email"].value == "ada.lovelace@example.com"
    assert inbound["custom:created_on"].value == created.data["createdate"][:10]
    outbound = {f.remote: f for f in preview.outbound.fields}
    assert outbound["email"].value == "grace@example.com"
    assert outbound["firstname"].value == "Grace"
    assert "custom:created_on" not in {f.local for f in preview.outbound.fields}  # inbound only
    page = response.content.decode()
    assert "ada.lovelace@example.com" in page and "grace@example.com" in page
    assert saved(hubspot) == before and Contact.objects.count() == contacts


def test_a_transform_error_shows_on_its_field_and_a_row_without_one_runs_its_implied_one(hubspot, subaccount):
    hubspot_emulator.create_many("contacts", [{"email": "a@example.com", "firstname": "Ada"}])
    Contact.objects.create(subaccount=subaccount, email="b@example.com", first_name="Bea")
    rows = rows_posted(
        form_data(
            [
                {"local": "email", "remote": "email"},
                {
                    "local": "custom:n",
                    "remote": "firstname",
                    "direction": "from_remote",
                    "transform": "number",
                },
                {"local": "custom:made", "remote": "createdate", "direction": "from_remote"},
            ]
        )
    )
    maps = editor_check(hubspot, "contact", rows)
    assert maps is not None
    preview = editor_preview(integration=hubspot, entity="contact", maps=maps)
    inbound = {f.local: f for f in preview.inbound.fields}
    assert inbound["custom:n"].error == "number: not a number (got 'Ada')"
    assert inbound["email"].value == "a@example.com" and not inbound["email"].error
    # A row without a transform runs the one its discovered field's type implies, as a sync does:
    # the same outcome as the engine's own mappings once saved, error included.
    made = inbound["custom:made"]
    assert made.transform.startswith("Date / time format")
    assert editor_save(integration=hubspot, entity="contact", rows=rows, actor="test")
    [record] = [r for page in connector_for(hubspot).pull("contact", cursor=None) for r in page.records]
    engine_maps = [m for m in mappings_for(hubspot, "contact") if m.local == "custom:made"]
    try:
        engine_value = remote_to_local(engine_maps, record.fields, region="US")["custom:made"]
    except TransformError as exc:
        assert made.error == str(exc)
    else:
        assert made.value == engine_value and not made.error


def test_a_provider_error_is_a_message_not_a_500(operator, hubspot):
    hubspot.config = {**hubspot.config, "access_token": "pat-na1-wrong"}
    hubspot.save(update_fields=["config"])
    rows = [{"local": "email", "remote": "email", "transform": "lowercase"}]
    response = operator.post(editor_url(hubspot), form_data(rows, action="preview", remote_id="1"))
    assert response.status_code == 200
    assert response.context["preview"].inbound.error.startswith("The provider refused the sample read")


def test_a_local_sample_by_id_and_none_to_preview_with(hubspot, subaccount):
    maps = editor_check(hubspot, "contact", rows_posted(form_data([{"local": "email", "remote": "email"}])))
    preview = editor_preview(integration=hubspot, entity="contact", maps=maps, local_id="999999")
    assert preview.outbound.error == f"No contact #999999 in {subaccount}."
    assert preview.inbound.error == "The provider has no contact records to preview with yet."


# --- scope and permissions ----------------------------------------------------------------------


def test_another_tenants_integration_is_a_404_and_viewers_cannot_post(hubspot, other_subaccount):
    user = get_user_model().objects.create_user("globex", "g@example.com", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_fieldmapping", "view_integration"])
    )
    Membership.objects.create(user=user, subaccount=other_subaccount)
    client = Client()
    client.login(username="globex", password="pw")
    assert client.get(editor_url(hubspot)).status_code == 404
    assert client.post(editor_url(hubspot, "sync_mapping_reset"), {"entity": "contact"}).status_code == 404
    assert client.post(editor_url(hubspot, "sync_mapping_check"), {"entity": "contact"}).status_code == 404

    Membership.objects.create(user=user, subaccount=hubspot.subaccount)
    assert client.get(editor_url(hubspot)).status_code == 200
    response = client.post(
        editor_url(hubspot), form_data([{"local": "email", "remote": "email"}], action="save")
    )
    assert response.status_code == 403
    assert client.post(editor_url(hubspot, "sync_mapping_reset"), {"entity": "contact"}).status_code == 403
    assert len(saved(hubspot)) > 1


def test_the_integration_page_links_to_the_editor(operator, hubspot):
    page = operator.get(reverse("admin:integrations_integration_change", args=[hubspot.pk])).content.decode()
    assert f'href="{editor_url(hubspot)}" id="mapping-editor-link"' in page
