"""Claiming a batch of rows for one worker in one statement: the one way work is handed out.

A claim is an UPDATE that marks rows as taken (a status, a lock time, an owner: whatever columns
the caller names) and returns the ids it changed. A row is the caller's only if that very
statement changed it, so two workers never get the same row. Inbound events, outbound
deliveries and failed sync records are claimed this way, and so will enrichment jobs be.

Two paths, one promise:

- ``rows_claim_skip_locked`` (PostgreSQL, and any backend with FOR UPDATE SKIP LOCKED)::

      UPDATE t SET ... WHERE id IN (SELECT id FROM t WHERE <condition> ORDER BY ... LIMIT n
                                    FOR UPDATE OF t SKIP LOCKED) RETURNING id

  Rows another worker is claiming right now are skipped rather than waited for, so concurrent
  workers take disjoint batches without queueing behind each other.

- ``rows_claim_recheck`` (the portable fallback, used on SQLite): read up to ``limit`` candidate
  ids, then ``UPDATE ... WHERE id IN (candidates) AND <condition> RETURNING id``. The UPDATE
  re-checks the condition, so a candidate another worker claimed in between is not changed, and
  RETURNING says which rows this statement did get (possibly fewer than asked). SQLite runs one
  writer at a time, so the re-check sees every earlier claim. On PostgreSQL it is exact for
  conditions on the row's own columns (a concurrent update is re-evaluated against the new row
  version); it is tested there too, but the skip-locked path is the one used.

The condition must stop matching once the columns are set (e.g. ``locked_until`` in the future,
``status`` no longer pending), otherwise the next claim takes the same rows again.

A queue whose rows are consumed rather than marked (the receiver's inbound receipts) is taken with
``rows_take``: the same promise, kept by a DELETE that returns the ids it removed. The oldest rows
are read (FOR UPDATE SKIP LOCKED where there is one, so concurrent takers read disjoint rows), then
deleted; a row is the caller's only if its DELETE removed it, which is the re-check that makes the
portable path exact too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, Q, QuerySet
from django.db.models.sql import UpdateQuery


def rows_claim(
    rows: QuerySet | type[Model],
    *,
    where: Q,
    order_by: Sequence[Any],
    limit: int,
    values: Mapping[str, Any],
) -> list[Any]:
    """Claim up to ``limit`` of ``rows`` matching ``where``, first by ``order_by``; set ``values``.

    ``rows`` is a model or a queryset narrowing it (e.g. one integration's); ``values`` are the
    columns to set, as for ``QuerySet.update`` (F() expressions allowed). Returns the primary keys
    this call claimed, in no particular order: fewer than ``limit`` when fewer matched or other
    workers took some. Runs in its own transaction (or the caller's).
    """
    queryset = _queryset(rows)
    connection = connections[queryset.db]
    if connection.features.has_select_for_update_skip_locked:
        return rows_claim_skip_locked(queryset, where=where, order_by=order_by, limit=limit, values=values)
    return rows_claim_recheck(queryset, where=where, order_by=order_by, limit=limit, values=values)


def rows_claim_skip_locked(
    rows: QuerySet | type[Model],
    *,
    where: Q,
    order_by: Sequence[Any],
    limit: int,
    values: Mapping[str, Any],
) -> list[Any]:
    """``rows_claim`` in one UPDATE over a FOR UPDATE SKIP LOCKED sub-select (PostgreSQL)."""
    queryset = _queryset(rows)
    if limit <= 0:
        return []
    chosen = (
        queryset.filter(where)
        .order_by(*order_by)
        .select_for_update(skip_locked=True, of=("self",))
        .values("pk")[:limit]
    )
    with transaction.atomic(using=queryset.db):
        return _update_returning(
            queryset.model._base_manager.using(queryset.db).filter(pk__in=chosen), values
        )


def rows_claim_recheck(
    rows: QuerySet | type[Model],
    *,
    where: Q,
    order_by: Sequence[Any],
    limit: int,
    values: Mapping[str, Any],
) -> list[Any]:
    """``rows_claim`` for backends without SKIP LOCKED (SQLite): candidates, then a re-checking UPDATE."""
    queryset = _queryset(rows)
    if limit <= 0:
        return []
    candidates = list(queryset.filter(where).order_by(*order_by).values_list("pk", flat=True)[:limit])
    if not candidates:
        return []
    with transaction.atomic(using=queryset.db):
        claimed = _update_returning(queryset.filter(where, pk__in=candidates), values)
    position = {pk: i for i, pk in enumerate(candidates)}
    return sorted(claimed, key=position.__getitem__)


def rows_take(model: type[Model], *, limit: int, fields: Sequence[Any]) -> list[tuple]:
    """Delete up to ``limit`` of ``model``'s rows, lowest primary key first, and return their
    ``fields`` (names or expressions, as for ``values_list``) as tuples, in primary-key order: a
    queue's take. Only rows this call's DELETE removed are returned; inside the caller's
    transaction a rollback puts them back."""
    if limit <= 0:
        return []
    queryset = _queryset(model)
    connection = connections[queryset.db]
    candidates = queryset.order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    with transaction.atomic(using=queryset.db):
        rows = list(candidates.values_list("pk", *fields)[:limit])
        if not rows:
            return []
        meta, qn = model._meta, connection.ops.quote_name
        placeholders = ", ".join(["%s"] * len(rows))
        with connection.cursor() as cursor:
            # Names from the model's metadata; every value is a parameter.
            cursor.execute(
                f"DELETE FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} IN ({placeholders}) "  # noqa: S608
                f"RETURNING {qn(meta.pk.column)}",
                [row[0] for row in rows],
            )
            deleted = {row[0] for row in cursor.fetchall()}
    return [row[1:] for row in rows if row[0] in deleted]


def _queryset(rows: QuerySet | type[Model]) -> QuerySet:
    """A queryset bound to the database claims write to (the router's choice unless pinned)."""
    queryset = rows._base_manager.all() if isinstance(rows, type) else rows
    return queryset.using(queryset._db or router.db_for_write(queryset.model))


def _update_returning(queryset: QuerySet, values: Mapping[str, Any]) -> list[Any]:
    """``queryset.update(**values)``, returning the primary keys of the rows it changed."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(dict(values))
    query.annotations = {}
    connection = connections[queryset.db]
    sql, params = query.get_compiler(connection=connection).as_sql()
    if not sql:
        raise ValueError("rows_claim needs at least one column to set")
    pk = connection.ops.quote_name(queryset.model._meta.pk.column)
    with connection.cursor() as cursor:
        # The ORM's own UPDATE with RETURNING added: every value is a parameter.
        cursor.execute(f"{sql} RETURNING {pk}", params)
        return [row[0] for row in cursor.fetchall()]
