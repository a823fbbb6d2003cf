"""Reads of canonical records and the change feed, always scoped by sub-account."""

from django.db.models import QuerySet

from integrations.models import SubAccount
from sync.entities import entity_def
from sync.models import Change

CHANGE_PAGE_MAX = 1000


def record_list(*, subaccount: SubAccount, entity: str, include_deleted: bool = False) -> QuerySet:
    """The sub-account's records of ``entity``; soft-deleted ones only when asked for."""
    records = entity_def(entity).model.objects.filter(subaccount=subaccount)
    return records if include_deleted else records.filter(is_deleted=False)


def change_list(*, subaccount: SubAccount, after: int, limit: int, entity: str | None = None) -> list[Change]:
    """Up to ``limit`` (≤ CHANGE_PAGE_MAX) changes with seq > ``after``, in seq order.

    A consumer keeps the last seq it processed and asks again with it; nothing is ever skipped
    because seq only grows.
    """
    changes = Change.objects.filter(subaccount=subaccount, seq__gt=after)
    if entity is not None:
        changes = changes.filter(entity=entity_def(entity).name)
    return list(changes.order_by("seq")[: max(1, min(limit, CHANGE_PAGE_MAX))])
