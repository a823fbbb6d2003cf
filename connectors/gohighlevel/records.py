"""GoHighLevel bodies ↔ ``RemoteRecord``: contacts, opportunities, notes and tasks (providers.md §6).

Records keep GoHighLevel's field names. A contact's ``customFields`` list (``[{id, value}]``) reads
as one flat field per custom field, ``customFields.<id>``, and is written back as the list. An
opportunity's ``contactId`` is its ``contact_ids`` relation; a note's or task's is its
``contact_id``. Notes and tasks live under their contact, so their ids carry it:
``notes/<contactId>/<noteId>``; calendar appointments (kind ``meeting``) are ``appointments/<eventId>``.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import RELATIONS_KEY, RemoteRecord

CUSTOM_PREFIX = "customFields."
CONTACT_FIELDS = (
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "companyName",
    "website",
    "address1",
    "city",
    "state",
    "postalCode",
    "country",
    "timezone",
    "tags",
    "source",
    "assignedTo",
    "dnd",
    "dateAdded",
    "dateUpdated",
)
CONTACT_READ_ONLY = ("name", "dateAdded", "dateUpdated")
OPPORTUNITY_FIELDS = (
    "name",
    "pipelineId",
    "pipelineStageId",
    "status",
    "monetaryValue",
    "assignedTo",
    "source",
    "dateAdded",
    "dateUpdated",
)
OPPORTUNITY_READ_ONLY = ("dateAdded", "dateUpdated")
ACTIVITY_FIELDS = {
    "notes": ("body", "dateAdded"),
    "tasks": ("title", "body", "dueDate", "completed", "assignedTo", "dateAdded"),
}
APPOINTMENT_FIELDS = (
    "title",
    "description",
    "notes",
    "address",
    "appointmentStatus",
    "assignedUserId",
    "calendarId",
    "startTime",
    "endTime",
)
KINDS = {"notes": "note", "tasks": "task", "appointments": "meeting"}


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as GoHighLevel writes it (``2021-11-26T12:41:02.193Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pack_ids(ids: Iterable[str]) -> str:
    """A set of ids as a compact string for the cursor (the id diff that finds deletions)."""
    return base64.b64encode(zlib.compress("\n".join(sorted(ids)).encode(), 9)).decode()


def unpack_ids(packed: Any) -> set[str] | None:
    """The ids ``pack_ids`` wrote; None when there are none recorded (or they are unreadable)."""
    if not isinstance(packed, str):
        return None
    try:
        text = zlib.decompress(base64.b64decode(packed)).decode()
    except (ValueError, zlib.error):
        return None
    return set(text.split("\n")) if text else set()


# --- contacts ---------------------------------------------------------------------------------------


def contact_record(raw: Mapping[str, Any]) -> RemoteRecord:
    fields = {name: raw.get(name) for name in CONTACT_FIELDS if name in raw}
    for item in raw.get("customFields") or []:
        if isinstance(item, Mapping) and item.get("id"):
            fields[f"{CUSTOM_PREFIX}{item['id']}"] = item.get("value")
    return RemoteRecord(id=str(raw["id"]), modified_at=parse_time(raw.get("dateUpdated")), fields=fields)


def contact_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A create or update body: custom fields gathered into ``customFields``, read-only ones dropped."""
    body: dict[str, Any] = {}
    custom = []
    for name, value in fields.items():
        if name == RELATIONS_KEY or name in CONTACT_READ_ONLY or name.startswith("_"):
            continue
        if name.startswith(CUSTOM_PREFIX):
            custom.append({"id": name.removeprefix(CUSTOM_PREFIX), "value": value})
        else:
            body[name] = value
    if custom:
        body["customFields"] = custom
    return body


# --- opportunities -----------------------------------------------------------------------------------


def opportunity_record(raw: Mapping[str, Any]) -> RemoteRecord:
    fields = {name: raw.get(name) for name in OPPORTUNITY_FIELDS if name in raw}
    contact = raw.get("contactId")
    return RemoteRecord(
        id=str(raw["id"]),
        modified_at=parse_time(raw.get("dateUpdated")),
        fields=fields,
        relations={"contact_ids": (str(contact),) if contact else ()},
    )


