"""AlaCarteConnector against the À La Carte Chat emulator over real HTTP: the messages-since poll
(has_more, the inclusive ``since`` overlap), sending with an attachment, a customer's conversations,
the SSO embed and webhooks through the platform's receiver."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.alacarte.connector import AlaCarteConnector
from connectors.base import PermanentError, decode_cursor
from connectors.capabilities import AttachmentTooLarge
from tests.connectors.alacarte.conftest import control, wait_for_deliveries
from tests.sandbox import connectors_made, sandbox_integration
from webhooks.inbound.parsing import deliveries_parse
from webhooks.models import InboundEvent


@pytest.fixture
def make():
    yield from connectors_made(AlaCarteConnector)


@pytest.fixture
def connector(config, make) -> AlaCarteConnector:
    return make(config)


def pull_all(connector: AlaCarteConnector, cursor: str | None = None):
    records, pages = [], 0
    for page in connector.pull("activity", cursor=cursor):
        pages += 1
        records.extend(page.records)
        cursor = page.cursor
    return records, cursor, pages


def a_customer(connector: AlaCarteConnector, n: int = 1, **extra) -> str:
    payload = {
        "external_id": f"local-{n}",
        "first_name": "Ana",
        "last_name": f"Lee {n}",
        "email": f"ana{n}@example.com",
        **extra,
    }
    [result] = connector.create("contact", [payload])
    assert result.ok, result.error
    return result.remote_id


def test_the_poll_pages_past_has_more_and_never_yields_a_message_twice(connector, base):
    control(base, "seed", {"object": "messages", "count": 150})
    records, cursor, pages = pull_all(connector)
    ids = [r.id for r in records]
    assert pages == 2 and len(ids) == 150 and len(set(ids)) == 150
    assert [r.fields["content"] for r in records[:2]] == ["Seeded message 1", "Seeded message 2"]
    assert all(r.relations["contact_id"] and r.relations["conversation_id"] for r in records)
    state = decode_cursor(cursor)
    assert state["seen"] == [ids[-1]]

    # Nothing new: the inclusive ``since`` returns the last message again, and it is skipped.
    again, cursor, _ = pull_all(connector, cursor)
    assert again == []

    made = control(
        base,
        "inbound",
        {"external_id": "local-77", "email": "new@example.com", "name": "New One", "content": "Hi there"},
    )
    fresh, _, _ = pull_all(connector, cursor)
    assert [r.id for r in fresh] == [made["message"]["id"]]
    assert fresh[0].fields["subject"] == "WhatsApp message received"
    assert fresh[0].relations == {
        "contact_id": (made["customer"]["id"],),
        "conversation_id": (made["conversation"]["id"],),
    }


def test_a_message_with_an_attachment_is_sent_and_read_back(connector, base):
    customer_id = a_customer(connector)
    url = connector.attachment_upload(
        filename="receipt.pdf", content_type="application/pdf", data=b"%PDF-1.4 receipt"
    )
    assert url.startswith("http")
    record = connector.message_send(
        customer_id=customer_id, channel="whatsapp", content="Your order is ready", attachment_urls=[url]
    )
    assert record.fields["direction"] == "outbound" and record.fields["subject"] == "WhatsApp message sent"
    assert record.relations["contact_id"] == (customer_id,)
    polled, _, _ = pull_all(connector)
    [same] = [r for r in polled if r.id == record.id]
    assert [a["name"] for a in same.fields["attachments"]] == ["receipt.pdf"]
    assert same.fields["attachments"][0]["size"] == len(b"%PDF-1.4 receipt")

    with pytest.raises(AttachmentTooLarge):
        connector.attachment_upload(
            filename="big.bin", content_type="application/octet-stream", data=b"x" * (10 * 1024 * 1024 + 1)
        )
    with pytest.raises(PermanentError) as caught:
        connector.message_send(
            customer_id="no-such-customer", channel="sms", content="hi", attachment_urls=[]
        )
    assert caught.value.code == "not_found"


def test_a_customers_conversations_come_with_messages_and_attachments(connector, base):
    a_customer(connector, 5)
    control(
        base,
        "inbound",
        {
            "external_id": "local-5",
            "content": "Where is my order?",
            "attachment": {"filename": "photo.jpg", "type": "image/jpeg", "size": 2048},
        },
    )
    result = connector.conversations(external_id="local-5")
    [conversation] = result.conversations
    assert conversation.fields["status"] == "open" and conversation.fields["channel"] == "whatsapp"
    [message] = result.messages
    assert message.fields["content"] == "Where is my order?"
    assert message.relations["conversation_id"] == (conversation.id,)
    assert message.fields["attachments"][0]["name"] == "photo.jpg"
    assert message.fields["attachments"][0]["size"] == 2048
    with pytest.raises(PermanentError) as caught:
        connector.conversations(external_id="nobody")
    assert caught.value.code == "not_found"


def test_the_sso_embed_url_opens_the_customers_inbox(config, make, base):
    customer_id = a_customer(make(config), 9)
    assert make(config).inbox_embed_url(customer_id=customer_id, expires_in=600) is None  # SSO off
    connector = make({**config, "sso_enabled": True, "app_url": base})
    url = connector.inbox_embed_url(customer_id=customer_id, expires_in=600)
    assert url.startswith(f"{base}/embed/inbox?token=")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert requests.get(f"{base}/embed/inbox?token=forged", timeout=10).status_code == 403
    with pytest.raises(PermanentError) as caught:
        connector.inbox_embed_url(customer_id="no-such-customer", expires_in=600)
    assert caught.value.code == "not_found"


def test_updates_and_lookups_round_trip(connector):
    customer_id = a_customer(connector, 3, phone="087 123 4567")
    [read] = connector.get("contact", [customer_id])
    assert read.fields["phone"] == "+353871234567" and read.fields["name"] == "Ana Lee 3"
    assert read.fields["external_system"] == "custom" and read.fields["external_id"] == "local-3"
    [result] = connector.update(
        "contact", [(customer_id, {"custom_fields.company_name": "Acme", "last_name": "Smith"})]
    )
    assert result.ok and result.remote_id == customer_id and result.created is False, result.error
    [read] = connector.get("contact", [customer_id])
    assert read.fields["custom_fields.company_name"] == "Acme" and read.fields["name"] == "Ana Smith"
    # Moving our id onto a customer that already holds it is reported, not silently applied.
    other = a_customer(connector, 4)
    [moved] = connector.update("contact", [(other, {"external_id": "local-3", "first_name": "Bo"})])
    assert not moved.ok and moved.code == "moved" and moved.remote_id == customer_id


def test_webhooks_reach_the_platforms_receiver_once(alc, catalog, subaccount, sandbox_url, live_server):
    integration = sandbox_integration(subaccount, "alacarte", sandbox_url)
    base = integration.config["base_url"]
    target = f"{live_server.url}/webhooks/in/alacarte/{integration.pk}/"
    control(base, "webhooks", {"target_url": target, "api_key": integration.config["api_key"]})
    made = control(
        base, "inbound", {"email": "walkin@example.com", "name": "Walk In", "content": "Hello", "wait": True}
    )
    deliveries = wait_for_deliveries(base, 3)  # customer.created, conversation.created, message.received
    assert {d["outcome"] for d in deliveries} == {"delivered"}
    deliveries_parse()  # what the worker does first
    stored = InboundEvent.objects.filter(integration=integration)
    assert set(stored.values_list("entity", "remote_id")) >= {
        ("contact", made["customer"]["id"]),
        ("conversation", made["conversation"]["id"]),
        ("activity", made["message"]["id"]),
    }
    before = stored.count()
    time.sleep(0.1)
    forged = requests.post(
        target,
        data=b'{"event":"customer.updated"}',
        headers={
            "X-Webhook-Timestamp": str(int(time.time())),
            "X-Webhook-Signature": "0" * 64,
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert forged.status_code == 401 and forged.json() == {"error": "Invalid signature"}
    assert stored.count() == before
