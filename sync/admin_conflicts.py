"""Admin for conflicts: the list (grouped by record), and a record's conflicts side by side — base,
local and remote per field, the differing values highlighted — resolved per field (local / remote /
custom) or all at once, and carried out at once (``sync.conflicts.record_conflicts_resolve``).

A Conflict row is one field of one record; the record page gathers the open ones of one
(integration, entity, local id), which is what a person decides about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html

from integrations.admin import badge
from integrations.admin_scope import ScopedAdmin
from sync.conflicts import (
    ConflictClosed,
    FieldChoice,
    RecordResolution,
    record_conflicts_resolve,
    record_sides,
)
from sync.entities import ENTITIES
from sync.models import Conflict, SyncRun

CONFLICT_STATUS_COLOURS = {Conflict.Status.OPEN: "#ef6c00", Conflict.Status.RESOLVED: "#2e7d32"}
RESOLVE_NOW_RECORDS = 20  # records a bulk action syncs at once (a few provider calls each, in the request)
SETTLED_SHOWN = 20  # a record page's latest settled conflicts


def shown(value: Any) -> str:
    """A stored (canonical, JSON) value as a person reads it: text as is, blanks empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@dataclass
class ConflictRow:
    """One open field of the record page: its three values and which two differ from the base."""

    conflict: Conflict
    base: str
    local: str
    remote: str
    local_differs: bool
    remote_differs: bool


def conflict_row(conflict: Conflict) -> ConflictRow:
    return ConflictRow(
        conflict,
        shown(conflict.base_value),
        shown(conflict.local_value),
        shown(conflict.remote_value),
        conflict.local_value != conflict.base_value,
        conflict.remote_value != conflict.base_value,
    )


def record_page_url(conflict: Conflict) -> str:
    return reverse(
        "admin:sync_conflict_record", args=[conflict.integration_id, conflict.entity, conflict.local_id]
    )


def record_admin_url(entity: str, local_id: int) -> str:
    try:
        return reverse(f"admin:sync_{entity}_change", args=[local_id])
    except NoReverseMatch:
        return ""


def choices_posted(post, conflicts: list[Conflict]) -> dict[str, FieldChoice]:
    """The form's decisions by field: a bulk button ("all" = local / remote) decides every field,
    otherwise each field's radio (and its custom text); fields left unchosen stay open."""
    everything = post.get("all", "")
    if everything in (Conflict.Choice.LOCAL, Conflict.Choice.REMOTE):
        return {c.field: FieldChoice(everything) for c in conflicts}
    chosen = {}
    for conflict in conflicts:
        choice = post.get(f"choice-{conflict.pk}", "")
        if choice in Conflict.Choice.values:
            value = post.get(f"value-{conflict.pk}", "") if choice == Conflict.Choice.CUSTOM else None
            chosen[conflict.field] = FieldChoice(choice, value)
    return chosen


def resolution_message(request, resolution: RecordResolution, name: str) -> None:
    fields = ", ".join(c.field for c in resolution.resolved)
    if resolution.sync is None:
        messages.warning(
            request,
            f"Resolved {fields}; not sent to {name} now ({resolution.not_synced or 'not asked'}): "
            "the next sync sends it.",
        )
        return
    result = resolution.sync
    if result.errors:
        detail = "; ".join(e["message"] for e in result.errors)
        messages.error(request, f"Resolved {fields}; {name} refused the update: {detail}")
        return
    messages.success(request, f"Resolved {fields} and synced with {name} at once (pushed: {result.pushed}).")


