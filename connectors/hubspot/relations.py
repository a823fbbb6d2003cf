"""HubSpot associations as canonical relations: reading them for a page of records, writing the
``RELATIONS_KEY`` changes of a batch of writes.

Reads use the v4 batch read, one call per target type per 100 records (not per record); an id
HubSpot answers ``NO_ASSOCIATIONS_FOUND`` for is related to nothing, one it reports another error
for is left unread. A single relation takes the association HubSpot labels primary (a contact's or
deal's primary company), else the lowest id.

Writes go after the records are written: removals through ``batch/archive`` (every association
type between the pair), additions through ``batch/associate/default`` (the unlabeled type), or, for
a single relation whose pair has a primary label, ``batch/create`` with the unlabeled and the
primary type, read from ``GET .../labels`` (never hard-coded). A refused association never fails
the record: it comes back as the relations that failed, with HubSpot's message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConnectorError
from connectors.hubspot.client import HubSpotClient

ASSOCIATION_BATCH = 100  # inputs per v4 batch create/archive call (providers.md §1)
# Ids per v4 batch read: 1,000 since February 2025 (HubSpot developer changelog, "Bug Fix: Batch
# Read Limit for HubSpot Associations API"; larger bodies are refused).
ASSOCIATION_READ_BATCH = 1000
ERROR_EXCERPT = 300


def numeric(remote_id: str) -> tuple[int, str]:
    """HubSpot ids are numbers: order them as numbers."""
    return (int(remote_id), "") if remote_id.isdecimal() else (0, remote_id)


def is_primary(kind: dict[str, Any]) -> bool:
    """HubSpot's own primary label ("Primary", since 2024 also "Contact with Primary Company")."""
    return kind.get("category") == "HUBSPOT_DEFINED" and "primary" in str(kind.get("label") or "").lower()


def choose(targets: list[tuple[str, list[dict[str, Any]]]], *, many: bool) -> tuple[str, ...]:
    """The relation's value from a record's associations: all ids, or the primary / lowest one."""
    ids = sorted({to_id for to_id, _ in targets}, key=numeric)
    if many or not ids:
        return tuple(ids)
    primary = sorted((to_id for to_id, kinds in targets if any(is_primary(k) for k in kinds)), key=numeric)
    return (primary[0] if primary else ids[0],)


@dataclass
class LinkChange:
    """One record's change to one relation, as the engine asked for it."""

    index: int
    relation: str
    from_type: str
    from_id: str
    to_type: str
    single: bool
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


