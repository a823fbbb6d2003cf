"""The integration page's sync parts: field mappings (the inline, and the editor's URLs from
sync/admin_mappings.py), the provider's discovered fields ("Refresh fields"), the owner mapping and
enrichment fields. Runs and conflicts have their own modules (admin_runs.py, admin_conflicts.py)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from connectors.base import ConnectorError
from connectors.registry import connector_class
from integrations.admin import IntegrationAdmin
from integrations.admin_scope import integration_to_operate
from integrations.models import Integration
from sync.admin_mappings import mapping_editor_urls
from sync.enrichment.crm_fields import crm_fields_status
from sync.enrichment.setup import crm_fields_setup
from sync.fields import FieldsRefresh, fields_cached, fields_refresh, remote_fields
from sync.mapping import MappingInvalid, local_name, mappings_validate, validate_rows
from sync.models import FieldMapping
from sync.owners import OwnerMapInvalid, owner_map, owner_map_set


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
        integration = integration_to_operate(request.user, pk)
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
        integration = integration_to_operate(request.user, pk)
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
                    format_html(" · <span class='errornote-inline'>last refresh failed: {}</span>", row.error)
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
        integration = integration_to_operate(request.user, pk)
        level, text = _refresh_message(integration, fields_refresh(integration))
        messages.add_message(request, level, text)
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[pk]))

    @admin.action(description="Refresh discovered fields")
    def action_refresh_fields(self, request, queryset):
        for integration in queryset:
            level, text = _refresh_message(integration, fields_refresh(integration))
            self.message_user(request, text, level=level)
