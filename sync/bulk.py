"""Fast inserts for the write path's hot spots: PostgreSQL COPY.

A full sync inserts three rows per new record (the record, its link, its Change). Django's
bulk_create spends most of its time preparing and array-encoding values in Python; COPY streams
rows instead. ``insert_rows`` takes model instances and gives them ids from the sequence (the
records, whose ids the links and Changes need); ``insert_values`` takes plain tuples and returns
nothing (links and Change rows: no instance is built at all). Encrypted fields (personal text and
JSON copies of it, such as a link's base) are encrypted and blind indexes computed here as save()
would (``integrations.fields``). Other databases (SQLite in the
embedded default) use bulk_create.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

from integrations.fields import EncryptedTextField, PiiJSONField


def _reader(field: models.Field) -> Callable[[models.Model], Any]:
    """How COPY reads one field off an instance, decided once per field, not once per value."""
    to_db = _value_adapter(field)  # personal data encrypted, other JSON dumped
    if to_db is not None:
        return lambda obj: to_db(getattr(obj, field.attname))
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, add=True)  # sets the time, as save() would
    if type(field).pre_save is not models.Field.pre_save and not isinstance(field, models.DateField):
        return lambda obj: field.pre_save(obj, add=True)  # a field that computes its value
    return operator.attrgetter(field.attname)


def insert_rows(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert new instances and set their primary keys, like bulk_create (no signals, no conflicts)."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = list(meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, meta.pk.attname, pk)
        columns = ", ".join(quote(f.column) for f in fields)
        readers = [_reader(f) for f in fields]
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([read(obj) for read in readers])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_values(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert plain rows: ``names`` are attribute names (``subaccount_id``), every column but the
    primary key, and each row holds their Python values in that order (JSON fields as Python data).
    No instances, no ids returned, no auto_now: give timestamps explicitly."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(names, row, strict=True))) for row in rows])
        return
    fields = [model._meta.get_field(name) for name in names]
    adapters = {i: _value_adapter(f) for i, f in enumerate(fields)}
    adapt = {i: to_db for i, to_db in adapters.items() if to_db is not None}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                if adapt:
                    row = list(row)
                    for i, to_db in adapt.items():
                        row[i] = to_db(row[i])
                copy.write_row(row)


def _value_adapter(field: models.Field) -> Callable[[Any], Any] | None:
    """How ``insert_values`` turns a column's Python value into what COPY writes (None: as it is).
    Personal data goes through the field (encrypted as save() would), other JSON is dumped."""
    if isinstance(field, EncryptedTextField | PiiJSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(field, models.JSONField):
        return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
    return None
