"""Calendars and appointments in the emulator (GoHighLevel's calendars API, ``Version: 2021-04-15``):
``GET /calendars/?locationId``, ``GET /calendars/events?locationId&calendarId&startTime&endTime``
(epoch ms, ``{events}``), ``POST /calendars/events/appointments`` (the flat appointment),
``GET|PUT /calendars/events/appointments/{eventId}`` (GET wraps it in ``{event}``) and
``DELETE /calendars/events/{eventId}`` (``{succeeded: true}``). Writes emit ``AppointmentCreate``,
``AppointmentUpdate`` and ``AppointmentDelete`` with the appointment nested under ``appointment``
([3P]: the payload layout is not in the official docs)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from connectors.gohighlevel.emulator.oauth import GoHighLevelOAuth
from connectors.gohighlevel.emulator.store import CALENDAR_ID
from connectors.sandbox.emulator import parse_iso

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
