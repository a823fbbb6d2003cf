"""Field mappings: defaults from each connector, validation, and remote ↔ canonical translation.

Values are compared in one canonical form (``canonical_value``) so that "100" from HubSpot and
Decimal("100.00") in our database are the same value and never a false conflict.

With the provider's fields discovered (``sync.fields``), a row may name its remote field by label
(``remote_label``), a row naming a field the provider does not have is refused, and a row without
a transform gets the one its field's type implies (``mappings_for``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from connectors.base import CANONICAL_FIELDS, RemoteField
from connectors.registry import default_mappings
from integrations.models import Integration
from sync import transforms
from sync.fields import (
    CUSTOM_LOCAL_PREFIX,
    LabelAmbiguous,
    LabelUnknown,
    close_names,
    field_by_label,
    fields_cached,
    fields_for,
    implied_transform,
    remote_fields,
)
from sync.models import FieldMapping

CUSTOM_PREFIX = CUSTOM_LOCAL_PREFIX
# The spelling of a custom field, accepted on input and stored as ``custom:<name>``.
CUSTOM_ALIAS = "custom_fields."
# What enrichment and scoring found for a record (``enrichment:score``), pushed to CRMs as custom
# fields (sync.enrichment.crm_fields). The platform computes them: they only ever flow out.
ENRICHMENT_PREFIX = "enrichment:"
ENRICHMENT_KEYS = (
    "summary",
    "score",
    "score_financial",
    "score_growth",
    "score_engagement",
    "score_fit",
    "signals",
    "next_actions",
    "deal_stage",
)
ENRICHED_ENTITIES = ("contact", "company")
REMOTE_FIELD_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\- ]{0,99}$")
DIRECTIONS = {choice.value for choice in FieldMapping.Direction}
OUTBOUND_ONLY = {FieldMapping.Direction.TO_REMOTE.value, FieldMapping.Direction.NONE.value}


@dataclass(frozen=True)
class FieldMap:
    local: str
    remote: str
    direction: str
    transform: dict | None

    @functools.cached_property
    def _resolved(self) -> tuple[transforms.Transform, dict[str, Any]] | None:
        return transforms.resolve(self.transform) if self.transform else None

    def to_local(self, value: Any, *, record: Mapping[str, Any], region: str) -> Any:
        """The canonical value for a remote value (the transform resolved once per mapping)."""
        if self._resolved is None:
            return value
        transform, args = self._resolved
        return transform.to_local(value, args, transforms.Context(record, region))

    def to_remote(self, value: Any, *, record: Mapping[str, Any], region: str) -> Any:
        if self._resolved is None:
            return value
        transform, args = self._resolved
        return transform.to_remote(value, args, transforms.Context(record, region))

    @property
    def inbound(self) -> bool:
        # An enrichment value is the platform's own: whatever a row says, nothing flows in to it.
        return self.direction in ("both", "from_remote") and not is_enrichment_field(self.local)

    @property
    def outbound(self) -> bool:
        return self.direction in ("both", "to_remote")


class MappingInvalid(ValueError):
    """Per-row errors: {row index: [messages]}."""

    def __init__(self, errors: dict[int, list[str]]):
        super().__init__("; ".join(f"row {i}: {', '.join(m)}" for i, m in errors.items()))
        self.errors = errors


def canonical_value(value: Any) -> Any:
    """One comparable, JSON-safe form: blanks are None, numbers and dates are strings."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, int | float):
        return format(Decimal(str(value)).normalize(), "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip() or None
    return value


def local_name(name: str) -> str:
    """The stored form of a local field name: ``custom_fields.<name>`` is ``custom:<name>``."""
    return CUSTOM_PREFIX + name[len(CUSTOM_ALIAS) :] if name.startswith(CUSTOM_ALIAS) else name


def is_enrichment_field(name: str) -> bool:
    """Whether a local name is an enrichment value (``enrichment:<key>``), outbound only."""
    return name.startswith(ENRICHMENT_PREFIX)


def is_known_local_field(entity: str, name: str) -> bool:
    name = local_name(name)
    if name.startswith(CUSTOM_PREFIX):
        return len(name) > len(CUSTOM_PREFIX)
    if is_enrichment_field(name):
        return entity in ENRICHED_ENTITIES and name[len(ENRICHMENT_PREFIX) :] in ENRICHMENT_KEYS
    return name in CANONICAL_FIELDS.get(entity, ())


def _unknown_local(entity: str, local: str) -> str:
    if is_enrichment_field(local):
        if entity not in ENRICHED_ENTITIES:
            return f"{local!r}: only contacts and companies carry enrichment values"
        return f"unknown enrichment field {local!r} (use {ENRICHMENT_PREFIX}<key>, key one of {', '.join(ENRICHMENT_KEYS)})"
    enrichment = f", {ENRICHMENT_PREFIX}<key>" if entity in ENRICHED_ENTITIES else ""
    return (
        f"unknown local field {local!r} (use one of {', '.join(CANONICAL_FIELDS[entity])}, "
        f"{CUSTOM_PREFIX}<key>, {CUSTOM_ALIAS}<key>{enrichment})"
    )


def _remote_of(row: Mapping[str, Any], fields: list[RemoteField], problems: list[str]) -> str:
    """The row's remote field name: ``remote``, or the field its ``remote_label`` names (both
    given: they must agree, as a row read back from the API and sent again has both)."""
    remote, label = row.get("remote"), row.get("remote_label")
    if label is None:
        return str(remote if remote is not None else "")
    if not isinstance(label, str) or not label.strip():
        problems.append("remote_label must be a field's label (non-blank text)")
        return str(remote or "")
    if not fields:
        if remote:
            return str(remote)
        problems.append(
            f"remote_label {label!r} needs the provider's fields: refresh them "
            "(integrations/<id>/fields/refresh/) or give remote"
        )
        return ""
    try:
        found = field_by_label(fields, label).name
    except (LabelUnknown, LabelAmbiguous) as exc:
        problems.append(str(exc))
        return str(remote or "")
    if remote and remote != found:
        problems.append(f"remote {remote!r} and remote_label {label!r} ({found}) name different fields")
    return found


def _undiscovered(remote: str, fields: list[RemoteField], names: set[str]) -> str | None:
    """Why ``remote`` is refused when the provider's fields are known and it is not one of them;
    synthetic names (``_kind``) are the connector's own and always allowed."""
    if not names or remote.startswith("_") or remote in names:
        return None
    close = close_names(fields, remote)
    hint = f"; close: {', '.join(close)}" if close else ""
    return (
        f"the provider has no field {remote!r} for this entity{hint} "
        "(refresh the fields if it was added since)"
    )


def validate_rows(
    entity: str, rows: Iterable[Mapping[str, Any]], *, fields: list[RemoteField] | None = None
) -> list[FieldMap]:
    """Check a list of mapping rows; raise MappingInvalid naming every problem.

    ``fields``: the entity's discovered remote fields, when known. Then a row may give
    ``remote_label`` instead of ``remote``, and a remote name the provider does not have is refused.
    """
    if entity not in CANONICAL_FIELDS:
        raise MappingInvalid({0: [f"unknown entity {entity!r}"]})
    fields = fields or []
    names = {f.name for f in fields}
    errors: dict[int, list[str]] = {}
    result: list[FieldMap] = []
    seen: set[tuple[str, str]] = set()
    for index, row in enumerate(rows):
        problems: list[str] = []
        if not isinstance(row, Mapping):
            errors[index] = ["must be an object"]
            continue
        local = local_name(str(row.get("local", "")))
        remote = _remote_of(row, fields, problems)
        label_refused = bool(problems)  # then the label's message says what is wrong with remote
        direction = row.get("direction", "both")
        if not is_known_local_field(entity, local):
            problems.append(_unknown_local(entity, local))
        elif is_enrichment_field(local) and direction not in OUTBOUND_ONLY:
            problems.append(
                f"{local} is computed by the platform and only pushed: its direction must be "
                f"to_remote (or none), not {direction!r}"
            )
        if not REMOTE_FIELD_PATTERN.match(remote):
            if not label_refused:
                problems.append(f"remote field {remote!r} is not a valid field name")
        elif problem := _undiscovered(remote, fields, names):
            problems.append(problem)
        if direction not in DIRECTIONS:
            problems.append(f"direction must be one of {', '.join(sorted(DIRECTIONS))}")
        try:
            transforms.validate_transform(row.get("transform"))
        except ValueError as exc:
            problems.append(str(exc))
        if (local, remote) in seen:
            problems.append(f"{local} ↔ {remote} is mapped twice")
        seen.add((local, remote))
        if problems:
            errors[index] = problems
        else:
            result.append(FieldMap(local, remote, direction, row.get("transform") or None))
    if errors:
        raise MappingInvalid(errors)
    return result


def mappings_ensure_defaults(integration: Integration) -> None:
    """Give an integration its connector's default mappings, once."""
    if FieldMapping.objects.filter(integration=integration).exists():
        return
    rows = []
    for entity, defaults in default_mappings(integration.template.connector).items():
        for position, row in enumerate(validate_rows(entity, defaults)):
            rows.append(
                FieldMapping(
                    integration=integration,
                    entity=entity,
                    local_field=row.local,
                    remote_field=row.remote,
                    direction=row.direction,
                    transform=row.transform,
                    is_default=True,
                    position=position,
                )
            )
    FieldMapping.objects.bulk_create(rows, ignore_conflicts=True)


def _implied(remote: RemoteField | None, local: str) -> dict | None:
    spec = implied_transform(remote, local)
    try:
        transforms.validate_transform(spec)
    except ValueError:  # e.g. a date format the transform does not know: copy the value instead
        return None
    return spec


def mappings_for(integration: Integration, entity: str) -> list[FieldMap]:
    """The entity's active mappings; a row without a transform gets the one its discovered
    field's type implies (``sync.fields.implied_transform``). Two queries, however many rows."""
    mappings_ensure_defaults(integration)
    fields = remote_fields(fields_cached(integration, [entity]).get(entity))
    rows = FieldMapping.objects.filter(integration=integration, entity=entity).order_by("position", "id")
    return maps_effective(
        [FieldMap(m.local_field, m.remote_field, m.direction, m.transform) for m in rows], fields
    )


def maps_effective(maps: Iterable[FieldMap], fields: list[RemoteField]) -> list[FieldMap]:
    """The maps a sync runs: switched-off rows dropped, a row without a transform given the one its
    discovered field's type implies. The mapping editor's preview runs exactly these."""
    by_name: dict[str, RemoteField] = {}
    for f in fields:
        by_name.setdefault(f.name, f)
    return [
        FieldMap(m.local, m.remote, m.direction, m.transform or _implied(by_name.get(m.remote), m.local))
        for m in maps
        if m.direction != "none"
    ]


def mappings_validate(
    *, integration: Integration, entity: str, rows: Iterable[Mapping[str, Any]]
) -> list[FieldMap]:
    """``validate_rows`` against the integration's discovered fields for ``entity`` (labels
    resolved, undiscovered names refused), as the API and the admin check rows."""
    return validate_rows(entity, rows, fields=fields_for(integration, entity))


def remote_labels(integration: Integration) -> dict[str, dict[str, str]]:
    """Entity → remote field name → its label, for every discovered field (one query)."""
    return {
        entity: {f.name: f.label for f in remote_fields(row)}
        for entity, row in fields_cached(integration).items()
    }


def mappings_replace(
    *, integration: Integration, entity: str, rows: list[Mapping[str, Any]]
) -> list[FieldMap]:
    """Replace one entity's mappings with validated rows (the API's PUT)."""
    valid = mappings_validate(integration=integration, entity=entity, rows=rows)
    mappings_store(integration=integration, entity=entity, maps=valid)
    return valid


def mappings_store(
    *, integration: Integration, entity: str, maps: list[FieldMap], is_default: bool = False
) -> None:
    """Replace one entity's stored mappings with rows already validated, atomically, in order."""
    with transaction.atomic():
        FieldMapping.objects.filter(integration=integration, entity=entity).delete()
        FieldMapping.objects.bulk_create(
            [
                FieldMapping(
                    integration=integration,
                    entity=entity,
                    local_field=m.local,
                    remote_field=m.remote,
                    direction=m.direction,
                    transform=m.transform,
                    is_default=is_default,
                    position=position,
                )
                for position, m in enumerate(maps)
            ]
        )


def remote_to_local(maps: list[FieldMap], fields: Mapping[str, Any], *, region: str) -> dict[str, Any]:
    """Canonical values from a remote record (inbound mappings only). Raises TransformError."""
    values: dict[str, Any] = {}
    for m in maps:
        if not m.inbound or m.remote not in fields:
            continue
        values[m.local] = canonical_value(m.to_local(fields[m.remote], record=fields, region=region))
    return values


def local_to_remote(
    maps: list[FieldMap], values: Mapping[str, Any], *, only: Iterable[str] | None = None, region: str
) -> dict[str, Any]:
    """Remote field values for the given canonical values (outbound mappings only)."""
    wanted = set(only) if only is not None else None
    out: dict[str, Any] = {}
    for m in maps:
        if not m.outbound or (wanted is not None and m.local not in wanted):
            continue
        value = m.to_remote(values.get(m.local), record=values, region=region)
        out[m.remote] = "" if value is None else value
    return out


def mappings_from_columns(*, integration: Integration, entity: str, chosen: Mapping[str, str]) -> None:
    """The wizard's column choices for a table-store entity (canonical field → column, "" = not
    synced): each field's mapping points at its chosen column (keeping its transform only while the
    column is the one it was written for), an unchosen field's mapping is switched off, and a field
    without one gets one (its transform implied by the column's type)."""
    mappings_ensure_defaults(integration)
    with transaction.atomic():
        rows: dict[str, list[FieldMapping]] = {}
        for mapping in FieldMapping.objects.filter(integration=integration, entity=entity).order_by(
            "position", "id"
        ):
            rows.setdefault(mapping.local_field, []).append(mapping)
        position = max((m.position for group in rows.values() for m in group), default=-1) + 1
        for local, column in chosen.items():
            current = rows.get(local, [])
            if not column:
                FieldMapping.objects.filter(pk__in=[m.pk for m in current]).update(
                    direction=FieldMapping.Direction.NONE
                )
                continue
            if not current:
                FieldMapping.objects.create(
                    integration=integration,
                    entity=entity,
                    local_field=local,
                    remote_field=column,
                    position=position,
                )
                position += 1
                continue
            first, *others = current
            FieldMapping.objects.filter(pk__in=[m.pk for m in others]).delete()
            if first.remote_field != column:
                first.remote_field, first.transform = column, None
            if first.direction == FieldMapping.Direction.NONE:
                first.direction = FieldMapping.Direction.BOTH
            first.save(update_fields=["remote_field", "transform", "direction"])


def on_wizard_mappings_chosen(
    sender, *, integration: Integration, mappings: Mapping[str, Mapping[str, str]], **kwargs
) -> None:
    for entity, chosen in mappings.items():
        mappings_from_columns(integration=integration, entity=entity, chosen=chosen)
