"""HubSpot's own (HUBSPOT_DEFINED) association types between the objects the emulator serves.

Type ids are HubSpot's published defaults (the v4 associations guide's type table), the same in every
account: contact→company 279 unlabeled / 1 primary, deal→company 341 / 5 primary, deal→contact 3,
note→contact 202, and so on. Every type has an inverse (the same association read from the other
side: 279 ↔ 280). Contacts and deals have at most one *primary* company; associating a new primary
one demotes the old to unlabeled, as HubSpot's "Primary" label does.
"""

from __future__ import annotations

from dataclasses import dataclass

# HubSpot's object type ids, as v4 association responses name the objects.
OBJECT_TYPE_IDS = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tasks": "0-27",
    "notes": "0-46",
    "meetings": "0-47",
    "calls": "0-48",
    "emails": "0-49",
}
SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "tasks": "task",
    "notes": "note",
    "meetings": "meeting",
    "calls": "call",
    "emails": "email",
}
PRIMARY_LABEL = "Primary"
_BY_NAME = {
    **{name: name for name in OBJECT_TYPE_IDS},
    **{single: plural for plural, single in SINGULAR.items()},
    **{type_id: name for name, type_id in OBJECT_TYPE_IDS.items()},
}


def object_type_name(name: str) -> str | None:
    """An object type as HubSpot's paths accept it (contacts, contact, 0-1) → contacts; None if unknown."""
    return _BY_NAME.get(name.lower())


@dataclass(frozen=True)
class AssociationType:
    """One direction of one HubSpot-defined association type."""

    type_id: int
    inverse_id: int
    from_type: str
    to_type: str
    label: str | None  # None: the unlabeled (default) type
    v3_name: str  # how the v3 object API names it in ``associations`` (contact_to_company)

    @property
    def primary(self) -> bool:
        return self.label == PRIMARY_LABEL


# (from, to, (unlabeled id, its inverse), (primary id, its inverse) or None)
_DEFINED: tuple[tuple[str, str, tuple[int, int], tuple[int, int] | None], ...] = (
    ("contacts", "companies", (279, 280), (1, 2)),
    ("deals", "companies", (341, 342), (5, 6)),
    ("deals", "contacts", (3, 4), None),
    ("notes", "contacts", (202, 201), None),
    ("notes", "companies", (190, 189), None),
    ("notes", "deals", (214, 213), None),
    ("tasks", "contacts", (204, 203), None),
    ("tasks", "companies", (192, 191), None),
    ("tasks", "deals", (216, 215), None),
    ("calls", "contacts", (194, 193), None),
    ("calls", "companies", (182, 181), None),
    ("calls", "deals", (206, 205), None),
    ("emails", "contacts", (198, 197), None),
    ("emails", "companies", (186, 185), None),
    ("emails", "deals", (210, 209), None),
    ("meetings", "contacts", (200, 199), None),
    ("meetings", "companies", (188, 187), None),
    ("meetings", "deals", (212, 211), None),
)


def _build() -> dict[tuple[str, str], tuple[AssociationType, ...]]:
    table: dict[tuple[str, str], list[AssociationType]] = {}
    for a, b, (plain, plain_back), primary in _DEFINED:
        base, back = f"{SINGULAR[a]}_to_{SINGULAR[b]}", f"{SINGULAR[b]}_to_{SINGULAR[a]}"
        suffix = "_unlabeled" if primary else ""
        table.setdefault((a, b), []).append(AssociationType(plain, plain_back, a, b, None, base + suffix))
        table.setdefault((b, a), []).append(AssociationType(plain_back, plain, b, a, None, back + suffix))
        if primary:
            forward, backward = primary
            table[(a, b)].insert(0, AssociationType(forward, backward, a, b, PRIMARY_LABEL, base))
            table[(b, a)].insert(0, AssociationType(backward, forward, b, a, PRIMARY_LABEL, back))
    return {pair: tuple(types) for pair, types in table.items()}


TYPES = _build()
BY_ID = {t.type_id: t for types in TYPES.values() for t in types}
# Primary types whose *from* side may have only one (a contact's or a deal's primary company).
PRIMARY_OWNED_BY_FROM = {t.type_id for t in BY_ID.values() if t.primary and t.to_type == "companies"}


def types_between(from_type: str, to_type: str) -> tuple[AssociationType, ...]:
    return TYPES.get((from_type, to_type), ())


def default_type(from_type: str, to_type: str) -> AssociationType | None:
    """The unlabeled type: what ``associations/default`` creates."""
    return next((t for t in types_between(from_type, to_type) if t.label is None), None)
