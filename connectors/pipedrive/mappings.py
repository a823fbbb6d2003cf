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

BOTH, FROM_REMOTE, TO_REMOTE = "both", "from_remote", "to_remote"


def _row(
    local: str, remote: str, transform: dict[str, Any] | None = None, direction: str = BOTH
) -> dict[str, Any]:
    return {"local": local, "remote": remote, "direction": direction, "transform": transform}


LOWERCASE = {"name": "lowercase", "args": {}}
TRIM = {"name": "trim", "args": {}}
E164 = {"name": "e164", "args": {}}
NUMBER = {"name": "number", "args": {}}
DATE = {"name": "date_format", "args": {"format": "date"}}
FIRST = {"name": "split_name", "args": {"part": "first"}}
LAST = {"name": "split_name", "args": {"part": "last"}}
KIND_MAP = {
    "name": "value_map",
    "args": {"map": {"note": "note", "task": "task", "call": "call", "email": "email", "meeting": "event"}},
}

DEFAULT_MAPPINGS: dict[str, list[dict[str, Any]]] = {
    "contact": [
        _row("first_name", "first_name", TRIM, FROM_REMOTE),
        _row("last_name", "last_name", TRIM, FROM_REMOTE),
        _row("first_name", "name", FIRST, TO_REMOTE),
        _row("last_name", "name", LAST, TO_REMOTE),
        _row("email", "email", LOWERCASE),
        _row("phone", "phone", E164),
        _row("owner_id", "owner_id", direction=FROM_REMOTE),
    ],
    "company": [
        _row("name", "name", TRIM),
        _row("owner_id", "owner_id", direction=FROM_REMOTE),
    ],
    "deal": [
        _row("name", "title", TRIM),
        _row("amount", "value", NUMBER),
        _row("currency", "currency"),
        _row("stage", "stage_id", direction=FROM_REMOTE),
        _row("pipeline", "pipeline_id", direction=FROM_REMOTE),
        _row("close_date", "expected_close_date", DATE),
        _row("owner_id", "owner_id", direction=FROM_REMOTE),
    ],
    "activity": [
        _row("kind", "_kind", KIND_MAP),
        _row("subject", "subject"),
        _row("body", "note"),
        _row("body", "content"),
        _row("due_at", "due_date", DATE),
    ],
}
