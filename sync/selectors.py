"""Reads of canonical records and the change feed, always scoped by sub-account."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from integrations.models import SubAccount
from sync.entities import entity_def
from sync.models import CanonicalRecord, Change

CHANGE_PAGE_MAX = 1000


def record_list(*, subaccount: SubAccount, entity: str, include_deleted: bool = False) -> QuerySet:
    """The sub-account's records of ``entity``; soft-deleted ones only when asked for."""
    records = entity_def(entity).model.objects.filter(subaccount=subaccount)
    return records if include_deleted else records.filter(is_deleted=False)


def record_get(
    *, subaccount: SubAccount, entity: str, pk: int, include_deleted: bool = False
) -> CanonicalRecord:
    """One record of the sub-account; another tenant's id (or a deleted one) raises Http404."""
    return get_object_or_404(
        record_list(subaccount=subaccount, entity=entity, include_deleted=include_deleted), pk=pk
    )


def change_list(*, subaccount: SubAccount, after: int, limit: int, entity: str | None = None) -> list[Change]:
    """Up to ``limit`` (≤ CHANGE_PAGE_MAX) changes with seq > ``after``, in seq order.

    A consumer keeps the last seq it processed and asks again with it; nothing is ever skipped
    because seq only grows.
    """
    changes = Change.objects.filter(subaccount=subaccount, seq__gt=after)
    if entity is not None:
        changes = changes.filter(entity=entity_def(entity).name)
    return list(changes.order_by("seq")[: max(1, min(limit, CHANGE_PAGE_MAX))])
