"""Booking a contact's appointment over the API: the calendar's free slots, and booking one (stored
as the contact's meeting activity, returned 201). Scoped to ``request.subaccount`` like every
record route: another tenant's contact is a 404. Generic over ``sync.booking``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.base import ConnectorError
from integrations.api.common import ApiError, error_response, request_subaccount
from integrations.api.parsers import StrictJSONParser
from sync import booking, selectors
from sync.api.serializers import API_RECORD_SERIALIZERS
from sync.models import Contact

# BookingError code → HTTP status (everything a caller can fix is a 4xx).
STATUS_FOR = {
    "no_scheduler": 409,
    "contact_not_synced": 409,
    "slot_taken": 409,
    "invalid_range": 400,
}


class SlotsQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="ISO 8601; default now")
    end = serializers.DateTimeField(required=False, help_text="ISO 8601; default two weeks after start")
    integration = serializers.IntegerField(
        required=False, min_value=1, help_text="The calendar integration (default: the first)"
    )


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class SlotsSerializer(serializers.Serializer):
    integration = serializers.IntegerField()
    slots = SlotSerializer(many=True)


class BookSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(required=False, help_text="Default: the end of the free slot at start")
    title = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    notes = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")
    integration = serializers.IntegerField(
        required=False, min_value=1, help_text="The calendar integration (default: the first)"
    )


def _contact(request: Request, pk: int) -> Contact:
    subaccount = request_subaccount(request)
    return get_object_or_404(selectors.record_list(subaccount=subaccount, entity="contact"), pk=pk)


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, booking.BookingError):
        return ApiError(status_code=STATUS_FOR.get(exc.code, 409), code=exc.code, message=str(exc))
    return ApiError(status_code=409, code="provider_error", message=str(exc))


class ContactSlotsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="ISO 8601 date-time; default now"),
            OpenApiParameter("end", str, description="ISO 8601 date-time; default two weeks after start"),
            OpenApiParameter("integration", int, description="The calendar integration (default: the first)"),
        ],
        responses={
            200: SlotsSerializer,
            400: error_response("An invalid or too long range"),
            404: error_response("No such contact"),
            409: error_response("No calendar integration, or the provider refused"),
        },
        description="The free slots of the sub-account's calendar between start and end, earliest first.",
    )
    def get(self, request: Request, pk: int) -> Response:
        contact = _contact(request, pk)
        params = SlotsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            integration, slots = booking.free_slots(
                contact=contact,
                start=params.validated_data.get("start"),
                end=params.validated_data.get("end"),
                now=timezone.now(),
                integration_id=params.validated_data.get("integration"),
            )
        except (booking.BookingError, ConnectorError) as exc:
            raise _refused(exc) from None
        body = {"integration": integration.pk, "slots": [{"start": s.start, "end": s.end} for s in slots]}
        return Response(SlotsSerializer(body).data)


class ContactAppointmentsView(APIView):
    parser_classes = [StrictJSONParser]

    @extend_schema(
        request=BookSerializer,
        responses={
            201: API_RECORD_SERIALIZERS["activity"],
            400: error_response("Invalid input"),
            404: error_response("No such contact"),
            409: error_response(
                "The slot is taken, no calendar integration, the contact is not synced to it, or the "
                "provider refused"
            ),
        },
        description="Book an appointment for the contact in a free slot. The appointment is stored once "
        "as the contact's meeting activity (the provider's webhook and polling land on it too).",
    )
    def post(self, request: Request, pk: int) -> Response:
        contact = _contact(request, pk)
        params = BookSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            activity = booking.appointment_book(
                contact=contact,
                start=data["start"],
                end=data.get("end"),
                title=data["title"],
                notes=data["notes"],
                integration_id=data.get("integration"),
            )
        except (booking.BookingError, ConnectorError) as exc:
            raise _refused(exc) from None
        return Response(API_RECORD_SERIALIZERS["activity"](activity).data, status=status.HTTP_201_CREATED)
