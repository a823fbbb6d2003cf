"""Fast inserts for the sync engine's hot path: PostgreSQL COPY with ids taken from the sequence.

A full sync inserts three rows per new record (the record, its link, its Change). Django's
bulk_create spends most of its time preparing and array-encoding values in Python; COPY streams
rows instead. Other databases (SQLite in the embedded default) use bulk_create.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models


def _copy_value(field: models.Field, obj: models.Model):
    value = field.pre_save(obj, add=True)  # auto_now / auto_now_add and friends
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder)
    return value


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
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([_copy_value(f, obj) for f in fields])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
