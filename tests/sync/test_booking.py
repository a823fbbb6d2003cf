"""Booking a contact's appointment, over GoHighLevel's emulator: the service (a contact not synced
is refused clearly, a taken slot is slot_taken, the appointment stored once even when the
AppointmentCreate webhook arrives too), the API routes (201, JSON errors, tenancy) and the contact
page's booking panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from connectors.base import WebhookEvent
from connectors.registry import emulator_module
from integrations.models import Integration, Membership
from sync import booking
from sync.models import Activity, EntityLink
from sync.polling import poll
from sync.services import record_create
from sync.single import record_sync_now
from sync.webhook_apply import apply_webhook_events
from tests.sync.test_records_api import api_for

pytestmark = pytest.mark.django_db(transaction=True)
API = "api_key:test"
CALENDAR_ID = "BqTwX8QFwXzpegMve9EQ"  # the emulator's calendar


def next_monday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=7 - today.weekday())


@pytest.fixture
def calendar(integration_for) -> Integration:
    em = emulator_module("gohighlevel").emulator
    em.reset()
    yield integration_for("gohighlevel", settings={"calendarId": CALENDAR_ID})
    em.reset()


def _contact(subaccount, n: int = 1):
    return record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"first_name": f"Ana{n}", "last_name": "Lee", "email": f"ana{n}@acme.com"},
        origin=API,
    )


@pytest.fixture
def ana(subaccount, calendar):
    contact = _contact(subaccount)
    record_sync_now(integration=calendar, entity="contact", local_id=contact.pk, actor="test")
    assert EntityLink.objects.filter(integration=calendar, entity="contact", local_id=contact.pk).exists()
    return contact


def _meetings(subaccount) -> list[Activity]:
    return list(Activity.objects.filter(subaccount=subaccount, kind="meeting", is_deleted=False))


def test_booking_stores_the_meeting_once_even_when_its_webhook_and_a_poll_arrive(calendar, ana, subaccount):
    monday = next_monday()
    integration, slots = booking.free_slots(
        contact=ana, start=monday, end=monday + timedelta(days=1), now=timezone.now()
    )
    assert integration == calendar and len(slots) == 16
    meeting = booking.appointment_book(contact=ana, start=slots[0].start, title="Intro call", notes="quote")
    assert (meeting.kind, meeting.subject, meeting.contact_id) == ("meeting", "Intro call", ana.pk)
    assert meeting.occurred_at == slots[0].start
    link = EntityLink.objects.get(integration=calendar, entity="activity", local_id=meeting.pk)
    event = WebhookEvent(
        event_id="gohighlevel:w-1",
        entity="activity",
        remote_id=link.remote_id,
        action="created",
        occurred_at=None,
        record=None,
    )
    apply_webhook_events(integration=calendar, events=[event])
    poll(calendar, ["activity"])
    assert [m.pk for m in _meetings(subaccount)] == [meeting.pk]
    _, after = booking.free_slots(
        contact=ana, start=monday, end=monday + timedelta(days=1), now=timezone.now()
    )
    assert slots[0] not in after


def test_a_taken_slot_and_an_unsynced_contact_are_refused_clearly(calendar, ana, subaccount):
    start = next_monday() + timedelta(hours=10)
    booking.appointment_book(contact=ana, start=start, title="First")
    with pytest.raises(booking.BookingError) as taken:
        booking.appointment_book(contact=ana, start=start, end=start + timedelta(minutes=30), title="Again")
    assert taken.value.code == "slot_taken"
    stranger = _contact(subaccount, 2)
    with pytest.raises(booking.BookingError, match="not yet synced to GoHighLevel") as unsynced:
        booking.appointment_book(contact=stranger, start=start + timedelta(hours=1), title="x")
    assert unsynced.value.code == "contact_not_synced"
    assert len(_meetings(subaccount)) == 1


def test_no_calendar_integration_is_refused(subaccount, catalog):
    contact = _contact(subaccount)
    with pytest.raises(booking.BookingError) as refused:
        booking.free_slots(contact=contact, now=timezone.now())
    assert refused.value.code == "no_scheduler"


def test_the_api_lists_slots_books_and_keeps_tenants_apart(calendar, ana, subaccount, other_subaccount):
    client, _ = api_for(subaccount)
    monday = next_monday()
    url = f"/api/v1/contacts/{ana.pk}/slots/"
    listed = client.get(url, {"start": monday.isoformat(), "end": (monday + timedelta(days=1)).isoformat()})
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert body["integration"] == calendar.pk and len(body["slots"]) == 16
    first = body["slots"][0]
    made = client.post(
        f"/api/v1/contacts/{ana.pk}/appointments/",
        {"start": first["start"], "title": "Demo", "notes": "n"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["kind"] == "meeting" and made.json()["subject"] == "Demo"
    again = client.post(
        f"/api/v1/contacts/{ana.pk}/appointments/", {"start": first["start"], "title": "Demo"}, format="json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "slot_taken"
    bad = client.post(f"/api/v1/contacts/{ana.pk}/appointments/", {"title": "no start"}, format="json")
    assert bad.status_code == 400
    backwards = client.get(
        url, {"start": monday.isoformat(), "end": (monday - timedelta(days=1)).isoformat()}
    )
    assert backwards.status_code == 400 and backwards.json()["error"]["code"] == "invalid_range"
    other, _ = api_for(other_subaccount)
    assert other.get(url).status_code == 404
    assert (
        other.post(
            f"/api/v1/contacts/{ana.pk}/appointments/", {"start": first["start"]}, format="json"
        ).status_code
        == 404
    )
    assert len(_meetings(subaccount)) == 1


def _staff(client, subaccount):
    user = get_user_model().objects.create_user("bob", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_contact", "change_contact", "view_activity"])
    )
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)


def test_the_contact_page_books_from_its_panel(calendar, ana, subaccount, client):
    _staff(client, subaccount)
    page = client.get(reverse("admin:sync_contact_change", args=[ana.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Book an appointment" in html and 'data-testid="booking-form"' in html
    slots = page.context["booking"]["slots"]
    assert slots
    done = client.post(
        reverse("admin:sync_contact_book", args=[ana.pk]),
        {"start": slots[0].start.isoformat(), "title": "Walk-in"},
        follow=True,
    )
    assert "Booked: Walk-in" in done.content.decode()
    again = client.post(
        reverse("admin:sync_contact_book", args=[ana.pk]), {"start": slots[0].start.isoformat()}, follow=True
    )
    assert "Not booked" in again.content.decode()
    assert [m.subject for m in _meetings(subaccount)] == ["Walk-in"]


def test_the_panel_is_absent_without_a_calendar_integration(subaccount, client, catalog):
    _staff(client, subaccount)
    contact = _contact(subaccount)
    page = client.get(reverse("admin:sync_contact_change", args=[contact.pk]))
    assert page.status_code == 200 and "Book an appointment" not in page.content.decode()
