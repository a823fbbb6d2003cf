"""Leadgen webhooks without a server: the providers.md signature vector, the hub.challenge
handshake, and parsing (ids only; a repeated delivery gives the same event ids)."""

import json

import pytest

from connectors.base import PermanentError, SignatureInvalid, WebhookRequest
from connectors.facebook_leads import webhooks
from connectors.facebook_leads.connector import FacebookLeadsConnector
from connectors.facebook_leads.emulator.hooks import signed_headers

# providers.md §9 "Known-answer vector".
VECTOR_SECRET = "test_app_secret"  # noqa: S105 (the published test vector)
VECTOR_BODY = (
    b'{"object":"page","entry":[{"id":"123","time":1730000000,"changes":[{"field":"leadgen","value":'
    b'{"leadgen_id":"444","page_id":"123","form_id":"555","adgroup_id":"666","ad_id":"666",'
    b'"created_time":1730000000}}]}]}'
)
VECTOR_SIGNATURE = "sha256=e5e59e3a78d4a7c392e89393c70ca50df50e300ed82c3e619dfd1494d226820c"
CONFIG = {"app_secret": VECTOR_SECRET, "verify_token": "our-verify-token-123", "pageId": "123"}


def delivery(body: bytes, signature: str | None) -> WebhookRequest:
    headers = {"X-Hub-Signature-256": signature} if signature is not None else {}
    return WebhookRequest(
        method="POST", url="https://app.example.com/webhooks/in/facebook_leads/1/", headers=headers, body=body
    )


def handshake(**query: str) -> WebhookRequest:
    return WebhookRequest(method="GET", url="https://app.example.com/", headers={}, body=b"", query=query)


def test_the_providers_md_vector_verifies():
    FacebookLeadsConnector.verify_webhook(
        delivery(VECTOR_BODY, VECTOR_SIGNATURE), config=CONFIG, secret="", now=0
    )


def test_the_emulator_signs_the_vector_as_meta_does():
    assert signed_headers(VECTOR_BODY, VECTOR_SECRET)["X-Hub-Signature-256"] == VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("body", "signature", "config"),
    [
        (VECTOR_BODY.replace(b"444", b"445"), VECTOR_SIGNATURE, CONFIG),  # tampered body
        (VECTOR_BODY, VECTOR_SIGNATURE.upper().replace("SHA256", "sha256")[:-1] + "0", CONFIG),
        (VECTOR_BODY, None, CONFIG),  # unsigned
        (VECTOR_BODY, VECTOR_SIGNATURE, {**CONFIG, "app_secret": ""}),  # no secret: fail closed
        (json.dumps(json.loads(VECTOR_BODY)).encode(), VECTOR_SIGNATURE, CONFIG),  # re-serialised
    ],
)
def test_anything_but_the_app_secrets_signature_over_the_raw_bytes_is_refused(body, signature, config):
    with pytest.raises(SignatureInvalid):
        FacebookLeadsConnector.verify_webhook(delivery(body, signature), config=config, secret="s", now=0)


def test_the_handshake_echoes_the_challenge_for_our_verify_token_only():
    right = handshake(
        **{"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "our-verify-token-123"}
    )
    wrong = handshake(
        **{"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "someone-else"}
    )
    not_subscribe = handshake(
        **{"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": "our-verify-token-123"}
    )
    assert FacebookLeadsConnector.webhook_challenge(right, config=CONFIG, secret="") == "1158201444"
    assert FacebookLeadsConnector.webhook_challenge(wrong, config=CONFIG, secret="") is None
    assert FacebookLeadsConnector.webhook_challenge(not_subscribe, config=CONFIG, secret="") is None
    assert (
        FacebookLeadsConnector.webhook_challenge(right, config={**CONFIG, "verify_token": ""}, secret="")
        is None
    )


def test_a_leadgen_change_is_a_contact_and_its_activity_keyed_on_the_lead():
    events = FacebookLeadsConnector.parse_webhook(delivery(VECTOR_BODY, VECTOR_SIGNATURE), config=CONFIG)
    assert [(e.entity, e.remote_id, e.action, e.event_id) for e in events] == [
        ("contact", "444", "created", "leadgen:444"),
        ("activity", "444", "created", "leadgen:444:activity"),
    ]
    assert events[0].record is None and events[0].occurred_at.timestamp() == 1730000000


def test_a_duplicated_lead_parses_to_the_same_event_ids():
    body = json.loads(VECTOR_BODY)
    body["entry"].append(json.loads(json.dumps(body["entry"][0])))  # Meta batches and repeats
    again = json.dumps(body).encode()
    first = {e.event_id for e in webhooks.parse(delivery(VECTOR_BODY, None), config=CONFIG)}
    twice = [e.event_id for e in webhooks.parse(delivery(again, None), config=CONFIG)]
    assert set(twice) == first and len(twice) == 4  # the receiver stores each id once


def test_other_pages_and_other_fields_are_ignored_and_a_non_page_body_is_refused():
    body = json.loads(VECTOR_BODY)
    body["entry"].append(
        {"id": "999", "time": 1, "changes": [{"field": "leadgen", "value": {"leadgen_id": "1"}}]}
    )
    body["entry"][0]["changes"].append({"field": "feed", "value": {"item": "post"}})
    events = webhooks.parse(delivery(json.dumps(body).encode(), None), config=CONFIG)
    assert {e.remote_id for e in events} == {"444"}
    with pytest.raises(PermanentError):
        webhooks.parse(delivery(b'{"object":"user","entry":[]}', None), config=CONFIG)
