"""A lead as records: the contact (its answers, keyed by question) and the "lead form submitted"
activity synthesised from it, related to that contact. Both take the lead's id: they live in
different entities, and the activity's ``contact_id`` relation names the contact's remote id.

``field_data`` is ``[{"name": key, "values": [...]}]``: the standard keys (``email``,
``full_name``, ``first_name``, ``last_name``, ``phone_number``, ``company_name``, ``job_title``,
``city``, ``zip_code``, ``country``) and each custom question's own key. A missing first/last name
is split from ``full_name``. The ad, ad set, campaign and form ids ride along on both records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.types import RemoteField, RemoteRecord

STANDARD_FIELDS = {
    "email": ("E-mail", "email"),
    "full_name": ("Full name", "string"),
    "first_name": ("First name", "string"),
    "last_name": ("Last name", "string"),
    "phone_number": ("Phone number", "phone"),
    "company_name": ("Company name", "string"),
    "job_title": ("Job title", "string"),
    "city": ("City", "string"),
    "zip_code": ("ZIP code", "string"),
    "country": ("Country", "string"),
}
AD_FIELDS = {
    "ad_id": "Ad ID",
    "adset_id": "Ad set ID",
    "campaign_id": "Campaign ID",
    "form_id": "Lead form ID",
    "page_id": "Page ID",
    "platform": "Platform",
}
LEAD_FIELDS = "id,created_time,field_data,ad_id,adset_id,campaign_id,form_id,is_organic,platform"
ACTIVITY_FIELDS = (
    RemoteField("subject", "Subject", read_only=True),
    RemoteField("body", "Answers and ad", "text", read_only=True),
    RemoteField("channel", "Channel", read_only=True),
    RemoteField("created_time", "Submitted at", "datetime", read_only=True, format="iso"),
    RemoteField("form_name", "Lead form", read_only=True),
)
CHANNELS = {"fb": "facebook", "ig": "instagram"}


def graph_datetime(value: Any) -> datetime | None:
    """``2025-01-01T10:00:00+0000`` (or Unix seconds) as an aware datetime."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def answers(lead: Mapping[str, Any]) -> dict[str, str]:
    """Question key → answer (several values joined with ", ")."""
    found: dict[str, str] = {}
    for item in lead.get("field_data") or []:
        if isinstance(item, dict) and item.get("name"):
            values = [str(v) for v in item.get("values") or [] if v not in (None, "")]
            found[str(item["name"])] = ", ".join(values)
    return found


def split_name(full: str) -> tuple[str, str]:
    first, _, last = full.strip().partition(" ")
    return first, last.strip()


def contact_record(lead: Mapping[str, Any]) -> RemoteRecord:
    fields: dict[str, Any] = answers(lead)
    if fields.get("full_name") and not (fields.get("first_name") or fields.get("last_name")):
        fields["first_name"], fields["last_name"] = split_name(fields["full_name"])
    for name in AD_FIELDS:
        if lead.get(name) not in (None, ""):
            fields[name] = str(lead[name])
    fields["created_time"] = lead.get("created_time")
    fields["is_organic"] = bool(lead.get("is_organic", False))
    return RemoteRecord(
        id=str(lead["id"]), modified_at=graph_datetime(lead.get("created_time")), fields=fields
    )


def activity_record(lead: Mapping[str, Any], *, form_name: str = "") -> RemoteRecord:
    """The "lead form submitted" event: what was answered, and which ad brought it."""
    replies = answers(lead)
    lines = [f"{key}: {value}" for key, value in replies.items()]
    ads = [f"{label}: {lead[name]}" for name, label in AD_FIELDS.items() if lead.get(name) not in (None, "")]
    fields = {
        "_kind": "event",
        "subject": f"Lead form submitted: {form_name}" if form_name else "Lead form submitted",
        "body": "\n".join(lines + ([""] if lines and ads else []) + ads),
        "channel": CHANNELS.get(str(lead.get("platform") or "fb"), "facebook"),
        "created_time": lead.get("created_time"),
        "form_name": form_name,
        **{name: str(lead[name]) for name in AD_FIELDS if lead.get(name) not in (None, "")},
    }
    return RemoteRecord(
        id=str(lead["id"]),
        modified_at=graph_datetime(lead.get("created_time")),
        fields=fields,
        relations={"contact_id": (str(lead["id"]),)},
    )


def contact_fields(custom_questions: Mapping[str, str]) -> list[RemoteField]:
    """The standard keys, the ad ids and every custom question of the Page's forms."""
    fields = [
        RemoteField(name, label, kind, read_only=True) for name, (label, kind) in STANDARD_FIELDS.items()
    ]
    fields += [RemoteField(name, label, "id", read_only=True) for name, label in AD_FIELDS.items()]
    fields.append(RemoteField("created_time", "Submitted at", "datetime", read_only=True, format="iso"))
    fields.append(RemoteField("is_organic", "Organic lead", "boolean", read_only=True))
    fields += [
        RemoteField(key, label or key, "string", custom=True, read_only=True)
        for key, label in custom_questions.items()
        if key not in STANDARD_FIELDS
    ]
    return fields
