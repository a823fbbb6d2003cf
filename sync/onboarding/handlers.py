"""Carrying out the flow's steps: portal for a new lead, order for a won one, audit for a file.

Each step runs in stages and notes every finished stage (``step_save_progress``) before the next,
so a retry resumes where the last attempt stopped. A stage that creates something remotely (a
portal, an order row, an audit row) first looks for what an earlier attempt may have created —
by our id on the portal, by the lead's or the file's id in a row — whenever the step has been tried
before: an answer lost to a crash or a timeout never turns into a second portal or row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.base import ConnectorError, PermanentError, TransientError
from connectors.capabilities import FileTooLarge, Portal, PortalProvider, TableStore
from integrations.models import Integration
from integrations.services import connector_for
from sync.models import AuditResult, ClientOrder, ClientPortal, Contact, FlowStep
from sync.onboarding.config import FlowConfig, portal_integration_for
from sync.onboarding.files import corrected_file_store, corrected_file_url
from sync.onboarding.payroll_audit import AuditReport, audit_processor, audit_too_large, max_file_bytes
from sync.onboarding.rows import TableColumns, row_cells
from sync.onboarding.steps import (
    step_fail,
    step_save_progress,
    step_succeed,
    step_wait,
    steps_claim,
)

logger = logging.getLogger(__name__)

EntityType = FlowStep.EntityType
WAIT_FOR_PORTAL = 3.0  # seconds an order step waits for its lead's portal step


class StepRefused(Exception):
    """The step cannot be carried out as configured (no portal integration, no datasheet...)."""


@dataclass
class Context:
    """What the steps of one integration share within a run: the connectors and the columns."""

    integration: Integration
    flow: FlowConfig
    store: TableStore
    columns: TableColumns
    portal_integration: Integration | None
    portals: PortalProvider | None

    @classmethod
    def build(cls, integration: Integration) -> Context:
        flow = FlowConfig.of(integration)
        if flow is None:
            raise StepRefused("the onboarding flow is switched off for this integration")
        store = connector_for(integration)
        portal_integration = portal_integration_for(integration)
        portals = connector_for(portal_integration) if portal_integration else None
        return cls(integration, flow, store, TableColumns(store), portal_integration, portals)

    def require_portals(self) -> PortalProvider:
        if self.portals is None:
            raise StepRefused("no portal integration (e.g. MissionX) is connected in this sub-account")
        return self.portals


def steps_run(*, limit: int = 25) -> int:
    """Claim due steps and carry them out; returns how many were claimed."""
    steps = steps_claim(limit=limit)
    by_integration: dict[int, list[FlowStep]] = defaultdict(list)
    for step in steps:
        by_integration[step.integration_id].append(step)
    for group in by_integration.values():
        _run_group(group)
    return len(steps)


def _run_group(steps: list[FlowStep]) -> None:
    try:
        ctx = Context.build(steps[0].integration)
    except (StepRefused, ConnectorError) as exc:
        for step in steps:
            step_fail(step, str(exc), retry=False)
        return
    portals = [s for s in steps if s.entity_type == EntityType.PORTAL]
    if portals:
        _guarded(ctx, portals, portal_steps_run)
    for step in steps:
        if step.entity_type == EntityType.ORDER:
            _guarded(ctx, [step], lambda c, s: order_step_run(c, s[0]))
        elif step.entity_type == EntityType.AUDIT_RESULT:
            _guarded(ctx, [step], lambda c, s: audit_step_run(c, s[0]))


def _guarded(ctx: Context, steps: list[FlowStep], run: Callable[[Context, list[FlowStep]], None]) -> None:
    """Run, turning errors into the steps' failures: provider hiccups retried, refusals final."""
    try:
        run(ctx, steps)
    except TransientError as exc:
        for step in steps:
            step_fail(step, str(exc), retry=True, wait=exc.retry_after)
    except (PermanentError, StepRefused, ConnectorError) as exc:
        for step in steps:
            step_fail(step, str(exc), retry=False)
    except Exception as exc:  # a bug must not leave the step claimed until its lease ends
        logger.exception("onboarding step failed unexpectedly", extra={"steps": [s.pk for s in steps]})
        for step in steps:
            step_fail(step, f"unexpected error: {type(exc).__name__}", retry=True)


