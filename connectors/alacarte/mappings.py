"""Default field mappings for À La Carte Chat (ALACARTE_WIRE.md "Canonical mapping"). Data only.

Remote names are the customer, message and conversation keys as ``records.py`` reads them. A
customer has no company or job title of its own: they live in its free-form ``custom_fields``
(``custom_fields.company_name``, ``custom_fields.job_title``). Its required ``name`` is not mapped:
the connector makes it from the first and last names. Our own id travels in ``external_id``, which
the engine fills in (``local_id_field``), so it is not mapped either. Messages and conversations are
the provider's: they only flow in.
"""

from typing import Any

from connectors.mapping_rows import DATETIME, E164, FROM_REMOTE, LOWERCASE, TRIM, row

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "first_name", TRIM),
        row("last_name", "last_name", TRIM),
        row("email", "email", LOWERCASE),
        row("phone", "phone", E164),
        row("mobile_phone", "whatsapp_number", E164),
        row("company_name", "custom_fields.company_name", TRIM),
        row("job_title", "custom_fields.job_title", TRIM),
    ],
    "activity": [
        row("kind", "_kind", direction=FROM_REMOTE),
        row("subject", "subject", direction=FROM_REMOTE),
        row("body", "content", direction=FROM_REMOTE),
        row("channel", "channel", direction=FROM_REMOTE),
        row("direction", "direction", direction=FROM_REMOTE),
        row("status", "status", direction=FROM_REMOTE),
        row("occurred_at", "created_at", DATETIME, FROM_REMOTE),
        row("attachments", "attachments", direction=FROM_REMOTE),
    ],
    "conversation": [
        row("subject", "subject", direction=FROM_REMOTE),
        row("status", "status", direction=FROM_REMOTE),
        row("channel", "channel", direction=FROM_REMOTE),
        row("assignee", "assignee", direction=FROM_REMOTE),
        row("opened_at", "created_at", DATETIME, FROM_REMOTE),
        row("last_message_at", "last_message_at", DATETIME, FROM_REMOTE),
    ],
}
