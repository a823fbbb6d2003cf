"""The onboarding flow over the API: its tracking rows (the seed's ``AITableSync``), retrying a
failed one, and the seed's manual sync (``POST {entity_type, entity_id, direction}``). Scoped to
``request.subaccount`` like the rest of the API: another tenant's ids are 404s or 400s."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.base import ConnectorError
from integrations.api.authentication import actor_for
from integrations.api.common import ApiError, error_response
from integrations.models import Integration
from sync.api.views import object_body
from sync.models import FlowStep
from sync.onboarding.services import (
    DIRECTION_CHOICES,
    ManualSyncRefused,
    direction_parse,
    manual_sync,
    seed_direction,
    tracking_list,
)
from sync.onboarding.steps import steps_retry
from sync.runs import SyncNotAllowed
from sync.single import EntityNotSynced, RecordNotFound, RecordSyncBusy


class TrackingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    integration_id = serializers.IntegerField()
    record_id = serializers.CharField(help_text="The provider's record id (rec…)")
    datasheet_id = serializers.CharField()
    entity_type = serializers.CharField(help_text="lead / order / audit_result / portal")
    entity_id = serializers.CharField(source="internal_id", help_text="Our id of the record")
    sync_direction = serializers.SerializerMethodField(help_text="<provider>_to_app / app_to_<provider>")
    sync_status = serializers.CharField(source="status", help_text="success / failed / pending / running")
    error_message = serializers.CharField(source="error")
    attempts = serializers.IntegerField()
    last_synced_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_sync_direction(self, step: FlowStep) -> str:
        return seed_direction(step)


class TrackingQuerySerializer(serializers.Serializer):
    integration_id = serializers.IntegerField(required=False)
    entity_type = serializers.ChoiceField(choices=FlowStep.EntityType.choices, required=False)
    status = serializers.ChoiceField(choices=FlowStep.Status.choices, required=False)
    direction = serializers.ChoiceField(choices=DIRECTION_CHOICES, required=False)
    record_id = serializers.CharField(required=False)
    datasheet_id = serializers.CharField(required=False)
    entity_id = serializers.CharField(required=False)
    before = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class TrackingPageSerializer(serializers.Serializer):
    results = TrackingSerializer(many=True)
    next_before = serializers.IntegerField(allow_null=True, help_text="Pass as ?before= for the next page")


class ManualSyncResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    sync_id = serializers.IntegerField(allow_null=True, help_text="The tracking row's id")
    tracking = TrackingSerializer(allow_null=True)


class ManualSyncSerializer(serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=FlowStep.EntityType.choices)
    entity_id = serializers.CharField(max_length=100)
    direction = serializers.ChoiceField(choices=DIRECTION_CHOICES)
    integration_id = serializers.IntegerField(required=False)


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        status_code=400, code="invalid", message="The request is not valid.", details={field: [message]}
    )


class TrackingListView(APIView):
    @extend_schema(parameters=[TrackingQuerySerializer], responses={200: TrackingPageSerializer})
    def get(self, request: Request) -> Response:
        params = TrackingQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        rows = tracking_list(subaccount=request.subaccount)
        filters = {
            "integration_id": query.get("integration_id"),
            "entity_type": query.get("entity_type"),
            "status": query.get("status"),
            "record_id": query.get("record_id"),
            "datasheet_id": query.get("datasheet_id"),
            "internal_id": query.get("entity_id"),
            "pk__lt": query.get("before"),
        }
        rows = rows.filter(**{name: value for name, value in filters.items() if value is not None})
        if "direction" in query:
            try:
                rows = rows.filter(direction=direction_parse(query["direction"]))
            except ManualSyncRefused as exc:  # the choices allow only known directions
                raise _invalid("direction", str(exc)) from None
        page = list(rows.order_by("-id")[: query["limit"] + 1])
        more = len(page) > query["limit"]
        page = page[: query["limit"]]
        return Response(
            {
                "results": TrackingSerializer(page, many=True).data,
                "next_before": page[-1].pk if more and page else None,
            }
        )


class TrackingRetryView(APIView):
    @extend_schema(
        request=None,
        responses={
            202: TrackingSerializer,
            404: error_response("No such tracking row in this sub-account"),
            409: error_response("Not a failed portal, order or audit step"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        step = tracking_list(subaccount=request.subaccount).filter(pk=pk).first()
        if step is None:
            raise ApiError(status_code=404, code="not_found", message=f"No tracking row {pk}.")
        if step.status != FlowStep.Status.FAILED or step.entity_type == FlowStep.EntityType.LEAD:
            raise ApiError(
                status_code=409,
                code="not_retryable",
                message="Only failed portal, order and audit steps are retried (sync a lead instead).",
            )
        steps_retry([step])
        step.refresh_from_db()
        return Response(TrackingSerializer(step).data, status=status.HTTP_202_ACCEPTED)


class ManualSyncView(APIView):
    @extend_schema(
        request=ManualSyncSerializer,
        responses={
            202: ManualSyncResultSerializer,
            404: error_response("No such lead, order, audit result or portal"),
            409: error_response("The flow is off, the entity does not go that way, or a sync is busy"),
        },
        description="The seed's manual sync: a lead (our contact id) is synced at once; an order, "
        "audit result or portal (our ids) has its step queued again from the stage it reached.",
    )
    def post(self, request: Request) -> Response:
        params = ManualSyncSerializer(data=object_body(request))
        params.is_valid(raise_exception=True)
        data = params.validated_data
        integration = None
        if "integration_id" in data:
            integration = Integration.objects.filter(
                subaccount=request.subaccount, pk=data["integration_id"]
            ).first()
            if integration is None:
                raise _invalid(
                    "integration_id", f"No integration {data['integration_id']} in this sub-account."
                )
        try:
            result = manual_sync(
                subaccount=request.subaccount,
                integration=integration,
                entity_type=data["entity_type"],
                entity_id=data["entity_id"],
                direction=data["direction"],
                actor=actor_for(request),
            )
        except ManualSyncRefused as exc:
            status_code = 404 if exc.code == "not_found" else 409
            raise ApiError(status_code=status_code, code=exc.code, message=str(exc)) from None
        except (RecordNotFound, EntityNotSynced) as exc:
            raise ApiError(status_code=404, code="not_found", message=str(exc)) from None
        except (RecordSyncBusy, SyncNotAllowed) as exc:
            raise ApiError(status_code=409, code="busy", message=str(exc)) from None
        except ConnectorError as exc:
            raise ApiError(status_code=409, code="provider_error", message=str(exc)) from None
        body = {
            "success": result.status != FlowStep.Status.FAILED,
            "status": result.status,
            "message": result.message,
            "sync_id": result.step.pk if result.step else None,
            "tracking": TrackingSerializer(result.step).data if result.step else None,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
