"""Which integrations the dashboard shows: the user's (superuser all, staff their memberships),
narrowed by sub-account, provider and problem."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from integrations.admin_scope import integrations_for
from integrations.models import Integration, SubAccount
from sync.models import Conflict

FAILING = "failing"
REAUTH = "reauth"
CONFLICTS = "conflicts"
PROBLEMS = {
    FAILING: "Failing",
    REAUTH: "Needs reauthorization",
    CONFLICTS: "Conflicts waiting",
}


def open_conflicts_exist() -> Exists:
    return Exists(Conflict.objects.filter(integration=OuterRef("pk"), status=Conflict.Status.OPEN))


# Each problem as a condition on Integration rows. "Failing": the status is error or the health
# check says failing or degraded. "Needs reauthorization": the flag integration_mark_error sets when
# the provider refused the grant (cleared when new tokens are stored). "Conflicts waiting": at least
# one open conflict.
PROBLEM_CONDITIONS = {
    FAILING: lambda: (
        Q(status=Integration.Status.ERROR)
        | Q(health__in=[Integration.Health.FAILING, Integration.Health.DEGRADED])
    ),
    REAUTH: lambda: Q(reauthorization_needed=True),
    CONFLICTS: open_conflicts_exist,
}


@dataclass(frozen=True)
class DashboardFilters:
    """What the operator narrowed the dashboard to; blank means everything they may see."""

    subaccount: SubAccount | None = None
    provider: str = ""  # an IntegrationTemplate key
    problem: str = ""  # a key of PROBLEMS

    @property
    def active(self) -> bool:
        return bool(self.subaccount or self.provider or self.problem)


def dashboard_integrations(*, user, filters: DashboardFilters) -> QuerySet[Integration]:
    """The user's integrations matching ``filters`` (template and sub-account selected)."""
    integrations = integrations_for(user)
    if filters.subaccount is not None:
        integrations = integrations.filter(subaccount=filters.subaccount)
    if filters.provider:
        integrations = integrations.filter(template__key=filters.provider)
    if filters.problem in PROBLEM_CONDITIONS:
        integrations = integrations.filter(PROBLEM_CONDITIONS[filters.problem]())
    return integrations.order_by("subaccount__name", "subaccount__slug", "name", "pk")


def provider_choices(*, user) -> list[tuple[str, str]]:
    """(template key, display name) of the providers the user has integrations of."""
    return list(
        integrations_for(user)
        .order_by("template__display_name")
        .values_list("template__key", "template__display_name")
        .distinct()
    )
