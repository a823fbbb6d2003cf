"""The contact page's "Book an appointment" panel: the next free slots of the sub-account's
calendar integration as buttons; posting one books it (stored as the contact's meeting) and the
result shows as a message. Shown only when the sub-account has a calendar integration (a
``connectors.capabilities.Scheduler``); generic through ``sync.booking``."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from connectors.base import ConnectorError
from sync import booking

PANEL_SLOTS = 12  # the next free slots shown as buttons
PANEL_DAYS = 14


class BookingPanelMixin:
    """For ContactAdmin: the booking panel under the contact's fields, and its POST view."""

    change_form_template = "admin/sync/contact/change_form.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/book/", wrap(require_POST(self.book_view)), name="sync_contact_book"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if contact is not None:
            extra["booking"] = self._booking_context(request, contact)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _booking_context(self, request, contact) -> dict | None:
        integrations = booking.scheduler_integrations(contact.subaccount_id)
        if not integrations:
            return None
        panel = {"integration": integrations[0], "can_operate": self.has_operate_permission(request)}
        now = timezone.now()
        try:
            _, slots = booking.free_slots(
                contact=contact, start=now, end=now + timedelta(days=PANEL_DAYS), now=now
            )
        except (booking.BookingError, ConnectorError) as exc:
            panel["error"] = f"The free slots could not be read: {exc}"
        else:
            panel["slots"] = slots[:PANEL_SLOTS]
        return panel

    def book_view(self, request, pk: int):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        contact = self.get_object(request, str(pk))  # the scoped queryset: another tenant's is a 404
        if contact is None:
            raise Http404("No such contact")
        start = parse_datetime(request.POST.get("start", ""))
        end = parse_datetime(request.POST.get("end", "")) if request.POST.get("end") else None
        if start is None or start.tzinfo is None:
            self.message_user(request, "Not booked: choose a slot.", messages.ERROR)
        else:
            try:
                meeting = booking.appointment_book(
                    contact=contact,
                    start=start,
                    end=end,
                    title=request.POST.get("title", ""),
                    notes=request.POST.get("notes", ""),
                )
            except (booking.BookingError, ConnectorError) as exc:
                self.message_user(request, f"Not booked: {exc}", messages.ERROR)
            else:
                when = (
                    timezone.localtime(meeting.occurred_at).strftime("%Y-%m-%d %H:%M")
                    if meeting.occurred_at
                    else ""
                )
                self.message_user(request, f"Booked: {meeting.subject or 'appointment'} on {when}.")
        return HttpResponseRedirect(reverse("admin:sync_contact_change", args=[pk]) + "#booking")
