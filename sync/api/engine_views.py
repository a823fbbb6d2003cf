"""Sync endpoints: trigger runs, read runs, manage field mappings, resolve conflicts."""

from django.db import transaction
from django_filters import rest_framework as filters
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.base import ConnectorError, PermanentError, TransientError
from integrations.api.authentication import actor_for
from integrations.api.common import ERROR_RESPONSES, ApiError, error_response, request_subaccount
from integrations.models import Integration
from integrations.selectors import integration_get
from sync.api.engine_serializers import (
    ConflictResolveSerializer,
    ConflictSerializer,
    IntegrationStatusSerializer,
    MappingsSerializer,
    RecordSyncByIdSerializer,
    RecordSyncByRemoteIdSerializer,
    RecordSyncResultSerializer,
    SyncRequestSerializer,
    SyncRunSerializer,
    sync_request_serializer,
)
from sync.conflicts import ConflictClosed, conflict_resolve
from sync.mapping import MappingInvalid, mappings_ensure_defaults, mappings_replace, validate_rows
from sync.models import Conflict, FieldMapping, SyncRun
from sync.runs import SyncBusy, SyncNotAllowed, sync_run_request
from sync.selectors import sync_status_get
from sync.single import EntityNotSynced, RecordNotFound, RecordSyncBusy, record_sync_now


