"""Automation webhooks: record created/updated (through the API or a UI edit) POST the seed's body with
the static ``X-AITable-Signature`` secret, off the request path, retried with backoff on failure."""

import time

import requests

from connectors.aitable.emulator.schema import LEADS_ID, ORDERS_ID
from tests.connectors.aitable.conftest import control

SECRET = "shared-secret-123"


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def deliveries(base):
    return requests.get(f"{base}/_control/webhooks", timeout=10).json()["deliveries"]


def test_api_create_and_update_fire_the_automation(api, base, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "secret": SECRET, "datasheet_id": LEADS_ID})
    url = f"{base}/fusion/v1/datasheets/{LEADS_ID}/records"
    created = api.post(url, json={"records": [{"fields": {"Client Name": "Ana", "Status": "New"}}]}).json()
    record_id = created["data"]["records"][0]["recordId"]
    api.patch(url, json={"records": [{"recordId": record_id, "fields": {"Status": "Won"}}]})
    wait_for(lambda: len(receiver.received) == 2)
    first, second = receiver.received
    assert first["headers"]["X-AITable-Signature"] == SECRET
    assert first["json"]["eventType"] == "record.created"
    assert first["json"]["datasheetId"] == LEADS_ID and first["json"]["recordId"] == record_id
    assert first["json"]["record"]["fields"]["Client Name"] == "Ana"
    assert second["json"]["eventType"] == "record.updated"
    assert second["json"]["record"]["fields"]["Status"] == "Won"
    wait_for(lambda: all(d["status_code"] == 200 for d in deliveries(base)))
    assert [d["attempts"] for d in deliveries(base)] == [1, 1]


def test_other_datasheets_do_not_fire_a_datasheet_automation(api, base, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "secret": SECRET, "datasheet_id": LEADS_ID})
    url = f"{base}/fusion/v1/datasheets/{ORDERS_ID}/records"
    assert api.post(url, json={"records": [{"fields": {"Order": "O-1"}}]}).json()["success"]
    time.sleep(0.3)
    assert receiver.received == [] and deliveries(base) == []


def test_a_ui_edit_fires_the_automation(base, receiver):
    control(base, "webhooks", {"target_url": receiver.url, "secret": SECRET, "events": ["record.updated"]})
    made = control(base, "records", {"datasheet_id": LEADS_ID, "fields": {"Client Name": "Bo"}})
    assert made["event"] == "record.created" and made["deliveries"] == []  # only updates are watched
    edited = control(
        base,
        "records",
        {"datasheet_id": LEADS_ID, "record_id": made["record"]["recordId"], "fields": {"Company": "Acme"}},
    )
    assert edited["event"] == "record.updated" and len(edited["deliveries"]) == 1
    wait_for(lambda: receiver.received)
    body = receiver.received[0]["json"]
    assert body["eventType"] == "record.updated"
    assert body["record"]["fields"]["Company"] == "Acme" and body["record"]["fields"]["Client Name"] == "Bo"


def test_a_failing_receiver_is_retried_three_times_without_blocking_the_api(api, base, receiver):
    receiver.status = 500
    control(base, "settings", {"webhook_backoff": 0.2})
    control(base, "webhooks", {"target_url": receiver.url, "secret": SECRET})
    started = time.monotonic()
    resp = api.post(
        f"{base}/fusion/v1/datasheets/{LEADS_ID}/records",
        json={"records": [{"fields": {"Client Name": "Cy"}}]},
    )
    assert resp.json()["success"]
    assert time.monotonic() - started < 0.5  # 0.2 + 0.4 + 0.8 s of backoff happen after the answer
    wait_for(lambda: len(receiver.received) == 4)
    done = wait_for(lambda: [d for d in deliveries(base) if d["attempts"] == 4])
    assert done[0]["status_code"] == 500
    assert all(r["headers"]["X-AITable-Signature"] == SECRET for r in receiver.received)
    assert len({str(r["json"]) for r in receiver.received}) == 1  # the same body each time
    time.sleep(0.5)
    assert len(receiver.received) == 4  # one try and three retries, then it gives up


def test_a_recovering_receiver_stops_the_retries(api, base, receiver):
    receiver.status = 503
    control(base, "settings", {"webhook_backoff": 0.3})
    control(base, "webhooks", {"target_url": receiver.url, "secret": SECRET})
    control(base, "records", {"datasheet_id": LEADS_ID, "fields": {"Client Name": "Di"}})
    wait_for(lambda: receiver.received)
    receiver.status = 200
    wait_for(lambda: [d for d in deliveries(base) if d["status_code"] == 200])
    assert deliveries(base)[0]["attempts"] == 2


def test_registration_is_validated_and_listed(base):
    bad = requests.post(f"{base}/_control/webhooks", json={"target_url": "ftp://x"}, timeout=10)
    assert bad.status_code == 400
    control(base, "webhooks", {"target_url": "http://127.0.0.1:9/hook", "secret": SECRET})
    listed = requests.get(f"{base}/_control/webhooks", timeout=10).json()["automations"]
    assert listed == [
        {
            "target_url": "http://127.0.0.1:9/hook",
            "secret": SECRET,
            "datasheet_id": None,
            "events": ["record.created", "record.updated"],
        }
    ]
    assert requests.delete(f"{base}/_control/webhooks", timeout=10).json() == {"automations": []}
