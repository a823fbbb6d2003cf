"""The provider-side webhook subscription follows the integration: activate, re-key, disconnect, delete."""

from __future__ import annotations

import pytest

from connectors.base import PermanentError
from connectors.hubspot.connector import HubSpotConnector
from integrations import services
from integrations.models import AuditLog, Integration
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from tests.integrations.test_api import SCHEMA, api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(monkeypatch, settings):
    """HubSpot needs no subscription; here it registers one, so the lifecycle can be watched."""
    settings.PUBLIC_BASE_URL = "https://platform.example.com"
    calls: list[tuple] = []

    def subscribe(self, *, target_url: str, secret: str) -> dict:
        calls.append(("subscribe", target_url, secret))
        return {"id": f"sub-{len(calls)}"}

    def unsubscribe(self, *, subscription) -> None:
        calls.append(("unsubscribe", subscription["id"]))

    monkeypatch.setattr(HubSpotConnector, "subscribe_webhooks", subscribe)
    monkeypatch.setattr(HubSpotConnector, "unsubscribe_webhooks", unsubscribe)
    return calls


@pytest.fixture
def integration(subaccount) -> Integration:
    template = IntegrationTemplateFactory(key="hubspot", connector="hubspot", config_schema=SCHEMA)
    return IntegrationFactory(
        subaccount=subaccount,
        template=template,
        config={"auth_mode": "private_app", "access_token": "pat-na1-x"},
        webhook_secret="first-secret",
        last_test_ok=True,
    )


def test_activation_subscribes_with_the_receiver_url_and_the_secret(provider, integration):
    services.integration_activate(integration=integration, actor="test")

    url = f"https://platform.example.com/webhooks/in/hubspot/{integration.pk}/"
    assert provider == [("subscribe", url, "first-secret")]
    integration.refresh_from_db()
    assert (integration.status, integration.webhook_subscription) == ("active", {"id": "sub-1"})


def test_rotating_the_secret_replaces_the_subscription(provider, integration):
    services.integration_activate(integration=integration, actor="test")
    services.integration_webhook_secret_rotate(integration=integration, actor="test")

    integration.refresh_from_db()
    assert integration.webhook_secret != "first-secret"
    assert provider[1:] == [
        ("unsubscribe", "sub-1"),
        ("subscribe", provider[2][1], integration.webhook_secret),
    ]
    assert integration.webhook_subscription == {"id": "sub-3"}
    assert AuditLog.objects.get(action="integration.webhook_secret_rotated").changes == {
        "webhook_secret": "[changed]"
    }


def test_disconnect_and_delete_unsubscribe(provider, integration, subaccount):
    services.integration_activate(integration=integration, actor="test")
    services.integration_disconnect(integration=integration, actor="test")
    assert provider[-1] == ("unsubscribe", "sub-1")

    other = IntegrationFactory(
        subaccount=subaccount, template=integration.template, webhook_secret="s", last_test_ok=True
    )
    services.integration_activate(integration=other, actor="test")
    registered = other.webhook_subscription["id"]
    response = api_for(subaccount).delete(f"/api/v1/integrations/{other.pk}/")

    assert response.status_code == 204
    assert provider[-1] == ("unsubscribe", registered)
    assert not Integration.objects.filter(pk=other.pk).exists()


def test_a_refused_subscription_keeps_the_integration_inactive_with_the_reason(
    provider, integration, monkeypatch
):
    def refuse(self, **kwargs):
        raise PermanentError("webhook limit reached for this account")

    monkeypatch.setattr(HubSpotConnector, "subscribe_webhooks", refuse)

    with pytest.raises(services.InvalidTransition, match="webhook limit reached"):
        services.integration_activate(integration=integration, actor="test")
    integration.refresh_from_db()
    assert integration.status == "pending" and integration.webhook_subscription == {}


def test_an_unreachable_provider_does_not_block_deletion(provider, integration, monkeypatch):
    services.integration_activate(integration=integration, actor="test")

    def unreachable(self, **kwargs):
        raise PermanentError("gone")

    monkeypatch.setattr(HubSpotConnector, "unsubscribe_webhooks", unreachable)
    services.integration_delete(integration=integration, actor="test")
    assert not Integration.objects.filter(pk=integration.pk).exists()
