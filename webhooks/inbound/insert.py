"""The receiver's one write, and the worker's write of the events it reads out of it.

The receiver is on the providers' clock (they time out and retry), so before its 2xx it does the
least that keeps the promise "acknowledged means durable": one INSERT of the verified delivery as
received (``delivery_insert``), built from a statement compiled once and values adapted by hand
(the ORM's per-field preparation cost more than the rest of the request). In autocommit it commits
at once; inside a caller's transaction it simply joins it.

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
import json
from collections import Counter
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from integrations.crypto import encrypt_json
from webhooks.models import InboundDelivery, InboundEvent

# Rows per INSERT: keeps a statement under SQLite's limit on parameters (and PostgreSQL's sane).
EVENTS_PER_STATEMENT = 500
# The columns the receiver writes: those given per delivery are parameters, in this order; the rest
# are the same for every verified POST and go in the statement as literals (fewer values to adapt).
_DELIVERY_PARAMETERS = (
    "subaccount_id",
    "integration_id",
    "provider",
    "headers",
    "body",
    "remote_addr",
    "received_at",
)
_DELIVERY_CONSTANTS = {
    "method": "POST",
    "verified": True,
    "outcome": InboundDelivery.Outcome.ACCEPTED.value,
    "reason": "",
    "events": 0,
    "duplicates": 0,
    "parse_status": InboundDelivery.ParseStatus.PENDING.value,
}


def delivery_insert(
    *,
    subaccount_id: int,
    integration_id: int,
    provider: str,
    headers: dict[str, str],
    body: object,
    remote_addr: str | None,
) -> int:
    """Store a verified POST, to be parsed by a worker; returns its id. The body is encrypted here."""
    if connection.vendor != "postgresql":
        return _delivery_insert_portable(
            subaccount_id=subaccount_id,
            integration_id=integration_id,
            provider=provider,
            headers=headers,
            body=body,
            remote_addr=remote_addr,
        )
    params = (
        subaccount_id,
        integration_id,
        provider,
        json.dumps(headers),
        encrypt_json(body),
        remote_addr,
        timezone.now(),
    )
    with connection.cursor() as cursor:
        cursor.execute(_delivery_statement(), params)
        return cursor.fetchone()[0]


def _delivery_insert_portable(**fields) -> int:
    delivery = InboundDelivery(
        method="POST",
        verified=True,
        outcome=InboundDelivery.Outcome.ACCEPTED,
        parse_status=InboundDelivery.ParseStatus.PENDING,
        **fields,
    )
    delivery.save(force_insert=True)
    return delivery.pk


@functools.cache
def _delivery_statement() -> str:
    qn, meta = connection.ops.quote_name, InboundDelivery._meta
    columns = [meta.get_field(name.removesuffix("_id")).column for name in _DELIVERY_PARAMETERS]
    values = ["CAST(%s AS jsonb)" if name == "headers" else "%s" for name in _DELIVERY_PARAMETERS]
    for name, value in _DELIVERY_CONSTANTS.items():
        columns.append(meta.get_field(name).column)
        values.append(_literal(value))
    return (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
        f"VALUES ({', '.join(values)}) RETURNING {qn(meta.pk.column)}"
    )


def _literal(value: str | bool | int) -> str:
    """A constant of our own as SQL (never a value from a request)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


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
