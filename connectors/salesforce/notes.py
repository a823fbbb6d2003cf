"""Notes as activities: ContentNote (Lightning notes, the default) or the classic Note.

The shared activity mapping speaks ``Subject`` and ``Description``; a note has a ``Title`` and a body:
ContentNote's ``Content`` is a blob (base64 in JSON when written; a query shows only the URL its bytes are
read from, ``sObject Blob Get``), the classic Note's ``Body`` is plain text. Reading adds the mapping's names
with the body as text; writing sends the title and body only, the note's objects having no other fields
the mapping fills.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from connectors.salesforce.client import SalesforceClient

UNTITLED = "Untitled Note"  # what Salesforce calls a note saved without a title


def read(client: SalesforceClient, remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The note's title and body under the mapping's names (ContentNote's body fetched as text)."""
    if remote_type == "ContentNote":
        location = fields.get("Content")
        text = client.blob(str(location)).decode("utf-8", errors="replace") if location else ""
        return {"Content": text, "Subject": fields.get("Title"), "Description": text}
    return {"Subject": fields.get("Title"), "Description": fields.get("Body")}


def payload(remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A note's create or update fields from an activity payload (only the keys it carries)."""
    out: dict[str, Any] = {}
    title = fields.get("Title", fields.get("Subject"))
    if "Title" in fields or "Subject" in fields:
        out["Title"] = title or UNTITLED
    if "Content" in fields or "Description" in fields:
        body = fields.get("Description", fields.get("Content"))
        body = "" if body is None else str(body)
        if remote_type == "ContentNote":
            out["Content"] = base64.b64encode(body.encode()).decode() if body else None
        else:
            out["Body"] = body or None
    if remote_type == "Note" and "IsPrivate" in fields:
        out["IsPrivate"] = bool(fields["IsPrivate"])
    return out