class IntegrationSyncView(APIView):
    @extend_schema(
        description=(
            "`{kind, entities}` queues a run (202). `{entity, id}` or `{entity, remote_id}` syncs that one "
            "record now, in the foreground, and answers 200 with what it did (recorded as a manual run)."
        ),
        request=PolymorphicProxySerializer(
            component_name="SyncRequestForm",
            serializers=[SyncRequestSerializer, RecordSyncByIdSerializer, RecordSyncByRemoteIdSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: RecordSyncResultSerializer,
            202: SyncRunSerializer,
            409: error_response(
                "A sync of this integration is queued or running, the integration is paused or "
                "disconnected, or (one record) the provider could not be reached"
            ),
            422: error_response("One record: the provider refused the request (its message)"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request.subaccount, pk=pk)
        params = sync_request_serializer(request.data or {})
        params.is_valid(raise_exception=True)
        if not isinstance(params, SyncRequestSerializer):
            return self._one_record(request, integration, params.validated_data)
        try:
            run = sync_run_request(
                integration=integration,
                kind=params.validated_data["kind"],
                entities=params.validated_data.get("entities"),
                requested_by=actor_for(request),
            )
        except SyncBusy as exc:
            raise ApiError(
                status_code=409, code="sync_busy", message=str(exc), details={"sync_run": exc.run.pk}
            ) from None
        except SyncNotAllowed as exc:
            raise ApiError(status_code=409, code="sync_not_allowed", message=str(exc)) from None
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    def _one_record(self, request: Request, integration: Integration, data: dict) -> Response:
        try:
            result = record_sync_now(
                integration=integration,
                entity=data["entity"],
                local_id=data.get("id"),
                remote_id=data.get("remote_id"),
                actor=actor_for(request),
            )
        except RecordNotFound as exc:
            raise ApiError(status_code=404, code="not_found", message=str(exc)) from None
        except EntityNotSynced as exc:
            raise ApiError(
                status_code=400, code="invalid", message=str(exc), details={"entity": [str(exc)]}
            ) from None
        except RecordSyncBusy as exc:
            raise ApiError(status_code=409, code="sync_busy", message=str(exc)) from None
        except SyncNotAllowed as exc:
            raise ApiError(status_code=409, code="sync_not_allowed", message=str(exc)) from None
        except TransientError as exc:
            raise ApiError(status_code=409, code="provider_unavailable", message=str(exc)) from None
        except PermanentError as exc:
            raise ApiError(status_code=422, code="provider_refused", message=str(exc)) from None
        except ConnectorError as exc:  # ConfigError: the integration's settings cannot work
            raise ApiError(status_code=409, code="integration_misconfigured", message=str(exc)) from None
        return Response(RecordSyncResultSerializer(result).data)


class IntegrationStatusView(APIView):
    """Served by sync (which builds on integrations) under the integration's URL: integrations
    knows nothing of runs, links, conflicts or record errors."""

    @extend_schema(responses={200: IntegrationStatusSerializer})
    def get(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request_subaccount(request), pk=pk)
        context = {"sync_status": sync_status_get(integration=integration)}
        return Response(IntegrationStatusSerializer(integration, context=context).data)


class IntegrationMappingsView(APIView):
    @extend_schema(responses={200: MappingsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request.subaccount, pk=pk)
        mappings_ensure_defaults(integration)
        body: dict[str, list] = {}
        for m in FieldMapping.objects.filter(integration=integration).order_by("entity", "position", "id"):
            body.setdefault(m.entity, []).append(
                {
                    "local": m.local_field,
                    "remote": m.remote_field,
                    "direction": m.direction,
                    "transform": m.transform,
                }
            )
        return Response(body)

    @extend_schema(request=MappingsSerializer, responses={200: MappingsSerializer})
    def put(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request.subaccount, pk=pk)
        if not isinstance(request.data, dict) or not request.data:
            raise ApiError(status_code=400, code="invalid", message="Send {entity: [mapping rows]}.")
        unknown = set(request.data) - {"contact", "company", "deal", "activity"}
        if unknown:
            raise ApiError(
                status_code=400,
                code="invalid",
                message="Unknown entities.",
                details={name: ["unknown entity"] for name in unknown},
            )
        errors = {}
        for entity, rows in request.data.items():
            if not isinstance(rows, list):  # mappings_replace() iterates it: an object was a 500
                errors[entity] = {"0": ["Expected a list of mapping rows."]}
                continue
            try:
                validate_rows(entity, rows)
            except MappingInvalid as exc:
                errors[entity] = {str(i): msgs for i, msgs in exc.errors.items()}
        if errors:
            raise ApiError(
                status_code=400,
                code="invalid_mapping",
                message="Some mappings are not valid.",
                details=errors,
            )
        with transaction.atomic():  # all entities or none
            mappings_ensure_defaults(integration)
            for entity, rows in request.data.items():
                mappings_replace(integration=integration, entity=entity, rows=rows)
        return self.get(request, pk)


def _your_integrations(request):
    return Integration.objects.filter(subaccount=request_subaccount(request))


class SyncRunFilter(filters.FilterSet):
    # Only your own integrations are choices: another sub-account's id is refused like an unknown one.
    integration = filters.ModelChoiceFilter(queryset=_your_integrations)

    class Meta:
        model = SyncRun
        fields = ["integration", "status", "kind"]


class ConflictFilter(filters.FilterSet):
    integration = filters.ModelChoiceFilter(queryset=_your_integrations)

    class Meta:
        model = Conflict
        fields = ["integration", "status", "entity"]


class SyncRunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SyncRunSerializer
    lookup_value_regex = "[0-9]+"
    filterset_class = SyncRunFilter

    def get_queryset(self):
        return SyncRun.objects.filter(subaccount=request_subaccount(self.request))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "detail": self.action == "retrieve"}


class ConflictViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ConflictSerializer
    lookup_value_regex = "[0-9]+"
    filterset_class = ConflictFilter

    def get_queryset(self):
        return Conflict.objects.filter(subaccount=request_subaccount(self.request))

    @extend_schema(
        request=ConflictResolveSerializer, responses={200: ConflictSerializer, 409: ERROR_RESPONSES[409]}
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        conflict = self.get_object()
        params = ConflictResolveSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            conflict = conflict_resolve(
                conflict=conflict,
                choice=params.validated_data["choice"],
                value=params.validated_data.get("value"),
                actor=actor_for(request),
            )
        except ConflictClosed as exc:
            raise ApiError(status_code=409, code="conflict_closed", message=str(exc)) from None
        except ValueError as exc:
            raise ApiError(status_code=400, code="invalid_value", message=str(exc)) from None
        return Response(ConflictSerializer(conflict).data)
