"""Which sub-accounts a staff user may manage in the admin (superusers all, others their memberships),
and the base classes and list filters every admin page of tenant data builds on.

Two kinds of admin page exist: tenant pages (rows with a ``subaccount``, or the integration and
sub-account pages themselves), which a staff user sees only for the sub-accounts they are a member
of, and platform pages (the catalog's templates, OAuth apps, users, schedules, task results), which
only operators (superusers) see at all, whatever model permissions a staff user holds.
"""

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from integrations.models import Integration, SubAccount


def subaccounts_for(user) -> QuerySet[SubAccount]:
    qs = SubAccount.objects.filter(is_active=True)
    return qs if user.is_superuser else qs.filter(memberships__user=user)


def subaccount_chosen(request) -> tuple[QuerySet[SubAccount], SubAccount | None]:
    """A report page's sub-accounts to choose from, and the one ``?subaccount=`` names (None when
    none is named; 404 for one the user may not see)."""
    choices = subaccounts_for(request.user)
    raw = request.GET.get("subaccount", "")
    if not raw:
        return choices, None
    chosen = choices.filter(pk=raw).first() if raw.isdigit() else None
    if chosen is None:
        raise Http404("No such sub-account")
    return choices, chosen


def scoped_for(user, qs: QuerySet) -> QuerySet:
    """``qs`` (rows with a ``subaccount``) narrowed to what ``user`` may manage: every admin list of
    tenant data goes through here."""
    return qs if user.is_superuser else qs.filter(subaccount__in=subaccounts_for(user))


def integrations_for(user) -> QuerySet[Integration]:
    qs = Integration.objects.select_related("template", "subaccount")
    return qs if user.is_superuser else qs.filter(subaccount__memberships__user=user)


def integration_for(user, pk) -> Integration:
    integration = integrations_for(user).filter(pk=pk).first()
    if integration is None:
        raise Http404("No such integration")
    return integration


def integration_to_operate(user, pk) -> Integration:
    """An integration the user may act on (configure, test, pause, sync, resolve, retry): scoped as
    ``integration_for`` (another tenant's is 404), and 403 for a user who may only look."""
    integration = integration_for(user, pk)
    if not user.has_perm("integrations.change_integration"):
        raise PermissionDenied("You may view this integration but not change it.")
    return integration


def _has_field(model: type[Model], name: str) -> bool:
    return any(field.name == name for field in model._meta.get_fields())


def choices_for(user, model: type[Model]) -> QuerySet | None:
    """The rows of ``model`` a form may offer ``user`` in a select: their sub-accounts, their
    integrations, or tenant rows of those; None for a model that belongs to no tenant."""
    if user.is_superuser:
        return None
    if model is SubAccount:
        return subaccounts_for(user)
    if model is Integration:
        return integrations_for(user)
    if _has_field(model, "subaccount"):
        return scoped_for(user, model._default_manager.all())
    if _has_field(model, "integration"):
        return model._default_manager.filter(integration__in=integrations_for(user))
    return None


class SubAccountScopeFilter(admin.SimpleListFilter):
    """Filter by sub-account, offering only the ones this user manages (never other tenants' names)."""

    title = "sub-account"
    parameter_name = "subaccount"

    def lookups(self, request, model_admin):
        return [(str(sub.pk), str(sub)) for sub in subaccounts_for(request.user)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(subaccount_id=self.value()) if self.value() else queryset


class IntegrationScopeFilter(admin.SimpleListFilter):
    """Filter by integration, offering only the integrations this user manages."""

    title = "integration"
    parameter_name = "integration"

    def lookups(self, request, model_admin):
        return [(str(integration.pk), str(integration)) for integration in integrations_for(request.user)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(integration_id=self.value()) if self.value() else queryset


# A plain "subaccount" or "integration" in list_filter would list every tenant's names in the
# sidebar (Django's RelatedFieldListFilter reads the whole related table): these replace them.
SCOPED_FILTERS = {"subaccount": SubAccountScopeFilter, "integration": IntegrationScopeFilter}


class TenantAdminMixin:
    """What every admin page of tenant data does besides narrowing its queryset: sidebar filters
    and form selects offer only the user's own sub-accounts and integrations, a row cannot be saved
    into a sub-account the user does not manage, and another tenant's row by URL is a 404 (Django
    would redirect to the index saying "perhaps it was deleted", which tells it exists)."""

    def get_list_filter(self, request):
        return [
            SCOPED_FILTERS.get(f, f) if isinstance(f, str) else f for f in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            scoped = choices_for(request.user, db_field.related_model)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            scoped = choices_for(request.user, db_field.related_model)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        subaccount_id = getattr(obj, "subaccount_id", None)
        if subaccount_id is not None and not subaccounts_for(request.user).filter(pk=subaccount_id).exists():
            raise PermissionDenied("That sub-account is not one you manage")
        super().save_model(request, obj, form, change)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} with id {object_id!r} here")


class ScopedAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Tenant rows (they have a ``subaccount``): a staff user sees only the sub-accounts they manage."""

    list_select_related = ["subaccount"]

    def get_queryset(self, request) -> QuerySet:
        return scoped_for(request.user, super().get_queryset(request))


class ScopedReadOnlyAdmin(ScopedAdmin):
    """Tenant rows that change only through their services (admin actions call those): never added or
    edited here, and deleted only where ``allow_delete`` says a hard delete bypasses nothing."""

    allow_delete = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.allow_delete and super().has_delete_permission(request, obj)

    def has_operate_permission(self, request) -> bool:
        """Actions need the model's change permission, although the pages themselves are read-only."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")


class OperatorOnlyAdmin:
    """Platform-wide configuration: operators (superusers) only. Model permissions granted to a
    staff user change nothing here: the page is not listed, and every view is refused (403)."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


# Apps whose every admin page is platform configuration (accounts, schedules, task results, and the
# API-key library's own unscoped key table; the tenants' keys are integrations.ApiKey).
PLATFORM_APPS = ("auth", "rest_framework_api_key", "django_celery_beat", "django_celery_results")


def operator_only_register(site: admin.AdminSite, app_labels=PLATFORM_APPS) -> None:
    """Re-register the pages other apps put on ``site`` for ``app_labels`` as operator-only (their
    own admin classes, with OperatorOnlyAdmin in front)."""
    for config in apps.get_app_configs():
        if config.label not in app_labels:
            continue
        for model in config.get_models():
            if not site.is_registered(model):
                continue
            current = type(site.get_model_admin(model))
            if issubclass(current, OperatorOnlyAdmin):
                continue
            site.unregister(model)
            site.register(model, type(f"OperatorOnly{current.__name__}", (OperatorOnlyAdmin, current), {}))
