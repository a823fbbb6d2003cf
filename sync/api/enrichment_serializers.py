"""How enrichment, scoring and automation look on the wire: the sub-account's settings and scoring
profile, the rule tables, the seed's sync API and sync logs, the priority queue and score history."""

from typing import Any

from django.db import models
from rest_framework import serializers

from integrations.models import AUTOMATION_SETTINGS, SubAccount
from sync.api.enrichment_selectors import PRIORITY_QUEUE_MAX
from sync.api.serializers import Described, _input_schema
from sync.entities import ENTITIES
from sync.models import EnrichmentJob, NextActionRule, OwnerRule, ScoreHistory, ScoringProfile

LIST_ITEM_MAX = 100  # characters of one ICP value, territory or owner
LIST_MAX = 200  # values in one list
SYNC_LOG_MAX = 200
ID_MAX = 2**63 - 1


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF also takes "yes", 1, "on", ... which the schema does not say)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (not "5", 5.0 or true)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string only (not 5 or true, which DRF would turn into "5" and "True"), checked as
    given (the schema's maxLength counts leading and trailing blanks too)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """Values must have the JSON type the schema gives them."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.BooleanField: StrictBooleanField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
    }


class StringList(serializers.ListField):
    """A list of non-blank strings (trimmed, duplicates dropped in order)."""

    def __init__(self, **kwargs: Any):
        # Not trimmed before the length check: the schema's maxLength counts every character.
        kwargs.setdefault("child", serializers.CharField(max_length=LIST_ITEM_MAX, trim_whitespace=False))
        kwargs.setdefault("max_length", LIST_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, list) and not all(isinstance(value, str) for value in data):
            raise serializers.ValidationError("A list of strings.")
        values = super().to_internal_value(data)
        return list(dict.fromkeys(value.strip() for value in values if value.strip()))


class AutomationDefaultsSerializer(StrictModelSerializer):
    """The sub-account's enrichment and automation defaults (integrations may override each)."""

    class Meta:
        model = SubAccount
        fields = list(AUTOMATION_SETTINGS)
        extra_kwargs = {"deal_threshold": {"min_value": 0, "max_value": 100}}


WEIGHTS = ScoringProfile.WEIGHTS


class ScoringProfileSerializer(StrictModelSerializer):
    """The ideal customer profile (empty list: any value), the sub-score weights (relative: they
    need not add up to 100, but one must be above 0), engagement decay, what a provider's own score
    does, the CRM field prefix and the deal automation creates."""

    icp_industries = StringList(required=False)
    icp_sizes = StringList(required=False)
    icp_countries = StringList(required=False)
    icp_titles = StringList(required=False)
    field_prefix = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9_]*$",
        max_length=40,
        required=False,
        help_text="Prefix of the custom fields pushed to CRMs: letters, digits and _, e.g. platform_",
    )
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="null until the profile is first changed"
    )

    openapi_schema_extra = {"additionalProperties": False}

    class Meta:
        model = ScoringProfile
        fields = [
            *ScoringProfile.EDITABLE,
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            **{name: {"min_value": 0, "max_value": 100} for name in WEIGHTS},
            "engagement_window_days": {"min_value": 1, "max_value": 3650},
            "engagement_half_life_days": {"min_value": 1, "max_value": 3650},
            "engagement_daily_cap": {"min_value": 1, "max_value": 1000},
            "provider_blend_percent": {"min_value": 0, "max_value": 100},
        }

    def validate_field_prefix(self, value: str) -> str:
        return value.lower()

    def validate_icp_countries(self, value: list[str]) -> list[str]:
        return [country.upper() for country in value]

    def weights_after(self) -> dict[str, int]:
        """The weights once this (valid) change is applied to the stored profile."""
        return {name: self.validated_data.get(name, getattr(self.instance, name)) for name in WEIGHTS}


class AutomationSerializer(serializers.Serializer):
    """``GET``/``PATCH /automation/``: the six defaults at the top level, the scoring profile nested.
    A PATCH changes only what it names; unknown names are refused."""

    auto_enrich = StrictBooleanField(required=False)
    auto_score = StrictBooleanField(required=False)
    auto_assign = StrictBooleanField(required=False)
    auto_create_tasks = StrictBooleanField(required=False)
    auto_create_deals = StrictBooleanField(required=False)
    deal_threshold = StrictIntegerField(required=False, min_value=0, max_value=100)
    scoring_profile = ScoringProfileSerializer(required=False)

    openapi_schema_extra = {"additionalProperties": False}


