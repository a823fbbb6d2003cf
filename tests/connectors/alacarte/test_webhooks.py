"""À La Carte Chat webhooks: the providers.md known-answer vector, stale and tampered deliveries,
nested and flat bodies, ids stable across re-delivery, and the platform's receiver answering the
way the provider's sample receivers do."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from connectors.alacarte import webhooks
from connectors.alacarte.connector import AlaCarteConnector
from connectors.base import PermanentError, SignatureInvalid, WebhookRequest
from connectors.signatures import hmac_signature
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from webhooks.inbound.parsing import deliveries_parse
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundEvent

# providers.md §8 known-answer vector.
SECRET = "alc_test_secret"
TIMESTAMP = "1762246800"
BODY = (
    b'{"event":"customer.updated","timestamp":"2025-11-04T09:00:00Z","business_id":"b1","data":'
    b'{"customer":{"id":"c1","name":"John Doe","email":"john@example.com","external_id":"CRM-12345"}}}'
)
SIGNATURE = "f69e6da1f9dd12e3d4bdfc39e1a871db4606c24002568580b2939fe141dfa1ed"
NOW = int(TIMESTAMP) + 10
CONFIG = {"webhook_secret": SECRET}

MESSAGE = {
    "id": "m1",
    "conversation_id": "conv-1",
    "customer_id": "c1",
    "content": "Hello, I need help with my order",
    "platform": "whatsapp",
    "channel": "whatsapp",
    "direction": "inbound",
    "created_at": "2025-11-04T09:00:00Z",
    "status": "received",
}
CUSTOMER = {
    "id": "c1",
    "name": "John Doe",
    "email": "john@example.com",
    "phone": "+353871234567",
    "external_id": "CRM-12345",
    "custom_fields": {"crm_segment": "enterprise"},
}
FILES = [
    {
        "id": "a1",
        "filename": "receipt.pdf",
        "type": "application/pdf",
        "size": 52468,
        "url": "https://storage.url/path/to/file",
        "download_url": "https://your-app.com/api/download-media?id=a1",
    }
]


def request(body: bytes = BODY, *, timestamp: str = TIMESTAMP, signature: str = SIGNATURE) -> WebhookRequest:
    headers = {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": signature}
    return WebhookRequest(method="POST", url="/webhooks/in/alacarte/1/", headers=headers, body=body)


def delivery(event: str, data: dict, *, stamp: str = "2025-11-04T09:00:00Z") -> WebhookRequest:
    body = {"event": event, "timestamp": stamp, "business_id": "b1", "data": data}
    return request(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def test_the_known_vector_verifies():
    assert hmac_signature(SECRET, f"{TIMESTAMP}.".encode() + BODY) == SIGNATURE
    webhooks.verify(request(), secret="", now=NOW, config=CONFIG)
    AlaCarteConnector.verify_webhook(request(), config=CONFIG, secret="", now=NOW)


@pytest.mark.parametrize(
    "case", ["stale", "future", "tampered", "wrong secret", "no signature", "no timestamp"]
)
def test_forged_or_stale_deliveries_are_refused(case):
    config, now, sent = CONFIG, NOW, request()
    if case == "stale":
        now = int(TIMESTAMP) + 301
    elif case == "future":
        now = int(TIMESTAMP) - 301
    elif case == "tampered":
        sent = request(BODY.replace(b"John Doe", b"Jane Doe"))
    elif case == "wrong secret":
        config = {"webhook_secret": "alc_test_secreT"}
    elif case == "no signature":
        sent = request(signature="")
    elif case == "no timestamp":
        sent = request(timestamp="")
    with pytest.raises(SignatureInvalid):
        webhooks.verify(sent, secret="", now=now, config=config)


def test_without_the_configured_secret_every_delivery_is_refused_even_with_ours():
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request(), secret=SECRET, now=NOW, config={})


def test_a_customer_event_carries_only_the_snapshots_fields():
    [event] = webhooks.parse(request())
    assert (event.entity, event.remote_id, event.action) == ("contact", "c1", "updated")
    assert event.occurred_at == datetime(2025, 11, 4, 9, tzinfo=UTC)
    assert dict(event.record.fields) == {
        "name": "John Doe",
        "email": "john@example.com",
        "external_id": "CRM-12345",
    }
    [created] = webhooks.parse(delivery("customer.created", {"customer": CUSTOMER}))
    assert created.action == "created" and created.record.fields["custom_fields.crm_segment"] == "enterprise"


def test_a_nested_message_yields_the_customer_then_the_message_with_its_attachments():
    data = {"message": MESSAGE, "customer": CUSTOMER, "attachments": FILES}
    contact, activity = webhooks.parse(delivery("message.received", data))
    assert (contact.entity, contact.remote_id) == ("contact", "c1")
    assert contact.record.fields["phone"] == "+353871234567"
    assert (activity.entity, activity.remote_id, activity.action) == ("activity", "m1", "created")
    fields = activity.record.fields
    assert fields["subject"] == "WhatsApp message received" and fields["_kind"] == "message"
    assert fields["content"] == MESSAGE["content"] and fields["direction"] == "inbound"
    assert fields["attachments"] == [
        {
            "name": "receipt.pdf",
            "url": "https://storage.url/path/to/file",
            "size": 52468,
            "type": "application/pdf",
        }
    ]
    assert activity.record.relations == {"contact_id": ("c1",), "conversation_id": ("conv-1",)}


def test_a_flat_message_reads_the_same():
    flat = {**{k: v for k, v in MESSAGE.items() if k != "customer_id"}, "customer": CUSTOMER}
    contact, activity = webhooks.parse(delivery("message.received", flat))
    nested = webhooks.parse(delivery("message.received", {"message": MESSAGE, "customer": CUSTOMER}))
    assert (contact.record, contact.event_id) == (nested[0].record, nested[0].event_id)
    assert activity.record == nested[1].record and activity.event_id == nested[1].event_id


def test_conversation_events_carry_the_conversation_and_its_customer():
    conversation = {
        "id": "conv-1",
        "customer_id": "c1",
        "status": "open",
        "channel": "whatsapp",
        "assignee": "agent@example.com",
        "subject": "Order",
        "created_at": "2025-11-04T09:00:00Z",
        "last_message_at": "2025-11-04T09:00:00Z",
        "whatsapp_account_id": None,
    }
    for name, action in (
        ("conversation.created", "created"),
        ("conversation.assigned", "updated"),
        ("conversation.status_changed", "updated"),
    ):
        contact, conv = webhooks.parse(delivery(name, {"conversation": conversation, "customer": CUSTOMER}))
        assert contact.entity == "contact"
        assert (conv.entity, conv.remote_id, conv.action) == ("conversation", "conv-1", action)
        assert conv.record.fields["assignee"] == "agent@example.com"
        assert conv.record.relations == {"contact_id": ("c1",)}
    [flat] = webhooks.parse(delivery("conversation.created", {"id": "conv-2", "status": "open"}))
    assert flat.entity == "conversation" and flat.record.fields == {"status": "open"}


def test_event_ids_are_stable_across_redelivery_and_distinct_per_event_and_entity():
    data = {"message": MESSAGE, "customer": CUSTOMER}
    first = [e.event_id for e in webhooks.parse(delivery("message.received", data))]
    again = [e.event_id for e in webhooks.parse(delivery("message.received", data))]
    later = [
        e.event_id for e in webhooks.parse(delivery("message.received", data, stamp="2025-11-04T09:00:01Z"))
    ]
    assert first == again and len(set(first)) == 2
    assert not set(first) & set(later)
    [customer_only] = webhooks.parse(delivery("customer.updated", {"customer": CUSTOMER}))
    assert customer_only.event_id not in first


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event":"message.deleted","timestamp":"2025-11-04T09:00:00Z","data":{}}',
        b'{"event":"message.received","timestamp":"2025-11-04T09:00:00Z","data":[]}',
        b'{"event":"message.received","timestamp":"2025-11-04T09:00:00Z","data":{"message":{"content":"x"}}}',
        b'{"event":"customer.updated","timestamp":"2025-11-04T09:00:00Z","data":{"customer":{"name":"x"}}}',
        b'{"event":"customer.updated","timestamp":"soon","data":{"customer":{"id":"c1"}}}',
    ],
)
def test_malformed_bodies_are_permanent_errors(body):
    with pytest.raises(PermanentError):
        webhooks.parse(request(body))


def test_the_ack_and_the_refusal_are_the_providers_json():
    assert AlaCarteConnector.webhook_ack() == (b'{"success":true}', "application/json")
    assert json.loads(AlaCarteConnector.webhook_refusal()[0]) == {"error": "Invalid signature"}


# --- through the platform's receiver ----------------------------------------------------------


@pytest.fixture
def drains(monkeypatch):
    queued: list[dict] = []
    monkeypatch.setattr(inbound_drain_task, "apply_async", lambda **options: queued.append(options))
    return queued


@pytest.mark.django_db(transaction=True)
def test_the_receiver_answers_like_the_providers_samples_and_stores_once(client, subaccount, drains):
    integration = IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="alacarte", auth_type="api_key"),
        config={"api_key": "alc_key_0123456789abcdef", "webhook_secret": SECRET},
        status="active",
    )
    url = f"/webhooks/in/alacarte/{integration.pk}/"
    body = json.dumps(
        {
            "event": "message.received",
            "timestamp": "2025-11-04T09:00:00Z",
            "business_id": "b1",
            "data": {"message": MESSAGE, "customer": CUSTOMER, "attachments": FILES},
        },
        separators=(",", ":"),
    ).encode()
    stamp = str(int(time.time()))
    headers = {
        "HTTP_X_WEBHOOK_TIMESTAMP": stamp,
        "HTTP_X_WEBHOOK_SIGNATURE": hmac_signature(SECRET, f"{stamp}.".encode() + body),
    }
    ok = client.post(url, data=body, content_type="application/json", **headers)
    assert ok.status_code == 200 and ok.json() == {"success": True}
    assert ok["Content-Type"] == "application/json"
    again = client.post(url, data=body, content_type="application/json", **headers)
    assert again.status_code == 200
    deliveries_parse()  # the worker reads acknowledged deliveries into events, de-duplicated
    stored = InboundEvent.objects.filter(integration=integration)
    assert sorted(stored.values_list("entity", flat=True)) == ["activity", "contact"]
    forged = client.post(
        url, data=body.replace(b"order", b"refund"), content_type="application/json", **headers
    )
    assert forged.status_code == 401 and forged.json() == {"error": "Invalid signature"}
    assert stored.count() == 2
