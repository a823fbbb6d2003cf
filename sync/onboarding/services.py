"""What the API and the admin do with the flow: list tracking rows, retry them, sync one entity now.

``manual_sync`` is the seed's ``POST /api/aitable/sync {entityType, entityId, direction}``: a lead
is synced at once through the engine's one-record sync (its tracking row updates as any sync's
does); an order, audit result or portal has its step queued again from the stage it reached.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from connectors.registry import CONNECTORS
from integrations.models import Integration, SubAccount
from sync.models import AuditResult, ClientOrder, ClientPortal, FlowStep
from sync.onboarding.config import FlowConfig, flow_integrations
from sync.onboarding.steps import steps_retry
from sync.single import record_sync_now

DIRECTIONS = {"inbound", "outbound"}
# What the API accepts as a direction: ours, and the seed's per provider (aitable_to_app ...).
DIRECTION_CHOICES = [
    "inbound",
    "outbound",
    *(f"{key}_to_app" for key in CONNECTORS),
    *(f"app_to_{key}" for key in CONNECTORS),
]


class ManualSyncRefused(ValueError):
    """The request names nothing the flow can sync: ``not_found`` (no such entity) or
    ``not_applicable`` (the flow is off, or the entity does not go that way)."""

    def __init__(self, message: str, *, code: str = "not_applicable"):
        super().__init__(message)
        self.code = code


def seed_direction(step: FlowStep) -> str:
    """The direction as the seed names it: ``<provider>_to_app`` or ``app_to_<provider>``."""
    provider = step.integration.template.connector
    return f"{provider}_to_app" if step.direction == FlowStep.Direction.INBOUND else f"app_to_{provider}"


def direction_parse(value: str) -> str:
    """``inbound``/``outbound`` from either our name or the seed's (``aitable_to_app``...)."""
    value = (value or "").strip().lower()
    if value in DIRECTIONS:
        return value
    if value.endswith("_to_app"):
        return FlowStep.Direction.INBOUND
    if value.startswith("app_to_"):
        return FlowStep.Direction.OUTBOUND
    raise ManualSyncRefused(f"unknown direction {value!r}: use <provider>_to_app or app_to_<provider>")


def tracking_list(*, subaccount: SubAccount) -> QuerySet[FlowStep]:
    return FlowStep.objects.filter(subaccount=subaccount).select_related("integration__template")


@dataclass(frozen=True)
class ManualSyncResult:
    step: FlowStep | None
    status: str
    message: str = ""


def manual_sync(
    *,
    subaccount: SubAccount,
    entity_type: str,
    entity_id: str,
    direction: str,
    actor: str,
    integration: Integration | None = None,
) -> ManualSyncResult:
    direction = direction_parse(direction)
    integration = integration or _flow_integration(subaccount)
    if integration.subaccount_id != subaccount.pk or FlowConfig.of(integration) is None:
        raise ManualSyncRefused("that integration does not run the onboarding flow")
    if entity_type == FlowStep.EntityType.LEAD:
        return _lead_sync(integration, entity_id, direction, actor)
    if direction != FlowStep.Direction.OUTBOUND:
        raise ManualSyncRefused(f"{entity_type} rows are written by the platform: use app_to_<provider>")
    key = _step_key(integration, entity_type, entity_id)
    step = FlowStep.objects.filter(integration=integration, key=key).first()
    if step is None:
        raise ManualSyncRefused(f"no {entity_type} step for {entity_id}", code="not_found")
    if step.status == FlowStep.Status.FAILED:
        steps_retry([step])
    step.refresh_from_db()
    return ManualSyncResult(step=step, status=step.status)


def _flow_integration(subaccount: SubAccount) -> Integration:
    integrations = flow_integrations(subaccount.pk)
    if not integrations:
        raise ManualSyncRefused("no integration of this sub-account runs the onboarding flow")
    return integrations[0]


def _step_key(integration: Integration, entity_type: str, entity_id: str) -> str:
    """The step of an order, audit result or portal, named by our id."""
    models = {
        FlowStep.EntityType.ORDER: (ClientOrder, "order:{}", "lead_record_id"),
        FlowStep.EntityType.PORTAL: (ClientPortal, "portal:{}", "lead_record_id"),
        FlowStep.EntityType.AUDIT_RESULT: (AuditResult, "audit:{}", "file_id"),
    }
    if entity_type not in models:
        raise ManualSyncRefused(f"unknown entity type {entity_type!r}")
    model, key, field = models[entity_type]
    if not str(entity_id).isdigit():
        raise ManualSyncRefused(f"no {entity_type} {entity_id} (ids are numbers)", code="not_found")
    row = (
        model.objects.filter(integration=integration, pk=int(entity_id)).values_list(field, flat=True).first()
    )
    if row is None:
        raise ManualSyncRefused(f"no {entity_type} {entity_id}", code="not_found")
    return key.format(row)


def _lead_sync(integration: Integration, entity_id: str, direction: str, actor: str) -> ManualSyncResult:
    if not str(entity_id).isdigit():
        raise ManualSyncRefused(
            f"no lead {entity_id} (lead ids are the platform's contact ids)", code="not_found"
        )
    result = record_sync_now(integration=integration, entity="contact", local_id=int(entity_id), actor=actor)
    step = (
        FlowStep.objects.filter(
            integration=integration, entity_type=FlowStep.EntityType.LEAD, internal_id=entity_id
        )
        .order_by("direction" if direction == FlowStep.Direction.INBOUND else "-direction")
        .first()
    )
    message = "; ".join(error["message"] for error in result.errors)
    status = FlowStep.Status.FAILED if result.errors else FlowStep.Status.SUCCESS
    return ManualSyncResult(step=step, status=status, message=message)
