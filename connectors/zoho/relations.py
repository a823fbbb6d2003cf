"""Canonical relations as Zoho lookup fields, both ways.

- contact.company_id ↔ Contact ``Account_Name{id}``
- deal.company_id ↔ Deal ``Account_Name{id}``; deal.contact_ids ↔ Deal ``Contact_Name{id}``: a Zoho deal
  has one contact, so ``contact_ids`` holds at most that one (a second add is refused on the result)
- activity (Tasks): contact_id ↔ ``Who_Id{id}``; company_id / deal_id ↔ ``What_Id{id}`` with
  ``$se_module`` Accounts / Deals: one of the two at a time (deal wins; the company add is refused)
- activity (Notes): ``Parent_Id{id}`` + ``$se_module``: one parent, required (a note's parent cannot
  be removed, only replaced)

Writes send the lookup in the record's own write; the engine's add/remove pairs (``RELATIONS_KEY``)
become the new lookup value, or null when the relation is cleared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOOKUPS: dict[str, dict[str, tuple[str, str]]] = {
    # module → relation → (lookup field, $se_module value or "" for a plain lookup)
    "Contacts": {"company_id": ("Account_Name", "")},
    "Deals": {"company_id": ("Account_Name", ""), "contact_ids": ("Contact_Name", "")},
    "Tasks": {
        "contact_id": ("Who_Id", ""),
        "deal_id": ("What_Id", "Deals"),
        "company_id": ("What_Id", "Accounts"),
    },
    "Notes": {
        "deal_id": ("Parent_Id", "Deals"),
        "contact_id": ("Parent_Id", "Contacts"),
        "company_id": ("Parent_Id", "Accounts"),
    },
}


def lookup_fields(module: str) -> frozenset[str]:
    """The fields of ``module`` that relations own (with ``$se_module`` where a lookup spans modules)."""
    names = {name for name, _ in LOOKUPS.get(module, {}).values()}
    if any(target for _, target in LOOKUPS.get(module, {}).values()):
        names.add("$se_module")
    return frozenset(names)


def _id(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value not in (None, "") else ""


def read(module: str, fields: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The relations a record's lookups hold (every relation of its module, () when empty)."""
    found: dict[str, tuple[str, ...]] = {}
    se_module = str(fields.get("$se_module") or "")
    for relation, (name, target_module) in LOOKUPS.get(module, {}).items():
        target = _id(fields.get(name))
        if target and target_module and se_module != target_module:
            target = ""
        found[relation] = (target,) if target else ()
    return found


@dataclass
class Plan:
    """The lookup values a write sends, and the relation changes it cannot make (relation → why)."""

    fields: dict[str, Any] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def plan(module: str, changes: Mapping[str, Any], *, creating: bool) -> Plan:
    """Turn ``{relation: {"add": [...], "remove": [...]}}`` into lookup fields for ``module``."""
    result = Plan()
    spec = LOOKUPS.get(module, {})
    claimed: dict[str, str] = {}  # lookup field → relation setting it
    for relation in sorted(changes, key=_priority):
        change = changes[relation] or {}
        adds = [str(x) for x in change.get("add") or [] if x]
        removes = [str(x) for x in change.get("remove") or [] if x]
        if relation not in spec:
            if adds or removes:
                result.refused[relation] = f"Zoho {module} records have no {relation} lookup"
            continue
        name, target_module = spec[relation]
        if len(adds) > 1:
            result.refused[relation] = (
                f"a Zoho {module[:-1].lower()} holds one {relation.removesuffix('_ids')}"
            )
        if adds:
            if name in claimed:
                result.refused[relation] = f"{name} already relates this record to its {claimed[name]}"
                continue
            claimed[name] = relation
            result.fields[name] = {"id": adds[0]}
            if target_module:
                result.fields["$se_module"] = target_module
        elif removes and name not in claimed:
            if module == "Notes":
                result.refused[relation] = "a Zoho note must keep a parent record"
                continue
            if not creating:
                result.fields[name] = None
    return result


def _priority(relation: str) -> int:
    """Deals before contacts before companies: who wins a shared lookup (What_Id, Parent_Id)."""
    return {"deal_id": 0, "contact_ids": 1, "contact_id": 1, "company_id": 2}.get(relation, 3)
