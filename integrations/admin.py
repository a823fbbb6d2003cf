"""The operator's home: sub-accounts, keys, the catalog, integrations and their audit trail.

Encrypted fields are never form fields here (EncryptedJSONField.formfield returns None); configs
are shown redacted and edited through the schema form (admin_views.configure_view).
"""

from functools import partial

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from rest_framework_api_key.admin import APIKeyModelAdmin

from connectors.registry import CONNECTORS, connector_class
from connectors.types import USAGE_KEY
from integrations import admin_demo, admin_views, catalog_services, services
from integrations.admin_audit import AuditLogAdmin
from integrations.admin_login import RateLimitedAuthenticationForm
from integrations.admin_look import HEALTH_COLOURS, STATUS_COLOURS, badge
from integrations.admin_scope import (
    OperatorOnlyAdmin,
    ScopedAdmin,
    TenantAdminMixin,
    integrations_for,
    operator_only_register,
    subaccounts_for,
)
from integrations.automation_forms import DefaultYesNoSelect
from integrations.catalog_loader import template_errors
from integrations.config_schema import redact_config, secrets_set
from integrations.models import (
    AUTOMATION_SETTINGS,
    ApiKey,
    AuditLog,
    Integration,
    IntegrationTemplate,
    Membership,
    OAuthApp,
    SubAccount,
)
from integrations.oauth_apps import oauth_app_save
from integrations.wizard import IntegrationWizard
from integrations.wizard_setup import uses_setup_choices

admin.site.site_header = "CRM integration platform"
admin.site.site_title = "Integrations admin"
admin.site.index_title = "Operations"
admin.site.login_form = RateLimitedAuthenticationForm

__all__ = ["HEALTH_COLOURS", "STATUS_COLOURS", "badge"]  # other apps' pages show states with these

