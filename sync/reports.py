"""Daily figures from providers that report them (``connectors.capabilities.ReportSource``): ad
spend and leads per campaign, web sessions and conversions per source. Stored per sub-account as
``DailyReport`` rows, which the reporting page charts.

Beat's hourly ``sync.reports_due`` reads each source once a day. The first read goes back
``report_backfill_days``; later ones re-read the last ``report_reread_days`` days, because the
providers keep correcting recent days. A read replaces the rows of the days it covered in one
transaction, so a day is never half old and half new, and a failed read leaves the old rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from connectors.capabilities import ReportSource
from connectors.errors import ConnectorError, PermanentError, ReauthorizationNeeded
from connectors.registry import connector_offers
from integrations.models import Integration
from integrations.services import connector_for
from integrations.status import integration_mark_error
from sync.models import DailyReport

logger = logging.getLogger(__name__)

REPORTS_TASK = "sync.reports_due"  # sync/tasks.py; beat runs it hourly (sync.schedules)
READ_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class ReportRead:
    since: date
    until: date
    rows: int


def reads_report(integration: Integration) -> bool:
    return connector_offers(integration.template.connector, ReportSource)


def report_read(integration: Integration, *, today: date | None = None) -> ReportRead:
    """Read the integration's figures and replace the stored days they cover."""
    connector = connector_for(integration)
    until = today or timezone.localdate()
    first = not DailyReport.objects.filter(integration=integration).exists()
    days = connector.report_backfill_days if first else connector.report_reread_days
    since = until - timedelta(days=max(1, days) - 1)
    rows = list(connector.report_rows(since, until))
    with transaction.atomic():
        DailyReport.objects.filter(integration=integration, day__gte=since, day__lte=until).delete()
        DailyReport.objects.bulk_create(
            [
                DailyReport(
                    subaccount_id=integration.subaccount_id,
                    integration=integration,
                    kind=row.kind,
                    day=row.day,
                    key=row.key[:255],
                    dimensions=row.dimensions,
                    metrics=row.metrics,
                )
                for row in rows
                if since <= row.day <= until
            ],
            ignore_conflicts=True,  # a source repeating a row: the first one stands
        )
    logger.info("read %s report rows of integration %s (%s..%s)", len(rows), integration.pk, since, until)
    return ReportRead(since=since, until=until, rows=len(rows))


def report_due(integration: Integration) -> bool:
    last = (
        DailyReport.objects.filter(integration=integration)
        .order_by("-read_at")
        .values_list("read_at", flat=True)
        .first()
    )
    return last is None or timezone.now() - last >= READ_EVERY


def reports_due() -> dict[int, int]:
    """Read every active reporting integration that is due; integration id → rows read. One
    source failing never stops the others: a transient error is retried at the next tick, a
    permanent one marks the integration."""
    done = {}
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE).select_related(
        "template", "subaccount"
    ):
        if not reads_report(integration) or not report_due(integration):
            continue
        try:
            done[integration.pk] = report_read(integration).rows
        except ReauthorizationNeeded as exc:
            integration_mark_error(integration=integration, message=str(exc), reauthorize=True)
        except PermanentError as exc:
            integration_mark_error(integration=integration, message=f"Daily report: {exc}")
        except ConnectorError as exc:
            logger.warning("report read of integration %s failed: %s", integration.pk, exc)
    return done
