"""An integration's status and health changes, each audited and announced (``integrations.hooks``).

Below ``integrations.services``, which builds connectors with the token store: the token store
reports a revoked grant through ``integration_mark_error`` without importing the services.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from integrations import hooks
from integrations.audit import audit_record
from integrations.models import Integration


def integration_set_status(
    *, integration: Integration, status: str, actor: str, reason: str = ""
) -> Integration:
    old = integration.status
    if old == status:
        return integration
    integration.status = status
    with transaction.atomic():
        integration.save(update_fields=["status", "updated_at"])
        audit_record(
            integration=integration,
            subaccount=integration.subaccount,
            actor=actor,
            action="integration.status_changed",
            changes={"status": {"from": old, "to": status}, **({"reason": reason} if reason else {})},
        )
        hooks.integration_status_changed.send(
            sender=Integration, integration=integration, old=old, new=status, reason=reason
        )
    return integration


def integration_mark_error(*, integration: Integration, message: str, reauthorize: bool = False) -> None:
    """Record a permanent failure the operator must act on. ``message`` must hold no secret."""
    integration.last_error = message[:2000]
    integration.last_error_at = timezone.now()
    integration.health = Integration.Health.FAILING
    if reauthorize:
        integration.reauthorization_needed = True
    integration.save(
        update_fields=["last_error", "last_error_at", "health", "reauthorization_needed", "updated_at"]
    )
    integration_set_status(
        integration=integration, status=Integration.Status.ERROR, actor="system", reason=message[:200]
    )
