"""Reads of canonical records and the change feed, always scoped by sub-account."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.models import Integration, SubAccount
from sync.entities import ENTITIES, entity_def
from sync.models import Change, Conflict, EntityLink, SyncRecordError, SyncRun

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


def record_links(*, entity: str, record_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each record's links to integrations: integration (id, name), provider, remote id, last synced
    and the newest unresolved record error's message. Two queries, whatever the number of records."""
    ids = list(record_ids)
    links = list(
        EntityLink.objects.filter(entity=entity_def(entity).name, local_id__in=ids)
        .select_related("integration__template")
        .order_by("local_id", "integration_id")
    )
    if not links:
        return {}
    errors: dict[tuple[int, str], tuple[int, str]] = {}  # (integration, local:<id>|remote:<id>) → newest
    # A pull error names the remote id, a push error the local one; newest first, the first one wins.
    for pk, integration_id, local_id, remote_id, message in (
        SyncRecordError.objects.filter(
            integration_id__in={link.integration_id for link in links},
            entity=entity_def(entity).name,
            resolved=False,
        )
        .filter(Q(local_id__in=ids) | Q(remote_id__in=[link.remote_id for link in links]))
        .order_by("-id")
        .values_list("pk", "integration_id", "local_id", "remote_id", "message")
    ):
        for key in ((integration_id, f"local:{local_id}"), (integration_id, f"remote:{remote_id}")):
            errors.setdefault(key, (pk, message))
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for link in links:
        pushed = errors.get((link.integration_id, f"local:{link.local_id}"), (0, ""))
        pulled = errors.get((link.integration_id, f"remote:{link.remote_id}"), (0, ""))
        found[link.local_id].append(
            {
                "integration": {"id": link.integration_id, "name": link.integration.name},
                "provider": link.integration.template.key,
                "remote_id": link.remote_id,
                "last_synced_at": link.last_synced_at,
                "matched_by": link.matched_by,
                "last_error": max(pushed, pulled)[1],
            }
        )
    return dict(found)


@dataclass(frozen=True)
class SyncStatus:
    """What ``integrations/{id}/status/`` adds to the integration's own fields."""

    last_run: SyncRun | None  # the newest finished run
    records: dict[str, int]  # linked records per entity
    open_conflicts: int
    failed_records: int  # unresolved record errors
    next_sync_at: datetime | None


def next_sync_at(integration: Integration, *, now: datetime) -> datetime | None:
    """When the minute dispatcher queues the next delta run: last sync + interval, or now when that
    has passed (or it never synced). None unless the integration is active."""
    if integration.status != Integration.Status.ACTIVE:
        return None
    if integration.last_sync_at is None:
        return now
    return max(now, integration.last_sync_at + timedelta(minutes=integration.sync_interval_minutes))


def sync_status_get(*, integration: Integration) -> SyncStatus:
    """The integration's sync state in four queries."""
    counts = dict(
        EntityLink.objects.filter(integration=integration)
        .values_list("entity")
        .annotate(n=Count("id"))
        .values_list("entity", "n")
    )
    return SyncStatus(
        last_run=SyncRun.objects.filter(integration=integration, finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .first(),
        records={name: counts.get(name, 0) for name in ENTITIES},
        open_conflicts=Conflict.objects.filter(integration=integration, status=Conflict.Status.OPEN).count(),
        failed_records=SyncRecordError.objects.filter(integration=integration, resolved=False).count(),
        next_sync_at=next_sync_at(integration, now=timezone.now()),
    )


def subaccounts_with_changes_after(position: QuerySet) -> list[int]:
    """Sub-accounts with a Change after a consumer's cursor, in one query: ``position`` is the
    cursor's one-row ``values("position")`` queryset, filtered on ``OuterRef("pk")`` (the
    sub-account); no cursor yet counts as position 0. The change feed's consumers (enrichment's
    feed, the outbound outbox) each keep one cursor per sub-account."""
    newer = Change.objects.filter(subaccount_id=OuterRef("pk"), seq__gt=OuterRef("cursor_position"))
    return list(
        SubAccount.objects.annotate(cursor_position=Coalesce(Subquery(position), Value(0)))
        .filter(Exists(newer))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
