"""Default field mappings for Salesforce (providers.md "Canonical field map"). Data only.

Contacts are Salesforce Contacts or Leads (the integration's ``lead_mode``): one mapping serves both, and
the connector drops what the chosen object lacks. Notes map through the activity rows too: the connector
shows a note's title and body as ``Subject`` and ``Description``.

Owner ids are Salesforce User ids: they flow in, never out, because a local owner id means nothing to the
org. Activities share one mapping for Task and Event; ``_kind`` picks the object on create, and the
connector drops the fields the chosen object lacks (Event has no ``Status``, Task no
``ActivityDateTime``). Dates (``CloseDate``, ``ActivityDate``) are ``YYYY-MM-DD``. Our own id needs a
custom external-id field (e.g. ``External_Id__c``) in the org, so it is left to user mappings.
"""

from typing import Any

from connectors.mapping_rows import DATE, DATETIME, E164, FROM_REMOTE, LOWERCASE, NUMBER, TRIM, row

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "FirstName", TRIM),
        row("last_name", "LastName", TRIM),
        row("email", "Email", LOWERCASE),
        row("phone", "Phone", E164),
        row("mobile_phone", "MobilePhone", E164),
        row("job_title", "Title"),
        # Lead only (Contact has no Company: its account is the company_id relation); a Lead create
        # without one sends Salesforce's own placeholder, since Lead.Company is required.
        row("company_name", "Company", TRIM),
        # "lead" on Lead records (lead_mode "lead"/"both"); on creates in "both" mode it picks a Lead.
        row("lifecycle_stage", "_lifecycle"),
        row("owner_id", "OwnerId", direction=FROM_REMOTE),
    ],
    "company": [
        row("name", "Name", TRIM),
        row("domain", "Website", LOWERCASE),
        row("phone", "Phone", E164),
        row("industry", "Industry"),
        row("owner_id", "OwnerId", direction=FROM_REMOTE),
    ],
    "deal": [
        row("name", "Name", TRIM),
        row("amount", "Amount", NUMBER),
        row("stage", "StageName"),
        row("close_date", "CloseDate", DATE),
        row("owner_id", "OwnerId", direction=FROM_REMOTE),
    ],
    "activity": [
        row("kind", "_kind"),
        row("subject", "Subject"),
        row("body", "Description"),
        row("status", "Status"),
        row("due_at", "ActivityDate", DATE),
        row("occurred_at", "ActivityDateTime", DATETIME),
    ],
}
