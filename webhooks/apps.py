from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # Imported in ready(), once every model is loaded: both connect signal receivers.
        # The receiver remembers integrations briefly; saving or deleting one must forget it.
        from webhooks import tasks  # noqa: F401 (registers the tasks, which lower modules queue by name)
        from webhooks.inbound import targets  # noqa: F401
        from webhooks.subscriptions import connect

        connect()  # sync and integrations announce; webhooks listens
