"""The platform's state as a few cheap aggregate queries (each a GROUP BY or MIN over an indexed
column), shared by ``/metrics`` and the system health page. Operator-level: every sub-account."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.utils import timezone

from sync.models import Conflict, EnrichmentJob, SyncRun
from webhooks.models import Attempt, Delivery, InboundDelivery, InboundEvent, InboundReceipt

# Attempts and deliveries of this last stretch make the latency histograms.
WINDOW = timedelta(hours=1)
# Upper bounds (seconds) of the histograms' buckets: a webhook answer takes milliseconds to the
# 10-second send timeout; a delivery from event to success, up to the retry schedule's minutes.
ATTEMPT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
PROVIDER = "integration__template__connector"


def counts(queryset, *fields: str) -> list[tuple]:
    """(field values…, count) rows of a GROUP BY."""
    return list(queryset.order_by().values_list(*fields).annotate(n=Count("pk")).values_list(*fields, "n"))


def sync_runs() -> list[tuple[str, str, int]]:
    """(provider, status, runs) over the runs on record (cleanup keeps 30 days)."""
    return counts(SyncRun.objects.all(), PROVIDER, "status")


def sync_records() -> list[tuple[str, str, int]]:
    """(provider, counter, sum) for every SyncRun counter (processed, pushed, created, …)."""
    sums = SyncRun.objects.order_by().values(PROVIDER).annotate(**{c: Sum(c) for c in SyncRun.COUNTERS})
    return [(row[PROVIDER], c, row[c] or 0) for row in sums for c in SyncRun.COUNTERS]


def open_conflicts() -> list[tuple[str, int]]:
    return counts(Conflict.objects.filter(status=Conflict.Status.OPEN), PROVIDER)


def inbound_events() -> list[tuple[str, str, int]]:
    return counts(InboundEvent.objects.all(), "provider", "status")


def inbound_deliveries() -> list[tuple[str, str, int]]:
    return counts(InboundDelivery.objects.all(), "provider", "outcome")


def outbound_deliveries() -> list[tuple[str, int]]:
    return counts(Delivery.objects.all(), "status")


def enrichment_jobs() -> list[tuple[str, int]]:
    return counts(EnrichmentJob.objects.all(), "status")


def _age(oldest: datetime | None, now: datetime) -> float | None:
    return max(0.0, (now - oldest).total_seconds()) if oldest else None


@dataclass(frozen=True)
class Ages:
    """Seconds the oldest waiting item has waited (None: nothing waits)."""

    inbound_event: float | None
    outbound_delivery: float | None
    enrichment_job: float | None


def ages(now: datetime | None = None) -> Ages:
    """The oldest inbound webhook not yet applied (since received: a receipt not yet filed, a
    delivery not yet read, or an event not yet applied, so stopped workers show), the oldest
    pending outbound delivery (since created) and the oldest enrichment job that is due (since
    due: one waiting out its back-off is not late)."""
    now = now or timezone.now()
    outbound = Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(t=Min("created_at"))
    enrichment = EnrichmentJob.objects.filter(
        status=EnrichmentJob.Status.PENDING, available_at__lte=now
    ).aggregate(t=Min("available_at"))
    return Ages(_age(_oldest_inbound(), now), _age(outbound["t"], now), _age(enrichment["t"], now))


def _oldest_inbound() -> datetime | None:
    waiting = [
        InboundReceipt.objects.aggregate(t=Min("received_at"))["t"],
        InboundDelivery.objects.filter(parse_status=InboundDelivery.ParseStatus.PENDING).aggregate(
            t=Min("received_at")
        )["t"],
        InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).aggregate(t=Min("created_at"))["t"],
    ]
    return min((t for t in waiting if t is not None), default=None)


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (one per bound, then +Inf) and the sum, in seconds."""

    bounds: Sequence[float]
    cumulative: list[int]
    count: int
    total: float


def _histogram(queryset, value, bounds: Sequence[float], limit) -> Histogram:
    """One query: a filtered COUNT per bucket bound, the total count and the sum."""
    aggregates = {
        f"le{n}": Count("pk", filter=Q(**{f"{value}__lte": limit(b)})) for n, b in enumerate(bounds)
    }
    row = queryset.aggregate(**aggregates, count=Count("pk"), total=Sum(value))
    total = row["total"] or 0
    seconds = total.total_seconds() if isinstance(total, timedelta) else total / 1000
    return Histogram(bounds, [row[f"le{n}"] for n in range(len(bounds))], row["count"], seconds)


def attempt_durations(now: datetime | None = None) -> Histogram:
    """How long endpoints took to answer, over the attempts of the last WINDOW."""
    since = (now or timezone.now()) - WINDOW
    return _histogram(
        Attempt.objects.filter(attempted_at__gte=since), "duration_ms", ATTEMPT_BUCKETS, lambda b: b * 1000
    )


def delivery_latencies(now: datetime | None = None) -> Histogram:
    """From the message's creation to its successful delivery, over successes of the last WINDOW."""
    since = (now or timezone.now()) - WINDOW
    succeeded = Delivery.objects.filter(status=Delivery.Status.SUCCEEDED, updated_at__gte=since).annotate(
        latency=ExpressionWrapper(F("updated_at") - F("message__created_at"), output_field=DurationField())
    )
    return _histogram(succeeded, "latency", LATENCY_BUCKETS, lambda b: timedelta(seconds=b))


ATTEMPT_OUTCOMES = ("succeeded", "retrying", "failed")


def attempt_outcomes(now: datetime | None = None) -> dict[str, int]:
    """Attempts of the last WINDOW by outcome: a 2xx; a failure with a retry scheduled; a final one."""
    since = (now or timezone.now()) - WINDOW
    ok = Q(status_code__gte=200, status_code__lt=300, error="")
    row = Attempt.objects.filter(attempted_at__gte=since).aggregate(
        succeeded=Count("pk", filter=ok),
        retrying=Count("pk", filter=~ok & Q(next_retry_at__isnull=False)),
        failed=Count("pk", filter=~ok & Q(next_retry_at__isnull=True)),
    )
    return {outcome: row[outcome] for outcome in ATTEMPT_OUTCOMES}


def labelled(rows: Iterable[tuple]) -> list[tuple[list[str], float]]:
    """GROUP BY rows → (label values, value) with empty labels spelt "none"."""
    return [([str(v) if v not in (None, "") else "none" for v in row[:-1]], row[-1]) for row in rows]
