"""Admin for sync runs: a run list that reads like sentences, and a run page that updates itself while
the run moves (progress, counters, phase, rate, ETA), lists its per-record errors and retries them.

The run page's live part is one fragment (``_run_live.html``): the page includes it, and
``static/sync/runs.js`` fetches it again every second while the run is active, so the first render
and every update are the same template.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from integrations.admin_look import status_badge
from integrations.admin_scope import ScopedReadOnlyAdmin, integration_to_operate
from sync.entities import ENTITIES
from sync.models import EntityLink, SyncRecordError, SyncRun
from sync.runs import SyncBusy, SyncNotAllowed, record_errors_retry, sync_run_request

ERRORS_SHOWN = 200  # record errors a run page lists (and progress.json returns); the count shows the rest


def run_status_badge(run: SyncRun):
    return status_badge(run.status, run.get_status_display())


def entity_labels(entities) -> str:
    """Entities as small labels ("contact", "deal"), not a JSON list."""
    return format_html_join(" ", '<span class="run-entity">{}</span>', ((name,) for name in entities or []))


def progress_label(run: SyncRun) -> str:
    """The bar's caption: "45 % · pulling contacts" while it runs, "Succeeded · 685 records" after."""
    if run.status not in SyncRun.ACTIVE:
        return f"{run.get_status_display()} · {run.processed} records"
    done = f"{run.progress_percent} %" if run.progress_percent is not None else f"{run.processed} records"
    return f"{done} · {run.phase or run.get_status_display().lower()}"


def progress_bar(run: SyncRun):
    percent = run.progress_percent
    active = run.status in SyncRun.ACTIVE
    width = 100 if not active or percent is None else percent
    cls = "indeterminate" if active and percent is None else run.status
    return format_html(
        '<div class="run-progress {}" data-run="{}" role="progressbar" aria-valuenow="{}">'
        '<div class="bar" style="width:{}%"></div><span class="label">{}</span></div>',
        cls,
        run.pk,
        width,
        width,
        progress_label(run),
    )


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 90:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds:02d} s"


def run_progress(run: SyncRun) -> dict:
    """progress.json: the run's state, counters, rate and ETA, for scripts that watch a run."""
    return {
        "id": run.pk,
        "title": run.sentence,
        "status": run.status,
        "phase": run.phase,
        "percent": run.progress_percent,
        "total": run.progress_total,
        "label": progress_label(run),
        "active": run.status in SyncRun.ACTIVE,
        "error": run.error,
        "rate": round(run.rate, 2) if run.rate is not None else None,
        "eta_seconds": round(run.eta_seconds, 1) if run.eta_seconds is not None else None,
        "elapsed_seconds": round(run.elapsed_seconds, 1) if run.elapsed_seconds is not None else None,
        "counters": {name: getattr(run, name) for name in SyncRun.COUNTERS},
        **{name: getattr(run, name) for name in SyncRun.COUNTERS},
        "errors": [
            {
                "entity": e.entity,
                "direction": e.direction,
                "local_id": e.local_id,
                "remote_id": e.remote_id,
                "message": e.message,
                "code": e.code,
                "attempts": e.attempts,
                "resolved": e.resolved,
            }
            for e in run.record_errors.order_by("pk")[:ERRORS_SHOWN]
        ],
    }


@dataclass
class ErrorRow:
    """One record error as the run page lists it, with the local record's admin page if any."""

    error: SyncRecordError
    record_url: str
    record_label: str


def error_rows(run: SyncRun, errors: list[SyncRecordError]) -> list[ErrorRow]:
    """Link each error to its local record: a push names it, a pull's remote id is looked up in the
    integration's links (a record that failed its first pull has none yet)."""
    remote_ids = {(e.entity, e.remote_id) for e in errors if e.local_id is None and e.remote_id}
    linked = {
        (link.entity, link.remote_id): link.local_id
        for link in EntityLink.objects.filter(
            integration_id=run.integration_id, remote_id__in=[r for _, r in remote_ids]
        )
    }
    rows = []
    for error in errors:
        local_id = error.local_id or linked.get((error.entity, error.remote_id))
        url = ""
        if local_id and error.entity in ENTITIES:
            model = ENTITIES[error.entity].model
            if model.objects.filter(pk=local_id, subaccount_id=run.subaccount_id).exists():
                try:
                    url = reverse(f"admin:sync_{error.entity}_change", args=[local_id])
                except NoReverseMatch:
                    url = ""
        label = f"#{local_id}" if local_id else f"remote {error.remote_id or '—'}"
        if local_id and error.remote_id:
            label += f" (remote {error.remote_id})"
        rows.append(ErrorRow(error, url, label))
    return rows


