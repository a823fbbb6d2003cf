"""Failure notifications: a sub-account's people get one e-mail per incident.

An incident opens at an integration's first failure (it turns to ``error``, needs reauthorization,
or a sync run fails) and closes when it is healthy again: active, and a run succeeds. Only the
failure that opens it sends mail; the ones after it, while it is open, send nothing. Opening is a
conditional UPDATE, so two failures at once still send one mail.

Listens to ``integrations.hooks`` and ``sync.hooks`` (connected in ``SyncConfig.ready``); the mail
goes out after the announcing transaction commits, through Django's e-mail backend.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from integrations import hooks as integration_hooks
from integrations.models import Integration, Membership, SubAccount
from sync import hooks as sync_hooks
from sync.models import SyncRun

logger = logging.getLogger(__name__)

REASON_MAX = 500


def notification_recipients(subaccount: SubAccount) -> list[str]:
    """The members' addresses and the sub-account's extra ``notification_emails``, once each."""
    members = Membership.objects.filter(subaccount=subaccount, user__is_active=True).exclude(user__email="")
    extra = re.split(r"[\s,;]+", subaccount.notification_emails or "")
    addresses = {*members.values_list("user__email", flat=True), *extra}
    return sorted({address.strip().lower() for address in addresses if "@" in address})


def incident_open(*, integration: Integration, reason: str) -> bool:
    """Open the integration's incident unless one is open; the one that opens it mails (after commit)."""
    now = timezone.now()
    opened = Integration.objects.filter(pk=integration.pk, incident_opened_at__isnull=True).update(
        incident_opened_at=now, incident_notified_at=None
    )
    if not opened:
        return False
    integration.incident_opened_at = now
    transaction.on_commit(partial(_notify, integration.pk, reason[:REASON_MAX]))
    return True


def incident_close(*, integration: Integration) -> bool:
    """Close the open incident, if any: the next failure mails again."""
    closed = Integration.objects.filter(pk=integration.pk, incident_opened_at__isnull=False).update(
        incident_opened_at=None, incident_notified_at=None
    )
    integration.incident_opened_at = integration.incident_notified_at = None
    return bool(closed)


def _notify(integration_id: int, reason: str) -> None:
    integration = Integration.objects.select_related("template", "subaccount").get(pk=integration_id)
    recipients = notification_recipients(integration.subaccount)
    if not recipients:
        logger.info("failure notification has no recipient", extra={"integration_id": integration_id})
        return
    page = (
        f"{settings.PUBLIC_BASE_URL}{reverse('admin:integrations_integration_change', args=[integration.pk])}"
    )
    # Names, status and the reason only: messages that reach here hold no secret by contract
    # (integration_mark_error), and the config, tokens and webhook secret are never read.
    body = (
        f"The integration {integration.name!r} ({integration.template.display_name}) of "
        f"{integration.subaccount} needs attention.\n\n"
        f"What happened: {reason}\n"
        f"Status: {integration.status}"
        f"{' (reauthorization needed)' if integration.reauthorization_needed else ''}\n\n"
        f"Open it: {page}\n\n"
        "You will not be e-mailed about it again until it is active and has synced successfully.\n"
    )
    try:
        send_mail(
            subject=f"[{integration.subaccount}] {integration.name} needs attention",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    except (SMTPException, OSError):
        # The incident stays open with incident_notified_at empty; later failures stay quiet.
        logger.warning("failure notification not sent", extra={"integration_id": integration_id})
        return
    Integration.objects.filter(pk=integration_id).update(incident_notified_at=timezone.now())


def on_integration_status_changed(
    sender, *, integration: Integration, new: str, reason: str, **kwargs
) -> None:
    if new != Integration.Status.ERROR:
        return
    if integration.reauthorization_needed:
        what = f"the provider needs the integration reauthorized ({reason or 'credentials refused'})"
    else:
        what = f"the integration turned to error: {reason or 'no reason given'}"
    incident_open(integration=integration, reason=what)


def on_sync_run_finished(sender, *, run: SyncRun, **kwargs) -> None:
    integration = run.integration
    if run.status == SyncRun.Status.FAILED:
        incident_open(integration=integration, reason=f"sync run #{run.pk} failed: {run.error or 'unknown'}")
    elif (
        run.status == SyncRun.Status.SUCCEEDED
        and Integration.objects.filter(pk=integration.pk, status=Integration.Status.ACTIVE).exists()
    ):
        incident_close(integration=integration)


def connect() -> None:
    """Subscribe to the failures that open incidents and the runs that close them (idempotent)."""
    integration_hooks.integration_status_changed.connect(
        on_integration_status_changed, dispatch_uid="sync.notifications.status"
    )
    sync_hooks.sync_run_finished.connect(on_sync_run_finished, dispatch_uid="sync.notifications.run")