# --- portal: new lead → portal → URL written back --------------------------------------------------


def portal_steps_run(ctx: Context, steps: list[FlowStep]) -> None:
    """Create (or find) each lead's portal, then write the URLs back in as few requests as the
    table's batch cap allows."""
    portals = ctx.require_portals()
    to_write: list[tuple[FlowStep, ClientPortal]] = []
    for step in steps:
        try:
            portal = _portal_ensure(ctx, portals, step)
        except TransientError as exc:
            step_fail(step, str(exc), retry=True, wait=exc.retry_after)
            continue
        except (PermanentError, StepRefused) as exc:
            step_fail(step, str(exc), retry=False)
            continue
        if step.result.get("url_written"):
            step_succeed(step, internal_id=step.internal_id)
        else:
            to_write.append((step, portal))
    if not to_write:
        return
    column = ctx.flow.portal_url_column
    results = ctx.store.rows_update(
        ctx.flow.leads_table, [(s.record_id, {column: p.url}) for s, p in to_write]
    )
    for (step, _portal), result in zip(to_write, results, strict=True):
        if result.ok:
            step_save_progress(step, url_written=True)
            step_succeed(step)
        else:
            step_fail(step, f"could not write the portal URL into the lead: {result.error}", retry=False)


def _portal_ensure(ctx: Context, portals: PortalProvider, step: FlowStep) -> ClientPortal:
    existing = ClientPortal.objects.filter(integration=ctx.integration, lead_record_id=step.record_id).first()
    if existing is not None:
        return existing
    contact = Contact.objects.filter(
        subaccount_id=ctx.integration.subaccount_id, pk=step.internal_id or 0
    ).first()
    if contact is None:
        raise StepRefused("the lead has no platform contact (it could not be synced)")
    external_id = str(contact.pk)
    found = _portal_find(portals, external_id, step) if step.attempts > 1 else None
    portal = found or portals.portal_create(
        client_name=_client_name(contact), email=contact.email, external_id=external_id
    )
    step_save_progress(step, portal_id=portal.id, url=portal.url)
    record, _ = ClientPortal.objects.get_or_create(
        integration=ctx.integration,
        lead_record_id=step.record_id,
        defaults={
            "subaccount_id": ctx.integration.subaccount_id,
            "portal_integration": ctx.portal_integration,
            "contact": contact,
            "remote_id": portal.id,
            "url": portal.url,
            "status": portal.status,
            "uploads_enabled": portal.uploads_enabled,
        },
    )
    return record


def _portal_find(portals: PortalProvider, external_id: str, step: FlowStep) -> Portal | None:
    """A portal an earlier attempt of this step created (its answer lost), by our id."""
    since = step.created_at - timedelta(minutes=5)
    return next((p for p in portals.portals_changed(since=since) if p.external_id == external_id), None)


def _client_name(contact: Contact) -> str:
    name = f"{contact.first_name} {contact.last_name}".strip()
    return name or contact.company_name or contact.email or f"Client {contact.pk}"


# --- order: lead won → order row, portal activated, access e-mail ---------------------------------


def _lead_of(step: FlowStep) -> str:
    """The lead a portal or order step is for (its key's; ``record_id`` names the order row once written)."""
    return step.key.split(":", 1)[1]


