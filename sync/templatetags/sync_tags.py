"""The sync panel on an integration's admin page: last/next sync, conflicts, a per-day chart."""

from datetime import timedelta

from django import template
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from connectors.base import ConnectorError
from connectors.registry import connector_class
from sync.enrichment.crm_fields import crm_fields_status
from sync.models import Conflict, SyncRecordError, SyncRun

register = template.Library()
CHART_DAYS = 14
CHART_HEIGHT = 80


def daily_counts(integration, *, days: int = CHART_DAYS) -> list[tuple[str, int]]:
    """Records processed per day over the last ``days`` days, oldest first, zeros included."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        SyncRun.objects.filter(integration=integration, created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Sum("processed"))
    )
    totals = {row["day"]: row["total"] or 0 for row in rows}
    return [
        ((start + timedelta(days=i)).isoformat(), totals.get(start + timedelta(days=i), 0))
        for i in range(days)
    ]


@register.inclusion_tag("admin/sync/_sync_panel.html")
def sync_panel(integration):
    counts = daily_counts(integration)
    peak = max((n for _, n in counts), default=0) or 1
    bar_width = 18
    bars = [
        {
            "x": i * (bar_width + 4),
            "height": max(1, round(n * CHART_HEIGHT / peak)) if n else 0,
            "day": day,
            "count": n,
            "width": bar_width,
        }
        for i, (day, n) in enumerate(counts)
    ]
    for bar in bars:
        bar["y"] = CHART_HEIGHT - bar["height"]
    next_sync = None
    if integration.status == "active":
        next_sync = (
            integration.last_sync_at + timedelta(minutes=integration.sync_interval_minutes)
            if integration.last_sync_at
            else timezone.now()
        )
    return {
        "integration": integration,
        "runs": SyncRun.objects.filter(integration=integration).order_by("-id")[:5],
        "open_conflicts": Conflict.objects.filter(integration=integration, status="open").count(),
        "failed_records": SyncRecordError.objects.filter(integration=integration, resolved=False).count(),
        "next_sync": next_sync,
        "bars": bars,
        "chart_width": len(bars) * (bar_width + 4),
        "chart_height": CHART_HEIGHT,
        "total": sum(n for _, n in counts),
    }


@register.inclusion_tag("admin/sync/_enrichment_fields_review.html")
def enrichment_fields_review(integration):
    """The wizard's review step: whether the CRM will get the enrichment fields (score, signals,
    ...) created on activation, or which of them the operator must create there by hand."""
    connector = connector_class(integration.template.connector)
    if not connector.entities:
        return {"applies": False}
    if connector.creates_fields:
        return {"applies": True, "creates": True, "provider": connector.display_name}
    try:
        missing = crm_fields_status(integration, refresh=True).missing_names()
    except ConnectorError as exc:
        return {"applies": True, "creates": False, "provider": connector.display_name, "error": str(exc)}
    return {"applies": True, "creates": False, "provider": connector.display_name, "missing": missing}
