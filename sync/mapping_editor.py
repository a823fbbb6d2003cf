"""The admin's field-mapping editor, as a service: the rows of one integration × entity as a form
(a transform chosen by name with a small form for its arguments, generated from ``ArgSpec``),
checked with the API's own validation, previewed against sample records, saved and reset.

A posted row is ``rows-<key>-local``, ``-remote``, ``-direction``, ``-transform`` and one
``rows-<key>-arg-<name>`` per argument of the chosen transform; ``<key>`` only orders the rows.
The preview runs the engine's own functions (``maps_effective``, ``remote_to_local``, ``coerce``,
``local_values``, ``local_to_remote``) one mapping at a time, so that a field's transform error
shows on that field and the preview cannot disagree with a sync.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from connectors.base import CANONICAL_ENTITIES, CANONICAL_FIELDS, ConnectorError, RemoteField, RemoteRecord
from connectors.registry import connector_class, default_mappings
from integrations.audit import audit_record
from integrations.models import Integration
from integrations.services import connector_for
from sync import transforms
from sync.canonical import coerce, local_values
from sync.entities import entity_def
from sync.fields import LabelAmbiguous, LabelUnknown, field_by_label, fields_for
from sync.mapping import (
    CUSTOM_PREFIX,
    ENRICHED_ENTITIES,
    ENRICHMENT_KEYS,
    ENRICHMENT_PREFIX,
    FieldMap,
    MappingInvalid,
    local_to_remote,
    mappings_ensure_defaults,
    mappings_replace,
    mappings_store,
    mappings_validate,
    maps_effective,
    remote_to_local,
    validate_rows,
)
from sync.models import FieldMapping

ROW_KEY = re.compile(r"^rows-(\d+)-local$")
ARG_NAMED = re.compile(r"argument '(\w+)'")
SAMPLE_PAGES = 3  # pages of a pull scanned for a record that is not a deletion
# Map arguments whose values are text (option labels); other maps read numbers and true/false too.
TEXT_VALUED_MAPS = {("options", "map")}


# --- the form -----------------------------------------------------------------------------------


@dataclass
class ArgField:
    """One argument's input: ``kind`` picks the widget (bool, int, list, map, text, scalar)."""

    name: str
    label: str
    help: str
    kind: str
    required: bool
    placeholder: str
    value: Any = ""
    errors: list[str] = field(default_factory=list)


@dataclass
class EditorRow:
    key: str
    local: str = ""
    remote: str = ""
    direction: str = FieldMapping.Direction.BOTH.value
    transform: str = ""
    args: list[ArgField] = field(default_factory=list)
    spec_args: dict[str, Any] = field(default_factory=dict)
    remote_is_label: bool = False
    remote_label: str = ""  # the discovered field's label, shown beside its name
    errors: list[str] = field(default_factory=list)

    @property
    def spec(self) -> dict[str, Any] | None:
        return {"name": self.transform, "args": dict(self.spec_args)} if self.transform else None

    @property
    def blank(self) -> bool:
        return not (self.local.strip() or self.remote.strip() or self.transform)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or any(a.errors for a in self.args))

    def as_row(self) -> dict[str, Any]:
        """The row as ``validate_rows`` reads it (a remote typed as a label is looked up by label)."""
        remote_key = "remote_label" if self.remote_is_label else "remote"
        return {
            "local": self.local.strip(),
            remote_key: self.remote.strip(),
            "direction": self.direction,
            "transform": self.spec,
        }


def _kind(spec: transforms.ArgSpec) -> str:
    if spec.types == (bool,):
        return "bool"
    if spec.types == (int,):
        return "int"
    if spec.types == (list,):
        return "list"
    if spec.types == (dict,):
        return "map"
    if spec.types == (str,):
        return "text"
    return "scalar"


def _scalar_text(value: Any) -> str:
    """A scalar as typed in its input: text as is unless it would read back as JSON (then quoted)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value)
    return json.dumps(value)


def _scalar_parse(text: str) -> Any:
    """A number, true/false or "quoted text" read as JSON; anything else is the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


def _arg_text(kind: str, value: Any) -> Any:
    if value is None:
        return False if kind == "bool" else ""
    if kind == "bool":
        return bool(value)
    if kind == "list":
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if kind == "map":
        if not isinstance(value, Mapping):
            return str(value)
        return "\n".join(f"{k} = {v if isinstance(v, str) else _scalar_text(v)}" for k, v in value.items())
    if kind == "scalar":
        return _scalar_text(value)
    return str(value)


def _placeholder(spec: transforms.ArgSpec, kind: str) -> str:
    if spec.required:
        return "required"
    if spec.default is None or kind == "bool":
        return "optional"
    return f"default: {_arg_text(kind, spec.default)!r}" if kind == "text" else f"default: {spec.default}"


