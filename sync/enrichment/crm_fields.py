"""The enrichment fields pushed to CRMs as custom fields: which they are, whether the CRM has them,
creating them where its API can, and the outbound mappings that push them.

Per contact and company, nine fields named by the sub-account's ``ScoringProfile.field_prefix``
(default ``platform_``): summary, score, the four sub-scores, signals, next actions and the
suggested deal stage (local names ``enrichment:<key>``, read by ``sync.canonical.local_values``).

``crm_fields_ensure`` refreshes the CRM's fields (``sync.fields``), creates the missing ones when the
connector can (``Connector.creates_fields``: HubSpot's properties API, Salesforce's Tooling API),
and installs an outbound mapping row (``to_remote``) for every field the CRM has; a field still
missing stays unmapped, so pushes never name a field the CRM lacks. ``crm_fields_status`` answers
the same without creating or mapping anything, for the wizard and the admin to name what is
missing. A field exists when the CRM has one with the connector's name for it
(``Connector.custom_field_name``: ``platform_score__c`` at Salesforce) or with its label.

A mapping row the operator switched off (direction ``none``) or pointed at another existing field
is left as it is. Connector errors are reported on the fields they concern; only an auth error
(the integration needs reconnecting) is raised.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max

from connectors.base import AuthError, Connector, ConnectorError, FieldSpec, RemoteField
from integrations.models import Integration
from integrations.services import connector_for
from sync.fields import fields_for, fields_refresh
from sync.mapping import ENRICHED_ENTITIES, ENRICHMENT_PREFIX, mappings_ensure_defaults
from sync.models import FieldMapping, ScoringProfile

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "platform_"


@dataclass(frozen=True)
class EnrichmentField:
    """One enrichment value as a CRM field: its key (``enrichment:<key>``), the words its label
    ends with, and its type (a ``FieldSpec`` type)."""

    key: str
    label: str
    type: str


FIELDS: tuple[EnrichmentField, ...] = (
    EnrichmentField("summary", "summary", "text"),
    EnrichmentField("score", "score", "number"),
    EnrichmentField("score_financial", "financial score", "number"),
    EnrichmentField("score_growth", "growth score", "number"),
    EnrichmentField("score_engagement", "engagement score", "number"),
    EnrichmentField("score_fit", "fit score", "number"),
    EnrichmentField("signals", "signals", "text"),
    EnrichmentField("next_actions", "next actions", "text"),
    EnrichmentField("deal_stage", "deal stage", "string"),
)


@dataclass(frozen=True)
class CrmField:
    """One enrichment field of one entity, as the CRM has it (or not).

    ``name``/``label``: what the platform asks for (``platform_score``, "Platform score");
    ``remote``: the CRM's field it maps to, "" while the CRM has none; ``installed``: an outbound
    mapping row pushes it; ``error``: why it could not be created or checked.
    """

    entity: str
    local: str
    name: str
    label: str
    type: str
    remote: str = ""
    installed: bool = False
    error: str = ""


@dataclass
class CrmFieldsReport:
    """``mapped``: fields the CRM has (mapped by ``crm_fields_ensure``); ``created``: those this call
    created (also in ``mapped``); ``missing``: fields the CRM lacks, left unmapped."""

    mapped: list[CrmField] = field(default_factory=list)
    created: list[CrmField] = field(default_factory=list)
    missing: list[CrmField] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def missing_names(self) -> list[str]:
        """What the wizard tells the operator to create: 'contact: "Platform score" (platform_score)'."""
        return [f'{f.entity}: "{f.label}" ({f.name}, {f.type})' for f in self.missing]

    def to_dict(self) -> dict[str, Any]:
        return {name: [asdict(f) for f in getattr(self, name)] for name in ("mapped", "created", "missing")}


def field_prefix(integration: Integration) -> str:
    """The sub-account's prefix for the enrichment fields (``ScoringProfile.field_prefix``)."""
    prefix = (
        ScoringProfile.objects.filter(subaccount_id=integration.subaccount_id)
        .values_list("field_prefix", flat=True)
        .first()
    )
    return prefix or DEFAULT_PREFIX


def field_specs(prefix: str) -> list[tuple[str, FieldSpec]]:
    """(local name, FieldSpec) of every enrichment field: ``platform_score``, "Platform score"."""
    words = prefix.replace("_", " ").strip()
    specs = []
    for f in FIELDS:
        label = f"{words} {f.label}".strip()
        specs.append(
            (ENRICHMENT_PREFIX + f.key, FieldSpec(prefix + f.key, label[:1].upper() + label[1:], f.type))
        )
    return specs


def crm_fields_status(integration: Integration, *, refresh: bool = True) -> CrmFieldsReport:
    """Which enrichment fields the CRM has and which it lacks, creating and mapping nothing.
    ``refresh``: ask the CRM first (else the cached field lists answer)."""
    return _run(integration, create=False, install=False, refresh=refresh)


def crm_fields_ensure(integration: Integration) -> CrmFieldsReport:
    """Create the enrichment fields the CRM lacks (when its connector can) and map every one it
    has, outbound. Idempotent: a second call creates nothing and changes no mapping row."""
    return _run(integration, create=True, install=True, refresh=True)


def _run(integration: Integration, *, create: bool, install: bool, refresh: bool) -> CrmFieldsReport:
    report = CrmFieldsReport()
    specs = field_specs(field_prefix(integration))
    try:
        connector = connector_for(integration)
    except ConnectorError as exc:  # the integration's settings cannot make a connector at all
        for entity in ENRICHED_ENTITIES:
            report.missing += [_entry(entity, local, spec, error=str(exc)) for local, spec in specs]
        return report
    entities = [entity for entity in ENRICHED_ENTITIES if connector.supports(entity)]
    unreadable = _refresh(integration, entities) if refresh else {}
    for entity in entities:
        _entity(report, integration, connector, entity, specs, unreadable.get(entity, ""), create, install)
    return report


