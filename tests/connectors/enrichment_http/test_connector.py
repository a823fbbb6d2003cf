"""The enrichment_http connector over real HTTP against its emulator (derivation rules:
connectors/enrichment_http/emulator/derive.py)."""

import math

import pytest
import requests

from connectors.base import AuthError, EnrichmentRecord, EnrichmentResult, PermanentError, TransientError
from tests.sandbox import emulator_control as control

ACME = EnrichmentResult(
    id="1",
    fields={
        "domain": "acme-saas.io",
        "industry": "SaaS",
        "employees": 780,
        "country": "US",
        "annual_revenue": 152_880_000,
        "funding_stage": "public",
        "funding_total": 600_000_000,
        "growth_rate": -19,
        "open_roles": 33,
        "summary": "Acme Saas is a SaaS company of about 780 people in US.",
    },
    score=46,
    signals=("hiring",),
)
GLOBEX = EnrichmentResult(
    id="2",
    fields={
        "domain": "globex.co.uk",
        "industry": "Consulting",
        "employees": 1639,
        "country": "GB",
        "annual_revenue": 224_543_000,
        "funding_stage": "series_b",
        "funding_total": 50_000_000,
        "growth_rate": 25,
        "open_roles": 1,
        "summary": "Globex is a Consulting company of about 1639 people in GB.",
    },
    score=48,
    signals=("funding",),
)


def contact(record_id, **fields):
    return EnrichmentRecord(id=str(record_id), type="contact", fields=fields)


def company(record_id, **fields):
    return EnrichmentRecord(id=str(record_id), type="company", fields=fields)


def requests_seen(base: str) -> int:
    return control(base, "state", {})["requests"]


def test_known_inputs_get_exact_results(connector):
    results = connector.enrich(
        [
            contact(1, email="ana@acme-saas.io", first_name="Ana"),
            company(2, domain="www.globex.co.uk", name="Globex"),
            contact(3, email="joe@gmail.com"),
            company(4, website="https://paybright.de/about"),
        ]
    )
    assert results[:3] == [ACME, GLOBEX, EnrichmentResult(id="3", fields={}, score=None, signals=())]
    paybright = results[3]
    assert (paybright.fields["industry"], paybright.fields["country"], paybright.fields["domain"]) == (
        "Fintech",
        "DE",
        "paybright.de",
    )
    assert paybright.signals == ("hiring", "funding")


def test_a_domain_found_earlier_wins_over_the_email(connector):
    """The builtin provider's domain (a contact with a free-mail address linked to a company)."""
    [result] = connector.enrich([contact(1, email="ana@gmail.com", domain="acme-saas.io")])
    assert result.fields == ACME.fields and result.score == ACME.score


def test_the_emulator_answers_the_same_at_both_of_its_addresses(config, sandbox_url):
    body = {"records": [{"id": "1", "type": "contact", "fields": {"email": "ana@acme-saas.io"}}]}
    headers = {"Authorization": f"Bearer {config['api_key']}"}
    answers = [
        requests.post(f"{sandbox_url}/{mount}/enrich", json=body, headers=headers, timeout=10)
        for mount in ("enrichment", "enrichment_http")
    ]
    assert config["base_url"] == f"{sandbox_url}/enrichment"
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["results"][0]["score"] == ACME.score


@pytest.mark.parametrize("count", [1, 50, 51, 120])
def test_records_go_in_batches_of_max_batch(base, connector, count):
    assert connector.batch_size == 50
    records = [contact(i, email=f"p{i}@firm{i}.com") for i in range(count)]
    results = connector.enrich(records)
    assert [r.id for r in results] == [str(i) for i in range(count)]
    assert all(r.fields["domain"] == f"firm{i}.com" for i, r in enumerate(results))
    assert connector.client.calls == requests_seen(base) == math.ceil(count / 50)


def test_a_smaller_max_batch_sends_more_requests(base, config, make_connector):
    connector = make_connector({**config, "max_batch": 7})
    connector.enrich([contact(i, email=f"p{i}@firm.com") for i in range(20)])
    assert connector.client.calls == requests_seen(base) == 3


def test_a_record_error_fails_only_that_record(connector):
    results = connector.enrich(
        [
            contact(1, email="ana@acme-saas.io"),
            contact(2, first_name="Nameless"),
            contact(3, email="not-an-address"),
            company(4, domain="globex.co.uk"),
        ]
    )
    assert [r.id for r in results] == ["1", "2", "3", "4"]
    assert results[0] == ACME and results[3].fields == GLOBEX.fields
    assert (results[1].code, results[1].error) == (
        "insufficient_input",
        "give an email or a domain to enrich this record",
    )
    assert results[1].fields == {} and results[1].score is None
    assert results[2].code == "invalid_input" and "not-an-address" in results[2].error


