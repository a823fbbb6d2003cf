"""The seed's own integration guide (seeds/004), call for call with plain ``requests`` instead of
``fetch``: bulk import in batches of 1000, the smart upsert, conversations by external id, the SSO
iframe, sending with an uploaded attachment, polling, and its webhook verifier (which re-serialises
the parsed body with ``JSON.stringify`` before checking the HMAC)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests

from tests.connectors.alacarte.conftest import control, wait_for_deliveries


@pytest.fixture(autouse=True)
def _unlimited(base):
    control(base, "faults", {"rate_limit": False})


@pytest.fixture
def seed_env(config):
    """The seed's ``BASE_URL`` and ``API_KEY``."""
    return config["base_url"], config["api_key"]


def js_iso_now() -> str:
    """``new Date().toISOString()``: milliseconds and ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_bulk_import_in_batches_of_1000_then_smart_upsert(seed_env):
    base_url, api_key = seed_env
    crm = [
        {
            "full_name": f"Person {i}",
            "email": f"p{i}@example.com",
            "phone": f"+3538712{i:05d}",
            "crm_id": f"SF-{i}",
        }
        for i in range(1200)
    ]
    results = {"created": 0, "updated": 0, "failed": 0, "errors": []}
    for i in range(0, len(crm), 1000):
        payload = [
            {
                "name": c["full_name"],
                "email": c["email"],
                "phone": c["phone"],
                "whatsapp_number": c.get("whatsapp"),
                "external_id": c["crm_id"],
                "external_system": "salesforce",
                "tags": c.get("tags") or [],
            }
            for c in crm[i : i + 1000]
        ]
        response = requests.post(
            f"{base_url}/api-customers-bulk-create",
            headers={"x-api-key": api_key, "Content-Type": "application/json"},
            data=json.dumps({"customers": payload}),
            timeout=120,
        )
        result = response.json()
        for key in ("created", "updated", "failed"):
            results[key] += result[key]
        results["errors"].extend(result["errors"])
    assert results == {"created": 1200, "updated": 0, "failed": 0, "errors": []}

    response = requests.post(
        f"{base_url}/api-customers-sync",
        headers={"x-api-key": api_key, "Content-Type": "application/json"},
        data=json.dumps(
            {
                "customers": [
                    {
                        "external_id": "CRM-12345",
                        "name": "Person 7",
                        "email": "p7@example.com",
                        "phone": "+353871200007",
                        "custom_fields": {"crm_status": "active", "lifetime_value": 1200},
                    }
                ]
            }
        ),
        timeout=10,
    )
    detail = response.json()["results"]["details"][0]
    assert (detail["action"], detail["matched_by"], detail["external_id"]) == (
        "updated",
        "email",
        "CRM-12345",
    )


def test_send_with_attachment_view_conversations_embed_and_poll(seed_env):
    base_url, api_key = seed_env
    last_check = js_iso_now()
    requests.post(
        f"{base_url}/api-customers-sync",
        headers={"x-api-key": api_key, "Content-Type": "application/json"},
        data=json.dumps(
            {"customers": [{"external_id": "CRM-12345", "name": "Joe Bloggs", "phone": "+353871234567"}]}
        ),
        timeout=10,
    )

    # sendMessageFromCRM('CRM-12345', 'whatsapp', …, [receipt.pdf]): FormData upload, then the send,
    # with the CRM's id as customer_id as the guide's usage does.
    upload = requests.post(
        f"{base_url}/api-upload-attachment",
        headers={"x-api-key": api_key},
        files={"file": ("receipt.pdf", b"%PDF receipt", "application/pdf")},
        timeout=10,
    )
    file_url = upload.json()["attachment"]["file_url"]
    sent = requests.post(
        f"{base_url}/api-send-message",
        headers={"x-api-key": api_key, "Content-Type": "application/json"},
        data=json.dumps(
            {
                "customer_id": "CRM-12345",
                "channel": "whatsapp",
                "content": "Hi! Your order is ready for pickup.",
                "attachments": [file_url],
            }
        ),
        timeout=10,
    ).json()
    assert sent["success"] is True and sent["message"]["attachments"][0]["url"] == file_url

    # loadCustomerConversations(crmCustomerId)
    data = requests.get(
        f"{base_url}/api-conversations-by-customer?external_id=CRM-12345&include_messages=true&include_attachments=true",
        headers={"x-api-key": api_key},
        timeout=10,
    ).json()
    assert data["customer"]["external_id"] == "CRM-12345"
    [conversation] = data["conversations"]
    assert len(conversation["messages"]) == 1 and conversation["whatsapp_account_id"]

    # embedConversationViewer: customer by external_id, SSO token, iframe.
    customer = requests.get(
        f"{base_url}/api-customers?external_id=CRM-12345", headers={"x-api-key": api_key}, timeout=10
    ).json()["customer"]
    token = requests.post(
        f"{base_url}/api-sso-generate-token",
        headers={"x-api-key": api_key, "Content-Type": "application/json"},
        data=json.dumps({"customer_id": customer["id"], "scope": "inbox", "expires_in": 3600}),
        timeout=10,
    ).json()["token"]
    iframe = requests.get(f"{base_url}/embed/inbox?token={token}", timeout=10)
    assert iframe.status_code == 200 and "Your order is ready" in iframe.text

    # pollForNewMessages(): since the guide's lastCheckTimestamp, encodeURIComponent'ed.
    response = requests.get(
        f"{base_url}/api-messages-since?since={quote(last_check, safe='')}&include_attachments=true&limit=100",
        headers={"x-api-key": api_key},
        timeout=10,
    )
    polled = response.json()
    assert [m["id"] for m in polled["messages"]] == [sent["message"]["id"]] and polled["has_more"] is False
    assert polled["messages"][0]["attachments"][0]["filename"] == "receipt.pdf"


def test_the_guides_verifier_accepts_what_the_emulator_sends(config, base, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "api_key": config["api_key"]})
    control(base, "inbound", {"phone": "087 123 4567", "name": "Zoë", "content": "Héllo — any news?"})
    wait_for_deliveries(base, 3)
    for received in receiver.received:
        timestamp = received["headers"]["X-Webhook-Timestamp"]
        payload = json.dumps(
            received["json"], separators=(",", ":"), ensure_ascii=False
        )  # JSON.stringify(req.body)
        expected = hmac.new(
            config["webhook_secret"].encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(received["headers"]["X-Webhook-Signature"], expected)
    message = receiver.received[-1]["json"]
    assert message["event"] == "message.received"
    assert message["data"]["customer"]["phone"] == "+353871234567"
