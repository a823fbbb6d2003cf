"""Webhook endpoints and the delivery log: thin adapters over webhooks.outbound, scoped by sub-account."""

from django.db.models import Exists, OuterRef, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.api.authentication import actor_for
from integrations.api.common import ApiError, error_response, request_subaccount
from webhooks.api.serializers_outbound import (
    AttemptSerializer,
    EndpointSecretSerializer,
    EndpointSerializer,
    EndpointWriteSerializer,
    MessageSerializer,
    RedeliverResultSerializer,
    RedeliverSerializer,
    ReplayResultSerializer,
    ReplaySerializer,
)
from webhooks.models import Delivery
from webhooks.outbound import selectors as selectors_outbound
from webhooks.outbound import services as outbound

DISABLED_RESPONSE = {409: error_response("The endpoint is disabled: enable it first")}


def _invalid(errors: dict[str, list[str]]) -> ApiError:
    return ApiError(status_code=400, code="invalid", message="The request is not valid.", details=errors)


def _disabled(exc: Exception) -> ApiError:
    return ApiError(status_code=409, code="endpoint_disabled", message=str(exc))


class EndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Where we send the sub-account's events, signed per Standard Webhooks."""

    serializer_class = EndpointSerializer
    lookup_value_regex = "[0-9]+"
    filterset_fields = ["enabled"]

    def get_queryset(self) -> QuerySet:
        return selectors_outbound.endpoint_list(subaccount=request_subaccount(self.request))

    @extend_schema(request=EndpointWriteSerializer, responses={201: EndpointSecretSerializer})
    def create(self, request: Request) -> Response:
        params = EndpointWriteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        fields = dict(params.validated_data)
        enabled = fields.pop("enabled", True)
        try:
            endpoint = outbound.endpoint_create(
                subaccount=request.subaccount, actor=actor_for(request), **fields
            )
            if not enabled:
                endpoint = outbound.endpoint_update(
                    endpoint=endpoint, enabled=False, actor=actor_for(request)
                )
        except outbound.EndpointInvalid as exc:
            raise _invalid(exc.errors) from None
        return Response(EndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndpointWriteSerializer, responses={200: EndpointSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        params = EndpointWriteSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        try:
            endpoint = outbound.endpoint_update(
                endpoint=endpoint, actor=actor_for(request), **params.validated_data
            )
        except outbound.EndpointInvalid as exc:
            raise _invalid(exc.errors) from None
        return Response(EndpointSerializer(endpoint).data)

    def perform_destroy(self, instance) -> None:
        outbound.endpoint_delete(endpoint=instance, actor=actor_for(self.request))

    @extend_schema(request=None, responses={200: EndpointSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new secret, shown once; the old one keeps signing (second signature) for 24 hours."""
        endpoint = outbound.endpoint_rotate_secret(endpoint=self.get_object(), actor=actor_for(request))
        return Response(EndpointSecretSerializer(endpoint).data)

    @extend_schema(request=None, responses={202: MessageSerializer, **DISABLED_RESPONSE})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Queue an ``endpoint.test`` event to this endpoint now; follow it in webhook-messages."""
        try:
            message = outbound.endpoint_send_test(endpoint=self.get_object())
        except outbound.EndpointDisabled as exc:
            raise _disabled(exc) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=ReplaySerializer,
        responses={202: ReplayResultSerializer, **DISABLED_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str) -> Response:
        """Send again every message since a time that this endpoint's filter takes."""
        endpoint = self.get_object()
        params = ReplaySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            count = outbound.endpoint_replay(endpoint=endpoint, since=params.validated_data["since"])
        except outbound.EndpointDisabled as exc:
            raise _disabled(exc) from None
        except outbound.ReplayTooLarge as exc:
            raise ApiError(status_code=400, code="replay_too_large", message=str(exc)) from None
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


class MessageFilter(filters.FilterSet):
    event_type = filters.CharFilter()
    endpoint = filters.NumberFilter(method="filter_endpoint", help_text="Messages sent to this endpoint")

    def filter_endpoint(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(Exists(Delivery.objects.filter(message=OuterRef("pk"), endpoint_id=value)))


class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log: every message with its per-endpoint deliveries."""

    serializer_class = MessageSerializer
    lookup_value_regex = "[0-9]+"
    filterset_class = MessageFilter

    def get_queryset(self) -> QuerySet:
        return selectors_outbound.message_list(subaccount=request_subaccount(self.request))

    @extend_schema(request=None, filters=False, responses={200: AttemptSerializer(many=True)})
    @action(detail=True, methods=["get"], filterset_class=None)
    def attempts(self, request: Request, pk: str) -> Response:
        """Every attempt at this message, newest first (cursor-paginated)."""
        attempts = selectors_outbound.attempt_list(message=self.get_object())
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(AttemptSerializer(page, many=True).data)

    @extend_schema(
        request=RedeliverSerializer,
        responses={202: RedeliverResultSerializer, **DISABLED_RESPONSE},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def redeliver(self, request: Request, pk: str) -> Response:
        """A new attempt cycle for this message (to every enabled endpoint it went to, or one)."""
        message = self.get_object()
        params = RedeliverSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        endpoint = None
        if "endpoint" in params.validated_data:
            endpoint = (
                selectors_outbound.endpoint_list(subaccount=request.subaccount)
                .filter(pk=params.validated_data["endpoint"])
                .first()
            )
            if endpoint is None:
                raise _invalid({"endpoint": ["No such endpoint."]})
        try:
            count = outbound.message_redeliver(message=message, endpoint=endpoint)
        except outbound.EndpointDisabled as exc:
            raise _disabled(exc) from None
        return Response({"redelivered": count}, status=status.HTTP_202_ACCEPTED)
