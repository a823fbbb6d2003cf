"""Admin for outbound webhooks: endpoint health, the message log with deliveries and attempts.

Read-only pages scoped to the staff user's sub-accounts; the actions (send a test event, replay
since a time, redeliver, enable/disable) call webhooks.outbound.services, which only queues the sending.
Secrets are never shown, and target URLs lose their query string (it may carry a token).
webhooks/admin.py calls ``register(admin.site)``; tests mount their own AdminSite instead, so
importing this module never changes the project's admin.
"""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from integrations.admin_look import status_badge
from integrations.admin_scope import ScopedReadOnlyAdmin, SubAccountScopeFilter
from webhooks.models import Delivery, Endpoint, Message
from webhooks.outbound import services as outbound
from webhooks.outbound.services import redacted_url

HEALTH_WINDOW = timedelta(days=7)


def actor_of(request) -> str:
    """How the audit log names the admin user acting."""
    return f"user:{request.user.get_username()}"


class EndpointActionForm(ActionForm):
    since = forms.DateTimeField(
        required=False, label="since", help_text="For “Replay since”: YYYY-MM-DD HH:MM (UTC)"
    )


class EndpointAdmin(ScopedReadOnlyAdmin):
    allow_delete = True  # with its deliveries and attempts; its messages stay in the log
    list_display = [
        "target",
        "subaccount",
        "enabled",
        "success_rate",
        "last_status_code",
        "last_success_at",
        "consecutive_failures",
        "disabled_reason",
    ]
    list_filter = [SubAccountScopeFilter, "enabled"]
    search_fields = ["url", "description"]
    fields = [
        "subaccount",
        "target",
        "description",
        "event_types",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "success_rate",
        "last_status_code",
        "last_success_at",
        "consecutive_failures",
        "failing_since",
        "rate_limit_per_second",
        "retry_schedule",
        "disable_after_failures",
        "disable_after_days",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    action_form = EndpointActionForm
    actions = ["send_test", "replay_since", "enable", "disable"]

    def get_queryset(self, request) -> QuerySet:
        since = timezone.now() - HEALTH_WINDOW
        recent = Q(deliveries__updated_at__gte=since)
        return (
            super()
            .get_queryset(request)
            .annotate(
                recent_ok=Count(
                    "deliveries", filter=recent & Q(deliveries__status=Delivery.Status.SUCCEEDED)
                ),
                recent_done=Count(
                    "deliveries",
                    filter=recent
                    & Q(deliveries__status__in=[Delivery.Status.SUCCEEDED, Delivery.Status.FAILED]),
                ),
            )
        )

    def action_checkbox(self, obj: Endpoint) -> str:
        # Django labels the checkbox with str(obj): the full URL, query string (maybe a token) included.
        attrs = {"class": "action-select", "aria-label": f"Select endpoint {obj.pk} for an action"}
        return forms.CheckboxInput(attrs, lambda value: False).render(
            helpers.ACTION_CHECKBOX_NAME, str(obj.pk)
        )

    @admin.display(description="URL")
    def target(self, obj: Endpoint) -> str:
        return redacted_url(obj.url)

    @admin.display(description="Success (7 days)")
    def success_rate(self, obj: Endpoint) -> str:
        done = getattr(obj, "recent_done", 0)
        if not done:
            return "—"
        return f"{obj.recent_ok * 100 // done}% ({obj.recent_ok}/{done})"

    @admin.action(description="Send a test event", permissions=["operate"])
    def send_test(self, request, queryset: QuerySet) -> None:
        sent = 0
        for endpoint in queryset:
            try:
                outbound.endpoint_send_test(endpoint=endpoint)
                sent += 1
            except outbound.EndpointDisabled:
                self.message_user(request, f"{redacted_url(endpoint.url)} is disabled", level="warning")
        self.message_user(request, f"Test event queued for {sent} endpoint(s)")

    @admin.action(description="Replay since the time given", permissions=["operate"])
    def replay_since(self, request, queryset: QuerySet) -> None:
        try:
            since = forms.DateTimeField(required=False).clean(request.POST.get("since", ""))
        except ValidationError:
            since = None
        if since is None:
            self.message_user(request, "Give the time to replay from in the “since” box", level="error")
            return
        total = 0
        for endpoint in queryset:
            try:
                total += outbound.endpoint_replay(endpoint=endpoint, since=since)
            except (outbound.EndpointDisabled, outbound.ReplayTooLarge) as exc:
                self.message_user(request, f"{redacted_url(endpoint.url)}: {exc}", level="warning")
        self.message_user(request, f"{total} deliveries queued again")

    @admin.action(description="Enable", permissions=["operate"])
    def enable(self, request, queryset: QuerySet) -> None:
        for endpoint in queryset.filter(enabled=False):
            outbound.endpoint_enable(endpoint=endpoint, actor=actor_of(request))
        self.message_user(request, "Enabled")

    @admin.action(description="Disable (pending deliveries are skipped)", permissions=["operate"])
    def disable(self, request, queryset: QuerySet) -> None:
        who = request.user.get_username()
        for endpoint in queryset.filter(enabled=True):
            outbound.endpoint_disable(
                endpoint=endpoint, reason=f"Disabled by {who}", notify=False, actor=actor_of(request)
            )
        self.message_user(request, "Disabled")

    def delete_model(self, request, obj: Endpoint) -> None:
        outbound.endpoint_delete(endpoint=obj, actor=actor_of(request))  # audited

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        for endpoint in queryset:
            outbound.endpoint_delete(endpoint=endpoint, actor=actor_of(request))


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = [
        "endpoint_url",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "attempt_log",
    ]
    readonly_fields = fields

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("endpoint").prefetch_related("attempt_log")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Endpoint")
    def endpoint_url(self, obj: Delivery) -> str:
        return redacted_url(obj.endpoint.url)

    @admin.display(description="Status")
    def status_badge(self, obj: Delivery) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Attempts")
    def attempt_log(self, obj: Delivery) -> str:
        rows = [
            (
                a.attempted_at.strftime("%Y-%m-%d %H:%M:%S"),
                a.status_code or "—",
                a.duration_ms,
                a.error or "ok",
                a.next_retry_at.strftime("%H:%M:%S") if a.next_retry_at else "—",
            )
            for a in obj.attempt_log.all()
        ]
        if not rows:
            return "—"
        return format_html_join("", "<div>{} · {} · {} ms · {} · retry {}</div>", rows)


class MessageAdmin(ScopedReadOnlyAdmin):
    allow_delete = True  # with its deliveries and attempts
    list_display = ["msg_id", "event_type", "subaccount", "ordering_key", "delivery_summary", "created_at"]
    list_filter = [SubAccountScopeFilter, "event_type"]
    search_fields = ["msg_id", "ordering_key"]
    date_hierarchy = "created_at"
    fields = [
        "msg_id",
        "subaccount",
        "event_type",
        "ordering_key",
        "change_seq",
        "created_at",
        "payload_json",
    ]
    readonly_fields = fields
    inlines = [DeliveryInline]
    actions = ["redeliver"]

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="Deliveries")
    def delivery_summary(self, obj: Message) -> str:
        counts: dict[str, int] = {}
        for delivery in obj.deliveries.all():
            counts[delivery.status] = counts.get(delivery.status, 0) + 1
        if not counts:
            return "—"
        return format_html_join(
            " ", "{}", ((status_badge(status, f"{n} {status}"),) for status, n in sorted(counts.items()))
        )

    @admin.display(description="Payload")
    def payload_json(self, obj: Message) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Redeliver (a new attempt cycle)", permissions=["operate"])
    def redeliver(self, request, queryset: QuerySet) -> None:
        total = sum(outbound.message_redeliver(message=message) for message in queryset)
        self.message_user(request, f"{total} deliveries queued again")


def register(site: admin.AdminSite) -> None:
    """Put the outbound pages on ``site`` (the project's: ``register(admin.site)`` in webhooks/admin.py)."""
    site.register(Endpoint, EndpointAdmin)
    site.register(Message, MessageAdmin)
