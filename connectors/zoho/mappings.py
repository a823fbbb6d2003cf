"""Default field mappings for Zoho CRM (providers.md "Canonical field map"). Data only.

A contact's account, a deal's account and contact, and a task's or note's record are relations
(``relations.py``), not fields. Owners are Zoho user ids: they flow in only (the connector reads
``Owner`` as its id). Activities share one mapping for Tasks and Notes: ``_kind`` picks the module, and
a note shows its title and content as ``Subject`` and ``Description``. Dates (``Closing_Date``,
``Due_Date``) are ``YYYY-MM-DD``. With ``contact_module`` Leads, ``Title`` is the lead's ``Designation``.
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

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        _row("first_name", "First_Name", TRIM),
        _row("last_name", "Last_Name", TRIM),
        _row("email", "Email", LOWERCASE),
        _row("phone", "Phone", E164),
        _row("mobile_phone", "Mobile", E164),
        _row("job_title", "Title"),
        _row("owner_id", "Owner", direction=FROM_REMOTE),
    ],
    "company": [
        _row("name", "Account_Name", TRIM),
        _row("domain", "Website", LOWERCASE),
        _row("phone", "Phone", E164),
        _row("industry", "Industry"),
        _row("owner_id", "Owner", direction=FROM_REMOTE),
    ],
    "deal": [
        _row("name", "Deal_Name", TRIM),
        _row("amount", "Amount", NUMBER),
        _row("stage", "Stage"),
        _row("pipeline", "Pipeline"),
        _row("close_date", "Closing_Date", DATE),
        _row("owner_id", "Owner", direction=FROM_REMOTE),
    ],
    "activity": [
        _row("kind", "_kind"),
        _row("subject", "Subject"),
        _row("body", "Description"),
        _row("status", "Status"),
        _row("due_at", "Due_Date", DATE),
    ],
}
