"""The lead-event log: what each analytics integration was sent, is waiting to be sent, or refused
(``sync.lead_events``), scoped to the sub-accounts the staff user manages; failed rows can be
queued again."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html

from integrations.admin_scope import IntegrationScopeFilter, ScopedReadOnlyAdmin, SubAccountScopeFilter
from sync.lead_events import lead_events_retry
from sync.models import LeadEventOutbox

ERROR_SHOWN = 80  # characters of the error in the list


@admin.register(LeadEventOutbox)
class LeadEventOutboxAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "event",
        "record",
        "stage",
        "status",
        "attempts",
        "sent_at",
        "short_error",
        "integration",
        "subaccount",
    ]
    list_select_related = ["subaccount", "integration__template"]
    list_filter = [SubAccountScopeFilter, "status", "event", IntegrationScopeFilter]
    search_fields = ["record_id__exact", "error"]
    ordering = ["-id"]
    actions = ["retry"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in LeadEventOutbox._meta.fields]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "title": "Lead events"})

    @admin.display(description="Record")
    def record(self, obj: LeadEventOutbox) -> str:
        url = reverse(f"admin:sync_{obj.record_type}_change", args=[obj.record_id])
        return format_html("<a href='{}'>{} {}</a>", url, obj.record_type, obj.record_id)

    @admin.display(description="Error")
    def short_error(self, obj: LeadEventOutbox) -> str:
        return (obj.error[:ERROR_SHOWN] + "…") if len(obj.error) > ERROR_SHOWN else obj.error

    @admin.action(description="Retry failed events (send them again)", permissions=["operate"])
    def retry(self, request, queryset: QuerySet) -> None:
        failed = list(queryset.filter(status=LeadEventOutbox.Status.FAILED))
        count = lead_events_retry(failed)
        skipped = queryset.count() - len(failed)
        note = f"; {skipped} not failed, left alone" if skipped else ""
        self.message_user(request, f"Queued {count} failed event(s) again{note}.")
