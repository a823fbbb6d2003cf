"""Salesforce REST over HTTP: error bodies, the daily-limit 403, paging, and the wire vocabulary.

Raw calls return Salesforce's own dicts; ``connector.py`` turns them into RemoteRecords. The small helpers
at the top (ids, datetimes, key prefixes, activity kinds) are wire facts shared with ``webhooks.py`` and the
emulator, so the emulator and the connector can never disagree about them.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urljoin

import requests

from config.logging import redact
from connectors.base import PermanentError, RateLimited, TransientError
from connectors.http import ERROR_EXCERPT, ProviderClient, json_or_empty

API_VERSION = "v62.0"
COMPOSITE_LIMIT = 200  # sObject Collections take at most 200 records per call
QUERY_BATCH_MIN, QUERY_BATCH_MAX = 200, 2000
# Salesforce says "slow down" with 403 REQUEST_LIMIT_EXCEEDED in two cases. The daily API budget
# ("TotalRequests Limit exceeded.") is a rolling 24 h: retrying within seconds only burns attempts, so
# pause for an hour. Too many concurrent long-running requests ("ConcurrentPerOrgLongTxn Limit exceeded.")
# clears as soon as one finishes: retry shortly.
DAILY_LIMIT_RETRY_AFTER = 3600.0
CONCURRENCY_RETRY_AFTER = 2.0

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Case": "500",
    "Lead": "00Q",
    "Task": "00T",
    "Event": "00U",
    "OpportunityContactRole": "00K",
    "Note": "002",
    "ContentNote": "069",  # a ContentNote's id is its ContentDocument's id
    "ContentDocumentLink": "06A",
}
TYPE_BY_PREFIX = {prefix: name for name, prefix in KEY_PREFIXES.items()}

_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def case_safe_id(id15: str) -> str:
    """The 18-char case-safe form of a 15-char id (Salesforce's documented checksum suffix)."""
    suffix = ""
    for chunk in range(3):
        flags = sum(
            1 << bit for bit, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if "A" <= char <= "Z"
        )
        suffix += _SUFFIX_ALPHABET[flags]
    return id15 + suffix


def normalize_id(value: Any) -> str | None:
    """The 18-char id for a 15- or 18-char id, or None when ``value`` is not a well-formed id."""
    text = str(value or "")
    if not _ID.match(text):
        return None
    full = case_safe_id(text[:15])
    # An 18-char id whose suffix does not match was mistyped (or its case was changed).
    return full if len(text) == 15 or full == text else None


def type_of_id(value: str) -> str | None:
    return TYPE_BY_PREFIX.get(value[:3])


def format_datetime(value: datetime) -> str:
    """Salesforce's wire form: ``2024-01-01T10:00:00.000+0000`` (UTC, milliseconds)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def soql_datetime(value: datetime) -> str:
    """An unquoted SOQL datetime literal: ``2024-01-01T10:00:00.000Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_SOQL_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def soql_string(value: str) -> str:
    """A quoted SOQL string literal, with Salesforce's backslash escapes (never string-built SOQL injection)."""
    return "'" + "".join(_SOQL_ESCAPES.get(char, char) for char in value) + "'"


def parse_datetime(value: Any) -> datetime | None:
    """A Salesforce datetime (``...000+0000``, ``...Z`` or ``+00:00``) as aware UTC; None if absent/bad."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# Activities: Salesforce has Task (with TaskSubtype Task/Call/Email), Event, and notes (ContentNote, or the
# classic Note); canonical kinds are finer.
TASK_SUBTYPES = {"call": "Call", "email": "Email"}
_KIND_BY_SUBTYPE = {subtype: kind for kind, subtype in TASK_SUBTYPES.items()}
EVENT_KINDS = frozenset({"event", "meeting"})
TASK_KINDS = frozenset({"task", "call", "email", "message"})
NOTE_OBJECTS = ("ContentNote", "Note")
# A chat message (kind "message") is a Task whose Type is "Message". Salesforce has no message activity
# and TaskSubtype (restricted, fixed on insert) has no such value; Task.Type is an unrestricted picklist,
# so the mark is stored as sent and the kind reads back as "message" instead of turning into "task".
MESSAGE_TYPE = "Message"
# A message's own status (received, sent, read) is no Task status (a restricted picklist): a message's
# Task is "Completed" (it has happened), and Task.Status is neither sent from a message nor read into one.
MESSAGE_TASK_STATUS = "Completed"


def activity_kind(remote_type: str, fields: Mapping[str, Any]) -> str:
    """The synthetic ``_kind`` of a Task, Event or note record."""
    if remote_type == "Event":
        return "event"
    if remote_type in NOTE_OBJECTS:
        return "note"
    subtype = str(fields.get("TaskSubtype") or "")
    if subtype in _KIND_BY_SUBTYPE:
        return _KIND_BY_SUBTYPE[subtype]
    return "message" if fields.get("Type") == MESSAGE_TYPE else "task"


def activity_fields(remote_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """An activity record's fields as the mapping reads them: with its ``_kind``, and without a message
    Task's Status (always "Completed", it says nothing about the message: the local status is kept)."""
    out = dict(fields)
    out["_kind"] = activity_kind(remote_type, out)
    if out["_kind"] == "message":
        out.pop("Status", None)
    return out


def remote_type_for_kind(kind: str, *, note_object: str = "ContentNote") -> str | None:
    """Task, Event or the org's note object for a canonical activity kind; None when Salesforce has no
    place for it."""
    kind = (kind or "task").lower()
    if kind in EVENT_KINDS:
        return "Event"
    if kind in TASK_KINDS:
        return "Task"
    if kind == "note":
        return note_object
    return None


# --- the HTTP client ------------------------------------------------------------------------------


class QueryPage(NamedTuple):
    """One query response and the server's clock when it answered (from the Date header)."""

    body: dict[str, Any]
    server_time: datetime | None


class SalesforceClient(ProviderClient):
    """One org's REST API at ``{instance_url}/services/data/{version}``."""

    provider = "salesforce"

    # --- error mapping ----------------------------------------------------------------------------

    def error_message(self, resp: requests.Response) -> str:
        body = json_or_empty(resp)
        if isinstance(body, list) and body and isinstance(body[0], dict):
            parts = [f"{e.get('errorCode', '')}: {e.get('message', '')}".strip(": ") for e in body[:3]]
            return redact("; ".join(parts))[:ERROR_EXCERPT]
        return super().error_message(resp)

    def raise_for_response(self, resp: requests.Response) -> None:
        if resp.status_code == 403 and self.error_code(resp) == "REQUEST_LIMIT_EXCEEDED":
            message = self.error_message(resp)
            if "TotalRequests" in message:
                raise RateLimited(
                    f"salesforce daily API limit reached: {message}",
                    retry_after=DAILY_LIMIT_RETRY_AFTER,
                    status=403,
                )
            raise RateLimited(
                f"salesforce request limit: {message}", retry_after=CONCURRENCY_RETRY_AFTER, status=403
            )
        if resp.status_code == 300:
            raise PermanentError(
                "salesforce found several records with that external id", status=300, code="MULTIPLE_CHOICES"
            )
        super().raise_for_response(resp)

    # --- raw calls --------------------------------------------------------------------------------

    def query_pages(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Iterator[QueryPage]:
        """Run SOQL (``queryAll`` when ``include_deleted``) and yield every page, following nextRecordsUrl."""
        headers = {}
        if batch_size:
            size = min(max(batch_size, QUERY_BATCH_MIN), QUERY_BATCH_MAX)
            headers["Sforce-Query-Options"] = f"batchSize={size}"
        resp = self.request(
            "GET", "/queryAll/" if include_deleted else "/query/", params={"q": soql}, headers=dict(headers)
        )
        while True:
            body = json_or_empty(resp)
            if not isinstance(body, dict):
                raise TransientError("salesforce answered a query with an unreadable body")
            yield QueryPage(body, _server_time(resp))
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            # nextRecordsUrl is host-relative (it carries the full path): join it to the instance host.
            resp = self.request("GET", urljoin(self.base_url, next_url), headers=dict(headers))

    def composite_create(self, records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict]:
        """POST /composite/sobjects: records carry ``attributes.type``; one result per record, in order."""
        return self._collection("POST", records, all_or_none)

    def composite_update(self, records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict]:
        """PATCH /composite/sobjects: records carry ``attributes.type`` and ``Id``."""
        return self._collection("PATCH", records, all_or_none)

    def composite_delete(self, ids: list[str], *, all_or_none: bool = False) -> list[dict]:
        """DELETE /composite/sobjects?ids=...: to the Recycle Bin; one result per id, in order."""
        self._check_cap(ids)
        resp = self.request(
            "DELETE",
            "/composite/sobjects",
            params={"ids": ",".join(ids), "allOrNone": str(all_or_none).lower()},
        )
        return self._results(resp, len(ids))

    def updated(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        return self.get_json(f"/sobjects/{sobject}/updated/", params=_window(start, end))

    def deleted(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """``{"deletedRecords": [{"id", "deletedDate"}], "earliestDateAvailable", "latestDateCovered"}``."""
        return self.get_json(f"/sobjects/{sobject}/deleted/", params=_window(start, end))

    def blob(self, location: str) -> bytes:
        """sObject Blob Get: a blob field's bytes, from the host-relative URL a query shows for it."""
        return self.request("GET", urljoin(self.base_url, location)).content

    def limits(self) -> dict[str, Any]:
        return self.get_json("/limits/")

    def _collection(self, method: str, records: list[dict[str, Any]], all_or_none: bool) -> list[dict]:
        self._check_cap(records)
        resp = self.request(
            method, "/composite/sobjects", json={"allOrNone": all_or_none, "records": records}
        )
        return self._results(resp, len(records))

    @staticmethod
    def _check_cap(items: list[Any]) -> None:
        if len(items) > COMPOSITE_LIMIT:
            raise ValueError(f"sObject Collections take at most {COMPOSITE_LIMIT} records, got {len(items)}")

    @staticmethod
    def _results(resp: requests.Response, expected: int) -> list[dict]:
        body = json_or_empty(resp)
        if not isinstance(body, list) or len(body) != expected:
            # The write may have happened: never retry it blindly (duplicates), surface it instead.
            raise PermanentError(
                f"salesforce answered a collection call of {expected} records unexpectedly",
                status=resp.status_code,
                code="UNEXPECTED_RESPONSE",
            )
        return body


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {
        "start": start.astimezone(UTC).isoformat(timespec="seconds"),
        "end": end.astimezone(UTC).isoformat(timespec="seconds"),
    }


def _server_time(resp: requests.Response) -> datetime | None:
    value = resp.headers.get("Date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
