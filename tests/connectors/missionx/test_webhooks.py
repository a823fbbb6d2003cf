"""MissionX webhooks: the shared timestamped HMAC (a known vector), parsing, and the live receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from connectors.base import PermanentError, SignatureInvalid, WebhookRequest
from connectors.missionx import webhooks
from connectors.missionx.connector import MissionXConnector
from connectors.sandbox.models import SandboxWebhook
from tests.connectors.missionx.conftest import control, wait_for_deliveries
from tests.sandbox import sandbox_integration
from webhooks.inbound.parsing import deliveries_parse
from webhooks.models import InboundDelivery, InboundEvent

# Known answer, computed once with Python's hmac and checked with `openssl dgst -sha256 -hmac`.
SECRET = "mx_test_secret_0123456789"
TIMESTAMP = "1762246800"
BODY = (
    b'{"id":"evt_0001","event":"file.uploaded","timestamp":"2025-11-04T09:00:00Z","data":{"portal":'
    b'{"id":"prt_1","status":"active","uploads_enabled":true,"external_id":"CRM-12345"},"file":'
    b'{"id":"fil_1","filename":"payroll.csv","size":42}}}'
)
SIGNATURE = "0c2a3b853ecb3c307301717b66abbd085b21591dba3deda03b9490c8967bb69e"
NOW = int(TIMESTAMP) + 10


def request(body: bytes = BODY, *, timestamp: str = TIMESTAMP, signature: str = SIGNATURE) -> WebhookRequest:
    headers = {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": signature}
    return WebhookRequest(method="POST", url="/webhooks/in/missionx/1/", headers=headers, body=body)


def test_the_known_vector_verifies_with_the_configured_secret():
    webhooks.verify(request(), secret="", now=NOW, config={"webhook_secret": SECRET})
    webhooks.verify(
        request(signature=SIGNATURE.upper()), secret="", now=NOW, config={"webhook_secret": SECRET}
    )


def test_without_a_configured_secret_the_integrations_own_is_used():
    webhooks.verify(request(), secret=SECRET, now=NOW, config={})
    with pytest.raises(SignatureInvalid):  # the configured one wins when set
        webhooks.verify(request(), secret=SECRET, now=NOW, config={"webhook_secret": "another-secret-123456"})


@pytest.mark.parametrize(
    "case",
    [
        "stale",
        "future",
        "tampered",
        "wrong secret",
        "no secret",
        "no signature",
        "no timestamp",
        "ms timestamp",
    ],
)
def test_forged_or_stale_deliveries_are_refused(case):
    secret, now, delivery = SECRET, NOW, request()
    if case == "stale":
        now = int(TIMESTAMP) + 301
    elif case == "future":
        now = int(TIMESTAMP) - 301
    elif case == "tampered":
        delivery = request(BODY.replace(b'"size":42', b'"size":43'))
    elif case == "wrong secret":
        secret = "mx_test_secret_0123456780"
    elif case == "no secret":
        secret = ""
    elif case == "no signature":
        delivery = request(signature="")
    elif case == "no timestamp":
        delivery = request(timestamp="")
    elif case == "ms timestamp":
        delivery, now = request(timestamp=TIMESTAMP + "000"), int(TIMESTAMP)
    with pytest.raises(SignatureInvalid):
        webhooks.verify(delivery, secret="", now=now, config={"webhook_secret": secret})


def test_one_event_per_delivery_names_the_portal_and_keeps_data():
    [event] = webhooks.parse(request(), config={})
    assert (event.event_id, event.entity, event.remote_id, event.action) == (
        "evt_0001",
        "portal",
        "prt_1",
        "file_uploaded",
    )
    assert event.occurred_at == datetime(2025, 11, 4, 9, 0, tzinfo=UTC)
    assert event.record is None
    assert event.raw == json.loads(BODY)["data"] and event.raw["file"]["filename"] == "payroll.csv"
    for name, action in (("portal.created", "created"), ("portal.activated", "activated")):
        body = json.dumps({**json.loads(BODY), "event": name, "data": {"portal": {"id": "prt_2"}}}).encode()
        [parsed] = webhooks.parse(request(body), config={})
        assert (parsed.action, parsed.remote_id) == (action, "prt_2")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event":"portal.created","timestamp":"2025-11-04T09:00:00Z","data":{"portal":{"id":"p"}}}',
        b'{"id":"evt_1","event":"portal.deleted","timestamp":"2025-11-04T09:00:00Z","data":{"portal":{"id":"p"}}}',
        b'{"id":"evt_1","event":"portal.created","timestamp":"2025-11-04T09:00:00Z","data":{}}',
        b'{"id":"evt_1","event":"file.uploaded","timestamp":"2025-11-04T09:00:00Z","data":{"portal":{"id":"p"}}}',
        b'{"id":"evt_1","event":"portal.created","timestamp":"soon","data":{"portal":{"id":"p"}}}',
    ],
)
def test_malformed_bodies_are_permanent_errors(body):
    with pytest.raises(PermanentError):
        webhooks.parse(request(body), config={})


def test_the_connector_routes_webhooks_to_this_module():
    MissionXConnector.verify_webhook(request(), config={"webhook_secret": SECRET}, secret="", now=NOW)
    assert MissionXConnector.parse_webhook(request())[0].event_id == "evt_0001"


# --- through the live receiver --------------------------------------------------------------------


def test_the_emulators_deliveries_pass_the_platforms_receiver_once(
    mx, catalog, subaccount, sandbox_url, live_server
):
    integration = sandbox_integration(subaccount, "missionx", sandbox_url)
    base = integration.config["base_url"]
    target = f"{live_server.url}/webhooks/in/missionx/{integration.pk}/"
    control(base, "webhooks", {"target_url": target, "api_key": integration.config["api_key"]})
    connector = MissionXConnector(integration.config, integration_id=integration.pk)
    portal = connector.portal_create(client_name="Acme", email="a@acme.example", external_id="c-1")
    connector.portal_update(portal.id, status="active", uploads_enabled=True)
    made = requests.post(
        f"{base}/_control/upload",
        json={"portal_id": portal.id, "filename": "payroll.csv", "content": "a,b\n", "wait": True},
        timeout=30,
    ).json()
    deliveries = wait_for_deliveries(base, 3)
    assert [d["outcome"] for d in deliveries] == ["delivered"] * 3
    deliveries_parse()  # what the worker does first
    stored = InboundEvent.objects.filter(integration=integration).order_by("created_at")  # arrival order
    assert [(e.entity, e.action, e.remote_id) for e in stored] == [
        ("portal", "created", portal.id),
        ("portal", "activated", portal.id),
        ("portal", "file_uploaded", portal.id),
    ]
    assert stored[2].event_id == made["event_id"]

    # MissionX redelivers (the same signed bytes): acknowledged, not stored again.
    sent = SandboxWebhook.objects.get(provider="missionx", body__contains=made["event_id"])
    again = requests.post(target, data=sent.body.encode(), headers=sent.headers, timeout=10)
    assert again.status_code == 200
    forged = requests.post(
        target,
        data=sent.body.replace("payroll.csv", "payroll.exe").encode(),
        headers=sent.headers,
        timeout=10,
    )
    assert forged.status_code == 401
    deliveries_parse()  # the redelivery read too: its event was already stored
    assert InboundEvent.objects.filter(integration=integration).count() == 3
    outcomes = list(InboundDelivery.objects.filter(integration=integration).values_list("outcome", flat=True))
    assert sorted(outcomes) == ["accepted"] * 4 + ["rejected"]  # the forged one refused and kept
