"""The platform's OAuth connect flow with Pipedrive over real HTTP: consent on the emulator, the
callback exchanging the code with HTTP Basic client auth, ``api_domain`` stored and used."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.models import IntegrationTemplate
from integrations.services import integration_create, integration_test
from integrations.tokens import IntegrationTokenStore
from sync.models import Contact
from sync.runs import sync_run_execute, sync_run_request
from tests.integrations.test_api import api_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(pd, catalog, subaccount, sandbox_url):
    return integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="pipedrive"),
        name="pd",
        config={
            "auth_mode": "oauth",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "base_url": f"{sandbox_url}/pipedrive",
        },
        actor="test",
        direction="inbound",
    )


def test_connecting_with_oauth_stores_the_api_domain_and_syncs_with_the_token(
    live_server, integration, subaccount, client, pd
):
    start = api_for(subaccount).post(f"/api/v1/integrations/{integration.pk}/oauth/start/", {}, format="json")
    assert start.status_code == 200, start.content
    url = start.json()["authorize_url"]
    assert url.startswith(integration.config["base_url"] + "/oauth/authorize?")
    assert "code_challenge" not in parse_qs(urlsplit(url).query)  # Pipedrive does not do PKCE
    page = requests.get(url, timeout=10)
    fields = {
        k: html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    allowed = requests.post(
        url.split("?")[0], data={**fields, "decision": "allow"}, allow_redirects=False, timeout=10
    )
    assert allowed.status_code in (302, 303), allowed.text[:300]

    callback = client.get(allowed.headers["Location"].replace(live_server.url, ""))

    assert callback.status_code == 200
    tokens = IntegrationTokenStore(integration.pk).load()
    assert (
        tokens.access_token
        and tokens.refresh_token
        and tokens.extra["api_domain"] == integration.config["base_url"]
    )
    assert integration_test(integration=integration, actor="test").ok
    pd.seed("persons", 3)
    run = sync_run_execute(run_id=sync_run_request(integration=integration, kind="full", enqueue=False).pk)
    assert run.status == "succeeded" and Contact.objects.filter(subaccount=subaccount).count() == 3
