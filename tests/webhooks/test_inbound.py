"""Inbound provider webhooks: the receiver's refusals and acknowledgements, de-duplication, processing
through the sync merge, retries from the database, replay. The end-to-end cases run the HubSpot and
Salesforce emulators over real HTTP (live server) with tasks executed eagerly after commit.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from connectors import registry, signatures
from connectors.hubspot import webhooks as hubspot_webhooks
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.webhooks import signature_v3
from connectors.registry import emulator_module
from connectors.salesforce.emulator.schema import ORG_ID
from connectors.salesforce.emulator.webhooks import outbound_message
from connectors.sandbox.models import SandboxState
from integrations.kick import kick_reset
from integrations.pii import is_token
from sync.models import Change, Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from tests.sandbox import sandbox_integration
from tests.sync.test_pii_encryption import raw
from webhooks.inbound import throttle
from webhooks.inbound.parsing import deliveries_parse, receipts_file
from webhooks.inbound.processing import inbound_drain, inbound_retry_due
from webhooks.inbound.services import KICK_KEY, KICK_WINDOW, inbound_events_replay
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.inbound.views import throttle_key
from webhooks.models import InboundDelivery, InboundEvent, InboundReceipt

# Transactional: enqueueing happens on commit, which a test wrapped in one transaction never reaches.
pytestmark = [pytest.mark.urls("tests.webhooks.urls_inbound"), pytest.mark.django_db(transaction=True)]

HS_SECRET = "hubspot-client-secret"
SF_TOKEN = "sf-url-token-0123456789"


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def kicks(monkeypatch):
    """Drain runs the receiver queued (after commit, debounced); tests run the drain themselves."""
    sent: list[dict] = []

    def apply_async(**options) -> None:
        assert not connection.in_atomic_block, "queued inside a transaction: a worker could miss the rows"
        sent.append(options)

    kick_reset(KICK_KEY)
    monkeypatch.setattr(inbound_drain_task, "apply_async", apply_async)
    yield sent
    kick_reset(KICK_KEY)


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process when enqueued, as a worker would right after commit."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def hubspot(subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="hubspot"),
        config={"auth_mode": "private_app", "access_token": "pat-na1-test", "client_secret": HS_SECRET},
        webhook_secret="unused-for-hubspot",
        status="active",
    )


@pytest.fixture
def salesforce(subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="salesforce", auth_type="oauth2"),
        config={"organization_id": ORG_ID, "client_id": "cid", "login_url": "https://login.salesforce.com"},
        webhook_secret=SF_TOKEN,
        status="active",
    )


def receiver(provider: str, integration_id: int) -> str:
    return f"/webhooks/in/{provider}/{integration_id}/"


def hubspot_post(client, integration, events, *, secret=HS_SECRET, url=None, timestamp=None, **extra):
    """POST ``events`` signed with HubSpot's v3 scheme over the URL the provider called."""
    path = receiver(integration.template.connector, integration.pk)
    body = json.dumps(events).encode()
    timestamp = timestamp or str(int(time.time() * 1000))
    signature = signature_v3(secret, "POST", url or f"http://testserver{path}", body, timestamp)
    return client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature,
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
        **extra,
    )


def hs_event(event_id: int, object_id: int = 101, kind: str = "contact.propertyChange") -> dict:
    return {
        "eventId": event_id,
        "subscriptionType": kind,
        "objectId": object_id,
        "occurredAt": int(time.time() * 1000),
    }


def sf_contact(remote_id: str, first_name: str, modified, email: str = "ana@example.com") -> dict:
    return {
        "Id": remote_id,
        "FirstName": first_name,
        "LastName": "Lee",
        "Email": email,
        "LastModifiedDate": modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }


def salesforce_post(client, integration, notifications, *, token=SF_TOKEN):
    """POST an Outbound Message of (notification id, sObject type, fields) with the URL token."""
    body = outbound_message(notifications, base_url="https://example.my.salesforce.com")
    return client.post(
        f"{receiver('salesforce', integration.pk)}?token={token}",
        data=body,
        content_type="text/xml; charset=utf-8",
    )


# --- the receiver: refusals ----------------------------------------------------------------------


