"""Thin adapters: parse, call a service, serialise. Every queryset is scoped to request.subaccount."""

from contextlib import contextmanager

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from connectors.base import ConfigError, ConnectorError
from integrations import catalog_services, selectors, services
from integrations.api.authentication import actor_for
from integrations.api.common import ApiError, error_response, request_subaccount
from integrations.api.permissions import CatalogAccess, is_operator
from integrations.api.serializers import (
    IntegrationCreateSerializer,
    IntegrationSerializer,
    IntegrationWriteSerializer,
    OAuthStartResultSerializer,
    OAuthStartSerializer,
    TemplateCreateSerializer,
    TemplateSerializer,
    TemplateWriteSerializer,
    TestResultSerializer,
)
from integrations.models import IntegrationTemplate

TRANSITION_RESPONSES = {
    200: IntegrationSerializer,
    409: error_response("Not allowed now"),
}


class TemplateViewSet(viewsets.ModelViewSet):
    """The catalog: every active template with its config schema.

    Sub-accounts read it; the operator (a superuser's staff session, no X-Subaccount needed) also
    sees inactive templates and creates, edits and deactivates them. DELETE deactivates: integrations
    keep the template they were made from, so it is never removed.
    """

    serializer_class = TemplateSerializer
    permission_classes = [CatalogAccess]
    lookup_field = "key"
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    pagination_class = None
    filterset_fields = ["category", "auth_type"]

    def get_queryset(self):
        return selectors.template_list(include_inactive=is_operator(self.request.user))

    @extend_schema(
        request=TemplateCreateSerializer,
        responses={201: TemplateSerializer, 403: error_response("Only the operator changes templates")},
    )
    def create(self, request: Request) -> Response:
        params = TemplateCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        key = values.pop("key")
        with _template_errors_as_400():
            template = catalog_services.template_create(key=key, values=values, user=request.user)
        return Response(TemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TemplateWriteSerializer,
        responses={200: TemplateSerializer, 403: error_response("Only the operator changes templates")},
    )
    def update(self, request: Request, key: str, partial: bool = False) -> Response:
        template = self.get_object()
        params = TemplateWriteSerializer(data=request.data, partial=partial)
        params.is_valid(raise_exception=True)
        with _template_errors_as_400():
            template = catalog_services.template_update(
                template=template, values=dict(params.validated_data), user=request.user
            )
        return Response(TemplateSerializer(template).data)

    @extend_schema(
        request=TemplateWriteSerializer,
        responses={200: TemplateSerializer, 403: error_response("Only the operator changes templates")},
    )
    def partial_update(self, request: Request, key: str) -> Response:
        return self.update(request, key, partial=True)

    @extend_schema(
        responses={204: None, 403: error_response("Only the operator changes templates")},
    )
    def destroy(self, request: Request, key: str) -> Response:
        """Deactivate: no longer offered to sub-accounts; integrations made from it keep working."""
        catalog_services.template_deactivate(template=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@contextmanager
def _template_errors_as_400():
    try:
        yield
    except catalog_services.TemplateInvalid as exc:
        raise ApiError(
            status_code=400, code="invalid", message="The template is not valid.", details=exc.errors
        ) from None


class IntegrationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = IntegrationSerializer
    lookup_value_regex = "[0-9]+"
    filterset_fields = ["status", "template__key"]

    def get_queryset(self):
        return selectors.integration_list(subaccount=request_subaccount(self.request))

    @extend_schema(request=IntegrationCreateSerializer, responses={201: IntegrationSerializer})
    def create(self, request: Request) -> Response:
        params = IntegrationCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        key = params.validated_data["template"]
        template = IntegrationTemplate.objects.filter(key=key, is_active=True).first()
        if template is None:
            raise ApiError(
                status_code=400,
                code="unknown_template",
                message=f"No template {key!r}.",
                details={"template": [f"Unknown template {key!r}."]},
            )
        try:
            integration = services.integration_create(
                subaccount=request.subaccount,
                template=template,
                name=params.validated_data.get("name", ""),
                config=params.validated_data.get("config", {}),
                actor=actor_for(request),
                **params.settings(),
            )
        except services.TemplateUnavailable as exc:
            raise ApiError(status_code=400, code="template_unavailable", message=str(exc)) from None
        body = IntegrationSerializer(integration).data
        # Shown once, like an API key: providers without signatures (Salesforce) carry it in the
        # webhook URL (?token=...), so the operator needs it when subscribing.
        body["webhook_secret"] = integration.webhook_secret
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=IntegrationWriteSerializer, responses={200: IntegrationSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        params = IntegrationWriteSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        if (
            "template" in params.validated_data
            and params.validated_data["template"] != integration.template.key
        ):
            raise ApiError(
                status_code=400,
                code="invalid",
                message="The template of an integration cannot change.",
                details={"template": ["Create a new integration instead."]},
            )
        config = params.validated_data.get("config")
        if config is not None:
            config = {**(integration.config or {}), **config}  # PATCH: absent keys keep their values
        fields = params.settings()
        if "name" in params.validated_data:
            fields["name"] = params.validated_data["name"]
        integration = services.integration_update(
            integration=integration, actor=actor_for(request), config=config, **fields
        )
        return Response(IntegrationSerializer(integration).data)

    def perform_destroy(self, instance) -> None:
        services.integration_delete(integration=instance, actor=actor_for(self.request))

    @extend_schema(request=None, responses={200: TestResultSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        result = services.integration_test(integration=self.get_object(), actor=actor_for(request))
        return Response({"ok": result.ok, "message": result.message, "details": result.details})

    @extend_schema(request=None, responses={200: IntegrationSerializer})
    @action(detail=True, methods=["post"])
    def disconnect(self, request: Request, pk: str) -> Response:
        integration = services.integration_disconnect(integration=self.get_object(), actor=actor_for(request))
        return Response(IntegrationSerializer(integration).data)

    def _transition(self, request: Request, service) -> Response:
        try:
            integration = service(integration=self.get_object(), actor=actor_for(request))
        except services.InvalidTransition as exc:
            raise ApiError(status_code=409, code="invalid_state", message=str(exc)) from None
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        """Go live; 409 until a connection test has passed."""
        return self._transition(request, services.integration_activate)

    @extend_schema(request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        return self._transition(request, services.integration_pause)

    @extend_schema(request=None, responses=TRANSITION_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        return self._transition(request, services.integration_resume)

    @extend_schema(request=OAuthStartSerializer, responses={200: OAuthStartResultSerializer})
    @action(detail=True, methods=["post"], url_path="oauth/start")
    def oauth_start(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        params = OAuthStartSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        redirect_uri = services.oauth_redirect_uri(
            integration.template.connector, request_base=request.build_absolute_uri("/")
        )
        try:
            url = services.oauth_start(
                integration=integration,
                redirect_uri=redirect_uri,
                return_to=params.validated_data.get("return_to", ""),
            )
        except ConfigError as exc:
            raise ApiError(status_code=400, code="oauth_unavailable", message=str(exc)) from None
        except ConnectorError as exc:
            raise ApiError(status_code=400, code="oauth_error", message=str(exc)) from None
        return Response({"authorize_url": url, "expires_in": settings.OAUTH_STATE_TTL_SECONDS})
