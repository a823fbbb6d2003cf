"""Default field mappings for HubSpot (providers.md "Canonical field map"). Data only.

Activities span three HubSpot object types (notes, tasks, calls) whose properties differ, so one
canonical field may map onto several HubSpot properties (``body`` ← ``hs_note_body``,
``hs_task_body``, ``hs_call_body``). The connector reads back only the properties of a record's
own type and, on write, drops the properties that belong to another type, so exactly one of the
aliases is ever in play for a given record. ``_kind`` (note / task / call) picks the type.
Dates HubSpot stores as epoch milliseconds (``closedate``, ``hs_timestamp``) use date_format
``epoch_ms``. Our own id (``external_id``) needs a custom HubSpot property, so it is left to
user mappings rather than shipped here.
"""

from typing import Any

BOTH = "both"


def _row(
    local: str, remote: str, transform: dict[str, Any] | None = None, direction: str = BOTH
) -> dict[str, Any]:
    return {"local": local, "remote": remote, "direction": direction, "transform": transform}


LOWERCASE = {"name": "lowercase", "args": {}}
E164 = {"name": "e164", "args": {}}
NUMBER = {"name": "number", "args": {}}
EPOCH_MS = {"name": "date_format", "args": {"format": "epoch_ms"}}
KIND_MAP = {
    "name": "value_map",
    "args": {"map": {"note": "note", "task": "task", "call": "call", "email": "email", "meeting": "event"}},
}
CALL_DIRECTION = {"name": "value_map", "args": {"map": {"INBOUND": "inbound", "OUTBOUND": "outbound"}}}
EMAIL_DIRECTION = {
    "name": "value_map",
    "args": {"map": {"INCOMING_EMAIL": "inbound", "EMAIL": "outbound", "FORWARDED_EMAIL": "outbound"}},
}
EPOCH_MS_DATE = {"name": "date_format", "args": {"format": "epoch_ms", "as_date": True}}

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        _row("first_name", "firstname"),
        _row("last_name", "lastname"),
        _row("email", "email", LOWERCASE),
        _row("phone", "phone", E164),
        _row("mobile_phone", "mobilephone", E164),
        _row("job_title", "jobtitle"),
        _row("company_name", "company"),
        _row("owner_id", "hubspot_owner_id"),
        _row("lifecycle_stage", "lifecyclestage"),
    ],
    "company": [
        _row("name", "name"),
        _row("domain", "domain", LOWERCASE),
        _row("phone", "phone", E164),
        _row("industry", "industry"),
        _row("owner_id", "hubspot_owner_id"),
    ],
    "deal": [
        _row("name", "dealname"),
        _row("amount", "amount", NUMBER),
        _row("currency", "deal_currency_code"),
        _row("stage", "dealstage"),
        _row("pipeline", "pipeline"),
        _row("close_date", "closedate", EPOCH_MS_DATE),
        _row("owner_id", "hubspot_owner_id"),
    ],
    "activity": [
        # HubSpot meetings are calendar events: the canonical kind "event" (Salesforce's Event too).
        _row("kind", "_kind", KIND_MAP),
        _row("occurred_at", "hs_timestamp", EPOCH_MS),
        _row("body", "hs_note_body"),
        _row("subject", "hs_task_subject"),
        _row("body", "hs_task_body"),
        _row("status", "hs_task_status"),
        _row("subject", "hs_call_title"),
        _row("body", "hs_call_body"),
        _row("direction", "hs_call_direction", CALL_DIRECTION),
        _row("subject", "hs_email_subject"),
        _row("body", "hs_email_text"),
        _row("direction", "hs_email_direction", EMAIL_DIRECTION),
        _row("subject", "hs_meeting_title"),
        _row("body", "hs_meeting_body"),
    ],
}
