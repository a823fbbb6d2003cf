"""Default field mappings for Salesforce (providers.md "Canonical field map"). Data only.

Contacts are Salesforce Contacts or Leads (the integration's ``lead_mode``): one mapping serves both, and
the connector drops what the chosen object lacks. Notes map through the activity rows too: the connector
shows a note's title and body as ``Subject`` and ``Description``.

Owner ids are Salesforce User ids: they flow in, never out, because a local owner id means nothing to the
org. Activities share one mapping for Task and Event; ``_kind`` picks the object on create, and the
connector drops the fields the chosen object lacks (Event has no ``Status``, Task no
``ActivityDateTime``). Dates (``CloseDate``, ``ActivityDate``) are ``YYYY-MM-DD``. Our own id needs a
custom external-id field (e.g. ``External_Id__c``) in the org, so it is left to user mappings.

A chat message (activity kind "message") is a Task the connector marks ``Type = "Message"`` so it reads
back as a message; its status (received, read, ...) has no Task counterpart and is neither sent nor read.

Conversations are Cases. Status and Origin use the ``options`` transform, which passes values the map
does not name through unchanged both ways (``value_map`` would refuse them or fold them into one default):
an org's own Case statuses and origins read in as they are and round-trip, and a channel Salesforce has no
Origin for (``telegram``) is stored as sent, Origin being an unrestricted picklist. The default statuses
New, Working, Escalated and Closed read as open, pending, open and closed; open, pending and closed are
written as New, Working and Closed. "pending" (waiting on the customer) has no default Case status:
Working, a case someone has picked up, is the nearest. Opened and closed times come from Salesforce only
(CreatedDate, ClosedDate, which it sets when a case is closed).
"""

from typing import Any

from connectors.mapping_rows import DATE, DATETIME, E164, FROM_REMOTE, LOWERCASE, NUMBER, TRIM, row

# Case.Status values → canonical conversation statuses; the first value of a status is the one written.
CASE_STATUS = {
    "name": "options",
    "args": {"map": {"New": "open", "Working": "pending", "Escalated": "open", "Closed": "closed"}},
}
# Case.Origin values → canonical channels (Phone, Email and Web are a default org's; the rest are written
# and read back as they are, Origin being unrestricted).
CASE_ORIGIN = {
    "name": "options",
    "args": {
        "map": {
            "Phone": "phone",
            "Email": "email",
            "Web": "web",
            "WhatsApp": "whatsapp",
            "SMS": "sms",
            "Facebook": "facebook",
            "Instagram": "instagram",
            "Chat": "chat",
        }
    },
}
CASE_PRIORITY = {"name": "options", "args": {"map": {"High": "high", "Medium": "medium", "Low": "low"}}}

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
    "conversation": [
        row("subject", "Subject"),
        row("status", "Status", CASE_STATUS),
        row("channel", "Origin", CASE_ORIGIN),
        row("priority", "Priority", CASE_PRIORITY),
        row("opened_at", "CreatedDate", DATETIME, direction=FROM_REMOTE),
        row("closed_at", "ClosedDate", DATETIME, direction=FROM_REMOTE),
    ],
}