def test_unknown_integration_or_provider_mismatch_is_404(client, hubspot, kicks):
    assert hubspot_post(client, hubspot, [hs_event(1)]).status_code == 200  # the control case
    assert (
        client.post(
            receiver("hubspot", hubspot.pk + 999), data=b"[]", content_type="application/json"
        ).status_code
        == 404
    )
    assert (
        client.post(receiver("salesforce", hubspot.pk), data=b"x", content_type="text/xml").status_code == 404
    )
    assert client.post(receiver("nosuch", hubspot.pk), data=b"x", content_type="text/xml").status_code == 404


@pytest.mark.parametrize("status", ["paused", "disconnected"])
def test_a_paused_or_disconnected_integration_answers_410_and_stores_nothing(client, hubspot, kicks, status):
    hubspot.status = status
    hubspot.save()
    assert hubspot_post(client, hubspot, [hs_event(1)]).status_code == 410
    assert not InboundDelivery.objects.exists() and not InboundEvent.objects.exists() and kicks == []


def test_a_body_over_one_megabyte_is_413_before_anything_is_verified(client, hubspot, kicks):
    from webhooks.inbound.views import MAX_BODY_BYTES

    path = receiver("hubspot", hubspot.pk)
    too_big = client.post(path, data=b"[" + b" " * MAX_BODY_BYTES + b"]", content_type="application/json")
    assert too_big.status_code == 413
    declared = client.post(
        path, data=b"[]", content_type="application/json", CONTENT_LENGTH=str(MAX_BODY_BYTES + 1)
    )
    assert declared.status_code == 413
    at_limit = client.post(
        path, data=b"[" + b" " * (MAX_BODY_BYTES - 2) + b"]", content_type="application/json"
    )
    assert at_limit.status_code == 401  # past the size check, then refused: it is unsigned
    assert not InboundEvent.objects.exists() and kicks == []


def test_a_bad_signature_is_401_stored_as_rejected_counted_and_never_processed(client, hubspot, kicks):
    wrong_secret = hubspot_post(client, hubspot, [hs_event(1)], secret="not-the-secret")
    stale = hubspot_post(client, hubspot, [hs_event(2)], timestamp=str(int((time.time() - 600) * 1000)))
    unsigned = client.post(receiver("hubspot", hubspot.pk), data=b"[]", content_type="application/json")

    assert [r.status_code for r in (wrong_secret, stale, unsigned)] == [401, 401, 401]
    rejected = InboundDelivery.objects.filter(integration=hubspot, outcome="rejected")
    assert rejected.count() == 3
    assert sorted(rejected.values_list("reason", flat=True)) == [
        "no HubSpot signature header",
        "signature mismatch",
        "stale X-HubSpot-Request-Timestamp",
    ]
    assert not rejected.filter(verified=True).exists()
    assert not InboundEvent.objects.exists() and kicks == []
    stored = rejected.first().headers
    assert not any("signature" in name.lower() for name in stored)


def test_the_signature_is_checked_over_the_public_url_when_one_is_configured(
    client, hubspot, kicks, settings
):
    settings.PUBLIC_BASE_URL = "https://hooks.example.com"
    public = f"https://hooks.example.com{receiver('hubspot', hubspot.pk)}"
    assert hubspot_post(client, hubspot, [hs_event(1)]).status_code == 401  # signed over our Host: wrong URL
    assert hubspot_post(client, hubspot, [hs_event(2)], url=public).status_code == 200


def test_an_address_outside_allowed_ips_is_403_and_recorded(client, hubspot, kicks):
    hubspot.config = {**hubspot.config, "allowed_ips": ["203.0.113.0/24", "2001:db8::1"]}
    hubspot.save()
    refused = hubspot_post(client, hubspot, [hs_event(1)], REMOTE_ADDR="198.51.100.9")
    allowed = hubspot_post(client, hubspot, [hs_event(2)], REMOTE_ADDR="203.0.113.77")

    assert (refused.status_code, allowed.status_code) == (403, 200)
    forbidden = InboundDelivery.objects.get(integration=hubspot, outcome="forbidden")
    assert forbidden.remote_addr == "198.51.100.9"
    deliveries_parse()  # what the worker does first
    assert list(InboundEvent.objects.values_list("event_id", flat=True)) == ["2"]


