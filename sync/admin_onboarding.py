"""The operator's onboarding pages: the tracking table (the seed's AITableSync: filter by entity
type, status, direction, record; retry failed steps), the portals, orders and audits the flow made,
and the report the seed's AITable dashboard shows. Scoped like the rest of the admin."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html

from integrations.admin_scope import (
    IntegrationScopeFilter,
    ScopedReadOnlyAdmin,
    SubAccountScopeFilter,
    subaccount_chosen,
)
from sync.models import AuditResult, ClientOrder, ClientPortal, FlowStep
from sync.onboarding.files import corrected_file_url
from sync.onboarding.reporting import onboarding_report
from sync.onboarding.services import seed_direction
from sync.onboarding.steps import steps_retry


def _short(text: str, size: int = 80) -> str:
    return (text[:size] + "…") if len(text) > size else text


@admin.register(FlowStep)
class FlowStepAdmin(ScopedReadOnlyAdmin):
    """Every flow step and record sync with the table store, as the seed's AITableSync has them."""

    list_display = [
        "id",
        "updated_at",
        "entity_type",
        "record_id",
        "datasheet_id",
        "internal_id",
        "sync_direction",
        "status",
        "attempts",
        "short_error",
        "integration",
    ]
    list_select_related = ["integration__template", "subaccount"]
    list_filter = [SubAccountScopeFilter, "entity_type", "status", "direction", IntegrationScopeFilter]
    search_fields = ["record_id__exact", "internal_id__exact", "datasheet_id__exact", "key", "error"]
    ordering = ["-updated_at", "-id"]
    actions = ["retry"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in FlowStep._meta.fields]

    def changelist_view(self, request, extra_context=None):
        extra = {"title": "Onboarding tracking", "report_url": reverse("admin:sync_onboarding_report")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    @admin.display(description="Direction", ordering="direction")
    def sync_direction(self, obj: FlowStep) -> str:
        return seed_direction(obj)

    @admin.display(description="Error")
    def short_error(self, obj: FlowStep) -> str:
        return _short(obj.error)

    @admin.action(description="Retry failed steps", permissions=["operate"])
    def retry(self, request, queryset: QuerySet) -> None:
        count = steps_retry(queryset.filter(status=FlowStep.Status.FAILED))
        self.message_user(
            request, f"Queued {count} failed step(s) again (lead rows: sync the contact instead)."
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("report/", wrap(self.report_view), name="sync_onboarding_report"), *super().get_urls()]

    def report_view(self, request):
        choices, chosen = subaccount_chosen(request)
        chosen = chosen or choices.first()
        report = onboarding_report(subaccount=chosen) if chosen is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Client onboarding report",
            "opts": self.model._meta,
            "choices": choices,
            "chosen": chosen,
            "report": report,
        }
        return render(request, "admin/sync/onboarding_report.html", context)


@admin.register(ClientPortal)
class ClientPortalAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "portal_link",
        "status",
        "uploads_enabled",
        "lead_record_id",
        "contact",
    ]
    list_select_related = ["contact", "subaccount"]
    list_filter = [SubAccountScopeFilter, "status", "uploads_enabled"]
    search_fields = ["lead_record_id__exact", "remote_id__exact", "contact__email__exact"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in ClientPortal._meta.fields]

    @admin.display(description="Portal")
    def portal_link(self, obj: ClientPortal) -> str:
        return format_html("<a href='{}' rel='noopener' target='_blank'>{}</a>", obj.url, obj.remote_id)


@admin.register(ClientOrder)
class ClientOrderAdmin(ScopedReadOnlyAdmin):
    list_display = ["id", "created_at", "client_name", "email", "status", "record_id", "lead_record_id"]
    list_select_related = ["subaccount"]
    list_filter = [SubAccountScopeFilter, "status"]
    # Name and e-mail are encrypted at rest: an order is found by its exact e-mail (blind index).
    search_fields = ["email__exact", "record_id__exact", "lead_record_id__exact"]
    search_help_text = (
        "An exact e-mail, order row id or lead record id (names are encrypted, so not searchable)."
    )

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in ClientOrder._meta.fields]


@admin.register(AuditResult)
class AuditResultAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "id",
        "processed_at",
        "file_name",
        "status",
        "employees_processed",
        "corrections_made",
        "corrected_link",
        "order",
        "short_error",
    ]
    list_select_related = ["order", "subaccount"]
    list_filter = [SubAccountScopeFilter, "status"]
    search_fields = ["file_name", "file_id__exact", "record_id__exact"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in AuditResult._meta.fields]

    @admin.display(description="Corrected file")
    def corrected_link(self, obj: AuditResult) -> str:
        url = corrected_file_url(obj)
        return format_html("<a href='{}'>download</a>", url) if url else "—"

    @admin.display(description="Error")
    def short_error(self, obj: AuditResult) -> str:
        return _short(obj.error)
