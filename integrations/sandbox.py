"""An integration wired to one of the sandbox emulators, as the wizard would leave it: connected
(the emulator's config and, for OAuth providers, the tokens it issues), created and active.

The demo (``seed_demo``), the tests and the benchmarks connect emulators this one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.registry import emulator_module
from integrations.models import Integration, IntegrationTemplate, SubAccount
from integrations.services import integration_create
from integrations.status import integration_set_status
from integrations.tokens import IntegrationTokenStore


def sandbox_integration_connect(
    subaccount: SubAccount,
    provider: str,
    sandbox_url: str,
    *,
    actor: str,
    name: str | None = None,
    settings: Mapping[str, Any] | None = None,
    reason: str = "",
    **options: Any,
) -> Integration:
    """Connect ``provider``'s emulator at ``sandbox_url`` (``.../sandbox``), create the integration
    with ``options`` (sync settings) and config ``settings`` merged into the emulator's, and activate
    it. Needs the catalog loaded."""
    config, tokens = emulator_module(provider).emulator.connect(sandbox_url)
    template = sandbox_template(provider)
    integration = integration_create(
        subaccount=subaccount,
        template=template,
        name=name or provider,
        config=_merged(config, settings or {}),
        actor=actor,
        **options,
    )
    if tokens is not None:
        IntegrationTokenStore(integration.pk).save(tokens)
    integration_set_status(
        integration=integration, status=Integration.Status.ACTIVE, actor=actor, reason=reason
    )
    integration.refresh_from_db()
    return integration


def sandbox_template(provider: str) -> IntegrationTemplate:
    """The catalog template of an emulator's provider: the one keyed like it, else the one whose
    connector it is (À La Carte Chat's template is keyed ``alacarte_chat``, its connector ``alacarte``)."""
    return IntegrationTemplate.objects.filter(key=provider).first() or IntegrationTemplate.objects.get(
        connector=provider
    )


def _merged(config: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` over the emulator's config; a nested object is merged key by key (the flow's
    switches added to the datasheets the emulator names, say), not replaced."""
    merged = dict(config)
    for key, value in settings.items():
        current = merged.get(key)
        merged[key] = {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
    return merged