@admin.register(SyncRun)
class SyncRunAdmin(ScopedReadOnlyAdmin):
    allow_delete = True
    list_display = [
        "description",
        "status_badge",
        "progress",
        "entity_list",
        "failed",
        "conflicts",
        "created_at",
    ]
    list_display_links = ["description"]
    list_filter = ["status", "kind", "integration__template"]
    change_list_template = "admin/sync/syncrun/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration", "subaccount")

    @admin.display(description="Run")
    def description(self, obj):
        return obj.sentence

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return run_status_badge(obj)

    @admin.display(description="Progress")
    def progress(self, obj):
        return progress_bar(obj)

    @admin.display(description="Entities")
    def entity_list(self, obj):
        return entity_labels(obj.entities)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/progress.json", wrap(self.progress_json), name="sync_syncrun_progress"),
            path("<int:pk>/live/", wrap(self.live_view), name="sync_syncrun_live"),
            path(
                "<int:pk>/errors/retry/",
                wrap(require_POST(self.retry_view)),
                name="sync_syncrun_errors_retry",
            ),
            path(
                "<int:pk>/errors/<int:error_id>/retry/",
                wrap(require_POST(self.retry_view)),
                name="sync_syncrun_error_retry",
            ),
            path("request/<int:integration_id>/", wrap(require_POST(self.request_view)), name="sync_request"),
            *super().get_urls(),
        ]

    def _run(self, request, pk: int) -> SyncRun:
        return get_object_or_404(self.get_queryset(request), pk=pk)  # another tenant's: 404

    def live_context(self, request, run: SyncRun) -> dict:
        errors = list(run.record_errors.order_by("resolved", "pk")[:ERRORS_SHOWN])
        return {
            "run": run,
            "status_badge": run_status_badge(run),
            "entities": entity_labels(run.entities),
            "progress": progress_bar(run),
            "active": run.status in SyncRun.ACTIVE,
            "counters": [(name, getattr(run, name)) for name in SyncRun.COUNTERS],
            "rate": f"{run.rate:.1f} records/s" if run.rate is not None else "—",
            "eta": _seconds(run.eta_seconds),
            "elapsed": _seconds(run.elapsed_seconds),
            "errors": error_rows(run, errors),
            "errors_total": run.record_errors.count(),
            "errors_open": run.record_errors.filter(resolved=False).count(),
            "can_retry": self.has_operate_permission(request) and run.status not in SyncRun.ACTIVE,
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            raise Http404("No such run")
        run = self._run(request, int(object_id))
        context = {
            **self.admin_site.each_context(request),
            **self.live_context(request, run),
            "opts": self.opts,
            "title": run.sentence,
            "original": run,
            "has_delete_permission": self.has_delete_permission(request, run),
            "integration_url": reverse("admin:integrations_integration_change", args=[run.integration_id]),
        }
        return render(request, "admin/sync/syncrun_page.html", context)

    def live_view(self, request, pk: int):
        run = self._run(request, pk)
        return render(request, "admin/sync/_run_live.html", self.live_context(request, run))

    def progress_json(self, request, pk: int):
        return JsonResponse(run_progress(self._run(request, pk)))

    def retry_view(self, request, pk: int, error_id: int | None = None):
        """Retry one record error (or all the run's open ones) now, in a retry run; the outcome is
        shown as a message on the run page."""
        run = self._run(request, pk)
        if not self.has_operate_permission(request):
            raise Http404("No such run")
        errors = run.record_errors.filter(resolved=False)
        if error_id is not None:
            errors = errors.filter(pk=error_id)
            if not errors.exists():
                get_object_or_404(run.record_errors, pk=error_id)  # another run's: 404
                messages.info(request, "That record error is already resolved.")
                return HttpResponseRedirect(reverse("admin:sync_syncrun_change", args=[run.pk]))
        ids = list(errors.values_list("pk", flat=True))
        here = reverse("admin:sync_syncrun_change", args=[run.pk])
        if not ids:
            messages.info(request, "No open record errors to retry.")
            return HttpResponseRedirect(here)
        try:
            retry = record_errors_retry(
                integration=run.integration, error_ids=ids, actor=f"user:{request.user.get_username()}"
            )
        except SyncBusy as exc:
            messages.warning(request, f"Not retried: {exc}; try again when it has finished.")
            return HttpResponseRedirect(here)
        except SyncNotAllowed as exc:
            messages.error(request, f"Not retried: {exc}")
            return HttpResponseRedirect(here)
        if retry is None:
            messages.info(request, "Those errors were resolved or are being retried already.")
            return HttpResponseRedirect(here)
        self._retry_message(request, retry, len(ids))
        return HttpResponseRedirect(here)

    @staticmethod
    def _retry_message(request, retry: SyncRun, tried: int) -> None:
        again = list(retry.record_errors.order_by("pk"))
        link = reverse("admin:sync_syncrun_change", args=[retry.pk])
        if retry.status == SyncRun.Status.FAILED:
            messages.error(
                request, format_html('Retry <a href="{}">run #{}</a> failed: {}', link, retry.pk, retry.error)
            )
        elif again:
            detail = "; ".join(f"{e.entity} {e.local_id or e.remote_id}: {e.message}" for e in again[:3])
            messages.warning(
                request,
                format_html(
                    'Retried {} record(s) in <a href="{}">run #{}</a>: {} failed again ({})',
                    tried,
                    link,
                    retry.pk,
                    len(again),
                    detail,
                ),
            )
        else:
            messages.success(
                request,
                format_html(
                    'Retried {} record(s) in <a href="{}">run #{}</a>: all went through.',
                    tried,
                    link,
                    retry.pk,
                ),
            )

    def request_view(self, request, integration_id: int):
        integration = integration_to_operate(request.user, integration_id)
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
