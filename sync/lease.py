"""One sync per integration: a lease on the integration's ``SyncLease`` row.

The lease itself is ``integrations.leases.RowLease`` (a conditional UPDATE: zero rows updated means
someone else holds it). No database lock is held while syncing. A worker that dies stops renewing;
its lease expires and the next run takes over from the committed cursors.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from integrations.leases import RowLease
from sync.models import SyncLease

LEASE = RowLease(owner="owner", expires="expires_at", heartbeat="heartbeat_at")


def lease_ttl() -> timedelta:
    return timedelta(seconds=settings.SYNC_LEASE_TTL_SECONDS)


class LeaseLost(RuntimeError):
    """Another worker owns the integration now: stop before writing anything more."""


def _row(integration_id: int):
    return SyncLease.objects.filter(integration_id=integration_id)


def lease_acquire(*, integration_id: int, owner: str, ttl: timedelta | None = None) -> bool:
    """Take the integration's lease if it is free, expired or already ``owner``'s."""
    SyncLease.objects.get_or_create(integration_id=integration_id)
    return LEASE.take(_row(integration_id), owner=owner, ttl=ttl or lease_ttl(), reentrant=True)


def lease_renew(*, integration_id: int, owner: str, ttl: timedelta | None = None) -> None:
    """Extend our lease between pages; raise LeaseLost if it expired and was taken."""
    if not LEASE.renew(_row(integration_id), owner=owner, ttl=ttl or lease_ttl()):
        raise LeaseLost(f"lease on integration {integration_id} was taken by another worker")


def lease_release(*, integration_id: int, owner: str) -> None:
    LEASE.release(_row(integration_id), owner=owner)


def lease_is_free(*, integration_id: int) -> bool:
    """Nobody holds the lease, or its holder stopped renewing it."""
    return LEASE.is_free(_row(integration_id))
