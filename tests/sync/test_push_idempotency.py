"""No duplicate on either side after a provider outage or a crash in the middle of a push.

Fifty new local contacts (one in ten with a name only: nothing to match it by but its values) are
pushed in five batches of ten, over real HTTP to each emulator. Faults are injected, never timed:
the emulator's ``fault_rule`` fails chosen create requests (after doing the write, as a proxy
that times out on a slow write does), and the engine's ``push.after_create`` failpoint stops the
run between the provider's answer and our commit, as a killed worker would.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Count

from connectors.base import TransientError
from connectors.registry import connector_class, emulator_module
from sync import failpoints
from sync.failpoints import FailpointError
from sync.models import Contact, CreateIntent, EntityLink, SyncRun
from sync.runs import sync_run_execute, sync_run_request
from sync.services import records_bulk_upsert
from tests.connectors.test_contract import control
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)

REMOTE_CONTACTS = {"hubspot": "contacts", "salesforce": "Contact"}
CREATE_PATH = {"hubspot": "/batch/create", "salesforce": "/composite/sobjects"}
RECORDS, BATCH = 50, 10


@pytest.fixture(params=["hubspot", "salesforce"])
def provider(request, monkeypatch) -> str:
    emulator_module(request.param).emulator.reset()
    monkeypatch.setattr(connector_class(request.param), "batch_size", BATCH)  # five batches
    monkeypatch.setattr(failpoints, "_hits", Counter())
    return request.param


@pytest.fixture
def integration(provider, catalog, subaccount, sandbox_url):
    records = [  # a tenth with a name only, one in each batch
        {"first_name": f"Solo{i}", "last_name": "Nameonly"}
        if i % BATCH == 0
        else {"first_name": f"Ana{i}", "last_name": "Lima", "email": f"ana{i}@example.com"}
        for i in range(RECORDS)
    ]
    records_bulk_upsert(subaccount=subaccount, entity="contact", records=records, origin="api")
    return sandbox_integration(subaccount, provider, sandbox_url, direction="bidirectional")


def run_until_done(run: SyncRun, *, attempts: int = 10) -> tuple[SyncRun, int]:
    """Execute the run as Celery would: again after each transient failure. Returns (run, failures)."""
    for failures in range(attempts):
        try:
            return sync_run_execute(run_id=run.pk), failures
        except (TransientError, FailpointError):
            continue
    raise AssertionError(f"the run did not finish in {attempts} attempts")


def assert_each_record_once(provider: str, integration, subaccount) -> None:
    remote = emulator_module(provider).emulator.records(REMOTE_CONTACTS[provider]).filter(archived=False)
    assert remote.count() == RECORDS, "a record was created twice (or not at all) at the provider"
    assert Contact.objects.filter(subaccount=subaccount).count() == RECORDS, "a pull imported our own create"
    links = EntityLink.objects.filter(integration=integration, entity="contact")
    assert links.count() == RECORDS
    assert not links.values("remote_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(links.values_list("remote_id", flat=True)) == set(remote.values_list("remote_id", flat=True))
    assert not CreateIntent.objects.filter(integration=integration).exists()


def test_an_outage_after_two_batches_leaves_no_duplicate_and_an_honest_count(
    provider, integration, subaccount, sandbox_url
):
    # Batches 1-2 land; then every create is written by the provider but answered 503.
    rule = {
        "path_contains": CREATE_PATH[provider],
        "skip": 2,
        "count": 12,
        "status": 503,
        "after_write": True,
    }
    control(sandbox_url, provider, "faults", {"rule": rule})
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    run, failures = run_until_done(run)

    assert failures == 3  # batches 3, 4 and 5 each failed once and were found on the next attempt
    assert run.status == "succeeded", run.error
    assert run.pushed == RECORDS and run.failed == 0
    assert_each_record_once(provider, integration, subaccount)


def test_a_503_before_the_write_is_created_again_exactly_once(provider, integration, subaccount, sandbox_url):
    rule = {"path_contains": CREATE_PATH[provider], "skip": 2, "count": 1, "status": 503}
    control(sandbox_url, provider, "faults", {"rule": rule})
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    run, failures = run_until_done(run)

    assert failures == 1 and run.status == "succeeded", run.error
    assert run.pushed == RECORDS
    assert_each_record_once(provider, integration, subaccount)


def test_a_crash_between_the_create_and_our_commit_is_linked_not_recreated(
    provider, integration, subaccount, settings
):
    settings.SYNC_FAILPOINTS = "push.after_create=raise@3"  # batch 3 is created, its links never stored
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    with pytest.raises(FailpointError):
        sync_run_execute(run_id=run.pk)
    assert CreateIntent.objects.filter(integration=integration).count() == BATCH
    assert EntityLink.objects.filter(integration=integration).count() == 2 * BATCH
    settings.SYNC_FAILPOINTS = ""
    run = sync_run_execute(run_id=run.pk)

    assert run.status == "succeeded", run.error
    assert_each_record_once(provider, integration, subaccount)


def test_a_crash_then_a_delta_run_reconciles_before_it_pulls(provider, integration, subaccount, settings):
    settings.SYNC_FAILPOINTS = "push.after_create=raise@1"
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    with pytest.raises(FailpointError):
        sync_run_execute(run_id=run.pk)
    SyncRun.objects.filter(pk=run.pk).update(status="failed")  # abandoned: a new run must clean up
    settings.SYNC_FAILPOINTS = ""

    # The next scheduled run pulls first: our unlinked creates must not come back as new contacts.
    delta = sync_run_request(integration=integration, kind="delta", entities=["contact"], enqueue=False)
    delta = sync_run_execute(run_id=delta.pk)
    full = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    full = sync_run_execute(run_id=full.pk)

    assert (delta.status, full.status) == ("succeeded", "succeeded"), (delta.error, full.error)
    assert_each_record_once(provider, integration, subaccount)
