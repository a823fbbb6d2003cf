"""The À La Carte Chat emulator's webhooks, to a real HTTP receiver: the providers.md known-answer
vector, bodies signed as sent (checked with the platform's own verifier), the events each action
fires, and the retry rule (5xx and 429 retried after 2/4/8 s, other 4xx not)."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.alacarte.emulator import emulator as alacarte_emulator
from connectors.base import WebhookRequest
from connectors.sandbox.delivery import compact_json
from connectors.signatures import hmac_signature, signed_message, verify_timestamped_hmac
from tests.connectors.alacarte.conftest import control, wait_for_deliveries

VECTOR_SECRET = "alc_test_secret"
VECTOR_TIMESTAMP = "1762246800"
VECTOR_BODY = {
    "event": "customer.updated",
    "timestamp": "2025-11-04T09:00:00Z",
    "business_id": "b1",
    "data": {
        "customer": {"id": "c1", "name": "John Doe", "email": "john@example.com", "external_id": "CRM-12345"}
    },
}
VECTOR_SIGNATURE = "f69e6da1f9dd12e3d4bdfc39e1a871db4606c24002568580b2939fe141dfa1ed"


@pytest.fixture(autouse=True)
def _fast(base):
    control(base, "faults", {"rate_limit": False})
    control(base, "settings", {"webhook_delay_scale": 0.01})


def verified(received: dict, secret: str) -> bool:
    """The platform's À La Carte verifier (raw body, timestamp window, constant time) accepts it."""
    request = WebhookRequest(method="POST", url="/hook", headers=received["headers"], body=received["body"])
    verify_timestamped_hmac(request, secret=secret, now=time.time())
    return True


def test_the_known_answer_vector(alc):
    raw = compact_json(VECTOR_BODY)
    assert raw == (
        b'{"event":"customer.updated","timestamp":"2025-11-04T09:00:00Z","business_id":"b1","data":{"customer":'
        b'{"id":"c1","name":"John Doe","email":"john@example.com","external_id":"CRM-12345"}}}'
    )
    assert hmac_signature(VECTOR_SECRET, signed_message(VECTOR_TIMESTAMP, raw)) == VECTOR_SIGNATURE
    headers = alc.signed_headers(VECTOR_SECRET, raw, at=int(VECTOR_TIMESTAMP))
    assert (headers["X-Webhook-Timestamp"], headers["X-Webhook-Signature"]) == (
        VECTOR_TIMESTAMP,
        VECTOR_SIGNATURE,
    )
    request = WebhookRequest(method="POST", url="/hook", headers=headers, body=raw)
    verify_timestamped_hmac(request, secret=VECTOR_SECRET, now=int(VECTOR_TIMESTAMP) + 10)


def test_events_are_compact_signed_and_carry_message_customer_and_attachments(api, base, config, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "api_key": config["api_key"]})
    made = control(
        base,
        "inbound",
        {
            "phone": "+353 87 123 4567",
            "name": "Joe Bloggs",
            "channel": "whatsapp",
            "content": "Hello, I need help with my order — ça va?",
            "attachment": {"filename": "receipt.pdf", "type": "application/pdf", "size": 52468},
        },
    )
    wait_for_deliveries(base, 3)
    bodies = [r["json"] for r in receiver.received]
    assert [b["event"] for b in bodies] == ["customer.created", "conversation.created", "message.received"]
    assert all(verified(r, config["webhook_secret"]) for r in receiver.received)
    assert all(r["body"] == compact_json(r["json"]) for r in receiver.received)  # non-ASCII unescaped too
    assert "ça va" in receiver.received[2]["body"].decode()
    assert all(r["headers"]["Content-Type"] == "application/json" for r in receiver.received)
    assert all(abs(int(r["headers"]["X-Webhook-Timestamp"]) - time.time()) < 30 for r in receiver.received)
    business = alacarte_emulator.business()["business_id"]
    assert {b["business_id"] for b in bodies} == {business}
    received = bodies[2]
    assert received["timestamp"].endswith("Z")
    message, customer = received["data"]["message"], received["data"]["customer"]
    assert message == {k: v for k, v in made["message"].items() if k != "attachments"}
    assert (message["direction"], message["status"], message["platform"]) == (
        "inbound",
        "received",
        "whatsapp",
    )
    assert (customer["phone"], customer["name"]) == ("+353871234567", "Joe Bloggs")
    [attachment] = received["data"]["attachments"]
    assert (attachment["filename"], attachment["type"], attachment["size"]) == (
        "receipt.pdf",
        "application/pdf",
        52468,
    )
    assert api.get(attachment["download_url"], timeout=10).content[:5] == b"A La "
    assert bodies[1]["data"]["conversation"]["id"] == made["conversation"]["id"] == message["conversation_id"]
    assert "messages" not in bodies[1]["data"]["conversation"]


