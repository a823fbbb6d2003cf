"""Which sub-accounts a staff user may manage in the admin: superusers all, others their memberships."""

from django.db.models import QuerySet
from django.http import Http404

from integrations.models import Integration, SubAccount


def subaccounts_for(user) -> QuerySet[SubAccount]:
    qs = SubAccount.objects.filter(is_active=True)
    return qs if user.is_superuser else qs.filter(memberships__user=user)


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
