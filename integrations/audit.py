"""The audit trail: every change to an integration, an outbound webhook endpoint or a sub-account's
settings writes one ``AuditLog`` row through ``audit_record`` (who, when, what changed).

``changes`` never holds a secret: callers mask them (``config_schema.audit_diff`` for configs,
``SECRET_CHANGED`` for a rotated or set secret).
"""

from __future__ import annotations

from typing import Any

from integrations.models import AuditLog, Integration, SubAccount

SECRET_CHANGED = "[changed]"  # noqa: S105 -- a mask, not a secret
SECRET_SET = "[set]"  # noqa: S105 -- a mask, not a secret


def audit_record(
    *,
    integration: Integration | None,
    subaccount: SubAccount,
    actor: str,
    action: str,
    changes: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: int | None = None,
    object_repr: str = "",
) -> AuditLog:
    """One row. About an integration, ``integration`` names the object unless the caller names it
    (a deleted integration: ``integration`` None, its id and name given)."""
    if integration is not None and not object_type:
        object_type, object_id, object_repr = (
            AuditLog.ObjectType.INTEGRATION,
            integration.pk,
            integration.name,
        )
    return AuditLog.objects.create(
        subaccount=subaccount,
        integration=integration,
        actor=actor or "system",
        action=action,
        changes=changes or {},
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:300],
    )
