"""The contact page's chat panel with the Django test client, over the À La Carte Chat emulator:
the history and the embedded inbox render, sending (with an attachment; an 11 MB one refused with a
clear message and nothing sent), refreshing, and another tenant's staff getting a 404 for all of it."""

from __future__ import annotations

import json

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations.models import Integration, Membership
from sync import messaging
from sync.models import Activity, EntityLink
from sync.services import record_create
from tests.sandbox import emulator_control

pytestmark = pytest.mark.django_db(transaction=True)
MB = 1024 * 1024


@pytest.fixture
def ana(subaccount):
    return record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"first_name": "Ana", "last_name": "Lee", "email": "ana@acme.com"},
        origin="api_key:test",
    )


def _staff(username: str, *subaccounts):
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="sync"))
    for sub in subaccounts:
        Membership.objects.create(user=user, subaccount=sub)
    return user


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _messages(subaccount) -> list[Activity]:
    return list(Activity.objects.filter(subaccount=subaccount, kind="message").order_by("occurred_at", "pk"))


def test_the_page_shows_the_history_and_an_inbox_whose_token_is_never_kept(chat, ana, subaccount, client):
    client.force_login(_staff("sam", subaccount))
    customer = messaging.customer_id(chat, ana, create=True, actor="test")
    emulator_control(
        chat.config["base_url"],
        "inbound",
        {"customer_id": customer, "content": "Where is my order?", "attachment": {"filename": "photo.jpg"}},
    )
    client.post(f"/admin/sync/contact/{ana.pk}/chat/refresh/")
    page = client.get(f"/admin/sync/contact/{ana.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="chat-history"' in text and "Where is my order?" in text and "photo.jpg" in text
    token = text.split("/embed/inbox?token=")[1].split('"')[0]
    assert requests.get(f"{chat.config['base_url']}/embed/inbox?token={token}", timeout=10).status_code == 200
    kept = json.dumps(
        [list(model.objects.values()) for model in (Integration, EntityLink, Activity)], default=str
    )
    assert token not in kept


def test_sending_from_the_page_stores_one_outbound_message_with_its_attachment(chat, ana, subaccount, client):
    client.force_login(_staff("sam", subaccount))
    sent = client.post(
        f"/admin/sync/contact/{ana.pk}/chat/send/",
        {
            "channel": "whatsapp",
            "content": "Your order is ready",
            "attachments": [SimpleUploadedFile("receipt.pdf", b"%PDF receipt", "application/pdf")],
        },
    )
    assert sent.status_code == 302 and sent["Location"].endswith(f"/admin/sync/contact/{ana.pk}/change/#chat")
    assert _said(sent) == ["Sent on whatsapp: Your order is ready"]
    [message] = _messages(subaccount)
    assert (message.direction, message.channel, message.contact_id) == ("outbound", "whatsapp", ana.pk)
    assert [a["name"] for a in message.attachments] == ["receipt.pdf"]

    refused = client.post(
        f"/admin/sync/contact/{ana.pk}/chat/send/",
        {"channel": "email", "attachments": [SimpleUploadedFile("big.bin", b"x" * (11 * MB), "text/plain")]},
    )
    said = _said(refused)[-1]  # after the first send's, which no page has shown yet
    assert said.startswith("Not sent:") and "10.0 MB" in said and "big.bin" in said
    assert len(_messages(subaccount)) == 1


def test_another_tenants_staff_cannot_see_send_or_refresh(chat, ana, subaccount, other_subaccount, client):
    client.force_login(_staff("eve", other_subaccount))
    assert client.get(f"/admin/sync/contact/{ana.pk}/change/").status_code in (302, 404)
    send = client.post(f"/admin/sync/contact/{ana.pk}/chat/send/", {"channel": "sms", "content": "x"})
    refresh = client.post(f"/admin/sync/contact/{ana.pk}/chat/refresh/")
    assert (send.status_code, refresh.status_code) == (404, 404)
    assert _messages(subaccount) == [] and not EntityLink.objects.filter(integration=chat).exists()