def arg_fields(name: str, given: Mapping[str, Any] | None = None) -> list[ArgField]:
    """The argument inputs of transform ``name``, filled with ``given`` (a stored spec's args)."""
    if name not in transforms.TRANSFORMS:
        return []
    given = given or {}
    fields = []
    for arg, spec in transforms.TRANSFORMS[name].args.items():
        kind = _kind(spec)
        fields.append(
            ArgField(
                name=arg,
                label=spec.label or arg.replace("_", " ").capitalize(),
                help=spec.help,
                kind=kind,
                required=spec.required,
                placeholder=_placeholder(spec, kind),
                value=_arg_text(kind, given.get(arg)),
            )
        )
    return fields


def transform_choices() -> list[tuple[str, str, str]]:
    """(name, label, help) for every transform, by label."""
    return sorted(
        (
            (name, *transforms.TRANSFORM_LABELS.get(name, (name.replace("_", " ").capitalize(), "")))
            for name in transforms.TRANSFORMS
        ),
        key=lambda choice: choice[1].casefold(),
    )


def _parse_arg(transform: str, arg: ArgField, raw: str | None) -> tuple[bool, Any]:
    """(given, value) for one posted argument; a value it cannot read goes to ``arg.errors``."""
    raw = raw if raw is not None else ""
    if arg.kind == "bool":
        return (True, True) if raw in ("on", "true", "1") else (False, None)
    if not raw.strip():
        return False, None
    if arg.kind == "int":
        try:
            return True, int(raw.strip())
        except ValueError:
            arg.errors.append(f"{raw.strip()!r} is not a whole number")
            return False, None
    if arg.kind == "list":
        return True, [part.strip() for part in raw.split(",") if part.strip()]
    if arg.kind == "map":
        text_values = (transform, arg.name) in TEXT_VALUED_MAPS
        result: dict[str, Any] = {}
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                arg.errors.append(f"line {number}: write it as value = value")
                continue
            result[key.strip()] = value.strip() if text_values else _scalar_parse(value.strip())
        return True, result
    if arg.kind == "scalar":
        return True, _scalar_parse(raw.strip())
    return True, raw.strip() or raw  # all spaces stays as typed: a separator may be " "


def rows_posted(data: Mapping[str, Any], fields: list[RemoteField] | None = None) -> list[EditorRow]:
    """The rows of a posted editor form, in key order; blank rows (added, never filled) are left out.

    ``fields``: the entity's discovered fields; a remote typed as one of their labels (not a name)
    is looked up by label, as the API's ``remote_label``."""
    names = {f.name for f in fields or []}
    keys = sorted(int(m.group(1)) for k in data if (m := ROW_KEY.match(k)))
    rows = []
    for key in keys:
        prefix = f"rows-{key}-"
        transform = str(data.get(prefix + "transform", "") or "")
        row = EditorRow(
            key=str(key),
            local=str(data.get(prefix + "local", "")),
            remote=str(data.get(prefix + "remote", "")),
            direction=str(data.get(prefix + "direction", "") or FieldMapping.Direction.BOTH.value),
            transform=transform,
            args=arg_fields(transform),
        )
        for arg in row.args:
            raw = data.get(prefix + "arg-" + arg.name)
            arg.value = (raw in ("on", "true", "1")) if arg.kind == "bool" else (raw or "")
            given, value = _parse_arg(transform, arg, raw)
            if given:
                row.spec_args[arg.name] = value
        if fields and row.remote.strip() and row.remote.strip() not in names:
            try:
                field_by_label(fields, row.remote)
                row.remote_is_label = True
            except (LabelUnknown, LabelAmbiguous):
                pass  # a name the provider does not have: validation says so
        if transform and transform not in transforms.TRANSFORMS:
            row.errors.append(f"unknown transform {transform!r}")
        if not row.blank:
            rows.append(row)
    return rows


def rows_saved(integration: Integration, entity: str) -> list[EditorRow]:
    """The entity's stored mappings as editor rows (the connector's defaults on first sight)."""
    mappings_ensure_defaults(integration)
    rows = []
    for index, m in enumerate(
        FieldMapping.objects.filter(integration=integration, entity=entity).order_by("position", "id")
    ):
        spec = m.transform or {}
        name = spec.get("name", "") if isinstance(spec, Mapping) else ""
        given = spec.get("args") if isinstance(spec, Mapping) else None
        rows.append(
            EditorRow(
                key=str(index),
                local=m.local_field,
                remote=m.remote_field,
                direction=m.direction,
                transform=name,
                args=arg_fields(name, given if isinstance(given, Mapping) else None),
                spec_args=dict(given) if isinstance(given, Mapping) else {},
            )
        )
    return rows


