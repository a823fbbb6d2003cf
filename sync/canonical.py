"""Canonical values on model instances: read them (``local_values``), type them (``coerce``) and
write them (``assign``), in the names field mappings use (``custom:<key>`` for custom fields).

Enrichment values (``enrichment:<key>``: score, sub-scores, signals, next actions, ...) are read
here too, as the text or number a CRM's custom field holds; they are the platform's own, pushed
and never written from a pull (``assign`` refuses them).

The sync engine and conflict resolution speak these; ``sync.services`` writes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_date, parse_datetime

from sync.enrichment.types import enriched_view
from sync.entities import entity_for
from sync.mapping import CUSTOM_PREFIX, ENRICHMENT_PREFIX, canonical_value, is_enrichment_field
from sync.normalize import normalise_attachments
from sync.relations import canonical_ids, local_ids

SIGNALS_SEPARATOR = ", "
NEXT_ACTIONS_SEPARATOR = "; "
SUB_SCORES = {f"score_{name}": name for name in ("financial", "growth", "engagement", "fit")}


def local_values(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The record's canonical values for these canonical names."""
    values = {}
    many = entity_for(obj).many
    for name in fields:
        if name.startswith(CUSTOM_PREFIX):
            values[name] = canonical_value((obj.custom_fields or {}).get(name[len(CUSTOM_PREFIX) :]))
        elif is_enrichment_field(name):
            values[name] = canonical_value(enrichment_value(obj, name[len(ENRICHMENT_PREFIX) :]))
        elif name in many:
            values[name] = canonical_ids(getattr(obj, name), many=True)
        else:
            values[name] = canonical_value(getattr(obj, name))
    return values


def enrichment_value(obj: models.Model, key: str) -> Any:
    """One enrichment value as a CRM field holds it (None when the record has none, or is not a
    record enrichment scores): ``signals`` comma-separated, ``next_actions`` as
    "action (due YYYY-MM-DD)" joined by "; ", ``deal_stage`` the suggested stage."""
    if not hasattr(obj, "score_breakdown"):
        return None
    if key == "summary":
        return enriched_view(obj.enriched).get("summary")
    if key == "score":
        return obj.score
    if key in SUB_SCORES:
        return (obj.score_breakdown or {}).get(SUB_SCORES[key])
    if key == "signals":
        return SIGNALS_SEPARATOR.join(str(s) for s in obj.signals or () if s)
    if key == "next_actions":
        return NEXT_ACTIONS_SEPARATOR.join(_next_action(a) for a in obj.next_actions or () if a)
    if key == "deal_stage":
        return obj.suggested_stage
    return None


def _next_action(entry: Any) -> str:
    """ "Schedule call (due 2024-05-03)"; the action alone when it has no due date."""
    if not isinstance(entry, dict):
        return str(entry)
    action, due = str(entry.get("action") or ""), entry.get("due_at")
    if isinstance(due, datetime):
        due = due.date().isoformat()
    elif isinstance(due, str) and due:
        due = due[:10]
    return f"{action} (due {due})" if due else action


def coerce(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """Canonical values typed by the local model's fields, so "2024-05-01T00:00:00+00:00" from an
    epoch-ms transform and a DateField's date compare equal. Raises ValueError naming the field."""
    out = {}
    relations = entity_for(model).relations
    for name, value in values.items():
        if value is None or name.startswith(CUSTOM_PREFIX) or name in relations:
            out[name] = value
            continue
        model_field = model._meta.get_field(name)
        try:
            if isinstance(model_field, models.DateTimeField):
                typed = value if isinstance(value, datetime) else parse_datetime(str(value))
            elif isinstance(model_field, models.DateField):
                typed = parse_datetime(str(value)) or parse_date(str(value)[:10])
                typed = typed.date() if isinstance(typed, datetime) else typed
            elif isinstance(model_field, models.JSONField):  # a message's attachments: kept as JSON
                typed = normalise_attachments(value)
            elif isinstance(model_field, models.DecimalField | models.IntegerField | models.BooleanField):
                typed = model_field.to_python(value)
            else:
                typed = str(value)
                if getattr(model_field, "max_length", None) and len(typed) > model_field.max_length:
                    raise ValueError(f"longer than {model_field.max_length} characters")
        except (ValueError, TypeError, ValidationError) as exc:
            raise ValueError(f"{name}: {exc}") from None
        if typed is None:
            raise ValueError(f"{name}: {str(value)[:40]!r} is not a valid {model_field.get_internal_type()}")
        out[name] = canonical_value(typed)
    return out


def assign(obj: models.Model, values: dict[str, Any]) -> None:
    """Write canonical values onto a model instance, converting to each field's type."""
    many = entity_for(obj).many
    for name, value in values.items():
        if is_enrichment_field(name):
            raise ValueError(f"{name} is computed by enrichment: it is pushed, never assigned")
        if name in many:
            setattr(obj, name, local_ids(value))
            continue
        if name.startswith(CUSTOM_PREFIX):
            custom = dict(obj.custom_fields or {})
            key = name[len(CUSTOM_PREFIX) :]
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
            obj.custom_fields = custom
            continue
        model_field = obj._meta.get_field(name)
        if value is None:
            value = (
                ""
                if isinstance(model_field, models.CharField | models.TextField) and not model_field.null
                else model_field.get_default()  # a JSON list field's []
                if isinstance(model_field, models.JSONField) and not model_field.null
                else None
            )
        else:
            value = model_field.to_python(value)
        setattr(obj, name, value)


def field_names(values: Iterable[str]) -> set[str]:
    """The model fields behind canonical names (every ``custom:<key>`` lives in custom_fields; a
    to-many relation such as ``contact_ids`` keeps its name, and its own table)."""
    return {"custom_fields" if n.startswith(CUSTOM_PREFIX) else n for n in values}
