"""The service-account flow: key files checked on save, RS256 JWTs verified by the emulator,
tokens cached and re-signed, and Google's refusals as clear errors."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
import requests
from google.auth import jwt as google_jwt
from google.oauth2 import service_account

from connectors.base import AuthError, ConfigError, MemoryTokenStore, RateLimited, Tokens
from connectors.google_analytics.connector import GoogleAnalyticsConnector
from connectors.google_analytics.credentials import JWT_BEARER, load_key
from tests.connectors.google_analytics.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def exchange(key_file: dict, assertion: str) -> requests.Response:
    return requests.post(
        key_file["token_uri"], data={"grant_type": JWT_BEARER, "assertion": assertion}, timeout=10
    )


def test_a_jwt_signed_with_the_generated_key_file_is_verified_by_the_emulator(key_file):
    key = load_key(json.dumps(key_file))
    resp = exchange(key_file, key.assertion())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and "refresh_token" not in body
    header = json.loads(google_jwt._helpers.padded_urlsafe_b64decode(key.assertion().split(".")[0]))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": key_file["private_key_id"]}


def test_a_jwt_signed_by_another_key_is_invalid_grant(config, key_file):
    other = control(config, "service-account", {"grant": False})["key_file"]
    forged = {**other, "private_key_id": key_file["private_key_id"], "client_email": key_file["client_email"]}
    resp = exchange(key_file, load_key(json.dumps(forged)).assertion())
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


def test_a_jwt_living_longer_than_an_hour_is_refused(key_file):
    credentials = service_account.Credentials.from_service_account_info(key_file)
    now = int(time.time())
    claims = {
        "iss": key_file["client_email"],
        "aud": key_file["token_uri"],
        "scope": "https://www.googleapis.com/auth/analytics.readonly",
        "iat": now,
        "exp": now + 7200,
    }
    resp = exchange(key_file, google_jwt.encode(credentials.signer, claims).decode())
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert "short-lived" in resp.json()["error_description"]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("not json at all", "not valid JSON"),
        ('{"client_email": "a@b.iam.gserviceaccount.com"}', "no private_key"),
        ('{"private_key": "x"}', "no client_email"),
        (
            '{"client_email": "a@b.example", "private_key": "-----BEGIN PRIVATE KEY-----\\ngarbage\\n-----END PRIVATE KEY-----\\n"}',
            "not a PEM private key",
        ),
        ("[1, 2]", "JSON object"),
    ],
)
def test_a_bad_key_file_is_a_clear_config_error_on_its_field(raw, says):
    config = {"serviceAccountKey": raw, "propertyId": "123456789"}
    with pytest.raises(ConfigError, match=says) as caught:
        GoogleAnalyticsConnector.validate_config(config)
    assert caught.value.field == "serviceAccountKey"
    assert "garbage" not in str(caught.value)


def test_config_channels_must_be_whole():
    with pytest.raises(ConfigError) as caught:
        GoogleAnalyticsConnector.validate_config({"measurementId": "G-ABC12345"})
    assert caught.value.field == "apiSecret"
    with pytest.raises(ConfigError) as caught:
        GoogleAnalyticsConnector.validate_config({})
    assert caught.value.field == "measurementId"


def test_the_token_is_cached_in_the_store_and_resigned_when_it_expires(connector, store, ga):
    connector.run_report(
        {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    )
    first = store.tokens
    assert first.access_token.startswith("ya29") and first.refresh_token == ""
    assert first.extra["client_email"] == connector.service_account.client_email
    connector.run_report(
        {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    )
    assert store.tokens.access_token == first.access_token  # reused
    store.tokens = Tokens(access_token=first.access_token, expires_at=time.time() - 1, extra=first.extra)
    fresh = GoogleAnalyticsConnector(connector.config, token_store=store)
    fresh.run_report(
        {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    )
    assert store.tokens.access_token != first.access_token


def test_a_revoked_cached_token_is_replaced_by_signing_again(config, ga):
    key = json.loads(config["serviceAccountKey"])
    stale = Tokens(
        access_token="ya29-revoked",
        expires_at=time.time() + 3000,
        extra={"client_email": key["client_email"], "private_key_id": key["private_key_id"]},
    )
    store = MemoryTokenStore(stale)
    GoogleAnalyticsConnector(config, token_store=store).run_report(
        {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    )
    assert store.tokens.access_token != "ya29-revoked"


def test_permission_denied_names_the_service_account_to_add(config, key_file):
    control(config, "property", {"revoke": [key_file["client_email"]]})
    connector = GoogleAnalyticsConnector(config, token_store=MemoryTokenStore())
    with pytest.raises(AuthError) as caught:
        list(connector.report_rows(*_week()))
    message = str(caught.value)
    assert (
        key_file["client_email"] in message
        and "Viewer" in message
        and caught.value.code == "PERMISSION_DENIED"
    )
    result = connector.test_connection()
    assert not result.ok and key_file["client_email"] in result.message
    assert "PRIVATE KEY" not in result.message


def test_an_unknown_property_is_permission_denied_too(config):
    connector = GoogleAnalyticsConnector(
        {**config, "propertyId": "999999999"}, token_store=MemoryTokenStore()
    )
    with pytest.raises(AuthError, match="property 999999999"):
        list(connector.report_rows(*_week()))


def test_a_deleted_key_is_reported_as_rejected(config, ga):
    ga.records("sa_key").delete()
    result = GoogleAnalyticsConnector(config, token_store=MemoryTokenStore()).test_connection()
    assert not result.ok and result.details["reason"] == "auth"
    assert "the key was rejected" in result.message and "invalid_grant" in result.message


def test_an_exhausted_quota_is_rate_limited_with_the_wait_until_the_next_hour(connector, config):
    control(config, "settings", {"tokens_per_hour": 25, "tokens_per_report": 10})
    rows = connector.run_report(
        {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    )
    assert rows["kind"] == "analyticsData#runReport"
    connector.run_report(
        {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    )
    with pytest.raises(RateLimited) as caught:
        connector.run_report(
            {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
        )
    assert "RESOURCE_EXHAUSTED" in str(caught.value) and "per hour" in str(caught.value)
    assert 0 < caught.value.retry_after <= 3600


def test_the_concurrency_limit_answers_429(config, key_file):
    control(config, "settings", {"concurrent_requests": 1, "report_delay_ms": 1500})
    token = exchange(key_file, load_key(json.dumps(key_file)).assertion()).json()["access_token"]
    url = f"{config['base_url']}/v1beta/properties/{config['propertyId']}:runReport"
    body = {"dateRanges": [{"startDate": "today", "endDate": "today"}], "metrics": [{"name": "sessions"}]}
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda _: requests.post(
                    url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
                ),
                range(2),
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 429]
    refused = next(a for a in answers if a.status_code == 429).json()["error"]
    assert refused["status"] == "RESOURCE_EXHAUSTED" and refused["code"] == 429


def _week():
    return date.today() - timedelta(days=7), date.today()
