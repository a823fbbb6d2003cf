"""Beat schedules for observability, in sync.schedules' format: (name, task, every, period)."""

SCHEDULES = [
    # The system health page's 24-hour queue chart; its newest sample is also the last beat tick
    # a worker carried out.
    ("Sample Celery queue depths (system health chart)", "webhooks.queues_sample", 1, "minutes"),
]
