"""The outbound webhooks API through HTTP: secrets shown once, SSRF refused, tenancy, the delivery log."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiKey
from webhooks.models import Attempt, Delivery, Endpoint, Message
from webhooks.outbound import services as outbound
from webhooks.outbound.events import event_emit

pytestmark = pytest.mark.urls("tests.webhooks.urls_outbound_test")

HOOK = "http://127.0.0.1:9/hook"
ENDPOINTS = "/api/v1/webhook-endpoints/"
MESSAGES = "/api/v1/webhook-messages/"


def api_for(subaccount) -> APIClient:
    _, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)


@pytest.fixture
def endpoint(subaccount):
    return outbound.endpoint_create(subaccount=subaccount, url=HOOK, event_types=["contact.*"])


@pytest.fixture
def foreign(other_subaccount):
    return outbound.endpoint_create(subaccount=other_subaccount, url=HOOK)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code and isinstance(body["details"], dict)
    return body


def test_no_key_is_a_401_in_the_error_shape(db):
    assert_error(APIClient().get(ENDPOINTS), 401, "unauthenticated")


def test_create_shows_the_secret_once_and_reads_never_do(api, subaccount):
    response = api.post(
        ENDPOINTS,
        {"url": HOOK, "event_types": ["contact.*", "sync.failed"], "description": "CRM"},
        format="json",
    )
    assert response.status_code == 201
    created = response.json()
    stored = Endpoint.objects.get(pk=created["id"])
    assert created["secret"] == stored.secret and created["secret"].startswith("whsec_")
    assert stored.subaccount == subaccount and stored.event_types == ["contact.*", "sync.failed"]

    for body in (api.get(f"{ENDPOINTS}{stored.pk}/").json(), api.get(ENDPOINTS).json()["results"][0]):
        assert "secret" not in body and stored.secret not in str(body)
        assert body["url"] == HOOK and body["enabled"] is True


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/hook", "http://[::ffff:10.0.0.1]/x"]
)
def test_a_private_or_metadata_target_is_a_400(api, url):
    body = assert_error(api.post(ENDPOINTS, {"url": url}, format="json"), 400, "invalid")
    assert "private or loopback" in body["details"]["url"][0]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "not a url"},
        {"url": HOOK, "event_types": ["contact.vanished"]},
        {"url": HOOK, "event_types": "contact.*"},
        {"url": HOOK, "retry_schedule": [0]},
        {"url": HOOK, "rate_limit_per_second": 0},
        {"url": HOOK, "disable_after_days": -1},
    ],
)
def test_invalid_input_is_a_400_never_a_500(api, body):
    assert_error(api.post(ENDPOINTS, body, format="json"), 400, "invalid")


def test_patch_changes_settings_and_refuses_a_private_url(api, endpoint):
    response = api.patch(
        f"{ENDPOINTS}{endpoint.pk}/", {"description": "new", "retry_schedule": [5, 60]}, format="json"
    )
    assert response.status_code == 200 and response.json()["retry_schedule"] == [5, 60]
    assert Endpoint.objects.get(pk=endpoint.pk).description == "new"

    refused = api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"url": "http://169.254.169.254/"}, format="json")
    assert_error(refused, 400, "invalid")
    assert Endpoint.objects.get(pk=endpoint.pk).url == HOOK


def test_patch_enabled_false_disables_and_true_re_enables_with_a_clean_record(api, endpoint):
    off = api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"enabled": False}, format="json").json()
    assert off["enabled"] is False and off["disabled_reason"]
    Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=9)
    on = api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"enabled": True}, format="json").json()
    assert (on["enabled"], on["disabled_reason"], on["consecutive_failures"]) == (True, "", 0)


def test_rotate_secret_returns_the_new_secret_once_and_keeps_the_old_for_a_day(api, endpoint):
    old = endpoint.secret
    body = api.post(f"{ENDPOINTS}{endpoint.pk}/rotate-secret/").json()
    stored = Endpoint.objects.get(pk=endpoint.pk)
    assert body["secret"] == stored.secret != old and stored.previous_secret == old
    assert body["previous_secret_expires_at"]
    assert "secret" not in api.get(f"{ENDPOINTS}{endpoint.pk}/").json()


def test_test_queues_an_event_to_that_endpoint_and_refuses_a_disabled_one(
    api, endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"{ENDPOINTS}{endpoint.pk}/test/")
    assert response.status_code == 202 and response.json()["event_type"] == "endpoint.test"
    message = Message.objects.get(pk=response.json()["id"])
    assert [d.endpoint_id for d in message.deliveries.all()] == [endpoint.pk]
    assert len(callbacks) == 1  # the deliver task, after commit

    outbound.endpoint_disable(endpoint=endpoint, reason="x", notify=False)
    assert_error(api.post(f"{ENDPOINTS}{endpoint.pk}/test/"), 409, "endpoint_disabled")


def test_replay_since_a_time(api, subaccount, endpoint):
    message = event_emit(subaccount=subaccount, event_type="contact.updated", data={})
    Delivery.objects.update(status="failed")
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    response = api.post(f"{ENDPOINTS}{endpoint.pk}/replay/", {"since": since}, format="json")
    assert response.status_code == 202 and response.json() == {"replayed": 1}
    assert Delivery.objects.get(message=message).status == "pending"
    assert_error(
        api.post(f"{ENDPOINTS}{endpoint.pk}/replay/", {"since": "yesterday"}, format="json"), 400, "invalid"
    )


def test_delete_removes_the_endpoint(api, endpoint):
    assert api.delete(f"{ENDPOINTS}{endpoint.pk}/").status_code == 204
    assert not Endpoint.objects.exists()


def test_another_tenant_s_endpoint_is_a_404_everywhere(api, foreign):
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "rotate-secret/"),
        ("post", "test/"),
        ("post", "replay/"),
    ]:
        response = getattr(api, method)(f"{ENDPOINTS}{foreign.pk}/{suffix}", {}, format="json")
        assert_error(response, 404, "not_found")
    assert api.get(ENDPOINTS).json()["results"] == []
    assert Endpoint.objects.get(pk=foreign.pk).enabled


def test_a_non_numeric_id_is_a_404(api):
    assert api.get(f"{ENDPOINTS}abc/").status_code == 404


# --- the delivery log ---------------------------------------------------------------------------


@pytest.fixture
def logged(subaccount, endpoint):
    """A delivered contact message with one attempt, and a sync message (another type)."""
    contact_msg = event_emit(subaccount=subaccount, event_type="contact.created", data={"n": 1})
    other = outbound.endpoint_create(subaccount=subaccount, url=HOOK, event_types=["sync.*"])
    sync_msg = event_emit(subaccount=subaccount, event_type="sync.completed", data={})
    delivery = Delivery.objects.get(message=contact_msg)
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=1, last_status_code=500)
    Attempt.objects.create(delivery=delivery, status_code=500, response_excerpt="boom", duration_ms=12)
    return contact_msg, sync_msg, other


def test_messages_list_filters_by_event_type_and_endpoint(api, endpoint, logged):
    contact_msg, sync_msg, other = logged
    everything = api.get(MESSAGES).json()["results"]
    assert [m["id"] for m in everything] == [sync_msg.pk, contact_msg.pk]
    by_type = api.get(MESSAGES, {"event_type": "contact.created"}).json()["results"]
    assert [m["msg_id"] for m in by_type] == [contact_msg.msg_id]
    by_endpoint = api.get(MESSAGES, {"endpoint": other.pk}).json()["results"]
    assert [m["id"] for m in by_endpoint] == [sync_msg.pk]
    assert by_endpoint[0]["deliveries"][0]["endpoint"] == other.pk
    assert_error(api.get(MESSAGES, {"endpoint": "x"}), 400, "invalid")


def test_messages_are_cursor_paginated(api, subaccount, endpoint):
    for _ in range(3):
        event_emit(subaccount=subaccount, event_type="contact.created", data={})
    first = api.get(MESSAGES, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None


def test_attempts_of_a_message(api, logged):
    contact_msg, _, _ = logged
    body = api.get(f"{MESSAGES}{contact_msg.pk}/attempts/").json()
    [attempt] = body["results"]
    assert (attempt["status_code"], attempt["response_excerpt"], attempt["duration_ms"]) == (500, "boom", 12)


def test_redeliver_starts_a_new_cycle(api, endpoint, logged, django_capture_on_commit_callbacks):
    contact_msg, _, _ = logged
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"{MESSAGES}{contact_msg.pk}/redeliver/", {}, format="json")
    assert response.status_code == 202 and response.json() == {"redelivered": 1}
    delivery = Delivery.objects.get(message=contact_msg)
    assert (delivery.status, delivery.attempts) == ("pending", 0) and len(callbacks) == 1


def test_redeliver_to_an_unknown_or_foreign_endpoint_is_a_400(api, logged, foreign):
    contact_msg, _, _ = logged
    response = api.post(f"{MESSAGES}{contact_msg.pk}/redeliver/", {"endpoint": foreign.pk}, format="json")
    assert_error(response, 400, "invalid")


def test_another_tenant_s_messages_are_invisible(logged, other_subaccount):
    contact_msg, _, _ = logged
    other = api_for(other_subaccount)
    assert other.get(MESSAGES).json()["results"] == []
    assert_error(other.get(f"{MESSAGES}{contact_msg.pk}/"), 404, "not_found")
    assert_error(other.get(f"{MESSAGES}{contact_msg.pk}/attempts/"), 404, "not_found")
    assert_error(other.post(f"{MESSAGES}{contact_msg.pk}/redeliver/"), 404, "not_found")


def test_the_openapi_schema_describes_the_outbound_api(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(urlconf="tests.webhooks.urls_outbound_test").get_schema(
        request=None, public=True
    )
    paths = schema["paths"]
    assert "/api/v1/webhook-endpoints/{id}/rotate-secret/" in paths
    assert "/api/v1/webhook-messages/{id}/redeliver/" in paths
    created = paths["/api/v1/webhook-endpoints/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("EndpointSecret")
