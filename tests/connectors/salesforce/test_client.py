"""SalesforceClient's error mapping and wire helpers (HTTP mocked with ``responses``: a unit of the client)."""

import pytest
import responses

from connectors.base import AuthError, PermanentError, RateLimited, TransientError
from connectors.http import StaticAuth
from connectors.salesforce.client import (
    SalesforceClient,
    activity_kind,
    case_safe_id,
    format_datetime,
    normalize_id,
    parse_datetime,
    remote_type_for_kind,
)

BASE = "https://acme.my.salesforce.test/services/data/v62.0"


def client() -> SalesforceClient:
    return SalesforceClient(base_url=BASE, auth=StaticAuth({"Authorization": "Bearer t"}), timeout=5)


@responses.activate
def test_the_daily_limit_403_is_rate_limited_for_an_hour_and_not_retried_in_process():
    responses.get(
        f"{BASE}/limits/",
        status=403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    c = client()
    with pytest.raises(RateLimited) as exc:
        c.limits()
    assert exc.value.retry_after == 3600 and c.calls == 1
    assert "REQUEST_LIMIT_EXCEEDED" in str(exc.value)


@responses.activate
def test_the_concurrency_limit_403_is_retried_shortly():
    responses.get(
        f"{BASE}/limits/",
        status=403,
        json=[{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    responses.get(f"{BASE}/limits/", json={"DailyApiRequests": {"Max": 5, "Remaining": 4}})
    c = client()
    assert c.limits()["DailyApiRequests"]["Remaining"] == 4 and c.calls == 2


@responses.activate
def test_other_403s_are_permanent_with_the_error_code():
    responses.get(
        f"{BASE}/limits/",
        status=403,
        json=[{"message": "insufficient access rights on object id", "errorCode": "INSUFFICIENT_ACCESS"}],
    )
    with pytest.raises(PermanentError) as exc:
        client().limits()
    assert exc.value.code == "INSUFFICIENT_ACCESS" and not isinstance(exc.value, TransientError)


@responses.activate
def test_503_is_retried_and_401_is_an_auth_error():
    responses.get(
        f"{BASE}/limits/", status=503, json=[{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}]
    )
    responses.get(f"{BASE}/limits/", json={"DailyApiRequests": {"Max": 1, "Remaining": 1}})
    c = client()
    assert c.limits()["DailyApiRequests"]["Max"] == 1 and c.calls == 2
    responses.get(
        f"{BASE}/sobjects/Contact/x",
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    with pytest.raises(AuthError) as exc:
        c.get_json("/sobjects/Contact/x")
    assert exc.value.code == "INVALID_SESSION_ID"


@responses.activate
def test_query_pages_join_next_records_url_to_the_host():
    responses.get(
        f"{BASE}/query/",
        json={
            "totalSize": 2,
            "done": False,
            "records": [{"Id": "1"}],
            "nextRecordsUrl": "/services/data/v62.0/query/01gX-1",
        },
    )
    responses.get(
        "https://acme.my.salesforce.test/services/data/v62.0/query/01gX-1",
        json={"totalSize": 2, "done": True, "records": [{"Id": "2"}]},
    )
    pages = list(client().query_pages("SELECT Id FROM Contact", batch_size=50))
    assert [p.body["records"][0]["Id"] for p in pages] == ["1", "2"]
    assert responses.calls[0].request.headers["Sforce-Query-Options"] == "batchSize=200"
    assert responses.calls[1].request.headers["Sforce-Query-Options"] == "batchSize=200"


def test_collections_refuse_more_than_200_before_sending():
    with pytest.raises(ValueError, match="200"):
        client().composite_create([{}] * 201)


def test_ids_datetimes_and_kinds():
    assert case_safe_id("0015000000Gv7qJ") == "0015000000Gv7qJAAR"
    assert normalize_id("0015000000Gv7qJ") == "0015000000Gv7qJAAR" == normalize_id("0015000000Gv7qJAAR")
    assert normalize_id("0015000000gv7qJAAR") is None and normalize_id("'; DROP") is None
    moment = parse_datetime("2024-01-01T10:00:00.123+0000")
    assert format_datetime(moment) == "2024-01-01T10:00:00.123+0000"
    assert parse_datetime("2024-01-01T11:00:00+01:00") == parse_datetime("2024-01-01T10:00:00Z")
    assert activity_kind("Task", {"TaskSubtype": "Call"}) == "call" and activity_kind("Event", {}) == "event"
    assert remote_type_for_kind("meeting") == "Event" and remote_type_for_kind("note") == "ContentNote"
    assert remote_type_for_kind("note", note_object="Note") == "Note" and activity_kind("Note", {}) == "note"
    assert remote_type_for_kind("message") == "Task" and remote_type_for_kind("fax") is None
    assert (
        activity_kind("Task", {"Type": "Message"}) == "message"
        and activity_kind("Task", {"Type": "Other"}) == "task"
    )
