"""Default field mappings for AITable (providers.md §4 and "Canonical field map"). Data only.

AITable columns are whatever the user named them: these rows fit the seed's Leads datasheet
(``Client Name``, ``Email``, ``Phone``, ``Company``, ``Status``) and plainly named Companies, Deals
and Activities datasheets (the emulator's default space has all four); the user re-maps them on the
Field mappings tab. ``Client Name`` holds the full name: read, it splits
into first and last name; written, both join back (``split_name``). Date columns travel as epoch
milliseconds; an activity's kind is its ``Kind`` select column.
"""

from typing import Any

from connectors.mapping_rows import E164, EPOCH_MS, EPOCH_MS_DATE, LOWERCASE, NUMBER, TRIM, row

FIRST = {"name": "split_name", "args": {"part": "first"}}
LAST = {"name": "split_name", "args": {"part": "last"}}

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "Client Name", FIRST),
        row("last_name", "Client Name", LAST),
        row("email", "Email", LOWERCASE),
        row("phone", "Phone", E164),
        row("company_name", "Company", TRIM),
        row("lifecycle_stage", "Status"),
    ],
    "company": [
        row("name", "Name", TRIM),
        row("domain", "Website", LOWERCASE),
        row("phone", "Phone", E164),
        row("industry", "Industry"),
    ],
    "deal": [
        row("name", "Deal", TRIM),
        row("amount", "Amount", NUMBER),
        row("stage", "Stage"),
        row("close_date", "Close Date", EPOCH_MS_DATE),
    ],
    "activity": [
        row("subject", "Subject", TRIM),
        row("body", "Notes"),
        row("status", "Status"),
        row("due_at", "Due Date", EPOCH_MS),
        row("kind", "Kind"),
    ],
}
