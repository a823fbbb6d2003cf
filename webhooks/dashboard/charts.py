"""The dashboard's charts over the last 14 days (drawn by ``sync.charts``): records synced per day
per provider, inbound webhook events per day by outcome, outbound delivery success rate per day."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from integrations.models import Integration, SubAccount
from sync import charts
from sync.models import SyncRun
from webhooks.dashboard.rows import midnight, rate
from webhooks.models import Delivery, InboundEvent

CHART_DAYS = 14
# Inbound event statuses as the chart groups them (stacked in this order).
EVENT_OUTCOMES = {
    "Processed": (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED),
    "Waiting": (InboundEvent.Status.PENDING, InboundEvent.Status.PROCESSING),
    "Failed": (InboundEvent.Status.FAILED, InboundEvent.Status.DEAD),
}


def chart_days(now: datetime, days: int = CHART_DAYS) -> list[date]:
    today = timezone.localdate(now)
    return [today - timedelta(days=days - 1 - n) for n in range(days)]


def _per_day(rows, days: list[date]) -> dict[str, list[float]]:
    """(day, series, value) rows → series → one value per day (zeros where none)."""
    index = {day: n for n, day in enumerate(days)}
    series: dict[str, list[float]] = defaultdict(lambda: [0] * len(days))
    for day, label, value in rows:
        if day in index:
            series[label][index[day]] += value or 0
    return dict(series)


def records_chart(integrations: QuerySet[Integration], days: list[date], since: datetime) -> charts.Chart:
    """Records processed by runs per day, stacked by provider (the template's display name)."""
    rows = (
        SyncRun.objects.filter(integration__in=integrations, created_at__gte=since)
        .order_by()
        .annotate(day=TruncDate("created_at"))
        .values("day", "integration__template__display_name")
        .annotate(n=Sum("processed"))
        .values_list("day", "integration__template__display_name", "n")
    )
    return charts.stacked_bars(days, dict(sorted(_per_day(rows, days).items())))


def events_chart(integrations: QuerySet[Integration], days: list[date], since: datetime) -> charts.Chart:
    """Inbound webhook events received per day, stacked by outcome."""
    outcome_of = {status: label for label, statuses in EVENT_OUTCOMES.items() for status in statuses}
    rows = (
        InboundEvent.objects.filter(integration__in=integrations, created_at__gte=since)
        .order_by()
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .values_list("day", "status", "n")
    )
    per_day = _per_day(((day, outcome_of[status], n) for day, status, n in rows), days)
    return charts.stacked_bars(days, {label: per_day[label] for label in EVENT_OUTCOMES if label in per_day})


def delivery_chart(subaccounts: QuerySet[SubAccount], days: list[date], since: datetime) -> charts.Chart:
    """The share of outbound deliveries that succeeded, per day. Only days that had finished
    deliveries are drawn: a day with none has no rate, and drawing it as 0 % would be a lie."""
    rows = (
        Delivery.objects.filter(endpoint__subaccount__in=subaccounts, created_at__gte=since)
        .exclude(status=Delivery.Status.PENDING)
        .order_by()
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .values_list("day", "status", "n")
    )
    per_day = _per_day(rows, days)
    done = [sum(values[n] for values in per_day.values()) for n in range(len(days))]
    succeeded = per_day.get(Delivery.Status.SUCCEEDED, [0] * len(days))
    drawn = [n for n in range(len(days)) if done[n]]
    if not drawn:
        return charts.Chart()
    return charts.lines(
        [days[n] for n in drawn], {"Delivered %": [rate(succeeded[n], done[n]) for n in drawn]}
    )


def dashboard_charts(
    *, integrations: QuerySet[Integration], subaccounts: QuerySet[SubAccount], now: datetime | None = None
) -> dict[str, charts.Chart]:
    now = now or timezone.now()
    days = chart_days(now)
    since = midnight(now) - timedelta(days=CHART_DAYS - 1)
    return {
        "records_chart": records_chart(integrations, days, since),
        "events_chart": events_chart(integrations, days, since),
        "delivery_chart": delivery_chart(subaccounts, days, since),
    }
