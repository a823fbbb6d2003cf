"""Canonical relations as Salesforce keeps them: lookup fields (Contact.AccountId, Opportunity.AccountId,
Case.ContactId, Task/Event WhoId and WhatId, Note.ParentId) and junction objects (OpportunityContactRole for a deal's
contacts, ContentDocumentLink for a ContentNote's records).

Pure translation: raw records in, ``RemoteRecord.relations`` out; a payload's ``RELATIONS_KEY`` in, lookup
field values and junction rows to create or delete out. The connector does the HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.client import normalize_id, type_of_id

# Which canonical relation a related record's type fills, for polymorphic lookups and note links.
RELATION_BY_TYPE = {
    "Contact": "contact_id",
    "Lead": "contact_id",
    "Account": "company_id",
    "Opportunity": "deal_id",
    "Case": "conversation_id",
}
# The relations a note's links (or a classic Note's parent) can hold, in the order a parent is chosen.
NOTE_RELATIONS = ("contact_id", "deal_id", "conversation_id", "company_id")
# An activity's WhatId holds one of these, the most specific given first: a Case or an Opportunity says
# more than the Account (Salesforce derives the account from either).
WHAT_RELATIONS = ("deal_id", "conversation_id", "company_id")
# The junction object behind a "many" relation or a note's links, and its two ends.
OPPORTUNITY_CONTACT_ROLE = ("OpportunityContactRole", "OpportunityId", "ContactId")
CONTENT_DOCUMENT_LINK = ("ContentDocumentLink", "ContentDocumentId", "LinkedEntityId")


def _ids(*values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for v in values if (i := normalize_id(v))))


def lookup_relations(remote_type: str, raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The relations a record's own lookup fields say. Absent keys were not read (Lead has no AccountId;
    a Task whose WhatId is an Opportunity says nothing about its company)."""
    if remote_type == "Contact" or remote_type == "Opportunity":
        return {"company_id": _ids(raw.get("AccountId"))}
    if remote_type == "Case":
        return {"contact_id": _ids(raw.get("ContactId"))}
    if remote_type in {"Task", "Event"}:
        relations = {"contact_id": _ids(raw.get("WhoId"))}
        what = _ids(raw.get("WhatId"))
        name = RELATION_BY_TYPE.get(type_of_id(what[0]) or "") if what else None
        if name in WHAT_RELATIONS:
            relations[name] = what
        elif not what:
            relations |= dict.fromkeys(WHAT_RELATIONS, ())
        return relations
    if remote_type == "Note":
        return linked_relations(_ids(raw.get("ParentId")))
    return {}


def linked_relations(linked: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """A note's relations from the records it is linked to (other link targets, e.g. users, ignored)."""
    relations: dict[str, tuple[str, ...]] = dict.fromkeys(NOTE_RELATIONS, ())
    for remote_id in linked:
        name = RELATION_BY_TYPE.get(type_of_id(remote_id) or "")
        if name and not relations[name]:
            relations[name] = (remote_id,)
    return relations


@dataclass
class RelationPlan:
    """What one record's relation changes become: lookup field values sent with the record, and junction
    rows to add and remove once the record exists."""

    fields: dict[str, Any] = field(default_factory=dict)
    add: list[tuple[str, str]] = field(default_factory=list)  # (relation, target id)
    remove: list[tuple[str, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # relation → why it cannot be written


def _change(changes: Mapping[str, Any], name: str) -> tuple[list[str], list[str]] | None:
    change = changes.get(name)
    if not isinstance(change, Mapping):
        return None
    add = [i for v in change.get("add") or () if (i := normalize_id(v))]
    remove = [i for v in change.get("remove") or () if (i := normalize_id(v))]
    return add, remove


def _single(changes: Mapping[str, Any], name: str) -> tuple[bool, str | None]:
    """(given, new value) for a single lookup: add → the id; add empty with a remove → None (cleared)."""
    change = _change(changes, name)
    if change is None:
        return False, None
    add, remove = change
    if add:
        return True, add[0]
    return bool(remove), None


def plan(remote_type: str, changes: Mapping[str, Any], *, creating: bool) -> RelationPlan:
    """Translate a payload's ``RELATIONS_KEY`` for a record of ``remote_type``."""
    result = RelationPlan()
    if remote_type in {"Contact", "Opportunity"}:
        given, value = _single(changes, "company_id")
        if given:
            result.fields["AccountId"] = value
    if remote_type == "Case":
        given, value = _single(changes, "contact_id")
        if given:
            result.fields["ContactId"] = value
    if remote_type == "Opportunity" and (change := _change(changes, "contact_ids")) is not None:
        result.add += [("contact_ids", i) for i in change[0]]
        result.remove += [("contact_ids", i) for i in change[1] if i not in change[0]]
    if remote_type in {"Task", "Event"}:
        given, value = _single(changes, "contact_id")
        if given:
            result.fields["WhoId"] = value
        what = [(name, _single(changes, name)) for name in WHAT_RELATIONS]
        chosen = next((value for _, (given, value) in what if given and value), None)
        if chosen is not None:
            result.fields["WhatId"] = chosen  # the most specific record given (WHAT_RELATIONS)
        elif any(given for _, (given, _) in what):
            result.fields["WhatId"] = None
    if remote_type == "ContentNote":
        for name in NOTE_RELATIONS:
            if (change := _change(changes, name)) is not None:
                result.add += [(name, i) for i in change[0]]
                result.remove += [(name, i) for i in change[1] if i not in change[0]]
    if remote_type == "Note":
        given = [(name, _single(changes, name)) for name in NOTE_RELATIONS]
        parent = next((value for _, (ok, value) in given if ok and value), None)
        if creating and parent:
            result.fields["ParentId"] = parent
        elif any(ok for _, (ok, _) in given):
            for name, (ok, _) in given:
                if ok:
                    result.refused[name] = (
                        "a classic Note's parent is set when it is created and cannot change"
                    )
    return result


def junction_row(remote_type: str, record_id: str, target: str) -> dict[str, Any]:
    """The junction record linking a new or existing ``record_id`` to ``target``."""
    if remote_type == "Opportunity":
        return {
            "attributes": {"type": "OpportunityContactRole"},
            "OpportunityId": record_id,
            "ContactId": target,
        }
    return {
        "attributes": {"type": "ContentDocumentLink"},
        "ContentDocumentId": record_id,
        "LinkedEntityId": target,
        "ShareType": "V",
    }


def junction_of(remote_type: str) -> tuple[str, str, str] | None:
    """(junction object, field naming the record, field naming the target) for a record type."""
    return {"Opportunity": OPPORTUNITY_CONTACT_ROLE, "ContentNote": CONTENT_DOCUMENT_LINK}.get(remote_type)
