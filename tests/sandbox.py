"""An active integration wired to a provider emulator, as the wizard would leave it."""

from connectors.registry import emulator_module
from integrations.models import Integration, IntegrationTemplate, SubAccount
from integrations.services import integration_create, integration_set_status
from integrations.tokens import IntegrationTokenStore


def sandbox_integration(subaccount: SubAccount, provider: str, sandbox_url: str, **options) -> Integration:
    """Connect ``provider``'s emulator at ``sandbox_url`` (OAuth tokens stored when it issues them),
    create the integration with ``options`` and activate it. Needs the catalog loaded."""
    config, tokens = emulator_module(provider).emulator.connect(sandbox_url)
    integration = integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key=provider),
        name=provider,
        config=config,
        actor="test",
        **options,
    )
    if tokens is not None:
        IntegrationTokenStore(integration.pk).save(tokens)
    integration_set_status(integration=integration, status="active", actor="test")
    integration.refresh_from_db()
    return integration
