"""The one registry of canonical entities: model, writable fields, relations and matching rungs."""

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from connectors.base import CANONICAL_FIELDS, CANONICAL_RELATIONS
from sync.models import Activity, CanonicalRecord, Company, Contact, Conversation, Deal


@dataclass(frozen=True)
class EntityDef:
    """How services, the API and the admin treat one canonical entity.

    ``fields`` are the canonical names (``connectors.base.CANONICAL_FIELDS``) plus ``extra_fields``
    this platform keeps beyond them; ``relations`` maps a writable ``<x>_id`` (or ``<x>_ids``) field
    to the entity it points at (same sub-account only; ``connectors.base.CANONICAL_RELATIONS``);
    ``match_fields`` are the upsert matching rungs, in order.
    """

    name: str
    model: type[CanonicalRecord]
    canonical_fields: tuple[str, ...]
    extra_fields: tuple[str, ...] = ()
    relations: Mapping[str, str] = field(default_factory=dict)
    match_fields: tuple[str, ...] = ("external_id",)

    @functools.cached_property
    def many(self) -> frozenset[str]:
        """Relations holding several records (a deal's ``contact_ids``): a sorted list of ids."""
        specs = CANONICAL_RELATIONS.get(self.name, {})
        return frozenset(name for name in self.relations if name in specs and specs[name].many)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field a caller may write, in a stable order (custom_fields last)."""
        return (*self.canonical_fields, *self.extra_fields, *self.relations, "custom_fields")


def _relations(entity: str) -> dict[str, str]:
    return {name: spec.target for name, spec in CANONICAL_RELATIONS[entity].items()}


ENTITIES: dict[str, EntityDef] = {
    "contact": EntityDef(
        name="contact",
        model=Contact,
        canonical_fields=CANONICAL_FIELDS["contact"],
        relations=_relations("contact"),
        match_fields=("external_id", "email", "phone"),
    ),
    "company": EntityDef(
        name="company",
        model=Company,
        canonical_fields=CANONICAL_FIELDS["company"],
        match_fields=("external_id", "domain"),
    ),
    "deal": EntityDef(
        name="deal",
        model=Deal,
        canonical_fields=CANONICAL_FIELDS["deal"],
        relations=_relations("deal"),
    ),
    "activity": EntityDef(
        name="activity",
        model=Activity,
        canonical_fields=CANONICAL_FIELDS["activity"],
        relations=_relations("activity"),
    ),
    "conversation": EntityDef(
        name="conversation",
        model=Conversation,
        canonical_fields=CANONICAL_FIELDS["conversation"],
        relations=_relations("conversation"),
    ),
}

# Targets before the records pointing at them: pulls resolve relations at once (rather than keeping
# them pending) and pushes give a relation's target its remote twin first.
DEPENDENCY_ORDER = ("company", "contact", "deal", "conversation", "activity")


def in_dependency_order(entities: Iterable[str]) -> list[str]:
    return sorted(entities, key=lambda name: DEPENDENCY_ORDER.index(name) if name in DEPENDENCY_ORDER else 99)


_BY_MODEL: dict[type, EntityDef] = {definition.model: definition for definition in ENTITIES.values()}


class UnknownEntity(LookupError):
    pass


def entity_def(name: str) -> EntityDef:
    """The definition of ``name``; UnknownEntity names the known ones."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise UnknownEntity(f"No entity {name!r}: known are {', '.join(ENTITIES)}") from None


def entity_for(record: CanonicalRecord | type[CanonicalRecord]) -> EntityDef:
    """The definition a record (or model class) belongs to."""
    model = record if isinstance(record, type) else type(record)
    return _BY_MODEL[model]