def _entity(
    report: CrmFieldsReport,
    integration: Integration,
    connector: Connector,
    entity: str,
    specs: list[tuple[str, FieldSpec]],
    unreadable: str,
    create: bool,
    install: bool,
) -> None:
    discovered = fields_for(integration, entity)
    found = {local: _match(connector, spec, discovered) for local, spec in specs}
    absent = [(local, spec) for local, spec in specs if found[local] is None]
    error, created = "", set()
    if absent and unreadable:
        error = f"could not read {connector.display_name}'s fields: {unreadable}"
    elif absent and not connector.creates_fields:
        error = (
            f"{connector.display_name} cannot create custom fields through its API: "
            f"create them in {connector.display_name}"
        )
    elif absent and create:
        error = _create(connector, entity, [spec for _, spec in absent])
        unreadable = _refresh(integration, [entity]).get(entity, "")
        discovered = fields_for(integration, entity)
        for local, spec in absent:
            found[local] = _match(connector, spec, discovered)
            if found[local] is not None:
                created.add(local)
    remotes = {local: f.name for local, f in found.items() if f is not None}
    installed = (
        _install(
            integration,
            entity,
            remotes,
            known={f.name for f in discovered},
            prune=bool(discovered) and not unreadable,
        )
        if install
        else _installed(integration, entity, {f.name for f in discovered})
    )
    for local, spec in specs:
        remote = installed.get(local) or remotes.get(local, "")
        entry = _entry(entity, local, spec, remote=remote, installed=local in installed)
        if not remote:
            report.missing.append(_entry(entity, local, spec, error=error))
            continue
        report.mapped.append(entry)
        if local in created:
            report.created.append(entry)


def _entry(entity: str, local: str, spec: FieldSpec, **values: Any) -> CrmField:
    return CrmField(entity=entity, local=local, name=spec.name, label=spec.label, type=spec.type, **values)


def _refresh(integration: Integration, entities: list[str]) -> dict[str, str]:
    """Refresh the entities' field lists: entity → why it failed, for those that did. A refused
    credential is raised (the integration needs reconnecting), anything else only reported."""
    failed = {}
    for outcome in fields_refresh(integration, entities).failed:
        if outcome.code == "provider_auth":
            raise AuthError(outcome.error)
        failed[outcome.entity] = outcome.error
    return failed


def _create(connector: Connector, entity: str, specs: list[FieldSpec]) -> str:
    """Ask the connector to create the fields (one call); "" or the provider's refusal."""
    try:
        connector.create_fields(entity, specs)
    except AuthError:
        raise
    except ConnectorError as exc:
        logger.warning("creating enrichment fields for %s failed: %s", entity, exc)
        return str(exc) or type(exc).__name__
    return ""


def _match(connector: Connector, spec: FieldSpec, fields: list[RemoteField]) -> RemoteField | None:
    """The CRM's writable field for ``spec``: by the name the connector would give it, else by label
    (case-insensitive both)."""
    writable = [f for f in fields if not f.read_only]
    name = connector.custom_field_name(spec.name).casefold()
    label = spec.label.strip().casefold()
    return next((f for f in writable if f.name.casefold() == name), None) or next(
        (f for f in writable if f.label.strip().casefold() == label), None
    )


def _installed(integration: Integration, entity: str, known: set[str]) -> dict[str, str]:
    """local → remote of the outbound enrichment rows that name a field the CRM has."""
    rows = FieldMapping.objects.filter(
        integration=integration,
        entity=entity,
        local_field__startswith=ENRICHMENT_PREFIX,
        direction=FieldMapping.Direction.TO_REMOTE,
    ).order_by("position", "id")
    found: dict[str, str] = {}
    for row in rows:
        if row.remote_field in known:
            found.setdefault(row.local_field, row.remote_field)
    return found


def _install(
    integration: Integration, entity: str, remotes: dict[str, str], *, known: set[str], prune: bool
) -> dict[str, str]:
    """Map each field the CRM has, outbound, unless a row already decides: a row switched off
    (``none``) or pushing to another field the CRM has is kept. With ``prune`` (the field list is
    fresh), enrichment rows naming a field the CRM does not have are removed: a push naming one
    would be refused. Returns local → remote of the rows that push."""
    mappings_ensure_defaults(integration)  # our rows must not stand in for the connector's defaults
    with transaction.atomic():
        rows = list(
            FieldMapping.objects.select_for_update()
            .filter(integration=integration, entity=entity, local_field__startswith=ENRICHMENT_PREFIX)
            .order_by("position", "id")
        )
        stale = [r.pk for r in rows if prune and r.remote_field not in known]
        FieldMapping.objects.filter(pk__in=stale).delete()
        rows = [r for r in rows if r.pk not in stale]
        decided = {r.local_field for r in rows}
        position = (
            FieldMapping.objects.filter(integration=integration, entity=entity).aggregate(
                top=Max("position")
            )["top"]
            or 0
        )
        new = []
        for local, remote in remotes.items():
            if local in decided:
                continue
            position += 1
            new.append(
                FieldMapping(
                    integration=integration,
                    entity=entity,
                    local_field=local,
                    remote_field=remote,
                    direction=FieldMapping.Direction.TO_REMOTE,
                    position=position,
                )
            )
        FieldMapping.objects.bulk_create(new)
    return _installed(integration, entity, known)
