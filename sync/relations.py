"""Relations between canonical records as the sync engine speaks them.

A relation (``connectors.base.CANONICAL_RELATIONS``: a contact's ``company_id``, a deal's
``contact_ids``, ...) is a field like any other for the merge: its canonical value is the target's
local id as text (``"12"``), or for a to-many relation the sorted list of them, None when empty.
On the wire it is the target's remote ids: pulled ones resolve through the target entity's links
(``resolve_pulled``), pushed ones the other way (``remote_changes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import RELATIONS_KEY, RelationSpec
from integrations.models import Integration
from sync.entities import EntityDef
from sync.models import CanonicalRecord, DealContact, EntityLink

__all__ = [
    "Resolved",
    "canonical_ids",
    "local_ids",
    "relations_preload",
    "remote_changes",
    "resolve_pulled",
]


def canonical_ids(ids: Iterable[int | str], *, many: bool) -> Any:
    """The merge's form of a relation: "12", or ["3", "12"] (by id), or None."""
    values = sorted({int(pk) for pk in ids if pk not in (None, "")})
    if not values:
        return None
    return [str(pk) for pk in values] if many else str(values[0])


def local_ids(value: Any) -> list[int]:
    """The local ids in a canonical relation value."""
    if value in (None, "", []):
        return []
    return [int(pk) for pk in (value if isinstance(value, list) else [value])]


def relations_preload(definition: EntityDef, records: list[CanonicalRecord]) -> None:
    """Read the to-many relations of ``records`` in one query per relation (not one per record)."""
    if "contact_ids" not in definition.many or not records:
        return
    by_deal: dict[int, list[int]] = {record.pk: [] for record in records}
    for deal_id, contact_id in DealContact.objects.filter(deal_id__in=list(by_deal)).values_list(
        "deal_id", "contact_id"
    ):
        by_deal[deal_id].append(contact_id)
    for record in records:
        if "_contact_ids" not in record.__dict__:
            record.__dict__["_contact_ids"] = sorted(by_deal[record.pk])


@dataclass
class Resolved:
    """Pulled relations in local terms: values for the merge, and what could not be resolved yet."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # remote id → relation → value
    pending: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # remote id → relation → ids


def resolve_pulled(
    integration: Integration,
    specs: Mapping[str, RelationSpec],
    relations: Mapping[str, Mapping[str, Iterable[str]]],
) -> Resolved:
    """Turn ``{remote record id: {relation: target remote ids}}`` into canonical values.

    One query per target entity. A to-one relation whose target is not linked yet is left out of
    the values (the merge then leaves the local side alone) and reported pending; a to-many one
    takes the targets that resolve and reports the rest pending.
    """
    wanted: dict[str, set[str]] = {}
    for per_record in relations.values():
        for name, ids in per_record.items():
            if name in specs:
                wanted.setdefault(specs[name].target, set()).update(ids)
    known = _links(integration, wanted, by="remote_id")
    resolved = Resolved()
    for rid, per_record in relations.items():
        for name, ids in per_record.items():
            spec = specs.get(name)
            if spec is None:
                continue
            links = known.get(spec.target, {})
            ids = list(dict.fromkeys(ids))
            found = [links[i] for i in ids if i in links]
            missing = [i for i in ids if i not in links]
            if missing:
                resolved.pending.setdefault(rid, {})[name] = missing
                if not spec.many:
                    continue  # to-one: unknown until its target arrives
            resolved.values.setdefault(rid, {})[name] = canonical_ids(found, many=spec.many)
    return resolved


def remote_changes(
    integration: Integration,
    specs: Mapping[str, RelationSpec],
    changes: list[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> tuple[list[dict[str, dict[str, list[str]]]], list[set[str]]]:
    """For each (base, local) pair of relation values, the ``RELATIONS_KEY`` payload that carries
    the change to the provider, and the relations that could not be expressed (a target that has
    no remote twin yet): those stay out of the link's base, so a later push sends them.

    One query per target entity, for the whole batch.
    """
    wanted: dict[str, set[int]] = {}
    for base, local in changes:
        for name in local:
            if name in specs:
                wanted.setdefault(specs[name].target, set()).update(
                    local_ids(local.get(name)) + local_ids(base.get(name))
                )
    known = _links(integration, wanted, by="local_id")
    payloads, unsent = [], []
    for base, local in changes:
        payload: dict[str, dict[str, list[str]]] = {}
        skipped: set[str] = set()
        for name in local:
            spec = specs.get(name)
            if spec is None:
                continue
            links = known.get(spec.target, {})
            before, after = set(local_ids(base.get(name))), set(local_ids(local.get(name)))
            added, removed = sorted(after - before), sorted(before - after)
            if any(pk not in links for pk in added):
                skipped.add(name)  # the target is not on the provider yet: sent once it is
                continue
            if added or removed:
                payload[name] = {
                    "add": [links[pk] for pk in added],
                    "remove": [links[pk] for pk in removed if pk in links],
                }
        payloads.append({RELATIONS_KEY: payload} if payload else {})
        unsent.append(skipped)
    return payloads, unsent


def _links(integration: Integration, wanted: Mapping[str, set], *, by: str) -> dict[str, dict]:
    """Target entity → {remote id: local id} (``by="remote_id"``) or {local id: remote id}, for
    the wanted ids: one query per target entity."""
    other = "local_id" if by == "remote_id" else "remote_id"
    return {
        target: dict(
            EntityLink.objects.filter(
                integration=integration, entity=target, **{f"{by}__in": sorted(ids)}
            ).values_list(by, other)
        )
        for target, ids in wanted.items()
        if ids
    }
