"""Local changes reach the other integrations within seconds: the feed asks only the integrations
with unsent changes of others (no echo) for a push-only run (the Change log out, nothing pulled),
asked again while another run of the integration is busy."""

import pytest
from django.db import transaction
from django.utils import timezone

from connectors.registry import emulator_module
from integrations.models import Integration
from sync import push_feed, tasks
from sync.engine import origin_of
from sync.models import Change, Contact, EntityLink, SyncCursor, SyncRun
from sync.runs import sync_run_execute
from sync.services import change_log_lock, change_record
from tests.sync.helpers import run_to_success

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot(integration_for):
    emulator_module("hubspot").emulator.reset()
    return integration_for("hubspot")


def test_the_push_after_enrichment_pushes_and_pulls_nothing(hubspot, subaccount):
    run_to_success(hubspot, "full")
    emulator_module("hubspot").emulator.seed("contacts", 3, None)  # new at HubSpot: not ours to pull now
    with transaction.atomic():
        change_log_lock(subaccount_id=subaccount.pk)
        ana = Contact.objects.create(subaccount=subaccount, email="ana@acme.com")
        change_record(record=ana, op="create", fields=["email"], origin="api_key:test")
    assert tasks.push_task(hubspot.pk, "enrichment").startswith("run ")
    run = SyncRun.objects.latest("pk")
    assert (run.direction, run.requested_by) == ("outbound", "enrichment")
    sync_run_execute(run_id=run.pk)
    assert EntityLink.objects.filter(integration=hubspot, entity="contact", local_id=ana.pk).exists()
    assert Contact.objects.filter(subaccount=subaccount).count() == 1  # nothing pulled


def test_a_busy_integration_is_asked_again_shortly(hubspot, monkeypatch):
    asked = []
    monkeypatch.setattr(tasks, "push_kick", lambda pk, *, window, requested_by: asked.append((pk, window)))
    SyncRun.objects.create(
        subaccount=hubspot.subaccount,
        integration=hubspot,
        kind="delta",
        status="running",
        direction="bidirectional",
    )
    assert tasks.push_task(hubspot.pk) == "busy: asked again"
    assert asked == [(hubspot.pk, tasks.PUSH_RETRY_EVERY)]


def _change(subaccount, *, origin: str, email: str) -> Contact:
    with transaction.atomic():
        change_log_lock(subaccount_id=subaccount.pk)
        contact = Contact.objects.create(subaccount=subaccount, email=email)
        change_record(record=contact, op="create", fields=["email"], origin=origin)
    return contact


def test_the_feed_asks_only_integrations_with_changes_of_others(integration_for, subaccount, monkeypatch):
    asked = []
    monkeypatch.setattr(push_feed, "push_kick", lambda pk: asked.append(pk))
    hubspot, salesforce = integration_for("hubspot"), integration_for("salesforce")
    _change(subaccount, origin="api_key:test", email="before@acme.com")
    assert push_feed.feed_run(subaccount.pk) == []  # neither has had its first (full) run yet
    Integration.objects.filter(pk__in=[hubspot.pk, salesforce.pk]).update(last_sync_at=timezone.now())
    for integration in (hubspot, salesforce):
        SyncCursor.objects.create(
            integration=integration, entity="*", kind="push", position=str(Change.objects.latest("seq").seq)
        )
    assert push_feed.feed_run(subaccount.pk) == []  # nothing new since
    _change(subaccount, origin=origin_of(hubspot), email="from-hubspot@acme.com")
    assert push_feed.feed_run(subaccount.pk) == [salesforce.pk]  # not back to where it came from
    _change(subaccount, origin="api_key:test", email="from-api@acme.com")
    assert sorted(push_feed.feed_run(subaccount.pk)) == sorted([hubspot.pk, salesforce.pk])
    assert asked[0] == salesforce.pk


def test_a_committed_change_kicks_the_feed_once_per_window(subaccount, monkeypatch, settings):
    kicked = []
    monkeypatch.setattr(
        push_feed, "kick", lambda task, *, key, window, args: kicked.append((task.name, key, args))
    )
    with transaction.atomic():
        for n in range(3):
            _change(subaccount, origin="api_key:test", email=f"x{n}@acme.com")
        assert kicked == []  # only after commit
    assert kicked and all(
        k == (push_feed.FEED_TASK, f"push-feed:{subaccount.pk}", (subaccount.pk,)) for k in kicked
    )
    settings.SYNC_PUSH_ON_CHANGE = False
    kicked.clear()
    _change(subaccount, origin="api_key:test", email="off@acme.com")
    assert kicked == []