def order_step_run(ctx: Context, step: FlowStep) -> None:
    if not ctx.flow.orders_table:
        raise StepRefused("no Orders datasheet is configured")
    lead = _lead_of(step)
    portal = ClientPortal.objects.filter(integration=ctx.integration, lead_record_id=lead).first()
    if portal is None:
        waiting = FlowStep.objects.filter(
            integration=ctx.integration,
            key=f"portal:{lead}",
            status__in=(FlowStep.Status.PENDING, FlowStep.Status.RUNNING),
        ).exists()
        if waiting:
            step_wait(step, "waiting for the lead's portal", seconds=WAIT_FOR_PORTAL)
            return
    contact = Contact.objects.filter(
        subaccount_id=ctx.integration.subaccount_id, pk=step.internal_id or 0
    ).first()
    order = _order_ensure(ctx, step, contact, portal)
    if portal is not None and not step.result.get("activated"):
        _portal_activate(ctx, portal)
        step_save_progress(step, activated=True)
    if portal is not None and not step.result.get("emailed"):
        if _access_email_send(portal, contact):
            ClientPortal.objects.filter(pk=portal.pk).update(invited_at=timezone.now())
        step_save_progress(step, emailed=True)
    step_succeed(
        step, internal_id=str(order.pk), record_id=order.record_id, datasheet_id=ctx.flow.orders_table
    )


def _order_ensure(
    ctx: Context, step: FlowStep, contact: Contact | None, portal: ClientPortal | None
) -> ClientOrder:
    columns = ctx.flow.order_columns
    lead = _lead_of(step)
    row_id = step.result.get("order_record_id", "")
    if not row_id and step.attempts > 1:
        found = ctx.store.rows_find(ctx.flow.orders_table, columns["lead_record_id"], lead)
        row_id = found[0].id if found else ""
    client_name = _client_name(contact) if contact else ""
    email = contact.email if contact else ""
    if not row_id:
        cells = row_cells(
            ctx.columns.of(ctx.flow.orders_table),
            {
                columns["lead"]: lead,
                columns["lead_record_id"]: lead,
                columns["client_name"]: client_name,
                columns["email"]: email,
                columns["status"]: "Active",
                columns["portal"]: portal.url if portal else "",
                columns["ordered_at"]: timezone.now(),
            },
        )
        [result] = ctx.store.rows_create(ctx.flow.orders_table, [cells])
        if not result.ok:
            raise PermanentError(f"the order row was refused: {result.error}", code=result.code or "refused")
        row_id = result.remote_id or ""
    step_save_progress(step, order_record_id=row_id)
    order, _ = ClientOrder.objects.update_or_create(
        integration=ctx.integration,
        lead_record_id=lead,
        defaults={
            "subaccount_id": ctx.integration.subaccount_id,
            "portal": portal,
            "contact": contact,
            "record_id": row_id,
            "client_name": client_name,
            "email": email,
        },
    )
    return order


def _portal_activate(ctx: Context, portal: ClientPortal) -> None:
    portals = ctx.require_portals()
    uploads = bool((ctx.portal_integration.config or {}).get("enable_uploads_on_won", True))
    state = portals.portal_update(portal.remote_id, status="active", uploads_enabled=uploads)
    ClientPortal.objects.filter(pk=portal.pk).update(
        status=state.status, uploads_enabled=state.uploads_enabled, activated_at=timezone.now()
    )


