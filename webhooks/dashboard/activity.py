"""What happened lately among the integrations the dashboard shows: the last runs, the last errors
(failed runs and records that failed) and the last audit-log entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from integrations.admin_scope import scoped_for
from integrations.models import AuditLog, Integration
from sync.models import SyncRecordError, SyncRun

RECENT = 8


@dataclass(frozen=True)
class ErrorEntry:
    at: datetime
    integration: Integration
    what: str  # "Run failed" or "<direction> <entity> <id>"
    message: str
    run_id: int


def recent_runs(integrations: QuerySet[Integration], limit: int = RECENT) -> list[SyncRun]:
    return list(
        SyncRun.objects.filter(integration__in=integrations)
        .select_related("integration__template", "subaccount")
        .order_by("-created_at", "-pk")[:limit]
    )


def recent_errors(integrations: QuerySet[Integration], limit: int = RECENT) -> list[ErrorEntry]:
    """Failed runs and unresolved record errors, newest first, ``limit`` in all."""
    runs = (
        SyncRun.objects.filter(integration__in=integrations, status=SyncRun.Status.FAILED)
        .select_related("integration__template")
        .order_by("-created_at", "-pk")[:limit]
    )
    records = (
        SyncRecordError.objects.filter(integration__in=integrations, resolved=False)
        .select_related("integration__template")
        .order_by("-created_at", "-pk")[:limit]
    )
    entries = [
        ErrorEntry(run.finished_at or run.created_at, run.integration, "Run failed", run.error, run.pk)
        for run in runs
    ] + [
        ErrorEntry(
            error.created_at,
            error.integration,
            f"{error.direction.title()} {error.entity} {error.remote_id or error.local_id}",
            error.message,
            error.run_id,
        )
        for error in records
    ]
    return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]


def recent_audit(audit: QuerySet[AuditLog], limit: int = RECENT) -> list[AuditLog]:
    return list(audit.select_related("integration", "subaccount").order_by("-created_at", "-pk")[:limit])


def audit_for(*, user, subaccount, integrations: QuerySet[Integration] | None) -> QuerySet[AuditLog]:
    """The audit entries the user may read, of one sub-account when chosen, and of the shown
    integrations only when a provider or problem narrowed them (``integrations`` not None)."""
    audit = scoped_for(user, AuditLog.objects.all())
    if subaccount is not None:
        audit = audit.filter(subaccount=subaccount)
    if integrations is not None:
        audit = audit.filter(integration__in=integrations)
    return audit
