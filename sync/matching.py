"""Find the existing record an incoming one describes: external_id, then email, then phone (contacts).

The rungs come from the entity registry (companies: external_id then domain; deals and activities:
external_id only). ``MatchIndex.load`` reads candidates for a whole batch in one query, and records created earlier in the same batch are remembered, so a batch never duplicates itself.

Rules, in order of the rungs:
- ``external_id`` matches any record, a soft-deleted one too (the id is the sub-account's identity for
  it, and unique): the upsert restores it.
- later rungs (email, phone, domain) match live records only, and never one that already carries a
  *different* external_id: two ids sharing one address are two people, not one.
- several candidates on one rung: the oldest (lowest id) wins, so the choice is repeatable.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Q

from integrations.models import SubAccount
from sync.entities import EntityDef
from sync.models import CanonicalRecord

IDENTITY_RUNG = "external_id"


class MatchIndex:
    """Candidates for one batch, looked up by (rung, normalised value)."""

    def __init__(self, rungs: tuple[str, ...], *, live_only: bool = False):
        self.rungs = rungs
        self.live_only = live_only
        self._by_key: dict[tuple[str, Any], list[CanonicalRecord]] = {}
        self._by_pk: dict[int, CanonicalRecord] = {}

    @classmethod
    def load(
        cls,
        definition: EntityDef,
        subaccount: SubAccount,
        records: Iterable[Mapping[str, Any]],
        *,
        rungs: tuple[str, ...] | None = None,
        live_only: bool = False,
    ) -> "MatchIndex":
        """Read every existing candidate for ``records`` (normalised) in one query, all rungs ORed.

        ``live_only``: soft-deleted records never match, not even by external_id (a sync never
        revives a record the sub-account deleted; an upsert does).
        Rows are locked (SELECT ... FOR UPDATE where the database has it), so call this inside the
        transaction that writes them.
        """
        index = cls(definition.match_fields if rungs is None else rungs, live_only=live_only)
        records = list(records)
        wanted = Q()
        for rung in index.rungs:
            values = {record[rung] for record in records if record.get(rung)}
            if values:
                clause = Q(**{f"{rung}__in": values})
                if rung != IDENTITY_RUNG and not live_only:
                    clause &= Q(is_deleted=False)  # only external_id finds a deleted record
                wanted |= clause
        if wanted:
            candidates = definition.model.objects.filter(wanted, subaccount=subaccount)
            if live_only:
                candidates = candidates.filter(is_deleted=False)
            for candidate in candidates.select_for_update().order_by("pk"):
                index.remember(candidate)
        return index

    def remember(self, record: CanonicalRecord) -> CanonicalRecord:
        """Index ``record`` under its current values; returns the one instance kept per row."""
        if record.pk is not None:
            record = self._by_pk.setdefault(record.pk, record)
        for rung in self.rungs:
            value = getattr(record, rung)
            if value:
                bucket = self._by_key.setdefault((rung, value), [])
                if not any(known is record for known in bucket):
                    bucket.append(record)
        return record

    def records(self) -> list[CanonicalRecord]:
        """Every stored record the index holds (candidates, and those remembered since)."""
        return list(self._by_pk.values())

    def find(self, fields: Mapping[str, Any]) -> CanonicalRecord | None:
        """The record ``fields`` (normalised) describes, or None when it is new."""
        external_id = fields.get(IDENTITY_RUNG) or ""
        for rung in self.rungs:
            value = fields.get(rung)
            if not value:
                continue
            for candidate in self._by_key.get((rung, value), ()):
                if getattr(candidate, rung) != value:
                    continue  # indexed under a value it has since changed
                if (rung != IDENTITY_RUNG or self.live_only) and candidate.is_deleted:
                    continue
                if rung != IDENTITY_RUNG and external_id and candidate.external_id not in ("", external_id):
                    continue
                return candidate
        return None
