"""Which sub-accounts a staff user may manage in the admin (superusers all, others their memberships),
and the base classes and list filter every admin page of tenant data builds on."""

from django.contrib import admin
from django.db.models import QuerySet
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


class SubAccountScopeFilter(admin.SimpleListFilter):
    """Filter by sub-account, offering only the ones this user manages (never other tenants' names)."""

    title = "sub-account"
    parameter_name = "subaccount"

    def lookups(self, request, model_admin):
        return [(str(sub.pk), str(sub)) for sub in subaccounts_for(request.user)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(subaccount_id=self.value()) if self.value() else queryset


class ScopedAdmin(admin.ModelAdmin):
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
