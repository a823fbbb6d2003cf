"""Two workers and beat racing one integration on 1-second delta schedules while its contacts
change at the provider (2 minutes; 8 s in the short form): exactly one run at a time, every change
applied, none twice."""

from __future__ import annotations

import random
import time

import pytest
from django_celery_beat.models import PeriodicTask

from connectors.registry import emulator_module
from integrations.models import Integration
from sync.models import Contact, EntityLink, SyncRun
from sync.tasks import sync_run_execute_task
from tests.chaos.conftest import scaled
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

CONTACTS = 200
CHANGE_EVERY = 0.25  # seconds


def test_beat_and_two_workers_run_one_sync_at_a_time_and_apply_every_change(
    catalog, subaccount, sandbox_url, workers, beat, record
):
    seconds = scaled(8, 120)
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", CONTACTS, None)
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="inbound")
    Integration.objects.filter(pk=integration.pk).update(sync_interval_minutes=0)  # due every tick
    workers("one"), workers("two")
    beat(extra={"sync.dispatch_due": 1})  # a delta sync asked for every second

    rng = random.Random(2)  # noqa: S311 (test data)
    remote_ids = list(em.records("contacts").values_list("remote_id", flat=True))
    newest: dict[str, str] = {}
    changes, resent, seen = 0, 0, set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        remote_id = rng.choice(remote_ids)
        value = f"Change {changes}"
        em.touch("contacts", remote_id, {"jobtitle": value})
        newest[remote_id], changes = value, changes + 1
        for run_id in (
            SyncRun.objects.filter(integration=integration).exclude(pk__in=seen).values_list("pk", flat=True)
        ):
            sync_run_execute_task.delay(run_id)  # a duplicate delivery: both workers hold the run
            seen.add(run_id)
            resent += 1
        time.sleep(CHANGE_EVERY)

    links = dict(
        EntityLink.objects.filter(integration=integration, entity="contact").values_list(
            "remote_id", "local_id"
        )
    )

    def all_applied() -> bool:
        titles = dict(Contact.objects.filter(pk__in=links.values()).values_list("pk", "job_title"))
        return all(titles.get(links.get(rid)) == value for rid, value in newest.items())

    wait_for(all_applied, timeout=60, interval=0.5, message="every change to be pulled")
    PeriodicTask.objects.update(enabled=False)
    wait_for(
        lambda: not SyncRun.objects.filter(integration=integration, status__in=SyncRun.ACTIVE).exists(),
        timeout=60,
        message="the last run to end",
    )

    ran = list(
        SyncRun.objects.filter(integration=integration, started_at__isnull=False)
        .order_by("started_at")
        .values_list("pk", "started_at", "finished_at", "status", "updated")
    )
    overlaps = [(a[0], b[0]) for a, b in zip(ran, ran[1:], strict=False) if b[1] < a[2]]
    assert not overlaps, f"runs overlapped: {overlaps[:5]}"
    assert all(r[3] == "succeeded" for r in ran), [r for r in ran if r[3] != "succeeded"][:5]
    assert len(ran) >= seconds // 4, f"only {len(ran)} runs in {seconds} s"
    assert sum(r[4] for r in ran) <= changes, "a change was applied more than once"
    assert Contact.objects.filter(subaccount=subaccount).count() == CONTACTS
    assert EntityLink.objects.filter(integration=integration).count() == CONTACTS
    record(
        "two workers + beat, 1-second delta schedules (HubSpot)",
        events=f"{changes} changes in {seconds} s, {len(ran)} runs",
        lost=0,
        duplicated=0,
        notes=f"0 overlapping runs; {resent} run tasks delivered twice; every newest value applied",
    )
