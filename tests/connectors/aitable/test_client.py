"""AITableClient's envelope reading, paging, retries and rate-limit keys (unit tests with
``responses``: the only place mocks are allowed). Bodies as providers.md §4 shows them."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.aitable.client import AITableClient, rate_scope, token_key
from connectors.base import AuthError, ConfigError, PermanentError, RateLimited, TransientError
from connectors.http import bearer
from connectors.ratelimit import RateLimiter

BASE = "https://aitable.ai"
DST = "dstLeads0001"
RECORDS = f"{BASE}/fusion/v1/datasheets/{DST}/records"
TOKEN = "usk-secret-token-1"


def envelope(data):
    return {"success": True, "code": 200, "message": "SUCCESS", "data": data}


def failure(code, message):
    return {"success": False, "code": code, "message": message, "data": None}


def record(n, updated=1700000000000):
    return {
        "recordId": f"rec{n:08d}",
        "fields": {"Client Name": f"Client {n}"},
        "createdAt": 1700000000000,
        "updatedAt": updated,
    }


@pytest.fixture
def sleeps(monkeypatch):
    """tenacity's and the limiter's sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    return slept


def make_client(**kwargs) -> AITableClient:
    kwargs.setdefault("requests_per_second", 50)
    return AITableClient(
        base_url=BASE,
        auth=bearer(TOKEN),
        token=TOKEN,
        limiter_factory=lambda scope: RateLimiter(
            key=f"test:{scope}", rate="1000/1", storage_url="memory://"
        ),
        **kwargs,
    )


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@responses.activate
def test_an_http_200_error_envelope_is_an_error_never_success():
    responses.get(RECORDS, json=failure(400, "api_params_pagesize_max_error: pageSize must be ≤ 1000"))
    with pytest.raises(PermanentError) as caught:
        make_client().records_page(DST)
    assert caught.value.code == "400" and "pageSize" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (301, ConfigError),
        (602, ConfigError),
        (211, PermanentError),
        (212, PermanentError),
        (214, PermanentError),
        (426, PermanentError),
        (428, PermanentError),
    ],
)
@responses.activate
def test_envelope_codes_map_to_errors(code, error):
    responses.get(RECORDS, json=failure(code, "refused"))
    with pytest.raises(error) as caught:
        make_client().records_page(DST)
    if code == 301:
        assert DST in str(caught.value) and caught.value.field == "datasheets"


@responses.activate
def test_bad_token_is_an_auth_error_and_403_a_refusal():
    responses.get(RECORDS, json=failure(401, "api_unauthorized"), status=401)
    with pytest.raises(AuthError):
        make_client().records_page(DST)
    responses.replace(responses.GET, RECORDS, json=failure(403, "usage quota exceeded"), status=403)
    with pytest.raises(PermanentError) as caught:
        make_client().records_page(DST)
    assert not isinstance(caught.value, AuthError) and caught.value.status == 403


@responses.activate
def test_a_429_without_retry_after_waits_a_second_and_is_retried(sleeps):
    responses.get(RECORDS, json=failure(429, "The API request frequency is too high"), status=429)
    responses.get(
        RECORDS, json=envelope({"total": 1, "pageNum": 1, "pageSize": 1000, "records": [record(1)]})
    )
    data = make_client().records_page(DST)
    assert [r["recordId"] for r in data["records"]] == ["rec00000001"]
    assert 1.0 in sleeps and len(responses.calls) == 2


@responses.activate
def test_a_429_envelope_under_http_200_is_rate_limited_too(sleeps):
    responses.get(RECORDS, json=failure(429, "too frequent"))
    with pytest.raises(RateLimited) as caught:
        make_client(max_attempts=1).records_page(DST)
    assert caught.value.retry_after == 1.0


@responses.activate
def test_a_5xx_is_transient_and_retried(sleeps):
    responses.get(RECORDS, json=failure(500, "server error"), status=500)
    responses.get(RECORDS, json=envelope({"total": 0, "pageNum": 1, "pageSize": 1000, "records": []}))
    assert make_client().records_page(DST)["records"] == []
    responses.replace(responses.GET, RECORDS, body="<html>bad gateway</html>", status=200)
    with pytest.raises(TransientError):
        make_client(max_attempts=1).records_page(DST)


@responses.activate
def test_paging_stops_when_page_num_times_page_size_reaches_total():
    pages = [
        envelope(
            {
                "total": 2500,
                "pageNum": n,
                "pageSize": 1000,
                "records": [record(n * 10000 + i) for i in range(size)],
            }
        )
        for n, size in ((1, 1000), (2, 1000), (3, 500))
    ]
    for page in pages:
        responses.get(RECORDS, json=page)
    seen = [len(data["records"]) for data in make_client().iter_records(DST)]
    assert seen == [1000, 1000, 500] and len(responses.calls) == 3
    params = [query(call) for call in responses.calls]
    assert [p["pageNum"] for p in params] == [["1"], ["2"], ["3"]]
    assert all(p["pageSize"] == ["1000"] and p["fieldKey"] == ["name"] for p in params)


@responses.activate
def test_list_parameters_go_as_repeated_keys_as_the_sdk_sends_them():
    responses.get(RECORDS, json=envelope({"total": 2, "pageNum": 1, "pageSize": 1000, "records": []}))
    responses.delete(RECORDS, json=envelope({"records": []}))
    client = make_client()
    client.records_by_ids(DST, ["rec1", "rec2"])
    client.delete_records(DST, ["rec1", "rec2"])
    assert query(responses.calls[0])["recordIds"] == ["rec1", "rec2"]
    assert query(responses.calls[1])["recordIds"] == ["rec1", "rec2"]
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_rate_limits_are_kept_per_token_and_datasheet_or_space():
    client = AITableClient(base_url=BASE, auth=bearer(TOKEN), token=TOKEN, requests_per_second=5)
    leads = client.limiter_for(f"/fusion/v1/datasheets/{DST}/records")
    assert client.limiter_for(f"/fusion/v1/datasheets/{DST}/fields") is leads
    assert client.limiter_for("/fusion/v1/datasheets/dstOrders0001/records") is not leads
    assert leads.key == f"aitable:{token_key(TOKEN)}:{DST}" and TOKEN not in leads.key
    assert leads.spacing == pytest.approx(1 / (5 * 0.95))  # 5 per second, queued, not refused
    assert rate_scope("/fusion/v1/spaces/spcAbc12345/datasheets/dstX12345/fields") == "dstX12345"
    assert rate_scope("/fusion/v1/spaces/spcAbc12345/nodes") == "spcAbc12345"
    assert rate_scope("/fusion/v1/spaces") == "spaces"


@responses.activate
def test_requests_beyond_the_rate_queue_instead_of_failing(sleeps):
    responses.get(RECORDS, json=envelope({"total": 0, "pageNum": 1, "pageSize": 1000, "records": []}))
    client = AITableClient(
        base_url=BASE,
        auth=bearer(TOKEN),
        token=TOKEN,
        limiter_factory=lambda scope: RateLimiter(key=f"queue:{scope}", rate="5/1", storage_url="memory://"),
    )
    for _ in range(3):
        client.records_page(DST)
    assert len(responses.calls) == 3 and len([s for s in sleeps if s > 0]) >= 2
