"""À La Carte Chat's client and connector over a ``responses``-mocked API (unit tests: the only
place mocks are allowed): retries, per-record sync results, batching, the upload cap and the SSO
token's secrecy. Bodies follow ALACARTE_WIRE.md."""

from __future__ import annotations

import json
import logging

import pytest
import responses

from connectors.alacarte.client import AlaCarteClient, api_key_auth
from connectors.alacarte.connector import AlaCarteConnector
from connectors.base import AuthError, ConfigError, ConnectorError, PermanentError
from connectors.capabilities import AttachmentTooLarge
from connectors.ratelimit import RateLimiter

BASE = "https://alacarte.example/functions/v1"
KEY = "alc_live_key_0123456789abcdef"
SYNC = f"{BASE}/api-customers-sync"
TOKEN = "sso-tok-very-secret-4242"


def make_connector(**config) -> AlaCarteConnector:
    conn = AlaCarteConnector(
        {"api_key": KEY, "base_url": BASE, "external_system": "crm", **config}, integration_id="unit"
    )
    conn.__dict__["client"] = AlaCarteClient(
        base_url=BASE,
        auth=api_key_auth(KEY),
        limiter=RateLimiter(key="unit:alacarte", rate="1000/1", storage_url="memory://"),
    )
    return conn


@pytest.fixture
def connector() -> AlaCarteConnector:
    return make_connector()


def sync_answer(request):
    """The emulator's answer in miniature: a customer without a name, or without an e-mail and a
    phone, fails alone; the rest are created (or updated when they carry ``existing``)."""
    customers = json.loads(request.body)["customers"]
    details = []
    for index, customer in enumerate(customers):
        if not customer.get("name"):
            details.append(
                {
                    "index": index,
                    "external_id": customer.get("external_id"),
                    "action": "failed",
                    "error": "name is required",
                }
            )
        elif not (customer.get("email") or customer.get("phone")):
            details.append(
                {
                    "index": index,
                    "external_id": customer.get("external_id"),
                    "action": "failed",
                    "error": "email or phone is required",
                }
            )
        else:
            details.append(
                {
                    "index": index,
                    "external_id": customer.get("external_id"),
                    "customer_id": customer.get("external_id", f"c{index}").replace("L", "cust-"),
                    "action": "created",
                    "matched_by": None,
                }
            )
    body = {"success": True, "results": {"total": len(details), "details": details}}
    return 200, {}, json.dumps(body)


def sent(call) -> dict:
    return json.loads(call.request.body)


