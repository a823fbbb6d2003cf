"""How outbound endpoints, messages and attempts look on the wire. A secret is shown only by the
responses that create it (create and rotate-secret), never by a read."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.models import Attempt, Delivery, Endpoint, Message
from webhooks.outbound.events import EVENT_TYPES
from webhooks.outbound.services import MAX_RETRIES, MAX_RETRY_DELAY

# What an endpoint's event filter may name (webhooks.outbound.events.filter_errors refuses anything else).
EVENT_FILTERS = sorted({*EVENT_TYPES, *(f"{name.split('.', 1)[0]}.*" for name in EVENT_TYPES)})

ENDPOINT_FIELDS = [
    "id",
    "url",
    "description",
    "event_types",
    "enabled",
    "disabled_reason",
    "disabled_at",
    "rate_limit_per_second",
    "retry_schedule",
    "disable_after_failures",
    "disable_after_days",
    "consecutive_failures",
    "failing_since",
    "last_status_code",
    "last_success_at",
    "previous_secret_expires_at",
    "created_at",
    "updated_at",
]


class EndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    retry_schedule = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = Endpoint
        fields = ENDPOINT_FIELDS
        read_only_fields = fields


class EndpointSecretSerializer(EndpointSerializer):
    """The endpoint and its signing secret: returned once, by create and rotate-secret."""

    secret = serializers.CharField(read_only=True, help_text="whsec_...: store it now, it is not shown again")

    class Meta(EndpointSerializer.Meta):
        fields = [*ENDPOINT_FIELDS, "secret"]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "array",
        "maxItems": 100,
        "items": {"type": "string", "enum": EVENT_FILTERS},
        "description": 'Types ("contact.created") or families ("contact.*"); empty: every event',
    }
)
class EventFilterField(serializers.ListField):
    """An endpoint's event filter; the schema lists what ``webhooks.outbound.events.filter_errors`` accepts."""


class EndpointWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=1000)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    event_types = EventFilterField(
        child=serializers.CharField(max_length=100), required=False, max_length=100
    )
    enabled = serializers.BooleanField(required=False)
    rate_limit_per_second = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, allow_null=True
    )
    retry_schedule = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_RETRY_DELAY),
        required=False,
        max_length=MAX_RETRIES,
        help_text="Seconds before each retry; empty: 2, 4, 8",
    )
    disable_after_failures = serializers.IntegerField(
        min_value=0, max_value=10_000, required=False, help_text="0: never"
    )
    disable_after_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, help_text="0: never"
    )


class ReplaySerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Replay every message created at or after this time")


class ReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()


class RedeliverSerializer(serializers.Serializer):
    endpoint = serializers.IntegerField(
        min_value=1, required=False, help_text="Only to this endpoint (default: every enabled one it went to)"
    )


class RedeliverResultSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField()


class DeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "endpoint", "status", "attempts", "next_attempt_at", "last_status_code", "updated_at"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    deliveries = DeliverySerializer(many=True, read_only=True)
    payload = serializers.JSONField(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "msg_id", "event_type", "ordering_key", "payload", "created_at", "deliveries"]
        read_only_fields = fields


class AttemptSerializer(serializers.ModelSerializer):
    delivery = serializers.IntegerField(source="delivery_id", read_only=True)
    endpoint = serializers.IntegerField(source="delivery.endpoint_id", read_only=True)

    class Meta:
        model = Attempt
        fields = [
            "id",
            "delivery",
            "endpoint",
            "attempted_at",
            "status_code",
            "response_excerpt",
            "duration_ms",
            "error",
            "next_retry_at",
        ]
        read_only_fields = fields
