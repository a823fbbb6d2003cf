"""One sync per integration: a lease row claimed with a conditional UPDATE.

healthchecks' sendalerts trick: zero rows updated means someone else holds it. No database lock
is held while syncing, and it behaves the same on SQLite and PostgreSQL. A worker that dies
stops renewing; its lease expires and the next run takes over from the committed cursors.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from sync.models import SyncLease


def lease_ttl() -> timedelta:
    return timedelta(seconds=settings.SYNC_LEASE_TTL_SECONDS)


class LeaseLost(RuntimeError):
    """Another worker owns the integration now: stop before writing anything more."""


def lease_acquire(*, integration_id: int, owner: str, ttl: timedelta | None = None) -> bool:
    now = timezone.now()
    SyncLease.objects.get_or_create(integration_id=integration_id)
    return (
        SyncLease.objects.filter(
            Q(owner="") | Q(expires_at__lt=now) | Q(owner=owner), integration_id=integration_id
        ).update(owner=owner, expires_at=now + (ttl or lease_ttl()), heartbeat_at=now)
        == 1
    )


def lease_renew(*, integration_id: int, owner: str, ttl: timedelta | None = None) -> None:
    """Extend our lease between pages; raise LeaseLost if it expired and was taken."""
    now = timezone.now()
    if not SyncLease.objects.filter(integration_id=integration_id, owner=owner).update(
        expires_at=now + (ttl or lease_ttl()), heartbeat_at=now
    ):
        raise LeaseLost(f"lease on integration {integration_id} was taken by another worker")


def lease_release(*, integration_id: int, owner: str) -> None:
    SyncLease.objects.filter(integration_id=integration_id, owner=owner).update(owner="", expires_at=None)


def lease_is_free(*, integration_id: int) -> bool:
    """Nobody holds the lease, or its holder stopped renewing it."""
    now = timezone.now()
    return (
        not SyncLease.objects.filter(integration_id=integration_id, expires_at__gte=now)
        .exclude(owner="")
        .exists()
    )
