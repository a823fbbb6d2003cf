"""How canonical records, bulk results and the change feed look on the wire.

Incoming record values are validated and normalised by ``sync.normalize`` (the same rules for the
API and the sync engine); the ``*Input`` serializers built here only describe request bodies for
the OpenAPI schema, derived from the entity registry so they cannot drift from what is accepted.
"""

from collections.abc import Iterable
from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from sync.entities import ENTITIES, EntityDef, entity_for
from sync.models import Activity, Change, Company, Contact, Conversation, Deal
from sync.normalize import CUSTOM_FIELD_KEY_MAX, MAX_RELATED, PHONE_FIELDS
from sync.selectors import CHANGE_PAGE_MAX, record_links
from sync.services import MAX_BULK, BulkResult

BIGINT_MAX = 2**63 - 1

# Written only by enrichment (sync.enrichment): read-only here, and not writable names in the
# records API (sync.entities lists the writable ones).
ENRICHMENT_FIELDS = [
    "score",
    "score_breakdown",
    "score_reasons",
    "scorer_version",
    "scored_at",
    "signals",
    "next_actions",
    "suggested_stage",
    "enriched",
    "enriched_at",
    "enrichment_error",
]
META_FIELDS = ["version", "is_deleted", "deleted_at", "created_at", "updated_at"]


def _record_fields(entity: str, *, enrichment: bool = False) -> list[str]:
    return ["id", *ENTITIES[entity].fields, *(ENRICHMENT_FIELDS if enrichment else []), *META_FIELDS]


class RecordSerializer(serializers.ModelSerializer):
    """A canonical record's fields. Its one-record relations (``contact_id``, ``conversation_id``,
    ... from the entity registry) are integer ids or null; DRF alone would make them untyped."""

    def build_field(self, field_name: str, info: Any, model_class: type, nested_depth: int):
        definition = entity_for(model_class)
        if field_name in definition.relations and field_name not in definition.many:
            return serializers.IntegerField, {"read_only": True, "allow_null": True}
        return super().build_field(field_name, info, model_class, nested_depth)


class ContactSerializer(RecordSerializer):
    class Meta:
        model = Contact
        fields = _record_fields("contact", enrichment=True)
        read_only_fields = fields


class CompanySerializer(RecordSerializer):
    class Meta:
        model = Company
        fields = _record_fields("company", enrichment=True)
        read_only_fields = fields


class DealSerializer(RecordSerializer):
    contact_ids = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, help_text="The deal's contacts, ascending ids"
    )

    class Meta:
        model = Deal
        fields = _record_fields("deal")
        read_only_fields = fields


class ConversationSerializer(RecordSerializer):
    class Meta:
        model = Conversation
        fields = _record_fields("conversation")
        read_only_fields = fields


class ActivitySerializer(RecordSerializer):
    class Meta:
        model = Activity
        fields = _record_fields("activity")
        read_only_fields = fields


RECORD_SERIALIZERS: dict[str, type[serializers.ModelSerializer]] = {
    "contact": ContactSerializer,
    "company": CompanySerializer,
    "deal": DealSerializer,
    "activity": ActivitySerializer,
    "conversation": ConversationSerializer,
}


class LinkedIntegrationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RecordLinkSerializer(serializers.Serializer):
    """The record's twin in one integration."""

    integration = LinkedIntegrationSerializer()
    provider = serializers.CharField(help_text="The integration's template key, e.g. hubspot")
    remote_id = serializers.CharField()
    last_synced_at = serializers.DateTimeField()
    matched_by = serializers.CharField(
        allow_blank=True,
        help_text="How our push made the link: created, or the key an upserting provider matched an "
        "existing record on (external_id, email, phone); empty when a pull made it",
    )
    last_error = serializers.CharField(
        allow_blank=True, help_text="The newest unresolved sync error of this record here; empty if none"
    )


@extend_schema_field(RecordLinkSerializer(many=True))
class LinksField(serializers.Field):
    """Read-only ``links``. A list view passes them for its whole page in the context (``links``:
    record id → links, from ``sync.selectors.record_links``); otherwise they are read per record."""

    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, record: models.Model) -> list[dict[str, Any]]:
        page = self.context.get("links")
        if page is None:
            page = record_links(entity=entity_for(record).name, record_ids=[record.pk])
        return RecordLinkSerializer(page.get(record.pk, []), many=True).data


