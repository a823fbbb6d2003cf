"""Provider chaos during a two-way full sync: 10 % 5xx (each followed by a burst of 429s), more
429 bursts, 2-second stalls, truncated JSON answers, and an outage of a dozen consecutive 5xx in
the middle of the push; a tenth of the pushed records carry no e-mail or phone. The sync completes
(or fails honestly and the next run finishes the job) with 0 failed records and 0 duplicates on
either side, and the run log shows the retries."""

from __future__ import annotations

import pytest

from connectors.registry import emulator_module
from connectors.sandbox.models import SandboxState
from sync.models import SyncRecordError, SyncRun
from sync.runs import sync_run_request
from sync.services import records_bulk_upsert
from tests.chaos.conftest import assert_contacts_match, scaled
from tests.connectors.test_contract import control
from tests.sandbox import sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

CHAOS = {
    "error_rate": 0.10,
    "burst_after_error": 3,  # a 429 burst right after a 5xx: it must not fail the run
    "ratelimit_rate": 0.03,
    "ratelimit_burst": 4,
    "stall_rate": 0.02,
    "stall_ms": 2000,
    "truncate_rate": 0.03,
}
OUTAGE = 12  # consecutive 5xx in the middle of the push
RUNS_ALLOWED = 3  # a run may fail honestly; the next one finishes the job
FINISHED = ("succeeded", "partial", "failed")


def test_a_two_way_full_sync_survives_provider_chaos(
    catalog, subaccount, sandbox_url, workers, record, tmp_path
):
    remote_count, local_count = scaled((1_000, 500), (5_000, 2_000))
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", remote_count, None)
    local = [
        {"first_name": f"Solo{i}", "last_name": "Nameonly"}  # nothing to match it by
        if i % 10 == 0
        else {"first_name": f"Ana{i}", "last_name": "Chaos", "email": f"ana{i}@chaos.example"}
        for i in range(local_count)
    ]
    for start in range(0, local_count, 1000):  # the bulk API's largest batch
        records_bulk_upsert(
            subaccount=subaccount, entity="contact", records=local[start : start + 1000], origin="api"
        )
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url, direction="bidirectional")
    # The short form waits 1 s (not 4) after a run's first error: the same retries, sooner.
    workers("w", env={"SYNC_LEASE_TTL_SECONDS": "120", **scaled({"SYNC_RETRY_BACKOFF_SECONDS": "1"}, {})})
    control(sandbox_url, "hubspot", "faults", {"chaos": CHAOS})

    runs = []
    outage_done = False
    for _ in range(RUNS_ALLOWED):
        run = sync_run_request(
            integration=integration, kind="full", entities=["contact"], requested_by="chaos"
        )
        runs.append(run.pk)
        if not outage_done:
            wait_for(
                lambda pk=run.pk: (
                    SyncRun.objects.get(pk=pk).pushed > 0 or SyncRun.objects.get(pk=pk).status in FINISHED
                ),
                timeout=600,
                message="the push to start",
            )
            control(sandbox_url, "hubspot", "faults", {"fail_status": 503, "fail_count": OUTAGE})
            outage_done = True
        finished = wait_for(
            lambda pk=run.pk: SyncRun.objects.filter(pk=pk, status__in=FINISHED).first(),
            timeout=900,
            interval=0.5,
            message="the run to finish",
        )
        if finished.status == "succeeded":
            break
    control(sandbox_url, "hubspot", "faults", {"chaos": {}, "fail_count": 0, "ratelimit_count": 0})

    assert finished.status == "succeeded", [
        (r.pk, r.status, r.error) for r in SyncRun.objects.filter(pk__in=runs)
    ]
    assert finished.failed == 0
    assert not SyncRecordError.objects.filter(integration=integration, resolved=False).exists()
    counts = assert_contacts_match(integration, subaccount, expected=remote_count + local_count)
    log = (tmp_path / "w.log").read_text()
    error_retries = log.count("after an error")
    rate_waits = log.count("rate limited: resuming") + log.count("rate limited: waiting")
    assert error_retries > 0 and rate_waits > 0, "the run log shows no retries"
    assert "gave up" not in log
    requests = SandboxState.objects.get(provider="hubspot").requests
    record(
        "provider chaos, two-way full sync (HubSpot)",
        events=f"{remote_count} pulled + {local_count} pushed, {requests} API calls",
        lost=counts["lost"],
        duplicated=counts["duplicated"],
        notes=(
            f"10 % 5xx each followed by 3×429, 3 % 429 bursts, 2 % 2-s stalls, 3 % truncated JSON, "
            f"{OUTAGE} consecutive 5xx mid-push; {len(runs)} run(s), {error_retries} error retries, "
            f"{rate_waits} rate-limit waits logged, 0 failed records"
        ),
    )
