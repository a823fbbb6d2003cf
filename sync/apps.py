from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync"

    def ready(self) -> None:
        from integrations.hooks import wizard_mappings_chosen
        from sync import tasks  # noqa: F401 (registers the tasks, which sync.runs queues by name)
        from sync.enrichment import tasks as enrichment_tasks  # noqa: F401 (the enrichment queue's tasks)
        from sync.enrichment.signals import connect as enrichment_connect
        from sync.hooks import changes_recorded
        from sync.lead_events import on_changes_recorded as lead_events_on_changes
        from sync.mapping import on_wizard_mappings_chosen
        from sync.notifications import connect
        from sync.onboarding import tasks as onboarding_tasks  # noqa: F401 (the flows queue's tasks)
        from sync.onboarding.signals import connect as onboarding_connect
        from sync.push_feed import on_changes_recorded as push_on_changes

        connect()  # e-mails a sub-account's people once per failure incident
        enrichment_connect()  # Change rows kick the enrichment feed; activation sets up CRM fields
        onboarding_connect()  # pulled and pushed leads start the onboarding flow and are tracked
        changes_recorded.connect(push_on_changes, dispatch_uid="sync.push_feed")  # others get it in seconds
        changes_recorded.connect(lead_events_on_changes, dispatch_uid="sync.lead_events")  # analytics too
        wizard_mappings_chosen.connect(on_wizard_mappings_chosen, dispatch_uid="sync.mapping.wizard")
