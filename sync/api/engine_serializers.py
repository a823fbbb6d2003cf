import re
from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connectors.base import CANONICAL_ENTITIES, CANONICAL_FIELDS, FIELD_TYPES
from integrations.models import Integration
from sync.api.serializers import Described
from sync.entities import ENTITIES
from sync.mapping import (
    CUSTOM_ALIAS,
    CUSTOM_PREFIX,
    ENRICHED_ENTITIES,
    ENRICHMENT_KEYS,
    ENRICHMENT_PREFIX,
    REMOTE_FIELD_PATTERN,
)
from sync.models import Conflict, FieldMapping, SyncRecordError, SyncRun
from sync.selectors import SyncStatus
from sync.transforms import TRANSFORMS

ENTITY_NAMES = list(CANONICAL_ENTITIES)


class ClosedSerializer(serializers.Serializer):
    """Refuses names it does not declare (documented as ``additionalProperties: false``)."""

    openapi_schema_extra = {"additionalProperties": False}

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else ()
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return attrs


class SyncRequestSerializer(ClosedSerializer):
    """Queue a run (202)."""

    kind = serializers.ChoiceField(choices=["full", "delta"], default="delta")
    entities = serializers.ListField(
        child=serializers.ChoiceField(choices=ENTITY_NAMES), required=False, allow_empty=False
    )


class RecordSyncByIdSerializer(ClosedSerializer):
    """Sync one record now, named by its local id (200)."""

    entity = serializers.ChoiceField(choices=ENTITY_NAMES)
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The local record's id")


class RecordSyncByRemoteIdSerializer(ClosedSerializer):
    """Sync one record now, named by the provider's id (200)."""

    entity = serializers.ChoiceField(choices=ENTITY_NAMES)
    remote_id = serializers.CharField(max_length=120, trim_whitespace=False, help_text="The provider's id")


def sync_request_serializer(data: Any) -> serializers.Serializer:
    """The serializer for whichever form ``data`` is: one record (by id or remote id), or a run."""
    names = set(data) if isinstance(data, dict) else set()
    if names & {"entity", "id", "remote_id"}:
        by_remote = "remote_id" in names and "id" not in names
        return (RecordSyncByRemoteIdSerializer if by_remote else RecordSyncByIdSerializer)(data=data)
    return SyncRequestSerializer(data=data)


class RecordSyncErrorSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["pull", "push"])
    message = serializers.CharField()
    code = serializers.CharField(allow_blank=True)


class RecordSyncResultSerializer(serializers.Serializer):
    """What syncing one record did."""

    entity = serializers.ChoiceField(choices=ENTITY_NAMES)
    local_id = serializers.IntegerField(allow_null=True, help_text="Null: no local record (yet)")
    remote_id = serializers.CharField(allow_null=True, help_text="Null: not linked to a remote record")
    pulled = serializers.ChoiceField(
        choices=["created", "updated", "deleted", "unchanged", "absent", "skipped", "failed"],
        help_text="absent: no remote record to pull; skipped: the integration is outbound-only",
    )
    pushed = serializers.ChoiceField(
        choices=["created", "updated", "deleted", "unchanged", "skipped", "failed"],
        help_text="skipped: the integration is inbound-only, or there is no local record",
    )
    conflicts = serializers.IntegerField(help_text="Fields changed on both sides (see conflicts/)")
    errors = RecordSyncErrorSerializer(many=True)
    sync_run = serializers.IntegerField(source="run.pk", help_text="The manual run in the run log")


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


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def _transform_schema() -> dict[str, Any]:
    """``{"name", "args"}`` for each known transform (argument checks beyond types: see the 400)."""
    variants = []
    for name, transform in sorted(TRANSFORMS.items()):
        args = {
            arg: {"anyOf": [{"type": _JSON_TYPES[t]} for t in spec.types if t in _JSON_TYPES]}
            for arg, spec in transform.args.items()
        }
        required = sorted(arg for arg, spec in transform.args.items() if spec.required)
        args_schema: dict[str, Any] = {"type": "object", "properties": args, "additionalProperties": False}
        if required:
            args_schema["required"] = required
        else:
            args_schema["nullable"] = True
        variant = {
            "type": "object",
            "properties": {"name": {"type": "string", "enum": [name]}, "args": args_schema},
            "required": ["name", "args"] if required else ["name"],
            "additionalProperties": False,
        }
        variants.append(variant)
    return {"oneOf": variants, "nullable": True}


def mapping_row_serializer(entity: str) -> type[serializers.Serializer]:
    local = {
        "anyOf": [
            {"type": "string", "enum": list(CANONICAL_FIELDS[entity])},
            {"type": "string", "pattern": f"^{CUSTOM_PREFIX}.+", "description": "A custom field"},
            {
                "type": "string",
                "pattern": f"^{re.escape(CUSTOM_ALIAS)}.+",
                "description": f"A custom field, stored as {CUSTOM_PREFIX}<name>",
            },
        ]
    }
    if entity in ENRICHED_ENTITIES:
        local["anyOf"].append(
            {
                "type": "string",
                "enum": [ENRICHMENT_PREFIX + key for key in ENRICHMENT_KEYS],
                "description": "An enrichment value, pushed only (direction to_remote or none)",
            }
        )
    remote_label = {
        "type": "string",
        "minLength": 1,
        "description": "The remote field's label (case-insensitive), resolved through the discovered "
        "fields (integrations/{id}/fields/) instead of giving remote; in answers when known",
    }
    return type(
        f"{entity.title()}MappingRowSerializer",
        (serializers.Serializer,),
        {
            "openapi_schema_extra": {"anyOf": [{"required": ["remote"]}, {"required": ["remote_label"]}]},
            "local": Described(local),
            "remote": Described(
                {"type": "string", "pattern": REMOTE_FIELD_PATTERN.pattern},
                required=False,
                help_text="The remote field's name; may be left out when remote_label is given",
            ),
            "remote_label": Described(remote_label, required=False),
            "direction": serializers.ChoiceField(choices=FieldMapping.Direction.choices, default="both"),
            "transform": Described(_transform_schema(), required=False),
        },
    )


