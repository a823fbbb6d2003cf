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

BOTH, FROM_REMOTE = "both", "from_remote"


def _row(
    local: str, remote: str, transform: dict[str, Any] | None = None, direction: str = BOTH
) -> dict[str, Any]:
    return {"local": local, "remote": remote, "direction": direction, "transform": transform}


LOWERCASE = {"name": "lowercase", "args": {}}
TRIM = {"name": "trim", "args": {}}
E164 = {"name": "e164", "args": {}}
NUMBER = {"name": "number", "args": {}}
DATE = {"name": "date_format", "args": {"format": "date"}}
DATETIME = {"name": "date_format", "args": {"format": "iso"}}

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        _row("first_name", "FirstName", TRIM),
        _row("last_name", "LastName", TRIM),
        _row("email", "Email", LOWERCASE),
        _row("phone", "Phone", E164),
        _row("mobile_phone", "MobilePhone", E164),
        _row("job_title", "Title"),
        # Lead only (Contact has no Company: its account is the company_id relation); a Lead create
        # without one sends Salesforce's own placeholder, since Lead.Company is required.
        _row("company_name", "Company", TRIM),
        # "lead" on Lead records (lead_mode "lead"/"both"); on creates in "both" mode it picks a Lead.
        _row("lifecycle_stage", "_lifecycle"),
        _row("owner_id", "OwnerId", direction=FROM_REMOTE),
    ],
    "company": [
        _row("name", "Name", TRIM),
        _row("domain", "Website", LOWERCASE),
        _row("phone", "Phone", E164),
        _row("industry", "Industry"),
        _row("owner_id", "OwnerId", direction=FROM_REMOTE),
    ],
    "deal": [
        _row("name", "Name", TRIM),
        _row("amount", "Amount", NUMBER),
        _row("stage", "StageName"),
        _row("close_date", "CloseDate", DATE),
        _row("owner_id", "OwnerId", direction=FROM_REMOTE),
    ],
    "activity": [
        _row("kind", "_kind"),
        _row("subject", "Subject"),
        _row("body", "Description"),
        _row("status", "Status"),
        _row("due_at", "ActivityDate", DATE),
        _row("occurred_at", "ActivityDateTime", DATETIME),
    ],
}
