"""Field discovery: each integration's provider fields, cached, and what the mappings make of them.

``fields_refresh`` asks the connector (``Connector.discover_fields``: HubSpot's properties API,
Salesforce's describe, a provider's field list) and stores the answer per integration × entity
(``DiscoveredFields``), daily for every active integration (``sync.fields_refresh_all``) and on
demand (API, admin). Everything else reads the cache, never the provider: mappings name fields by
label (``field_by_label``), refuse names the provider does not have, and take their transform from
the field's type (``implied_transform``) when they give none.

A refresh that fails keeps the last good field list and stores why it failed: a provider outage
must not make mapped fields look unknown.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from connectors.base import (
    CANONICAL_ENTITIES,
    AuthError,
    ConfigError,
    Connector,
    ConnectorError,
    PermanentError,
    RemoteField,
    TransientError,
)
from integrations.models import Integration
from integrations.services import connector_for
from sync.models import DiscoveredFields, FieldMapping

logger = logging.getLogger(__name__)

FIELDS_REFRESH_ALL_TASK = "sync.fields_refresh_all"  # sync/tasks.py; scheduled daily (schedules.py)
CUSTOM_LOCAL_PREFIX = "custom:"  # sync.mapping.CUSTOM_PREFIX (mapping builds on this module)
CLOSE_LABELS = 5  # how many near misses an unknown label's error suggests
INBOUND = (FieldMapping.Direction.BOTH, FieldMapping.Direction.FROM_REMOTE)


@dataclass(frozen=True)
class EntityRefresh:
    """What refreshing one entity's fields did: ``count`` fields stored, or why not (``code`` is
    the API's error code: provider_unavailable, provider_refused, provider_auth, ...)."""

    entity: str
    ok: bool
    count: int = 0
    error: str = ""
    code: str = ""


@dataclass
class FieldsRefresh:
    """The outcome of one ``fields_refresh``: one ``EntityRefresh`` per entity asked for."""

    entities: list[EntityRefresh] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entities)

    @property
    def failed(self) -> list[EntityRefresh]:
        return [e for e in self.entities if not e.ok]


class LabelUnknown(LookupError):
    """No field has this label; ``close`` are the labels that nearly match."""

    def __init__(self, label: str, close: list[str]):
        hint = f"; close: {', '.join(map(repr, close))}" if close else ""
        super().__init__(f"no field is labelled {label!r}{hint}")
        self.close = close


class LabelAmbiguous(LookupError):
    """Several fields have this label; ``candidates`` are their names."""

    def __init__(self, label: str, candidates: list[RemoteField]):
        names = ", ".join(_described(f) for f in candidates)
        super().__init__(f"several fields are labelled {label!r}: {names}; give remote instead")
        self.candidates = candidates


def _described(f: RemoteField) -> str:
    return f"{f.name} ({f.remote_type})" if f.remote_type else f.name


# --- refresh --------------------------------------------------------------------------------


def error_code(exc: ConnectorError) -> str:
    """The stable code an API answer and the admin show for a failed discovery."""
    if isinstance(exc, AuthError):
        return "provider_auth"
    if isinstance(exc, TransientError):
        return "provider_unavailable"
    if isinstance(exc, ConfigError):
        return "integration_misconfigured"
    if isinstance(exc, PermanentError):
        return "provider_refused"
    return "provider_error"


def fields_entities(integration: Integration) -> list[str]:
    """The canonical entities the integration's connector syncs (and so discovers fields for)."""
    connector_cls = type(connector_for(integration))
    return [entity for entity in CANONICAL_ENTITIES if connector_cls.supports(entity)]


def fields_refresh(integration: Integration, entities: Iterable[str] | None = None) -> FieldsRefresh:
    """Ask the provider for each entity's fields and store them. A provider error is stored on
    that entity's row (its last good fields kept) and reported in the result, never raised."""
    result = FieldsRefresh()
    try:
        connector = connector_for(integration)
    except ConnectorError as exc:  # the integration's settings cannot build a connector at all
        for entity in entities or CANONICAL_ENTITIES:
            result.entities.append(_store_error(integration, entity, exc))
        return result
    wanted = list(entities) if entities is not None else None
    for entity in CANONICAL_ENTITIES:
        if not connector.supports(entity) or (wanted is not None and entity not in wanted):
            continue
        result.entities.append(_refresh_one(integration, connector, entity))
    return result


def _refresh_one(integration: Integration, connector: Connector, entity: str) -> EntityRefresh:
    try:
        discovered = connector.discover_fields(entity)
    except ConnectorError as exc:
        logger.warning("field discovery failed for integration %s %s: %s", integration.pk, entity, exc)
        return _store_error(integration, entity, exc)
    DiscoveredFields.objects.update_or_create(
        integration=integration,
        entity=entity,
        defaults={
            "fields": [f.to_dict() for f in discovered],
            "refreshed_at": timezone.now(),
            "error": "",
            "error_at": None,
        },
    )
    return EntityRefresh(entity=entity, ok=True, count=len(discovered))


