"""Everything the dashboard shows for one user and their filters, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from integrations.admin_scope import integrations_for, subaccounts_for
from integrations.models import AuditLog, SubAccount
from sync import charts
from sync.models import SyncRun
from webhooks.dashboard.activity import ErrorEntry, audit_for, recent_audit, recent_errors, recent_runs
from webhooks.dashboard.charts import dashboard_charts
from webhooks.dashboard.filters import DashboardFilters, dashboard_integrations
from webhooks.dashboard.rows import IntegrationRow, Totals, dashboard_rows, dashboard_totals


@dataclass(frozen=True)
class Dashboard:
    has_integrations: bool  # any at all, before the filters: else the empty state
    rows: list[IntegrationRow]
    totals: Totals
    charts: dict[str, charts.Chart]
    runs: list[SyncRun]
    errors: list[ErrorEntry]
    audit: list[AuditLog]


def outbound_subaccounts(*, user, filters: DashboardFilters, integrations: QuerySet) -> QuerySet[SubAccount]:
    """Whose outbound deliveries count: the user's sub-accounts (the chosen one), narrowed to those
    of the shown integrations when a provider or problem filter is set (deliveries belong to a
    sub-account, not to an integration)."""
    subaccounts = subaccounts_for(user)
    if filters.subaccount is not None:
        subaccounts = subaccounts.filter(pk=filters.subaccount.pk)
    if filters.provider or filters.problem:
        subaccounts = subaccounts.filter(pk__in=integrations.values("subaccount_id"))
    return subaccounts


def dashboard_get(*, user, filters: DashboardFilters, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    integrations = dashboard_integrations(user=user, filters=filters)
    subaccounts = outbound_subaccounts(user=user, filters=filters, integrations=integrations)
    rows = dashboard_rows(integrations, now=now)
    narrowed = integrations if (filters.provider or filters.problem) else None
    return Dashboard(
        has_integrations=bool(rows) or integrations_for(user).exists(),
        rows=rows,
        totals=dashboard_totals(rows, integrations=integrations, subaccounts=subaccounts, now=now),
        charts=dashboard_charts(integrations=integrations, subaccounts=subaccounts, now=now),
        runs=recent_runs(integrations),
        errors=recent_errors(integrations),
        audit=recent_audit(audit_for(user=user, subaccount=filters.subaccount, integrations=narrowed)),
    )
