"""20 % duplicated, shuffled inbound webhooks at 200 events/s (a minute; 10 s in the short form):
every change takes effect exactly once and the newest value wins."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from connectors.registry import emulator_module
from sync.models import Contact, EntityLink, SyncRun
from sync.runs import sync_run_request
from tests.chaos.conftest import scaled
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for
from webhooks.models import InboundEvent

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.webhooks.urls_inbound"),
]

RATE = 200  # events per second
PER_POST = 10  # HubSpot batches events into one POST
DUPLICATED = 0.20
UPDATES_PER_CONTACT = 4


def test_duplicated_shuffled_webhooks_take_effect_once_and_the_newest_value_wins(
    catalog, subaccount, sandbox_url, live_server, workers, record
):
    seconds = scaled(6, 60)
    unique = int(RATE * seconds / (1 + DUPLICATED))
    contacts = unique // UPDATES_PER_CONTACT
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", contacts, None)
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url)
    workers("hooks")
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], requested_by="chaos")
    done = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=120,
        message="the initial full sync",
    )
    assert done.status == "succeeded", done.error

    # Each contact changes several times at the provider; each change is one event.
    rng = random.Random(18)  # noqa: S311 (test data)
    events, newest = [], {}
    remote_ids = list(em.records("contacts").values_list("remote_id", flat=True))
    for step in range(UPDATES_PER_CONTACT):
        for remote_id in remote_ids:
            value = f"Title {remote_id}.{step}"
            em.touch("contacts", remote_id, {"jobtitle": value})
            newest[remote_id] = value
            events.append(
                {
                    "eventId": 10_000_000 + len(events),
                    "subscriptionType": "contact.propertyChange",
                    "objectId": int(remote_id),
                    "propertyName": "jobtitle",
                    "propertyValue": value,
                    "occurredAt": int(time.time() * 1000) + len(events),
                }
            )
    sent = events + rng.sample(events, int(len(events) * DUPLICATED))
    rng.shuffle(sent)
    batches = [sent[i : i + PER_POST] for i in range(0, len(sent), PER_POST)]
    target = f"{live_server.url}/webhooks/in/hubspot/{integration.pk}/"

    started = time.monotonic()

    def post(index: int) -> int | None:
        delay = started + index * PER_POST / RATE - time.monotonic()  # paced at RATE events/s
        if delay > 0:
            time.sleep(delay)
        try:
            return em.fire_webhooks(None, target, batches[index]).status_code
        finally:
            connection.close()  # this pool thread's own: the test database is dropped at the end

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(len(batches))))
    elapsed = time.monotonic() - started
    assert all(s == 200 for s in statuses), [s for s in statuses if s != 200][:5]

    wait_for(
        lambda: (
            InboundEvent.objects.filter(integration=integration).exclude(status="processed").count() == 0
            and InboundEvent.objects.filter(integration=integration).count() >= len(events)
        ),
        timeout=scaled(120, 400),
        interval=0.5,
        message="every event to be processed",
    )
    applied = InboundEvent.objects.filter(integration=integration)
    assert applied.count() == len(events), "an event was stored twice or lost"
    assert set(applied.values_list("event_id", flat=True)) == {str(e["eventId"]) for e in events}
    links = dict(
        EntityLink.objects.filter(integration=integration, entity="contact").values_list(
            "remote_id", "local_id"
        )
    )
    titles = dict(Contact.objects.filter(pk__in=links.values()).values_list("pk", "job_title"))
    stale = [rid for rid, value in newest.items() if titles.get(links.get(rid)) != value]
    assert not stale, f"{len(stale)} contacts do not show their newest value, e.g. {stale[:5]}"
    assert Contact.objects.filter(subaccount=subaccount).count() == contacts
    record(
        "duplicated + shuffled inbound webhooks (HubSpot)",
        events=f"{len(sent)} sent in {elapsed:.0f} s ({len(sent) / elapsed:.0f}/s), {len(events)} unique",
        lost=0,
        duplicated=0,
        notes=f"{len(sent) - len(events)} duplicates dropped; {contacts} contacts show their newest value",
    )
