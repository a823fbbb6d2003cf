"""Booking into the configured GoHighLevel calendar (``connectors.capabilities.Scheduler``).

Free slots come from ``GET /calendars/{calendarId}/free-slots?startDate&endDate`` (epoch ms), which
answers a map of day → ``{"slots": [ISO start, …]}``; each slot lasts the calendar's
``slotDuration`` (``GET /calendars/{calendarId}``). A range longer than GoHighLevel answers at once
is read a chunk at a time. A booking is ``POST /calendars/events/appointments``; GoHighLevel refuses
a slot that is not free with a 400 whose message says the slot is no longer available, which
becomes ``SlotTaken``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.base import ConfigError, PermanentError, RemoteRecord
from connectors.capabilities import Slot, SlotTaken
from connectors.gohighlevel.records import appointment_record, iso, parse_time

SLOTS_CHUNK = timedelta(days=31)  # the widest range one free-slots request answers (unverified)
DEFAULT_SLOT_MINUTES = 30
MINUTES = {"mins": 1, "minutes": 1, "hours": 60, "hour": 60}


def calendar_id(config: dict[str, Any]) -> str:
    calendar = str(config.get("calendarId") or "")
    if not calendar:
        raise ConfigError("enter the calendar ID appointments are booked into", field="calendarId")
    return calendar


def slot_length(calendar: dict[str, Any]) -> timedelta:
    """A slot's length from the calendar's ``slotDuration`` and ``slotDurationUnit``."""
    try:
        amount = int(calendar.get("slotDuration") or DEFAULT_SLOT_MINUTES)
    except (TypeError, ValueError):
        amount = DEFAULT_SLOT_MINUTES
    return timedelta(minutes=amount * MINUTES.get(str(calendar.get("slotDurationUnit") or "mins"), 1))


def slots_from(body: dict[str, Any], length: timedelta, start: datetime, end: datetime) -> list[Slot]:
    """The free-slots answer as ``Slot`` s within ``[start, end)``, earliest first."""
    found = set()
    for day in body.values():
        if not isinstance(day, dict):
            continue  # "traceId"
        for text in day.get("slots") or []:
            begins = parse_time(text)
            if begins is not None and start <= begins < end:
                found.add(begins)
    return [Slot(start=s, end=s + length) for s in sorted(found)]


def is_slot_taken(exc: PermanentError) -> bool:
    return exc.status == 400 and "slot" in str(exc).lower()


class GoHighLevelScheduling:
    """Mixed into the connector: ``self.client`` and ``self.config`` are the connector's."""

    def free_slots(self, start: datetime, end: datetime) -> list[Slot]:
        calendar = calendar_id(self.config)
        length = slot_length(self.client.calendar(calendar))
        slots: list[Slot] = []
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(end, chunk_start + SLOTS_CHUNK)
            body = self.client.free_slots(
                calendar,
                start_ms=int(chunk_start.timestamp() * 1000),
                end_ms=int(chunk_end.timestamp() * 1000),
            )
            slots += slots_from(body, length, chunk_start, chunk_end)
            chunk_start = chunk_end
        return slots

    def appointment_book(
        self, *, contact_id: str, start: datetime, end: datetime, title: str, notes: str = ""
    ) -> RemoteRecord:
        body = {
            "calendarId": calendar_id(self.config),
            "locationId": self.client.location_id,
            "contactId": contact_id,
            "startTime": iso(start),
            "endTime": iso(end),
            "title": title,
            "appointmentStatus": "confirmed",
        }
        if notes:
            body["notes"] = notes
        try:
            raw = self.client.book_appointment(body)
        except PermanentError as exc:
            if is_slot_taken(exc):
                raise SlotTaken(str(exc)) from None
            raise
        return appointment_record(raw)
