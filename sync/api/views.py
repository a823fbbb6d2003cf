"""Canonical records and the change feed: thin adapters over sync.services and sync.selectors.

Every queryset is scoped to ``request.subaccount`` (another tenant's id is a 404). Writes carry
``origin=actor_for(request)`` ("api_key:<prefix>"). ``Idempotency-Key`` is honoured on POST create
and bulk: the same key and body within 24 h replays the first answer.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api.authentication import actor_for
from integrations.api.common import ApiError, error_response, request_subaccount
from sync import selectors, services
from sync.api.filters import FILTERSETS
from sync.api.serializers import (
    API_RECORD_SERIALIZERS,
    INPUT_SERIALIZERS,
    BulkInputSerializer,
    BulkResponseSerializer,
    ChangePageSerializer,
    ChangeQuerySerializer,
    ChangeSerializer,
    bulk_input_serializer,
    bulk_response,
)
from sync.entities import ENTITIES
from sync.relations import relations_preload

IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Same key and body within 24 h: the first answer is replayed and nothing is written again.",
)
CONFLICT = error_response("idempotency_conflict, or duplicate_external_id")


@contextmanager
def service_errors() -> Iterator[None]:
    """Service refusals as API errors: invalid input is a 400, a taken external_id a 409."""
    try:
        yield
    except services.DuplicateRecord as exc:
        raise ApiError(
            status_code=409,
            code="duplicate_external_id",
            message=str(exc),
            details={"external_id": [exc.errors["external_id"]], "existing_id": exc.existing_id},
        ) from None
    except services.RecordInvalid as exc:
        raise ApiError(
            status_code=400,
            code="invalid",
            message="The record is not valid.",
            details={name: [reason] for name, reason in exc.errors.items()},
        ) from None


def object_body(request: Request) -> dict[str, Any]:
    """The JSON body, which must be an object (a malformed body is DRF's 400 "malformed")."""
    if not isinstance(request.data, dict):
        raise ApiError(status_code=400, code="invalid", message="The body must be a JSON object.")
    return request.data


def respond_idempotently(request: Request, perform: Callable[[], tuple[int, Any]]) -> Response:
    """Run ``perform`` (→ status, body) once per Idempotency-Key; without the header, just run it."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        status_code, body = perform()
        return Response(body, status=status_code)
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ApiError(
            status_code=400,
            code="invalid",
            message=f"Idempotency-Key: at most {IDEMPOTENCY_KEY_MAX} characters.",
        )
    request_hash = services.idempotency_request_hash(
        method=request.method, path=request.path, body=request.data
    )
    try:
        result = services.idempotency_execute(
            subaccount=request.subaccount, key=key, request_hash=request_hash, perform=perform
        )
    except services.IdempotencyConflict as exc:
        raise ApiError(status_code=409, code="idempotency_conflict", message=str(exc)) from None
    response = Response(result.body, status=result.status_code)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class RecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """GET (list, detail), POST, PATCH, DELETE (soft) and POST bulk/ for one canonical entity."""

    entity: str
    lookup_value_regex = "[0-9]{1,18}"  # anything else is no route: a 404, never a bad query

    def get_queryset(self):
        model = ENTITIES[self.entity].model
        if getattr(self, "swagger_fake_view", False):  # schema generation has no sub-account
            return model.objects.none()
        # Deleted rows stay reachable here; the filterset hides them unless ?is_deleted= is given.
        return selectors.record_list(
            subaccount=request_subaccount(self.request), entity=self.entity, include_deleted=True
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        records = list(queryset) if page is None else page
        relations_preload(ENTITIES[self.entity], records)  # a deal's contacts: one query per page
        # The page's links in two queries, instead of two per record.
        links = selectors.record_links(entity=self.entity, record_ids=[record.pk for record in records])
        serializer = self.get_serializer(
            records, many=True, context={**self.get_serializer_context(), "links": links}
        )
        if page is None:
            return Response(serializer.data)
        return self.get_paginated_response(serializer.data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        fields = object_body(request)

        def perform() -> tuple[int, Any]:
            with service_errors():
                record = services.record_create(
                    subaccount=request.subaccount,
                    entity=self.entity,
                    fields=fields,
                    origin=actor_for(request),
                )
            return status.HTTP_201_CREATED, self.get_serializer(record).data

        return respond_idempotently(request, perform)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        fields = object_body(request)
        with service_errors():
            result = services.record_update(record=record, fields=fields, origin=actor_for(request))
        return Response(self.get_serializer(result.record).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.record_delete(record=self.get_object(), origin=actor_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def bulk(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = BulkInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)

        def perform() -> tuple[int, Any]:
            results = services.records_bulk_upsert(
                subaccount=request.subaccount,
                entity=self.entity,
                records=params.validated_data["records"],
                origin=actor_for(request),
            )
            return status.HTTP_200_OK, bulk_response(results)

        return respond_idempotently(request, perform)


def record_schema(entity: str):
    """OpenAPI for one entity's routes: its own input and output shapes."""
    output, given = API_RECORD_SERIALIZERS[entity], INPUT_SERIALIZERS[entity]
    return extend_schema_view(
        list=extend_schema(responses={200: output(many=True)}),
        retrieve=extend_schema(responses={200: output}),
        create=extend_schema(
            request=given,
            parameters=[IDEMPOTENCY_HEADER],
            responses={201: output, 409: CONFLICT},
        ),
        partial_update=extend_schema(request=given, responses={200: output, 409: CONFLICT}),
        destroy=extend_schema(responses={204: None}),
        bulk=extend_schema(
            summary=f"Upsert up to {services.MAX_BULK} {entity} records (external_id → email → phone)",
            request=bulk_input_serializer(entity),
            parameters=[IDEMPOTENCY_HEADER],
            responses={200: BulkResponseSerializer, 409: CONFLICT},
        ),
    )


def record_viewset(entity: str) -> type[RecordViewSet]:
    """``entity``'s routes: the generic viewset with the entity's serializer, filters and schema."""
    viewset = type(
        f"{entity.title()}ViewSet",
        (RecordViewSet,),
        {
            "__doc__": RecordViewSet.__doc__,
            "entity": entity,
            "serializer_class": API_RECORD_SERIALIZERS[entity],
            "filterset_class": FILTERSETS[entity],
        },
    )
    return record_schema(entity)(viewset)


# One viewset per registered entity (sync.entities.ENTITIES); sync/api/urls.py routes each.
RECORD_VIEWSETS: dict[str, type[RecordViewSet]] = {name: record_viewset(name) for name in ENTITIES}


class ChangeFeedView(APIView):
    """The caller's changes after a seq, oldest first: keep ``next_after`` and ask again."""

    @extend_schema(
        parameters=[ChangeQuerySerializer],
        responses={200: ChangePageSerializer},
    )
    def get(self, request: Request) -> Response:
        params = ChangeQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        after = params.validated_data["after"]
        changes = selectors.change_list(
            subaccount=request.subaccount,
            after=after,
            limit=params.validated_data["limit"],
            entity=params.validated_data.get("entity"),
        )
        return Response(
            {
                "results": ChangeSerializer(changes, many=True).data,
                "next_after": changes[-1].seq if changes else after,
            }
        )
