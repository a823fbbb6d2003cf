"""The platform's OAuth connect flow with GoHighLevel over real HTTP: the location chooser on the
emulator, the callback exchanging the code (form-encoded), the location learnt from the token and
used by a full sync."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.models import IntegrationTemplate
from integrations.services import integration_create, integration_test
from integrations.tokens import IntegrationTokenStore
from sync.models import Contact, Deal
from sync.runs import sync_run_execute, sync_run_request
from tests.integrations.test_api import api_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(ghl, catalog, subaccount, sandbox_url):
    return integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="gohighlevel"),
        name="ghl",
        config={
            "auth_mode": "oauth",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "base_url": f"{sandbox_url}/gohighlevel",
        },
        actor="test",
        direction="inbound",
    )


def test_connecting_with_oauth_learns_the_location_and_syncs_with_the_token(
    live_server, integration, subaccount, client, ghl
):
    start = api_for(subaccount).post(f"/api/v1/integrations/{integration.pk}/oauth/start/", {}, format="json")
    assert start.status_code == 200, start.content
    url = start.json()["authorize_url"]
    assert url.startswith(integration.config["base_url"] + "/oauth/chooselocation?")
    query = parse_qs(urlsplit(url).query)
    assert "contacts.write" in query["scope"][0].split() and "code_challenge" not in query
    chosen = requests.get(url, allow_redirects=False, timeout=10)
    assert chosen.status_code == 302, chosen.text[:300]

    callback = client.get(chosen.headers["Location"].replace(live_server.url, ""))

    assert callback.status_code == 200
    tokens = IntegrationTokenStore(integration.pk).load()
    assert tokens.access_token and tokens.refresh_token and tokens.extra["locationId"] == ghl.location_id()
    assert integration_test(integration=integration, actor="test").ok
    ghl.seed("contacts", 3, None)
    ghl.seed("opportunities", 2, None)
    run = sync_run_execute(run_id=sync_run_request(integration=integration, kind="full", enqueue=False).pk)
    assert run.status == "succeeded"
    assert Contact.objects.filter(subaccount=subaccount).count() == 3
    assert Deal.objects.filter(subaccount=subaccount).count() == 2
