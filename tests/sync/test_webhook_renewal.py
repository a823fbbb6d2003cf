"""The daily renewal of provider webhook subscriptions that expire (Zoho's watch channels)."""

import pytest
from django_celery_beat.models import PeriodicTask

from connectors.base import TransientError
from connectors.hubspot.connector import HubSpotConnector
from integrations.models import Integration
from sync.tasks import webhook_subscriptions_renew_task


@pytest.mark.django_db(transaction=True)
def test_each_active_subscription_is_offered_for_renewal_and_a_failure_stays_alone(
    integration_for, monkeypatch
):
    renewing, failing, paused, none = (integration_for("hubspot") for _ in range(4))
    for integration in (renewing, failing, paused):
        Integration.objects.filter(pk=integration.pk).update(
            webhook_subscription={"channel": f"c{integration.pk}", "expires": "soon"}
        )
    Integration.objects.filter(pk=paused.pk).update(status=Integration.Status.PAUSED)
    asked = []

    def renew(self, *, subscription, target_url, secret):
        asked.append((subscription["channel"], target_url))
        if subscription["channel"] == f"c{failing.pk}":
            raise TransientError("provider down")
        return {**subscription, "expires": "next week"}

    monkeypatch.setattr(HubSpotConnector, "renew_webhooks", renew)

    assert webhook_subscriptions_renew_task() == {"renewed": 1, "failed": 1}

    assert sorted(channel for channel, _ in asked) == sorted([f"c{renewing.pk}", f"c{failing.pk}"])
    assert all(url.endswith(f"/webhooks/in/hubspot/{url.split('/')[-2]}/") for _, url in asked)
    assert Integration.objects.get(pk=renewing.pk).webhook_subscription["expires"] == "next week"
    assert Integration.objects.get(pk=failing.pk).webhook_subscription["expires"] == "soon"  # kept
    assert Integration.objects.get(pk=none.pk).webhook_subscription == {}


@pytest.mark.django_db(transaction=True)
def test_a_subscription_that_does_not_expire_is_left_as_it_is(integration_for):
    integration = integration_for("hubspot")
    Integration.objects.filter(pk=integration.pk).update(webhook_subscription={"id": "x"})
    assert webhook_subscriptions_renew_task() == {"renewed": 0, "failed": 0}
    assert Integration.objects.get(pk=integration.pk).webhook_subscription == {"id": "x"}


def test_the_daily_renewal_schedule_exists(db):
    task = PeriodicTask.objects.get(name="Renew expiring webhook subscriptions")
    assert (task.task, task.interval.every, task.interval.period) == (
        "sync.webhook_subscriptions_renew",
        1,
        "days",
    )