class NextActionRuleSerializer(StrictModelSerializer):
    openapi_schema_extra = {"additionalProperties": False}  # unknown names are a 400

    class Meta:
        model = NextActionRule
        fields = ["id", *NextActionRule.EDITABLE]
        read_only_fields = ["id"]
        extra_kwargs = {
            "position": {"min_value": 0, "max_value": 32767},
            "min_score": {"min_value": 0, "max_value": 100},
            "max_score": {"min_value": 0, "max_value": 100},
            "due_in_hours": {"min_value": 0, "max_value": 24 * 365},
        }

    def validate_action(self, value: str) -> str:
        return value.strip() or value

    def score_range_after(self) -> tuple[int, int]:
        """(min_score, max_score) once this (valid) change is applied to the stored rule."""
        data = self.validated_data
        return (
            data.get("min_score", getattr(self.instance, "min_score", 0)),
            data.get("max_score", getattr(self.instance, "max_score", 100)),
        )


class OwnerRuleSerializer(StrictModelSerializer):
    openapi_schema_extra = {"additionalProperties": False}  # unknown names are a 400

    countries = StringList(required=False)
    regions = StringList(required=False)
    postcode_prefixes = StringList(required=False)
    industries = StringList(required=False)
    team = StringList(
        allow_empty=False, min_length=1, help_text="Owners taking turns (the CRM owner ids or e-mails)"
    )

    class Meta:
        model = OwnerRule
        fields = ["id", *OwnerRule.EDITABLE, "next_index"]
        read_only_fields = ["id", "next_index"]
        extra_kwargs = {"position": {"min_value": 0, "max_value": 32767}}

    def validate_team(self, value: list[str]) -> list[str]:
        if not value:  # only blanks were given
            raise serializers.ValidationError("Name at least one owner.")
        return value

    def validate_countries(self, value: list[str]) -> list[str]:
        return [country.upper() for country in value]


# --- the seed's sync API ----------------------------------------------------------------------------


class SyncOptionsSerializer(serializers.Serializer):
    skipEnrichment = StrictBooleanField(  # noqa: N815 (the seed's name)
        required=False, default=False, help_text="Score and act, but ask no enrichment provider"
    )
    priority = StrictIntegerField(
        required=False, default=5, min_value=1, max_value=10, help_text="1 (bulk) to 10 (now)"
    )


# The seed's camelCase names (SmartSync's Contact type) → canonical field names; when a field is
# given both ways, the canonical name wins.
SEED_ALIASES: dict[str, dict[str, str]] = {
    "contact": {
        "firstName": "first_name",
        "lastName": "last_name",
        "title": "job_title",
        "jobTitle": "job_title",
        "company": "company_name",
        "companyName": "company_name",
        "companyId": "company_id",
        "mobilePhone": "mobile_phone",
        "externalId": "external_id",
        "ownerId": "owner_id",
        "lifecycleStage": "lifecycle_stage",
    },
    "company": {"externalId": "external_id", "ownerId": "owner_id"},
}
# Accepted but left out of the documented body: ids and custom-field keys the caller must look up.
UNDOCUMENTED = {"company_id", "companyId", "custom_fields"}


def record_body_schema(entity: str) -> dict[str, Any]:
    """The record object of the sync body: canonical input fields and the seed's aliases."""
    definition = ENTITIES[entity]
    properties = {
        name: _input_schema(definition, name) for name in definition.fields if name not in UNDOCUMENTED
    }
    for alias, canonical in SEED_ALIASES[entity].items():
        if alias not in UNDOCUMENTED and canonical in properties:
            properties[alias] = {**properties[canonical], "description": f"The seed's name for {canonical}"}
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": f"A {entity}: canonical fields (as in {entity.title()}InputRequest) or the "
        "seed's camelCase names; the canonical name wins when a field is given both ways"
        + (" (also companyId: the id of one of your companies)" if entity == "contact" else ""),
    }


