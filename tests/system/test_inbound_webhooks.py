"""A provider webhook end to end on real parts: the HubSpot emulator signs and POSTs to the live
receiver over HTTP, a real Celery worker (PostgreSQL, Redis) processes it, the canonical record changes."""

from __future__ import annotations

import socket

import pytest

from connectors.registry import emulator_module
from sync.models import Contact, EntityLink, SyncRun
from sync.runs import sync_run_request
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for
from webhooks.models import InboundDelivery, InboundEvent

pytestmark = [
    pytest.mark.system,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.webhooks.urls_inbound"),
]


@pytest.fixture
def hubspot(catalog, subaccount, sandbox_url):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 3, None)
    return sandbox_integration(subaccount, "hubspot", sandbox_url)


def full_sync_on_the_worker(integration) -> None:
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], requested_by="test")
    done = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=60,
        message="the initial full sync",
    )
    assert done.status == "succeeded", done.error


def assert_worker_knows_inbound_tasks(name: str) -> None:
    """The shared fixture's worker consumes ``webhooks``; it must also have the inbound task registered."""
    from config.celery import app

    registered = app.control.inspect(destination=[f"{name}@{socket.gethostname()}"]).registered() or {}
    tasks = {task for names in registered.values() for task in names}
    assert "webhooks.inbound_drain" in tasks, (
        "the worker does not know webhooks.inbound_drain: webhooks/tasks.py must import webhooks.inbound.tasks"
    )


def test_a_signed_hubspot_webhook_is_received_live_and_applied_by_a_real_worker(
    hubspot, workers, live_server
):
    workers("inbound")
    assert_worker_knows_inbound_tasks("inbound")
    full_sync_on_the_worker(hubspot)
    em = emulator_module("hubspot").emulator
    link = EntityLink.objects.filter(integration=hubspot, entity="contact").first()
    em.touch("contacts", link.remote_id, {"jobtitle": "Head of Webhooks"})
    target = f"{live_server.url}/webhooks/in/hubspot/{hubspot.pk}/"
    event = {"eventId": 424242, "subscriptionType": "contact.propertyChange", "objectId": int(link.remote_id)}

    first = em.fire_webhooks(None, target, [event])
    again = em.fire_webhooks(None, target, [event])  # the provider redelivers: acknowledged, dropped

    assert (first.status_code, again.status_code) == (200, 200)
    processed = wait_for(
        lambda: InboundEvent.objects.filter(integration=hubspot, status="processed").first(),
        timeout=60,
        message="the worker to process the event",
    )
    assert processed.attempts == 1 and processed.event_id == "424242"
    assert InboundEvent.objects.filter(integration=hubspot).count() == 1
    assert list(
        InboundDelivery.objects.filter(integration=hubspot)
        .values_list("duplicates", flat=True)
        .order_by("pk")
    ) == [0, 1]
    assert Contact.objects.get(pk=link.local_id).job_title == "Head of Webhooks"
