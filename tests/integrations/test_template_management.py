"""Operators manage the catalog (admin and API); sub-account keys and other staff only read it, and
``load_catalog`` keeps what an operator changed unless forced."""

import copy
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from integrations.catalog_loader import CATALOG_DIR
from integrations.models import IntegrationTemplate, Membership
from tests.factories import IntegrationFactory
from tests.integrations.test_api import api_for

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"api_key": {"type": "string", "format": "password", "writeOnly": True}},
    "required": ["api_key"],
}
NEW = {
    "key": "acme_crm",
    "display_name": "Acme CRM",
    "description": "Our in-house CRM.",
    "category": "CRM",
    "connector": "pipedrive",
    "auth_type": "api_key",
    "config_schema": SCHEMA,
    "webhook_url": "https://acme.example.com/hooks",
}


@pytest.fixture
def operator(db):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")
    client = APIClient()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def staff(db, subaccount):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    Membership.objects.create(user=user, subaccount=subaccount)
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_X_SUBACCOUNT=subaccount.slug)
    return client


def test_operator_creates_edits_and_deactivates_a_template_over_the_api(catalog, operator, subaccount):
    created = operator.post("/api/v1/templates/", NEW, format="json")
    assert created.status_code == 201, created.content
    stored = IntegrationTemplate.objects.get(key="acme_crm")
    assert (stored.created_by, stored.edited, stored.webhook_url) == (
        operator.user,
        True,
        "https://acme.example.com/hooks",
    )
    assert created.json()["config_schema"] == SCHEMA

    patched = operator.patch("/api/v1/templates/acme_crm/", {"display_name": "Acme"}, format="json")
    assert patched.status_code == 200 and patched.json()["display_name"] == "Acme"
    put = operator.put(
        "/api/v1/templates/acme_crm/", {**NEW, "key": "ignored", "category": "Sales"}, format="json"
    )
    assert put.status_code == 200, put.content
    stored.refresh_from_db()
    assert (stored.key, stored.category, stored.display_name) == ("acme_crm", "Sales", "Acme CRM")

    IntegrationFactory(subaccount=subaccount, template=stored)  # PROTECT: deactivating is still fine
    deleted = operator.delete("/api/v1/templates/acme_crm/")
    assert deleted.status_code == 204
    stored.refresh_from_db()
    assert stored.is_active is False and stored.integrations.count() == 1
    # The operator still sees it (to reactivate it); a sub-account no longer does.
    assert operator.get("/api/v1/templates/acme_crm/").json()["is_active"] is False
    api = api_for(subaccount)
    assert api.get("/api/v1/templates/acme_crm/").status_code == 404
    assert "acme_crm" not in {t["key"] for t in api.get("/api/v1/templates/").json()}
    reactivated = operator.patch("/api/v1/templates/acme_crm/", {"is_active": True}, format="json")
    assert reactivated.status_code == 200
    assert api.get("/api/v1/templates/acme_crm/").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_sub_account_keys_and_other_staff_cannot_change_templates(catalog, subaccount, staff, method):
    path = "/api/v1/templates/" if method == "post" else "/api/v1/templates/hubspot/"
    for client in (api_for(subaccount), staff):
        response = getattr(client, method)(path, {**NEW, "display_name": "Hacked"}, format="json")
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "forbidden"
        assert client.get("/api/v1/templates/hubspot/").status_code == 200  # reading is fine
    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    assert hubspot.display_name == "HubSpot" and hubspot.is_active and not hubspot.edited
    assert not IntegrationTemplate.objects.filter(key="acme_crm").exists()


