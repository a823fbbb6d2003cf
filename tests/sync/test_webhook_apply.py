"""Webhook events through the sync merge: fetch-on-id, inline data, out-of-order and repeated events."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.base import RemoteRecord, WebhookEvent
from connectors.registry import emulator_module
from sync.models import Change, Contact, EntityLink
from sync.webhook_apply import apply_webhook_events
from tests.sync.test_engine import run_sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot(integration_for):
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 3, None)
    integration = integration_for("hubspot")
    run_sync(integration, "full")
    return integration


def event(remote_id: str, action: str = "updated", *, at=None, record=None, n: int = 1) -> WebhookEvent:
    return WebhookEvent(
        event_id=f"e{n}",
        entity="contact",
        remote_id=remote_id,
        action=action,
        occurred_at=at or timezone.now(),
        record=record,
    )


def test_an_id_only_event_fetches_the_record_and_applies_it_once(hubspot):
    link = EntityLink.objects.filter(integration=hubspot).first()
    emulator_module("hubspot").emulator.touch("contacts", link.remote_id, {"jobtitle": "CFO"})
    outcome = apply_webhook_events(integration=hubspot, events=[event(link.remote_id)])
    assert outcome.updated == 1 and Contact.objects.get(pk=link.local_id).job_title == "CFO"
    changes = Change.objects.count()
    again = apply_webhook_events(
        integration=hubspot, events=[event(link.remote_id), event(link.remote_id, n=2)]
    )
    assert again.updated == 0 and Change.objects.count() == changes


def test_an_older_state_arriving_late_never_overwrites_a_newer_one(hubspot):
    link = EntityLink.objects.filter(integration=hubspot).first()
    now = timezone.now()
    newer = RemoteRecord(id=link.remote_id, modified_at=now, fields={"firstname": "Newest"})
    older = RemoteRecord(
        id=link.remote_id, modified_at=now - timedelta(minutes=5), fields={"firstname": "Stale"}
    )
    apply_webhook_events(integration=hubspot, events=[event(link.remote_id, record=newer, at=now)])
    apply_webhook_events(
        integration=hubspot, events=[event(link.remote_id, record=older, at=now - timedelta(minutes=5))]
    )
    assert Contact.objects.get(pk=link.local_id).first_name == "Newest"


def test_a_deletion_event_archives_the_local_record(hubspot):
    link = EntityLink.objects.filter(integration=hubspot).first()
    apply_webhook_events(integration=hubspot, events=[event(link.remote_id, "deleted")])
    assert Contact.objects.get(pk=link.local_id).is_deleted


def test_an_outbound_only_integration_ignores_inbound_events(hubspot):
    hubspot.direction = "outbound"
    hubspot.save()
    link = EntityLink.objects.filter(integration=hubspot).first()
    outcome = apply_webhook_events(integration=hubspot, events=[event(link.remote_id, "deleted")])
    assert outcome.unchanged == 1 and not Contact.objects.get(pk=link.local_id).is_deleted


def test_an_unlinked_record_waits_while_creates_of_ours_are_unsettled(hubspot, subaccount):
    """A webhook about a record our crashed push may have created must not import it as new."""
    from sync.models import CreateIntent

    local = Contact.objects.create(subaccount=subaccount, first_name="Solo", last_name="Nameonly")
    CreateIntent.objects.create(
        integration=hubspot, entity="contact", local_id=local.pk, payload={}, created_at=timezone.now()
    )
    em = emulator_module("hubspot").emulator
    em.seed("contacts", 1, None)
    linked = set(EntityLink.objects.filter(integration=hubspot).values_list("remote_id", flat=True))
    new_id = next(r.remote_id for r in em.records("contacts") if r.remote_id not in linked)
    contacts = Contact.objects.count()

    deferred = apply_webhook_events(integration=hubspot, events=[event(new_id, "created")])

    assert deferred.unchanged == 1 and deferred.created == 0 and Contact.objects.count() == contacts
    CreateIntent.objects.all().delete()  # settled: the same event now imports it
    assert apply_webhook_events(integration=hubspot, events=[event(new_id, "created")]).created == 1
