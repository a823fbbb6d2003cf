"""``/metrics``: who may scrape it, and what it says about a seeded situation (real PostgreSQL and
Redis; the provider call counters through a real client against the HubSpot emulator)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from connectors import api_usage
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.emulator import emulator as hubspot_emulator
from sync.models import Conflict, EnrichmentJob, SyncRun
from tests.factories import IntegrationFactory, IntegrationTemplateFactory, SubAccountFactory
from tests.sandbox import connectors_made, emulator_control
from tests.webhooks.test_system_health import own_broker_url
from webhooks.models import (
    Attempt,
    Delivery,
    Endpoint,
    InboundDelivery,
    InboundEvent,
    InboundReceipt,
    Message,
)
from webhooks.observability.queues import QUEUES, broker_client

TOKEN = "metrics-token-9f8e7d6c5b4a"
SECRETS_AND_PII = (
    TOKEN,
    "Acme Corporation",
    "Acme HubSpot",
    "jane.doe@example.com",
    "+15551234567",
    "hooks.acme.example",
    "whsec_",
)


def scrape(client, **headers):
    return client.get("/metrics", **headers)


def families(response) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(found, name: str, **labels) -> float:
    """The sample ``name`` whose labels include ``labels`` (0 when there is none)."""
    for family in found.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.fixture
def queues(settings):
    """A broker of this test's own (a Redis database nothing else uses: tasks other tests queue
    land in the real broker's), empty before and after."""
    settings.CELERY_BROKER_URL = own_broker_url(settings.REDIS_URL)
    redis = broker_client()
    redis.flushdb()
    yield redis
    redis.flushdb()


# --- who may scrape ---------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_with_a_token_only_its_bearer_may_scrape(client):
    missing = scrape(client)
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert scrape(client, HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 403
    assert scrape(client, HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    accepted = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.9")
    assert accepted.status_code == 200
    assert accepted["Content-Type"].startswith("text/plain; version=")
    assert TOKEN not in accepted.content.decode()


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="")
def test_without_a_token_only_this_machine_may_scrape(client):
    assert scrape(client, REMOTE_ADDR="127.0.0.1").status_code == 200
    assert scrape(client, REMOTE_ADDR="::1").status_code == 200
    assert scrape(client, REMOTE_ADDR="10.1.2.3").status_code == 404
    # A reverse proxy on the same host connects from loopback: what it forwards is not local.
    assert scrape(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 404


@pytest.mark.django_db
def test_only_get_is_answered(client):
    assert client.post("/metrics").status_code == 405


# --- what it says -------------------------------------------------------------------------------------


def run(integration, status, **counters) -> SyncRun:
    return SyncRun.objects.create(
        subaccount=integration.subaccount, integration=integration, kind="delta", status=status, **counters
    )


def conflict(integration, local_id, status="open") -> Conflict:
    return Conflict.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        entity="contact",
        local_id=local_id,
        remote_id=f"r{local_id}",
        field="email",
        local_value="jane.doe@example.com",
        status=status,
    )


def inbound(integration, statuses, *, pending_age=None):
    delivery = InboundDelivery.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        provider="hubspot",
        outcome="accepted",
        body={"email": "jane.doe@example.com"},
    )
    for n, status in enumerate(statuses):
        event = InboundEvent.objects.create(
            subaccount=integration.subaccount,
            integration=integration,
            delivery=delivery,
            provider="hubspot",
            event_id=f"{delivery.pk}-{n}",
            status=status,
            payload={"email": "jane.doe@example.com", "phone": "+15551234567"},
        )
        if status == "pending" and pending_age:
            InboundEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - pending_age)


