"""The failed-record retry (sync.runs.sync_retry_failed) claims the errors it retries: rows another
retry holds are left to it, and what a retry took is let go when it is done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.registry import emulator_module
from sync.models import SyncRecordError, SyncRun
from sync.runs import sync_retry_failed
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(catalog, subaccount, sandbox_url):
    emulator_module("hubspot").emulator.reset()
    return sandbox_integration(subaccount, "hubspot", sandbox_url)


def failed_pull(integration, remote_id: str) -> SyncRecordError:
    run = SyncRun.objects.filter(integration=integration).first() or SyncRun.objects.create(
        subaccount=integration.subaccount, integration=integration, status=SyncRun.Status.PARTIAL
    )
    return SyncRecordError.objects.create(
        run=run, integration=integration, entity="contact", direction="pull", remote_id=remote_id, message="x"
    )


def test_a_retry_leaves_the_errors_another_retry_holds_and_lets_go_of_its_own(integration):
    free = failed_pull(integration, "901")
    held = failed_pull(integration, "902")
    SyncRecordError.objects.filter(pk=held.pk).update(
        claimed_by="retry-elsewhere", claimed_until=timezone.now() + timedelta(minutes=5)
    )

    run = sync_retry_failed(integration=integration)

    assert run is not None and run.kind == SyncRun.Kind.RETRY
    free.refresh_from_db()
    held.refresh_from_db()
    assert free.resolved and (free.claimed_by, free.claimed_until) == ("", None)
    assert not held.resolved and held.claimed_by == "retry-elsewhere"  # untouched: not ours
    assert sync_retry_failed(integration=integration) is None  # nothing left to claim

    SyncRecordError.objects.filter(pk=held.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert sync_retry_failed(integration=integration) is not None  # an expired claim is taken over
    held.refresh_from_db()
    assert held.resolved


def test_a_message_the_provider_cannot_fetch_by_id_stays_failed_and_counts_the_try(
    catalog, subaccount, sandbox_url
):
    emulator_module("alacarte").emulator.reset()
    chat = sandbox_integration(subaccount, "alacarte", sandbox_url)
    run = SyncRun.objects.create(subaccount=subaccount, integration=chat, status=SyncRun.Status.PARTIAL)
    error = SyncRecordError.objects.create(
        run=run, integration=chat, entity="activity", direction="pull", remote_id="msg-1", message="x"
    )
    tried = error.attempts
    retried = sync_retry_failed(integration=chat)
    assert retried is not None and retried.status == SyncRun.Status.SUCCEEDED
    error.refresh_from_db()
    assert not error.resolved and error.attempts == tried + 1 and error.claimed_by == ""
