"""The À La Carte Chat emulator's inbox over real HTTP: messages-since paging (inclusive ``since``,
``has_more``), conversations by customer, sending, the 10 MB upload cap, SSO tokens and the embed
page, and the 10 requests per second limit."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import requests

from tests.connectors.alacarte.conftest import control

TEN_MB = 10 * 1024 * 1024


@pytest.fixture(autouse=True)
def _unlimited(base):
    control(base, "faults", {"rate_limit": False})


@pytest.fixture
def customer(api, base):
    body = {"customers": [{"external_id": "CRM-1", "name": "Joe Bloggs", "email": "joe@example.com"}]}
    detail = api.post(f"{base}/api-customers-sync", json=body, timeout=10).json()["results"]["details"][0]
    return detail["customer_id"]


def page(api, base, since, limit=100, **params):
    resp = api.get(
        f"{base}/api-messages-since", params={"since": since, "limit": limit, **params}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_250_messages_page_in_three_polls_of_100_from_an_inclusive_since(api, base):
    control(base, "seed", {"object": "messages", "count": 250})
    since, seen, pages = "2000-01-01T00:00:00.000Z", {}, 0
    while True:
        got = page(api, base, since)
        pages += 1
        for message in got["messages"]:
            seen.setdefault(message["id"], message)
        if not got["has_more"]:
            break
        since = got["messages"][-1]["created_at"]
        assert pages < 10
    assert pages == 3 and len(seen) == 250
    stamps = [m["created_at"] for m in seen.values()]
    assert stamps == sorted(stamps)
    assert all("attachments" not in m for m in seen.values())


def test_since_is_inclusive_and_ties_are_ordered_by_id(api, base):
    control(base, "seed", {"object": "messages", "count": 5})
    everything = page(api, base, "2000-01-01T00:00:00Z")["messages"]
    third = everything[2]
    again = page(api, base, third["created_at"])
    assert [m["id"] for m in again["messages"]] == [m["id"] for m in everything[2:]]
    assert again["has_more"] is False
    after = datetime.fromisoformat(everything[-1]["created_at"].replace("Z", "+00:00")) + timedelta(
        milliseconds=1
    )
    assert page(api, base, after.isoformat())["messages"] == []
    limited = page(api, base, "2000-01-01T00:00:00Z", limit=2)
    assert len(limited["messages"]) == 2 and limited["has_more"] is True


def test_messages_since_refuses_a_missing_since_and_a_bad_limit(api, base):
    assert api.get(f"{base}/api-messages-since", timeout=10).status_code == 400
    assert api.get(f"{base}/api-messages-since", params={"since": "yesterday"}, timeout=10).status_code == 400
    for limit in ("0", "101", "x"):
        resp = api.get(
            f"{base}/api-messages-since", params={"since": "2000-01-01T00:00:00Z", "limit": limit}, timeout=10
        )
        assert resp.status_code == 400 and resp.json()["error"]


def upload(api, base, content: bytes, name="receipt.pdf", content_type="application/pdf"):
    return api.post(
        f"{base}/api-upload-attachment", files={"file": (name, content, content_type)}, timeout=60
    )


def test_uploads_up_to_exactly_10_mb_and_413_above(api, base):
    ok = upload(api, base, b"\0" * TEN_MB, "big.bin", "application/octet-stream")
    assert ok.status_code == 200, ok.text
    attachment = ok.json()["attachment"]
    assert (
        ok.json()["success"] is True and attachment["size"] == TEN_MB and attachment["filename"] == "big.bin"
    )
    too_big = upload(api, base, b"\0" * (TEN_MB + 1))
    assert (too_big.status_code, too_big.json()) == (413, {"error": "File too large (max 10 MB)"})
    none = api.post(f"{base}/api-upload-attachment", data={"other": "x"}, timeout=10)
    assert none.status_code == 400


def test_a_sent_message_with_an_upload_reads_back_in_the_conversation(api, base, customer):
    attachment = upload(api, base, b"%PDF-1.4 receipt").json()["attachment"]
    assert attachment["type"] == "application/pdf" and attachment["size"] == 16
    resp = api.post(
        f"{base}/api-send-message",
        json={
            "customer_id": customer,
            "channel": "whatsapp",
            "content": "Your order is ready.",
            "attachments": [attachment["file_url"]],
        },
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    message = resp.json()["message"]
    assert resp.json()["success"] is True
    assert (message["direction"], message["status"], message["platform"], message["channel"]) == (
        "outbound",
        "sent",
        "whatsapp",
        "whatsapp",
    )
    [shown] = message["attachments"]
    assert (shown["id"], shown["filename"], shown["size"]) == (attachment["id"], "receipt.pdf", 16)
    assert requests.get(shown["download_url"], timeout=10).content == b"%PDF-1.4 receipt"
    assert requests.get(shown["url"], timeout=10).content == b"%PDF-1.4 receipt"

    got = api.get(
        f"{base}/api-conversations-by-customer",
        params={"external_id": "CRM-1", "include_messages": "true", "include_attachments": "true"},
        timeout=10,
    ).json()
    assert got["customer"]["id"] == customer
    [conversation] = got["conversations"]
    assert (conversation["status"], conversation["channel"], conversation["customer_id"]) == (
        "open",
        "whatsapp",
        customer,
    )
    assert conversation["whatsapp_account_id"] and conversation["last_message_at"] == message["created_at"]
    assert [m["id"] for m in conversation["messages"]] == [message["id"]]
    assert conversation["messages"][0]["attachments"][0]["id"] == attachment["id"]
    bare = api.get(
        f"{base}/api-conversations-by-customer", params={"customer_id": customer}, timeout=10
    ).json()
    assert "messages" not in bare["conversations"][0]

    email = api.post(
        f"{base}/api-send-message",
        json={"customer_id": customer, "channel": "email", "content": "Hi"},
        timeout=10,
    ).json()["message"]
    assert email["conversation_id"] != message["conversation_id"]
    again = api.post(
        f"{base}/api-send-message",
        json={"customer_id": customer, "channel": "whatsapp", "content": "More"},
        timeout=10,
    ).json()["message"]
    assert again["conversation_id"] == message["conversation_id"]


def test_send_message_validation(api, base, customer):
    def send(**body):
        return api.post(f"{base}/api-send-message", json={"customer_id": customer, **body}, timeout=10)

    assert send(channel="telegram", content="Hi").status_code == 400
    assert send(channel="sms", content="   ").status_code == 400
    assert send(channel="sms", content="", attachments=[]).status_code == 400
    stranger = send(channel="sms", content="Hi", attachments=["https://elsewhere.example/files/x.pdf"])
    assert stranger.status_code == 400 and stranger.json()["details"]["attachments"]
    missing = api.post(
        f"{base}/api-send-message",
        json={"customer_id": "00000000-0000-0000-0000-000000000000", "channel": "sms", "content": "Hi"},
        timeout=10,
    )
    assert (missing.status_code, missing.json()) == (404, {"error": "Customer not found"})
    assert send(channel="sms", content="Hi").status_code == 200
    assert (
        api.get(
            f"{base}/api-conversations-by-customer", params={"external_id": "nobody"}, timeout=10
        ).status_code
        == 404
    )
    assert api.get(f"{base}/api-conversations-by-customer", timeout=10).status_code == 400


def test_sso_tokens_open_the_embedded_inbox_and_nothing_else(api, base, customer):
    api.post(
        f"{base}/api-send-message",
        json={"customer_id": customer, "channel": "sms", "content": "Hello Joe"},
        timeout=10,
    )
    resp = api.post(
        f"{base}/api-sso-generate-token",
        json={"customer_id": customer, "scope": "inbox", "expires_in": 3600},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    issued = resp.json()
    assert issued["embed_url"] == f"{base}/embed/inbox?token={issued['token']}"
    assert issued["expires_at"].endswith("Z")
    page_ = requests.get(issued["embed_url"], timeout=10)
    assert page_.status_code == 200 and "Joe Bloggs" in page_.text and "Hello Joe" in page_.text
    assert requests.get(f"{base}/embed/inbox", params={"token": "forged"}, timeout=10).status_code == 403
    assert requests.get(f"{base}/embed/inbox", timeout=10).status_code == 403

    def sso(**body):
        return api.post(f"{base}/api-sso-generate-token", json={"customer_id": customer, **body}, timeout=10)

    assert sso(expires_in=3601).status_code == 400
    assert sso(expires_in=0).status_code == 400
    assert sso(scope="admin").status_code == 400
    assert (
        api.post(f"{base}/api-sso-generate-token", json={"customer_id": "nobody"}, timeout=10).status_code
        == 404
    )


def test_an_expired_sso_token_is_refused(api, base, customer):
    issued = api.post(
        f"{base}/api-sso-generate-token", json={"customer_id": customer, "expires_in": 1}, timeout=10
    ).json()
    assert requests.get(issued["embed_url"], timeout=10).status_code == 200
    time.sleep(1.1)
    assert requests.get(issued["embed_url"], timeout=10).status_code == 403


def test_more_than_the_rate_per_second_gets_429_with_retry_after(api, base, alc, sandbox_url):
    control(base, "settings", {"rate_per_second": 3})
    control(base, "faults", {"rate_limit": True})
    answers = [api.get(f"{base}/api-customers", params={"id": "x"}, timeout=10) for _ in range(8)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited and sum(r.status_code == 404 for r in answers) >= 3
    assert limited[0].json() == {"error": "rate_limited"} and limited[0].headers["Retry-After"] == "1"
    other, _ = alc.connect(sandbox_url)  # another key has its own window
    resp = requests.get(
        f"{base}/api-customers", params={"id": "x"}, headers={"x-api-key": other["api_key"]}, timeout=10
    )
    assert resp.status_code == 404


def test_inbound_finds_or_makes_the_customer_and_a_closed_conversation_is_not_reopened(base):
    first = control(base, "inbound", {"phone": "087 123 4567", "name": "Joe", "content": "Hi"})
    again = control(base, "inbound", {"phone": "+353 87 123 4567", "content": "Again"})
    assert again["customer"]["id"] == first["customer"]["id"]
    assert again["conversation"]["id"] == first["conversation"]["id"]
    assert again["conversation"]["last_message_at"] == again["message"]["created_at"]
    by_id = control(
        base, "inbound", {"customer_id": first["customer"]["id"], "channel": "email", "content": "Mail"}
    )
    assert by_id["conversation"]["id"] != first["conversation"]["id"]
    assert by_id["conversation"]["whatsapp_account_id"] is None and by_id["message"]["platform"] == "email"
    control(base, "status", {"conversation_id": first["conversation"]["id"], "status": "closed"})
    later = control(base, "inbound", {"customer_id": first["customer"]["id"], "content": "Me again"})
    assert (
        later["conversation"]["id"] != first["conversation"]["id"]
        and later["conversation"]["status"] == "open"
    )
    unknown = requests.post(
        f"{base}/_control/inbound", json={"customer_id": "nope", "content": "x"}, timeout=10
    )
    assert unknown.status_code == 404
    nameless = requests.post(
        f"{base}/_control/inbound", json={"email": "new@example.com", "content": "x"}, timeout=10
    )
    assert nameless.status_code == 400  # no name to make the customer with


def test_seeding_fills_customers_and_message_history(api, base):
    control(base, "seed", {"object": "customers", "count": 3})
    control(base, "seed", {"object": "messages", "count": 4})
    records = requests.get(f"{base}/_control/state", timeout=10).json()["records"]
    assert (records["customers"], records["messages"]) == (3, 4)
    seeded = api.post(
        f"{base}/api-customers-batch-lookup", json={"emails": ["customer0@example.com"]}, timeout=10
    )
    assert seeded.json()["customers"][0]["name"] == "Sample Customer 0"
    bad = requests.post(f"{base}/_control/seed", json={"object": "deals", "count": 1}, timeout=10)
    assert bad.status_code == 400
