"""Leases on a row: take, renew, release, each one conditional UPDATE (healthchecks' sendalerts trick).

A lease is an owner column and an expiry column on some row (a ``SyncLease``, an ``Integration``'s
token refresh lock, ...). Taking it updates the row only if nobody holds it or its holder let it
expire; zero rows updated means someone else holds it. No database lock is held while the work
runs, and it behaves the same on SQLite and PostgreSQL. A holder that dies stops renewing, its
lease expires and the next taker goes ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone


@dataclass(frozen=True)
class RowLease:
    """Which columns of a model hold a lease: ``owner`` ("" when free), ``expires`` and, if the
    model keeps one, ``heartbeat`` (stamped on every take and renewal).

    Every method takes ``rows``: a queryset selecting the one row the lease lives on.
    """

    owner: str
    expires: str
    heartbeat: str = ""

    def free(self, now: datetime) -> Q:
        """Rows whose lease nobody holds now."""
        return (
            Q(**{self.owner: ""}) | Q(**{f"{self.expires}__isnull": True}) | Q(**{f"{self.expires}__lt": now})
        )

    def take(self, rows: QuerySet, *, owner: str, ttl: timedelta, reentrant: bool = False) -> bool:
        """Take the lease for ``ttl`` if it is free (or already ``owner``'s, with ``reentrant``)."""
        if not owner:
            raise ValueError("a lease needs a non-empty owner")
        now = timezone.now()
        condition = self.free(now) | Q(**{self.owner: owner}) if reentrant else self.free(now)
        return rows.filter(condition).update(**self._held(owner, now + ttl, now)) == 1

    def renew(self, rows: QuerySet, *, owner: str, ttl: timedelta) -> bool:
        """Extend ``owner``'s lease; False if it is no longer theirs (expired and taken)."""
        now = timezone.now()
        return rows.filter(**{self.owner: owner}).update(**self._held(owner, now + ttl, now)) == 1

    def release(self, rows: QuerySet, *, owner: str) -> bool:
        """Give the lease up if ``owner`` still holds it; False if it was not theirs any more."""
        return rows.filter(**{self.owner: owner}).update(**{self.owner: "", self.expires: None}) == 1

    def is_free(self, rows: QuerySet) -> bool:
        """Nobody holds the lease now (or its row does not exist yet)."""
        return not rows.exclude(self.free(timezone.now())).exists()

    def _held(self, owner: str, expires: datetime, now: datetime) -> dict:
        values = {self.owner: owner, self.expires: expires}
        if self.heartbeat:
            values[self.heartbeat] = now
        return values
