"""Webhooks going out to sub-accounts' apps: endpoints (services), messages (events, outbox),
signing, delivery and retries (delivery, http, tasks), the admin pages."""
