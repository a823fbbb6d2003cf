"""Connecting Zoho through the platform's OAuth callback, on the emulator: the account lives in another
data centre than the one configured, and the callback's ``accounts-server`` says so."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.zoho.connector import ZohoConnector
from integrations.models import IntegrationTemplate
from integrations.services import integration_create, oauth_start
from integrations.tokens import IntegrationTokenStore

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_eu_account_connects_through_the_callback_and_keeps_its_data_centre(
    zoho, catalog, subaccount, sandbox_url, client
):
    config, _ = zoho.connect(sandbox_url)  # the US data centre of the emulator, as configured
    integration = integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="zoho"),
        name="zoho",
        config=config,
        actor="test",
    )
    redirect_uri = "http://testserver/oauth/callback/zoho/"
    authorize = oauth_start(integration=integration, redirect_uri=redirect_uri)
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert authorize.startswith(f"{config['base_url']}/oauth/v2/auth?") and params["access_type"] == "offline"

    # The user signs in where their account lives (Zoho sends them there): the EU accounts server.
    eu = f"{config['base_url']}/dc/eu"
    consent = requests.post(
        f"{eu}/oauth/v2/auth", data={**params, "decision": "accept"}, allow_redirects=False, timeout=10
    )
    callback = urlsplit(consent.headers["Location"])
    assert parse_qs(callback.query)["accounts-server"] == [eu]

    done = client.get(f"{callback.path}?{callback.query}")

    assert done.status_code == 200, done.content[:300]
    tokens = IntegrationTokenStore(integration.pk).load()
    assert tokens.extra["accounts_server"] == eu and tokens.extra["api_domain"] == eu
    connector = ZohoConnector(
        config, token_store=IntegrationTokenStore(integration.pk), integration_id=integration.pk
    )
    assert connector.test_connection().ok  # the EU API host, with the EU token
    tokens.expires_at = 0
    IntegrationTokenStore(integration.pk).save(tokens)
    refreshed = ZohoConnector(
        config, token_store=IntegrationTokenStore(integration.pk), integration_id=integration.pk
    )
    assert (
        refreshed.test_connection().ok
    )  # refreshed at the EU accounts server: a US refresh would be refused
    assert IntegrationTokenStore(integration.pk).load().access_token != tokens.access_token