def outbound(subaccount):
    """Three deliveries: one succeeded after 0.3 s (an 80 ms answer), one retrying after a 503 in
    700 ms, one failed after a 12 s timeout; the pending one was created 2 minutes ago."""
    endpoint = Endpoint.objects.create(
        subaccount=subaccount, url="https://hooks.acme.example/in?token=abc", secret="whsec_c2VjcmV0"
    )
    now = timezone.now()
    made = []
    for n, (status, age) in enumerate([("succeeded", 0.3), ("pending", 120), ("failed", 20)]):
        message = Message.objects.create(
            subaccount=subaccount,
            msg_id=f"msg_{n}",
            event_type="contact.updated",
            payload={"email": "jane.doe@example.com"},
        )
        delivery = Delivery.objects.create(message=message, endpoint=endpoint, status=status, attempts=1)
        Message.objects.filter(pk=message.pk).update(created_at=now - timedelta(seconds=age))
        Delivery.objects.filter(pk=delivery.pk).update(
            created_at=now - timedelta(seconds=age), updated_at=now
        )
        made.append(delivery)
    ok, retrying, failed = made
    Attempt.objects.create(delivery=ok, status_code=200, duration_ms=80)
    Attempt.objects.create(
        delivery=retrying, status_code=503, duration_ms=700, next_retry_at=now + timedelta(seconds=4)
    )
    Attempt.objects.create(delivery=failed, status_code=None, duration_ms=12000, error="timed out")
    old = Attempt.objects.create(delivery=ok, status_code=200, duration_ms=5)
    Attempt.objects.filter(pk=old.pk).update(attempted_at=now - timedelta(hours=2))  # outside the hour


