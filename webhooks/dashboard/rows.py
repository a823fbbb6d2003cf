"""One row per integration: last and next sync, records synced today, failed records, open
conflicts and the inbound webhook success rate; plus the totals above the table.

Built with a fixed number of grouped queries whatever the number of integrations (never one per
row): each figure is read for all the shown integrations at once and joined here by id.

Definitions (also shown as the columns' tooltips):
- *Synced today*: the sum of the ``processed`` counter of the runs created since midnight (the
  platform's time zone): records read from or sent to the provider, unchanged ones included, as the
  integration page's records-per-day chart counts them. Polls (which write no run) are not in it.
- *Next sync*: when the minute dispatcher queues the next delta run (``sync.selectors.next_sync_at``:
  last sync + the integration's interval, "due now" once passed); none unless the integration is
  active; "running" while a run is queued or running.
- *Webhooks (24 h)*: inbound events received in the last 24 hours that were processed or ignored
  (handled), out of those handled or failed; pending ones are not counted yet.
- *Outbound delivery rate (24 h)*: deliveries to the sub-accounts' endpoints created in the last
  24 hours that succeeded, out of those that succeeded, failed or were skipped (endpoint disabled).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from integrations.models import Integration, SubAccount
from sync.models import Conflict, SyncRecordError, SyncRun
from sync.runs import SYNCABLE
from sync.selectors import next_sync_at
from webhooks.dashboard.filters import FAILING, PROBLEM_CONDITIONS, REAUTH
from webhooks.models import Delivery, InboundEvent

WEBHOOK_WINDOW = timedelta(hours=24)
EVENT_HANDLED = (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED)
EVENT_FAILED = (InboundEvent.Status.FAILED, InboundEvent.Status.DEAD)
DELIVERY_DONE = (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED, Delivery.Status.SKIPPED)


def rate(ok: int, total: int) -> int | None:
    """Whole percent, or None when there is nothing to judge by."""
    return round(ok * 100 / total) if total else None


@dataclass
class IntegrationRow:
    integration: Integration
    last_run: SyncRun | None  # the newest finished run
    active_run: SyncRun | None  # queued or running
    next_sync_at: datetime | None
    records_today: int
    failed_records: int
    open_conflicts: int
    events_handled: int
    events_failed: int
    next_sync_due: bool = False  # its interval has passed: the dispatcher queues it within a minute

    @property
    def webhook_rate(self) -> int | None:
        return rate(self.events_handled, self.events_handled + self.events_failed)

    @property
    def can_sync(self) -> bool:
        """Whether "Sync now" may queue a run (sync.runs.sync_run_request refuses the others)."""
        return self.integration.status in SYNCABLE


@dataclass(frozen=True)
class Totals:
    integrations: int
    failing: int
    reauthorization: int
    records_today: int
    failed_records: int
    open_conflicts: int
    webhook_rate: int | None
    events: int
    delivery_rate: int | None
    deliveries: int


def midnight(now: datetime) -> datetime:
    """The start of today in the platform's time zone."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _counts(qs: QuerySet, key: str = "integration_id") -> dict[int, int]:
    return dict(qs.order_by().values(key).annotate(n=Count("pk")).values_list(key, "n"))


def newest_run(by: str, **where) -> Subquery:
    """The id of the integration's newest run (by ``by``) matching ``where``: an annotation on
    Integration, so every row's run is found in the one query that reads the integrations."""
    runs = SyncRun.objects.filter(integration=OuterRef("pk"), **where)
    return Subquery(runs.order_by(f"-{by}", "-pk").values("pk")[:1])


def dashboard_rows(
    integrations: QuerySet[Integration], *, now: datetime | None = None
) -> list[IntegrationRow]:
    """A row for each integration of ``integrations`` (in its order)."""
    now = now or timezone.now()
    shown = list(
        integrations.annotate(
            last_run_id=newest_run("finished_at", finished_at__isnull=False),
            active_run_id=newest_run("created_at", status__in=SyncRun.ACTIVE),
        )
    )
    ids = [i.pk for i in shown]
    if not ids:
        return []
    runs = SyncRun.objects.filter(integration_id__in=ids)
    by_pk = runs.in_bulk(({i.last_run_id for i in shown} | {i.active_run_id for i in shown}) - {None})
    today = dict(
        runs.filter(created_at__gte=midnight(now))
        .order_by()
        .values("integration_id")
        .annotate(n=Sum("processed"))
        .values_list("integration_id", "n")
    )
    failed = _counts(SyncRecordError.objects.filter(integration_id__in=ids, resolved=False))
    conflicts = _counts(Conflict.objects.filter(integration_id__in=ids, status=Conflict.Status.OPEN))
    events: dict[int, dict[str, int]] = defaultdict(dict)
    for integration_id, status, n in (
        InboundEvent.objects.filter(integration_id__in=ids, created_at__gte=now - WEBHOOK_WINDOW)
        .order_by()
        .values("integration_id", "status")
        .annotate(n=Count("pk"))
        .values_list("integration_id", "status", "n")
    ):
        events[integration_id][status] = n
    rows = []
    for integration in shown:
        mine = events.get(integration.pk, {})
        active = by_pk.get(integration.active_run_id)
        next_at = None if active else next_sync_at(integration, now=now)
        rows.append(
            IntegrationRow(
                integration=integration,
                last_run=by_pk.get(integration.last_run_id),
                active_run=active,
                next_sync_at=next_at,
                next_sync_due=next_at is not None and next_at <= now,
                records_today=today.get(integration.pk) or 0,
                failed_records=failed.get(integration.pk, 0),
                open_conflicts=conflicts.get(integration.pk, 0),
                events_handled=sum(mine.get(s, 0) for s in EVENT_HANDLED),
                events_failed=sum(mine.get(s, 0) for s in EVENT_FAILED),
            )
        )
    return rows


def delivery_counts(subaccounts: QuerySet[SubAccount], *, since: datetime) -> dict[str, int]:
    """Outbound deliveries to these sub-accounts' endpoints created since ``since``, per status."""
    return dict(
        Delivery.objects.filter(endpoint__subaccount__in=subaccounts, created_at__gte=since)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )


def dashboard_totals(
    rows: list[IntegrationRow],
    *,
    integrations: QuerySet[Integration],
    subaccounts: QuerySet[SubAccount],
    now: datetime | None = None,
) -> Totals:
    """The cards above the table: sums over ``rows`` (built from ``integrations``), and the outbound
    delivery rate of ``subaccounts`` (deliveries belong to a sub-account's endpoints, not to an
    integration)."""
    now = now or timezone.now()
    handled = sum(r.events_handled for r in rows)
    events_failed = sum(r.events_failed for r in rows)
    deliveries = delivery_counts(subaccounts, since=now - WEBHOOK_WINDOW)
    done = sum(deliveries.get(s, 0) for s in DELIVERY_DONE)
    return Totals(
        integrations=len(rows),
        failing=integrations.filter(PROBLEM_CONDITIONS[FAILING]()).count(),
        reauthorization=integrations.filter(PROBLEM_CONDITIONS[REAUTH]()).count(),
        records_today=sum(r.records_today for r in rows),
        failed_records=sum(r.failed_records for r in rows),
        open_conflicts=sum(r.open_conflicts for r in rows),
        webhook_rate=rate(handled, handled + events_failed),
        events=handled + events_failed,
        delivery_rate=rate(deliveries.get(Delivery.Status.SUCCEEDED, 0), done),
        deliveries=done,
    )
