"""OAuth against the emulator: the Allow/Deny page, code + PKCE exchange, refresh, bad refresh."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import MemoryTokenStore, ReauthorizationNeeded
from connectors.hubspot.connector import HubSpotConnector
from connectors.oauth import new_code_verifier, new_state, tokens_from_response

pytestmark = pytest.mark.django_db(transaction=True)
REDIRECT = "https://app.example.com/oauth/callback/hubspot/"


@pytest.fixture
def oauth_config(hs, sandbox_url):
    client_id, client_secret = hs.client_credentials()
    return {
        "auth_mode": "oauth",
        "client_id": client_id,
        "client_secret": client_secret,
        "base_url": f"{sandbox_url}/hubspot",
    }


def authorize(url, decision="allow"):
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Allow" in page.text and "Deny" in page.text
    form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    answer = requests.post(
        url.split("?")[0], data={**form, "decision": decision}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_oauth_endpoints_live_under_base_url_and_default_to_hubspot(oauth_config):
    endpoints = HubSpotConnector(oauth_config).oauth_endpoints()
    assert endpoints["authorize_url"] == f"{oauth_config['base_url']}/oauth/authorize"
    assert endpoints["token_url"] == f"{oauth_config['base_url']}/oauth/v3/token"
    client = HubSpotConnector({"auth_mode": "oauth", "client_id": "x", "client_secret": "y"}).oauth_client()
    assert client.authorize_endpoint == "https://app.hubspot.com/oauth/authorize"
    assert client.token_endpoint == "https://api.hubapi.com/oauth/v3/token"


def test_code_and_pkce_exchange_gives_thirty_minute_tokens_that_work(hs, oauth_config, make_connector):
    connector = make_connector(oauth_config, token_store=MemoryTokenStore())
    client = connector.oauth_client()
    verifier, state = new_code_verifier(), new_state()
    query = authorize(client.authorize_url(state=state, redirect_uri=REDIRECT, verifier=verifier))
    assert query["state"] == state
    tokens = client.exchange_code(code=query["code"], redirect_uri=REDIRECT, verifier=verifier)
    assert tokens.refresh_token and tokens.extra["hub_id"] == 62515
    assert tokens.extra["token_use"] == "access_token"
    assert 1790 <= tokens.expires_at - time.time() <= 1800
    connector.token_store.save(tokens)
    assert connector.test_connection().ok
    with pytest.raises(ReauthorizationNeeded):  # a code works once
        client.exchange_code(code=query["code"], redirect_uri=REDIRECT, verifier=verifier)


def test_wrong_pkce_verifier_is_invalid_grant(hs, oauth_config):
    client = HubSpotConnector(oauth_config).oauth_client()
    url = client.authorize_url(state="s", redirect_uri=REDIRECT, verifier=new_code_verifier())
    code = authorize(url)["code"]
    resp = requests.post(
        client.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": "wrong",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_deny_redirects_with_access_denied_and_the_state(hs, oauth_config):
    client = HubSpotConnector(oauth_config).oauth_client()
    query = authorize(
        client.authorize_url(state="st-1", redirect_uri=REDIRECT, verifier=None), decision="deny"
    )
    assert query == {"error": "access_denied", "state": "st-1"}


def test_authorize_refuses_unknown_client_or_missing_redirect(hs, oauth_config):
    base = f"{oauth_config['base_url']}/oauth/authorize"
    assert (
        requests.get(base, params={"client_id": "other", "redirect_uri": REDIRECT}, timeout=10).status_code
        == 400
    )
    assert requests.get(base, params={"client_id": oauth_config["client_id"]}, timeout=10).status_code == 400


def test_refresh_keeps_the_refresh_token_and_both_token_paths_work(hs, oauth_config):
    client = HubSpotConnector(oauth_config).oauth_client()
    code = authorize(client.authorize_url(state="s", redirect_uri=REDIRECT, verifier=None))["code"]
    v1 = requests.post(
        f"{oauth_config['base_url']}/oauth/v1/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
        timeout=10,
    )
    assert v1.status_code == 200 and v1.json()["expires_in"] == 1800
    tokens = tokens_from_response(v1.json())
    fresh = client.refresh(tokens)
    assert fresh.access_token != tokens.access_token
    assert fresh.refresh_token == tokens.refresh_token


def test_bad_refresh_token_is_bad_refresh_token_invalid_grant(hs, oauth_config):
    resp = requests.post(
        f"{oauth_config['base_url']}/oauth/v3/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "rt-bogus",
            "client_id": oauth_config["client_id"],
            "client_secret": oauth_config["client_secret"],
        },
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    assert resp.json()["status"] == "BAD_REFRESH_TOKEN"
    assert resp.json()["message"] == "refresh token is invalid, expired or revoked"


def test_revoked_refresh_token_can_no_longer_refresh(hs, oauth_config):
    store = MemoryTokenStore()
    connector = HubSpotConnector(oauth_config, token_store=store)
    client = connector.oauth_client()
    code = authorize(client.authorize_url(state="s", redirect_uri=REDIRECT, verifier=None))["code"]
    store.save(client.exchange_code(code=code, redirect_uri=REDIRECT, verifier=None))
    assert connector.revoke() is True
    with pytest.raises(ReauthorizationNeeded):
        client.refresh(store.load())
