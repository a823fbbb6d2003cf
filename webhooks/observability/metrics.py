"""``/metrics``' figures, computed at scrape time from PostgreSQL and Redis by one custom collector.

Web runs several gunicorn workers and Celery several processes: counters kept in each process
would need prometheus_client's multiprocess mode and its files. Instead every scrape reads what
every process has already written down (runs, conflicts, events, deliveries, attempts, jobs in
PostgreSQL; provider call counters and queue lists in Redis), a dozen aggregate queries.

Labels are provider keys (the connector: ``hubspot``), statuses and queue names: never a
sub-account, an integration name, a URL or anything a person typed. Figures from PostgreSQL cover
the rows on record (the daily cleanup keeps 30 days of runs), so they are gauges; the provider
call counters in Redis only grow, so they are counters. The latency histograms cover the last
hour (``figures.WINDOW``), recomputed at each scrape: read their buckets directly
(``histogram_quantile`` over them, no ``rate()``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry
from redis import RedisError

from connectors import api_usage
from sync.models import SyncRun
from webhooks.observability import figures
from webhooks.observability.queues import BrokerUnavailable, queue_depths

logger = logging.getLogger(__name__)


def _gauge(name: str, doc: str, labels: list[str], rows) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in figures.labelled(rows):
        family.add_metric(values, value)
    return family


def _histogram(name: str, doc: str, histogram: figures.Histogram) -> HistogramMetricFamily:
    buckets = [(repr(float(b)), c) for b, c in zip(histogram.bounds, histogram.cumulative, strict=True)]
    family = HistogramMetricFamily(name, doc)
    family.add_metric([], [*buckets, ("+Inf", histogram.count)], histogram.total)
    return family


class PlatformCollector:
    """Everything ``/metrics`` shows, read fresh at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from self._database()
        yield from self._provider_calls()
        yield from self._queues()

    def _database(self) -> Iterator[Metric]:
        runs = figures.sync_runs()
        yield _gauge(
            "crm_sync_runs",
            "Sync runs on record (30 days kept) by provider and status",
            ["provider", "status"],
            runs,
        )
        active = {}
        for provider, status, n in runs:
            if status in SYNC_ACTIVE:
                active[provider] = active.get(provider, 0) + n
        yield _gauge("crm_sync_runs_active", "Sync runs queued or running", ["provider"], active.items())
        yield _gauge(
            "crm_sync_records",
            "Records counted by the runs on record, by provider and counter "
            "(processed: examined both ways; pushed: sent to the provider; created, updated, …)",
            ["provider", "counter"],
            figures.sync_records(),
        )
        yield _gauge(
            "crm_conflicts_open", "Conflicts waiting for a decision", ["provider"], figures.open_conflicts()
        )
        yield _gauge(
            "crm_inbound_events",
            "Inbound webhook events by provider and status",
            ["provider", "status"],
            figures.inbound_events(),
        )
        yield _gauge(
            "crm_inbound_deliveries",
            "Inbound webhook requests by provider and outcome (accepted, rejected, throttled, …)",
            ["provider", "outcome"],
            figures.inbound_deliveries(),
        )
        yield _gauge(
            "crm_outbound_deliveries",
            "Outbound webhook deliveries by status",
            ["status"],
            figures.outbound_deliveries(),
        )
        yield _gauge(
            "crm_outbound_attempts_last_hour",
            "Outbound delivery attempts of the last hour by outcome (succeeded, retrying, failed)",
            ["outcome"],
            figures.attempt_outcomes().items(),
        )
        yield _histogram(
            "crm_outbound_attempt_duration_seconds",
            "How long endpoints took to answer, attempts of the last hour",
            figures.attempt_durations(),
        )
        yield _histogram(
            "crm_outbound_delivery_latency_seconds",
            "From event to successful delivery, deliveries that succeeded in the last hour",
            figures.delivery_latencies(),
        )
        yield _gauge(
            "crm_enrichment_jobs", "Enrichment jobs by status", ["status"], figures.enrichment_jobs()
        )
        ages = figures.ages()
        for name, doc, age in (
            (
                "crm_enrichment_lag_seconds",
                "Age of the oldest due enrichment job (0: none waits)",
                ages.enrichment_job,
            ),
            (
                "crm_inbound_oldest_pending_seconds",
                "Age of the oldest inbound webhook not yet applied: unfiled, unread or pending (0: none)",
                ages.inbound_event,
            ),
            (
                "crm_outbound_oldest_pending_seconds",
                "Age of the oldest pending outbound delivery (0: none)",
                ages.outbound_delivery,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=age or 0.0)

    def _provider_calls(self) -> Iterator[Metric]:
        try:
            calls, limited = api_usage.totals()
        except (RedisError, OSError) as exc:
            logger.warning("metrics: provider call counters unreadable", extra={"error": type(exc).__name__})
            yield GaugeMetricFamily(
                "crm_redis_up", "Whether the counters' Redis answered this scrape", value=0
            )
            return
        yield GaugeMetricFamily("crm_redis_up", "Whether the counters' Redis answered this scrape", value=1)
        for name, doc, totals in (
            ("crm_provider_api_calls", "Requests sent to providers, every process, by provider", calls),
            ("crm_provider_rate_limited", "Rate-limit answers (429 and the like) from providers", limited),
        ):
            family = CounterMetricFamily(name, doc, labels=["provider"])
            for provider, value in sorted(totals.items()):
                family.add_metric([provider], value)
            yield family

    def _queues(self) -> Iterator[Metric]:
        try:
            depths = queue_depths()
        except BrokerUnavailable as exc:
            logger.warning("metrics: queue depths unreadable", extra={"error": str(exc)})
            yield GaugeMetricFamily("crm_broker_up", "Whether the Redis broker answered this scrape", value=0)
            return
        yield GaugeMetricFamily("crm_broker_up", "Whether the Redis broker answered this scrape", value=1)
        yield _gauge(
            "crm_celery_queue_depth", "Messages waiting in each Celery queue", ["queue"], depths.items()
        )


SYNC_ACTIVE = {str(status) for status in SyncRun.ACTIVE}

# Only our collector: no process or platform collectors, whose figures would describe whichever
# gunicorn worker happened to answer the scrape.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(PlatformCollector())