def _access_email_send(portal: ClientPortal, contact: Contact | None) -> bool:
    """Invite the client to their portal (Django's e-mail backend); False when there is no address."""
    if contact is None or not contact.email:
        return False
    name = _client_name(contact)
    send_mail(
        subject="Your client portal is ready",
        message=(
            f"Hello {name},\n\nyour portal is open: {portal.url}\n\n"
            "You can upload your payroll files there; we will send you the audit results.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[contact.email],
    )
    return True


# --- audit: uploaded file → audit → Audit Results row linked to the order -------------------------


def audit_step_run(ctx: Context, step: FlowStep) -> None:
    payload = step.payload
    file = payload.get("file") or {}
    portal = ClientPortal.objects.filter(
        portal_integration_id=payload.get("portal_integration_id"), remote_id=payload.get("portal_id", "")
    ).first()
    order = ClientOrder.objects.filter(portal=portal).order_by("-created_at").first() if portal else None
    file_id = str(file.get("id") or "")
    audit = AuditResult.objects.filter(integration=ctx.integration, file_id=file_id).first()
    if audit is None:
        report = _audit(ctx, file)
        audit = _audit_store(ctx, file_id, file, report, portal, order)
    step_save_progress(step, audit_id=audit.pk, status=audit.status)
    if ctx.flow.audits_table and not audit.record_id:
        _audit_row_ensure(ctx, step, audit, order)
    # The tracking row names the Audit Results row it wrote, like the seed's AITableSync.
    FlowStep.objects.filter(pk=step.pk).update(
        datasheet_id=ctx.flow.audits_table, record_id=audit.record_id, internal_id=str(audit.pk)
    )
    if audit.status == AuditResult.Status.FAILED:
        step_fail(step, audit.error, retry=False)
    else:
        step_succeed(step, internal_id=str(audit.pk), record_id=audit.record_id)


def _audit(ctx: Context, file: dict) -> AuditReport:
    limit = max_file_bytes()
    name = str(file.get("filename") or "upload")
    if int(file.get("size") or 0) > limit:
        return audit_too_large(limit)
    try:
        content = ctx.require_portals().file_download(str(file["id"]), max_bytes=limit)
    except FileTooLarge:
        return audit_too_large(limit)
    return audit_processor().process(
        filename=name, content=content, content_type=str(file.get("content_type") or "")
    )


def _audit_store(
    ctx: Context,
    file_id: str,
    file: dict,
    report: AuditReport,
    portal: ClientPortal | None,
    order: ClientOrder | None,
) -> AuditResult:
    path = ""
    if report.corrected_content:
        path = corrected_file_store(
            subaccount_id=ctx.integration.subaccount_id,
            filename=report.corrected_filename or "corrected",
            content=report.corrected_content,
        )
    with transaction.atomic():
        audit, _ = AuditResult.objects.get_or_create(
            integration=ctx.integration,
            file_id=file_id,
            defaults={
                "subaccount_id": ctx.integration.subaccount_id,
                "portal": portal,
                "order": order,
                "file_name": str(file.get("filename") or "")[:500],
                "file_size": int(file.get("size") or 0),
                "uploaded_at": parse_datetime(str(file.get("uploaded_at") or "")) or timezone.now(),
                "employees_processed": report.employees_processed,
                "corrections_made": report.corrections_made,
                "corrections": [
                    {"row": c.row, "rule": c.rule, "message": c.message} for c in report.corrections[:500]
                ],
                "corrected_file": path,
                "status": report.status,
                "error": report.error,
            },
        )
    return audit


def _audit_row_ensure(ctx: Context, step: FlowStep, audit: AuditResult, order: ClientOrder | None) -> None:
    columns = ctx.flow.audit_columns
    row_id = ""
    if step.attempts > 1:
        found = ctx.store.rows_find(ctx.flow.audits_table, columns["file_id"], audit.file_id)
        row_id = found[0].id if found else ""
    if not row_id:
        cells = row_cells(
            ctx.columns.of(ctx.flow.audits_table),
            {
                columns["order"]: order.record_id if order and order.record_id else None,
                columns["file_id"]: audit.file_id,
                columns["file_name"]: audit.file_name,
                columns["upload_date"]: audit.uploaded_at,
                columns["employees_processed"]: audit.employees_processed,
                columns["corrections_made"]: audit.corrections_made,
                columns["corrected_file"]: corrected_file_url(audit),
                columns["status"]: audit.status,
            },
        )
        [result] = ctx.store.rows_create(ctx.flow.audits_table, [cells])
        if not result.ok:
            raise PermanentError(f"the audit row was refused: {result.error}", code=result.code or "refused")
        row_id = result.remote_id or ""
    AuditResult.objects.filter(pk=audit.pk).update(record_id=row_id)
    audit.record_id = row_id
    step_save_progress(step, audit_record_id=row_id)
