"""Sync endpoints: trigger runs, read runs, manage field mappings, discovered fields, resolve conflicts."""

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
from integrations.audit import audit_record
from integrations.models import Integration
from integrations.selectors import integration_get
from sync.api.engine_serializers import (
    ENTITY_NAMES,
    ConflictResolveSerializer,
    ConflictSerializer,
    FieldsQuerySerializer,
    FieldsSerializer,
    IntegrationStatusSerializer,
    MappingsSerializer,
    OwnersSerializer,
    RecordSyncByIdSerializer,
    RecordSyncByRemoteIdSerializer,
    RecordSyncResultSerializer,
    SyncRequestSerializer,
    SyncRunSerializer,
    sync_request_serializer,
)
from sync.conflicts import ConflictClosed, conflict_resolve
from sync.fields import FieldsRefresh, fields_cached, fields_entities, fields_refresh
from sync.mapping import (
    MappingInvalid,
    mappings_ensure_defaults,
    mappings_replace,
    mappings_validate,
    remote_labels,
)
from sync.models import Conflict, FieldMapping, SyncRun
from sync.owners import OwnerMapInvalid, owner_map, owner_map_set
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
        labels = remote_labels(integration)
        body: dict[str, list] = {}
        for m in FieldMapping.objects.filter(integration=integration).order_by("entity", "position", "id"):
            row = {"local": m.local_field, "remote": m.remote_field}
            if labels.get(m.entity, {}).get(m.remote_field):
                row["remote_label"] = labels[m.entity][m.remote_field]
            body.setdefault(m.entity, []).append({**row, "direction": m.direction, "transform": m.transform})
        return Response(body)

    @extend_schema(request=MappingsSerializer, responses={200: MappingsSerializer})
    def put(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request.subaccount, pk=pk)
        if not isinstance(request.data, dict) or not request.data:
            raise ApiError(status_code=400, code="invalid", message="Send {entity: [mapping rows]}.")
        unknown = set(request.data) - set(ENTITY_NAMES)
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
                mappings_validate(integration=integration, entity=entity, rows=rows)
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
                saved = mappings_replace(integration=integration, entity=entity, rows=rows)
                audit_record(  # as the admin's mapping editor records its saves
                    integration=integration,
                    subaccount=integration.subaccount,
                    actor=actor_for(request),
                    action="mappings_saved",
                    changes={"entity": entity, "rows": len(saved)},
                )
        return self.get(request, pk)


# A failed discovery's code (sync.fields.error_code) → the status it answers with: the provider
# could not be reached or the integration cannot work as configured → 409 (try again later, or fix
# it); the provider refused (credentials included) → 422, as a one-record sync answers.
REFRESH_STATUSES = {"provider_unavailable": 409, "integration_misconfigured": 409}


def _fields_body(integration: Integration, entities: list[str]) -> dict:
    rows = fields_cached(integration, entities)
    items = []
    for entity in entities:
        row = rows.get(entity)
        items.append(
            {
                "entity": entity,
                "refreshed_at": row.refreshed_at if row else None,
                "error": row.error if row else "",
                "error_at": row.error_at if row else None,
                "fields": (row.fields if row else None) or [],
            }
        )
    return FieldsSerializer({"entities": items}).data


def _fields_entities(request: Request, integration: Integration) -> list[str]:
    """The entities ``?entity=`` names (all the connector syncs when absent or empty)."""
    params = FieldsQuerySerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    supported = fields_entities(integration)
    entity = params.validated_data.get("entity")
    if not entity:
        return supported
    if entity not in supported:
        message = f"{integration.template.display_name} does not sync {entity} records"
        raise ApiError(status_code=400, code="invalid", message=message, details={"entity": [message]})
    return [entity]


def _refresh_failed(outcome: FieldsRefresh) -> ApiError:
    first = outcome.failed[0]
    return ApiError(
        status_code=REFRESH_STATUSES.get(first.code, 422),
        code=first.code,
        message=f"The provider's fields could not be read: {first.error}",
        details={e.entity: [e.error] for e in outcome.failed},
    )


class IntegrationFieldsView(APIView):
    """The provider's fields as last discovered (daily, or on demand with fields/refresh/): what
    mappings may name, by name or by label."""

    @extend_schema(parameters=[FieldsQuerySerializer], responses={200: FieldsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request_subaccount(request), pk=pk)
        return Response(_fields_body(integration, _fields_entities(request, integration)))


class IntegrationFieldsRefreshView(APIView):
    @extend_schema(
        description=(
            "Ask the provider for its fields now (every entity, or `?entity=`) and answer with them. "
            "When the provider fails, the fields discovered before are kept and the error is stored "
            "with them (see `error` in fields/)."
        ),
        parameters=[FieldsQuerySerializer],
        request=None,
        responses={
            200: FieldsSerializer,
            409: error_response(
                "The provider could not be reached (provider_unavailable) or the integration's "
                "settings cannot work (integration_misconfigured); details: entity → reason"
            ),
            422: error_response(
                "The provider refused the request (provider_refused, provider_auth); details: entity → reason"
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request_subaccount(request), pk=pk)
        entities = _fields_entities(request, integration)
        outcome = fields_refresh(integration, entities)
        if not outcome.ok:
            raise _refresh_failed(outcome)
        return Response(_fields_body(integration, entities))


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


OWNER_MAP_CONFLICT = error_response("An owner or a CRM user id appears twice (owner_map_conflict)")


class IntegrationOwnersView(APIView):
    """The integration's user mapping (``sync.owners``): records' platform owners (as owner rules
    assign them) become the CRM's user ids on the way out, and back on the way in."""

    @extend_schema(responses={200: OwnersSerializer})
    def get(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request_subaccount(request), pk=pk)
        return Response({"owners": _owner_rows(owner_map(integration))})

    @extend_schema(request=OwnersSerializer, responses={200: OwnersSerializer, 409: OWNER_MAP_CONFLICT})
    def put(self, request: Request, pk: int) -> Response:
        integration = integration_get(subaccount=request_subaccount(request), pk=pk)
        serializer = OwnersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = serializer.validated_data["owners"]
        mapping: dict[str, str] = {}
        for row in rows:
            if mapping.get(row["owner"], row["remote_id"]) != row["remote_id"]:
                raise ApiError(
                    status_code=409,
                    code="owner_map_conflict",
                    message=f"{row['owner']} is given two CRM users.",
                )
            mapping[row["owner"]] = row["remote_id"]
        try:
            owner_map_set(integration, mapping, actor=actor_for(request))
        except OwnerMapInvalid as exc:
            raise ApiError(status_code=409, code="owner_map_conflict", message=str(exc)) from None
        return Response({"owners": _owner_rows(owner_map(integration))})


def _owner_rows(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"owner": owner, "remote_id": remote} for owner, remote in sorted(mapping.items())]
