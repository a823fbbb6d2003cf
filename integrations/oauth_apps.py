"""Which OAuth app an integration uses: its own, else the operator's (admin, then environment).

Precedence: the integration's config ``client_id``/``client_secret`` > the ``OAuthApp`` row for its
provider > ``settings.OAUTH_APPS`` (``HUBSPOT_CLIENT_ID``, ...). The pair always travels together:
an integration naming either credential uses its own app. Connectors never touch the ORM, so the
resolved credentials are put into the config the connector is given (``connector_config``); the
service layer and the webhook receiver both build connector configs here and nowhere else.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings

from connectors.registry import connector_class, is_registered
from integrations.models import IntegrationTemplate, OAuthApp

CREDENTIALS = ("client_id", "client_secret")


def oauth_app_credentials(provider: str) -> dict[str, str] | None:
    """The operator's app for ``provider`` (the admin's OAuthApp first, then the environment), or None."""
    app = OAuthApp.objects.filter(provider=provider).only("client_id", "client_secret").first()
    if app is not None and app.client_id:
        return {"client_id": app.client_id, "client_secret": str(app.client_secret or "")}
    configured = settings.OAUTH_APPS.get(provider) or {}
    if configured.get("client_id"):
        return {"client_id": configured["client_id"], "client_secret": configured.get("client_secret", "")}
    return None


def _takes_operator_app(provider: str, config: dict[str, Any]) -> bool:
    if not is_registered(provider) or any(config.get(name) for name in CREDENTIALS):
        return False
    return connector_class(provider)(config).uses_oauth()


def connector_config(*, provider: str, config: dict[str, Any] | None) -> dict[str, Any]:
    """The config a connector is given: the integration's own, with the operator's OAuth app filled in
    when the integration connects through OAuth and names no app of its own."""
    config = dict(config or {})
    if _takes_operator_app(provider, config):
        config.update(oauth_app_credentials(provider) or {})
    return config


def oauth_app_save(*, app: OAuthApp, client_id: str, client_secret: str | None) -> OAuthApp:
    """Store the operator's app; a blank ``client_secret`` keeps the stored one."""
    app.client_id = client_id
    if client_secret:
        app.client_secret = client_secret
    app.save()
    return app


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        cleaned = {key: _without_required(value) for key, value in node.items()}
        if isinstance(cleaned.get("required"), list):
            cleaned["required"] = [name for name in cleaned["required"] if name not in CREDENTIALS]
        return cleaned
    if isinstance(node, list):
        return [_without_required(item) for item in node]
    return node


def config_schema_for(template: IntegrationTemplate) -> dict[str, Any]:
    """The template's config schema as a sub-account fills it in. With an operator app for the
    template's connector, ``client_id`` and ``client_secret`` are never required (anywhere in the
    schema, conditional branches included) and say that leaving them empty uses the operator's app."""
    schema = template.config_schema
    if not (is_registered(template.connector) and connector_class(template.connector).oauth):
        return schema
    if oauth_app_credentials(template.connector) is None:
        return schema
    schema = _without_required(copy.deepcopy(schema))
    for name in CREDENTIALS:
        prop = (schema.get("properties") or {}).get(name)
        if isinstance(prop, dict):
            prop["description"] = (
                f"{prop.get('description', '')} Optional: leave empty to use the platform's own app."
            ).strip()
    return schema
