"""PipedriveClient's limits and error mapping (unit tests with ``responses``: the only place mocks
are allowed)."""

import pytest
import responses

from connectors.base import AuthError, PermanentError, RateLimited
from connectors.pipedrive import client as client_module
from connectors.pipedrive.client import PipedriveClient

BASE = "https://acme.pipedrive.com"
PERSONS = f"{BASE}/api/v2/persons"
OVER_LIMIT = {
    "success": False,
    "error": "Request over limit",
    "error_info": "See rate limiting",
    "data": None,
}


@pytest.fixture
def sleeps(monkeypatch):
    """Every sleep (ours and tenacity's: both call time.sleep), recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    return slept


@responses.activate
def test_a_429_waits_x_ratelimit_reset_and_the_request_then_succeeds(sleeps):
    responses.get(
        PERSONS, json=OVER_LIMIT, status=429, headers={"x-ratelimit-reset": "2", "x-ratelimit-remaining": "0"}
    )
    responses.get(
        PERSONS, json={"success": True, "data": [{"id": 1}], "additional_data": {"next_cursor": None}}
    )
    client = PipedriveClient(base_url=BASE)
    rows, cursor = client.list_page("persons")
    assert rows == [{"id": 1}] and cursor is None
    assert 2.0 in sleeps


@responses.activate
def test_retry_after_wins_over_the_window_reset():
    responses.get(
        PERSONS, json=OVER_LIMIT, status=429, headers={"Retry-After": "7", "x-ratelimit-reset": "2"}
    )
    client = PipedriveClient(base_url=BASE, max_attempts=1)
    with pytest.raises(RateLimited) as caught:
        client.list_page("persons")
    assert caught.value.retry_after == 7


@responses.activate
def test_an_exhausted_daily_budget_is_left_to_celery_with_an_hour_wait():
    responses.get(
        PERSONS, json=OVER_LIMIT, status=429, headers={"x-daily-requests-left": "0", "x-ratelimit-reset": "1"}
    )
    client = PipedriveClient(base_url=BASE)
    with pytest.raises(RateLimited) as caught:
        client.list_page("persons")
    assert caught.value.retry_after == 3600 and "daily" in str(caught.value)
    assert len(responses.calls) == 1  # not retried within the task: the wait is too long


@responses.activate
def test_an_empty_burst_window_makes_the_next_request_wait_its_reset(sleeps):
    ok = {"success": True, "data": [], "additional_data": {"next_cursor": None}}
    responses.get(PERSONS, json=ok, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"})
    responses.get(PERSONS, json=ok, headers={"x-ratelimit-remaining": "39", "x-ratelimit-reset": "2"})
    client = PipedriveClient(base_url=BASE)
    client.list_page("persons")
    assert sleeps == []
    client.list_page("persons")
    assert len(sleeps) == 1 and 0.5 < sleeps[0] <= 1.0


@responses.activate
def test_errors_read_error_and_error_info_and_401_is_an_auth_error():
    responses.get(
        PERSONS,
        json={
            "success": False,
            "error": "unauthorized access",
            "error_info": "Check the token",
            "data": None,
        },
        status=401,
    )
    responses.post(
        PERSONS,
        json={
            "success": False,
            "error": "Name must be given",
            "error_info": "'name' is required.",
            "data": None,
        },
        status=400,
    )
    client = PipedriveClient(base_url=BASE, max_attempts=1)
    with pytest.raises(AuthError) as auth:
        client.list_page("persons")
    assert "unauthorized access — Check the token" in str(auth.value)
    with pytest.raises(PermanentError) as refused:
        client.create("persons", {})
    assert refused.value.status == 400 and "Name must be given" in str(refused.value)


@responses.activate
def test_a_missing_record_or_webhook_is_none_or_already_gone():
    responses.get(
        f"{PERSONS}/5", json={"success": False, "error": "Person not found", "data": None}, status=404
    )
    responses.delete(
        f"{PERSONS}/5", json={"success": False, "error": "Person not found", "data": None}, status=404
    )
    responses.delete(
        f"{BASE}/api/v1/webhooks/9", json={"success": False, "error": "Webhook not found"}, status=404
    )
    client = PipedriveClient(base_url=BASE, max_attempts=1)
    assert client.get_one("persons", "5") is None
    assert client.delete("persons", "5") is False
    assert client.delete_webhook("9") is False


@responses.activate
def test_v1_lists_follow_next_start():
    def page(start, more):
        pagination = {
            "start": start,
            "limit": 500,
            "more_items_in_collection": more,
            **({"next_start": start + 500} if more else {}),
        }
        return {
            "success": True,
            "data": [{"key": f"k{start}"}],
            "additional_data": {"pagination": pagination},
        }

    responses.get(f"{BASE}/api/v1/personFields", json=page(0, True))
    responses.get(f"{BASE}/api/v1/personFields", json=page(500, False))
    client = PipedriveClient(base_url=BASE)
    assert [f["key"] for f in client.fields("personFields")] == ["k0", "k500"]
    assert "start=500" in responses.calls[1].request.url