@responses.activate
def test_a_429_waits_for_retry_after_then_succeeds(connector, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("tenacity.nap.time.sleep", waits.append)
    url = f"{BASE}/api-messages-since"
    responses.get(url, json={"error": "rate_limited"}, status=429, headers={"Retry-After": "1"})
    responses.get(url, json={"messages": [], "has_more": False})
    assert connector.test_connection().ok
    assert waits == [1.0]
    assert [c.request.headers["x-api-key"] for c in responses.calls] == [KEY, KEY]


@responses.activate
def test_a_bad_key_is_an_auth_failure_that_never_shows_the_key(connector):
    responses.get(f"{BASE}/api-messages-since", json={"error": "Invalid API key"}, status=401)
    result = connector.test_connection()
    assert not result.ok and result.details["reason"] == "auth" and KEY not in result.message
    with pytest.raises(AuthError, match="Invalid API key"):
        connector.client.messages_since("2025-01-01T00:00:00Z")


@responses.activate
def test_sync_details_become_write_results_in_input_order(connector):
    responses.add_callback(responses.POST, SYNC, callback=sync_answer)
    payloads = [
        {"external_id": "L1", "first_name": "Ana", "last_name": "Lee", "email": "ana@example.com"},
        {"external_id": "L2", "first_name": "Bo", "phone": "+353871234567"},
    ]
    results = connector.create("contact", payloads)
    assert [(r.index, r.ok, r.remote_id, r.created) for r in results] == [
        (0, True, "cust-1", True),
        (1, True, "cust-2", True),
    ]
    [body] = [sent(c)["customers"] for c in responses.calls]
    assert body[0] == {
        "external_id": "L1",
        "first_name": "Ana",
        "last_name": "Lee",
        "email": "ana@example.com",
        "external_system": "crm",
        "name": "Ana Lee",
    }
    assert body[1]["name"] == "Bo"


@responses.activate
def test_an_updated_action_is_not_a_create_and_a_missing_entry_is_uncertain(connector):
    details = [
        {"index": 0, "external_id": "L1", "customer_id": "cust-9", "action": "updated", "matched_by": "email"}
    ]
    responses.post(SYNC, json={"success": True, "results": {"details": details}})
    results = connector.create("contact", [{"email": "a@example.com"}, {"email": "b@example.com"}])
    assert results[0].ok and results[0].remote_id == "cust-9" and results[0].created is False
    assert not results[1].ok and results[1].uncertain and results[1].code == "NO_RESULT"


@responses.activate
def test_one_thousand_and_one_contacts_go_as_two_sync_calls(connector):
    responses.add_callback(responses.POST, SYNC, callback=sync_answer)
    payloads = [
        {"external_id": f"L{i}", "first_name": f"P{i}", "email": f"p{i}@example.com"} for i in range(1001)
    ]
    results = connector.create("contact", payloads)
    assert [len(sent(c)["customers"]) for c in responses.calls] == [1000, 1]
    assert [r.index for r in results] == list(range(1001))
    assert all(r.ok for r in results)
    assert results[1000].remote_id == "cust-1000"


@responses.activate
def test_an_invalid_customer_fails_alone(connector):
    responses.add_callback(responses.POST, SYNC, callback=sync_answer)
    results = connector.create(
        "contact",
        [
            {"external_id": "L1", "first_name": "Ana", "email": "ana@example.com"},
            {"external_id": "L2", "first_name": "No Contact Method"},
            {"external_id": "L3", "first_name": "Cy", "phone": "0871234567"},
        ],
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error == "email or phone is required" and not results[1].remote_id


@responses.activate
def test_a_whole_request_refused_raises_with_the_providers_words(connector):
    responses.post(SYNC, json={"error": "Body must be a JSON object", "details": "customers"}, status=400)
    with pytest.raises(PermanentError, match="Body must be a JSON object") as caught:
        connector.create("contact", [{"email": "a@example.com"}])
    assert caught.value.code == "invalid_request"


@responses.activate
def test_an_eleven_megabyte_attachment_is_refused_before_any_request(connector):
    responses.post(f"{BASE}/api-upload-attachment", json={"error": "unexpected"}, status=500)
    with pytest.raises(AttachmentTooLarge, match="10 MB"):
        connector.attachment_upload(
            filename="scan.pdf", content_type="application/pdf", data=b"x" * (11 * 1024 * 1024)
        )
    assert len(responses.calls) == 0


@responses.activate
def test_an_attachment_goes_as_the_multipart_file_field(connector):
    attachment = {
        "id": "a1",
        "file_url": "https://files.example/a1",
        "filename": "r.pdf",
        "type": "application/pdf",
        "size": 3,
    }
    responses.post(f"{BASE}/api-upload-attachment", json={"success": True, "attachment": attachment})
    assert (
        connector.attachment_upload(filename="r.pdf", content_type="application/pdf", data=b"%PD")
        == attachment["file_url"]
    )
    request = responses.calls[0].request
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="r.pdf"' in request.body and b"%PD" in request.body


@responses.activate
def test_the_sso_token_is_in_the_embed_url_only_never_in_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    connector = make_connector(sso_enabled=True, app_url="https://app.example")
    url = f"{BASE}/api-sso-generate-token"
    answer = {
        "token": TOKEN,
        "expires_at": "2025-01-01T01:00:00Z",
        "embed_url": f"https://other/embed/inbox?token={TOKEN}",
    }
    responses.post(url, json=answer)
    embed = connector.inbox_embed_url(customer_id="cust-1", expires_in=7200)
    assert embed == f"https://app.example/embed/inbox?token={TOKEN}"
    assert sent(responses.calls[0]) == {"customer_id": "cust-1", "scope": "inbox", "expires_in": 3600}
    assert TOKEN not in caplog.text
    # A refusal names no token (the provider never echoes one; our own messages never hold it).
    responses.replace(responses.POST, url, json={"error": "Customer not found"}, status=404)
    with pytest.raises(ConnectorError) as caught:
        connector.inbox_embed_url(customer_id="nobody", expires_in=600)
    assert TOKEN not in str(caught.value) and caught.value.code == "not_found"
    # An answer without a token is refused without repeating the body.
    responses.replace(responses.POST, url, json={"embed_url": f"https://x/embed?token={TOKEN}"})
    with pytest.raises(PermanentError) as caught:
        connector.inbox_embed_url(customer_id="cust-1", expires_in=600)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caplog.text


@responses.activate
def test_sso_turned_off_asks_nothing(connector):
    assert connector.inbox_embed_url(customer_id="cust-1", expires_in=600) is None
    assert len(responses.calls) == 0


@responses.activate
def test_without_an_app_url_the_providers_embed_url_is_used():
    embed = f"https://eu.alacartechat.example/embed/inbox?token={TOKEN}"
    url = f"{BASE}/api-sso-generate-token"
    responses.post(url, json={"token": TOKEN, "embed_url": embed})
    for config in ({}, {"app_url": "https://app.alacartechat.com"}):  # absent, or the catalog default
        connector = make_connector(sso_enabled=True, **config)
        assert connector.inbox_embed_url(customer_id="cust-1", expires_in=60) == embed
    responses.replace(responses.POST, url, json={"token": "a/b+c"})  # the seed's answer: a token only
    assert connector.inbox_embed_url(customer_id="cust-1", expires_in=60) == (
        "https://app.alacartechat.com/embed/inbox?token=a%2Fb%2Bc"
    )


def test_the_app_url_must_be_a_web_address():
    AlaCarteConnector.validate_config({"api_key": KEY, "app_url": "https://inbox.example"})
    with pytest.raises(ConfigError) as caught:
        AlaCarteConnector.validate_config({"api_key": KEY, "app_url": "javascript:alert(1)"})
    assert caught.value.field == "app_url"
    with pytest.raises(ConfigError, match="API key"):
        AlaCarteConnector.validate_config({})