def test_a_superuser_session_without_x_subaccount_reaches_no_sub_account_endpoint(operator):
    response = operator.get("/api/v1/integrations/")
    assert response.status_code == 403
    assert "X-Subaccount" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            {"config_schema": {"type": "object", "properties": {"x": {"type": "strnig"}}}},
            "config_schema",
            "JSON Schema",
        ),
        ({"config_schema": {"type": "array"}}, "config_schema", "object"),
        ({"connector": "nosuchcrm"}, "connector", "neither registered nor planned"),
        ({"capabilities": [1, 2]}, "capabilities", "object"),
    ],
)
def test_an_invalid_template_is_a_400_with_details_and_nothing_is_saved(
    catalog, operator, change, field, reason
):
    response = operator.post("/api/v1/templates/", {**NEW, **change}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and reason in " ".join(error["details"][field])
    assert not IntegrationTemplate.objects.filter(key="acme_crm").exists()
    patched = operator.patch("/api/v1/templates/hubspot/", change, format="json")
    assert patched.status_code == 400 and field in patched.json()["error"]["details"]
    assert not IntegrationTemplate.objects.get(key="hubspot").edited


def test_a_duplicate_key_is_a_400(catalog, operator):
    response = operator.post("/api/v1/templates/", {**NEW, "key": "hubspot"}, format="json")
    assert response.status_code == 400 and "key" in response.json()["error"]["details"]


def test_load_catalog_keeps_operator_edits_names_them_and_force_overwrites(catalog, operator):
    shipped = copy.deepcopy(IntegrationTemplate.objects.get(key="hubspot").config_schema)
    schema = {**shipped, "title": "Our HubSpot"}
    assert (
        operator.patch("/api/v1/templates/hubspot/", {"config_schema": schema}, format="json").status_code
        == 200
    )
    IntegrationTemplate.objects.filter(key="zoho").update(display_name="Drifted")  # not an operator edit

    out = StringIO()
    call_command("load_catalog", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == "0 created, 1 updated, 9 unchanged"
    assert lines[1].startswith("1 skipped, edited by an operator: hubspot") and "--force" in lines[1]
    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    assert hubspot.config_schema["title"] == "Our HubSpot" and hubspot.edited
    assert IntegrationTemplate.objects.get(key="zoho").display_name == "Zoho CRM"

    forced = StringIO()
    call_command("load_catalog", "--force", stdout=forced)
    assert forced.getvalue().strip() == "0 created, 1 updated, 10 unchanged"
    hubspot.refresh_from_db()
    assert hubspot.config_schema == shipped and not hubspot.edited


def test_load_catalog_records_the_files_version(catalog, tmp_path):
    data = json.loads((CATALOG_DIR / "zoho.json").read_text())
    assert IntegrationTemplate.objects.get(key="zoho").version == data["version"]
    (tmp_path / "zoho.json").write_text(json.dumps({**data, "version": data["version"] + 1}))
    call_command("load_catalog", directory=tmp_path, verbosity=0)
    assert IntegrationTemplate.objects.get(key="zoho").version == data["version"] + 1


# --- admin ----------------------------------------------------------------------------------------


def admin_form(**overrides) -> dict:
    return {
        "key": "acme_crm",
        "display_name": "Acme CRM",
        "description": "",
        "category": "CRM",
        "icon": "",
        "is_active": "on",
        "config_schema": json.dumps(SCHEMA),
        "setup_instructions": "",
        "connector": "pipedrive",
        "auth_type": "api_key",
        "api_version": "",
        "capabilities": "{}",
        "webhook_url": "",
        **overrides,
    }


def test_admin_superuser_creates_and_edits_a_template_and_a_broken_schema_is_refused(catalog, client):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")
    client.force_login(user)
    bad = client.post("/admin/integrations/integrationtemplate/add/", admin_form(config_schema='{"type": 5}'))
    assert bad.status_code == 200 and b"is not a valid JSON Schema" in bad.content
    assert not IntegrationTemplate.objects.filter(key="acme_crm").exists()

    added = client.post("/admin/integrations/integrationtemplate/add/", admin_form())
    assert added.status_code == 302, added.content[:2000]
    template = IntegrationTemplate.objects.get(key="acme_crm")
    assert template.created_by == user and template.edited

    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    form = admin_form(
        display_name="HubSpot (ours)",
        config_schema=json.dumps(hubspot.config_schema),
        capabilities=json.dumps(hubspot.capabilities),
        connector="hubspot",
        auth_type=hubspot.auth_type,
        description=hubspot.description,
        setup_instructions=hubspot.setup_instructions,
        icon=hubspot.icon,
        api_version=hubspot.api_version,
    )
    changed = client.post(f"/admin/integrations/integrationtemplate/{hubspot.pk}/change/", form)
    assert changed.status_code == 302
    hubspot.refresh_from_db()
    assert hubspot.display_name == "HubSpot (ours)" and hubspot.edited and hubspot.key == "hubspot"

    deactivated = client.post(
        "/admin/integrations/integrationtemplate/",
        {"action": "action_deactivate", "_selected_action": [template.pk]},
    )
    assert deactivated.status_code == 302
    template.refresh_from_db()
    assert not template.is_active


def test_deactivated_templates_are_not_offered_in_the_wizard_or_the_catalog(catalog, client, subaccount):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")
    client.force_login(user)
    IntegrationTemplate.objects.filter(key="hubspot").update(is_active=False)
    wizard = client.get("/admin/integrations/integration/wizard/")
    assert wizard.status_code == 200
    choices = {str(value) for value, _ in wizard.context["form"].fields["template"].choices}
    assert "hubspot" not in choices and "salesforce" in choices
    page = client.get("/admin/integrations/integration/catalog/").content.decode()
    assert "Salesforce" in page and "HubSpot" not in page


def test_admin_other_staff_cannot_add_or_change_templates(catalog, client, subaccount):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(
        user.user_permissions.model.objects.filter(content_type__app_label="integrations")
    )
    client.force_login(user)
    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    assert client.post("/admin/integrations/integrationtemplate/add/", admin_form()).status_code == 403
    response = client.post(
        f"/admin/integrations/integrationtemplate/{hubspot.pk}/change/", admin_form(key="hubspot")
    )
    assert response.status_code == 403
    hubspot.refresh_from_db()
    assert hubspot.display_name == "HubSpot" and not hubspot.edited
