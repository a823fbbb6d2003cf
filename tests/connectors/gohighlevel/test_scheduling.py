"""Booking (``connectors.capabilities.Scheduler``) against the emulator's calendar: free slots from
the calendar's hours less what is booked, a booking returned as a meeting activity, a taken slot
refused with GoHighLevel's error and raised as SlotTaken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import ConfigError
from connectors.capabilities import Scheduler, SlotTaken
from connectors.gohighlevel.emulator.store import CALENDAR_ID, SANDBOX_LOCATION


def next_monday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=7 - today.weekday())


@pytest.fixture
def scheduler(key_config, make_connector):
    return make_connector({**key_config, "calendarId": CALENDAR_ID})


@pytest.fixture
def person(scheduler):
    [made] = scheduler.create("contact", [{"firstName": "Cal", "email": "cal@example.com"}])
    return made.remote_id


def test_free_slots_are_the_open_hours_less_the_booked_ones(scheduler, person, api, base):
    assert isinstance(scheduler, Scheduler)
    monday = next_monday()
    slots = scheduler.free_slots(monday, monday + timedelta(days=1))
    assert len(slots) == 16 and slots[0].start == monday + timedelta(hours=9)
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    weekend = scheduler.free_slots(monday - timedelta(days=2), monday)
    assert weekend == []
    first = slots[0]
    meeting = scheduler.appointment_book(
        contact_id=person, start=first.start, end=first.end, title="Intro call", notes="Bring the quote"
    )
    assert meeting.id.startswith("appointments/") and meeting.fields["_kind"] == "meeting"
    assert meeting.relations == {"contact_id": (person,)} and meeting.fields["title"] == "Intro call"
    after = scheduler.free_slots(monday, monday + timedelta(days=1))
    assert first not in after and len(after) == 15
    raw = api.get(
        f"{base}/calendars/{CALENDAR_ID}/free-slots",
        params={
            "startDate": int(monday.timestamp() * 1000),
            "endDate": int((monday + timedelta(days=1)).timestamp() * 1000),
        },
    ).json()
    assert (
        set(raw) == {monday.date().isoformat(), "traceId"}
        and len(raw[monday.date().isoformat()]["slots"]) == 15
    )


def test_a_taken_slot_is_refused(scheduler, person, api, base):
    monday = next_monday()
    start = monday + timedelta(hours=10)
    scheduler.appointment_book(contact_id=person, start=start, end=start + timedelta(minutes=30), title="A")
    with pytest.raises(SlotTaken):
        scheduler.appointment_book(
            contact_id=person, start=start, end=start + timedelta(minutes=30), title="B"
        )
    with pytest.raises(SlotTaken):  # outside the calendar's hours
        night = monday + timedelta(hours=22)
        scheduler.appointment_book(
            contact_id=person, start=night, end=night + timedelta(minutes=30), title="C"
        )
    resp = api.post(
        f"{base}/calendars/events/appointments",
        json={
            "calendarId": CALENDAR_ID,
            "locationId": SANDBOX_LOCATION,
            "contactId": person,
            "startTime": start.isoformat(),
            "endTime": (start + timedelta(minutes=30)).isoformat(),
        },
    )
    assert resp.status_code == 400
    assert resp.json() == {"statusCode": 400, "message": "The slot you have selected is no longer available."}


def test_a_range_longer_than_a_month_is_read_in_chunks(scheduler):
    monday = next_monday()
    slots = scheduler.free_slots(monday, monday + timedelta(days=42))
    assert len(slots) == 16 * 5 * 6


def test_no_calendar_configured_is_a_config_error(key_config, make_connector):
    monday = next_monday()
    with pytest.raises(ConfigError):
        make_connector(key_config).free_slots(monday, monday + timedelta(days=1))