@admin.register(Conflict)
class ConflictAdmin(ScopedAdmin):
    list_display = [
        "record",
        "field",
        "local_shown",
        "remote_shown",
        "status_badge",
        "integration",
        "resolved_by",
        "created_at",
    ]
    list_display_links = ["field"]
    # Open first, then one record's fields together.
    ordering = ["status", "integration", "entity", "-local_id", "field"]
    # resolved_by: "strategy:<name>" marks the ones the integration's strategy settled on its own.
    list_filter = ["status", "resolution", "entity", "integration"]
    search_fields = ["resolved_by", "field", "remote_id"]
    readonly_fields = [
        "integration",
        "entity",
        "local_id",
        "remote_id",
        "field",
        "base_value",
        "local_value",
        "remote_value",
        "status",
        "resolution",
        "resolved_value",
        "resolved_by",
        "resolved_at",
    ]
    fields = readonly_fields
    actions = ["keep_local", "take_remote"]
    change_form_template = "admin/sync/conflict_change_form.html"
    change_list_template = "admin/sync/conflict/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration", "subaccount")

    def has_add_permission(self, request):
        return False

    @admin.display(description="Record", ordering="local_id")
    def record(self, obj):
        return format_html(
            '<a href="{}" class="conflict-record-link">{} #{}</a>',
            record_page_url(obj),
            obj.get_entity_display(),
            obj.local_id,
        )

    @admin.display(description="Local value")
    def local_shown(self, obj):
        return shown(obj.local_value) or "—"

    @admin.display(description="Remote value")
    def remote_shown(self, obj):
        return shown(obj.remote_value) or "—"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), CONFLICT_STATUS_COLOURS.get(obj.status, "#777"))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/resolve/", wrap(self.resolve_view), name="sync_conflict_resolve"),
            path(
                "record/<int:integration_id>/<str:entity>/<int:local_id>/",
                wrap(self.record_view),
                name="sync_conflict_record",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request, pk: int):
        """One conflict's "Resolve": the page of its record, where its fields are settled together
        (a POST of this conflict's choice/value alone still settles it, and carries it out)."""
        conflict = get_object_or_404(self.get_queryset(request), pk=pk)
        page = record_page_url(conflict)
        if request.method != "POST":
            return HttpResponseRedirect(f"{page}#conflict-{conflict.pk}")
        self._check_change(request)
        choice = request.POST.get("choice", "")
        return self._resolve(
            request, [conflict], {conflict.field: FieldChoice(choice, request.POST.get("value"))}, page
        )

    def _check_change(self, request) -> None:
        if not self.has_change_permission(request):
            raise Http404("No such conflict")

    def record_view(self, request, integration_id: int, entity: str, local_id: int):
        record_conflicts: QuerySet[Conflict] = self.get_queryset(request).filter(
            integration_id=integration_id, entity=entity, local_id=local_id
        )
        first = record_conflicts.first()
        if first is None:  # none of this record's, or another tenant's: 404
            raise Http404("No conflicts for this record")
        integration = first.integration
        page = record_page_url(first)
        open_ = list(record_conflicts.filter(status=Conflict.Status.OPEN).order_by("field"))
        if request.method == "POST":
            self._check_change(request)
            chosen = choices_posted(request.POST, open_)
            if not chosen:
                messages.warning(request, "Choose local, remote or a custom value for at least one field.")
                return HttpResponseRedirect(page)
            return self._resolve(request, open_, chosen, page)
        settled = list(
            record_conflicts.filter(status=Conflict.Status.RESOLVED).order_by("-resolved_at", "-pk")[
                :SETTLED_SHOWN
            ]
        )
        model = ENTITIES[entity].model if entity in ENTITIES else None
        obj = (
            model.objects.filter(pk=local_id, subaccount_id=integration.subaccount_id).first()
            if model
            else None
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Conflicts of {first.get_entity_display().lower()} {obj or f'#{local_id}'}",
            "integration": integration,
            "entity": entity,
            "local_id": local_id,
            "remote_id": first.remote_id,
            "record": obj,
            "record_url": record_admin_url(entity, local_id) if obj else "",
            "rows": [conflict_row(c) for c in open_],
            "settled": settled,
            "can_change": self.has_change_permission(request),
            **self._result(request, integration, entity, local_id, settled),
        }
        return render(request, "admin/sync/conflict_record.html", context)

    @staticmethod
    def _result(request, integration, entity: str, local_id: int, settled: list[Conflict]) -> dict:
        """After a resolution (``?run=<the sync that carried it out>``): that run, and the settled
        fields' values now on both sides, read back from the record and the provider."""
        raw = request.GET.get("run", "")
        if not raw.isdigit():
            return {}
        run = SyncRun.objects.filter(pk=raw, integration=integration).first()
        if run is None:
            return {}
        fields = list(dict.fromkeys(c.field for c in settled if c.resolved_by.startswith("user:")))
        sides = record_sides(integration=integration, entity=entity, local_id=local_id, fields=fields)
        rows = [
            {
                "field": name,
                "local": shown(sides.local.get(name)),
                "remote": shown(sides.remote.get(name)) if name in sides.remote else None,
                "same": name in sides.remote and sides.remote.get(name) == sides.local.get(name),
            }
            for name in fields
        ]
        return {"result_run": run, "result_rows": rows, "result_error": sides.remote_error}

    def _resolve(self, request, open_: list[Conflict], chosen: dict[str, FieldChoice], page: str):
        actor = f"user:{request.user.get_username()}"
        try:
            resolution = record_conflicts_resolve(conflicts=open_, choices=chosen, actor=actor)
        except ConflictClosed as exc:
            messages.warning(request, f"Nothing resolved: {exc} (someone settled it meanwhile).")
            return HttpResponseRedirect(page)
        except ValueError as exc:
            messages.error(request, f"Nothing resolved: {exc}")
            return HttpResponseRedirect(page)
        if not resolution.resolved:
            messages.warning(request, "Nothing resolved: those conflicts are no longer open.")
            return HttpResponseRedirect(page)
        resolution_message(request, resolution, resolution.resolved[0].integration.name)
        if resolution.sync is not None and resolution.sync.run is not None:
            return HttpResponseRedirect(f"{page}?run={resolution.sync.run.pk}#result")
        return HttpResponseRedirect(page)

    def _bulk(self, request, queryset, choice: str) -> None:
        """Settle the selected open conflicts, record by record; when few records are chosen each
        is synced at once, otherwise the next sync sends them."""
        actor = f"user:{request.user.get_username()}"
        opened = queryset.filter(status=Conflict.Status.OPEN).order_by("integration_id", "entity", "local_id")
        records = [
            list(rows) for _, rows in groupby(opened, key=lambda c: (c.integration_id, c.entity, c.local_id))
        ]
        now = len(records) <= RESOLVE_NOW_RECORDS
        done, synced, problems = 0, 0, []
        for rows in records:
            try:
                resolution = record_conflicts_resolve(
                    conflicts=rows,
                    choices={c.field: FieldChoice(choice) for c in rows},
                    actor=actor,
                    sync_now=now,
                )
            except ValueError as exc:  # ConflictClosed too: settled meanwhile
                problems.append(f"{rows[0].entity} #{rows[0].local_id}: {exc}")
                continue
            done += len(resolution.resolved)
            if resolution.sync is not None and not resolution.sync.errors:
                synced += 1
            elif now:
                reason = resolution.not_synced or "; ".join(e["message"] for e in resolution.sync.errors)
                problems.append(f"{rows[0].entity} #{rows[0].local_id}: {reason}")
        text = f"{done} conflict(s) resolved ({choice})"
        text += (
            f"; {synced} of {len(records)} record(s) synced at once"
            if now
            else f"; more than {RESOLVE_NOW_RECORDS} records: the next sync sends them"
        )
        self.message_user(request, text, messages.WARNING if problems else messages.SUCCESS)
        for problem in problems[:5]:
            self.message_user(request, problem, messages.WARNING)

    @admin.action(description="Resolve: keep the local value", permissions=["change"])
    def keep_local(self, request, queryset):
        self._bulk(request, queryset, "local")

    @admin.action(description="Resolve: take the remote value", permissions=["change"])
    def take_remote(self, request, queryset):
        self._bulk(request, queryset, "remote")