# Users, groups, Celery schedules and results: platform configuration, operators only (the apps
# that register them come before integrations in INSTALLED_APPS, so their pages exist by now).
operator_only_register(admin.site)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(SubAccount)
class SubAccountAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Operators create sub-accounts and manage who belongs to them; a member edits their own
    sub-account's settings (not its slug, not whether it is active, not its members)."""

    list_display = ["slug", "name", "default_region", "is_active", "integration_count", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["slug", "name", "default_region", "is_active", "notification_emails"]}),
        (
            "Enrichment and automation",
            {
                "fields": list(AUTOMATION_SETTINGS),
                "description": "Defaults for records written through the API and for integrations "
                "that leave a setting on Default.",
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            subaccounts_for(request.user) if not request.user.is_superuser else super().get_queryset(request)
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["slug", "is_active"]

    def get_inlines(self, request, obj):
        return self.inlines if request.user.is_superuser else []

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    @admin.display(description="Integrations")
    def integration_count(self, obj):
        return obj.integrations.count()


@admin.register(ApiKey)
class ApiKeyAdmin(ScopedAdmin, APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "subaccount", "last_used_at"]
    list_filter = [*APIKeyModelAdmin.list_filter, "subaccount"]


class IntegrationTemplateForm(forms.ModelForm):
    """The catalog's own rules (catalog_loader.template_errors) checked on the form, field by field."""

    class Meta:
        model = IntegrationTemplate
        fields = ["key", *catalog_services.EDITABLE_FIELDS]
        field_classes = {"webhook_url": partial(forms.URLField, assume_scheme="https")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["capabilities"].required = False  # {} is a fine answer, and a form calls it empty

    def clean_capabilities(self):
        return self.cleaned_data["capabilities"] or {}

    def clean(self):
        cleaned = super().clean()
        values = {k: v for k, v in cleaned.items() if k in catalog_services.EDITABLE_FIELDS}
        for field, reasons in template_errors(values).items():
            if field in self.fields:
                self.add_error(field, reasons)
        return cleaned


@admin.register(IntegrationTemplate)
class IntegrationTemplateAdmin(OperatorOnlyAdmin, admin.ModelAdmin):
    """Superusers create, edit and deactivate templates (catalog_services); other staff read the
    catalog page (admin_views.catalog_view), never these pages."""

    form = IntegrationTemplateForm
    list_display = [
        "display_name",
        "key",
        "category",
        "auth_type",
        "api_version",
        "available",
        "is_active",
        "edited",
    ]
    list_filter = ["category", "auth_type", "is_active", "edited"]
    search_fields = ["key", "display_name", "description"]
    readonly_fields = ["version", "edited", "created_by", "updated_at"]
    actions = ["action_deactivate"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["key", *self.readonly_fields]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # integrations point at templates: retire one by deactivating it

    @admin.display(boolean=True, description="Connector built")
    def available(self, obj):
        return obj.is_available

    def save_model(self, request, obj, form, change):
        values = {k: form.cleaned_data[k] for k in form.changed_data if k in catalog_services.EDITABLE_FIELDS}
        if change:
            stored = IntegrationTemplate.objects.get(pk=obj.pk)
            catalog_services.template_update(template=stored, values=values, user=request.user)
            return
        values = {k: form.cleaned_data[k] for k in catalog_services.EDITABLE_FIELDS if k in form.cleaned_data}
        created = catalog_services.template_create(key=obj.key, values=values, user=request.user)
        obj.pk, obj._state.adding = created.pk, False

    @admin.action(description="Deactivate (no longer offered; integrations keep working)")
    def action_deactivate(self, request, queryset):
        for template in queryset:
            catalog_services.template_deactivate(template=template, user=request.user)
        self.message_user(request, f"{queryset.count()} template(s) deactivated")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("action_deactivate", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "catalog_url": reverse("admin:integrations_catalog")}
        return super().changelist_view(request, extra_context)


class OAuthAppForm(forms.ModelForm):
    """The secret is a write-only password field: never rendered back, blank keeps the stored one."""

    provider = forms.ChoiceField(choices=())
    # Not named client_secret: a ModelForm would copy a blank answer onto the model field.
    secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again; leave blank to keep the stored one.",
    )

    class Meta:
        model = OAuthApp
        fields = ["provider", "client_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "provider" in self.fields:  # adding; once saved it is read-only (integrations resolve by it)
            self.fields["provider"].choices = [
                (key, key) for key in sorted(CONNECTORS) if connector_class(key).oauth is not None
            ]
        if self.instance.pk is None:
            self.fields["secret"].required = True


@admin.register(OAuthApp)
class OAuthAppAdmin(OperatorOnlyAdmin, admin.ModelAdmin):
    """The operator's own app per provider (superusers only): integrations without their own
    client_id/client_secret use it; it wins over the HUBSPOT_CLIENT_ID-style environment variables."""

    form = OAuthAppForm
    list_display = ["provider", "client_id", "updated_at"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["provider", *self.readonly_fields] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        oauth_app_save(
            app=obj,
            client_id=form.cleaned_data["client_id"],
            client_secret=form.cleaned_data["secret"],
        )


def usage_rows(integration: Integration) -> list[dict[str, str]]:
    """The quota rows the connector reported at the last connection test (connectors.types.USAGE_KEY)."""
    rows = (integration.last_test_details or {}).get(USAGE_KEY) or []
    return [
        {"label": str(row["label"]), "value": str(row["value"])}
        for row in rows
        if isinstance(row, dict) and row.get("label") and row.get("value") is not None
    ]


@admin.register(Integration)
class IntegrationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "subaccount",
        "template",
        "status_badge",
        "health_badge",
        "last_test",
        "last_sync_at",
        "short_error",
    ]
    list_filter = ["status", "health", "template", "subaccount"]
    search_fields = ["name", "subaccount__slug", "template__display_name"]
    change_form_template = "admin/integrations/integration_change_form.html"
    change_list_template = "admin/integrations/integration_change_list.html"
    actions = [
        "action_test",
        "action_pause",
        "action_resume",
        "action_disconnect",
        "action_rotate_webhook_secret",
    ]
    inlines: list = []  # sync registers a subclass with its field-mapping inline (sync/admin_engine.py)
    fieldsets = [
        (None, {"fields": ["name", "description", "subaccount", "template", "status_badge", "health_badge"]}),
        ("Configuration", {"fields": ["config_summary", "secret_fields", "connection"]}),
        ("Sync settings", {"fields": Integration.SYNC_SETTINGS}),
        (
            "Health",
            {
                "fields": [
                    "last_tested_at",
                    "last_test_ok",
                    "last_test_message",
                    "last_sync_at",
                    "last_error",
                    "last_error_at",
                    "reauthorization_needed",
                ]
            },
        ),
        ("History", {"fields": ["created_by", "created_at", "updated_at", "recent_audit"]}),
    ]
    readonly_fields = [
        "subaccount",
        "template",
        "status_badge",
        "health_badge",
        "config_summary",
        "secret_fields",
        "connection",
        "last_tested_at",
        "last_test_ok",
        "last_test_message",
        "last_sync_at",
        "last_error",
        "last_error_at",
        "reauthorization_needed",
        "provider_usage",
        "created_by",
        "created_at",
        "updated_at",
        "recent_audit",
    ]

    def get_queryset(self, request):
        return integrations_for(request.user)

    def get_fieldsets(self, request, obj=None):
        """Health gains the provider's quota rows when the last connection test reported some."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not usage_rows(obj):
            return fieldsets
        return [
            (name, {**options, "fields": [*options["fields"], "provider_usage"]})
            if name == "Health"
            else (name, options)
            for name, options in fieldsets
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # A blank automation override follows the sub-account: "Default", not Django's "Unknown".
        if (
            db_field.name in AUTOMATION_SETTINGS
            and db_field.null
            and db_field.get_internal_type() == "BooleanField"
        ):
            kwargs["widget"] = DefaultYesNoSelect
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("catalog/", wrap(admin_views.catalog_view), name="integrations_catalog"),
            path(
                "catalog/<slug:key>/",
                wrap(admin_views.catalog_detail_view),
                name="integrations_catalog_detail",
            ),
            path("wizard/", wrap(IntegrationWizard.as_view()), name="integrations_wizard"),
            path("<int:pk>/configure/", wrap(admin_views.configure_view), name="integrations_configure"),
            path("<int:pk>/test/", wrap(admin_views.test_view), name="integrations_test"),
            path("<int:pk>/choices/", wrap(admin_views.choices_view), name="integrations_choices"),
            path("<int:pk>/oauth/", wrap(admin_views.oauth_connect_view), name="integrations_oauth"),
            path(
                "<int:pk>/do/<slug:action>/",
                wrap(admin_views.transition_view),
                name="integrations_transition",
            ),
            path(
                "<int:pk>/demo/<slug:action>/",
                wrap(admin_demo.demo_action_view),
                name="integrations_demo",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:integrations_wizard"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A sandbox integration's page offers its emulator's demo buttons (``admin_demo``); one whose
        connector asks setup choices links to them."""
        integration = self.get_object(request, object_id)
        buttons = admin_demo.demo_buttons(integration) if integration is not None else []
        extra = {
            "demo_actions": buttons,
            "setup_choices": integration is not None and uses_setup_choices(integration.template),
        }
        return super().change_view(
            request, object_id, form_url, extra_context={**(extra_context or {}), **extra}
        )

    def save_model(self, request, obj, form, change):

        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if fields:
            fresh = Integration.objects.get(pk=obj.pk)
            services.integration_update(
                integration=fresh, actor=f"user:{request.user.get_username()}", **fields
            )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), STATUS_COLOURS.get(obj.status, "#777"), kind=obj.status)

    @admin.display(description="Health", ordering="health")
    def health_badge(self, obj):
        return badge(obj.get_health_display(), HEALTH_COLOURS.get(obj.health, "#777"), kind=obj.health)

    @admin.display(description="Provider usage")
    def provider_usage(self, obj):
        return format_html_join(
            "",
            "<div><strong>{}:</strong> {}</div>",
            ((row["label"], row["value"]) for row in usage_rows(obj)),
        )

    @admin.display(description="Last test")
    def last_test(self, obj):
        if obj.last_tested_at is None:
            return "—"
        return format_html(
            "{} {}", "✔" if obj.last_test_ok else "✘", obj.last_tested_at.strftime("%Y-%m-%d %H:%M")
        )

    @admin.display(description="Last error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="Config (secrets hidden)")
    def config_summary(self, obj):
        config = redact_config(obj.template.config_schema, obj.config or {})
        if not config:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><th style='padding:2px 8px'>{}</th><td style='padding:2px 8px'>{}</td></tr>",
                ((k, v) for k, v in sorted(config.items())),
            ),
        )

    @admin.display(description="Secrets")
    def secret_fields(self, obj):
        names = secrets_set(obj.template.config_schema, obj.config or {})
        return ", ".join(f"{n}: set" for n in names) or "none stored"

    @admin.display(description="Connection")
    def connection(self, obj):
        if obj.tokens:
            return "Authorized (tokens stored encrypted)"
        return "Not authorized" if obj.template.auth_type == "oauth2" else "Static credentials"

    @admin.display(description="Recent changes")
    def recent_audit(self, obj):
        rows = obj.audit_logs.order_by("-created_at")[:10]
        return (
            format_html_join(
                "",
                "<div>{} · {} · {}</div>",
                ((r.created_at.strftime("%Y-%m-%d %H:%M"), r.actor, r.action) for r in rows),
            )
            or "—"
        )

    def _bulk(self, request, queryset, action: str):

        done = 0
        for integration in queryset:
            try:
                if action == "test":
                    done += services.integration_test(
                        integration=integration, actor=f"user:{request.user.get_username()}"
                    ).ok
                else:
                    admin_views.TRANSITIONS[action](
                        integration=integration, actor=f"user:{request.user.get_username()}"
                    )
                    done += 1
            except services.InvalidTransition as exc:
                self.message_user(request, f"{integration.name}: {exc}", level="warning")
        self.message_user(request, f"{action}: {done} of {queryset.count()} succeeded")

    @admin.action(description="Test connection")
    def action_test(self, request, queryset):
        self._bulk(request, queryset, "test")

    @admin.action(description="Pause")
    def action_pause(self, request, queryset):
        self._bulk(request, queryset, "pause")

    @admin.action(description="Resume")
    def action_resume(self, request, queryset):
        self._bulk(request, queryset, "resume")

    @admin.action(description="Disconnect (revoke tokens)")
    def action_disconnect(self, request, queryset):
        self._bulk(request, queryset, "disconnect")

    @admin.action(description="Rotate the inbound webhook secret (re-registers the subscription)")
    def action_rotate_webhook_secret(self, request, queryset):
        self._bulk(request, queryset, "rotate_webhook_secret")

    def delete_model(self, request, obj) -> None:
        services.integration_delete(integration=obj, actor=f"user:{request.user.get_username()}")

    def delete_queryset(self, request, queryset) -> None:
        for integration in queryset:
            services.integration_delete(integration=integration, actor=f"user:{request.user.get_username()}")


admin.site.register(AuditLog, AuditLogAdmin)  # integrations/admin_audit.py
