"""Beat schedules for inbound webhooks, in sync.schedules' format: (name, task, every, period)."""

SCHEDULES = [
    # The safety net behind the after-commit task: failed events past their backoff, claims left by
    # a dead worker and events whose task message was lost, all read from the database.
    ("Retry due inbound webhook events", "webhooks.inbound_retry_due", 1, "minutes"),
]
