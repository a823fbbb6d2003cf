"""Admin for the sync engine: runs with live progress, conflicts side by side, field mappings, the
provider's discovered fields ("Refresh fields"), "Sync now"."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from connectors.base import ConnectorError
from connectors.registry import connector_class
from integrations.admin import IntegrationAdmin
from integrations.admin_scope import ScopedAdmin, ScopedReadOnlyAdmin, integration_for
from integrations.models import Integration
from sync.admin_mappings import mapping_editor_urls
from sync.conflicts import ConflictClosed, conflict_resolve
from sync.enrichment.crm_fields import crm_fields_status
from sync.enrichment.setup import crm_fields_setup
from sync.fields import FieldsRefresh, fields_cached, fields_refresh, remote_fields
from sync.mapping import MappingInvalid, local_name, mappings_validate, validate_rows
from sync.models import Conflict, FieldMapping, SyncRecordError, SyncRun
from sync.owners import OwnerMapInvalid, owner_map, owner_map_set
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


class ResolveForm(forms.Form):
    choice = forms.ChoiceField(choices=Conflict.Choice.choices, widget=forms.RadioSelect)
    value = forms.CharField(required=False, help_text="Only for a custom value")


@admin.register(Conflict)
class ConflictAdmin(ScopedAdmin):
    list_display = [
        "id",
        "integration",
        "entity",
        "local_id",
        "field",
        "local_value",
        "remote_value",
        "status",
        "resolved_by",
        "created_at",
    ]
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

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/resolve/", wrap(self.resolve_view), name="sync_conflict_resolve"),
            *super().get_urls(),
        ]

    def resolve_view(self, request, pk: int):
        conflict = get_object_or_404(self.get_queryset(request), pk=pk)
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                conflict_resolve(
                    conflict=conflict,
                    choice=form.cleaned_data["choice"],
                    value=form.cleaned_data["value"],
                    actor=f"user:{request.user.get_username()}",
                )
            except (ConflictClosed, ValueError) as exc:
                messages.warning(request, str(exc))
            else:
                messages.success(request, "Resolved: the value reaches the other side on the next sync.")
            return HttpResponseRedirect(reverse("admin:sync_conflict_changelist"))
        return render(
            request,
            "admin/sync/conflict_resolve.html",
            {
                **self.admin_site.each_context(request),
                "conflict": conflict,
                "form": form,
                "title": f"Resolve {conflict.entity} {conflict.local_id}.{conflict.field}",
                "opts": self.model._meta,
            },
        )

    def _bulk(self, request, queryset, choice: str) -> None:
        done = 0
        for conflict in queryset.filter(status=Conflict.Status.OPEN):
            conflict_resolve(conflict=conflict, choice=choice, actor=f"user:{request.user.get_username()}")
            done += 1
        self.message_user(request, f"{done} conflict(s) resolved ({choice})")

    @admin.action(description="Resolve: keep the local value")
    def keep_local(self, request, queryset):
        self._bulk(request, queryset, "local")

    @admin.action(description="Resolve: take the remote value")
    def take_remote(self, request, queryset):
        self._bulk(request, queryset, "remote")


class FieldMappingForm(forms.ModelForm):
    class Meta:
        model = FieldMapping
        fields = ["entity", "local_field", "remote_field", "direction", "transform", "position"]

    def clean(self):
        """The API's checks, against the integration's discovered fields when it has them."""
        data = super().clean()
        entity = data.get("entity", "")
        rows = [
            {
                "local": data.get("local_field", ""),
                "remote": data.get("remote_field", ""),
                "direction": data.get("direction", "both"),
                "transform": data.get("transform"),
            }
        ]
        integration = Integration.objects.filter(pk=self.instance.integration_id).first()
        try:
            if integration is None:
                validate_rows(entity, rows)
            else:
                mappings_validate(integration=integration, entity=entity, rows=rows)
        except MappingInvalid as exc:
            raise forms.ValidationError("; ".join(m for msgs in exc.errors.values() for m in msgs)) from None
        data["local_field"] = local_name(data.get("local_field", ""))  # custom_fields.x → custom:x
        return data


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    form = FieldMappingForm
    extra = 0


# The integration page is integrations' admin; sync adds its field mappings to it, so that
# integrations never imports sync (sync builds on integrations, not the other way round).
admin.site.unregister(Integration)


def _refresh_message(integration: Integration, outcome: FieldsRefresh) -> tuple[int, str]:
    found = ", ".join(f"{e.entity}: {e.count}" for e in outcome.entities if e.ok)
    failed = "; ".join(f"{e.entity}: {e.error}" for e in outcome.failed)
    if not outcome.ok:
        text = f"{integration.name}: fields could not be refreshed ({failed})"
        return messages.ERROR, text + (f"; refreshed {found}" if found else "")
    return messages.SUCCESS, f"{integration.name}: fields refreshed ({found or 'no entities'})"


@admin.register(Integration)
class IntegrationWithMappingsAdmin(IntegrationAdmin):
    inlines = [*IntegrationAdmin.inlines, FieldMappingInline]
    fieldsets = [
        *IntegrationAdmin.fieldsets,
        ("Discovered fields", {"fields": ["discovered_fields"], "classes": ["collapse"]}),
        ("Enrichment fields in the CRM", {"fields": ["enrichment_fields"], "classes": ["collapse"]}),
        ("Owner mapping", {"fields": ["owner_mapping"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        *IntegrationAdmin.readonly_fields,
        "discovered_fields",
        "enrichment_fields",
        "owner_mapping",
    ]
    actions = [*IntegrationAdmin.actions, "action_refresh_fields"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/refresh-fields/",
                wrap(require_POST(self.refresh_fields_view)),
                name="sync_fields_refresh",
            ),
            path(
                "<int:pk>/owner-mapping/",
                wrap(require_POST(self.owner_mapping_view)),
                name="sync_owner_mapping",
            ),
            path(
                "<int:pk>/enrichment-fields/",
                wrap(require_POST(self.enrichment_fields_view)),
                name="sync_enrichment_fields_setup",
            ),
            *mapping_editor_urls(self),
            *super().get_urls(),
        ]

    @admin.display(description="Platform owner = CRM user id")
    def owner_mapping(self, obj):
        """The user mapping as lines ``owner = CRM user id``, saved by its own button (the change
        form posts to the owner-mapping view, as "Refresh fields" does)."""
        if obj is None or not connector_class(obj.template.connector).entities:
            return "—"
        text = "\n".join(f"{owner} = {remote}" for owner, remote in sorted(owner_map(obj).items()))
        return format_html(
            '<textarea name="owner_map_text" rows="4" cols="60" id="owner-map-text">{}</textarea><br>'
            '<button type="submit" class="button" id="save-owner-map" formaction="{}" formnovalidate>'
            "Save owner mapping</button>"
            "<p class='help'>One line per owner, e.g. <code>alice@acme.com = 12345</code>: records the owner "
            "rules give to alice go to CRM user 12345, and back.</p>",
            text,
            reverse("admin:sync_owner_mapping", args=[obj.pk]),
        )

    def owner_mapping_view(self, request, pk: int):
        integration = integration_for(request.user, pk)
        mapping: dict[str, str] = {}
        for number, line in enumerate(request.POST.get("owner_map_text", "").splitlines(), start=1):
            if not line.strip():
                continue
            owner, sep, remote = line.partition("=")
            if not sep:
                messages.error(request, f"Owner mapping line {number}: write it as owner = CRM user id")
                return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))
            mapping[owner.strip()] = remote.strip()
        try:
            owner_map_set(integration, mapping, actor=f"user:{request.user.get_username()}")
        except OwnerMapInvalid as exc:
            messages.error(request, f"Owner mapping not saved: {exc}")
        else:
            messages.success(request, f"{integration.name}: owner mapping saved ({len(mapping)} owners)")
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))

    @admin.display(description="Enrichment fields")
    def enrichment_fields(self, obj):
        """Which of the enrichment fields (score, sub-scores, signals, ...) the CRM has and are
        mapped, which are missing, and a button that creates and maps them where the CRM allows."""
        if obj is None or not connector_class(obj.template.connector).entities:
            return "—"
        button = format_html(
            '<button type="submit" class="button" id="setup-enrichment-fields" formaction="{}" formnovalidate>'
            "Create and map enrichment fields</button>",
            reverse("admin:sync_enrichment_fields_setup", args=[obj.pk]),
        )
        report = crm_fields_status(obj, refresh=False)
        mapped = ", ".join(sorted(f"{f.entity}: {f.remote}" for f in report.mapped)) or "none"
        missing = report.missing_names()
        return format_html(
            "{}<p>Mapped: {}</p>{}",
            button,
            mapped,
            format_html("<p>Missing in the CRM (not pushed until they exist): {}</p>", ", ".join(missing))
            if missing
            else "",
        )

    def enrichment_fields_view(self, request, pk: int):
        integration = integration_for(request.user, pk)
        try:
            report, run = crm_fields_setup(integration, actor=f"user:{request.user.get_username()}")
        except ConnectorError as exc:
            messages.error(request, f"{integration.name}: enrichment fields not set up: {exc}")
        else:
            text = f"{integration.name}: {len(report.created)} enrichment fields created, {len(report.mapped)} mapped"
            if report.missing:
                text += f"; missing in the CRM: {', '.join(report.missing_names())}"
            if run is not None:
                text += f"; existing scores pushed (run #{run.pk})"
            messages.add_message(request, messages.WARNING if report.missing else messages.SUCCESS, text)
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))

    @admin.display(description="Provider fields")
    def discovered_fields(self, obj):
        """Each entity's discovered fields (label, name, type, options), and a "Refresh fields"
        button that posts the change form to the refresh view (a form cannot nest in it)."""
        button = format_html(
            '<button type="submit" class="button" id="refresh-fields" formaction="{}" formnovalidate>'
            "Refresh fields</button>",
            reverse("admin:sync_fields_refresh", args=[obj.pk]),
        )
        rows = fields_cached(obj)
        if not rows:
            return format_html("{} <p>Not discovered yet.</p>", button)
        sections = format_html_join(
            "",
            "<h4>{} · {} fields · refreshed {}{}</h4><table>{}</table>",
            (
                (
                    entity,
                    len(row.fields or []),
                    row.refreshed_at.strftime("%Y-%m-%d %H:%M") if row.refreshed_at else "never",
                    format_html(" · <span style='color:#ba2121'>last refresh failed: {}</span>", row.error)
                    if row.error
                    else "",
                    self._field_rows(row),
                )
                for entity, row in sorted(rows.items())
            ),
        )
        return format_html("{}{}", button, sections)

    @staticmethod
    def _field_rows(row):
        return format_html_join(
            "",
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f.label,
                    f.name,
                    f.type + (" (custom)" if f.custom else "") + (" (read-only)" if f.read_only else ""),
                    ", ".join(label for _, label in f.options),
                )
                for f in remote_fields(row)
            ),
        )

    def refresh_fields_view(self, request, pk: int):
        integration = integration_for(request.user, pk)
        level, text = _refresh_message(integration, fields_refresh(integration))
        messages.add_message(request, level, text)
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))

    @admin.action(description="Refresh discovered fields")
    def action_refresh_fields(self, request, queryset):
        for integration in queryset:
            level, text = _refresh_message(integration, fields_refresh(integration))
            self.message_user(request, text, level=level)