def _with_links(record: type[serializers.ModelSerializer]) -> type[serializers.ModelSerializer]:
    """The API's view of a record: its fields (what webhook payloads carry too) and its links."""
    meta = type("Meta", (record.Meta,), {"fields": [*record.Meta.fields, "links"]})
    meta.read_only_fields = meta.fields
    attrs = {
        "Meta": meta,
        "links": LinksField(help_text="The record's links to integrations: remote id, last sync, last error"),
        "__doc__": record.__doc__,
    }
    linked = type(f"{record.__name__.removesuffix('Serializer')}ApiSerializer", (record,), attrs)
    return extend_schema_serializer(component_name=record.__name__.removesuffix("Serializer"))(linked)


# What the records API returns (webhook payloads use RECORD_SERIALIZERS: no links, no queries).
API_RECORD_SERIALIZERS: dict[str, type[serializers.ModelSerializer]] = {
    name: _with_links(serializer) for name, serializer in RECORD_SERIALIZERS.items()
}


# --- request bodies (schema only) -------------------------------------------------------------------


def _text(**string: Any) -> dict[str, Any]:
    """What ``sync.normalize`` reads as text: a string, a number (CRMs send numeric ids) or null."""
    return {"anyOf": [{"type": "string", "nullable": True, **string}, {"type": "number"}]}


