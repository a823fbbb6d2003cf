"""GoHighLevelClient's headers, paging, limits and error mapping (unit tests with ``responses``: the
only place mocks are allowed)."""

import json

import pytest
import responses

from connectors.base import AuthError, PermanentError, RateLimited, TransientError
from connectors.gohighlevel import client as client_module
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.http import bearer

BASE = "https://services.leadconnectorhq.com"
LOC = "ve9EPM428h8vShlRW1KT"
SEARCH = f"{BASE}/contacts/search"


@pytest.fixture
def sleeps(monkeypatch):
    """Every sleep (ours and tenacity's: both call time.sleep), recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    return slept


def make(**kwargs) -> GoHighLevelClient:
    return GoHighLevelClient(base_url=BASE, auth=bearer("pit-token"), location_id=LOC, **kwargs)


@responses.activate
def test_every_request_sends_the_version_header_and_the_bearer_key():
    responses.get(f"{BASE}/opportunities/pipelines", json={"pipelines": []})
    make(version="v3").pipelines()
    sent = responses.calls[0].request
    assert sent.headers["Version"] == "v3" and sent.headers["Authorization"] == "Bearer pit-token"
    assert "locationId=" + LOC in sent.url


@responses.activate
def test_search_pages_by_search_after_until_a_short_page(monkeypatch):
    monkeypatch.setattr(client_module, "SEARCH_PAGE", 2)
    responses.post(
        SEARCH,
        json={
            "contacts": [{"id": "a", "searchAfter": [1, "a"]}, {"id": "b", "searchAfter": [2, "b"]}],
            "total": 3,
        },
    )
    responses.post(SEARCH, json={"contacts": [{"id": "c", "searchAfter": [3, "c"]}], "total": 3})
    pages = list(make().iter_contacts([{"field": "dateUpdated", "operator": "range", "value": {"gt": "x"}}]))
    assert [[c["id"] for c in page] for page, _ in pages] == [["a", "b"], ["c"]]
    first, second = (json.loads(call.request.body) for call in responses.calls)
    assert first["page"] == 1 and "searchAfter" not in first and first["locationId"] == LOC
    assert second["searchAfter"] == [2, "b"] and "page" not in second
    assert first["sort"] == [{"field": "dateUpdated", "direction": "asc"}]


@responses.activate
def test_opportunities_page_by_start_after():
    url = f"{BASE}/opportunities/search"
    responses.get(
        url, json={"opportunities": [{"id": "o1"}], "meta": {"startAfterId": "o1", "startAfter": 1700}}
    )
    responses.get(url, json={"opportunities": [{"id": "o2"}], "meta": {"startAfterId": None}})
    assert [[o["id"] for o in page] for page in make().iter_opportunities()] == [["o1"], ["o2"]]
    assert (
        "startAfterId=o1" in responses.calls[1].request.url
        and "location_id=" + LOC in responses.calls[1].request.url
    )


@responses.activate
def test_a_422_reads_its_array_message():
    responses.post(
        f"{BASE}/contacts/",
        status=422,
        json={
            "statusCode": 422,
            "message": ["email must be an email", "phone must be a valid phone number"],
            "error": "Unprocessable Entity",
        },
    )
    with pytest.raises(PermanentError) as caught:
        make().create_contact({"email": "x"})
    assert "email must be an email; phone must be a valid phone number" in str(caught.value)
    assert caught.value.status == 422 and caught.value.code == "422"


@responses.activate
def test_an_unknown_contact_is_none_and_a_bad_token_is_an_auth_error():
    responses.get(
        f"{BASE}/contacts/nope", status=400, json={"statusCode": 400, "message": "Contact not found"}
    )
    responses.get(
        f"{BASE}/contacts/any",
        status=401,
        json={
            "statusCode": 401,
            "message": "Invalid token: access token is invalid",
            "error": "Unauthorized",
        },
    )
    assert make().contact("nope") is None
    with pytest.raises(AuthError, match="Invalid token"):
        make().contact("any")


@responses.activate
def test_a_429_waits_retry_after_then_succeeds(sleeps):
    url = f"{BASE}/opportunities/pipelines"
    responses.get(
        url,
        status=429,
        json={"statusCode": 429, "message": "Too Many Requests"},
        headers={"Retry-After": "3"},
    )
    responses.get(url, json={"pipelines": [{"id": "p"}]})
    assert make().pipelines() == [{"id": "p"}]
    assert 3.0 in sleeps


@responses.activate
def test_a_429_without_retry_after_waits_the_burst_interval():
    responses.get(
        f"{BASE}/opportunities/pipelines",
        status=429,
        json={"statusCode": 429, "message": "Too Many Requests"},
        headers={"X-RateLimit-Interval-Milliseconds": "10000", "X-RateLimit-Remaining": "0"},
    )
    with pytest.raises(RateLimited) as caught:
        make(max_attempts=1).pipelines()
    assert caught.value.retry_after == 10.0


@responses.activate
def test_an_exhausted_day_is_not_waited_for_here(sleeps):
    responses.get(
        f"{BASE}/opportunities/pipelines",
        status=429,
        json={"statusCode": 429, "message": "Too Many Requests"},
        headers={"X-RateLimit-Daily-Remaining": "0"},
    )
    with pytest.raises(RateLimited) as caught:
        make().pipelines()
    assert caught.value.retry_after == 3600 and len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_an_empty_burst_window_holds_the_next_request(sleeps):
    url = f"{BASE}/opportunities/pipelines"
    responses.get(
        url,
        json={"pipelines": []},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Milliseconds": "2000"},
    )
    responses.get(url, json={"pipelines": []}, headers={"X-RateLimit-Remaining": "99"})
    client = make()
    client.pipelines()
    client.pipelines()
    assert len(sleeps) == 1 and 1.5 < sleeps[0] <= 2.0
    assert (
        client.usage() == [{"label": "Burst window", "value": "99 of 100 per 10 s"}] or client.usage() == []
    )


@responses.activate
def test_usage_rows_come_from_the_last_answers_headers():
    responses.get(
        f"{BASE}/opportunities/pipelines",
        json={"pipelines": []},
        headers={
            "X-RateLimit-Limit-Daily": "200000",
            "X-RateLimit-Daily-Remaining": "199990",
            "X-RateLimit-Max": "100",
            "X-RateLimit-Remaining": "97",
            "X-RateLimit-Interval-Milliseconds": "10000",
        },
    )
    client = make()
    client.pipelines()
    assert client.usage() == [
        {"label": "Requests left today", "value": "199990 of 200000"},
        {"label": "Burst window", "value": "97 of 100 per 10 s"},
    ]


@responses.activate
def test_an_upsert_keyed_by_email_is_resent_after_an_ambiguous_failure_and_a_bare_one_is_not(sleeps):
    url = f"{BASE}/contacts/upsert"
    responses.post(url, status=502, json={"statusCode": 502, "message": "Bad Gateway"})
    responses.post(url, json={"new": True, "contact": {"id": "c1"}})
    assert make().upsert_contact({"email": "a@b.co"}, idempotent=True)["contact"]["id"] == "c1"
    responses.post(url, status=502, json={"statusCode": 502, "message": "Bad Gateway"})
    with pytest.raises(TransientError, match="502"):
        make().upsert_contact({"firstName": "Only"}, idempotent=False)