def rows_labelled(rows: list[EditorRow], fields: list[RemoteField]) -> list[EditorRow]:
    """Give each row its remote field's label (when discovered), for the page to show."""
    labels = {f.name: f.label for f in fields}
    for row in rows:
        row.remote_label = labels.get(row.remote.strip(), "")
    return rows


# --- validation ---------------------------------------------------------------------------------


def _arg_problems(spec: dict[str, Any] | None) -> tuple[dict[str, str], list[str]]:
    """Every bad argument of ``spec`` (``validate_transform`` names one at a time: each named one is
    taken out and the spec checked again), and the problems that concern no one argument."""
    if spec is None:
        return {}, []
    args = dict(spec.get("args") or {})
    by_arg: dict[str, str] = {}
    known = transforms.TRANSFORMS.get(spec["name"])
    for _ in range(len(known.args) + 1 if known else 1):
        try:
            transforms.validate_transform({"name": spec["name"], "args": args})
        except ValueError as exc:
            named = ARG_NAMED.search(str(exc))
            if not named:
                return by_arg, [str(exc)]
            by_arg.setdefault(named.group(1), str(exc))
            if named.group(1) not in args:
                return by_arg, []  # a missing required argument: nothing more to take out
            args.pop(named.group(1))
            continue
        return by_arg, []
    return by_arg, []


def editor_check(integration: Integration, entity: str, rows: list[EditorRow]) -> list[FieldMap] | None:
    """The rows' FieldMaps when every row is valid (the API's checks against the discovered fields);
    otherwise None, with each problem on the row or argument that caused it."""
    for row in rows:
        by_arg, other = _arg_problems(row.spec)
        for arg in row.args:
            if arg.name in by_arg and not arg.errors:
                arg.errors.append(by_arg[arg.name])
        row.errors.extend(other)
    try:
        maps = mappings_validate(integration=integration, entity=entity, rows=[r.as_row() for r in rows])
    except MappingInvalid as exc:
        for index, messages in exc.errors.items():
            row = rows[index]
            known = {a.name for a in row.args}
            for message in messages:
                named = ARG_NAMED.search(message)
                if message.startswith("transform ") and named and named.group(1) in known:
                    continue  # already on its argument
                if message not in row.errors:
                    row.errors.append(message)
        return None
    return None if any(row.has_errors for row in rows) else maps


# --- save and reset -----------------------------------------------------------------------------


def editor_save(*, integration: Integration, entity: str, rows: list[EditorRow], actor: str) -> bool:
    """Replace the entity's mappings with ``rows``, atomically; False (nothing saved) when invalid."""
    if editor_check(integration, entity, rows) is None:
        return False
    # The other entities get their defaults first: once any row exists, they never would.
    mappings_ensure_defaults(integration)
    with transaction.atomic():
        saved = mappings_replace(integration=integration, entity=entity, rows=[r.as_row() for r in rows])
        audit_record(
            integration=integration,
            subaccount=integration.subaccount,
            actor=actor,
            action="mappings_saved",
            changes={"entity": entity, "rows": len(saved)},
        )
    return True


def editor_reset(*, integration: Integration, entity: str, actor: str) -> int:
    """Put back the connector's default mappings for ``entity`` (as a new integration gets them)."""
    defaults = validate_rows(entity, default_mappings(integration.template.connector).get(entity, []))
    mappings_ensure_defaults(integration)
    with transaction.atomic():
        mappings_store(integration=integration, entity=entity, maps=defaults, is_default=True)
        audit_record(
            integration=integration,
            subaccount=integration.subaccount,
            actor=actor,
            action="mappings_reset",
            changes={"entity": entity, "rows": len(defaults)},
        )
    return len(defaults)


# --- choices ------------------------------------------------------------------------------------


def editor_entities(integration: Integration) -> list[str]:
    """The canonical entities the integration's connector syncs (one tab each)."""
    cls = connector_class(integration.template.connector)
    return [entity for entity in CANONICAL_ENTITIES if cls.supports(entity)]


def local_choices(integration: Integration, entity: str) -> list[str]:
    """Local field names to offer: the canonical ones, the custom keys already mapped, enrichment
    values for enriched entities (any ``custom:<key>`` may be typed too)."""
    custom = FieldMapping.objects.filter(
        integration=integration, entity=entity, local_field__startswith=CUSTOM_PREFIX
    ).values_list("local_field", flat=True)
    enrichment = [ENRICHMENT_PREFIX + key for key in ENRICHMENT_KEYS] if entity in ENRICHED_ENTITIES else []
    return list(dict.fromkeys([*CANONICAL_FIELDS[entity], *sorted(custom), *enrichment]))


