"""kill -9 a worker in the middle of a full sync: the run resumes from its cursor within the lease
TTL + 30 s (beat's 15-second sync.recover_stale_runs re-sends it), nothing lost or duplicated."""

from __future__ import annotations

import time

import pytest

from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxState
from sync.models import SyncRun
from sync.runs import sync_run_request
from tests.chaos.conftest import assert_contacts_match, scaled
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

# 15 s as in production; the short form 6 s (the system tests use 4): the same recovery, sooner.
LEASE_TTL = scaled(6, 15)
# Redis redelivers a dead worker's unacknowledged task only after this: long, as in production,
# so what resumes the run is beat's recovery, the promise under test.
VISIBILITY = 3600
ENV = {"SYNC_LEASE_TTL_SECONDS": str(LEASE_TTL), "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY)}


def test_a_killed_workers_full_sync_resumes_within_the_lease_ttl_plus_30_s(
    catalog, subaccount, sandbox_url, workers, beat, record
):
    records = scaled(3_000, 20_000)
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", records, None)
    em.state()
    SandboxState.objects.filter(provider="hubspot").update(latency_ms=40)  # the kill lands mid-sync
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="inbound")
    beat("Resume runs whose worker stopped", env=ENV)
    first = workers("first", env=ENV)
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], requested_by="chaos")

    wait_for(
        lambda: SyncRun.objects.get(pk=run.pk).processed >= records // 4,
        timeout=180,
        interval=0.05,
        message="a quarter of the records",
    )
    first.kill9()
    killed_at = time.monotonic()
    at_kill = SyncRun.objects.get(pk=run.pk).processed
    assert at_kill < records, "the sync finished before the kill"
    workers("second", env=ENV)

    wait_for(
        lambda: SyncRun.objects.get(pk=run.pk).processed > at_kill,
        timeout=LEASE_TTL + 60,
        interval=0.2,
        message="the run to move again",
    )
    recovered = time.monotonic() - killed_at
    finished = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(),
        timeout=600,
        message="the resumed run to finish",
    )

    assert finished.status == "succeeded", finished.error
    assert recovered <= LEASE_TTL + 30, f"resumed {recovered:.1f} s after the kill"
    counts = assert_contacts_match(integration, subaccount, expected=records)
    record(
        "kill -9 a worker mid full sync (HubSpot)",
        events=f"{records} records",
        kills=1,
        recover_seconds=recovered,
        notes=f"killed at {at_kill} processed; lease TTL {LEASE_TTL} s, beat recovery every 15 s",
        **counts,
    )
