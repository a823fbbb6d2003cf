"""Chat messages as HubSpot notes: a marker in the note body carries kind, channel and direction, so
a pushed message reads back as the same message (never turned into a note) and a sync that pushed it
finds nothing to change afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.hubspot import messages
from connectors.hubspot.mappings import DEFAULT_MAPPINGS
from sync.mapping import FieldMap, local_to_remote, remote_to_local
from sync.models import Activity, Change, Contact
from sync.services import record_update
from tests.sandbox import sandbox_integration
from tests.sync.helpers import remote_id_of, run_to_success


def stored_body(hs, remote_id):
    return hs.records("notes").get(remote_id=remote_id.split("/")[1]).data["hs_note_body"]


def test_the_marker_round_trips_channel_direction_and_text():
    body = messages.note_body("Hello, I need help", "whatsapp", "inbound")
    assert body == "[WhatsApp message, inbound] Hello, I need help"
    assert messages.parse(body) == messages.Message("Hello, I need help", "whatsapp", "inbound")
    assert messages.parse(messages.note_body("", None, "")) == messages.Message("", None, None)
    assert messages.parse(messages.note_body("hi", "telegram", "outbound")).channel == "telegram"
    # HubSpot's editor wraps what it saves; the marker still counts and the wrapping stays.
    assert messages.parse("<p>[SMS message, outbound] ok</p>") == messages.Message(
        "<p>ok</p>", "sms", "outbound"
    )
    assert messages.parse("Met at the fair [no marker]") is None
    assert messages.parse("[WhatsApp messages] not ours") is None


def test_a_message_is_a_marked_note_that_reads_back_as_the_message(hs, connector):
    message, note = connector.create(
        "activity",
        [
            {
                "_kind": "message",
                "hs_note_body": "Hello, I need help",
                "hs_timestamp": "1762246800000",
                "_channel": "whatsapp",
                "_direction": "inbound",
                "hs_call_direction": "INBOUND",  # another type's property: dropped
            },
            {"_kind": "note", "hs_note_body": "Plain", "hs_timestamp": "1762246800000", "_channel": "sms"},
        ],
    )
    assert message.ok and message.remote_id.startswith("notes/"), message.error
    assert stored_body(hs, message.remote_id) == "[WhatsApp message, inbound] Hello, I need help"
    assert stored_body(hs, note.remote_id) == "Plain"  # synthetic fields never reach HubSpot

    read, plain = connector.get("activity", [message.remote_id, note.remote_id])
    assert (read.fields["_kind"], read.fields["hs_note_body"]) == ("message", "Hello, I need help")
    assert (read.fields["_channel"], read.fields["_direction"]) == ("whatsapp", "inbound")
    assert (
        plain.fields["_kind"] == "note"
        and "_channel" not in plain.fields
        and "_direction" not in plain.fields
    )

    # Through the default mappings: the same canonical values as were pushed.
    maps = [FieldMap(**row) for row in DEFAULT_MAPPINGS["activity"]]
    local = remote_to_local(maps, read.fields, region="US")
    assert {k: local[k] for k in ("kind", "body", "channel", "direction")} == {
        "kind": "message",
        "body": "Hello, I need help",
        "channel": "whatsapp",
        "direction": "inbound",
    }
    assert "channel" not in remote_to_local(maps, plain.fields, region="US")  # a note says nothing of it
    out = local_to_remote(maps, {"kind": "message", "channel": "sms", "direction": "outbound"}, region="US")
    assert (out["_kind"], out["_channel"], out["_direction"]) == ("message", "sms", "outbound")

    # Updates keep the marker, whatever part of the message changes.
    connector.update("activity", [(message.remote_id, {"hs_note_body": "Edited"})])
    assert stored_body(hs, message.remote_id) == "[WhatsApp message, inbound] Edited"
    connector.update("activity", [(message.remote_id, {"_channel": "sms", "_direction": "outbound"})])
    assert stored_body(hs, message.remote_id) == "[SMS message, outbound] Edited"
    connector.update("activity", [(note.remote_id, {"hs_note_body": "Still plain"})])
    assert stored_body(hs, note.remote_id) == "Still plain"
    # A message made a note loses the marker (and a note made a message gains one).
    connector.update("activity", [(message.remote_id, {"_kind": "note"})])
    assert stored_body(hs, message.remote_id) == "Edited"
    connector.update("activity", [(note.remote_id, {"_kind": "message", "_channel": "chat"})])
    assert stored_body(hs, note.remote_id) == "[Chat message] Still plain"


def test_find_created_finds_a_message_by_its_marked_body(hs, connector):
    since = datetime.now(UTC).replace(microsecond=0)
    payload = {"_kind": "message", "hs_note_body": "Hi", "hs_timestamp": "1762246800000", "_channel": "sms"}
    (made,) = connector.create("activity", [payload])
    other = {**payload, "_channel": "whatsapp"}
    assert connector.find_created("activity", [payload, other], since=since) == [[made.remote_id], []]


@pytest.mark.django_db(transaction=True)
def test_a_pushed_message_comes_back_as_the_same_message_and_is_not_pushed_again(
    catalog, subaccount, sandbox_url, hs
):
    integration = sandbox_integration(subaccount, "hubspot", sandbox_url)
    ana = Contact.objects.create(
        subaccount=subaccount, first_name="Ana", last_name="Lee", email="ana@example.com"
    )
    message = Activity.objects.create(
        subaccount=subaccount,
        kind="message",
        body="Hello, I need help with my order",
        status="received",
        direction="inbound",
        channel="whatsapp",
        occurred_at=datetime(2025, 11, 4, 9, 0, tzinfo=UTC),
        contact=ana,
    )

    run_to_success(integration, "full")

    remote_id = remote_id_of(integration, "activity", message)
    assert remote_id.startswith("notes/")
    assert stored_body(hs, remote_id) == "[WhatsApp message, inbound] Hello, I need help with my order"

    run_to_success(integration, "delta")
    message.refresh_from_db()
    assert (message.kind, message.body, message.channel, message.direction) == (
        "message",
        "Hello, I need help with my order",
        "whatsapp",
        "inbound",
    )
    version, changes = message.version, Change.objects.count()
    modified = hs.records("notes").get(remote_id=remote_id.split("/")[1]).updated_at
    run_to_success(integration, "delta")
    message.refresh_from_db()
    assert message.version == version and Change.objects.count() == changes
    assert hs.records("notes").get(remote_id=remote_id.split("/")[1]).updated_at == modified  # not re-sent

    record_update(record=message, fields={"body": "Hello, I need help with order 42"}, origin="api_key:t")
    run_to_success(integration, "delta")
    assert stored_body(hs, remote_id) == "[WhatsApp message, inbound] Hello, I need help with order 42"