@pytest.fixture
def seeded(db):
    acme = SubAccountFactory(slug="acme", name="Acme Corporation")
    hubspot = IntegrationFactory(
        subaccount=acme, template=IntegrationTemplateFactory(key="hubspot"), name="Acme HubSpot"
    )
    salesforce = IntegrationFactory(
        subaccount=acme, template=IntegrationTemplateFactory(key="salesforce"), name="Acme Salesforce"
    )
    run(hubspot, "succeeded", processed=10, pushed=4, created=3)
    run(hubspot, "succeeded", processed=5, pushed=1)
    run(hubspot, "running", processed=2)
    run(salesforce, "failed", processed=1, failed=1)
    run(salesforce, "queued")
    conflict(hubspot, 1)
    conflict(hubspot, 2)
    conflict(hubspot, 3, status="resolved")
    conflict(salesforce, 4)
    inbound(hubspot, ["processed", "processed", "failed", "pending"], pending_age=timedelta(minutes=5))
    outbound(acme)
    EnrichmentJob.objects.create(
        subaccount=acme,
        entity="contact",
        record_id=1,
        available_at=timezone.now() - timedelta(minutes=10),
    )
    EnrichmentJob.objects.create(  # waiting out a back-off: not lag
        subaccount=acme,
        entity="contact",
        record_id=2,
        available_at=timezone.now() + timedelta(minutes=30),
    )
    return acme


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_the_figures_of_a_seeded_situation(client, seeded, queues):
    queues.rpush("sync", "m1", "m2", "m3")
    queues.rpush("sync\x06\x163", "m4")  # kombu's list for priority 3
    queues.rpush("webhooks", "m5")
    response = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    found = families(response)

    assert value(found, "crm_sync_runs", provider="hubspot", status="succeeded") == 2
    assert value(found, "crm_sync_runs", provider="hubspot", status="running") == 1
    assert value(found, "crm_sync_runs", provider="salesforce", status="failed") == 1
    assert value(found, "crm_sync_runs_active", provider="hubspot") == 1
    assert value(found, "crm_sync_runs_active", provider="salesforce") == 1
    assert value(found, "crm_sync_records", provider="hubspot", counter="processed") == 17
    assert value(found, "crm_sync_records", provider="hubspot", counter="pushed") == 5
    assert value(found, "crm_sync_records", provider="salesforce", counter="failed") == 1

    assert value(found, "crm_conflicts_open", provider="hubspot") == 2
    assert value(found, "crm_conflicts_open", provider="salesforce") == 1

    assert value(found, "crm_inbound_events", provider="hubspot", status="processed") == 2
    assert value(found, "crm_inbound_events", provider="hubspot", status="pending") == 1
    assert value(found, "crm_inbound_deliveries", provider="hubspot", outcome="accepted") == 1
    assert 300 <= value(found, "crm_inbound_oldest_pending_seconds") < 400

    assert value(found, "crm_outbound_deliveries", status="succeeded") == 1
    assert value(found, "crm_outbound_deliveries", status="pending") == 1
    assert 120 <= value(found, "crm_outbound_oldest_pending_seconds") < 200
    assert value(found, "crm_outbound_attempts_last_hour", outcome="succeeded") == 1
    assert value(found, "crm_outbound_attempts_last_hour", outcome="retrying") == 1
    assert value(found, "crm_outbound_attempts_last_hour", outcome="failed") == 1
    duration = "crm_outbound_attempt_duration_seconds"
    assert value(found, f"{duration}_bucket", le="0.05") == 0
    assert value(found, f"{duration}_bucket", le="0.1") == 1  # 80 ms
    assert value(found, f"{duration}_bucket", le="1.0") == 2  # 700 ms
    assert value(found, f"{duration}_bucket", le="10.0") == 2  # the 12 s timeout is past every bound
    assert value(found, f"{duration}_bucket", le="+Inf") == 3
    assert value(found, f"{duration}_count") == 3
    assert value(found, f"{duration}_sum") == pytest.approx(12.78)
    latency = "crm_outbound_delivery_latency_seconds"
    assert value(found, f"{latency}_bucket", le="0.25") == 0
    assert value(found, f"{latency}_bucket", le="0.5") == 1
    assert value(found, f"{latency}_count") == 1
    assert value(found, f"{latency}_sum") == pytest.approx(0.3, abs=0.05)

    assert value(found, "crm_celery_queue_depth", queue="sync") == 4
    assert value(found, "crm_celery_queue_depth", queue="webhooks") == 1
    assert value(found, "crm_celery_queue_depth", queue="enrichment") == 0
    assert {s.labels["queue"] for s in found["crm_celery_queue_depth"].samples} == set(QUEUES)
    assert value(found, "crm_broker_up") == 1 and value(found, "crm_redis_up") == 1

    assert value(found, "crm_enrichment_jobs", status="pending") == 2
    assert 600 <= value(found, "crm_enrichment_lag_seconds") < 700

    text = response.content.decode()
    for secret in SECRETS_AND_PII:
        assert secret not in text
    labels = {k for family in found.values() for s in family.samples for k in s.labels}
    assert labels <= {"provider", "status", "counter", "outcome", "queue", "le"}


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="")
def test_webhooks_waiting_for_a_worker_count_as_inbound_backlog_before_they_are_events(client):
    """With the workers stopped nothing becomes an event: a receipt not yet filed and a delivery
    not yet read still show as the oldest inbound wait."""
    integration = IntegrationFactory(template=IntegrationTemplateFactory(key="hubspot"))
    now = timezone.now()
    InboundReceipt.objects.create(
        integration=integration, received_at=now - timedelta(minutes=3), envelope="x"
    )
    assert 180 <= value(families(scrape(client)), "crm_inbound_oldest_pending_seconds") < 280

    InboundDelivery.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        provider="hubspot",
        outcome="accepted",
        verified=True,
        parse_status="pending",
        received_at=now - timedelta(minutes=9),
    )
    assert 540 <= value(families(scrape(client)), "crm_inbound_oldest_pending_seconds") < 640


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="")
def test_nothing_waiting_reads_zero(client):
    found = families(scrape(client))
    assert value(found, "crm_enrichment_lag_seconds") == 0
    assert value(found, "crm_inbound_oldest_pending_seconds") == 0
    assert value(found, "crm_outbound_attempt_duration_seconds_count") == 0


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="", CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_an_unreachable_broker_is_reported_not_raised(client):
    response = scrape(client)
    assert response.status_code == 200
    found = families(response)
    assert value(found, "crm_broker_up") == 0
    assert "crm_celery_queue_depth" not in found
    assert "crm_sync_runs" in found  # the database's figures are still there


# --- provider calls, counted by every process in Redis ------------------------------------------------


@pytest.fixture
def make_connector():
    yield from connectors_made(HubSpotConnector)


@pytest.mark.django_db(transaction=True)
@override_settings(METRICS_TOKEN="")
def test_provider_calls_and_rate_limit_answers_are_counted_per_provider(client, live_server, make_connector):
    assert settings.REDIS_URL, "these counters live in Redis"
    hubspot_emulator.reset()
    api_usage.reset()
    try:
        config, _tokens = hubspot_emulator.connect(f"{live_server.url}/sandbox")
        base = config["base_url"]
        emulator_control(base, "settings", {"rate_interval_ms": 1000})
        emulator_control(base, "faults", {"ratelimit_count": 1})
        connector = make_connector(config)
        assert connector.test_connection().ok
        calls = connector.client.calls
        found = families(scrape(client))
    finally:
        hubspot_emulator.reset()
    assert calls >= 2  # the 429, then the retry
    assert value(found, "crm_provider_api_calls_total", provider="hubspot") == calls
    assert value(found, "crm_provider_rate_limited_total", provider="hubspot") == 1
    assert found["crm_provider_api_calls"].type == "counter"