def opportunity_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields plus ``contactId`` from the ``contact_ids`` relation (an opportunity has one contact:
    the first added wins; a removal with nothing added clears it)."""
    body = {
        name: value
        for name, value in fields.items()
        if name != RELATIONS_KEY and name not in OPPORTUNITY_READ_ONLY and not name.startswith("_")
    }
    change = (fields.get(RELATIONS_KEY) or {}).get("contact_ids")
    if isinstance(change, Mapping):
        if change.get("add"):
            body["contactId"] = str(change["add"][0])
        elif change.get("remove"):
            body["contactId"] = None
    return body


# --- notes and tasks -------------------------------------------------------------------------------


def activity_id(kind: str, contact_id: str, child_id: str) -> str:
    return f"{kind}/{contact_id}/{child_id}"


def appointment_id(event_id: str) -> str:
    return f"appointments/{event_id}"


def split_activity_id(remote_id: str) -> tuple[str, str, str]:
    """(``notes``|``tasks``, contact id, note or task id), or (``appointments``, "", event id);
    ValueError for anything else."""
    kind, _, rest = remote_id.partition("/")
    if kind == "appointments" and rest and "/" not in rest:
        return kind, "", rest
    contact_id, _, child_id = rest.partition("/")
    if kind not in ("notes", "tasks") or not contact_id or not child_id or "/" in child_id:
        raise ValueError(f"not a GoHighLevel note, task or appointment id: {remote_id!r}")
    return kind, contact_id, child_id


def activity_record(kind: str, raw: Mapping[str, Any]) -> RemoteRecord:
    contact = str(raw.get("contactId") or "")
    fields = {name: raw.get(name) for name in ACTIVITY_FIELDS[kind] if name in raw}
    fields["_kind"] = KINDS[kind]
    return RemoteRecord(
        id=activity_id(kind, contact, str(raw["id"])),
        modified_at=parse_time(raw.get("dateUpdated") or raw.get("dateAdded")),
        fields=fields,
        remote_type=kind,
        relations={"contact_id": (contact,) if contact else ()},
    )


def appointment_record(raw: Mapping[str, Any]) -> RemoteRecord:
    """A calendar appointment as an activity of kind ``meeting``."""
    contact = str(raw.get("contactId") or "")
    fields = {name: raw.get(name) for name in APPOINTMENT_FIELDS if name in raw}
    fields["_kind"] = "meeting"
    return RemoteRecord(
        id=appointment_id(str(raw["id"])),
        modified_at=parse_time(raw.get("dateUpdated") or raw.get("dateAdded")),
        fields=fields,
        remote_type="appointments",
        relations={"contact_id": (contact,) if contact else ()},
    )


WRITE_KINDS = {"note": "notes", "task": "tasks"}  # the activity kinds the platform writes, by endpoint


class ActivityRefused(ValueError):
    """An activity GoHighLevel cannot take as it is (no contact, a task without a due date, a kind it
    has no endpoint for): the record fails alone with this message."""


def activity_kind(fields: Mapping[str, Any]) -> str:
    """``notes`` or ``tasks`` for the payload's ``_kind`` (a note when none is given)."""
    kind = str(fields.get("_kind") or "note")
    if kind not in WRITE_KINDS:
        raise ActivityRefused(
            f"GoHighLevel keeps notes and tasks under a contact; an activity of kind {kind!r} is not written"
            " (appointments are booked through the calendar)"
        )
    return WRITE_KINDS[kind]


def activity_contact(fields: Mapping[str, Any]) -> str:
    """The contact a new note or task goes under, from the ``contact_id`` relation."""
    change = (fields.get(RELATIONS_KEY) or {}).get("contact_id")
    added = change.get("add") if isinstance(change, Mapping) else None
    if not added:
        raise ActivityRefused(
            "a GoHighLevel note or task needs its contact: link the activity to a contact first"
        )
    return str(added[0])


def activity_body(kind: str, fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """A note's ``{body}`` or a task's ``{title, body, dueDate, completed}``; a new task needs its
    title and due date (GoHighLevel refuses one without)."""
    allowed = ACTIVITY_FIELDS[kind]
    body = {
        name: value
        for name, value in fields.items()
        if name in allowed and name != "dateAdded" and not (name == "completed" and value is None)
    }
    if kind == "tasks" and creating:
        missing = [name for name in ("title", "dueDate") if not body.get(name)]
        if missing:
            raise ActivityRefused(
                f"a GoHighLevel task needs a {' and a '.join(missing)} (subject and due date)"
            )
    if kind == "notes" and creating and not body.get("body"):
        raise ActivityRefused("a GoHighLevel note needs a body")
    return body
