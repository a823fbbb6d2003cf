from typing import Any

from rest_framework import serializers

from connectors.registry import connector_class
from integrations.catalog_services import EDITABLE_FIELDS
from integrations.config_schema import redact_config, secrets_set
from integrations.models import Integration, IntegrationTemplate
from integrations.oauth_apps import config_schema_for
from integrations.services import SETTINGS_FIELDS


class TemplateSerializer(serializers.ModelSerializer):
    available = serializers.BooleanField(source="is_available", read_only=True)
    effective_config_schema = serializers.SerializerMethodField(
        help_text="The schema a sub-account's config is checked against: the stored one, except that "
        "with an operator OAuth app for this provider client_id and client_secret are not required"
    )

    def get_effective_config_schema(self, obj: IntegrationTemplate) -> dict[str, Any]:
        return config_schema_for(obj)

    class Meta:
        model = IntegrationTemplate
        fields = [
            "key",
            "display_name",
            "description",
            "category",
            "icon",
            "is_active",
            "available",
            "auth_type",
            "api_version",
            "capabilities",
            "config_schema",
            "effective_config_schema",
            "setup_instructions",
            "connector",
            "webhook_url",
            "version",
            "edited",
        ]


# Input only (the operator's writes): a ModelSerializer so types, lengths and choices come from the
# model; the catalog's own rules (schema metaschema, connector key) are checked by catalog_services.
class TemplateWriteSerializer(serializers.ModelSerializer):
    config_schema = serializers.JSONField(help_text="A JSON Schema (2020-12) describing an object")
    capabilities = serializers.JSONField(required=False)

    class Meta:
        model = IntegrationTemplate
        fields = list(EDITABLE_FIELDS)


class TemplateCreateSerializer(TemplateWriteSerializer):
    key = serializers.SlugField(max_length=50)

    class Meta(TemplateWriteSerializer.Meta):
        fields = ["key", *EDITABLE_FIELDS]


class IntegrationSerializer(serializers.ModelSerializer):
    """An integration as the API shows it: config without secrets, never tokens."""

    template = serializers.SlugRelatedField(slug_field="key", read_only=True)
    config = serializers.SerializerMethodField()
    secrets_set = serializers.SerializerMethodField()
    connected = serializers.SerializerMethodField()
    uses_oauth = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "description",
            "template",
            "status",
            "health",
            "reauthorization_needed",
            "config",
            "secrets_set",
            "connected",
            "uses_oauth",
            "webhook_url",
            "last_tested_at",
            "last_test_ok",
            "last_test_message",
            "last_sync_at",
            "last_error",
            *Integration.SYNC_SETTINGS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_config(self, obj: Integration) -> dict:
        return redact_config(obj.template.config_schema, obj.config or {})

    def get_secrets_set(self, obj: Integration) -> list[str]:
        return secrets_set(obj.template.config_schema, obj.config or {})

    def get_connected(self, obj: Integration) -> bool:
        return bool(obj.tokens)

    def get_uses_oauth(self, obj: Integration) -> bool:
        return (
            connector_class(obj.template.connector)(obj.config or {}).uses_oauth()
            if obj.template.is_available
            else False
        )

    def get_webhook_url(self, obj: Integration) -> str:
        return f"/webhooks/in/{obj.template.connector}/{obj.pk}/"


# Input only, never saved: a ModelSerializer so the sync settings take their types and choices
# from the model. (A docstring would become the OpenAPI description.)
class IntegrationWriteSerializer(serializers.ModelSerializer):
    template = serializers.SlugField(required=False)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    config = serializers.JSONField(required=False)

    class Meta:
        model = Integration
        fields = ["template", "name", "description", "config", *Integration.SYNC_SETTINGS]
        extra_kwargs = {
            "sync_interval_minutes": {"min_value": 1, "max_value": 1440},
            "full_sync_hour": {"min_value": 0, "max_value": 23},
        }

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def settings(self) -> dict:
        """Sync settings and description (name and config travel separately)."""
        return {k: v for k, v in self.validated_data.items() if k in SETTINGS_FIELDS and k != "name"}


class IntegrationCreateSerializer(IntegrationWriteSerializer):
    # Required here, so the schema requires a body: every optional field would make none valid.
    template = serializers.SlugField()


class TestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    details = serializers.DictField()


class OAuthStartSerializer(serializers.Serializer):
    return_to = serializers.CharField(required=False, allow_blank=True, max_length=500)


class OAuthStartResultSerializer(serializers.Serializer):
    authorize_url = serializers.URLField()
    expires_in = serializers.IntegerField()
