"""How canonical records, bulk results and the change feed look on the wire.

Incoming record values are validated and normalised by ``sync.normalize`` (the same rules for the
API and the sync engine); the ``*Input`` serializers built here only describe request bodies for
the OpenAPI schema, derived from the entity registry so they cannot drift from what is accepted.
"""

from collections.abc import Iterable
from typing import Any

from django.db import models
from rest_framework import serializers

from sync.entities import ENTITIES, EntityDef
from sync.models import Activity, Change, Company, Contact, Deal
from sync.selectors import CHANGE_PAGE_MAX
from sync.services import MAX_BULK, BulkResult

BIGINT_MAX = 2**63 - 1

ENRICHMENT_FIELDS = ["score", "score_breakdown", "signals", "next_actions", "enriched_at"]
META_FIELDS = ["version", "is_deleted", "deleted_at", "created_at", "updated_at"]


def _record_fields(entity: str, *, enrichment: bool = False) -> list[str]:
    return ["id", *ENTITIES[entity].fields, *(ENRICHMENT_FIELDS if enrichment else []), *META_FIELDS]


class ContactSerializer(serializers.ModelSerializer):
    company_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Contact
        fields = _record_fields("contact", enrichment=True)
        read_only_fields = fields


class CompanySerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = _record_fields("company", enrichment=True)
        read_only_fields = fields


class DealSerializer(serializers.ModelSerializer):
    company_id = serializers.IntegerField(read_only=True, allow_null=True)
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Deal
        fields = _record_fields("deal")
        read_only_fields = fields


class ActivitySerializer(serializers.ModelSerializer):
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)
    company_id = serializers.IntegerField(read_only=True, allow_null=True)
    deal_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Activity
        fields = _record_fields("activity")
        read_only_fields = fields


RECORD_SERIALIZERS: dict[str, type[serializers.ModelSerializer]] = {
    "contact": ContactSerializer,
    "company": CompanySerializer,
    "deal": DealSerializer,
    "activity": ActivitySerializer,
}


# --- request bodies (schema only) -------------------------------------------------------------------


def _input_field(definition: EntityDef, name: str) -> serializers.Field:
    """A schema-describing field for one writable name: every field is optional (PATCH semantics)."""
    if name in definition.relations:
        return serializers.IntegerField(
            required=False,
            allow_null=True,
            help_text=f"Id of a {definition.relations[name]} in this sub-account",
        )
    if name == "custom_fields":
        return serializers.DictField(
            required=False, help_text="Merged into the stored object; a key set to null is removed"
        )
    field = definition.model._meta.get_field(name)
    if isinstance(field, models.JSONField):
        return serializers.ListField(child=serializers.DictField(), required=False)
    if isinstance(field, models.DecimalField):
        return serializers.DecimalField(
            max_digits=field.max_digits, decimal_places=field.decimal_places, required=False, allow_null=True
        )
    if isinstance(field, models.DateTimeField):
        return serializers.DateTimeField(required=False, allow_null=True)
    if isinstance(field, models.DateField):
        return serializers.DateField(required=False, allow_null=True)
    if field.choices:
        return serializers.ChoiceField(choices=field.choices, required=False, allow_blank=True)
    if name == "email":
        return serializers.EmailField(required=False, allow_blank=True)
    return serializers.CharField(
        required=False, allow_blank=True, max_length=field.max_length, help_text=str(field.help_text or "")
    )


def _input_serializer(definition: EntityDef) -> type[serializers.Serializer]:
    attrs: dict[str, Any] = {name: _input_field(definition, name) for name in definition.fields}
    attrs["__doc__"] = f"A {definition.name}'s writable fields (all optional; unknown names are refused)."
    return type(f"{definition.name.title()}InputSerializer", (serializers.Serializer,), attrs)


INPUT_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    name: _input_serializer(definition) for name, definition in ENTITIES.items()
}


class BulkInputSerializer(serializers.Serializer):
    # Items stay free-form here: a malformed item fails alone in the per-record results.
    records = serializers.ListField(child=serializers.JSONField(), max_length=MAX_BULK, allow_empty=True)


def bulk_input_serializer(entity: str) -> type[serializers.Serializer]:
    """The documented bulk body for ``entity``: ``{"records": [<entity input>, ...]}``."""
    item = INPUT_SERIALIZERS[entity]
    return type(
        f"{entity.title()}BulkInputSerializer",
        (serializers.Serializer,),
        {"records": serializers.ListField(child=item(), max_length=MAX_BULK)},
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
