"""A contact's chat over the API: its messages (oldest first), sending one (JSON, or multipart with
attachments), and refreshing its conversations from the chat provider. Scoped to
``request.subaccount`` like every record route: another tenant's contact is a 404."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.base import ConnectorError
from integrations.api.authentication import actor_for
from integrations.api.common import ApiError, error_response, request_subaccount
from integrations.api.parsers import StrictJSONParser
from sync import messaging, selectors
from sync.api.serializers import API_RECORD_SERIALIZERS
from sync.models import Contact
from sync.single import RecordSyncBusy

CHANNELS = ("whatsapp", "email", "sms", "facebook", "instagram")
# MessagingError code → HTTP status (everything a caller can fix is a 4xx).
STATUS_FOR = {
    "no_messenger": 409,
    "customer_refused": 409,
    "invalid_channel": 400,
    "empty_message": 400,
    "attachment_too_large": 413,
}


class SendMessageSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=CHANNELS)
    content = serializers.CharField(allow_blank=True, max_length=20000, required=False, default="")
    integration_id = serializers.IntegerField(
        required=False, help_text="The chat integration (default: the first)"
    )
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="multipart only: files of at most 10 MB each"
    )


class RefreshResultSerializer(serializers.Serializer):
    processed = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


def _contact(request: Request, pk: int) -> Contact:
    subaccount = request_subaccount(request)
    return get_object_or_404(selectors.record_list(subaccount=subaccount, entity="contact"), pk=pk)


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, messaging.MessagingError):
        return ApiError(status_code=STATUS_FOR.get(exc.code, 409), code=exc.code, message=str(exc))
    if isinstance(exc, RecordSyncBusy):
        return ApiError(status_code=409, code="busy", message=str(exc))
    return ApiError(status_code=409, code="provider_error", message=str(exc))


class ContactMessagesView(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        responses={
            200: API_RECORD_SERIALIZERS["activity"](many=True),
            404: error_response("No such contact"),
        },
        description="The contact's chat messages (activities of kind message), oldest first.",
    )
    def get(self, request: Request, pk: int) -> Response:
        contact = _contact(request, pk)
        rows = messaging.history(contact)
        return Response(API_RECORD_SERIALIZERS["activity"](rows, many=True).data)

    @extend_schema(
        request={"application/json": SendMessageSerializer, "multipart/form-data": SendMessageSerializer},
        responses={
            201: API_RECORD_SERIALIZERS["activity"],
            404: error_response("No such contact"),
            409: error_response("No chat integration, or the provider refused the customer or message"),
            413: error_response("An attachment is larger than the provider accepts (nothing was sent)"),
        },
        description="Send a message to the contact on a channel, attachments uploaded first. The sent "
        "message is stored once as an outbound activity (its webhook and polling land on it too).",
    )
    def post(self, request: Request, pk: int) -> Response:
        contact = _contact(request, pk)
        # Multipart: one value per field (files apart); JSON: the object as it is.
        data = {k: request.data.get(k) for k in request.data if k != "attachments"}
        params = SendMessageSerializer(data=data)
        params.is_valid(raise_exception=True)
        uploads = [
            messaging.Upload(
                filename=f.name or "attachment",
                content_type=getattr(f, "content_type", "") or "application/octet-stream",
                data=f.read(),
            )
            for f in request.FILES.getlist("attachments")
        ]
        try:
            activity = messaging.message_send(
                contact=contact,
                channel=params.validated_data["channel"],
                content=params.validated_data["content"],
                uploads=uploads,
                actor=actor_for(request),
                integration_id=params.validated_data.get("integration_id"),
            )
        except (messaging.MessagingError, RecordSyncBusy, ConnectorError) as exc:
            raise _refused(exc) from None
        return Response(API_RECORD_SERIALIZERS["activity"](activity).data, status=status.HTTP_201_CREATED)


class ContactConversationsRefreshView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: RefreshResultSerializer,
            404: error_response("No such contact"),
            409: error_response("No chat integration, or the provider refused"),
        },
        description="Read the contact's conversations and messages from the chat provider now.",
    )
    def post(self, request: Request, pk: int) -> Response:
        contact = _contact(request, pk)
        try:
            outcome = messaging.conversations_refresh(contact=contact)
        except (messaging.MessagingError, ConnectorError) as exc:
            raise _refused(exc) from None
        return Response(
            {"processed": outcome.processed, "created": outcome.created, "updated": outcome.updated}
        )
