"""Every change to an integration — settings and config, status, inbound secret rotation, mappings,
deletion — is in the audit log with who did it, from the API and the admin alike; secrets are
masked in the stored changes and never reach the audit pages."""

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from integrations.models import ApiKey, AuditLog
from tests.factories import IntegrationFactory

OLD_TOKEN = "pat-na1-old-token-0123456789"
NEW_TOKEN = "pat-na1-new-token-9876543210"


@pytest.fixture
def integration(catalog, subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        name="Acme HubSpot",
        status="active",
        config={"auth_mode": "private_app", "access_token": OLD_TOKEN},
    )


@pytest.fixture
def api(subaccount):
    key, raw = ApiKey.objects.create_key(name="audit", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.actor = f"api_key:{key.prefix}"
    return client


@pytest.fixture
def operator(db, client):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    return client


def rows_for(integration_id: int) -> list[AuditLog]:
    return list(AuditLog.objects.filter(object_type="integration", object_id=integration_id).order_by("id"))


def test_api_changes_are_each_audited_with_the_key_and_the_token_masked(api, integration):
    base = f"/api/v1/integrations/{integration.pk}/"
    secret_before = str(integration.webhook_secret)
    assert (
        api.patch(base, {"name": "Renamed", "config": {"access_token": NEW_TOKEN}}, format="json").status_code
        == 200
    )
    assert api.post(f"{base}pause/").status_code == 200
    assert api.post(f"{base}resume/").status_code == 200
    rows = [{"local": "email", "remote": "email"}]
    assert api.put(f"{base}mappings/", {"contact": rows}, format="json").status_code == 200
    assert api.delete(base).status_code == 204

    audit = rows_for(integration.pk)
    assert [r.action for r in audit] == [
        "integration.updated",
        "integration.status_changed",
        "integration.status_changed",
        "mappings_saved",
        "integration.deleted",
    ]
    assert {r.actor for r in audit} == {api.actor}
    updated, paused, resumed, mapped, deleted = audit
    assert updated.changes["config"]["access_token"] == "[changed]"
    assert updated.changes["name"] == {"from": "Acme HubSpot", "to": "Renamed"}
    assert paused.changes["status"] == {"from": "active", "to": "paused"}
    assert resumed.changes["status"] == {"from": "paused", "to": "active"}
    assert mapped.changes == {"entity": "contact", "rows": 1}
    # The deleted integration is still named by its rows (the link to it is gone).
    assert deleted.integration_id is None and deleted.object_repr == "Renamed"
    assert all(r.integration_id is None for r in audit)  # SET_NULL once it was deleted
    stored = json.dumps(list(AuditLog.objects.values_list("changes", flat=True)))
    for secret in (OLD_TOKEN, NEW_TOKEN, secret_before):
        assert secret not in stored


def test_admin_actions_and_delete_are_audited_as_the_user(operator, integration):
    changelist = "/admin/integrations/integration/"
    old_secret = str(integration.webhook_secret)
    for action in ("action_pause", "action_rotate_webhook_secret"):
        response = operator.post(changelist, {"action": action, "_selected_action": [integration.pk]})
        assert response.status_code == 302
    integration.refresh_from_db()
    new_secret = str(integration.webhook_secret)
    response = operator.post(f"{changelist}{integration.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    audit = rows_for(integration.pk)
    assert [(r.action, r.actor) for r in audit] == [
        ("integration.status_changed", "user:op"),
        ("integration.webhook_secret_rotated", "user:op"),
        ("integration.deleted", "user:op"),
    ]
    assert audit[1].changes == {"webhook_secret": "[changed]"}
    pages = operator.get("/admin/integrations/auditlog/").content.decode() + "".join(
        operator.get(f"/admin/integrations/auditlog/{r.pk}/change/").content.decode() for r in audit
    )
    assert f"Integration #{integration.pk}: Acme HubSpot" in pages
    for secret in (old_secret, new_secret, OLD_TOKEN):
        assert secret not in pages


def test_the_audit_page_links_to_a_live_integration_and_filters_by_kind(api, operator, integration):
    api.patch(f"/api/v1/integrations/{integration.pk}/", {"name": "Renamed"}, format="json")
    row = AuditLog.objects.get(action="integration.updated")

    detail = operator.get(f"/admin/integrations/auditlog/{row.pk}/change/").content.decode()
    only_endpoints = operator.get(
        "/admin/integrations/auditlog/?object_type=webhook_endpoint"
    ).content.decode()

    assert f'href="/admin/integrations/integration/{integration.pk}/change/"' in detail
    assert "<td>name</td><td>Acme HubSpot</td><td>Renamed</td>" in detail
    assert f"Integration #{integration.pk}" not in only_endpoints and "0 audit logs" in only_endpoints
