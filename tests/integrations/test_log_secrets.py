"""Every log line of a full sync and a webhook round is a JSON object carrying the ids of its work,
and none of the secrets or tokens the round used appears anywhere in them.

The round, over real HTTP to the live server: an API key creates an outbound endpoint (the
request's own id echoed back), a full sync pulls from the HubSpot emulator, the emulator sends a
signed webhook to the receiver, the stored event is processed into a change, and that change is
delivered, signed, to the subscribed endpoint. Logging runs as configured (``settings.LOGGING``'s
formatter and redaction), at DEBUG for the platform's own loggers and INFO for libraries.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests
from django.conf import settings
from standardwebhooks import Webhook

from config.logging import RedactSecretsFilter, log_formatter
from connectors.registry import emulator_module
from integrations.models import ApiKey, AuditLog
from sync.models import Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.sandbox import sandbox_integration
from tests.webhooks.outbound_receiver import receiver  # noqa: F401 -- a fixture
from webhooks.inbound.processing import inbound_drain
from webhooks.models import Delivery, Endpoint, InboundEvent
from webhooks.outbound.delivery import deliveries_send_due
from webhooks.outbound.outbox import outbox_pump

pytestmark = pytest.mark.django_db(transaction=True)

PLATFORM_LOGGERS = ("config", "connectors", "integrations", "sync", "webhooks", "tests")
REQUEST_ID = "test-round-0001"


@pytest.fixture
def captured():
    """Everything logged while the test runs, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter("json"))
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in PLATFORM_LOGGERS}
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in PLATFORM_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def hubspot(catalog, subaccount, sandbox_url):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 3, None)
    return sandbox_integration(subaccount, "hubspot", sandbox_url)


def secrets_of_the_round(integration, endpoint: Endpoint, api_key: str) -> dict[str, str]:
    integration.refresh_from_db()
    found = {
        "hubspot access token": integration.config["access_token"],
        "hubspot client secret": integration.config["client_secret"],
        "inbound webhook secret": str(integration.webhook_secret),
        "endpoint signing secret": endpoint.secret,
        "endpoint signing key (base64 part)": endpoint.secret.removeprefix("whsec_"),
        "API key": api_key,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    for name, token in (integration.tokens or {}).items():
        if isinstance(token, str) and name.endswith("token"):
            found[f"OAuth {name}"] = token
    for i, key in enumerate(settings.FIELD_ENCRYPTION_KEYS):
        found[f"FIELD_ENCRYPTION_KEYS[{i}]"] = key
    assert all(len(value) >= 16 for value in found.values()), "a secret too short to grep for"
    return found


def test_a_sync_and_webhook_round_logs_json_with_its_ids_and_no_secret(
    captured,
    hubspot,
    subaccount,
    live_server,
    receiver,  # noqa: F811 -- pytest injects the fixture by name
):
    _, raw_key = ApiKey.objects.create_key(name="round", subaccount=subaccount)
    created = requests.post(
        f"{live_server.url}/api/v1/webhook-endpoints/",
        json={"url": receiver.url(), "event_types": ["contact.*"]},
        headers={"Authorization": f"Bearer {raw_key}", "X-Request-ID": REQUEST_ID},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-ID"] == REQUEST_ID
    endpoint = Endpoint.objects.get(pk=created.json()["id"])

    # A full sync, executed here; the progress callback logs from inside the run.
    run = sync_run_request(
        integration=hubspot, kind="full", entities=["contact"], requested_by="test", enqueue=False
    )
    progress_log = logging.getLogger("tests.progress")
    done = sync_run_execute(run_id=run.pk, progress=lambda p: progress_log.info("page applied"))
    assert done.status == "succeeded", done.error

    # A signed HubSpot webhook to the receiver, processed into a change of the linked contact.
    em = emulator_module("hubspot").emulator
    link = EntityLink.objects.filter(integration=hubspot, entity="contact").first()
    em.touch("contacts", link.remote_id, {"jobtitle": "Head of Logs"})
    event = {"eventId": 777001, "subscriptionType": "contact.propertyChange", "objectId": int(link.remote_id)}
    sent = em.fire_webhooks(None, f"{live_server.url}/webhooks/in/hubspot/{hubspot.pk}/", [event])
    assert sent.status_code == 200
    inbound_drain()
    inbound = InboundEvent.objects.get(integration=hubspot)
    assert inbound.status == "processed", inbound.error
    assert Contact.objects.get(pk=link.local_id).job_title == "Head of Logs"

    # The change delivered, signed, to the endpoint.
    outbox_pump()
    deliveries_send_due()
    delivered = Delivery.objects.filter(endpoint=endpoint, status="succeeded")
    assert delivered.exists()
    assert any(
        Webhook(endpoint.secret).verify(r.body, r.headers)["data"]["record"].get("job_title")
        == "Head of Logs"
        for r in receiver.requests
    )

    output = captured.getvalue()
    # Nothing even tried: the redaction safety net had nothing to catch (a leak is fixed at its source).
    assert "[redacted]" not in output
    for name, secret in secrets_of_the_round(hubspot, endpoint, raw_key).items():
        assert secret not in output, f"the {name} was logged"
        assert secret not in json.dumps(list(AuditLog.objects.values_list("changes", flat=True))), name

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # each one JSON
    assert len(lines) > 10
    for line in lines:
        assert {"timestamp", "level", "logger", "event"} <= set(line), line

    def having(**fields) -> list[dict]:
        return [line for line in lines if all(line.get(k) == v for k, v in fields.items())]

    # The API request: its id (the caller's), its sub-account, its access line.
    [api_line] = having(request_id=REQUEST_ID, logger="config.requests")
    assert api_line["path"] == "/api/v1/webhook-endpoints/" and api_line["status"] == 201
    assert api_line["subaccount"] == subaccount.slug
    # The run: lines from inside it carry its id, its integration and its sub-account.
    inside_run = having(logger="tests.progress", sync_run_id=run.pk, integration_id=hubspot.pk)
    assert inside_run and all(line["subaccount"] == subaccount.slug for line in inside_run)
    assert having(event="sync finished", sync_run_id=run.pk, integration_id=hubspot.pk)
    assert not having(logger="tests.progress", request_id=REQUEST_ID)  # nothing leaked between works
    # The receiver's request: a generated request id and the integration it was for.
    [receiver_line] = having(logger="config.requests", path=f"/webhooks/in/hubspot/{hubspot.pk}/")
    assert receiver_line["integration_id"] == hubspot.pk and len(receiver_line["request_id"]) == 32
    # Processing the event, and the delivery.
    assert having(event="inbound events applied", event_id=inbound.pk, integration_id=hubspot.pk, processed=1)
    delivery = delivered.first()
    assert having(event="webhook sending", delivery_id=delivery.pk, endpoint_id=endpoint.pk, level="debug")
    assert having(event="webhook attempt", delivery_id=delivery.pk, endpoint_id=endpoint.pk)
