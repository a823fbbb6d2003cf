"""GoHighLevel webhooks: Ed25519 (``x-ghl-signature``) and legacy RSA (``x-wh-signature``) checks with
the emulator's own keys, tampering and staleness refused, parsing, and a full round trip: a change
made through the emulator's API is delivered signed to the platform's receiver and applied."""

from __future__ import annotations

import json
import time

import pytest
import requests
from django.db import connection

from connectors.base import PermanentError, SignatureInvalid, WebhookRequest
from connectors.gohighlevel import webhooks
from connectors.gohighlevel.connector import GoHighLevelConnector
from connectors.gohighlevel.emulator.store import SANDBOX_LOCATION
from integrations.kick import kick_reset
from sync.models import Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.connectors.gohighlevel.conftest import control, wait_for_deliveries
from tests.sandbox import sandbox_integration
from webhooks.inbound.parsing import deliveries_parse
from webhooks.inbound.processing import inbound_drain
from webhooks.inbound.services import KICK_KEY
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundEvent


def request_of(body: bytes, headers: dict) -> WebhookRequest:
    return WebhookRequest(method="POST", url="/webhooks/in/gohighlevel/1/", headers=headers, body=body)


@pytest.fixture
def delivered(ghl, api, base, receiver):
    """A ContactCreate the emulator delivered to a receiver: (raw body, headers, contact id)."""
    control(base, "webhooks", {"target_url": receiver.url})
    made = api.post(
        f"{base}/contacts/",
        json={"locationId": SANDBOX_LOCATION, "firstName": "Hook", "email": "hook@example.com"},
    )
    assert made.status_code == 201
    wait_for_deliveries(base, 1)
    [got] = receiver.received
    return got["body"], got["headers"], made.json()["contact"]["id"]


def test_the_emulators_ed25519_delivery_verifies_with_the_public_key_connect_gives(delivered, connected):
    body, headers, contact_id = delivered
    config = connected[0]
    assert headers["x-ghl-signature"] and headers["x-wh-signature"]
    webhooks.verify(request_of(body, headers), secret="", now=time.time(), config=config)
    [event] = webhooks.parse(request_of(body, headers), config=config)
    assert (event.entity, event.action, event.remote_id) == ("contact", "created", contact_id)
    assert event.event_id == f"gohighlevel:{json.loads(body)['webhookId']}" and event.occurred_at is not None


def test_the_legacy_rsa_signature_verifies_alone(delivered, connected):
    body, headers, _ = delivered
    legacy = {k: v for k, v in headers.items() if k.lower() != "x-ghl-signature"}
    webhooks.verify(request_of(body, legacy), secret="", now=time.time(), config=connected[0])
    without_rsa_key = {**connected[0], "webhook_rsa_public_key": ""}
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request_of(body, legacy), secret="", now=time.time(), config=without_rsa_key)


def test_a_tampered_body_is_refused_under_either_signature(delivered, connected):
    body, headers, _ = delivered
    tampered = body.replace(b"Hook", b"Evil")
    legacy = {k: v for k, v in headers.items() if k.lower() != "x-ghl-signature"}
    for sent in (headers, legacy):
        with pytest.raises(SignatureInvalid):
            webhooks.verify(request_of(tampered, sent), secret="", now=time.time(), config=connected[0])


def test_other_keys_no_keys_no_signature_and_stale_deliveries_are_refused(
    delivered, connected, ghl, sandbox_url
):
    body, headers, _ = delivered
    config = connected[0]
    with pytest.raises(SignatureInvalid):  # GoHighLevel's published keys did not sign the emulator's
        webhooks.verify(request_of(body, headers), secret="", now=time.time(), config={})
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request_of(body, {}), secret="", now=time.time(), config=config)
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request_of(body, headers), secret="", now=time.time() + 600, config=config)
    ghl.reset()  # new key pairs: the old public key no longer verifies a new delivery
    new_config, _ = ghl.connect(sandbox_url)
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request_of(body, headers), secret="", now=time.time(), config=new_config)


