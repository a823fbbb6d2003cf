"""Default field mappings for HubSpot (providers.md "Canonical field map"). Data only.

Activities span three HubSpot object types (notes, tasks, calls) whose properties differ, so one
canonical field may map onto several HubSpot properties (``body`` ← ``hs_note_body``,
``hs_task_body``, ``hs_call_body``). The connector reads back only the properties of a record's
own type and, on write, drops the properties that belong to another type, so exactly one of the
aliases is ever in play for a given record. ``_kind`` (note / task / call) picks the type.
Dates HubSpot stores as epoch milliseconds (``closedate``, ``hs_timestamp``) use date_format
``epoch_ms``. Our own id (``external_id``) needs a custom HubSpot property, so it is left to
user mappings rather than shipped here.

A chat message (kind "message") has no HubSpot object: it is a note whose body starts with a marker
naming its channel and direction (``[WhatsApp message, inbound] Hello``, see ``messages.py``), read back
as a message with ``_channel`` and ``_direction`` and the body without the marker, so it round-trips.
"""

from typing import Any

from connectors.mapping_rows import E164, EPOCH_MS, EPOCH_MS_DATE, LOWERCASE, NUMBER, row

KIND_MAP = {
    "name": "value_map",
    "args": {
        "map": {
            "note": "note",
            "task": "task",
            "call": "call",
            "email": "email",
            "meeting": "event",
            "message": "message",
        }
    },
}
CALL_DIRECTION = {"name": "value_map", "args": {"map": {"INBOUND": "inbound", "OUTBOUND": "outbound"}}}
EMAIL_DIRECTION = {
    "name": "value_map",
    "args": {"map": {"INCOMING_EMAIL": "inbound", "EMAIL": "outbound", "FORWARDED_EMAIL": "outbound"}},
}

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "firstname"),
        row("last_name", "lastname"),
        row("email", "email", LOWERCASE),
        row("phone", "phone", E164),
        row("mobile_phone", "mobilephone", E164),
        row("job_title", "jobtitle"),
        row("company_name", "company"),
        row("owner_id", "hubspot_owner_id"),
        row("lifecycle_stage", "lifecyclestage"),
    ],
    "company": [
        row("name", "name"),
        row("domain", "domain", LOWERCASE),
        row("phone", "phone", E164),
        row("industry", "industry"),
        row("owner_id", "hubspot_owner_id"),
    ],
    "deal": [
        row("name", "dealname"),
        row("amount", "amount", NUMBER),
        row("currency", "deal_currency_code"),
        row("stage", "dealstage"),
        row("pipeline", "pipeline"),
        row("close_date", "closedate", EPOCH_MS_DATE),
        row("owner_id", "hubspot_owner_id"),
    ],
    "activity": [
        # HubSpot meetings are calendar events: the canonical kind "event" (Salesforce's Event too).
        row("kind", "_kind", KIND_MAP),
        row("occurred_at", "hs_timestamp", EPOCH_MS),
        row("body", "hs_note_body"),
        row("subject", "hs_task_subject"),
        row("body", "hs_task_body"),
        row("status", "hs_task_status"),
        row("subject", "hs_call_title"),
        row("body", "hs_call_body"),
        row("direction", "hs_call_direction", CALL_DIRECTION),
        row("subject", "hs_email_subject"),
        row("body", "hs_email_text"),
        row("direction", "hs_email_direction", EMAIL_DIRECTION),
        row("subject", "hs_meeting_title"),
        row("body", "hs_meeting_body"),
        # A message's, from the marker of the note it is (connectors/hubspot/messages.py).
        row("channel", "_channel"),
        row("direction", "_direction"),
    ],
}