def test_sync_send_assign_and_status_fire_their_events(api, base, config, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "secret": "my-own-secret-0123456789"})
    body = {"customers": [{"external_id": "CRM-1", "name": "Ann", "email": "ann@example.com"}]}
    api.post(f"{base}/api-customers-sync", json=body, timeout=10)
    body["customers"][0]["name"] = "Ann B"
    customer_id = api.post(f"{base}/api-customers-sync", json=body, timeout=10).json()["results"]["details"][
        0
    ]["customer_id"]
    sent = api.post(
        f"{base}/api-send-message",
        json={"customer_id": customer_id, "channel": "sms", "content": "Hi Ann"},
        timeout=10,
    ).json()["message"]
    conversation = sent["conversation_id"]
    control(base, "assign", {"conversation_id": conversation, "assignee": "sarah@agency.example"})
    changed = control(base, "status", {"conversation_id": conversation, "status": "closed"})
    assert changed["conversation"]["status"] == "closed"
    wait_for_deliveries(base, 6)
    bodies = [r["json"] for r in receiver.received]  # one target gets its events in order
    assert [b["event"] for b in bodies] == _ORDER
    assert all(verified(r, "my-own-secret-0123456789") for r in receiver.received)
    assert bodies[1]["data"]["customer"]["name"] == "Ann B"
    assert bodies[3]["data"]["message"]["id"] == sent["id"]
    assert bodies[4]["data"]["conversation"]["assignee"] == "sarah@agency.example"
    assert bodies[5]["data"]["conversation"]["status"] == "closed"
    assert bodies[5]["data"]["customer"]["id"] == customer_id
    bad = requests.post(
        f"{base}/_control/status", json={"conversation_id": conversation, "status": "gone"}, timeout=10
    )
    assert bad.status_code == 400
    unknown = requests.post(
        f"{base}/_control/assign", json={"conversation_id": "nope", "assignee": "x"}, timeout=10
    )
    assert unknown.status_code == 404


_ORDER = [
    "customer.created",
    "customer.updated",
    "conversation.created",
    "message.sent",
    "conversation.assigned",
    "conversation.status_changed",
]


def test_a_target_takes_only_the_events_it_chose(api, base, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "events": ["message.received"]})
    control(base, "inbound", {"email": "new@example.com", "name": "New", "content": "Hi", "wait": True})
    assert [r["json"]["event"] for r in receiver.received] == ["message.received"]


def test_500_is_retried_after_2_4_8_seconds_then_delivered(api, base, receiver):
    scale = 0.05
    control(base, "settings", {"webhook_delay_scale": scale})
    control(base, "webhooks", {"target_url": receiver.url})
    receiver.statuses = [500, 503, 502, 200]
    control(base, "inbound", {"email": "a@example.com", "name": "A", "content": "Hi"})
    deliveries = wait_for_deliveries(base, 3)
    retried = next(d for d in deliveries if d["event"] == "customer.created")
    assert [a["delay"] for a in retried["attempts"]] == [0, 2, 4, 8]
    assert [a["status"] for a in retried["attempts"]] == [500, 503, 502, 200]
    assert retried["outcome"] == "delivered"
    sent = [r for r in receiver.received if r["json"]["event"] == "customer.created"]
    assert len({r["body"] for r in sent}) == 1  # the same event each time, re-signed
    gaps = [later["at"] - earlier["at"] for earlier, later in zip(sent, sent[1:], strict=False)]
    for gap, nominal in zip(gaps, (2, 4, 8), strict=True):
        assert nominal * scale <= gap < nominal * scale + 0.5, gaps


def test_429_is_retried_but_400_is_not(api, base, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "events": ["customer.created"]})
    receiver.statuses = [429, 200]
    api.post(
        f"{base}/api-customers-sync",
        json={"customers": [{"name": "A", "email": "a@example.com"}]},
        timeout=10,
    )
    [delivered] = wait_for_deliveries(base, 1)
    assert [a["status"] for a in delivered["attempts"]] == [429, 200] and delivered["outcome"] == "delivered"
    receiver.statuses = [400]
    api.post(
        f"{base}/api-customers-sync",
        json={"customers": [{"name": "B", "email": "b@example.com"}]},
        timeout=10,
    )
    refused = wait_for_deliveries(base, 2)[1]
    assert [a["status"] for a in refused["attempts"]] == [400] and refused["outcome"] == "failed"
    time.sleep(0.2)
    assert len(receiver.received) == 3


def test_a_timeout_is_retried(api, base, receiver):
    control(base, "settings", {"webhook_retry_delays": [2], "webhook_timeout": 0.3})
    control(base, "webhooks", {"target_url": receiver.url, "events": ["customer.created"]})
    receiver.stall = 1.0
    api.post(
        f"{base}/api-customers-sync",
        json={"customers": [{"name": "A", "email": "a@example.com"}]},
        timeout=10,
    )
    [slow] = wait_for_deliveries(base, 1)
    assert [a["error"] for a in slow["attempts"]] == ["timeout", ""] and slow["outcome"] == "delivered"


def test_webhooks_connect_points_the_business_at_a_receiver_with_the_configs_secret(
    alc, api, base, config, receiver
):
    alc.webhooks_connect(
        receiver.url, config={**config, "webhook_secret": "integration-secret-0123"}, secret=""
    )
    listed = requests.get(f"{base}/_control/webhooks", timeout=10).json()["webhooks"]
    assert [h["target_url"] for h in listed] == [receiver.url]
    control(base, "inbound", {"email": "a@example.com", "name": "A", "content": "Hi", "wait": True})
    assert len(receiver.received) == 3
    assert all(verified(r, "integration-secret-0123") for r in receiver.received)