class RecordBody(Described):
    """A JSON object (the record), documented by ``record_body_schema``."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return data


class SyncInputSerializer(serializers.Serializer):
    """One contact or company to upsert (matched like the bulk API) and enrich, score and act on."""

    entity_type = serializers.ChoiceField(choices=["contact", "company"])
    contact = RecordBody(record_body_schema("contact"), required=False)
    company = RecordBody(record_body_schema("company"), required=False)
    integration_id = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=ID_MAX,
        help_text="One of your integrations: its enrichment and automation settings apply",
    )
    options = SyncOptionsSerializer(required=False)

    # The record goes under the key entity_type names (the other key, if given, is ignored).
    openapi_schema_extra = {
        "oneOf": [
            # A pattern, not an enum: the schema's enum post-processing would merge the two enums.
            {
                "properties": {"entity_type": {"type": "string", "pattern": f"^{entity}$"}},
                "required": [entity],
            }
            for entity in ("contact", "company")
        ]
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        entity = attrs["entity_type"]
        if entity not in attrs:
            raise serializers.ValidationError({entity: [f"Give the {entity} to sync."]})
        attrs.setdefault("options", {"skipEnrichment": False, "priority": 5})
        return attrs


class SyncResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    entityType = serializers.ChoiceField(choices=["contact", "company"])  # noqa: N815 (the seed's name)
    id = serializers.IntegerField()
    operation = serializers.ChoiceField(choices=["create", "update", "unchanged"])
    job_id = serializers.IntegerField(help_text="The enrichment job (see the logs)")


class SyncLogQuerySerializer(serializers.Serializer):
    integration_id = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="Only one of your integrations' jobs"
    )
    status = serializers.ChoiceField(choices=EnrichmentJob.Status.values, required=False)
    entity_type = serializers.ChoiceField(choices=["contact", "company"], required=False)
    before = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="Older than this log id (next_before)"
    )
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=SYNC_LOG_MAX)


class SyncLogSerializer(serializers.ModelSerializer):
    sync_type = serializers.CharField(source="entity", help_text="contact or company")
    record_id = serializers.IntegerField()
    integration_id = serializers.IntegerField(allow_null=True)
    enrichments = serializers.JSONField(help_text="What was applied: enriched keys, score, signals, ...")

    class Meta:
        model = EnrichmentJob
        fields = [
            "id",
            "sync_type",
            "operation",
            "status",
            "enrichments",
            "duration_ms",
            "enrichment_ms",
            "error",
            "created_at",
            "finished_at",
            "record_id",
            "integration_id",
            "priority",
            "skip_enrichment",
            "attempts",
            "reason",
        ]
        read_only_fields = fields


class SyncLogPageSerializer(serializers.Serializer):
    logs = SyncLogSerializer(many=True)
    next_before = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before= for older logs; null when there are no more"
    )


# --- priority queue and score history ---------------------------------------------------------------


class PriorityQueueQuerySerializer(serializers.Serializer):
    owner_id = serializers.CharField(required=False, max_length=255, help_text="Only this owner's records")
    entity = serializers.ChoiceField(choices=["contact", "company"], default="contact", required=False)
    min_score = serializers.IntegerField(required=False, min_value=0, max_value=100)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=PRIORITY_QUEUE_MAX)


class PriorityItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    entity = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField(allow_blank=True, help_text="Contacts; blank for companies")
    domain = serializers.CharField(allow_blank=True, help_text="Companies; blank for contacts")
    company_name = serializers.CharField(allow_blank=True)
    owner_id = serializers.CharField(allow_blank=True)
    score = serializers.IntegerField()
    score_breakdown = serializers.JSONField()
    score_reasons = serializers.JSONField()
    signals = serializers.JSONField()
    next_actions = serializers.JSONField()
    suggested_stage = serializers.CharField(allow_blank=True)
    scored_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


def priority_item(entity: str, record: Any) -> dict[str, Any]:
    """One queue row: the same keys for contacts and companies."""
    return {
        "id": record.pk,
        "entity": entity,
        "name": str(record),
        "email": getattr(record, "email", ""),
        "domain": getattr(record, "domain", ""),
        "company_name": getattr(record, "company_name", "") if entity == "contact" else record.name,
        "owner_id": record.owner_id,
        "score": record.score,
        "score_breakdown": record.score_breakdown,
        "score_reasons": record.score_reasons,
        "signals": record.signals,
        "next_actions": record.next_actions,
        "suggested_stage": record.suggested_stage,
        "scored_at": record.scored_at,
        "updated_at": record.updated_at,
    }


class PriorityQueueSerializer(serializers.Serializer):
    results = PriorityItemSerializer(many=True)


class ScoreHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoreHistory
        fields = ["id", "score", "breakdown", "reasons", "scorer_version", "cause", "created_at"]
        read_only_fields = fields
