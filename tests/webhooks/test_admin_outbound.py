"""Outbound webhook admin: pages render without secrets, staff see only their sub-accounts, actions queue."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from integrations.models import Membership
from webhooks.models import Attempt, Delivery, Endpoint, Message
from webhooks.outbound import services as outbound
from webhooks.outbound.events import event_emit

pytestmark = pytest.mark.urls("tests.webhooks.urls_outbound_test")

URL = "http://127.0.0.1:9/hook?token=url-secret-token"
ENDPOINTS = "/admin/webhooks/endpoint/"
MESSAGES = "/admin/webhooks/message/"


@pytest.fixture
def operator(db, client):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    return client


@pytest.fixture
def endpoint(subaccount):
    return outbound.endpoint_create(subaccount=subaccount, url=URL)


@pytest.fixture
def message(subaccount, endpoint):
    message = event_emit(
        subaccount=subaccount, event_type="contact.created", data={"email": "ana@example.com"}
    )
    delivery = Delivery.objects.get(message=message)
    Delivery.objects.filter(pk=delivery.pk).update(status="succeeded", attempts=1, last_status_code=200)
    Attempt.objects.create(delivery=delivery, status_code=200, response_excerpt="ok", duration_ms=35)
    return message


def test_pages_render_with_health_and_without_secrets(operator, endpoint, message):
    outbound.endpoint_rotate_secret(endpoint=endpoint)
    stored = Endpoint.objects.get(pk=endpoint.pk)
    for page in (ENDPOINTS, f"{ENDPOINTS}{endpoint.pk}/change/", MESSAGES, f"{MESSAGES}{message.pk}/change/"):
        response = operator.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert stored.secret not in html and stored.previous_secret not in html
    for page in (ENDPOINTS, MESSAGES, f"{MESSAGES}{message.pk}/change/"):
        assert "url-secret-token" not in operator.get(page).content.decode(), page
    assert "100% (1/1)" in operator.get(ENDPOINTS).content.decode()
    detail = operator.get(f"{MESSAGES}{message.pk}/change/").content.decode()
    assert "35 ms" in detail and "ana@example.com" in detail


def test_staff_see_only_their_sub_accounts(client, subaccount, other_subaccount, endpoint):
    foreign = outbound.endpoint_create(subaccount=other_subaccount, url="http://127.0.0.1:9/globex")
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_endpoint", "view_message"]))
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)

    html = client.get(ENDPOINTS).content.decode()
    assert "127.0.0.1:9/hook" in html and "globex" not in html
    assert client.get(f"{ENDPOINTS}{foreign.pk}/change/").status_code in (302, 404)
    # View-only staff may look but not act: the actions need the change permission.
    client.post(ENDPOINTS, {"action": "send_test", "_selected_action": [endpoint.pk]})
    assert not Message.objects.filter(event_type="endpoint.test").exists()


def test_send_test_action_queues_a_test_event(operator, endpoint):
    response = operator.post(ENDPOINTS, {"action": "send_test", "_selected_action": [endpoint.pk]})
    assert response.status_code == 302
    message = Message.objects.get(event_type="endpoint.test")
    assert [d.endpoint_id for d in message.deliveries.all()] == [endpoint.pk]


def test_replay_since_action_restarts_deliveries_from_that_time(operator, endpoint, message):
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    operator.post(ENDPOINTS, {"action": "replay_since", "_selected_action": [endpoint.pk], "since": since})
    assert Delivery.objects.get(message=message).status == "pending"


def test_replay_without_a_time_does_nothing_and_says_why(operator, endpoint, message):
    response = operator.post(
        ENDPOINTS, {"action": "replay_since", "_selected_action": [endpoint.pk]}, follow=True
    )
    assert "since" in response.content.decode()
    assert Delivery.objects.get(message=message).status == "succeeded"


def test_redeliver_action_starts_a_new_cycle(operator, message):
    operator.post(MESSAGES, {"action": "redeliver", "_selected_action": [message.pk]})
    delivery = Delivery.objects.get(message=message)
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_disable_and_enable_actions(operator, endpoint):
    operator.post(ENDPOINTS, {"action": "disable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "Disabled by op"
    operator.post(ENDPOINTS, {"action": "enable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
