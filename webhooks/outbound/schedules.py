"""Beat schedules for outbound webhooks, in sync.schedules' format: (name, task, every, period)."""

SCHEDULES = [
    # The safety nets: the fast paths are tasks queued after commit and retry countdowns.
    ("Send due webhook deliveries (retries, recovery)", "webhooks.deliver_due", 5, "seconds"),
    ("Turn new changes into webhook messages", "webhooks.outbox_pump", 10, "seconds"),
]
