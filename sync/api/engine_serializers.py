from rest_framework import serializers

from sync.models import Conflict, SyncRecordError, SyncRun


class SyncRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["full", "delta"], default="delta")
    entities = serializers.ListField(
        child=serializers.ChoiceField(choices=["contact", "company", "deal", "activity"]),
        required=False,
        allow_empty=False,
    )


class SyncRecordErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRecordError
        fields = [
            "id",
            "entity",
            "direction",
            "local_id",
            "remote_id",
            "message",
            "code",
            "attempts",
            "resolved",
        ]


class SyncRunSerializer(serializers.ModelSerializer):
    integration = serializers.PrimaryKeyRelatedField(read_only=True)
    progress_percent = serializers.IntegerField(read_only=True, allow_null=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    errors = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "integration",
            "kind",
            "direction",
            "entities",
            "status",
            "phase",
            *SyncRun.COUNTERS,
            "progress_total",
            "progress_percent",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "errors",
        ]

    def get_errors(self, obj: SyncRun) -> list[dict]:
        if not self.context.get("detail"):
            return []
        return SyncRecordErrorSerializer(obj.record_errors.all()[:200], many=True).data


class ConflictSerializer(serializers.ModelSerializer):
    class Meta:
        model = Conflict
        fields = [
            "id",
            "integration",
            "entity",
            "local_id",
            "remote_id",
            "field",
            "local_value",
            "remote_value",
            "base_value",
            "status",
            "resolution",
            "resolved_value",
            "resolved_by",
            "resolved_at",
            "created_at",
        ]


class ConflictResolveSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=Conflict.Choice.values)
    value = serializers.JSONField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs["choice"] == "custom" and "value" not in attrs:
            raise serializers.ValidationError({"value": ["A custom resolution needs a value."]})
        return attrs


class MappingRowSerializer(serializers.Serializer):
    local = serializers.CharField()
    remote = serializers.CharField()
    direction = serializers.ChoiceField(choices=["both", "to_remote", "from_remote", "none"], default="both")
    transform = serializers.JSONField(required=False, allow_null=True)


class MappingsSerializer(serializers.Serializer):
    """{"contact": [rows...], "company": [...]} — PUT replaces the entities given."""

    contact = MappingRowSerializer(many=True, required=False)
    company = MappingRowSerializer(many=True, required=False)
    deal = MappingRowSerializer(many=True, required=False)
    activity = MappingRowSerializer(many=True, required=False)
