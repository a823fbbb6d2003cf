"""How enrichment, scoring and automation look on the wire: the sub-account's settings and scoring
profile, the rule tables, the seed's sync API and sync logs, the priority queue and score history."""

from typing import Any

from rest_framework import serializers

from integrations.models import AUTOMATION_SETTINGS, SubAccount
from sync.api.enrichment_selectors import PRIORITY_QUEUE_MAX
from sync.models import EnrichmentJob, NextActionRule, OwnerRule, ScoreHistory, ScoringProfile

LIST_ITEM_MAX = 100  # characters of one ICP value, territory or owner
LIST_MAX = 200  # values in one list
SYNC_LOG_MAX = 200
ID_MAX = 2**63 - 1


class StringList(serializers.ListField):
    """A list of non-blank strings (trimmed, duplicates dropped in order)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("child", serializers.CharField(max_length=LIST_ITEM_MAX))
        kwargs.setdefault("max_length", LIST_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, list) and not all(isinstance(value, str) for value in data):
            raise serializers.ValidationError("A list of strings.")
        values = super().to_internal_value(data)
        return list(dict.fromkeys(value.strip() for value in values if value.strip()))


class AutomationDefaultsSerializer(serializers.ModelSerializer):
    """The sub-account's enrichment and automation defaults (integrations may override each)."""

    class Meta:
        model = SubAccount
        fields = list(AUTOMATION_SETTINGS)
        extra_kwargs = {"deal_threshold": {"min_value": 0, "max_value": 100}}


WEIGHTS = ("weight_financial", "weight_growth", "weight_engagement", "weight_fit")


class ScoringProfileSerializer(serializers.ModelSerializer):
    """The ideal customer profile (empty list: any value), the sub-score weights (relative: they
    need not add up to 100, but one must be above 0), engagement decay, what a provider's own score
    does, the CRM field prefix and the deal automation creates."""

    icp_industries = StringList(required=False)
    icp_sizes = StringList(required=False)
    icp_countries = StringList(required=False)
    icp_titles = StringList(required=False)

    openapi_schema_extra = {"additionalProperties": False}

    class Meta:
        model = ScoringProfile
        fields = [
            "icp_industries",
            "icp_sizes",
            "icp_countries",
            "icp_titles",
            *WEIGHTS,
            "engagement_window_days",
            "engagement_half_life_days",
            "engagement_daily_cap",
            "provider_score",
            "provider_blend_percent",
            "field_prefix",
            "deal_name_template",
            "deal_stage",
            "deal_pipeline",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            **{name: {"min_value": 0, "max_value": 100} for name in WEIGHTS},
            "engagement_window_days": {"min_value": 1, "max_value": 3650},
            "engagement_half_life_days": {"min_value": 1, "max_value": 3650},
            "engagement_daily_cap": {"min_value": 1, "max_value": 1000},
            "provider_blend_percent": {"min_value": 0, "max_value": 100},
            "field_prefix": {"help_text": "Letters, digits and _; e.g. platform_"},
        }

    def validate_field_prefix(self, value: str) -> str:
        if not value or not value.replace("_", "").isalnum() or not value[0].isalpha() or not value.isascii():
            raise serializers.ValidationError("Letters, digits and _, starting with a letter.")
        return value.lower()

    def validate_icp_countries(self, value: list[str]) -> list[str]:
        return [country.upper() for country in value]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        weights = {
            name: attrs.get(name, getattr(current, name) if current is not None else 1) for name in WEIGHTS
        }
        if not any(weights.values()):
            raise serializers.ValidationError(
                {name: ["At least one weight must be above 0."] for name in WEIGHTS}
            )
        return attrs


class AutomationSerializer(serializers.Serializer):
    """``GET``/``PATCH /automation/``: the six defaults at the top level, the scoring profile nested.
    A PATCH changes only what it names; unknown names are refused."""

    auto_enrich = serializers.BooleanField(required=False)
    auto_score = serializers.BooleanField(required=False)
    auto_assign = serializers.BooleanField(required=False)
    auto_create_tasks = serializers.BooleanField(required=False)
    auto_create_deals = serializers.BooleanField(required=False)
    deal_threshold = serializers.IntegerField(required=False, min_value=0, max_value=100)
    scoring_profile = ScoringProfileSerializer(required=False)

    openapi_schema_extra = {"additionalProperties": False}


class NextActionRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = NextActionRule
        fields = [
            "id",
            "position",
            "min_score",
            "max_score",
            "signal",
            "action",
            "due_in_hours",
            "stage",
            "create_task",
            "is_active",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {
            "position": {"min_value": 0, "max_value": 32767},
            "min_score": {"min_value": 0, "max_value": 100},
            "max_score": {"min_value": 0, "max_value": 100},
            "due_in_hours": {"min_value": 0, "max_value": 24 * 365},
        }

    def validate_action(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low = attrs.get("min_score", getattr(self.instance, "min_score", 0))
        high = attrs.get("max_score", getattr(self.instance, "max_score", 100))
        if low > high:
            raise serializers.ValidationError({"min_score": ["Must not be above max_score."]})
        return attrs


class OwnerRuleSerializer(serializers.ModelSerializer):
    countries = StringList(required=False)
    regions = StringList(required=False)
    postcode_prefixes = StringList(required=False)
    industries = StringList(required=False)
    team = StringList(allow_empty=False, help_text="Owners taking turns (the CRM owner ids or e-mails)")

    class Meta:
        model = OwnerRule
        fields = [
            "id",
            "position",
            "name",
            "countries",
            "regions",
            "postcode_prefixes",
            "industries",
            "team",
            "next_index",
            "is_active",
        ]
        read_only_fields = ["id", "next_index"]
        extra_kwargs = {"position": {"min_value": 0, "max_value": 32767}}

    def validate_team(self, value: list[str]) -> list[str]:
        if not value:
            raise serializers.ValidationError("Name at least one owner.")
        return value

    def validate_countries(self, value: list[str]) -> list[str]:
        return [country.upper() for country in value]


# --- the seed's sync API ----------------------------------------------------------------------------


class SyncOptionsSerializer(serializers.Serializer):
    skipEnrichment = serializers.BooleanField(  # noqa: N815 (the seed's name)
        required=False, default=False, help_text="Score and act, but ask no enrichment provider"
    )
    priority = serializers.IntegerField(
        required=False, default=5, min_value=1, max_value=10, help_text="1 (bulk) to 10 (now)"
    )


class SyncInputSerializer(serializers.Serializer):
    """One contact or company to upsert (matched like the bulk API) and enrich, score and act on."""

    entity_type = serializers.ChoiceField(choices=["contact", "company"])
    contact = serializers.DictField(
        required=False,
        help_text="Canonical contact fields (see ContactInputRequest); also the seed's firstName, "
        "lastName, title, company, companyId, phone, mobilePhone, email, externalId, ownerId",
    )
    company = serializers.DictField(
        required=False,
        help_text="Canonical company fields (see CompanyInputRequest); also externalId, ownerId",
    )
    integration_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=ID_MAX,
        help_text="One of your integrations: its enrichment and automation settings apply",
    )
    options = SyncOptionsSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        entity = attrs["entity_type"]
        if entity not in attrs:
            raise serializers.ValidationError({entity: [f"Give the {entity} to sync."]})
        other = "company" if entity == "contact" else "contact"
        if other in attrs:
            raise serializers.ValidationError({other: [f"entity_type is {entity}: send only the {entity}."]})
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
