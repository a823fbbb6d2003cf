from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync"

    def ready(self) -> None:
        from sync import tasks  # noqa: F401 (registers the tasks, which sync.runs queues by name)
        from sync.enrichment import tasks as enrichment_tasks  # noqa: F401 (the enrichment queue's tasks)
        from sync.enrichment.signals import connect as enrichment_connect
        from sync.notifications import connect

        connect()  # e-mails a sub-account's people once per failure incident
        enrichment_connect()  # Change rows kick the enrichment feed; activation sets up CRM fields
