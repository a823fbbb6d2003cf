"""The admin's system health page: are workers alive, is beat ticking, are queues draining, is
anything waiting too long, and the last 24 hours drawn by hour (``sync.charts``).

Nothing here may hang the page: the broker is asked with half-second timeouts and the workers'
ping waits at most ``PING_TIMEOUT``; whatever does not answer is shown as such.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.safestring import SafeString
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import KombuError
from redis import RedisError

from config.celery import app
from integrations.admin_look import status_badge
from sync import charts
from webhooks.models import Delivery, InboundEvent, QueueSample
from webhooks.observability import figures
from webhooks.observability.queues import QUEUES, BrokerUnavailable, broker_ping, queue_depths

logger = logging.getLogger(__name__)

PING_TIMEOUT = 0.5
HOURS = 24
HOUR_FORMAT = "%H:00"
# Waits past these are shown in the error tone.
LATE = {"inbound": 300, "outbound": 300, "enrichment": 600, "beat": 180}


@dataclass
class Workers:
    hostnames: list[str] = field(default_factory=list)
    problem: str = ""  # why nobody could be asked, or that nobody answered

    @property
    def badge(self) -> SafeString:
        if self.hostnames:
            return status_badge("healthy", f"{len(self.hostnames)} answering")
        return status_badge("failing", "None answering")


def workers_ping() -> Workers:
    """The workers that answer a ping within PING_TIMEOUT (the broker is checked first, so an
    unreachable Redis costs half a second, not kombu's connection retries)."""
    try:
        broker_ping()
    except BrokerUnavailable as exc:
        return Workers(problem=f"Workers could not be asked: {exc}.")
    try:
        replies = app.control.ping(timeout=PING_TIMEOUT) or []
    except (KombuError, RedisError, OSError) as exc:
        return Workers(problem=f"Workers could not be asked ({type(exc).__name__}).")
    hostnames = sorted(name for reply in replies for name in reply)
    problem = "" if hostnames else f"No worker answered within {PING_TIMEOUT:g} s."
    return Workers(hostnames=hostnames, problem=problem)


@dataclass(frozen=True)
class Wait:
    label: str
    seconds: float | None
    late_after: float

    @property
    def text(self) -> str:
        return "nothing waiting" if self.seconds is None else duration(self.seconds)

    @property
    def late(self) -> bool:
        return self.seconds is not None and self.seconds > self.late_after


def duration(seconds: float) -> str:
    """3 s, 4 min 10 s, 2 h 5 min, 3 d 4 h."""
    seconds = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            rest = (seconds % size) // sub_size
            return f"{seconds // size} {unit}" + (f" {rest} {sub}" if rest else "")
    return f"{seconds} s"


@dataclass(frozen=True)
class Beat:
    last_tick: datetime | None  # the newest last_run_at beat saved
    last_sample: datetime | None  # the newest queue sample: a tick a worker carried out
    now: datetime

    @property
    def newest(self) -> datetime | None:
        return max((t for t in (self.last_tick, self.last_sample) if t), default=None)

    @property
    def late(self) -> bool:
        newest = self.newest
        return newest is None or (self.now - newest).total_seconds() > LATE["beat"]

    @property
    def text(self) -> str:
        newest = self.newest
        return "never" if newest is None else f"{duration((self.now - newest).total_seconds())} ago"


def beat_state(now: datetime) -> Beat:
    """Beat saves each schedule's ``last_run_at`` every few minutes (django-celery-beat's sync),
    the queue sampler writes every minute: the newer of the two is the last tick known."""
    tick = PeriodicTask.objects.aggregate(t=Max("last_run_at"))["t"]
    sample = QueueSample.objects.aggregate(t=Max("sampled_at"))["t"]
    return Beat(last_tick=tick, last_sample=sample, now=now)


def hours_back(now: datetime, hours: int = HOURS) -> list[datetime]:
    """The starts of the last ``hours`` hours, the current one last."""
    current = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=hours - 1 - n) for n in range(hours)]


def queue_chart(hours: list[datetime]) -> charts.Chart:
    """The deepest each queue got in each hour, from the minute samples."""
    index = {hour: n for n, hour in enumerate(hours)}
    rows = (
        QueueSample.objects.filter(sampled_at__gte=hours[0])
        .order_by()
        .annotate(hour=TruncHour("sampled_at"))
        .values("hour", "queue")
        .annotate(depth=Max("depth"))
        .values_list("hour", "queue", "depth")
    )
    series: dict[str, list[float]] = {queue: [0] * len(hours) for queue in QUEUES}
    for hour, queue, depth in rows:
        if hour in index and queue in series:
            series[queue][index[hour]] = depth
    chart = charts.lines(hours, series, fmt=HOUR_FORMAT)
    chart.empty = not QueueSample.objects.filter(sampled_at__gte=hours[0]).exists()
    return chart


def traffic_chart(hours: list[datetime]) -> charts.Chart:
    """Inbound webhook events stored and outbound deliveries created, per hour."""
    index = {hour: n for n, hour in enumerate(hours)}
    sources = (("Inbound events", InboundEvent), ("Outbound deliveries", Delivery))
    series: dict[str, list[float]] = {label: [0] * len(hours) for label, _model in sources}
    for label, model in sources:
        rows = (
            model.objects.filter(created_at__gte=hours[0])
            .order_by()
            .annotate(hour=TruncHour("created_at"))
            .values("hour")
            .annotate(n=Count("pk"))
            .values_list("hour", "n")
        )
        for hour, n in rows:
            if hour in index:
                series[label][index[hour]] += n
    return charts.lines(hours, series, fmt=HOUR_FORMAT)


def system_health(now: datetime | None = None) -> dict:
    """Everything the page shows."""
    now = now or timezone.now()
    try:
        depths, broker_problem = queue_depths(), ""
    except BrokerUnavailable as exc:
        depths, broker_problem = {}, f"Queue depths unavailable: {exc}."
    ages = figures.ages(now)
    hours = hours_back(now)
    return {
        "workers": workers_ping(),
        "depths": depths,
        "broker_problem": broker_problem,
        "waits": [
            Wait("Oldest inbound webhook not yet applied", ages.inbound_event, LATE["inbound"]),
            Wait("Oldest pending outbound delivery", ages.outbound_delivery, LATE["outbound"]),
            Wait("Oldest due enrichment job", ages.enrichment_job, LATE["enrichment"]),
        ],
        "beat": beat_state(now),
        "queue_chart": queue_chart(hours),
        "traffic_chart": traffic_chart(hours),
        "now": now,
    }
