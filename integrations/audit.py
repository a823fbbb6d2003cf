"""The audit trail: every integration change writes one ``AuditLog`` row through ``audit_record``."""

from __future__ import annotations

from typing import Any

from integrations.models import AuditLog, Integration, SubAccount


def audit_record(
    *,
    integration: Integration | None,
    subaccount: SubAccount,
    actor: str,
    action: str,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        subaccount=subaccount,
        integration=integration,
        actor=actor or "system",
        action=action,
        changes=changes or {},
    )
