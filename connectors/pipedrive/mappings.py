"""Default field mappings for Pipedrive (providers.md "Canonical field map", Pipedrive v2). Data only.

Names are the connector's flat fields (``records.py``): ``email``/``phone`` are a person's primary
email and phone. Pipedrive derives ``first_name``/``last_name`` from ``name`` and does not take them
on writes, so they are read as they are and written through ``name`` (``split_name``: the full name
from the record's first and last name). Activities alias ``body`` onto ``note`` (activities) and
``content`` (notes); the connector drops the other object's fields on write. Our own id
(``external_id``), a company's domain and industry need custom fields, so they are left to user
mappings (by label) rather than shipped here.
"""

from typing import Any

from connectors.mapping_rows import DATE, E164, FROM_REMOTE, LOWERCASE, NUMBER, TO_REMOTE, TRIM, row

FIRST = {"name": "split_name", "args": {"part": "first"}}
LAST = {"name": "split_name", "args": {"part": "last"}}
KIND_MAP = {
    "name": "value_map",
    "args": {"map": {"note": "note", "task": "task", "call": "call", "email": "email", "meeting": "event"}},
}

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        row("first_name", "first_name", TRIM, FROM_REMOTE),
        row("last_name", "last_name", TRIM, FROM_REMOTE),
        row("first_name", "name", FIRST, TO_REMOTE),
        row("last_name", "name", LAST, TO_REMOTE),
        row("email", "email", LOWERCASE),
        row("phone", "phone", E164),
        row("owner_id", "owner_id", direction=FROM_REMOTE),
    ],
    "company": [
        row("name", "name", TRIM),
        row("owner_id", "owner_id", direction=FROM_REMOTE),
    ],
    "deal": [
        row("name", "title", TRIM),
        row("amount", "value", NUMBER),
        row("currency", "currency"),
        row("stage", "stage_id", direction=FROM_REMOTE),
        row("pipeline", "pipeline_id", direction=FROM_REMOTE),
        row("close_date", "expected_close_date", DATE),
        row("owner_id", "owner_id", direction=FROM_REMOTE),
    ],
    "activity": [
        row("kind", "_kind", KIND_MAP),
        row("subject", "subject"),
        row("body", "note"),
        row("body", "content"),
        row("due_at", "due_date", DATE),
    ],
}
