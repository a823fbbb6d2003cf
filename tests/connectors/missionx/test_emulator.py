"""The MissionX emulator keeps the [project] contract of providers.md §5, over real HTTP."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime

import pytest
import requests

from connectors.signatures import hmac_signature, signed_message
from tests.connectors.missionx.conftest import control, wait_for_deliveries


@pytest.fixture(autouse=True)
def _unlimited(base):
    """Contract tests send bursts; the rate limit has its own test, which switches it back on."""
    control(base, "faults", {"rate_limit": False})


def create(api, base, n=1, **extra):
    body = {"client_name": f"Client {n}", "email": f"client{n}@example.com", "external_id": f"crm-{n}"}
    resp = api.post(f"{base}/v1/portals", json={**body, **extra}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


def open_for_uploads(api, base, portal_id):
    resp = api.patch(
        f"{base}/v1/portals/{portal_id}", json={"status": "active", "uploads_enabled": True}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_created_portal_is_pending_without_uploads_and_reads_back(api, base):
    portal = create(api, base)
    assert portal["id"].startswith("prt_")
    assert (portal["status"], portal["uploads_enabled"], portal["external_id"]) == ("pending", False, "crm-1")
    assert portal["url"] == f"{base}/p/{portal['id']}"
    assert datetime.fromisoformat(portal["created_at"].replace("Z", "+00:00")).tzinfo is not None
    assert portal["created_at"] == portal["updated_at"]
    fetched = api.get(f"{base}/v1/portals/{portal['id']}", timeout=10).json()
    assert fetched == portal
    page = requests.get(portal["url"], timeout=10)
    assert page.status_code == 200 and "Client portal for Client 1" in page.text


def test_errors_carry_the_error_object_with_their_codes(api, base, sandbox_url, mx):
    missing = api.get(f"{base}/v1/portals/prt_nope", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    no_key = requests.get(f"{base}/v1/portals", timeout=10)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "unauthorized"
    bad = api.post(f"{base}/v1/portals", json={"client_name": "", "email": "x@y.example"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    other_config, _ = mx.connect(sandbox_url)
    portal = create(api, base)
    other = requests.get(
        f"{base}/v1/portals/{portal['id']}",
        headers={"Authorization": f"Bearer {other_config['api_key']}"},
        timeout=10,
    )
    assert other.status_code == 404  # another account's portal


def test_patch_validates_its_values_and_changes_only_what_it_names(api, base):
    portal = create(api, base)
    url = f"{base}/v1/portals/{portal['id']}"
    for body in ({"status": "open"}, {"uploads_enabled": "yes"}, {"client_name": "X"}, {}):
        resp = api.patch(url, json=body, timeout=10)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_request", body
    time.sleep(0.01)
    changed = api.patch(url, json={"uploads_enabled": True}, timeout=10).json()
    assert (changed["status"], changed["uploads_enabled"]) == ("pending", True)
    assert changed["updated_at"] > portal["updated_at"]
    assert api.get(url, timeout=10).json() == changed


def test_the_list_pages_by_cursor_and_caps_limit_at_100(api, base):
    made = [create(api, base, n)["id"] for n in range(5)]
    seen, params, pages = [], {"limit": 2}, 0
    while True:
        body = api.get(f"{base}/v1/portals", params=params, timeout=10).json()
        seen += [p["id"] for p in body["data"]]
        pages += 1
        if not body["next_cursor"]:
            break
        params = {"limit": 2, "cursor": body["next_cursor"]}
    assert (seen, pages) == (made, 3)
    assert api.get(f"{base}/v1/portals", params={"limit": 100}, timeout=10).status_code == 200
    too_many = api.get(f"{base}/v1/portals", params={"limit": 101}, timeout=10)
    assert too_many.status_code == 400 and "100" in too_many.json()["error"]["message"]
    assert api.get(f"{base}/v1/portals", params={"cursor": "junk"}, timeout=10).status_code == 400


def test_updated_since_lists_only_portals_changed_since(api, base):
    first, second = create(api, base, 1), create(api, base, 2)
    time.sleep(0.02)
    changed = open_for_uploads(api, base, first["id"])
    body = api.get(f"{base}/v1/portals", params={"updated_since": changed["updated_at"]}, timeout=10).json()
    assert [p["id"] for p in body["data"]] == [first["id"]]
    body = api.get(f"{base}/v1/portals", params={"updated_since": second["created_at"]}, timeout=10).json()
    assert [p["id"] for p in body["data"]] == [second["id"], first["id"]]  # oldest change first
    bad = api.get(f"{base}/v1/portals", params={"updated_since": "yesterday"}, timeout=10)
    assert bad.status_code == 400


def test_uploads_need_an_active_portal_with_uploads_and_the_file_downloads(api, base):
    portal = create(api, base)
    upload = {"portal_id": portal["id"], "filename": "payroll.csv", "content": "name,pay\nAna,10\n"}
    closed = requests.post(f"{base}/_control/upload", json=upload, timeout=10)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "conflict"
    api.patch(f"{base}/v1/portals/{portal['id']}", json={"status": "active"}, timeout=10)
    assert requests.post(f"{base}/_control/upload", json=upload, timeout=10).status_code == 409
    open_for_uploads(api, base, portal["id"])
    content = bytes(range(256)) * 4
    made = requests.post(
        f"{base}/_control/upload",
        json={
            "portal_id": portal["id"],
            "filename": "payroll.xlsx",
            "content_base64": base64.b64encode(content).decode(),
            "content_type": "application/vnd.ms-excel",
        },
        timeout=10,
    )
    assert made.status_code == 201, made.text
    [listed] = api.get(f"{base}/v1/portals/{portal['id']}/files", timeout=10).json()["data"]
    assert listed == made.json()["file"]
    assert (listed["filename"], listed["size"]) == ("payroll.xlsx", len(content))
    download = api.get(listed["download_url"], timeout=10)
    assert download.status_code == 200 and download.content == content
    assert download.headers["Content-Type"] == "application/vnd.ms-excel"
    assert download.headers["Content-Length"] == str(len(content))
    assert requests.get(listed["download_url"], timeout=10).status_code == 401  # the key is needed
    assert "payroll.xlsx" in requests.get(portal["url"], timeout=10).text


def test_more_than_10_requests_a_second_per_key_get_429_with_retry_after(api, base, sandbox_url, mx):
    control(base, "faults", {"rate_limit": True})
    answers = [api.get(f"{base}/v1/portals", params={"limit": 1}, timeout=10) for _ in range(14)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited and sum(r.status_code == 200 for r in answers) <= 10
    assert limited[0].json()["error"]["code"] == "rate_limited"
    assert int(limited[0].headers["Retry-After"]) >= 1
    other_config, _ = mx.connect(sandbox_url)  # another key has its own window
    other = requests.get(
        f"{base}/v1/portals", headers={"Authorization": f"Bearer {other_config['api_key']}"}, timeout=10
    )
    assert other.status_code == 200


# --- webhooks ------------------------------------------------------------------------------------


def signed_by(secret: str, received: dict) -> bool:
    headers = {k.lower(): v for k, v in received["headers"].items()}
    message = signed_message(headers["x-webhook-timestamp"], received["body"])
    return hmac_signature(secret, message) == headers["x-webhook-signature"]


def test_events_are_signed_with_the_accounts_secret_and_carry_portal_and_file(api, base, config, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "api_key": config["api_key"]})
    portal = create(api, base)
    open_for_uploads(api, base, portal["id"])
    upload = {"portal_id": portal["id"], "filename": "a.csv", "content": "x,y\n", "content_type": "text/csv"}
    made = requests.post(f"{base}/_control/upload", json=upload, timeout=10).json()
    wait_for_deliveries(base, 3)

    bodies = [json.loads(r["body"]) for r in receiver.received]
    assert [b["event"] for b in bodies] == ["portal.created", "portal.activated", "file.uploaded"]
    assert all(signed_by(config["webhook_secret"], r) for r in receiver.received)
    assert all(abs(int(r["headers"]["X-Webhook-Timestamp"]) - time.time()) < 30 for r in receiver.received)
    compact = [json.dumps(b, separators=(",", ":"), ensure_ascii=False).encode() for b in bodies]
    assert [r["body"] for r in receiver.received] == compact  # compact JSON, signed as sent
    assert all(b["id"].startswith("evt_") for b in bodies) and bodies[2]["id"] == made["event_id"]
    assert bodies[0]["data"]["portal"]["id"] == portal["id"]
    assert bodies[1]["data"]["portal"]["status"] == "active"
    file = bodies[2]["data"]["file"]
    assert (file["filename"], file["size"], file["content_type"]) == ("a.csv", 4, "text/csv")
    assert api.get(file["download_url"], timeout=10).content == b"x,y\n"


def test_a_target_registered_with_a_secret_is_signed_with_it(api, base, config, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "secret": "explicit-secret-0123"})
    create(api, base)
    wait_for_deliveries(base, 1)
    [received] = receiver.received
    assert signed_by("explicit-secret-0123", received)
    assert not signed_by(config["webhook_secret"], received)


def test_5xx_is_retried_after_2_4_and_8_seconds_then_given_up(api, base, receiver):
    scale = 0.1
    control(base, "settings", {"webhook_delay_scale": scale})
    control(base, "webhooks", {"target_url": receiver.url})
    receiver.statuses = [500, 503, 502, 500]
    create(api, base)
    [delivery] = wait_for_deliveries(base, 1)
    assert [a["delay"] for a in delivery["attempts"]] == [0, 2, 4, 8]
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 502, 500]
    assert delivery["outcome"] == "failed"
    times = [r["at"] for r in receiver.received]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for gap, nominal in zip(gaps, (2, 4, 8), strict=True):
        assert nominal * scale <= gap < nominal * scale + 0.5, gaps
    bodies = {r["body"] for r in receiver.received}
    assert len(bodies) == 1  # the same event each time


def test_429_is_retried_until_delivered_but_400_is_not_retried(api, base, receiver):
    control(base, "settings", {"webhook_delay_scale": 0.01})
    control(base, "webhooks", {"target_url": receiver.url})
    receiver.statuses = [429, 200]
    create(api, base, 1)
    [delivered] = wait_for_deliveries(base, 1)
    assert [a["status"] for a in delivered["attempts"]] == [429, 200]
    assert delivered["outcome"] == "delivered"
    receiver.statuses = [400]
    create(api, base, 2)
    refused = wait_for_deliveries(base, 2)[1]
    assert [a["status"] for a in refused["attempts"]] == [400] and refused["outcome"] == "failed"
    time.sleep(0.2)
    assert len(receiver.received) == 3


def test_a_target_that_cannot_be_reached_or_times_out_is_retried(api, base, receiver):
    control(
        base, "settings", {"webhook_delay_scale": 0.01, "webhook_retry_delays": [2], "webhook_timeout": 0.3}
    )
    control(base, "webhooks", {"target_url": "http://127.0.0.1:9/closed"})  # nothing listens there
    create(api, base, 1)
    [unreachable] = wait_for_deliveries(base, 1)
    assert [a["status"] for a in unreachable["attempts"]] == [None, None]
    assert all(a["error"] for a in unreachable["attempts"])

    requests.delete(f"{base}/_control/webhooks", timeout=10)
    control(base, "webhooks", {"target_url": receiver.url})
    receiver.stall = 1.0  # the first answer comes after the emulator stopped waiting
    create(api, base, 2)
    slow = wait_for_deliveries(base, 2)[1]
    assert [a["error"] for a in slow["attempts"]] == ["timeout", ""]
    assert slow["outcome"] == "delivered"
