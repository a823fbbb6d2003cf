"""Admin for canonical records and the Change log: read-mostly, scoped to the staff user's sub-accounts.

Records change only through ``sync.services`` (so every change is versioned and logged); the one
write here is the "soft-delete" action, which calls ``record_delete`` with ``origin="admin:<user>"``.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from integrations.admin_scope import ScopedReadOnlyAdmin, SubAccountScopeFilter
from sync import admin_engine  # noqa: F401 (registers runs, conflicts and the integration page's mappings)
from sync.entities import entity_for
from sync.models import Activity, Change, Company, Contact, Deal
from sync.selectors import record_links
from sync.services import record_delete
from sync.single import record_sync_everywhere

SYNC_NOW_LIMIT = 20  # records one admin request syncs (a few provider calls each, in the request)


class RecordAdmin(ScopedReadOnlyAdmin):  # no hard deletes: they would bypass the Change log
    actions = ["soft_delete", "sync_now"]
    common_filters = [SubAccountScopeFilter, "is_deleted"]
    ordering = ["-updated_at", "-id"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [*(field.name for field in self.model._meta.fields), "links"]

    @admin.display(description="Links")
    def links(self, obj) -> str:
        """The record's twin in each integration, as the API's ``links`` shows them."""
        rows = record_links(entity=entity_for(obj).name, record_ids=[obj.pk]).get(obj.pk, [])
        if not rows:
            return "Not linked to any integration"
        body = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:integrations_integration_change", args=[row["integration"]["id"]]),
                    row["integration"]["name"],
                    row["provider"],
                    row["remote_id"],
                    row["last_synced_at"],
                    row["last_error"] or "—",
                )
                for row in rows
            ),
        )
        return format_html(
            "<table><tr><th>Integration</th><th>Provider</th><th>Remote id</th><th>Last synced</th>"
            "<th>Last error</th></tr>{}</table>",
            body,
        )

    def has_soft_delete_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.action(description="Soft-delete selected records", permissions=["soft_delete"])
    def soft_delete(self, request, queryset: QuerySet) -> None:
        origin = f"admin:{request.user.get_username()}"
        deleted = 0
        for record in queryset.filter(is_deleted=False):
            record_delete(record=record, origin=origin)
            deleted += 1
        self.message_user(request, f"Soft-deleted {deleted} record(s).")

    @admin.action(description="Sync now with the sub-account's integrations", permissions=["operate"])
    def sync_now(self, request, queryset: QuerySet) -> None:
        if queryset.count() > SYNC_NOW_LIMIT:
            self.message_user(
                request,
                f"Select at most {SYNC_NOW_LIMIT} records to sync now; a sync of the integration "
                "brings the rest.",
                messages.ERROR,
            )
            return
        actor = f"user:{request.user.get_username()}"
        tried = 0
        for record in queryset:
            for integration, result in record_sync_everywhere(record=record, actor=actor):
                tried += 1
                if isinstance(result, str):
                    self.message_user(
                        request, f"{record} with {integration.name}: {result}", messages.WARNING
                    )
                    continue
                level = messages.WARNING if result.errors else messages.SUCCESS
                detail = "; ".join(e["message"] for e in result.errors)
                self.message_user(
                    request,
                    f"{record} with {integration.name}: pulled {result.pulled}, pushed {result.pushed}, "
                    f"{result.conflicts} conflict(s){': ' + detail if detail else ''}",
                    level,
                )
        if not tried:
            self.message_user(request, "No active integration of these records' sub-accounts syncs them.")


@admin.register(Contact)
class ContactAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "email",
        "phone",
        "company_name",
        "lifecycle_stage",
        "score",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]
    list_filter = [*RecordAdmin.common_filters, "lifecycle_stage"]
    search_fields = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "mobile_phone",
        "external_id",
        "company_name",
    ]


@admin.register(Company)
class CompanyAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "domain",
        "phone",
        "industry",
        "score",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]
    list_filter = [*RecordAdmin.common_filters, "industry"]
    search_fields = ["name", "domain", "phone", "external_id"]


@admin.register(Deal)
class DealAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "amount",
        "currency",
        "stage",
        "pipeline",
        "close_date",
        "subaccount",
        "version",
        "is_deleted",
        "updated_at",
    ]
    list_filter = [*RecordAdmin.common_filters, "stage", "pipeline"]
    search_fields = ["name", "external_id", "stage"]


@admin.register(Activity)
class ActivityAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "kind",
        "direction",
        "channel",
        "status",
        "occurred_at",
        "subaccount",
        "version",
        "is_deleted",
    ]
    list_filter = [*RecordAdmin.common_filters, "kind", "direction", "channel"]
    search_fields = ["subject", "body", "external_id"]


@admin.register(Change)
class ChangeAdmin(ScopedReadOnlyAdmin):
    list_display = ["seq", "created_at", "subaccount", "entity", "record_id", "op", "fields", "origin"]
    list_filter = [SubAccountScopeFilter, "entity", "op"]
    search_fields = ["origin", "record_id__exact"]  # __exact on an integer compares as text: no 500
    ordering = ["-seq"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in Change._meta.fields]
