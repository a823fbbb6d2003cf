"""The enrichment client against a mocked service (responses): the request it sends, how it reads
answers and errors. Behaviour over real HTTP is in test_connector.py."""

import json

import pytest
import responses

from connectors.base import AuthError, EnrichmentRecord, PermanentError
from connectors.enrichment_http.client import EnrichmentClient
from connectors.enrichment_http.connector import EnrichmentHttpConnector
from connectors.http import bearer

BASE = "https://enrich.example.com/v1"


def client() -> EnrichmentClient:
    return EnrichmentClient(base_url=BASE, auth=bearer("key-0123456789"), timeout=2)


@responses.activate
def test_it_posts_the_records_with_the_bearer_key_and_returns_the_results():
    responses.post(f"{BASE}/enrich", json={"results": [{"id": "7", "fields": {"industry": "SaaS"}}]})
    records = [{"id": "7", "type": "contact", "fields": {"email": "a@acme.com"}}]
    assert client().enrich(records) == [{"id": "7", "fields": {"industry": "SaaS"}}]
    [call] = responses.calls
    assert call.request.headers["Authorization"] == "Bearer key-0123456789"
    assert json.loads(call.request.body) == {"records": records}


@responses.activate
def test_a_5xx_is_retried_because_enriching_only_reads():
    responses.post(f"{BASE}/enrich", status=503, json={"error": {"code": "busy", "message": "later"}})
    responses.post(f"{BASE}/enrich", json={"results": []})
    assert client().enrich([]) == []
    assert len(responses.calls) == 2


@responses.activate
def test_error_bodies_give_their_message_and_code():
    responses.post(
        f"{BASE}/enrich", status=401, json={"error": {"code": "unauthorized", "message": "bad key"}}
    )
    with pytest.raises(AuthError, match="bad key") as refused:
        client().enrich([])
    assert refused.value.code == "unauthorized"


@responses.activate
def test_an_answer_without_results_is_refused():
    responses.post(f"{BASE}/enrich", json={"data": []})
    with pytest.raises(PermanentError, match='without a "results" list'):
        client().enrich([])


@responses.activate
def test_the_connector_reads_scores_signals_errors_and_missing_results():
    responses.post(
        f"{BASE}/enrich",
        json={
            "results": [
                {
                    "id": "1",
                    "fields": {"industry": "SaaS"},
                    "score": 104.6,
                    "signals": ["Hiring", "hiring", ""],
                },
                {"id": "2", "error": "no such company"},
                {"id": "9", "fields": {"industry": "ignored: never sent"}},
                {"id": "4", "fields": ["not", "an", "object"]},
            ]
        },
    )
    connector = EnrichmentHttpConnector({"base_url": BASE, "api_key": "key-0123456789"}, integration_id="t")
    records = [
        EnrichmentRecord(id=str(i), type="company", fields={"domain": "acme.com"}) for i in (1, 2, 3, 4)
    ]
    one, two, three, four = connector.enrich(records)
    assert (one.fields, one.score, one.signals, one.error) == ({"industry": "SaaS"}, 100, ("hiring",), "")
    assert (two.code, two.error) == ("error", "no such company")
    assert (three.code, three.error) == (
        "no_result",
        "the enrichment service returned no result for this record",
    )
    assert (four.code, four.fields) == ("bad_result", {})
