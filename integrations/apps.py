from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Imported in ready(), once every model is loaded: importing them registers them.
        from integrations import checks  # noqa: F401 (registers the system checks)
        from integrations.api import schema  # noqa: F401 (describes our authentication in OpenAPI)
