"""The platform's beat schedules, created by a migration and editable in the admin afterwards."""

SCHEDULES = [
    # (name, task, every, period)
    ("Dispatch due delta syncs (each integration's own interval)", "sync.dispatch_due", 1, "minutes"),
    ("Integration health check", "sync.health_check", 5, "minutes"),
    ("Conflict sweep", "sync.conflict_sweep", 1, "hours"),
    ("Retry failed records (max 3 attempts)", "sync.retry_failed_records", 1, "hours"),
    ("Clean up logs older than 30 days", "sync.cleanup_logs", 1, "days"),
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
