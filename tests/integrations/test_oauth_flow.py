"""The OAuth connect flow over real HTTP against the Salesforce emulator, and every way it can go wrong."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from django.utils import timezone

from connectors.registry import emulator_module
from integrations.checks import stored_secrets_decrypt
from integrations.models import Integration, IntegrationTemplate, OAuthState
from integrations.services import integration_create
from tests.integrations.test_api import api_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def salesforce(catalog, subaccount, sandbox_url):
    emulator_module("salesforce").emulator.reset()
    config, _ = emulator_module("salesforce").emulator.connect(sandbox_url)
    return integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="salesforce"),
        name="sf",
        config=config,
        actor="test",
    )


def authorize(live_server, subaccount, integration) -> str:
    """Start over the API, 'click Allow' on the emulator's page, return the callback URL it sends us to."""
    start = api_for(subaccount).post(f"/api/v1/integrations/{integration.pk}/oauth/start/", {}, format="json")
    assert start.status_code == 200, start.content
    url = start.json()["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"]
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Allow" in page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields = {k: html.unescape(v) for k, v in hidden.items()}
    allowed = requests.post(
        url.split("?")[0], data={**fields, "decision": "allow"}, allow_redirects=False, timeout=10
    )
    assert allowed.status_code in (302, 303), allowed.text[:300]
    return allowed.headers["Location"]


def test_the_round_trip_stores_encrypted_tokens_and_a_replayed_callback_is_refused(
    live_server, salesforce, subaccount, client
):
    callback = authorize(live_server, subaccount, salesforce)
    path = callback.replace(live_server.url, "")
    first = client.get(path)
    assert first.status_code == 200
    salesforce.refresh_from_db()
    assert salesforce.tokens["access_token"] and salesforce.tokens["extra"]["instance_url"]
    replay = client.get(path)
    assert replay.status_code == 400 and b"already used" in replay.content


def test_an_expired_state_is_refused_and_nothing_is_saved(live_server, salesforce, subaccount, client):
    callback = authorize(live_server, subaccount, salesforce)
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(callback.replace(live_server.url, ""))
    assert response.status_code == 400 and b"expired" in response.content
    assert Integration.objects.get(pk=salesforce.pk).tokens is None


def test_a_denied_authorization_is_a_clear_error(live_server, salesforce, subaccount, client):
    start = api_for(subaccount).post(f"/api/v1/integrations/{salesforce.pk}/oauth/start/", {}, format="json")
    state = parse_qs(urlsplit(start.json()["authorize_url"]).query)["state"][0]
    response = client.get(f"/oauth/callback/salesforce/?state={state}&error=access_denied")
    assert response.status_code == 400 and b"did not grant access" in response.content
    assert Integration.objects.get(pk=salesforce.pk).tokens is None


def test_rejected_credentials_show_the_providers_message_and_no_secret(catalog, subaccount, sandbox_url):
    config, _ = emulator_module("hubspot").emulator.connect(sandbox_url)
    config["access_token"] = "pat-na1-not-a-real-token-000"
    integration = integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="hubspot"),
        name="hs",
        config=config,
        actor="test",
    )
    body = api_for(subaccount).post(f"/api/v1/integrations/{integration.pk}/test/").json()
    assert body["ok"] is False and body["message"].startswith("Credentials rejected")
    assert "pat-na1-not-a-real-token-000" not in body["message"]
    integration.refresh_from_db()
    assert integration.health == "failing" and "pat-na1" not in integration.last_error


def test_a_wrong_encryption_key_fails_the_start_up_check_clearly(salesforce, settings):
    assert stored_secrets_decrypt(None) == []
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    [error] = stored_secrets_decrypt(None)
    assert error.id == "integrations.E001" and "FIELD_ENCRYPTION_KEYS" in error.msg
