"""AITable automation webhooks: the shared-secret header (or HMAC when accepted), the seed's body
and reply (providers.md §4)."""

import json

import pytest

from connectors.aitable import webhooks
from connectors.aitable.connector import AITableConnector
from connectors.base import PermanentError, SignatureInvalid, WebhookRequest
from connectors.signatures import hmac_signature

SECRET = "whsec-aitable-shared"
CONFIG = {
    "api_token": "usk-token-0001",
    "datasheets": {"contact": "dstLeads0001", "deal": "dstOrders0001"},
    "onboarding": {"audit_results_datasheet": "dstAudit0001"},
}


def request(body, signature=SECRET) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-AITable-Signature"] = signature
    return WebhookRequest(
        method="POST", url="https://app.example/webhooks/in/aitable/1/", headers=headers, body=raw
    )


def payload(event="record.created", datasheet="dstLeads0001", record_id="recLead00001", **record):
    return {
        "eventType": event,
        "datasheetId": datasheet,
        "recordId": record_id,
        "record": {
            "fields": {"Client Name": "Acme Corp", "Email": "contact@acme.com", "Status": "Active"},
            **record,
        },
    }


def test_the_shared_secret_verbatim_is_accepted():
    AITableConnector.verify_webhook(request(payload()), config=CONFIG, secret=SECRET, now=0)


@pytest.mark.parametrize("signature", ["wrong-secret", "", None])
def test_a_wrong_or_missing_signature_is_refused(signature):
    with pytest.raises(SignatureInvalid):
        AITableConnector.verify_webhook(request(payload(), signature), config=CONFIG, secret=SECRET, now=0)


def test_no_configured_secret_fails_closed():
    with pytest.raises(SignatureInvalid):
        AITableConnector.verify_webhook(request(payload(), ""), config=CONFIG, secret="", now=0)


def test_an_hmac_of_the_body_counts_only_when_the_integration_accepts_it():
    body = json.dumps(payload()).encode()
    signed = request(body, hmac_signature(SECRET, body))
    with pytest.raises(SignatureInvalid):
        AITableConnector.verify_webhook(signed, config=CONFIG, secret=SECRET, now=0)
    AITableConnector.verify_webhook(
        signed, config={**CONFIG, "webhook_accept_hmac": True}, secret=SECRET, now=0
    )
    tampered = request(body + b" ", hmac_signature(SECRET, body))
    with pytest.raises(SignatureInvalid):
        AITableConnector.verify_webhook(
            tampered, config={**CONFIG, "webhook_accept_hmac": True}, secret=SECRET, now=0
        )


@pytest.mark.parametrize(
    ("event", "action"),
    [("record.created", "created"), ("record.updated", "updated"), ("record.deleted", "deleted")],
)
def test_parse_gives_a_hint_event_for_the_configured_datasheet(event, action):
    [parsed] = AITableConnector.parse_webhook(request(payload(event)), config=CONFIG)
    assert (parsed.entity, parsed.remote_id, parsed.action) == ("contact", "recLead00001", action)
    assert parsed.record is None and parsed.event_id.startswith("aitable:recLead00001:")


def test_other_datasheets_give_an_entity_to_ignore():
    [orders] = AITableConnector.parse_webhook(request(payload(datasheet="dstOrders0001")), config=CONFIG)
    [audit] = AITableConnector.parse_webhook(request(payload(datasheet="dstAudit0001")), config=CONFIG)
    [unknown] = AITableConnector.parse_webhook(request(payload(datasheet="dstElse0001")), config=CONFIG)
    assert (orders.entity, audit.entity, unknown.entity) == ("deal", "", "")


def test_event_ids_repeat_for_a_retried_delivery_and_differ_for_a_new_change(monkeypatch):
    monkeypatch.setattr(webhooks, "now", lambda: 1_700_000_000.0)
    first = AITableConnector.parse_webhook(request(payload()), config=CONFIG)[0].event_id
    retried = AITableConnector.parse_webhook(request(payload()), config=CONFIG)[0].event_id
    updated = AITableConnector.parse_webhook(request(payload("record.updated")), config=CONFIG)[0].event_id
    assert first == retried and updated != first
    monkeypatch.setattr(webhooks, "now", lambda: 1_700_000_600.0)  # the same body ten minutes later
    assert AITableConnector.parse_webhook(request(payload()), config=CONFIG)[0].event_id != first
    stamped = payload(updatedAt=1_700_000_000_123)
    [event] = AITableConnector.parse_webhook(request(stamped), config=CONFIG)
    assert event.occurred_at is not None and event.occurred_at.year == 2023
    assert AITableConnector.parse_webhook(request(stamped), config=CONFIG)[0].event_id == event.event_id


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        {"eventType": "record.exploded", "datasheetId": "dstLeads0001", "recordId": "recLead00001"},
        {"eventType": "record.created", "recordId": "recLead00001"},
        {"eventType": "record.created", "datasheetId": "dstLeads0001", "recordId": 42},
    ],
)
def test_a_malformed_body_is_a_permanent_error(body):
    with pytest.raises(PermanentError):
        AITableConnector.parse_webhook(request(body), config=CONFIG)


def test_the_reply_is_the_seeds_contract():
    body, content_type = AITableConnector.webhook_ack()
    reply = json.loads(body)
    assert content_type == "application/json"
    assert reply["success"] is True and reply["message"] == "Webhook processed successfully"
    assert (
        reply["syncId"].startswith("sync_")
        and reply["syncId"] != json.loads(webhooks.ack_response()[0])["syncId"]
    )
