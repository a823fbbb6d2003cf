"""Calendar appointments (the seed's ``calendarId``): the emulator's calendars API, and the
connector pulling the configured calendar's appointments as activities of kind ``meeting`` with
their contact, deltas and deletions, and the Appointment* webhooks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.base import WebhookRequest
from connectors.gohighlevel import webhooks
from connectors.gohighlevel.emulator.store import CALENDAR_ID, SANDBOX_LOCATION
from connectors.gohighlevel.records import iso
from tests.connectors.gohighlevel.conftest import control, wait_for_deliveries

CALENDAR_VERSION = {"Version": "2021-04-15"}


@pytest.fixture
def person(api, base):
    body = {"locationId": SANDBOX_LOCATION, "firstName": "Bea", "email": "bea@example.com"}
    return api.post(f"{base}/contacts/", json=body).json()["contact"]


def book(api, base, contact_id, *, days=2, **extra):
    start = timezone.now() + timedelta(days=days)
    body = {
        "calendarId": CALENDAR_ID,
        "locationId": SANDBOX_LOCATION,
        "contactId": contact_id,
        "startTime": iso(start),
        "endTime": iso(start + timedelta(minutes=30)),
        "title": "Demo call",
        "ignoreFreeSlotValidation": True,  # any time of day: these tests are not about the slots
        **extra,
    }
    resp = api.post(f"{base}/calendars/events/appointments", json=body, headers=CALENDAR_VERSION)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_emulators_calendar_api(api, base, person):
    made = book(api, base, person["id"])
    assert made["appointmentStatus"] == "confirmed" and made["contactId"] == person["id"]
    got = api.get(f"{base}/calendars/events/appointments/{made['id']}", headers=CALENDAR_VERSION).json()
    assert got == {"event": made}
    now = timezone.now()
    window = {
        "locationId": SANDBOX_LOCATION,
        "calendarId": CALENDAR_ID,
        "startTime": str(int(now.timestamp() * 1000)),
        "endTime": str(int((now + timedelta(days=7)).timestamp() * 1000)),
    }
    assert [e["id"] for e in api.get(f"{base}/calendars/events", params=window).json()["events"]] == [
        made["id"]
    ]
    early = {**window, "endTime": str(int((now + timedelta(days=1)).timestamp() * 1000))}
    assert api.get(f"{base}/calendars/events", params=early).json()["events"] == []
    missing = api.get(
        f"{base}/calendars/events", params={k: v for k, v in window.items() if k != "calendarId"}
    )
    assert missing.status_code == 422 and "Either of calendarId" in missing.json()["message"][0]
    bad = api.post(
        f"{base}/calendars/events/appointments",
        json={
            "locationId": SANDBOX_LOCATION,
            "calendarId": "nope",
            "contactId": person["id"],
            "startTime": "x",
        },
    )
    assert bad.status_code == 422 and "calendarId is invalid" in bad.json()["message"]
    moved = api.put(
        f"{base}/calendars/events/appointments/{made['id']}", json={"appointmentStatus": "showed"}
    )
    assert moved.json()["appointmentStatus"] == "showed"
    assert api.delete(f"{base}/calendars/events/{made['id']}").json() == {"succeeded": True}
    assert api.get(f"{base}/calendars/events/appointments/{made['id']}").status_code == 400
    calendars = api.get(f"{base}/calendars/", params={"locationId": SANDBOX_LOCATION}).json()["calendars"]
    assert [c["id"] for c in calendars] == [CALENDAR_ID]


def test_the_configured_calendars_appointments_are_pulled_as_meetings(
    api, base, person, key_config, make_connector
):
    connector = make_connector({**key_config, "calendarId": CALENDAR_ID})
    made = book(api, base, person["id"])
    book(api, base, person["id"], days=400)  # beyond the window read
    records = [r for page in connector.pull("activity", cursor=None) for r in page.records]
    assert [r.id for r in records] == [f"appointments/{made['id']}"]
    [meeting] = records
    assert meeting.fields["_kind"] == "meeting" and meeting.fields["title"] == "Demo call"
    assert meeting.fields["startTime"] == made["startTime"] and meeting.relations == {
        "contact_id": (person["id"],)
    }
    [fetched] = connector.get("activity", [meeting.id])
    assert fetched.fields == meeting.fields
    no_calendar = list(make_connector(key_config).pull("activity", cursor=None))
    assert [p.records for p in no_calendar] == [[]]  # no calendar configured: no appointments


def test_appointment_deltas_and_deletions(api, base, person, key_config, make_connector, ghl):
    connector = make_connector({**key_config, "calendarId": CALENDAR_ID})
    first, second = book(api, base, person["id"]), book(api, base, person["id"], days=3)
    for row in ghl.records("appointments"):  # made an hour ago, so the overlap does not re-read them
        row.data = {**row.data, "dateUpdated": iso(timezone.now() - timedelta(hours=1))}
        row.save(update_fields=["data"])
    [page] = list(connector.pull("activity", cursor=None))
    api.put(f"{base}/calendars/events/appointments/{first['id']}", json={"appointmentStatus": "cancelled"})
    api.delete(f"{base}/calendars/events/{second['id']}")
    [delta] = list(connector.pull("activity", cursor=page.cursor))
    by_id = {r.id: r for r in delta.records}
    assert by_id[f"appointments/{first['id']}"].fields["appointmentStatus"] == "cancelled"
    assert by_id[f"appointments/{second['id']}"].deleted and len(by_id) == 2


def test_appointment_webhooks_are_delivered_signed_and_parsed(api, base, person, receiver, connected):
    control(base, "webhooks", {"target_url": receiver.url})
    made = book(api, base, person["id"])
    api.delete(f"{base}/calendars/events/{made['id']}")
    wait_for_deliveries(base, 2)  # the contact was made before the target was registered
    events = []
    for got in receiver.received:
        request = WebhookRequest(method="POST", url="/", headers=got["headers"], body=got["body"])
        webhooks.verify(request, secret="", now=timezone.now().timestamp(), config=connected[0])
        events += webhooks.parse(request)
    assert json.loads(receiver.received[0]["body"])["appointment"]["id"] == made["id"]
    assert [(e.entity, e.action, e.remote_id) for e in events] == [
        ("activity", "created", f"appointments/{made['id']}"),
        ("activity", "deleted", f"appointments/{made['id']}"),
    ]