def test_behind_a_trusted_proxy_the_allowlist_reads_the_address_the_proxy_saw(
    client, hubspot, kicks, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    hubspot.config = {**hubspot.config, "allowed_ips": ["203.0.113.0/24"]}
    hubspot.save()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # the load balancer
    allowed = hubspot_post(client, hubspot, [hs_event(1)], HTTP_X_FORWARDED_FOR="203.0.113.77", **proxy)
    # A sender cannot talk its way in: what it puts in the header itself sits left of the proxy's entry.
    spoofed = hubspot_post(
        client, hubspot, [hs_event(2)], HTTP_X_FORWARDED_FOR="203.0.113.77, 198.51.100.9", **proxy
    )
    bypassed = hubspot_post(client, hubspot, [hs_event(3)], **proxy)  # no header: not through the proxy

    assert [r.status_code for r in (allowed, spoofed, bypassed)] == [200, 403, 403]
    receipts_file()  # the accepted one becomes a delivery row on a worker
    senders = dict(InboundDelivery.objects.filter(integration=hubspot).values_list("outcome", "remote_addr"))
    assert senders["accepted"] == "203.0.113.77"
    assert sorted(
        InboundDelivery.objects.filter(outcome="forbidden").values_list("remote_addr", flat=True)
    ) == [
        "10.0.0.2",
        "198.51.100.9",
    ]


def test_a_forwarded_entry_that_is_not_an_address_stands_for_nothing(client, hubspot, kicks, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = hubspot_post(
        client, hubspot, [hs_event(1)], HTTP_X_FORWARDED_FOR="not-an-address", REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 200
    receipts_file()
    assert InboundDelivery.objects.get(integration=hubspot).remote_addr == "10.0.0.2"


def test_over_the_rate_limit_is_429_with_retry_after(client, hubspot, kicks, settings):
    settings.WEBHOOK_INBOUND_RATE_LIMIT = "2/60"
    throttle.reset(throttle_key(hubspot.pk), "2/60")
    statuses = [hubspot_post(client, hubspot, [hs_event(n)]).status_code for n in range(1, 4)]
    throttled = hubspot_post(client, hubspot, [hs_event(9)])

    assert statuses == [200, 200, 429]
    assert throttled.status_code == 429 and 1 <= int(throttled["Retry-After"]) <= 60
    assert InboundDelivery.objects.filter(integration=hubspot, outcome="throttled").count() == 2
    assert deliveries_parse() == 2 and InboundEvent.objects.count() == 2


def test_a_signed_body_that_cannot_be_parsed_is_acknowledged_then_failed_with_its_reason(
    client, hubspot, kicks
):
    """Parsing is the worker's: what a provider signed is kept (never refused and lost), and a body
    the connector cannot read is marked failed with the reason, for the admin to re-read."""
    path = receiver("hubspot", hubspot.pk)
    body, timestamp = b'{"not": "an array"}', str(int(time.time() * 1000))
    signature = signature_v3(HS_SECRET, "POST", f"http://testserver{path}", body, timestamp)
    response = client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature,
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )
    assert response.status_code == 200
    assert deliveries_parse() == 1
    failed = InboundDelivery.objects.get(integration=hubspot)
    assert (failed.outcome, failed.verified, failed.parse_status) == ("accepted", True, "failed")
    assert failed.reason.startswith("the body cannot be read") and not InboundEvent.objects.exists()


def test_get_is_405_for_providers_without_a_subscription_handshake(client, hubspot):
    response = client.get(receiver("hubspot", hubspot.pk), {"hub.mode": "subscribe", "hub.challenge": "1"})
    assert response.status_code == 405 and response["Allow"] == "POST"


# --- the receiver: acknowledgement and de-duplication -------------------------------------------


def test_a_valid_delivery_is_stored_acknowledged_at_once_and_enqueued_after_commit(client, hubspot, kicks):
    response = hubspot_post(client, hubspot, [hs_event(1, 101), hs_event(2, 102, "contact.deletion")])

    assert response.status_code == 200 and response.content == b""
    # Acknowledged means durable: one narrow receipt, as received, encrypted; filing it as a
    # delivery and reading that into events is the worker's.
    receipt = InboundReceipt.objects.get(integration=hubspot)
    stored = raw("webhooks_inboundreceipt", receipt.pk, "envelope")["envelope"]
    assert is_token(stored) and "eventId" not in stored
    assert json.loads(receipt.envelope["body"])[0]["eventId"] == 1  # what the worker will read
    assert not InboundDelivery.objects.exists() and not InboundEvent.objects.exists()
    assert kicks == [{"countdown": KICK_WINDOW}]  # once, and after commit (the fixture checks)
    assert deliveries_parse() == 1
    assert not InboundReceipt.objects.exists()
    delivery = InboundDelivery.objects.get(integration=hubspot)
    assert (delivery.outcome, delivery.verified, delivery.method, delivery.provider) == (
        "accepted",
        True,
        "POST",
        "hubspot",
    )
    assert (delivery.parse_status, delivery.events, delivery.duplicates) == ("parsed", 2, 0)
    assert delivery.received_at == receipt.received_at and delivery.subaccount_id == hubspot.subaccount_id
    assert "X-Hubspot-Signature-V3" not in delivery.headers  # credentials never stored
    # The raw body is kept for audit, encrypted at rest (some providers put credentials in it).
    assert '"eventId": 1' in delivery.body and '"objectId": 102' in delivery.body
    assert "eventId" not in raw("webhooks_inbounddelivery", delivery.pk, "body")["body"]
    events = {e.event_id: e for e in InboundEvent.objects.filter(delivery=delivery)}
    assert set(events) == {"1", "2"}
    assert (events["2"].entity, events["2"].remote_id, events["2"].action) == ("contact", "102", "deleted")
    assert all(e.status == "pending" and e.attempts == 0 for e in events.values())


def test_a_redelivered_event_is_acknowledged_and_dropped_as_a_duplicate(client, hubspot, kicks):
    first = hubspot_post(client, hubspot, [hs_event(1), hs_event(2)])
    replayed = hubspot_post(client, hubspot, [hs_event(2), hs_event(3), hs_event(3)])
    kick_reset(KICK_KEY)  # a new window: whoever stores something new now queues a drain run
    only_dupes = hubspot_post(client, hubspot, [hs_event(1)])

    assert [r.status_code for r in (first, replayed, only_dupes)] == [200, 200, 200]
    deliveries_parse()
    deliveries = list(InboundDelivery.objects.filter(integration=hubspot).order_by("pk"))
    assert [(d.events, d.duplicates) for d in deliveries] == [(2, 0), (3, 2), (1, 1)]
    assert sorted(InboundEvent.objects.values_list("event_id", flat=True)) == ["1", "2", "3"]
    # The first two share a window; the last, in a new one, queues a run (that finds no new event).
    assert len(kicks) == 2


def test_the_same_event_id_from_another_integration_is_not_a_duplicate(client, hubspot, subaccount, kicks):
    twin = IntegrationFactory(
        subaccount=subaccount, template=hubspot.template, config=hubspot.config, status="active"
    )
    assert hubspot_post(client, hubspot, [hs_event(7)]).status_code == 200
    assert hubspot_post(client, twin, [hs_event(7)]).status_code == 200
    deliveries_parse()
    assert InboundEvent.objects.filter(event_id="7").count() == 2


def test_salesforce_gets_its_soap_ack_and_a_wrong_url_token_is_refused(client, salesforce, kicks):
    when = timezone.now()
    notification = ("04l000000000001AAA", "Contact", sf_contact("003000000000001AAA", "Ana", when))
    ok = salesforce_post(client, salesforce, [notification])
    forged = salesforce_post(client, salesforce, [notification], token="guessed")

    assert ok.status_code == 200 and ok["Content-Type"] == "text/xml; charset=utf-8"
    assert b"<Ack>true</Ack>" in ok.content
    assert forged.status_code == 401
    assert InboundDelivery.objects.get(integration=salesforce, outcome="rejected").parse_status == ""
    assert deliveries_parse() == 1  # the refused one is never read
    event = InboundEvent.objects.get(integration=salesforce)
    assert (
        event.payload["record"]["fields"]["FirstName"] == "Ana" and event.payload["raw"]["type"] == "Contact"
    )


def _stored_payload(event: InboundEvent) -> str:
    return raw("webhooks_inboundevent", event.pk, "payload")["payload"]


@pytest.mark.django_db(transaction=True)
def test_an_events_payload_is_encrypted_at_rest_and_the_migrations_convert_it_both_ways(
    client, salesforce, kicks
):
    notification = ("04l000000000002AAA", "Contact", sf_contact("003000000000002AAA", "Ana", timezone.now()))
    assert salesforce_post(client, salesforce, [notification]).status_code == 200
    deliveries_parse()
    event = InboundEvent.objects.get(integration=salesforce)
    assert is_token(_stored_payload(event)) and "ana@example.com" not in _stored_payload(event)
    assert event.payload["record"]["fields"]["Email"] == "ana@example.com"

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([("webhooks", "0010_inbound_delivery_parse_status")])  # backwards: jsonb in clear
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT payload->'record'->'fields'->>'Email' FROM webhooks_inboundevent WHERE id = %s",
                [event.pk],
            )
            assert cursor.fetchone() == ("ana@example.com",)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
    assert is_token(_stored_payload(event))
    assert InboundEvent.objects.get(pk=event.pk).payload == event.payload


class ModuleChallengeConnector(HubSpotConnector):
    """A provider whose webhooks module declares a GET handshake (Facebook-style) and a JSON ack."""

    key = "challenge_test"
    webhook_module = SimpleNamespace(
        verify=hubspot_webhooks.verify,
        parse=hubspot_webhooks.parse,
        challenge=lambda request, *, config, secret: signatures.hub_challenge(
            request.query, verify_token=secret
        ),
        ack_response=lambda: (b'{"success":true}', "application/json"),
    )


class OverrideChallengeConnector(HubSpotConnector):
    """The same, with the connector overriding the hooks itself."""

    key = "challenge_test"

    @classmethod
    def webhook_challenge(cls, request, *, config, secret):
        return signatures.hub_challenge(request.query, verify_token=secret)

    @classmethod
    def webhook_ack(cls):
        return b'{"success":true}', "application/json"


@pytest.fixture(params=["ModuleChallengeConnector", "OverrideChallengeConnector"])
def challenge_integration(request, subaccount, monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "challenge_test", f"{__name__}.{request.param}")
    registry.connector_class.cache_clear()
    yield IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="challenge_test"),
        config={"client_secret": HS_SECRET},
        webhook_secret="verify-me",
        status="active",
    )
    registry.connector_class.cache_clear()


