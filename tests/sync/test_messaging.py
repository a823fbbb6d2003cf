"""A contact's chat, over À La Carte Chat's emulator: sending (the customer made first, attachments
checked before any request, the message stored once however it comes back), inbound messages in
order however they arrive, webhook + poll overlap, refreshing conversations, the embedded inbox's
token never kept, the API routes and tenancy."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from connectors.base import WebhookEvent
from connectors.registry import connector_class
from integrations.models import Integration
from sync import messaging
from sync.models import Activity, Conversation, EntityLink
from sync.polling import poll
from sync.services import record_create
from sync.webhook_apply import apply_webhook_events
from tests.sandbox import emulator_control
from tests.sync.test_records_api import api_for

pytestmark = pytest.mark.django_db(transaction=True)
API = "api_key:test"
MB = 1024 * 1024


@pytest.fixture
def ana(subaccount):
    return record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"first_name": "Ana", "last_name": "Lee", "email": "ana@acme.com", "phone": "+353871234567"},
        origin=API,
    )


def _base(integration: Integration) -> str:
    return integration.config["base_url"]


def _customer(integration: Integration, **query) -> dict | None:
    resp = requests.get(
        f"{_base(integration)}/api-customers",
        params=query,
        headers={"x-api-key": integration.config["api_key"]},
        timeout=10,
    )
    return resp.json()["customer"] if resp.status_code == 200 else None


def _messages(subaccount) -> list[Activity]:
    return list(Activity.objects.filter(subaccount=subaccount, kind="message").order_by("occurred_at", "pk"))


class Wire:
    """Every request the connectors send, by URL (requests.Session.send wrapped)."""

    def __init__(self, monkeypatch):
        self.urls: list[str] = []
        original = requests.Session.send

        def send(session, request, **kwargs):
            self.urls.append(request.url)
            return original(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)


def test_a_message_to_a_contact_not_yet_a_customer_makes_the_customer_and_is_stored_once(
    chat, ana, subaccount
):
    sent = messaging.message_send(
        contact=ana,
        channel="whatsapp",
        content="Your order is ready",
        uploads=[messaging.Upload("receipt.pdf", "application/pdf", b"%PDF-1.4 receipt")],
        actor="test",
    )
    assert (sent.kind, sent.direction, sent.channel, sent.contact_id) == (
        "message",
        "outbound",
        "whatsapp",
        ana.pk,
    )
    assert sent.body == "Your order is ready"
    assert [(a["name"], a["type"], a["size"]) for a in sent.attachments] == [
        ("receipt.pdf", "application/pdf", len(b"%PDF-1.4 receipt"))
    ]
    customer = _customer(chat, external_id=str(ana.pk))  # our id travels as external_id
    assert customer and customer["email"] == "ana@acme.com"
    link = EntityLink.objects.get(integration=chat, entity="contact", local_id=ana.pk)
    assert (link.remote_id, link.matched_by) == (customer["id"], "created")
    poll(chat, ["activity"])  # the poll reads the same message back: still one
    assert [m.pk for m in _messages(subaccount)] == [sent.pk]


def test_an_oversize_attachment_is_refused_before_any_request(chat, ana, subaccount, monkeypatch):
    wire = Wire(monkeypatch)
    with pytest.raises(messaging.MessagingError) as refused:
        messaging.message_send(
            contact=ana,
            channel="whatsapp",
            content="the big one",
            uploads=[messaging.Upload("scan.pdf", "application/pdf", b"x" * (11 * MB))],
            actor="test",
        )
    assert refused.value.code == "attachment_too_large" and "10.0 MB" in str(refused.value)
    assert wire.urls == []
    assert _customer(chat, external_id=str(ana.pk)) is None and _messages(subaccount) == []


def test_an_unknown_channel_is_refused_clearly(chat, ana):
    with pytest.raises(messaging.MessagingError, match="Unknown channel 'telegram'"):
        messaging.message_send(contact=ana, channel="telegram", content="hi", actor="test")


def _inbound(integration: Integration, contact, content: str) -> dict:
    return emulator_control(
        _base(integration),
        "inbound",
        {"external_id": str(contact.pk), "channel": "whatsapp", "content": content},
    )


def test_messages_arriving_twice_and_out_of_order_are_stored_once_in_order(chat, ana, subaccount):
    messaging.customer_id(chat, ana, create=True, actor="test")
    for text in ("first", "second", "third"):
        _inbound(chat, ana, text)
    connector = connector_class("alacarte")(chat.config, integration_id=chat.pk)
    [page] = list(connector.pull("activity", cursor=None))
    events = [
        WebhookEvent(
            event_id=f"e-{r.id}",
            entity="activity",
            remote_id=r.id,
            action="created",
            occurred_at=None,
            record=r,
        )
        for r in page.records
    ]
    apply_webhook_events(integration=chat, events=[events[2], events[0], events[2], events[1]])
    apply_webhook_events(integration=chat, events=[events[1]])  # redelivered
    assert [m.body for m in messaging.history(ana)] == ["first", "second", "third"]
    poll(chat, ["activity"])  # the poll overlaps the webhooks: nothing new
    assert len(_messages(subaccount)) == 3
    assert all(m.direction == "inbound" and m.contact_id == ana.pk for m in _messages(subaccount))


def test_a_message_polled_before_its_sender_is_our_contact_lands_on_it_once_the_push_matches(
    chat, ana, subaccount
):
    emulator_control(
        _base(chat), "inbound", {"email": "ANA@acme.com", "name": "Ana L", "content": "Is my order ready?"}
    )
    poll(chat, ["activity"])
    [message] = _messages(subaccount)
    assert message.contact_id is None  # its customer is nobody we know yet
    messaging.customer_id(chat, ana, create=True, actor="test")  # the upsert matches the customer by e-mail
    assert EntityLink.objects.get(integration=chat, entity="contact", local_id=ana.pk).matched_by == "email"
    message.refresh_from_db()
    assert message.contact_id == ana.pk


def test_a_refresh_reads_the_conversation_and_its_messages(chat, ana, subaccount):
    messaging.customer_id(chat, ana, create=True, actor="test")
    made = _inbound(chat, ana, "Hello, I need help with my order")
    outcome = messaging.conversations_refresh(contact=ana)
    assert outcome.created == 2  # the conversation and its message
    conversation = Conversation.objects.get(subaccount=subaccount)
    assert conversation.contact_id == ana.pk and conversation.status == made["conversation"]["status"]
    [message] = messaging.history(ana)
    assert message.conversation_id == conversation.pk and message.body == "Hello, I need help with my order"


def test_the_inbox_token_is_minted_per_view_and_never_kept_or_logged(chat, ana, caplog):
    assert messaging.inbox_embed_url(ana) is None  # no customer yet: nothing to embed
    messaging.customer_id(chat, ana, create=True, actor="test")
    with caplog.at_level(logging.DEBUG):
        first, second = messaging.inbox_embed_url(ana), messaging.inbox_embed_url(ana)
    token = first.split("token=")[1]
    assert token and first != second
    assert requests.get(first, timeout=10).status_code == 200  # the embed page opens with it
    assert token not in caplog.text
    stored = json.dumps(
        [list(model.objects.values()) for model in (Integration, EntityLink, Activity, Conversation)],
        default=str,
    )
    assert token not in stored and token not in json.dumps(Integration.objects.get(pk=chat.pk).config)


def test_without_a_chat_integration_sending_says_what_to_do(ana):
    with pytest.raises(messaging.MessagingError, match="connect À La Carte Chat") as refused:
        messaging.message_send(contact=ana, channel="whatsapp", content="hi", actor="test")
    assert refused.value.code == "no_messenger"


# --- API ------------------------------------------------------------------------------------------


def test_the_api_sends_with_an_attachment_lists_and_refuses_what_it_must(
    chat, ana, subaccount, other_subaccount
):
    api, _ = api_for(subaccount)
    url = f"/api/v1/contacts/{ana.pk}/messages/"
    resp = api.post(
        url,
        {"channel": "email", "content": "See attached", "attachments": [_file("terms.txt", b"terms")]},
        format="multipart",
    )
    assert resp.status_code == 201, resp.content
    assert resp.json()["direction"] == "outbound" and resp.json()["attachments"][0]["name"] == "terms.txt"
    assert api.post(url, {"channel": "sms", "content": "plain JSON"}, format="json").status_code == 201
    listed = api.get(url).json()
    assert [m["body"] for m in listed] == ["See attached", "plain JSON"]

    big = api.post(
        url, {"channel": "email", "attachments": [_file("big.bin", b"x" * (11 * MB))]}, format="multipart"
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "attachment_too_large"
    bad = api.post(url, {"channel": "pigeon", "content": "coo"}, format="json")
    assert bad.status_code == 400 and "channel" in bad.json()["error"]["details"]
    refresh = api.post(f"/api/v1/contacts/{ana.pk}/conversations/refresh/")
    assert refresh.status_code == 200 and refresh.json()["processed"] >= 2

    other_api, _ = api_for(other_subaccount)
    assert other_api.get(url).status_code == 404  # another tenant's contact
    assert other_api.post(url, {"channel": "sms", "content": "x"}, format="json").status_code == 404


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")
