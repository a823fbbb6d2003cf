"""Default field mappings for Facebook Lead Ads (providers.md "Canonical field map"). Data only.

Leads only flow in: the contact from the standard form keys (first/last name split from
``full_name`` when the form asks only that), the activity from the synthesised "lead form
submitted" event. The contact keeps where it came from in provider-neutral custom fields: the
campaign, ad set, ad and form ids, and ``lead_source`` (the lead's ``platform``: ``fb`` is
facebook, ``ig`` instagram); the activity's body lists the ids too.
"""

from typing import Any

from connectors.mapping_rows import DATETIME, E164, FROM_REMOTE, LOWERCASE, TRIM, row

# Where a lead came from, as the platform's lead sources are named; another platform value is a
# lead from Meta all the same.
LEAD_SOURCE = {
    "name": "value_map",
    "args": {"map": {"fb": "facebook", "ig": "instagram"}, "default": "facebook"},
}
ATTRIBUTION = ("campaign_id", "adset_id", "ad_id", "form_id")

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "first_name", TRIM, FROM_REMOTE),
        row("last_name", "last_name", TRIM, FROM_REMOTE),
        row("email", "email", LOWERCASE, FROM_REMOTE),
        row("phone", "phone_number", E164, FROM_REMOTE),
        row("company_name", "company_name", TRIM, FROM_REMOTE),
        row("job_title", "job_title", TRIM, FROM_REMOTE),
        *(row(f"custom_fields.{name}", name, direction=FROM_REMOTE) for name in ATTRIBUTION),
        row("custom_fields.lead_source", "platform", LEAD_SOURCE, FROM_REMOTE),
    ],
    "activity": [
        row("kind", "_kind", direction=FROM_REMOTE),
        row("subject", "subject", direction=FROM_REMOTE),
        row("body", "body", direction=FROM_REMOTE),
        row("channel", "channel", direction=FROM_REMOTE),
        row("occurred_at", "created_time", DATETIME, FROM_REMOTE),
    ],
}