def test_a_get_handshake_echoes_the_challenge_only_for_our_verify_token(client, challenge_integration, kicks):
    path = receiver("challenge_test", challenge_integration.pk)
    ok = client.get(
        path, {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "verify-me"}
    )
    refused = client.get(path, {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "guess"})

    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert refused.status_code == 403
    outcomes = sorted(InboundDelivery.objects.values_list("method", "outcome"))
    assert outcomes == [("GET", "accepted"), ("GET", "rejected")]
    assert client.put(path)["Allow"] == "GET, POST"
    acked = hubspot_post(client, challenge_integration, [hs_event(1)])
    assert (acked.status_code, acked.content, acked["Content-Type"]) == (
        200,
        b'{"success":true}',
        "application/json",
    )


# --- processing (inline records: no provider calls) -----------------------------------------------


def test_processing_applies_events_once_and_a_second_run_finds_nothing_to_claim(client, salesforce, kicks):
    when = timezone.now() - timedelta(minutes=5)
    salesforce_post(
        client,
        salesforce,
        [
            (
                "04l000000000001AAA",
                "Contact",
                sf_contact("003000000000001AAA", "Ana", when, "ana@example.com"),
            ),
            ("04l000000000002AAA", "Contact", sf_contact("003000000000002AAA", "Bo", when, "bo@example.com")),
        ],
    )
    assert len(kicks) == 1

    first = inbound_drain_task()
    again = inbound_drain_task()

    assert first == {"processed": 2} and again == {}
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Ana", "Bo"]
    assert set(InboundEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
    assert Change.objects.filter(op="create").count() == 2


def test_an_older_state_arriving_late_is_ignored_as_stale(client, salesforce, kicks):
    now = timezone.now() - timedelta(minutes=5)
    salesforce_post(
        client, salesforce, [("04l000000000002AAA", "Contact", sf_contact("003000000000001AAA", "New", now))]
    )
    salesforce_post(
        client,
        salesforce,
        [
            (
                "04l000000000001AAA",
                "Contact",
                sf_contact("003000000000001AAA", "Old", now - timedelta(minutes=1)),
            )
        ],
    )
    inbound_drain()

    assert Contact.objects.get().first_name == "New"
    statuses = dict(InboundEvent.objects.values_list("event_id", "status"))
    assert statuses == {"04l000000000002AAA": "processed", "04l000000000001AAA": "ignored"}
    assert "stale" in InboundEvent.objects.get(event_id="04l000000000001AAA").error


def test_events_for_an_outbound_only_integration_are_ignored_not_applied(client, salesforce, kicks):
    salesforce.direction = "outbound"
    salesforce.save()
    when = timezone.now()
    salesforce_post(
        client, salesforce, [("04l000000000001AAA", "Contact", sf_contact("003000000000001AAA", "A", when))]
    )
    inbound_drain()
    assert InboundEvent.objects.get().status == "ignored" and not Contact.objects.exists()


def test_a_lost_task_message_is_picked_up_from_the_database_by_the_sweep(client, salesforce, kicks):
    when = timezone.now() - timedelta(minutes=5)
    salesforce_post(
        client, salesforce, [("04l000000000001AAA", "Contact", sf_contact("003000000000001AAA", "A", when))]
    )
    assert inbound_retry_due().total == 0  # too recent: its task message may still be on its way

    result = inbound_retry_due(now=timezone.now() + timedelta(minutes=3))  # the message never came

    assert result.counts == {"processed": 1} and Contact.objects.get().first_name == "A"


def test_a_claim_abandoned_by_a_dead_worker_is_retried_then_buried_after_max_attempts(
    client, salesforce, kicks
):
    when = timezone.now() - timedelta(minutes=5)
    salesforce_post(
        client,
        salesforce,
        [
            ("04l000000000001AAA", "Contact", sf_contact("003000000000001AAA", "A", when, "a@example.com")),
            ("04l000000000002AAA", "Contact", sf_contact("003000000000002AAA", "B", when, "b@example.com")),
        ],
    )
    deliveries_parse()
    expired = timezone.now() - timedelta(seconds=1)
    InboundEvent.objects.update(status="processing", next_attempt_at=expired, attempts=1)
    InboundEvent.objects.filter(event_id="04l000000000002AAA").update(attempts=InboundEvent.MAX_ATTEMPTS)

    assert inbound_drain().total == 0  # not pending: the drain leaves them

    result = inbound_retry_due()
    events = dict(InboundEvent.objects.values_list("event_id", "status"))
    assert result.counts == {"processed": 1}
    assert events == {"04l000000000001AAA": "processed", "04l000000000002AAA": "dead"}
    assert InboundEvent.objects.get(event_id="04l000000000001AAA").attempts == 2


def test_replay_requeues_chosen_events_with_a_fresh_budget(client, salesforce, kicks):
    when = timezone.now() - timedelta(minutes=5)
    salesforce_post(
        client, salesforce, [("04l000000000001AAA", "Contact", sf_contact("003000000000001AAA", "A", when))]
    )
    inbound_drain()
    event = InboundEvent.objects.get()
    InboundEvent.objects.filter(pk=event.pk).update(status="dead", attempts=5, error="boom")
    kicks.clear()
    kick_reset(KICK_KEY)

    assert inbound_events_replay(event_ids=[event.pk]) == 1

    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == ("pending", 0, "")
    assert len(kicks) == 1
    assert inbound_drain_task() == {"processed": 1}
    assert Change.objects.count() == 1  # re-applying the same state changed nothing


# --- end to end over real HTTP: HubSpot fetch-on-id, provider faults, Salesforce at-least-once ------


@pytest.fixture
def live_integration(transactional_db, catalog, subaccount, sandbox_url, eager_tasks):
    def make(provider: str, **options):
        em = emulator_module(provider).emulator
        em.reset()
        return sandbox_integration(subaccount, provider, sandbox_url, **options), em

    return make


@pytest.fixture
def synced_hubspot(live_integration):
    integration, em = live_integration("hubspot")
    em.seed("contacts", 3, None)
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    assert sync_run_execute(run_id=run.pk).status == "succeeded"
    return integration, em


def test_a_hubspot_webhook_fetches_the_record_and_updates_the_canonical_contact(synced_hubspot, live_server):
    integration, em = synced_hubspot
    link = EntityLink.objects.filter(integration=integration, entity="contact").first()
    em.touch("contacts", link.remote_id, {"jobtitle": "Chief Webhook Officer"})
    target = f"{live_server.url}{receiver('hubspot', integration.pk)}"

    hook = em.fire_webhooks(
        None, target, [{"subscriptionType": "contact.propertyChange", "objectId": int(link.remote_id)}]
    )

    assert hook.status_code == 200 and hook.attempts == 1
    assert Contact.objects.get(pk=link.local_id).job_title == "Chief Webhook Officer"
    event = InboundEvent.objects.get(integration=integration)
    assert (event.status, event.attempts) == ("processed", 1)


def test_a_failing_provider_fails_the_event_then_the_sweep_retries_it_to_processed(
    synced_hubspot, live_server
):
    integration, em = synced_hubspot
    link = EntityLink.objects.filter(integration=integration, entity="contact").first()
    em.touch("contacts", link.remote_id, {"firstname": "Retried"})
    SandboxState.objects.filter(provider="hubspot").update(
        fail_count=4, fail_status=503
    )  # every client attempt
    target = f"{live_server.url}{receiver('hubspot', integration.pk)}"

    hook = em.fire_webhooks(
        None, target, [{"subscriptionType": "contact.propertyChange", "objectId": int(link.remote_id)}]
    )

    assert hook.status_code == 200  # acknowledged whatever happens to processing
    event = InboundEvent.objects.get(integration=integration)
    assert (event.status, event.attempts) == ("failed", 1) and event.error
    assert timedelta(seconds=25) < event.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    assert inbound_retry_due().total == 0  # not due yet

    result = inbound_retry_due(now=timezone.now() + timedelta(seconds=31))

    event.refresh_from_db()
    assert result.counts == {"processed": 1} and (event.status, event.attempts) == ("processed", 2)
    assert Contact.objects.get(pk=link.local_id).first_name == "Retried"


def test_an_event_failing_its_last_attempt_is_dead(synced_hubspot, live_server):
    integration, em = synced_hubspot
    link = EntityLink.objects.filter(integration=integration, entity="contact").first()
    target = f"{live_server.url}{receiver('hubspot', integration.pk)}"
    em.fire_webhooks(
        None, target, [{"subscriptionType": "contact.propertyChange", "objectId": int(link.remote_id)}]
    )
    InboundEvent.objects.update(
        status="failed",
        attempts=InboundEvent.MAX_ATTEMPTS - 1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    SandboxState.objects.filter(provider="hubspot").update(fail_count=4, fail_status=503)

    assert inbound_retry_due().counts == {"dead": 1}
    event = InboundEvent.objects.get()
    assert event.attempts == InboundEvent.MAX_ATTEMPTS and event.error.startswith("retries exhausted")


def test_duplicated_and_shuffled_salesforce_messages_apply_each_change_once_and_the_newest_wins(
    live_integration, live_server
):
    integration, em = live_integration("salesforce")
    target = f"{live_server.url}{receiver('salesforce', integration.pk)}?token={integration.webhook_secret}"
    start = timezone.now() - timedelta(minutes=10)
    contacts = {f"0030000000000{n}0AAA": f"person{n}@example.com" for n in range(4)}
    notifications = [
        {
            "type": "Contact",
            "notification_id": f"04l00000000{n}{version}00AAA",
            "fields": sf_contact(remote_id, f"v{version}", start + timedelta(seconds=version), email),
        }
        for n, (remote_id, email) in enumerate(contacts.items())
        for version in range(5)
    ]
    rng = random.Random(20)
    sent = notifications + rng.sample(notifications, len(notifications) // 5)  # 20 % delivered twice
    rng.shuffle(sent)

    for start_at in range(0, len(sent), 3):  # several notifications per Outbound Message, like Salesforce
        hook = em.fire_webhooks(None, target, sent[start_at : start_at + 3])
        assert hook.status_code == 200 and hook.attempts == 1  # acked first time
    # Eager tasks run the window's first kick at once instead of at the window's end: run the drain
    # a worker would run then, for the deliveries that arrived inside the window.
    inbound_drain_task()

    assert InboundEvent.objects.filter(integration=integration).count() == len(notifications)
    assert sum(InboundDelivery.objects.values_list("duplicates", flat=True)) == len(sent) - len(notifications)
    assert set(InboundEvent.objects.values_list("attempts", flat=True)) == {1}
    for remote_id in contacts:
        link = EntityLink.objects.get(integration=integration, entity="contact", remote_id=remote_id)
        assert Contact.objects.get(pk=link.local_id).first_name == "v4"  # the newest state wins
        events = InboundEvent.objects.filter(integration=integration, remote_id=remote_id)
        applied = events.filter(status="processed").count()
        assert applied + events.filter(status="ignored").count() == 5
        # Every applied event changed the record exactly once; stale and duplicate ones never did.
        assert Change.objects.filter(entity="contact", record_id=link.local_id).count() == applied
