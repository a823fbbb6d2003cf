"""The receiver's one write, and the worker's write of the events it reads out of what it filed.

The receiver is on the providers' clock (they time out and retry), so before its 2xx it does the
least that keeps the promise "acknowledged means durable": one INSERT of a narrow receipt
(``receipt_insert``: the integration, the time, one encrypted envelope of what was received),
built from a statement compiled once. In autocommit it commits at once; inside a caller's
transaction it simply joins it. The worker files receipts as deliveries (``inbound.parsing``).

The worker turns deliveries into events with ``events_insert``: one ``INSERT ... ON CONFLICT DO
NOTHING RETURNING`` for a whole batch, so the unique (integration, event id) constraint decides
what is a duplicate, concurrent repeats are safe, and the rows it returns say which delivery each
new event came from. Rows go in event-id order: two workers inserting overlapping events then take
the unique index's locks in the same order and cannot deadlock.
"""

# ruff: noqa: S608 -- SQL here is built from model metadata only; every value is a parameter.
from __future__ import annotations

import base64
import functools
from collections import Counter
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from integrations.crypto import encrypt_json
from webhooks.models import InboundEvent, InboundReceipt

# Rows per INSERT: keeps a statement under SQLite's limit on parameters (and PostgreSQL's sane).
EVENTS_PER_STATEMENT = 500


def receipt_insert(*, integration_id: int, headers: dict[str, str], body: object, remote_addr: str) -> int:
    """Store a verified POST as received, to be filed and parsed by a worker; returns the receipt's
    id. What was received (headers without credentials, the body, the sender's address) is
    encrypted here, as one envelope: it carries personal data and, for some providers, credentials."""
    envelope = encrypt_json({"headers": headers, "body": body, "remote_addr": remote_addr})
    with connection.cursor() as cursor:
        cursor.execute(_receipt_statement(), (integration_id, timezone.now(), envelope))
        return cursor.fetchone()[0]


@functools.cache
def _receipt_statement() -> str:
    qn, meta = connection.ops.quote_name, InboundReceipt._meta
    columns = ", ".join(
        qn(meta.get_field(name).column) for name in ("integration", "received_at", "envelope")
    )
    return f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES (%s, %s, %s) RETURNING {qn(meta.pk.column)}"


def events_insert(events: list[InboundEvent]) -> Counter[int]:
    """Insert those ``events`` new for their integration (each with its delivery and ``created_at``
    set); returns how many were stored per delivery id. Events repeated in the list count once."""
    if not events:
        return Counter()
    fields = _fields(InboundEvent)
    ordered = sorted(events, key=lambda e: (e.integration_id, e.event_id))
    stored: Counter[int] = Counter()
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), EVENTS_PER_STATEMENT):
            chunk = ordered[start : start + EVENTS_PER_STATEMENT]
            params = [f.get_db_prep_save(getattr(e, f.attname), connection) for e in chunk for f in fields]
            cursor.execute(_events_statement(len(chunk)), params)
            stored.update(row[0] for row in cursor.fetchall())
    return stored


@functools.cache
def _fields(model: type[Model]) -> tuple[Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key)


@functools.lru_cache(maxsize=32)
def _events_statement(n_events: int) -> str:
    qn, meta = connection.ops.quote_name, InboundEvent._meta
    fields = _fields(InboundEvent)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * n_events)} "
        f"ON CONFLICT ({qn('integration_id')}, {qn('event_id')}) DO NOTHING RETURNING {qn('delivery_id')}"
    )


def stored_body(body: bytes) -> str | dict[str, str]:
    """The body as kept (encrypted by the field): its text, or ``{"base64": ...}`` when it is not
    UTF-8, so the worker parses exactly the bytes that were verified (``body_bytes``)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}


def body_bytes(stored: Any) -> bytes:
    """The bytes ``stored_body`` kept."""
    if isinstance(stored, dict) and "base64" in stored:
        return base64.b64decode(stored["base64"])
    return str(stored or "").encode("utf-8")