def _store_error(integration: Integration, entity: str, exc: ConnectorError) -> EntityRefresh:
    message = str(exc) or type(exc).__name__
    DiscoveredFields.objects.update_or_create(
        integration=integration, entity=entity, defaults={"error": message, "error_at": timezone.now()}
    )
    return EntityRefresh(entity=entity, ok=False, error=message, code=error_code(exc))


def fields_refresh_all() -> dict[str, int]:
    """Refresh every active integration's fields (the daily schedule); one integration failing
    (even with a bug of ours) never stops the others."""
    counts = {"refreshed": 0, "failed": 0}
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).select_related(
        "template"
    ):
        try:
            ok = fields_refresh(integration).ok
        except Exception:
            logger.exception("field discovery crashed for integration %s", integration.pk)
            ok = False
        counts["refreshed" if ok else "failed"] += 1
    return counts


# --- reading the cache ----------------------------------------------------------------------


def fields_cached(
    integration: Integration, entities: Iterable[str] | None = None
) -> dict[str, DiscoveredFields]:
    """The cache rows of ``integration`` by entity (one query)."""
    rows = DiscoveredFields.objects.filter(integration=integration)
    if entities is not None:
        rows = rows.filter(entity__in=list(entities))
    return {row.entity: row for row in rows}


def remote_fields(row: DiscoveredFields | None) -> list[RemoteField]:
    return [RemoteField.from_dict(data) for data in (row.fields if row else None) or []]


def fields_for(integration: Integration, entity: str) -> list[RemoteField]:
    """The entity's cached fields ([] when never discovered)."""
    return remote_fields(DiscoveredFields.objects.filter(integration=integration, entity=entity).first())


def fields_refreshed_at(integration: Integration, entity: str) -> datetime | None:
    return (
        DiscoveredFields.objects.filter(integration=integration, entity=entity)
        .values_list("refreshed_at", flat=True)
        .first()
    )


def field_by_label(fields: Iterable[RemoteField], label: str) -> RemoteField:
    """The one field labelled ``label``, compared case-insensitively (an exact-case match wins
    over others that differ only in case). Raises LabelUnknown (with close labels) or
    LabelAmbiguous (naming the candidates)."""
    fields = list(fields)
    wanted = label.strip()
    matches = [f for f in fields if f.label.strip().casefold() == wanted.casefold()]
    exact = [f for f in matches if f.label.strip() == wanted]
    if len(exact) == 1 or (exact and len({f.name for f in exact}) == 1):
        return exact[0]
    if len({f.name for f in matches}) == 1:
        return matches[0]  # one field, listed once per remote type (activities)
    if matches:
        raise LabelAmbiguous(label, exact or matches)
    labels = sorted({f.label for f in fields if f.label})
    by_folded = {lab.casefold(): lab for lab in labels}
    close = difflib.get_close_matches(wanted.casefold(), list(by_folded), n=CLOSE_LABELS, cutoff=0.6)
    raise LabelUnknown(label, [by_folded[c] for c in close])


def close_names(fields: Iterable[RemoteField], name: str) -> list[str]:
    """Field names near ``name`` (a typo's likely meaning)."""
    return difflib.get_close_matches(name, sorted({f.name for f in fields}), n=CLOSE_LABELS, cutoff=0.6)


# --- transforms implied by a field's type -----------------------------------------------------

_NUMBER = {"name": "number", "args": {}}
_BOOLEAN = {"name": "boolean", "args": {}}


def implied_transform(remote: RemoteField | None, local: str) -> dict | None:
    """The transform a mapping without one gets from its remote field's discovered type.

    Numbers become numbers, dates and datetimes are read in the field's wire ``format``, booleans
    become booleans. Enumerations map option values ↔ labels (a list of labels for a
    multi-select) only into custom fields: canonical fields such as stage or lifecycle_stage keep
    the provider's values, which the rest of the platform compares and filters on.
    """
    if remote is None:
        return None
    if remote.type == "number":
        return _NUMBER
    if remote.type == "date":
        return {"name": "date_format", "args": {"format": remote.format or "date", "as_date": True}}
    if remote.type == "datetime":
        return {"name": "date_format", "args": {"format": remote.format or "iso"}}
    if remote.type == "boolean":
        return _BOOLEAN
    custom = local.startswith(CUSTOM_LOCAL_PREFIX)
    if custom and remote.options and remote.type in ("enumeration", "multi_enumeration"):
        args: dict = {"map": {str(value): str(label) for value, label in remote.options}}
        if remote.type == "multi_enumeration":
            args["multiple"] = True
        return {"name": "options", "args": args}
    return None


# --- pulls read the mapped fields -------------------------------------------------------------


def connector_wants_mapped(connector: Connector, integration: Integration) -> None:
    """Tell the connector which remote fields the integration's inbound mappings read (custom
    fields beyond its defaults), for every entity it syncs, before it pulls. One query."""
    wanted: dict[str, set[str]] = {
        entity: set() for entity in CANONICAL_ENTITIES if connector.supports(entity)
    }
    rows = FieldMapping.objects.filter(
        integration=integration, entity__in=list(wanted), direction__in=INBOUND
    ).values_list("entity", "remote_field")
    for entity, remote in rows:
        wanted[entity].add(remote)
    for entity, names in wanted.items():
        connector.want_fields(entity, sorted(names))