def test_rate_limits_are_waited_out_then_the_batch_succeeds(base, connector):
    control(base, "faults", {"ratelimit_count": 2})
    [result] = connector.enrich([contact(1, email="ana@acme-saas.io")])
    assert result == ACME
    assert control(base, "state", {})["ratelimit_count"] == 0
    assert connector.client.calls == 3


def test_server_errors_are_retried_then_the_batch_succeeds(base, connector):
    control(base, "faults", {"fail_status": 502, "fail_count": 2})
    assert connector.enrich([contact(1, email="ana@acme-saas.io")]) == [ACME]
    assert connector.client.calls == 3


def test_a_lasting_outage_is_a_transient_error_for_the_caller_to_retry(base, connector):
    control(base, "faults", {"fail_status": 503, "fail_count": 50})
    with pytest.raises(TransientError, match="503"):
        connector.enrich([contact(1, email="ana@acme-saas.io")])
    assert connector.client.calls == connector.client.max_attempts


def test_a_wrong_key_is_a_clear_auth_error(config, make_connector):
    bad = make_connector({**config, "api_key": "wrong-key-123"})
    with pytest.raises(AuthError) as refused:
        bad.enrich([contact(1, email="ana@acme-saas.io")])
    assert "invalid API key" in str(refused.value) and "wrong-key-123" not in str(refused.value)
    assert refused.value.code == "unauthorized" and bad.client.calls == 1  # never retried
    result = bad.test_connection()
    assert not result.ok and result.details == {"reason": "auth"}
    assert "rejected the credentials: invalid API key" in result.message
    assert result.message.endswith("Check the API key.") and "wrong-key-123" not in result.message


def test_connection_succeeds_without_spending_a_record(base, connector):
    result = connector.test_connection()
    assert result.ok and result.message == f"Connected to the enrichment service at {base}"
    assert result.details == {"base_url": base, "max_batch": 50}


def test_connection_to_an_address_without_the_service_says_so(sandbox_url, config, make_connector):
    result = make_connector({**config, "base_url": f"{sandbox_url}/enrichment/enrich"}).test_connection()
    assert not result.ok and result.details == {"reason": "refused"}
    assert f"{sandbox_url}/enrichment/enrich/enrich did not accept the request" in result.message
    assert "without /enrich" in result.message


def test_connection_to_an_unreachable_host_says_so(config, make_connector):
    result = make_connector({**config, "base_url": "http://127.0.0.1:9"}).test_connection()
    assert not result.ok and result.details == {"reason": "unreachable"}
    assert result.message.startswith("Could not reach http://127.0.0.1:9/enrich: could not connect")


def test_a_stalled_service_times_out(base, config, make_connector):
    control(base, "faults", {"latency_ms": 1500})
    result = make_connector({**config, "timeout_s": 1}).test_connection()
    assert not result.ok and result.details == {"reason": "unreachable"}
    assert "did not answer within 1 s" in result.message


def test_a_batch_over_the_services_cap_is_refused_whole(base, config, make_connector):
    connector = make_connector({**config, "max_batch": 150})
    with pytest.raises(PermanentError) as refused:
        connector.enrich([contact(i, email=f"p{i}@firm.com") for i in range(101)])
    assert refused.value.code == "batch_too_large" and refused.value.status == 400
    assert "at most 100 records per request, got 101" in str(refused.value)
    control(base, "settings", {"max_batch": 10})
    small = make_connector(config)
    with pytest.raises(PermanentError, match="at most 10 records"):
        small.enrich([contact(i, email=f"p{i}@firm.com") for i in range(11)])


def test_the_emulator_refuses_malformed_requests_in_its_error_shape(base, config):
    headers = {"Authorization": f"Bearer {config['api_key']}"}
    no_key = requests.post(f"{base}/enrich", json={"records": []}, timeout=10)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "unauthorized"
    not_a_list = requests.post(f"{base}/enrich", json={"records": {}}, headers=headers, timeout=10)
    assert not_a_list.status_code == 400 and not_a_list.json()["error"]["code"] == "invalid_request"
    no_id = requests.post(
        f"{base}/enrich", json={"records": [{"type": "contact"}]}, headers=headers, timeout=10
    )
    assert no_id.status_code == 400 and no_id.json()["error"]["message"] == "records[0] needs an id"
    get = requests.get(f"{base}/enrich", headers=headers, timeout=10)
    assert get.status_code == 405
    limited = requests.post(f"{base}/_control/faults", json={"ratelimit_count": 1}, timeout=10)
    assert limited.status_code == 200
    throttled = requests.post(f"{base}/enrich", json={"records": []}, headers=headers, timeout=10)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
