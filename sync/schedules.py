"""The platform's beat schedules, created by a migration and editable in the admin afterwards, and
when an integration's own weekly full sync is due (the minute dispatcher asks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import migrations

SCHEDULES = [
    # (name, task, every, period)
    # Also queues each integration's weekly full sync once its slot has come.
    ("Dispatch due delta syncs (each integration's own interval)", "sync.dispatch_due", 1, "minutes"),
    # A killed worker's run resumes from its cursors ~15 s after its lease expires.
    ("Resume runs whose worker stopped", "sync.recover_stale_runs", 15, "seconds"),
    ("Integration health check", "sync.health_check", 5, "minutes"),
    ("Conflict sweep", "sync.conflict_sweep", 1, "hours"),
    ("Retry failed records (max 3 attempts)", "sync.retry_failed_records", 1, "hours"),
    ("Clean up logs older than 30 days", "sync.cleanup_logs", 1, "days"),
    # Providers' field lists (custom fields added or renamed remotely) for label mappings and
    # type-aware transforms; "Refresh fields" in the admin and the API refresh one on demand.
    ("Refresh discovered fields of active integrations", "sync.fields_refresh_all", 1, "days"),
    # Provider subscriptions that expire (Zoho's watch channels): each connector renews its own.
    ("Renew expiring webhook subscriptions", "sync.webhook_subscriptions_renew", 1, "days"),
    # Enrichment: queue jobs for changes a lost kick left and run what is due (kicks do it within
    # a second; this is the safety net), and re-score records whose engagement decayed.
    ("Enrichment sweep (feed and drain the queue)", "sync.enrichment.sweep", 1, "minutes"),
    ("Re-score records whose engagement decayed", "sync.enrichment.decay_rescore", 1, "days"),
    # Client onboarding: steps waiting out a back-off (queuing a step runs it within a second).
    ("Onboarding sweep (run due portal, order and audit steps)", "sync.onboarding.sweep", 1, "minutes"),
    # Providers that report no deletions (AITable): linked records whose remote id is gone.
    ("Find records deleted at providers that do not report deletions", "sync.deletions_sweep", 1, "days"),
    # Entities a provider would push by webhook (chat messages), while the integration gets none.
    ("Poll integrations that receive no webhooks", "sync.poll_due", 30, "seconds"),
    # Daily figures (ad spend per campaign, web sessions): each source is read once a day, the
    # last few days re-read; the hourly tick only finds who is due.
    ("Read daily reports (ad insights, analytics)", "sync.reports_due", 1, "hours"),
    # Lead events for analytics services: each commit kicks a send within a second; this sends
    # what a lost kick left and retries what waited out a back-off.
    ("Send lead events to analytics services", "sync.lead_events_send", 1, "minutes"),
]


def schedules_install(periodic_task_model, interval_model, schedules=SCHEDULES) -> int:
    """Create the schedules that do not exist yet; never touches ones an operator edited."""
    created = 0
    for name, task, every, period in schedules:
        interval, _ = interval_model.objects.get_or_create(every=every, period=period)
        _, was_created = periodic_task_model.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )
        created += was_created
    return created


def full_sync_slot_start(*, weekday: int, hour: int, now: datetime) -> datetime:
    """The start of the latest weekly slot (``weekday`` 0 = Monday, ``hour`` UTC) at or before ``now``."""
    now = now.astimezone(UTC)
    start = now.replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(
        days=(now.weekday() - weekday) % 7
    )
    return start if start <= now else start - timedelta(days=7)


def full_sync_due(
    *,
    enabled: bool,
    weekday: int,
    hour: int,
    now: datetime,
    created_at: datetime,
    last_full_at: datetime | None,
) -> bool:
    """Whether the weekly full sync should be queued now: its slot has come (after the integration
    was created: a new one has just pulled everything) and no full run has finished since."""
    if not enabled:
        return False
    start = full_sync_slot_start(weekday=weekday, hour=hour, now=now)
    return start > created_at and (last_full_at is None or last_full_at < start)


def schedules_operation(*names: str) -> migrations.RunPython:
    """A migration step installing the named ``SCHEDULES`` (undone by deleting them): how each
    migration that adds a beat schedule does it."""

    def install(apps, schema_editor):
        schedules_install(
            apps.get_model("django_celery_beat", "PeriodicTask"),
            apps.get_model("django_celery_beat", "IntervalSchedule"),
            [s for s in SCHEDULES if s[0] in names],
        )

    def uninstall(apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()

    return migrations.RunPython(install, uninstall)
