"""Zoho client and OAuth units against mocked hosts (``responses``): data-centre hosts, the
``Zoho-oauthtoken`` header, refresh errors and the refresh cap, 429 storms, bad configuration."""

from __future__ import annotations

import time

import pytest
import responses

from connectors import http
from connectors.base import ConfigError, MemoryTokenStore, RateLimited, Tokens
from connectors.zoho.client import REFRESH_CAP
from connectors.zoho.connector import ZohoConnector

EU = {"accounts_url": "https://accounts.zoho.eu", "client_id": "cid", "client_secret": "csecret-value"}


def connector(config=EU, **token_fields) -> ZohoConnector:
    tokens = Tokens(
        access_token=token_fields.pop("access_token", "1000.old"),
        refresh_token="1000.refresh",
        expires_at=token_fields.pop("expires_at", time.time() + 3600),
        extra=token_fields.pop("extra", {"api_domain": "https://www.zohoapis.eu"}),
    )
    return ZohoConnector(
        config, token_store=MemoryTokenStore(tokens), integration_id=f"unit-{time.time_ns()}"
    )


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(http, "_wait", lambda state: 0)


@responses.activate
def test_an_eu_account_refreshes_at_the_eu_accounts_server_and_calls_the_eu_api_domain():
    responses.post(
        "https://accounts.zoho.eu/oauth/v2/token",
        json={
            "access_token": "1000.new",
            "api_domain": "https://www.zohoapis.eu",
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )
    responses.get(
        "https://www.zohoapis.eu/crm/v7/org", json={"org": [{"id": "1", "company_name": "Acme EU"}]}
    )
    zoho = connector(expires_at=time.time() - 10)

    result = zoho.test_connection()

    assert result.ok and "Acme EU" in result.message
    refresh, call = responses.calls
    assert (
        "grant_type=refresh_token" in refresh.request.body
        and "refresh_token=1000.refresh" in refresh.request.body
    )
    assert call.request.headers["Authorization"] == "Zoho-oauthtoken 1000.new"
    stored = zoho.token_store.load()
    assert stored.refresh_token == "1000.refresh"  # not rotated: the one we had is kept
    assert stored.extra["api_domain"] == "https://www.zohoapis.eu"


def test_an_unknown_data_centre_is_a_clear_config_error_and_a_failed_test_connection():
    bad = {**EU, "accounts_url": "https://accounts.zoho.moon"}
    with pytest.raises(ConfigError) as caught:
        ZohoConnector.validate_config(bad)
    assert caught.value.field == "accounts_url" and "unknown Zoho data centre" in str(caught.value)
    result = connector(bad).test_connection()
    assert (
        not result.ok
        and "unknown Zoho data centre" in result.message
        and "accounts.zoho.eu" in result.message
    )


def test_a_grant_whose_api_domain_is_another_data_centres_is_refused():
    zoho = connector()
    with pytest.raises(ConfigError):
        zoho.accept_tokens(Tokens(access_token="a", extra={"api_domain": "https://www.zohoapis.com"}))
    good = Tokens(access_token="a", extra={"api_domain": "https://www.zohoapis.eu"})
    zoho.accept_tokens(good)
    assert good.extra == {
        "api_domain": "https://www.zohoapis.eu",
        "accounts_server": "https://accounts.zoho.eu",
    }


def test_the_authorize_url_asks_the_data_centre_for_offline_access_with_comma_separated_scopes():
    url = connector().oauth_client().authorize_url(state="s", redirect_uri="https://app/cb", verifier=None)
    assert url.startswith("https://accounts.zoho.eu/oauth/v2/auth?")
    assert "access_type=offline" in url and "prompt=consent" in url
    assert "scope=ZohoCRM.modules.ALL%2CZohoCRM.settings.READ" in url


@responses.activate
def test_a_refused_refresh_token_asks_for_reauthorization():
    responses.post("https://accounts.zoho.eu/oauth/v2/token", json={"error": "invalid_code"})  # HTTP 200
    zoho = connector(expires_at=time.time() - 10)
    result = zoho.test_connection()
    assert not result.ok and "reconnect" in result.message
    assert zoho.token_store.reauth_reason


@responses.activate
def test_the_ten_refreshes_per_ten_minutes_cap_is_kept_on_our_side():
    zoho = connector(
        expires_at=time.time() - 10,
        extra={"api_domain": "https://www.zohoapis.eu", "refreshed_at": [time.time() - 60] * REFRESH_CAP},
    )
    with pytest.raises(RateLimited) as caught:
        zoho.client().org()
    assert 0 < caught.value.retry_after <= 600
    assert not responses.calls  # Zoho was not asked


@responses.activate
def test_zohos_own_refresh_refusal_waits_rather_than_failing():
    responses.post(
        "https://accounts.zoho.eu/oauth/v2/token",
        status=400,
        json={
            "error_description": "You have made too many requests continuously. Please try again after some time.",
            "error": "Access Denied",
            "status": "failure",
        },
    )
    with pytest.raises(RateLimited):
        connector(expires_at=time.time() - 10).client().org()


@responses.activate
def test_a_storm_of_429s_is_ridden_out():
    too_many = {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "too many", "status": "error"}
    for _ in range(5):
        responses.get("https://www.zohoapis.eu/crm/v7/org", status=429, json=too_many)
    responses.get("https://www.zohoapis.eu/crm/v7/org", json={"org": [{"id": "1", "company_name": "Acme"}]})
    assert connector().test_connection().ok
    assert len(responses.calls) == 6


@responses.activate
def test_a_bearer_refusal_refreshes_once_and_retries_with_the_zoho_header():
    responses.get(
        "https://www.zohoapis.eu/crm/v7/org",
        status=401,
        json={"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"},
    )
    responses.post(
        "https://accounts.zoho.eu/oauth/v2/token", json={"access_token": "1000.fresh", "expires_in": 3600}
    )
    responses.get("https://www.zohoapis.eu/crm/v7/org", json={"org": [{"id": "1"}]})
    assert connector().test_connection().ok
    assert responses.calls[-1].request.headers["Authorization"] == "Zoho-oauthtoken 1000.fresh"


@responses.activate
def test_an_empty_module_answers_204_and_pulls_nothing():
    responses.get("https://www.zohoapis.eu/crm/v7/Accounts", status=204)
    pages = list(connector().pull("company", cursor=None))
    assert pages == []
    assert "fields=" in responses.calls[0].request.url and "per_page=200" in responses.calls[0].request.url


@responses.activate
def test_the_callbacks_accounts_server_is_where_the_code_is_exchanged_and_tokens_refreshed():
    """An account in the EU connected through an integration configured for the US data centre."""
    us = {**EU, "accounts_url": "https://accounts.zoho.com"}
    responses.post(
        "https://accounts.zoho.eu/oauth/v2/token",
        json={
            "access_token": "1000.a",
            "refresh_token": "1000.r",
            "api_domain": "https://www.zohoapis.eu",
            "expires_in": 3600,
        },
    )
    probe = ZohoConnector(us, token_store=MemoryTokenStore())
    client = probe.oauth_client(
        callback={"code": "c", "location": "eu", "accounts-server": "https://accounts.zoho.eu"}
    )
    tokens = client.exchange_code(code="c", redirect_uri="https://app/cb", verifier=None)
    probe.accept_tokens(tokens)
    assert tokens.extra["accounts_server"] == "https://accounts.zoho.eu"
    assert tokens.extra["api_domain"] == "https://www.zohoapis.eu"

    tokens.expires_at = time.time() - 10
    responses.post(
        "https://accounts.zoho.eu/oauth/v2/token", json={"access_token": "1000.b", "expires_in": 3600}
    )
    responses.get("https://www.zohoapis.eu/crm/v7/org", json={"org": [{"id": "1"}]})
    assert ZohoConnector(us, token_store=MemoryTokenStore(tokens)).test_connection().ok
    assert [c.request.url for c in responses.calls][-2:] == [
        "https://accounts.zoho.eu/oauth/v2/token",
        "https://www.zohoapis.eu/crm/v7/org",
    ]


def test_an_accounts_server_that_is_not_zohos_is_refused_before_any_secret_is_sent():
    with pytest.raises(ConfigError):
        connector().oauth_client(callback={"accounts-server": "https://accounts.evil.example"})
