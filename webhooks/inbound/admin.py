"""Admin for inbound provider webhooks: every delivery (refused ones counted per integration) and
every event with its status, attempts and error, and a "Replay" action (bulk, and a button on one).
Acknowledged deliveries show whether a worker has read them into events yet, and those it could
not read (the reason beside them) can be read again after a connector fix.

Read-only but for replay and re-reading, which call ``inbound_events_replay`` and
``inbound_deliveries_reparse``; scoped to the staff user's
sub-accounts. Stored headers never held credentials (``safe_headers`` dropped them on the way in);
they are filtered again on display.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from integrations.admin_look import status_badge
from integrations.admin_scope import ScopedReadOnlyAdmin, SubAccountScopeFilter
from webhooks.inbound.services import inbound_deliveries_reparse, inbound_events_replay, safe_headers
from webhooks.models import InboundDelivery, InboundEvent

REJECTED_WINDOW = timedelta(hours=24)


class ReadOnlyInboundAdmin(ScopedReadOnlyAdmin):
    list_select_related = ["integration", "subaccount"]

    # Fields never shown as stored (raw headers, raw JSON): each has a display method instead.
    hidden: tuple[str, ...] = ()
    extra_readonly: tuple[str, ...] = ()

    def get_exclude(self, request, obj=None) -> tuple[str, ...]:
        return self.hidden

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [*[f.name for f in self.model._meta.fields if f.name not in self.hidden], *self.extra_readonly]


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnlyInboundAdmin):
    list_display = [
        "id",
        "received_at",
        "integration",
        "provider",
        "method",
        "outcome_badge",
        "parse_badge",
        "reason",
        "events",
        "duplicates",
        "remote_addr",
    ]
    list_filter = ["outcome", "parse_status", "provider", SubAccountScopeFilter]
    search_fields = ["reason", "remote_addr"]
    actions = ["read_again"]
    date_hierarchy = "received_at"
    change_list_template = "admin/webhooks/inbounddelivery_change_list.html"
    hidden = ("headers", "body")
    extra_readonly = ("stored_headers",)

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, obj: InboundDelivery):
        return status_badge(obj.outcome, obj.get_outcome_display())

    @admin.display(description="Read into events", ordering="parse_status")
    def parse_badge(self, obj: InboundDelivery):
        return status_badge(obj.parse_status, obj.get_parse_status_display()) if obj.parse_status else "—"

    def has_read_again_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_inbounddelivery")

    @admin.action(description="Read the selected failed deliveries again", permissions=["read_again"])
    def read_again(self, request, queryset: QuerySet) -> None:
        count = inbound_deliveries_reparse(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} failed deliveries queued to be read again.", messages.SUCCESS)

    @admin.display(description="Headers (credentials never stored)")
    def stored_headers(self, obj: InboundDelivery):
        rows = sorted(safe_headers(obj.headers or {}).items())
        return format_html_join("", "<div><code>{}: {}</code></div>", rows) or "—"

    def changelist_view(self, request, extra_context=None):
        since = timezone.now() - REJECTED_WINDOW
        refused = (
            self.get_queryset(request)
            .filter(received_at__gte=since)
            .exclude(outcome=InboundDelivery.Outcome.ACCEPTED)
            .values("integration_id", "integration__name", "outcome")
            .annotate(n=Count("id"))
            .order_by("-n")
        )
        context = {"refused_by_integration": list(refused), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyInboundAdmin):
    list_display = [
        "id",
        "created_at",
        "integration",
        "event_type",
        "remote_id",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "short_error",
    ]
    list_filter = ["status", "provider", "entity", SubAccountScopeFilter]
    search_fields = ["event_id", "remote_id"]
    date_hierarchy = "created_at"
    actions = ["replay"]
    change_form_template = "admin/webhooks/inboundevent_change_form.html"
    hidden = ("payload",)
    extra_readonly = ("payload_json",)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: InboundEvent):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Error")
    def short_error(self, obj: InboundEvent) -> str:
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error

    @admin.display(description="Payload")
    def payload_json(self, obj: InboundEvent):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_inboundevent")

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay(self, request, queryset: QuerySet) -> None:
        count = inbound_events_replay(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for replay.", messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "<int:pk>/replay/",
                self.admin_site.admin_view(self.replay_one_view),
                name="webhooks_inboundevent_replay",
            ),
            *super().get_urls(),
        ]

    def replay_one_view(self, request, pk: int):
        """The change page's Replay button (POST): one event, same service as the bulk action."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_replay_permission(request):
            raise PermissionDenied
        event = get_object_or_404(self.get_queryset(request), pk=pk)  # another tenant's event: 404
        inbound_events_replay(event_ids=[event.pk])
        self.message_user(request, f"Event {event.pk} queued for replay.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:webhooks_inboundevent_change", args=[pk]))

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_replay"] = self.has_replay_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)
