"""Default field mappings for Zoho CRM (providers.md "Canonical field map"). Data only.

A contact's account, a deal's account and contact, and a task's or note's record are relations
(``relations.py``), not fields. Owners are Zoho user ids: they flow in only (the connector reads
``Owner`` as its id). Activities share one mapping for Tasks and Notes: ``_kind`` picks the module, and
a note shows its title and content as ``Subject`` and ``Description``. Dates (``Closing_Date``,
``Due_Date``) are ``YYYY-MM-DD``. With ``contact_module`` Leads, ``Title`` is the lead's ``Designation``.
"""

from typing import Any

from connectors.mapping_rows import DATE, E164, FROM_REMOTE, LOWERCASE, NUMBER, TRIM, row

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "First_Name", TRIM),
        row("last_name", "Last_Name", TRIM),
        row("email", "Email", LOWERCASE),
        row("phone", "Phone", E164),
        row("mobile_phone", "Mobile", E164),
        row("job_title", "Title"),
        row("owner_id", "Owner", direction=FROM_REMOTE),
    ],
    "company": [
        row("name", "Account_Name", TRIM),
        row("domain", "Website", LOWERCASE),
        row("phone", "Phone", E164),
        row("industry", "Industry"),
        row("owner_id", "Owner", direction=FROM_REMOTE),
    ],
    "deal": [
        row("name", "Deal_Name", TRIM),
        row("amount", "Amount", NUMBER),
        row("stage", "Stage"),
        row("pipeline", "Pipeline"),
        row("close_date", "Closing_Date", DATE),
        row("owner_id", "Owner", direction=FROM_REMOTE),
    ],
    "activity": [
        row("kind", "_kind"),
        row("subject", "Subject"),
        row("body", "Description"),
        row("status", "Status"),
        row("due_at", "Due_Date", DATE),
    ],
}
