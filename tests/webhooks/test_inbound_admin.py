"""The inbound webhook admin: tenant scoping, refused deliveries counted, status filter, replay (bulk and one)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.urls import reverse

from integrations.kick import kick_reset
from integrations.models import Membership
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from webhooks.inbound.services import KICK_KEY
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundDelivery, InboundEvent

pytestmark = [pytest.mark.urls("tests.webhooks.urls_inbound"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def kicks(monkeypatch):
    sent: list[dict] = []

    def apply_async(**options) -> None:
        assert not connection.in_atomic_block
        sent.append(options)

    kick_reset(KICK_KEY)
    monkeypatch.setattr(inbound_drain_task, "apply_async", apply_async)
    yield sent
    kick_reset(KICK_KEY)


def staff(subaccount, *codenames: str, username: str = "operator") -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="webhooks", codename__in=codenames)
    )
    Membership.objects.create(user=user, subaccount=subaccount)
    return user


def delivery_for(integration, outcome="accepted", **fields) -> InboundDelivery:
    return InboundDelivery.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        provider="hubspot",
        outcome=outcome,
        verified=outcome == "accepted",
        **fields,
    )


def event_for(delivery, event_id: str, status: str = "processed", **fields) -> InboundEvent:
    return InboundEvent.objects.create(
        subaccount=delivery.subaccount,
        integration=delivery.integration,
        delivery=delivery,
        provider=delivery.provider,
        event_id=event_id,
        event_type="contact.updated",
        entity="contact",
        remote_id=f"r-{event_id}",
        action="updated",
        status=status,
        **fields,
    )


@pytest.fixture
def data(subaccount, other_subaccount):
    template = IntegrationTemplateFactory(key="hubspot")
    mine = IntegrationFactory(subaccount=subaccount, template=template, name="Acme HubSpot", status="active")
    theirs = IntegrationFactory(
        subaccount=other_subaccount, template=template, name="Globex HubSpot", status="active"
    )
    accepted = delivery_for(mine)
    for _ in range(3):
        delivery_for(mine, "rejected", reason="signature mismatch")
    delivery_for(theirs, "rejected", reason="signature mismatch")
    return {
        "mine": mine,
        "theirs": theirs,
        "failed": event_for(accepted, "e-failed", "failed", attempts=2, error="HubSpot answered 503"),
        "dead": event_for(accepted, "e-dead", "dead", attempts=5, error="retries exhausted"),
        "done": event_for(accepted, "e-done", "processed", attempts=1),
        "other": event_for(delivery_for(theirs), "e-other", "failed", attempts=1),
    }


def test_events_are_scoped_to_the_staff_users_subaccounts_and_filter_by_status(client, subaccount, data):
    client.force_login(staff(subaccount, "view_inboundevent"))
    url = reverse("admin:webhooks_inboundevent_changelist")

    everything = client.get(url).content.decode()
    failed_only = client.get(url, {"status__exact": "failed"}).content.decode()

    assert all(f"r-e-{n}" in everything for n in ("failed", "dead", "done"))
    assert "r-e-other" not in everything
    assert "r-e-failed" in failed_only and "r-e-dead" not in failed_only and "r-e-other" not in failed_only
    other = client.get(reverse("admin:webhooks_inboundevent_change", args=[data["other"].pk]))
    assert other.status_code in (302, 404)  # another tenant's event does not exist for this user


def test_refused_deliveries_are_listed_and_counted_per_integration(client, subaccount, data):
    client.force_login(staff(subaccount, "view_inbounddelivery"))
    page = client.get(reverse("admin:webhooks_inbounddelivery_changelist"), {"outcome__exact": "rejected"})

    assert page.status_code == 200
    refused = page.context["refused_by_integration"]
    assert refused == [
        {
            "integration_id": data["mine"].pk,
            "integration__name": "Acme HubSpot",
            "outcome": "rejected",
            "n": 3,
        }
    ]
    assert page.context["cl"].result_count == 3 and "Globex" not in page.content.decode()


def test_a_delivery_page_never_renders_credential_headers(client, subaccount, data):
    leaked = delivery_for(
        data["mine"], headers={"Content-Type": "application/json", "X-HubSpot-Signature-v3": "c2lnbmF0dXJl"}
    )
    client.force_login(staff(subaccount, "view_inbounddelivery"))
    page = client.get(reverse("admin:webhooks_inbounddelivery_change", args=[leaked.pk])).content.decode()
    assert "application/json" in page
    assert "c2lnbmF0dXJl" not in page and "Signature" not in page


def test_bulk_replay_requeues_the_selected_events_of_this_tenant_only(client, subaccount, data, kicks):
    client.force_login(staff(subaccount, "view_inboundevent", "change_inboundevent"))
    selected = [data["failed"].pk, data["dead"].pk, data["other"].pk]
    response = client.post(
        reverse("admin:webhooks_inboundevent_changelist"),
        {"action": "replay", "_selected_action": selected},
    )

    assert response.status_code == 302
    statuses = dict(InboundEvent.objects.values_list("event_id", "status"))
    assert statuses == {
        "e-failed": "pending",
        "e-dead": "pending",
        "e-done": "processed",
        "e-other": "failed",
    }
    assert set(InboundEvent.objects.filter(status="pending").values_list("attempts", flat=True)) == {0}
    assert len(kicks) == 1  # one drain run takes them all


def test_the_replay_button_requeues_one_event_and_needs_the_permission(client, subaccount, data, kicks):
    user = staff(subaccount, "view_inboundevent")
    client.force_login(user)
    url = reverse("admin:webhooks_inboundevent_replay", args=[data["done"].pk])
    page = client.get(reverse("admin:webhooks_inboundevent_change", args=[data["done"].pk])).content.decode()
    assert "replay-event" not in page
    assert client.post(url).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="change_inboundevent"))
    user = User.objects.get(pk=user.pk)  # drop the permission cache
    client.force_login(user)
    page = client.get(reverse("admin:webhooks_inboundevent_change", args=[data["done"].pk])).content.decode()
    assert "replay-event" in page
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert InboundEvent.objects.get(pk=data["done"].pk).status == "pending"
    assert len(kicks) == 1
    other = reverse("admin:webhooks_inboundevent_replay", args=[data["other"].pk])
    assert client.post(other).status_code == 404
    assert InboundEvent.objects.get(pk=data["other"].pk).status == "failed"


def test_failed_deliveries_are_read_again_for_this_tenant_only_with_the_permission(
    client, subaccount, data, kicks
):
    unreadable = {"parse_status": "failed", "reason": "the body cannot be read: not an array"}
    mine, theirs = delivery_for(data["mine"], **unreadable), delivery_for(data["theirs"], **unreadable)
    url = reverse("admin:webhooks_inbounddelivery_changelist")
    client.force_login(staff(subaccount, "view_inbounddelivery"))
    listed = client.get(url, {"parse_status__exact": "failed"}).content.decode()
    assert "not an array" in listed and 'value="read_again"' not in listed  # view only: no action

    client.force_login(staff(subaccount, "view_inbounddelivery", "change_inbounddelivery", username="editor"))
    assert 'value="read_again"' in client.get(url).content.decode()
    response = client.post(url, {"action": "read_again", "_selected_action": [mine.pk, theirs.pk]})

    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.parse_status, mine.reason) == ("pending", "")
    assert theirs.parse_status == "failed"  # another tenant's row is not in the staff user's queryset
    assert len(kicks) == 1
