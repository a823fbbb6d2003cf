"""HubSpotClient's error mapping (unit tests with ``responses``: the only place mocks are allowed)."""

import pytest
import responses

from connectors.base import AuthError, PermanentError, RateLimited
from connectors.hubspot.client import HubSpotClient

BASE = "https://api.hubapi.com"


def rate_body(policy):
    return {
        "status": "error",
        "message": "You have reached your limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c",
        "policyName": policy,
        "requestId": "r",
    }


@responses.activate
def test_daily_limit_429_waits_an_hour():
    responses.get(f"{BASE}/crm/v3/objects/contacts", json=rate_body("DAILY"), status=429)
    client = HubSpotClient(base_url=BASE, max_attempts=1)
    with pytest.raises(RateLimited) as caught:
        client.list_page("contacts", limit=1)
    assert caught.value.retry_after == 3600
    assert "daily" in str(caught.value)


@responses.activate
def test_ten_second_429_waits_until_our_oldest_request_leaves_the_window():
    url = f"{BASE}/crm/v3/objects/contacts"
    responses.get(url, json={"results": []}, status=200)
    responses.get(
        url,
        json=rate_body("TEN_SECONDLY_ROLLING"),
        status=429,
        headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "2000"},
    )
    client = HubSpotClient(base_url=BASE, max_attempts=1)
    client.list_page("contacts")
    with pytest.raises(RateLimited) as caught:
        client.list_page("contacts")
    assert 1.0 < caught.value.retry_after <= 2.0


@responses.activate
def test_duplicate_contact_409_keeps_the_contact_exists_code():
    body = {
        "status": "error",
        "message": "Contact already exists. Existing ID: 2926551",
        "category": "OBJECT_ALREADY_EXISTS",
        "error": "CONTACT_EXISTS",
        "correlationId": "c",
    }
    responses.post(f"{BASE}/crm/v3/objects/contacts/batch/create", json=body, status=409)
    client = HubSpotClient(base_url=BASE, max_attempts=1)
    with pytest.raises(PermanentError) as caught:
        client.batch("contacts", "create", [{"properties": {"email": "a@b.c"}}])
    assert caught.value.code == "CONTACT_EXISTS"
    assert "Existing ID: 2926551" in str(caught.value)


@responses.activate
def test_401_is_an_auth_error_with_hubspots_message():
    body = {
        "status": "error",
        "message": "Authentication credentials not found.",
        "category": "INVALID_AUTHENTICATION",
    }
    responses.get(f"{BASE}/crm/v3/objects/contacts", json=body, status=401)
    with pytest.raises(AuthError) as caught:
        HubSpotClient(base_url=BASE, max_attempts=1).list_page("contacts")
    assert "Authentication credentials not found" in str(caught.value)
    assert caught.value.code == "INVALID_AUTHENTICATION"


@responses.activate
def test_validation_errors_read_as_hubspots_per_property_messages():
    inner = (
        '[{"isValid":false,"message":"Property \\"bogus\\" does not exist","error":"PROPERTY_DOESNT_EXIST"}]'
    )
    body = {
        "status": "error",
        "message": f"Property values were not valid: {inner}",
        "category": "VALIDATION_ERROR",
    }
    responses.post(f"{BASE}/crm/v3/objects/contacts", json=body, status=400)
    with pytest.raises(PermanentError) as caught:
        HubSpotClient(base_url=BASE, max_attempts=1).post_json("/crm/v3/objects/contacts", {})
    assert str(caught.value).endswith('Property values were not valid: Property "bogus" does not exist')
    assert caught.value.code == "VALIDATION_ERROR"


@responses.activate
def test_search_secondly_429_waits_one_second():
    responses.post(f"{BASE}/crm/v3/objects/contacts/search", json=rate_body("SECONDLY"), status=429)
    with pytest.raises(RateLimited) as caught:
        HubSpotClient(base_url=BASE, max_attempts=1).search("contacts", {})
    assert caught.value.retry_after == 1.0