def _or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or "" (which clears the value like null does)."""
    return {"anyOf": [{**schema, "nullable": True}, {"type": "string", "maxLength": 0}]}


RECORD_VALUE_FORMATS = {
    "phone": "A phone number: +<country code>... (E.164), or national in the sub-account's region",
    "domain": "A domain name; a URL or www. host is reduced to the bare domain",
}


def _input_schema(definition: EntityDef, name: str) -> dict[str, Any]:
    """The JSON schema of one writable field: exactly what ``sync.normalize.normalise_value`` takes."""
    if name in definition.many:
        return {
            "type": "array",
            "nullable": True,
            "maxItems": MAX_RELATED,
            "items": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
            "description": f"Ids of live {definition.relations[name]} records in this sub-account "
            "(replaces the list; [] or null clears it)",
        }
    if name in definition.relations:
        return {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX, "nullable": True},
                {"type": "string", "pattern": r"^\s*[0-9]*[1-9][0-9]*\s*$"},
                {"type": "string", "maxLength": 0},
            ],
            "description": f"Id of a live {definition.relations[name]} in this sub-account",
        }
    if name == "custom_fields":
        return {
            "type": "object",
            "additionalProperties": {},
            "description": "Merged into the stored object; a key set to null is removed. Keys: 1-"
            f"{CUSTOM_FIELD_KEY_MAX} characters, not blank",
        }
    if name == "email":
        return _or_empty({"type": "string", "format": "email"})
    if name in PHONE_FIELDS:
        return _or_empty({"type": "string", "format": "phone", "description": RECORD_VALUE_FORMATS["phone"]})
    if name == "domain":
        return _or_empty(
            {"type": "string", "format": "domain", "description": RECORD_VALUE_FORMATS["domain"]}
        )
    if name == "currency":
        return {
            "type": "string",
            "nullable": True,
            "pattern": r"^\s*([A-Za-z]{3})?\s*$",
            "description": "ISO 4217 code (any case)",
        }
    field = definition.model._meta.get_field(name)
    if isinstance(field, models.JSONField):
        return {"type": "array", "items": {"type": "object", "additionalProperties": {}}, "nullable": True}
    if isinstance(field, models.DecimalField):
        whole = field.max_digits - field.decimal_places
        return {
            "anyOf": [
                {
                    "type": "number",
                    "nullable": True,
                    # What rounds to at most 12 whole digits (999999999999.99).
                    "minimum": -(10**whole) + 0.005,
                    "maximum": 10**whole - 0.005,
                    "exclusiveMinimum": True,
                    "exclusiveMaximum": True,
                },
                {"type": "string", "pattern": rf"^\s*[+-]?[0-9]{{1,{whole}}}(\.[0-9]+)?\s*$"},
                {"type": "string", "maxLength": 0},
            ],
            "description": f"Rounded half-up to {field.decimal_places} decimal places",
        }
    if isinstance(field, models.DateTimeField):
        return {
            "anyOf": [
                {"type": "string", "format": "date-time", "nullable": True},
                {"type": "string", "maxLength": 0},
            ],
            "description": "ISO 8601; without an offset it is read as UTC",
        }
    if isinstance(field, models.DateField):
        return {
            "anyOf": [
                {"type": "string", "format": "date", "nullable": True},
                {"type": "string", "format": "date-time"},
                {"type": "string", "maxLength": 0},
            ],
        }
    if field.choices:
        choices = [str(choice) for choice, _ in field.flatchoices]
        return {"type": "string", "enum": choices, "nullable": "" in choices, "description": "Any case"}
    return _text(maxLength=field.max_length) if field.max_length else _text()


class Described(serializers.JSONField):
    """A request field documented by a JSON schema of its own (what the normaliser accepts)."""

    def __init__(self, schema: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self._spectacular_annotation = {"field": schema}


def _input_field(definition: EntityDef, name: str) -> serializers.Field:
    """A schema-describing field for one writable name: every field is optional (PATCH semantics)."""
    return Described(_input_schema(definition, name), required=False)


def _input_serializer(definition: EntityDef) -> type[serializers.Serializer]:
    attrs: dict[str, Any] = {name: _input_field(definition, name) for name in definition.fields}
    attrs["__doc__"] = f"A {definition.name}'s writable fields (all optional; unknown names are refused)."
    attrs["openapi_schema_extra"] = {"additionalProperties": False}  # unknown names are a 400
    return type(f"{definition.name.title()}InputSerializer", (serializers.Serializer,), attrs)


INPUT_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    name: _input_serializer(definition) for name, definition in ENTITIES.items()
}


class BulkInputSerializer(serializers.Serializer):
    # Items stay free-form here: a malformed item fails alone in the per-record results.
    records = serializers.ListField(child=serializers.JSONField(), max_length=MAX_BULK, allow_empty=True)


def bulk_input_serializer(entity: str) -> type[serializers.Serializer]:
    """The documented bulk body for ``entity``: ``{"records": [<entity input>, ...]}``."""
    # Any item is accepted here: one that is not a valid record fails alone, in the results.
    item = {
        "anyOf": [
            {"$ref": f"#/components/schemas/{entity.title()}InputRequest"},
            *({"type": kind} for kind in ("object", "array", "string", "number", "boolean")),
        ],
        "description": f"A {entity} (see {entity.title()}InputRequest); an invalid one fails alone",
    }
    records = {"type": "array", "maxItems": MAX_BULK, "items": item}
    return type(
        f"{entity.title()}BulkInputSerializer",
        (serializers.Serializer,),
        {"records": Described(records)},
    )


# --- responses --------------------------------------------------------------------------------------


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    id = serializers.IntegerField(allow_null=True)
    error = serializers.DictField(child=serializers.CharField(), allow_null=True, help_text="field → reason")


class BulkSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    error = serializers.IntegerField()


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)
    summary = BulkSummarySerializer()


def bulk_response(results: Iterable[BulkResult]) -> dict[str, Any]:
    """The bulk endpoint's body: per-record results in input order and counts by status."""
    rows = [{"index": r.index, "status": r.status, "id": r.id, "error": r.error} for r in results]
    summary = {status: 0 for status in ("created", "updated", "unchanged", "error")}
    for row in rows:
        summary[row["status"]] += 1
    return {"results": rows, "summary": summary}


class ChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Change
        fields = ["seq", "entity", "record_id", "op", "fields", "origin", "created_at"]
        read_only_fields = fields


class ChangeQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, max_value=BIGINT_MAX, default=0, help_text="The last seq you processed"
    )
    limit = serializers.IntegerField(min_value=1, max_value=CHANGE_PAGE_MAX, default=100)
    entity = serializers.ChoiceField(choices=list(ENTITIES), required=False)


class ChangePageSerializer(serializers.Serializer):
    results = ChangeSerializer(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= next time (unchanged when empty)")