def test_the_rsa_header_can_be_turned_off_in_the_emulator(ghl, api, base, receiver):
    control(base, "settings", {"webhook_rsa": False})
    control(base, "webhooks", {"target_url": receiver.url})
    api.post(
        f"{base}/contacts/",
        json={"locationId": SANDBOX_LOCATION, "firstName": "Only", "email": "only@example.com"},
    )
    wait_for_deliveries(base, 1)
    headers = {k.lower() for k in receiver.received[0]["headers"]}
    assert "x-ghl-signature" in headers and "x-wh-signature" not in headers


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "ContactDelete", "id": "c1", "locationId": "L"}, ("contact", "deleted", "c1")),
        ({"type": "OpportunityStatusUpdate", "id": "o1", "status": "won"}, ("deal", "updated", "o1")),
        (
            {"type": "NoteCreate", "id": "n1", "contactId": "c1", "body": "x"},
            ("activity", "created", "notes/c1/n1"),
        ),
        (
            {"type": "TaskCreate", "id": "t1", "contactId": "c1", "title": "x"},
            ("activity", "created", "tasks/c1/t1"),
        ),
    ],
)
def test_event_types_map_to_entities_actions_and_ids(body, expected):
    [event] = webhooks.parse(request_of(json.dumps({**body, "webhookId": "w1"}).encode(), {}))
    assert (event.entity, event.action, event.remote_id) == expected


def test_events_we_do_not_sync_give_none_and_junk_is_a_permanent_error():
    assert webhooks.parse(request_of(b'{"type": "AppInstall", "appId": "a"}', {})) == []
    assert webhooks.parse(request_of(b'{"type": "NoteCreate", "id": "n1"}', {})) == []  # no contact
    with pytest.raises(PermanentError):
        webhooks.parse(request_of(b"[]", {}))


def test_an_integration_receives_webhooks_only_with_a_key():
    assert GoHighLevelConnector.receives_webhooks({"webhook_public_key": "k"})
    assert not GoHighLevelConnector.receives_webhooks({})


# --- through the platform's receiver -----------------------------------------------------------------


@pytest.fixture
def kicks(monkeypatch):
    """The receiver queues drain runs after commit; here the test drains itself."""
    sent = []

    def apply_async(**options):
        assert not connection.in_atomic_block
        sent.append(options)

    kick_reset(KICK_KEY)
    monkeypatch.setattr(inbound_drain_task, "apply_async", apply_async)
    yield sent
    kick_reset(KICK_KEY)


@pytest.mark.urls("tests.webhooks.urls_inbound")
def test_a_change_made_in_gohighlevel_arrives_signed_and_is_applied_once(
    ghl, catalog, subaccount, sandbox_url, live_server, kicks, base
):
    ghl.seed("contacts", 2, None)
    integration = sandbox_integration(subaccount, "gohighlevel", sandbox_url)
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    assert sync_run_execute(run_id=run.pk).status == "succeeded"
    target = f"{live_server.url}/webhooks/in/gohighlevel/{integration.pk}/"
    ghl.webhooks_connect(target, config=integration.config, secret="")
    contact = ghl.records("contacts").order_by("pk").first()
    token = ghl.private_integration_token()
    headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    changed = requests.put(
        f"{base}/contacts/{contact.remote_id}", json={"firstName": "Webhooked"}, headers=headers, timeout=10
    )
    assert changed.status_code == 200
    [delivery] = wait_for_deliveries(base, 1)
    assert delivery["outcome"] == "delivered" and delivery["attempts"][0]["status"] == 200
    sent = ghl.records("deliveries").get().data
    assert sent["event"] == "ContactUpdate"
    deliveries_parse()  # what the worker does first
    assert InboundEvent.objects.filter(integration=integration).count() == 1
    inbound_drain()
    link = EntityLink.objects.get(integration=integration, entity="contact", remote_id=contact.remote_id)
    assert Contact.objects.get(pk=link.local_id).first_name == "Webhooked"