def remote_choices(integration: Integration, entity: str) -> list[RemoteField]:
    """The entity's discovered fields, by label (custom ones included)."""
    unique: dict[str, RemoteField] = {}
    for f in fields_for(integration, entity):
        unique.setdefault(f.name, f)
    return sorted(unique.values(), key=lambda f: (f.label or f.name).casefold())


# --- preview ------------------------------------------------------------------------------------


@dataclass
class FieldResult:
    """One mapping applied to one sample: the value it read, what it gives, or why it cannot."""

    local: str
    remote: str
    transform: str
    source: Any = None
    value: Any = None
    error: str = ""
    missing: bool = False


@dataclass
class SideResult:
    record_id: str = ""
    error: str = ""
    fields: list[FieldResult] = field(default_factory=list)


@dataclass
class Preview:
    inbound: SideResult  # remote sample → what the platform would store
    outbound: SideResult  # local sample → what the provider would be sent


def transform_text(spec: Mapping[str, Any] | None) -> str:
    if not spec:
        return ""
    label = transforms.TRANSFORM_LABELS.get(spec["name"], (spec["name"], ""))[0]
    args = ", ".join(f"{k}={v!r}" for k, v in (spec.get("args") or {}).items())
    return f"{label} ({args})" if args else label


def _remote_sample(
    integration: Integration, entity: str, maps: list[FieldMap], remote_id: str
) -> tuple[RemoteRecord | None, str]:
    """One remote record of ``entity``: ``remote_id`` read by id, else the first a pull yields."""
    try:
        connector = connector_for(integration)
        connector.want_fields(entity, sorted({m.remote for m in maps if m.inbound}))
        if remote_id:
            found = connector.get(entity, [remote_id])
            return (found[0], "") if found else (None, f"The provider has no {entity} {remote_id!r}.")
        pages = connector.pull(entity, cursor=None)
        try:
            for _, page in zip(range(SAMPLE_PAGES), pages, strict=False):
                for record in page.records:
                    if not record.deleted:
                        return record, ""
        finally:
            pages.close()
    except ConnectorError as exc:
        return None, f"The provider refused the sample read: {exc}"
    return None, f"The provider has no {entity} records to preview with yet."


def _local_sample(integration: Integration, entity: str, local_id: str):
    model = entity_def(entity).model
    records = model.objects.filter(subaccount=integration.subaccount, is_deleted=False)
    if local_id:
        obj = records.filter(pk=local_id).first() if local_id.isdigit() else None
        return obj, "" if obj else f"No {entity} #{local_id} in {integration.subaccount}."
    obj = records.order_by("-updated_at", "-pk").first()
    return obj, "" if obj else f"{integration.subaccount} has no {entity} records yet."


def _inbound(maps: list[FieldMap], record: RemoteRecord, entity: str, region: str) -> list[FieldResult]:
    model = entity_def(entity).model
    results = []
    for m in maps:
        if not m.inbound:
            continue
        result = FieldResult(
            m.local, m.remote, transform_text(m.transform), source=record.fields.get(m.remote)
        )
        if m.remote not in record.fields:
            result.missing = True
        else:
            try:
                result.value = coerce(model, remote_to_local([m], record.fields, region=region)).get(m.local)
            except (transforms.TransformError, ValueError) as exc:
                result.error = str(exc)
        results.append(result)
    return results


def _outbound(maps: list[FieldMap], obj, region: str) -> list[FieldResult]:
    outbound = [m for m in maps if m.outbound]
    local = local_values(obj, list(dict.fromkeys(m.local for m in outbound)))
    results = []
    for m in outbound:
        result = FieldResult(m.local, m.remote, transform_text(m.transform), source=local.get(m.local))
        try:
            result.value = local_to_remote([m], local, region=region)[m.remote]
        except (transforms.TransformError, ValueError) as exc:
            result.error = str(exc)
        results.append(result)
    return results


def editor_preview(
    *,
    integration: Integration,
    entity: str,
    maps: Iterable[FieldMap],
    local_id: str = "",
    remote_id: str = "",
) -> Preview:
    """What each side would receive under ``maps`` (validated, unsaved): a remote sample mapped
    inbound and a local sample mapped outbound, per field. Reads only; saves nothing."""
    effective = maps_effective(maps, fields_for(integration, entity))
    region = integration.subaccount.default_region
    inbound, outbound = SideResult(), SideResult()
    record, inbound.error = _remote_sample(integration, entity, effective, remote_id.strip())
    if record is not None:
        inbound.record_id = record.id
        inbound.fields = _inbound(effective, record, entity, region)
    obj, outbound.error = _local_sample(integration, entity, local_id.strip())
    if obj is not None:
        outbound.record_id = str(obj.pk)
        outbound.fields = _outbound(effective, obj, region)
    return Preview(inbound=inbound, outbound=outbound)
