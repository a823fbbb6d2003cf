"""Every change to an outbound webhook endpoint is in the audit log — who, when, what — through the
API and the admin alike, and neither the stored changes nor the admin's audit pages ever hold the
endpoint's signing secret."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from integrations.models import ApiKey, AuditLog, Membership
from webhooks.models import Endpoint
from webhooks.outbound import services as outbound

ENDPOINTS = "/api/v1/webhook-endpoints/"
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def api(subaccount):
    key, raw = ApiKey.objects.create_key(name="audit", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.actor = f"api_key:{key.prefix}"
    client.raw_key = raw
    return client


@pytest.fixture
def operator(db, client):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    return client


def endpoint_rows(pk: int) -> list[AuditLog]:
    return list(AuditLog.objects.filter(object_type="webhook_endpoint", object_id=pk).order_by("id"))


def stored_changes() -> str:
    return json.dumps(list(AuditLog.objects.values_list("changes", "object_repr")))


def test_api_create_update_rotate_and_delete_are_each_audited_with_the_key_and_no_secret(api, subaccount):
    created = api.post(
        ENDPOINTS, {"url": f"{HOOK}?token=in-the-url", "event_types": ["contact.*"]}, format="json"
    )
    assert created.status_code == 201, created.content
    pk, first_secret = created.json()["id"], created.json()["secret"]
    updated = api.patch(
        f"{ENDPOINTS}{pk}/",
        {"description": "CRM", "event_types": ["deal.*"], "enabled": False},
        format="json",
    )
    assert updated.status_code == 200, updated.content
    rotated = api.post(f"{ENDPOINTS}{pk}/rotate-secret/")
    assert rotated.status_code == 200
    second_secret = rotated.json()["secret"]
    assert api.delete(f"{ENDPOINTS}{pk}/").status_code == 204

    rows = endpoint_rows(pk)
    assert [r.action for r in rows] == [
        "endpoint.created",
        "endpoint.updated",
        "endpoint.disabled",
        "endpoint.secret_rotated",
        "endpoint.deleted",
    ]
    assert {r.actor for r in rows} == {api.actor}
    assert {r.subaccount_id for r in rows} == {subaccount.pk}
    assert all(r.object_repr == f"{HOOK}?…" for r in rows)  # the URL's query string may be a token
    created_row, updated_row, disabled_row, rotated_row, deleted_row = rows
    assert created_row.changes["secret"] == "[set]" and created_row.changes["event_types"] == ["contact.*"]
    assert updated_row.changes == {
        "description": {"from": "", "to": "CRM"},
        "event_types": {"from": ["contact.*"], "to": ["deal.*"]},
    }
    assert disabled_row.changes["enabled"] == {"from": True, "to": False}
    assert rotated_row.changes["secret"] == "[changed]"
    assert deleted_row.changes["url"] == f"{HOOK}?…"
    text = stored_changes()
    for secret in (first_secret, second_secret, "in-the-url", api.raw_key):
        assert secret not in text


def test_a_url_changed_only_in_its_query_string_is_recorded_as_changed_not_shown(api, subaccount):
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=f"{HOOK}?token=old-one")
    api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"url": f"{HOOK}?token=new-one"}, format="json")
    [row] = AuditLog.objects.filter(action="endpoint.updated", object_id=endpoint.pk)
    assert row.changes == {"url": "[changed]"}
    assert "old-one" not in stored_changes() and "new-one" not in stored_changes()


def test_admin_disable_enable_and_delete_are_audited_as_the_user(operator, subaccount):
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=HOOK)
    changelist = "/admin/webhooks/endpoint/"
    for action in ("disable", "enable"):
        response = operator.post(changelist, {"action": action, "_selected_action": [endpoint.pk]})
        assert response.status_code == 302
    response = operator.post(
        changelist, {"action": "delete_selected", "_selected_action": [endpoint.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    rows = endpoint_rows(endpoint.pk)
    assert [(r.action, r.actor) for r in rows] == [
        ("endpoint.created", "system"),
        ("endpoint.disabled", "user:op"),
        ("endpoint.enabled", "user:op"),
        ("endpoint.deleted", "user:op"),
    ]


def test_the_delivery_code_disabling_a_failing_endpoint_is_audited_as_the_system(subaccount):
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=HOOK)
    outbound.endpoint_disable(endpoint=endpoint, reason="15 consecutive failed deliveries")
    [row] = AuditLog.objects.filter(action="endpoint.disabled", object_id=endpoint.pk)
    assert row.actor == "system" and row.changes["reason"] == "15 consecutive failed deliveries"


def test_the_audit_admin_shows_endpoint_changes_readably_and_never_a_secret(operator, api, subaccount):
    created = api.post(ENDPOINTS, {"url": HOOK, "event_types": ["contact.*"]}, format="json").json()
    rotated = api.post(f"{ENDPOINTS}{created['id']}/rotate-secret/").json()
    row = AuditLog.objects.get(action="endpoint.secret_rotated")

    listing = operator.get("/admin/integrations/auditlog/?object_type=webhook_endpoint")
    detail = operator.get(f"/admin/integrations/auditlog/{row.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert created["secret"] not in page and rotated["secret"] not in page
        assert api.actor in page and f"Webhook endpoint #{created['id']}" in page
    assert "endpoint.created" in listing.content.decode()
    assert f'href="/admin/webhooks/endpoint/{created["id"]}/change/"' in detail.content.decode()
    assert "<td>secret</td><td></td><td>[changed]</td>" in detail.content.decode()


def test_staff_see_only_their_own_sub_accounts_audit_rows(client, subaccount, other_subaccount):
    ours = outbound.endpoint_create(subaccount=subaccount, url=HOOK)
    theirs = outbound.endpoint_create(subaccount=other_subaccount, url="http://127.0.0.1:9/globex-hook")
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_auditlog"))
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)

    listing = client.get("/admin/integrations/auditlog/").content.decode()
    foreign = AuditLog.objects.get(object_id=theirs.pk, action="endpoint.created")

    assert f"Webhook endpoint #{ours.pk}" in listing
    assert "globex-hook" not in listing and "Globex" not in listing
    assert client.get(f"/admin/integrations/auditlog/{foreign.pk}/change/").status_code == 404
