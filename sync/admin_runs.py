"""Admin for sync runs: the run list and page with live progress, its per-record errors, "Sync now"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from integrations.admin_scope import ScopedReadOnlyAdmin, integration_for
from sync.models import SyncRecordError, SyncRun
from sync.runs import SyncBusy, SyncNotAllowed, sync_run_request


def progress_bar(run: SyncRun):
    percent = run.progress_percent
    if run.status not in SyncRun.ACTIVE:
        percent = 100
    width = percent if percent is not None else 100
    label = f"{percent}%" if percent is not None else f"{run.processed} records"
    cls = "indeterminate" if percent is None and run.status in SyncRun.ACTIVE else run.status
    return format_html(
        '<div class="sync-progress {}" data-run="{}"><div class="bar" style="width:{}%"></div>'
        '<span class="label">{}</span></div>',
        cls,
        run.pk,
        width,
        label,
    )


class SyncRecordErrorInline(admin.TabularInline):
    model = SyncRecordError
    extra = 0
    can_delete = False
    fields = ["entity", "direction", "local_id", "remote_id", "message", "code", "attempts", "resolved"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ScopedReadOnlyAdmin):
    allow_delete = True
    list_display = [
        "id",
        "integration",
        "kind",
        "status",
        "progress",
        "processed",
        "created",
        "updated",
        "conflicts",
        "failed",
        "created_at",
        "duration",
    ]
    list_filter = ["status", "kind", "integration__template"]
    readonly_fields = [
        "integration",
        "subaccount",
        "kind",
        "direction",
        "entities",
        "status",
        "phase",
        "progress",
        *SyncRun.COUNTERS,
        "error",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
    ]
    fields = readonly_fields
    inlines = [SyncRecordErrorInline]
    change_form_template = "admin/sync/syncrun_change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")

    @admin.display(description="Progress")
    def progress(self, obj):
        return progress_bar(obj)

    @admin.display(description="Took")
    def duration(self, obj):
        seconds = obj.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f} s"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/progress.json", wrap(self.progress_json), name="sync_syncrun_progress"),
            path("request/<int:integration_id>/", wrap(require_POST(self.request_view)), name="sync_request"),
            *super().get_urls(),
        ]

    def progress_json(self, request, pk: int):
        run = get_object_or_404(self.get_queryset(request), pk=pk)
        return JsonResponse(
            {
                "status": run.status,
                "phase": run.phase,
                "percent": run.progress_percent,
                "active": run.status in SyncRun.ACTIVE,
                "error": run.error,
                **{name: getattr(run, name) for name in SyncRun.COUNTERS},
            }
        )

    def request_view(self, request, integration_id: int):
        integration = integration_for(request.user, integration_id)
        kind = "full" if request.POST.get("kind") == "full" else "delta"
        try:
            run = sync_run_request(
                integration=integration, kind=kind, requested_by=f"user:{request.user.get_username()}"
            )
        except SyncBusy as exc:
            messages.warning(request, f"Already syncing: {exc}")
            return HttpResponseRedirect(reverse("admin:sync_syncrun_change", args=[exc.run.pk]))
        except SyncNotAllowed as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(
                reverse("admin:integrations_integration_change", args=[integration_id])
            )
        messages.success(request, f"{kind.title()} sync queued.")
        return HttpResponseRedirect(reverse("admin:sync_syncrun_change", args=[run.pk]))
