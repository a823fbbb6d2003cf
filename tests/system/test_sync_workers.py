"""Kill -9 a worker in the middle of a full sync; race two workers on one integration."""

from __future__ import annotations

import pytest
from django.db.models import Count

from connectors.registry import emulator_module
from sync.models import Contact, EntityLink, SyncRun
from sync.runs import sync_run_request
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]
RECORDS = 2400


@pytest.fixture
def hubspot(catalog, subaccount, sandbox_url):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", RECORDS, None)
    return sandbox_integration(subaccount, "hubspot", sandbox_url, direction="inbound")


def assert_exactly_once(integration, subaccount) -> None:
    assert Contact.objects.filter(subaccount=subaccount).count() == RECORDS
    links = EntityLink.objects.filter(integration=integration, entity="contact")
    assert links.count() == RECORDS
    assert not links.values("remote_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not links.values("local_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert (
        not Contact.objects.filter(subaccount=subaccount)
        .values("email")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )


def test_a_worker_killed_mid_sync_is_resumed_by_another_with_nothing_lost_or_duplicated(
    hubspot, subaccount, workers, sandbox_url
):
    emulator_module("hubspot").emulator.state()  # slow the provider so the kill lands mid-sync
    from connectors.sandbox.models import SandboxState

    SandboxState.objects.filter(provider="hubspot").update(latency_ms=150)
    first = workers("first")
    run = sync_run_request(integration=hubspot, kind="full", entities=["contact"], requested_by="test")

    wait_for(lambda: SyncRun.objects.get(pk=run.pk).processed >= 400, timeout=60, message="the first pages")
    first.kill9()
    processed_at_kill = SyncRun.objects.get(pk=run.pk).processed
    assert processed_at_kill < RECORDS, "the sync finished before the kill: slow the emulator down"
    SandboxState.objects.filter(provider="hubspot").update(latency_ms=0)

    workers("second")
    finished = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=120,
        message="the resumed run to finish",
    )

    assert finished.status == "succeeded", finished.error
    assert_exactly_once(hubspot, subaccount)


def test_two_workers_asked_to_sync_one_integration_at_once_run_it_exactly_once(hubspot, subaccount, workers):
    from connectors.sandbox.models import SandboxState
    from sync.tasks import sync_run_execute_task

    SandboxState.objects.filter(provider="hubspot").update(latency_ms=30)
    workers("one"), workers("two")
    # Two runs created as if two requests raced past the busy check at the same instant.
    runs = [
        SyncRun.objects.create(subaccount=subaccount, integration=hubspot, kind="full", entities=["contact"])
        for _ in range(2)
    ]
    for run in runs:
        sync_run_execute_task.delay(run.pk)

    done = wait_for(
        lambda: (
            list(
                SyncRun.objects.filter(
                    pk__in=[r.pk for r in runs], status__in=["succeeded", "partial", "failed"]
                )
            )
            if SyncRun.objects.filter(pk__in=[r.pk for r in runs], status__in=SyncRun.ACTIVE).count() == 0
            else None
        ),
        timeout=120,
        message="both runs to end",
    )

    statuses = sorted(r.status for r in done)
    assert statuses == ["failed", "succeeded"]
    loser = next(r for r in done if r.status == "failed")
    assert "another sync" in loser.error and loser.processed == 0
    assert_exactly_once(hubspot, subaccount)


def test_a_worker_killed_right_after_the_provider_created_a_batch_leaves_no_duplicate(
    catalog, subaccount, sandbox_url, workers
):
    """The crash window of a push: the provider has the records, we have no links yet."""
    from sync.services import records_bulk_upsert

    em = emulator_module("hubspot").emulator
    em.reset()
    records = [  # one in ten with a name only: nothing to find it by but its values
        {"first_name": f"Solo{i}", "last_name": "Nameonly"}
        if i % 10 == 0
        else {"first_name": f"Ana{i}", "email": f"ana{i}@example.com"}
        for i in range(500)
    ]
    records_bulk_upsert(subaccount=subaccount, entity="contact", records=records, origin="api")
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="bidirectional")
    first = workers("first", env={"SYNC_FAILPOINTS": "push.after_create=exit@3"})  # dies after batch 3
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], requested_by="test")

    wait_for(lambda: first.proc.poll() is not None, timeout=60, message="the worker to die after batch 3")
    assert em.records("contacts").count() == 300 and EntityLink.objects.count() == 200
    workers("second")
    finished = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=180,  # the task is redelivered once Redis' visibility timeout is noticed
        message="the resumed run to finish",
    )

    assert finished.status == "succeeded", finished.error
    assert em.records("contacts").filter(archived=False).count() == 500
    assert Contact.objects.filter(subaccount=subaccount).count() == 500
    links = EntityLink.objects.filter(integration=integration, entity="contact")
    assert links.count() == 500
    assert not links.values("remote_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert finished.pushed == 500
