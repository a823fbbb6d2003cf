"""The push enrichment asks for: a push-only run (the Change log out, nothing pulled), asked again
while another run of the integration is busy."""

import pytest
from django.db import transaction

from connectors.registry import emulator_module
from sync.enrichment import tasks
from sync.models import Contact, EntityLink, SyncRun
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
    assert tasks.push_task(hubspot.pk).startswith("run ")
    run = SyncRun.objects.latest("pk")
    assert (run.direction, run.requested_by) == ("outbound", "enrichment")
    sync_run_execute(run_id=run.pk)
    assert EntityLink.objects.filter(integration=hubspot, entity="contact", local_id=ana.pk).exists()
    assert Contact.objects.filter(subaccount=subaccount).count() == 1  # nothing pulled


def test_a_busy_integration_is_asked_again_shortly(hubspot, monkeypatch):
    asked = []
    monkeypatch.setattr(tasks, "push_kick", lambda pk, *, window: asked.append((pk, window)))
    SyncRun.objects.create(
        subaccount=hubspot.subaccount,
        integration=hubspot,
        kind="delta",
        status="running",
        direction="bidirectional",
    )
    assert tasks.push_task(hubspot.pk) == "busy: asked again"
    assert asked == [(hubspot.pk, tasks.PUSH_RETRY_EVERY)]