MappingsSerializer = type(
    "MappingsSerializer",
    (serializers.Serializer,),
    {
        "__doc__": '{"contact": [rows...], "company": [...]} — PUT replaces the entities given.',
        "openapi_schema_extra": {"additionalProperties": False, "minProperties": 1},  # else a 400
        **{name: mapping_row_serializer(name)(many=True, required=False) for name in ENTITY_NAMES},
    },
)


class LastRunSerializer(serializers.ModelSerializer):
    """The newest finished run and its counters."""

    class Meta:
        model = SyncRun
        fields = ["id", "kind", "status", "finished_at", *SyncRun.COUNTERS]


RecordCountsSerializer = type(
    "RecordCountsSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "Records linked to this integration, per entity.",
        **{name: serializers.IntegerField(min_value=0) for name in ENTITIES},
    },
)


class IntegrationStatusSerializer(serializers.ModelSerializer):
    """The integration's status and health, and its sync state (``sync.selectors.SyncStatus``,
    passed as the ``sync_status`` context)."""

    connected = serializers.SerializerMethodField()
    next_sync_at = serializers.SerializerMethodField(
        help_text="When the next delta sync is queued: last sync + interval, or now when due; "
        "null unless active"
    )
    last_run = serializers.SerializerMethodField(help_text="The newest finished run; null if none")
    records = serializers.SerializerMethodField(help_text="Records linked to this integration, per entity")
    open_conflicts = serializers.SerializerMethodField(help_text="Conflicts waiting for a decision")
    failed_records = serializers.SerializerMethodField(
        help_text="Records whose sync failed and is not resolved (retried hourly, 3 attempts)"
    )

    class Meta:
        model = Integration
        fields = [
            "id",
            "status",
            "health",
            "reauthorization_needed",
            "connected",
            "last_tested_at",
            "last_test_ok",
            "last_test_message",
            "last_sync_at",
            "next_sync_at",
            "last_error",
            "last_error_at",
            "last_run",
            "records",
            "open_conflicts",
            "failed_records",
        ]
        read_only_fields = fields

    @property
    def _status(self) -> SyncStatus:
        return self.context["sync_status"]

    def get_connected(self, obj: Integration) -> bool:
        return bool(obj.tokens)

    def get_next_sync_at(self, obj: Integration) -> datetime | None:
        return self._status.next_sync_at

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, obj: Integration) -> dict | None:
        run = self._status.last_run
        return None if run is None else LastRunSerializer(run).data

    @extend_schema_field(RecordCountsSerializer)
    def get_records(self, obj: Integration) -> dict[str, int]:
        return self._status.records

    def get_open_conflicts(self, obj: Integration) -> int:
        return self._status.open_conflicts

    def get_failed_records(self, obj: Integration) -> int:
        return self._status.failed_records


class RemoteFieldSerializer(serializers.Serializer):
    """One field the provider has (``connectors.types.RemoteField``)."""

    name = serializers.CharField(help_text="The provider's API name: what a mapping's remote is")
    label = serializers.CharField(allow_blank=True, help_text="As the provider shows it to people")
    type = serializers.ChoiceField(choices=list(FIELD_TYPES))
    options = serializers.ListField(
        child=serializers.ListField(
            child=serializers.CharField(allow_blank=True), min_length=2, max_length=2
        ),
        help_text="An enumeration's [value, label] pairs",
    )
    custom = serializers.BooleanField()
    read_only = serializers.BooleanField()
    remote_type = serializers.CharField(
        allow_blank=True, help_text="The provider's object type when an entity spans several"
    )
    format = serializers.CharField(
        allow_blank=True, help_text="How a date or datetime travels: epoch_ms, iso or date; blank otherwise"
    )


class EntityFieldsSerializer(serializers.Serializer):
    """One entity's cached fields, and how the last refresh went."""

    entity = serializers.ChoiceField(choices=ENTITY_NAMES)
    refreshed_at = serializers.DateTimeField(
        allow_null=True, help_text="The last refresh that succeeded; null: never discovered"
    )
    error = serializers.CharField(
        allow_blank=True, help_text="Why the last refresh failed; blank if it did not"
    )
    error_at = serializers.DateTimeField(allow_null=True)
    fields = RemoteFieldSerializer(many=True)


class FieldsSerializer(serializers.Serializer):
    """The integration's discovered provider fields per entity (refreshed daily and on demand)."""

    entities = EntityFieldsSerializer(many=True)


class FieldsQuerySerializer(serializers.Serializer):
    entity = serializers.ChoiceField(
        choices=ENTITY_NAMES, required=False, allow_blank=True, help_text="Only this entity"
    )


_TRIMMED = r"^\S(.*\S)?$"  # no blank, no surrounding spaces: what the owner map stores


class OwnerRowSerializer(serializers.Serializer):
    owner = serializers.RegexField(_TRIMMED, max_length=255, help_text="The owner as the platform names it")
    remote_id = serializers.RegexField(_TRIMMED, max_length=255, help_text="The CRM's user id")


class OwnersSerializer(serializers.Serializer):
    """The integration's user mapping: which CRM user each platform owner is."""

    owners = OwnerRowSerializer(many=True)