class Associations:
    """One connector's association calls (the labels it looked up are remembered per instance)."""

    def __init__(self, client: HubSpotClient):
        self.client = client
        self._typed: dict[tuple[str, str], list[dict[str, Any]] | None] = {}

    # --- reads ----------------------------------------------------------------------------------

    def read(
        self, from_type: str, to_type: str, ids: Iterable[str]
    ) -> dict[str, list[tuple[str, list[dict[str, Any]]]]]:
        """from id → [(associated id, its association types)]; ids HubSpot could not answer for
        are absent. Follows a record's own ``paging.next.after`` when it has many associations."""
        found: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
        pending = [{"id": i} for i in dict.fromkeys(ids)]
        while pending:
            following: list[dict[str, Any]] = []
            for start in range(0, len(pending), ASSOCIATION_READ_BATCH):
                body = self.client.association_batch(
                    from_type, to_type, "read", pending[start : start + ASSOCIATION_READ_BATCH]
                )
                for result in body.get("results", []):
                    from_id = str((result.get("from") or {}).get("id", ""))
                    targets = found.setdefault(from_id, [])
                    for target in result.get("to") or []:
                        targets.append(
                            (str(target.get("toObjectId")), list(target.get("associationTypes") or []))
                        )
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        following.append({"id": from_id, "after": str(after)})
                for error in body.get("errors", []):
                    if "NO_ASSOCIATIONS_FOUND" in str(error.get("subCategory", "")):
                        for from_id in (error.get("context") or {}).get("fromObjectId", []):
                            found.setdefault(str(from_id), [])
            pending = following
        return found

    # --- writes ---------------------------------------------------------------------------------

    def write(self, changes: list[LinkChange]) -> dict[int, dict[str, str]]:
        """Apply the changes, removals first; index → relation → why it failed, for those that did."""
        failed: dict[int, dict[str, str]] = defaultdict(dict)
        removals: dict[tuple[str, str], list[tuple[LinkChange, dict[str, Any]]]] = defaultdict(list)
        additions: dict[tuple[str, str, bool], list[tuple[LinkChange, dict[str, Any]]]] = defaultdict(list)
        for change in changes:
            bad = [i for i in (*change.add, *change.remove) if not str(i).isdecimal()]
            if bad:
                failed[change.index][change.relation] = f"not a HubSpot record id: {bad[0]!r}"
                continue
            if change.remove:
                item = {"from": {"id": change.from_id}, "to": [{"id": str(i)} for i in change.remove]}
                removals[(change.from_type, change.to_type)].append((change, item))
            for to_id in change.add:
                item = {"from": {"id": change.from_id}, "to": {"id": str(to_id)}}
                additions[(change.from_type, change.to_type, change.single)].append((change, item))
        for (from_type, to_type), items in removals.items():
            self._send(from_type, to_type, "archive", items, failed)
        for (from_type, to_type, single), items in additions.items():
            types = self._primary_types(from_type, to_type) if single else None
            if types:
                items = [(change, {**item, "types": types}) for change, item in items]
                self._send(from_type, to_type, "create", items, failed)
            else:
                self._send(from_type, to_type, "associate/default", items, failed)
        return failed

    def _primary_types(self, from_type: str, to_type: str) -> list[dict[str, Any]] | None:
        """The unlabeled and primary type specs of a pair that has a HubSpot-defined primary label,
        looked up once; None for pairs without one (or when the labels cannot be read)."""
        pair = (from_type, to_type)
        if pair not in self._typed:
            try:
                kinds = self.client.association_labels(from_type, to_type)
            except ConnectorError:
                return None  # not remembered: the next batch asks again
            plain = [k for k in kinds if k.get("category") == "HUBSPOT_DEFINED" and not k.get("label")]
            primary = [k for k in kinds if is_primary(k)]
            self._typed[pair] = (
                [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": int(k["typeId"])}
                    for k in (plain[0], primary[0])
                ]
                if plain and primary
                else None
            )
        return self._typed[pair]

    def _send(
        self,
        from_type: str,
        to_type: str,
        action: str,
        items: list[tuple[LinkChange, dict[str, Any]]],
        failed: dict[int, dict[str, str]],
    ) -> None:
        for start in range(0, len(items), ASSOCIATION_BATCH):
            chunk = items[start : start + ASSOCIATION_BATCH]
            try:
                body = self.client.association_batch(from_type, to_type, action, [item for _, item in chunk])
            except ConnectorError as exc:
                for change, _ in chunk:
                    failed[change.index][change.relation] = str(exc)[:ERROR_EXCERPT]
                continue
            for error in body.get("errors", []):
                message = str(error.get("message") or "HubSpot refused the association")[:ERROR_EXCERPT]
                for change in _blamed(error, chunk):
                    failed[change.index][change.relation] = message


def _blamed(error: dict[str, Any], chunk: list[tuple[LinkChange, dict[str, Any]]]) -> list[LinkChange]:
    """The changes an error is about, by its context's ids; all of the call's when it names none."""
    context = error.get("context") or {}
    from_ids = {str(i) for i in context.get("fromObjectId", [])}
    to_ids = {str(i) for i in context.get("toObjectId", [])}
    if not from_ids:
        return [change for change, _ in chunk]
    blamed = []
    for change, item in chunk:
        targets = item["to"] if isinstance(item["to"], list) else [item["to"]]
        if change.from_id in from_ids and (not to_ids or any(str(t["id"]) in to_ids for t in targets)):
            blamed.append(change)
    return blamed
