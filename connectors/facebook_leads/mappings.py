"""Default field mappings for Facebook Lead Ads (providers.md "Canonical field map"). Data only.

Leads only flow in: the contact from the standard form keys (first/last name split from
``full_name`` when the form asks only that), the activity from the synthesised "lead form
submitted" event. The ad, ad set, campaign and form ids are remote fields of both (map them to
custom fields to keep them on the contact); the activity's body lists them too.
"""

from typing import Any

from connectors.mapping_rows import DATETIME, E164, FROM_REMOTE, LOWERCASE, TRIM, row

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "first_name", TRIM, FROM_REMOTE),
        row("last_name", "last_name", TRIM, FROM_REMOTE),
        row("email", "email", LOWERCASE, FROM_REMOTE),
        row("phone", "phone_number", E164, FROM_REMOTE),
        row("company_name", "company_name", TRIM, FROM_REMOTE),
        row("job_title", "job_title", TRIM, FROM_REMOTE),
    ],
    "activity": [
        row("kind", "_kind", direction=FROM_REMOTE),
        row("subject", "subject", direction=FROM_REMOTE),
        row("body", "body", direction=FROM_REMOTE),
        row("channel", "channel", direction=FROM_REMOTE),
        row("occurred_at", "created_time", DATETIME, FROM_REMOTE),
    ],
}
