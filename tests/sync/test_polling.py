"""Polling what a provider would push by webhook, while the integration receives none: from the
cursor, at most once per interval, never while a run holds the integration, and no run log rows."""

import pytest
from django.core.cache import cache

from connectors.registry import connector_class, emulator_module
from sync.lease import lease_acquire, lease_release
from sync.models import Contact, SyncCursor, SyncRun
from sync.polling import poll_due, polled_entities

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def polling_hubspot(integration_for, monkeypatch):
    """HubSpot as if it were a provider whose contacts come by webhook, with webhooks off."""
    cls = connector_class("hubspot")
    monkeypatch.setattr(cls, "poll_seconds", {"contact": 30})
    monkeypatch.setattr(cls, "receives_webhooks", classmethod(lambda c, config: False))
    emulator_module("hubspot").emulator.reset()
    cache.clear()
    yield integration_for("hubspot")
    cache.clear()


def test_a_due_integration_is_polled_from_its_cursor_without_a_run(polling_hubspot, subaccount):
    emulator_module("hubspot").emulator.seed("contacts", 3, None)
    assert poll_due() == {polling_hubspot.pk: 3}
    assert Contact.objects.filter(subaccount=subaccount).count() == 3
    assert SyncCursor.objects.filter(integration=polling_hubspot, entity="contact", kind="pull").exists()
    assert not SyncRun.objects.filter(integration=polling_hubspot).exists()
    emulator_module("hubspot").emulator.seed("contacts", 2, None)
    assert poll_due() == {}  # not due again within its interval
    cache.clear()
    assert poll_due()[polling_hubspot.pk] >= 2  # from the cursor: the new ones (and an overlap)
    assert Contact.objects.filter(subaccount=subaccount).count() == 5


def test_no_poll_while_a_run_holds_the_integration(polling_hubspot, subaccount):
    emulator_module("hubspot").emulator.seed("contacts", 2, None)
    assert lease_acquire(integration_id=polling_hubspot.pk, owner="run-1")
    try:
        assert poll_due() == {polling_hubspot.pk: 0}
    finally:
        lease_release(integration_id=polling_hubspot.pk, owner="run-1")
    assert Contact.objects.filter(subaccount=subaccount).count() == 0


def test_an_integration_receiving_webhooks_is_not_polled(integration_for, monkeypatch):
    monkeypatch.setattr(connector_class("hubspot"), "poll_seconds", {"contact": 30})
    assert polled_entities(integration_for("hubspot")) == {}  # HubSpot takes webhooks
