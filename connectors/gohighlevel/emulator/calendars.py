"""Calendars and appointments in the emulator (GoHighLevel's calendars API, ``Version: 2021-04-15``):
``GET /calendars/?locationId``, ``GET /calendars/events?locationId&calendarId&startTime&endTime``
(epoch ms, ``{events}``), ``POST /calendars/events/appointments`` (the flat appointment),
``GET|PUT /calendars/events/appointments/{eventId}`` (GET wraps it in ``{event}``) and
``DELETE /calendars/events/{eventId}`` (``{succeeded: true}``), ``GET /calendars/{calendarId}``
(``{calendar}`` with its ``slotDuration``) and ``GET /calendars/{calendarId}/free-slots?startDate&
endDate[&timezone]`` (epoch ms; ``{"<YYYY-MM-DD>": {"slots": [ISO start, …]}, "traceId"}``): the
calendar's open hours (settings ``calendar_open_hours`` [start hour, end hour], ``calendar_weekdays``,
``calendar_slot_minutes``; Monday to Friday 9–17, 30 minutes by default) cut into slots, less those
in the past and those an appointment that is not cancelled overlaps. A booking outside the free slots
is refused with 400 "The slot you have selected is no longer available." unless the body says
``ignoreFreeSlotValidation``. Writes emit ``AppointmentCreate``,
``AppointmentUpdate`` and ``AppointmentDelete`` with the appointment nested under ``appointment``
([3P]: the payload layout is not in the official docs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.gohighlevel.emulator.oauth import GoHighLevelOAuth
from connectors.gohighlevel.emulator.store import CALENDAR_ID
from connectors.sandbox.emulator import parse_iso

SLOT_TAKEN = "The slot you have selected is no longer available."
SLOT_MINUTES = 30
OPEN_HOURS = (9, 17)
WEEKDAYS = (0, 1, 2, 3, 4)
MAX_SLOT_RANGE_DAYS = 31  # GoHighLevel answers at most a month of free slots per request (unverified)

STATUSES = ("new", "confirmed", "cancelled", "showed", "noshow", "invalid")
WRITABLE = (
    "calendarId",
    "contactId",
    "title",
    "appointmentStatus",
    "assignedUserId",
    "address",
    "description",
    "notes",
    "startTime",
    "endTime",
    "locationId",
    "ignoreDateRange",
    "toNotify",
    "ignoreFreeSlotValidation",
    "meetingLocationType",
)


def _ms(value: Any) -> float | None:
    when = parse_iso(str(value or ""))
    return when.timestamp() * 1000 if when else None


class GoHighLevelCalendars(GoHighLevelOAuth):
    def calendars_view(self, request: HttpRequest) -> HttpResponse:
        if not request.GET.get("locationId"):
            return self.error(422, ["locationId should not be empty"], error="Unprocessable Entity")
        calendar = {
            "id": CALENDAR_ID,
            "locationId": self.location_id(),
            "name": "Sandbox calendar",
            "calendarType": "event",
            "isActive": True,
        }
        return JsonResponse({"calendars": [calendar]})

    def calendar_view(self, request: HttpRequest, calendar_id: str) -> HttpResponse:
        if calendar_id != CALENDAR_ID:
            return self.error(400, "Calendar not found")
        return JsonResponse({"calendar": self.calendar_body()})

    def calendar_body(self) -> dict[str, Any]:
        return {
            "id": CALENDAR_ID,
            "locationId": self.location_id(),
            "name": "Sandbox calendar",
            "calendarType": "event",
            "isActive": True,
            "slotDuration": self.slot_minutes(),
            "slotDurationUnit": "mins",
        }

    def slot_minutes(self) -> int:
        return int(self.setting("calendar_slot_minutes", SLOT_MINUTES))

    def open_slots(self, start: datetime, end: datetime) -> list[datetime]:
        """Starts of the slots in ``[start, end)`` within the open hours (UTC), not past, not booked."""
        hours = self.setting("calendar_open_hours", OPEN_HOURS)
        weekdays = set(self.setting("calendar_weekdays", WEEKDAYS))
        length = timedelta(minutes=self.slot_minutes())
        booked = []
        for row in self.records("appointments"):
            data = row.data
            if data.get("calendarId") != CALENDAR_ID or data.get("appointmentStatus") == "cancelled":
                continue
            begins, ends = (
                parse_iso(str(data.get("startTime") or "")),
                parse_iso(str(data.get("endTime") or "")),
            )
            if begins is not None:
                booked.append((begins, max(ends or begins, begins + timedelta(seconds=1))))
        now = datetime.now(UTC)
        found = []
        day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day.weekday() in weekdays:
                slot, closes = day + timedelta(hours=hours[0]), day + timedelta(hours=hours[1])
                while slot + length <= closes:
                    free = all(not (slot < b_end and b_start < slot + length) for b_start, b_end in booked)
                    if start <= slot < end and slot > now and free:
                        found.append(slot)
                    slot += length
            day += timedelta(days=1)
        return found

    def free_slots_view(self, request: HttpRequest, calendar_id: str) -> HttpResponse:
        if calendar_id != CALENDAR_ID:
            return self.error(400, "Calendar not found")
        params = request.GET
        problems = [f"{p} should not be empty" for p in ("startDate", "endDate") if not params.get(p)]
        try:
            start_ms, end_ms = float(params.get("startDate") or 0), float(params.get("endDate") or 0)
        except ValueError:
            problems.append("startDate and endDate must be in millis")
            start_ms = end_ms = 0
        if not problems and end_ms - start_ms > MAX_SLOT_RANGE_DAYS * 86_400_000:
            problems.append(f"The date range should not be more than {MAX_SLOT_RANGE_DAYS} days")
        try:
            zone = ZoneInfo(params.get("timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            problems.append("timezone must be a valid IANA time zone")
            zone = ZoneInfo("UTC")
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
        end = datetime.fromtimestamp(end_ms / 1000, UTC)
        days: dict[str, Any] = {}
        for slot in self.open_slots(start, end):
            local = slot.astimezone(zone)
            days.setdefault(local.date().isoformat(), {"slots": []})["slots"].append(local.isoformat())
        return JsonResponse({**days, "traceId": request.path})

    def slot_is_free(self, body: dict[str, Any]) -> bool:
        begins = parse_iso(str(body.get("startTime") or ""))
        ends = parse_iso(str(body.get("endTime") or "")) or begins
        if begins is None:
            return True  # the 422 says what is wrong
        length = timedelta(minutes=self.slot_minutes())
        needed = []
        slot = begins
        while slot < max(ends, begins + timedelta(seconds=1)):
            needed.append(slot)
            slot += length
        free = set(self.open_slots(begins, begins + length * len(needed)))
        return all(s in free for s in needed)

    def appointment_problems(self, body: dict[str, Any], *, creating: bool) -> list[str]:
        problems = [f"property {name} should not exist" for name in sorted(set(body) - set(WRITABLE))]
        if creating:
            problems += [
                f"{f} should not be empty"
                for f in ("calendarId", "contactId", "startTime")
                if not body.get(f)
            ]
        if body.get("calendarId") and body["calendarId"] != CALENDAR_ID:
            problems.append("calendarId is invalid")
        if body.get("contactId") and self.record("contacts", body["contactId"]) is None:
            problems.append("contactId is invalid")
        for name in ("startTime", "endTime"):
            if body.get(name) and _ms(body[name]) is None:
                problems.append(f"{name} must be a valid ISO 8601 date string")
        if body.get("appointmentStatus") and body["appointmentStatus"] not in STATUSES:
            problems.append(f"appointmentStatus must be one of the following values: {', '.join(STATUSES)}")
        return problems

    def appointments_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.error(404, f"Cannot {request.method} {request.path}")
        body = self.body_or_400(request)
        if isinstance(body, HttpResponse):
            return body
        problems = self.appointment_problems(body, creating=True)
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        if not body.get("ignoreFreeSlotValidation") and not self.slot_is_free(body):
            return self.error(400, SLOT_TAKEN)
        fields = {k: v for k, v in body.items() if k in WRITABLE and not k.startswith(("ignore", "toNotify"))}
        defaults = {
            "title": "Appointment",
            "appointmentStatus": "confirmed",
            "groupId": "",
            "assignedUserId": "",
            "users": [],
            "endTime": body["startTime"],
        }
        row = self.save_new("appointments", {**defaults, **fields})
        self.event("AppointmentCreate", row.data, nested="appointment")
        return JsonResponse(row.data)

    def appointment_view(self, request: HttpRequest, event_id: str) -> HttpResponse:
        row = self.record("appointments", event_id)
        if row is None:
            return self.error(400, "Appointment not found")
        if request.method == "GET":
            return JsonResponse({"event": row.data})
        if request.method != "PUT":
            return self.error(404, f"Cannot {request.method} {request.path}")
        body = self.body_or_400(request)
        if isinstance(body, HttpResponse):
            return body
        problems = self.appointment_problems(body, creating=False)
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        row = self.save_changes(
            row, {k: v for k, v in body.items() if not k.startswith(("ignore", "toNotify"))}
        )
        self.event("AppointmentUpdate", row.data, nested="appointment")
        return JsonResponse(row.data)

    def event_delete_view(self, request: HttpRequest, event_id: str) -> HttpResponse:
        row = self.record("appointments", event_id)
        if request.method != "DELETE":
            return self.error(404, f"Cannot {request.method} {request.path}")
        if row is None:
            return self.error(400, "Event not found")
        data = row.data
        row.delete()
        self.event("AppointmentDelete", data, nested="appointment")
        return JsonResponse({"succeeded": True})

    def events_view(self, request: HttpRequest) -> HttpResponse:
        params = request.GET
        problems = [
            f"{p} should not be empty" for p in ("locationId", "startTime", "endTime") if not params.get(p)
        ]
        if not any(params.get(p) for p in ("calendarId", "userId", "groupId")):
            problems.append("Either of calendarId, userId or groupId is required")
        try:
            start, end = float(params.get("startTime") or 0), float(params.get("endTime") or 0)
        except ValueError:
            problems.append("startTime and endTime must be in millis")
            start = end = 0
        if problems:
            return self.error(422, problems, error="Unprocessable Entity")
        events = []
        for row in self.records("appointments").order_by("created_at", "pk"):
            data = row.data
            if params.get("calendarId") and data.get("calendarId") != params["calendarId"]:
                continue
            if params.get("userId") and data.get("assignedUserId") != params["userId"]:
                continue
            begins = _ms(data.get("startTime"))
            if begins is not None and start <= begins <= end:
                events.append(data)
        return JsonResponse({"events": events})
