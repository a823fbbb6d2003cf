"""ProviderClient: retries, Retry-After, error mapping, one refresh on 401 (unit tests, `responses`)."""

import pytest
import requests
import responses

from connectors.base import AuthError, PermanentError, RateLimited, TransientError
from connectors.http import ProviderClient, bearer, parse_retry_after

BASE = "https://api.example.test"


def client(**kw) -> ProviderClient:
    return ProviderClient(base_url=BASE, auth=bearer("tok-1234567890"), timeout=2, **kw)


@responses.activate
def test_5xx_is_retried_then_succeeds():
    responses.get(f"{BASE}/x", status=503, json={"message": "busy"})
    responses.get(f"{BASE}/x", status=200, json={"ok": True})
    c = client()
    assert c.get_json("/x") == {"ok": True}
    assert c.calls == 2


@responses.activate
def test_429_waits_for_retry_after_before_retrying(monkeypatch):
    waits = []
    monkeypatch.setattr("tenacity.nap.time.sleep", waits.append)
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "2"}, json={"message": "slow down"})
    responses.get(f"{BASE}/x", status=200, json={})
    client().get_json("/x")
    assert waits == [2.0]


@responses.activate
def test_persistent_429_surfaces_as_rate_limited_after_the_attempts(monkeypatch):
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda s: None)
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "1"}, json={"message": "slow"})
    c = client(max_attempts=3)
    with pytest.raises(RateLimited) as info:
        c.get_json("/x")
    assert info.value.retry_after == 1.0 and c.calls == 3


@responses.activate
def test_4xx_is_permanent_with_the_providers_message_and_not_retried():
    responses.post(
        f"{BASE}/x",
        status=400,
        json={"message": "Property values were not valid", "category": "VALIDATION_ERROR"},
    )
    c = client()
    with pytest.raises(PermanentError) as info:
        c.post_json("/x", {})
    assert "Property values were not valid" in str(info.value)
    assert info.value.code == "VALIDATION_ERROR" and c.calls == 1


@responses.activate
def test_401_is_an_auth_error_and_never_echoes_the_token():
    responses.get(f"{BASE}/x", status=401, json={"message": "bad token tok-1234567890 Bearer tok-1234567890"})
    with pytest.raises(AuthError) as info:
        client().get_json("/x")
    assert "Bearer tok-1234567890" not in str(info.value)


@responses.activate
def test_timeouts_and_connection_errors_are_transient(monkeypatch):
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda s: None)
    responses.get(f"{BASE}/x", body=requests.Timeout())
    with pytest.raises(TransientError):
        client(max_attempts=2).get_json("/x")


class RefreshingAuth:
    def __init__(self):
        self.token, self.refreshes = "old", 0

    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def on_unauthorized(self, sent):
        self.refreshes += 1
        self.token = "new"
        return True


@responses.activate
def test_a_401_triggers_exactly_one_refresh_and_retry():
    responses.get(
        f"{BASE}/x",
        status=401,
        json={"message": "expired"},
        match=[responses.matchers.header_matcher({"Authorization": "Bearer old"})],
    )
    responses.get(
        f"{BASE}/x",
        status=200,
        json={"ok": 1},
        match=[responses.matchers.header_matcher({"Authorization": "Bearer new"})],
    )
    auth = RefreshingAuth()
    assert ProviderClient(base_url=BASE, auth=auth).get_json("/x") == {"ok": 1}
    assert auth.refreshes == 1


def test_parse_retry_after_reads_seconds_and_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") > 0
    assert parse_retry_after("soon") is None
