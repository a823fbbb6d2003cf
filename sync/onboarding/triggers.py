"""What starts the flow: lead rows arriving through the sync engine, and files arriving at portals.

Leads arrive as pulled pages or webhook-fetched records; both go through ``apply_pull_page``,
which announces them (``sync.hooks.records_pulled``) with the provider's own cells. A lead whose
portal-URL cell is empty gets a portal step; one whose status cell holds the won value gets an
order step. Each sync of a lead (either way) updates its tracking row. Rows the platform itself
added to the table (contacts from other CRMs pushed there) are not new leads: they get a portal only
when the flow's ``portals_for_platform_leads`` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.base import RemoteRecord
from integrations.models import Integration
from sync.models import EntityLink, FlowStep
from sync.onboarding.config import FlowConfig
from sync.onboarding.steps import StepSpec, steps_enqueue, track_records

LEAD_ENTITY = "contact"


def on_records_pulled(
    sender, *, integration: Integration, entity: str, records: Mapping[str, RemoteRecord], failed, **kwargs
) -> None:
    if entity != LEAD_ENTITY:
        return
    flow = FlowConfig.of(integration)
    if flow is None:
        return
    live = {rid: record for rid, record in records.items() if not record.deleted}
    links = dict(
        EntityLink.objects.filter(
            integration=integration, entity=LEAD_ENTITY, remote_id__in=list(live)
        ).values_list("remote_id", "local_id")
    )
    ours = set() if flow.portals_for_platform_leads else _added_by_platform(integration, list(live))
    track_records(
        integration,
        direction=FlowStep.Direction.INBOUND,
        datasheet_id=flow.leads_table,
        rows=[(rid, str(links.get(rid, "")), failed.get(rid, "")) for rid in live],
    )
    specs = []
    for rid, record in live.items():
        local_id = links.get(rid)
        if local_id is None:
            continue  # not applied (could not be mapped): its tracking row says why
        common = {"record_id": rid, "datasheet_id": flow.leads_table, "internal_id": str(local_id)}
        if rid not in ours and not record.fields.get(flow.portal_url_column):
            specs.append(StepSpec(key=f"portal:{rid}", entity_type=FlowStep.EntityType.PORTAL, **common))
        if flow.is_won(record.fields):
            specs.append(StepSpec(key=f"order:{rid}", entity_type=FlowStep.EntityType.ORDER, **common))
    steps_enqueue(integration, specs)


def _added_by_platform(integration: Integration, remote_ids: list[str]) -> set[str]:
    """Lead rows the platform itself wrote into the table (contacts from the sub-account's other
    CRMs): their outbound tracking row is older than their inbound one (or there is no inbound one
    yet). They are not new leads of the user's, so they get no portal unless the flow says so."""
    rows = FlowStep.objects.filter(
        integration=integration,
        entity_type=FlowStep.EntityType.LEAD,
        record_id__in=remote_ids,
    ).values_list("record_id", "direction", "created_at")
    first: dict[str, dict[str, datetime]] = {}
    for record_id, direction, created_at in rows:
        first.setdefault(record_id, {})[direction] = created_at
    outbound, inbound = FlowStep.Direction.OUTBOUND, FlowStep.Direction.INBOUND
    return {
        rid
        for rid, seen in first.items()
        if outbound in seen and (inbound not in seen or seen[outbound] < seen[inbound])
    }


def on_records_pushed(sender, *, integration: Integration, entity: str, local_ids, failed, **kwargs) -> None:
    if entity != LEAD_ENTITY:
        return
    flow = FlowConfig.of(integration)
    if flow is None:
        return
    links = dict(
        EntityLink.objects.filter(
            integration=integration, entity=LEAD_ENTITY, local_id__in=local_ids
        ).values_list("local_id", "remote_id")
    )
    rows = [(links.get(local_id, ""), str(local_id), failed.get(local_id, "")) for local_id in local_ids]
    track_records(
        integration,
        direction=FlowStep.Direction.OUTBOUND,
        datasheet_id=flow.leads_table,
        rows=[row for row in rows if row[0] or row[2]],  # synced, or refused: not merely considered
    )
