"""What ``discover_fields`` reports for GoHighLevel: the standard fields of contacts,
opportunities, notes, tasks and calendar appointments (providers.md §6), the location's contact custom fields
(``GET /locations/{id}/customFields``, named ``customFields.<id>`` as records read them) and the
pipelines' stages as the options of ``pipelineStageId``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import RemoteField
from connectors.gohighlevel.records import CUSTOM_PREFIX

CONTACT_STANDARD = (
    RemoteField("firstName", "First name"),
    RemoteField("lastName", "Last name"),
    RemoteField("name", "Full name", read_only=True),
    RemoteField("email", "Email", type="email"),
    RemoteField("phone", "Phone", type="phone"),
    RemoteField("companyName", "Company name"),
    RemoteField("website", "Website", type="url"),
    RemoteField("address1", "Street address"),
    RemoteField("city", "City"),
    RemoteField("state", "State"),
    RemoteField("postalCode", "Postal code"),
    RemoteField("country", "Country"),
    RemoteField("timezone", "Time zone"),
    RemoteField("tags", "Tags", type="multi_enumeration"),
    RemoteField("source", "Source"),
    RemoteField("assignedTo", "Assigned user", type="reference"),
    RemoteField("dnd", "Do not disturb", type="boolean"),
    RemoteField("dateAdded", "Date added", type="datetime", read_only=True, format="iso"),
    RemoteField("dateUpdated", "Date updated", type="datetime", read_only=True, format="iso"),
)
# GoHighLevel's custom field data types → FIELD_TYPES.
DATA_TYPES = {
    "TEXT": "string",
    "LARGE_TEXT": "text",
    "NUMERICAL": "number",
    "MONETORY": "number",
    "PHONE": "phone",
    "EMAIL": "email",
    "DATE": "date",
    "CHECKBOX": "multi_enumeration",
    "MULTIPLE_OPTIONS": "multi_enumeration",
    "SINGLE_OPTIONS": "enumeration",
    "RADIO": "enumeration",
}
STATUSES = (("open", "Open"), ("won", "Won"), ("lost", "Lost"), ("abandoned", "Abandoned"))


def contact_fields(custom: list[Mapping[str, Any]]) -> list[RemoteField]:
    found = list(CONTACT_STANDARD)
    for raw in custom:
        if not raw.get("id"):
            continue
        options = tuple((str(o), str(o)) for o in raw.get("picklistOptions") or [])
        kind = DATA_TYPES.get(str(raw.get("dataType") or ""), "string")
        found.append(
            RemoteField(
                name=f"{CUSTOM_PREFIX}{raw['id']}",
                label=str(raw.get("name") or raw["id"]),
                type=kind,
                options=options,
                custom=True,
                format="date" if kind == "date" else "",
            )
        )
    return found


def opportunity_fields(pipelines: list[Mapping[str, Any]]) -> list[RemoteField]:
    stages = tuple(
        (str(stage["id"]), f"{pipeline.get('name', '')}: {stage.get('name', '')}")
        for pipeline in pipelines
        for stage in pipeline.get("stages") or []
        if stage.get("id")
    )
    names = tuple((str(p["id"]), str(p.get("name") or p["id"])) for p in pipelines if p.get("id"))
    return [
        RemoteField("name", "Opportunity name"),
        RemoteField("monetaryValue", "Value", type="number"),
        RemoteField("pipelineId", "Pipeline", type="enumeration", options=names),
        RemoteField("pipelineStageId", "Stage", type="enumeration", options=stages),
        RemoteField("status", "Status", type="enumeration", options=STATUSES),
        RemoteField("assignedTo", "Assigned user", type="reference"),
        RemoteField("source", "Source"),
        RemoteField("dateAdded", "Date added", type="datetime", read_only=True, format="iso"),
        RemoteField("dateUpdated", "Date updated", type="datetime", read_only=True, format="iso"),
    ]


def activity_fields() -> list[RemoteField]:
    return [
        RemoteField(
            "_kind",
            "Kind",
            type="enumeration",
            options=(("note", "Note"), ("task", "Task"), ("meeting", "Appointment")),
        ),
        RemoteField("body", "Body", type="text"),
        RemoteField("title", "Title", remote_type="tasks"),
        RemoteField("dueDate", "Due date", type="datetime", remote_type="tasks", format="iso"),
        RemoteField("completed", "Completed", type="boolean", remote_type="tasks"),
        RemoteField("assignedTo", "Assigned user", type="reference", remote_type="tasks"),
        RemoteField("dateAdded", "Date added", type="datetime", read_only=True, format="iso"),
        RemoteField("title", "Appointment title", remote_type="appointments"),
        RemoteField("description", "Description", type="text", remote_type="appointments"),
        RemoteField("notes", "Notes", type="text", remote_type="appointments"),
        RemoteField("address", "Meeting address", remote_type="appointments"),
        RemoteField(
            "appointmentStatus",
            "Appointment status",
            type="enumeration",
            remote_type="appointments",
            options=tuple(
                (s, s.capitalize()) for s in ("new", "confirmed", "cancelled", "showed", "noshow", "invalid")
            ),
        ),
        RemoteField("assignedUserId", "Assigned user", type="reference", remote_type="appointments"),
        RemoteField("calendarId", "Calendar", type="reference", remote_type="appointments"),
        RemoteField("startTime", "Starts", type="datetime", remote_type="appointments", format="iso"),
        RemoteField("endTime", "Ends", type="datetime", remote_type="appointments", format="iso"),
    ]
