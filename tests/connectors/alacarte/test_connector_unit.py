"""AlaCarteConnector's record methods over a ``responses``-mocked API: updates through the upsert,
read-only entities, the messages-since cursor, find_created, conversations and field discovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.alacarte.connector import AlaCarteConnector
from connectors.base import ConfigError, PermanentError, decode_cursor
from connectors.capabilities import Messenger
from tests.connectors.alacarte.test_client import BASE, make_connector, sent

LOOKUP = f"{BASE}/api-customers-batch-lookup"
SYNC = f"{BASE}/api-customers-sync"
SINCE = f"{BASE}/api-messages-since"


@pytest.fixture
def connector() -> AlaCarteConnector:
    return make_connector()


def customer(cid="cust-1", **fields):
    base = {
        "id": cid,
        "name": "Ana Lee",
        "email": "ana@example.com",
        "phone": "+353871234567",
        "whatsapp_number": "",
        "first_name": "Ana",
        "last_name": "Lee",
        "address": "",
        "notes": "",
        "tags": [],
        "external_id": "L1",
        "external_system": "crm",
        "custom_fields": {"company_name": "Acme"},
        "created_at": "2025-11-04T09:00:00Z",
        "updated_at": "2025-11-04T09:00:00Z",
    }
    return {**base, **fields}


def message(mid, at, **fields):
    base = {
        "id": mid,
        "conversation_id": "conv-1",
        "customer_id": "cust-1",
        "content": f"hello {mid}",
        "platform": "whatsapp",
        "channel": "whatsapp",
        "direction": "inbound",
        "status": "received",
        "created_at": at,
        "attachments": [],
    }
    return {**base, **fields}


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_it_is_a_messenger_with_the_documented_channels(connector):
    assert isinstance(connector, Messenger)
    assert connector.channels == ("whatsapp", "email", "sms", "facebook", "instagram")
    assert connector.local_id_field == "external_id" and connector.batch_size == 1000
    assert AlaCarteConnector.receives_webhooks({"webhook_secret": "s" * 20})
    assert not AlaCarteConnector.receives_webhooks({})
    assert connector.poll_seconds == {"activity": 30}


@responses.activate
def test_get_reads_customers_by_id_with_custom_fields_flattened(connector):
    responses.post(LOOKUP, json={"customers": [customer()]})
    [record] = connector.get("contact", ["cust-1", "gone"])
    assert sent(responses.calls[0]) == {"ids": ["cust-1", "gone"]}
    assert record.id == "cust-1" and record.fields["custom_fields.company_name"] == "Acme"
    assert "custom_fields" not in record.fields
    assert record.modified_at == datetime(2025, 11, 4, 9, tzinfo=UTC)


@responses.activate
def test_an_update_fills_the_match_keys_and_nests_custom_fields(connector):
    responses.post(LOOKUP, json={"customers": [customer()]})
    details = [
        {
            "index": 0,
            "external_id": "L1",
            "customer_id": "cust-1",
            "action": "updated",
            "matched_by": "external_id",
        }
    ]
    responses.post(SYNC, json={"success": True, "results": {"details": details}})
    changes = {"last_name": "Changed", "custom_fields.job_title": "CEO", "_relations": {}}
    [result] = connector.update("contact", [("cust-1", changes)])
    assert result.ok and result.remote_id == "cust-1" and result.created is False
    assert sent(responses.calls[1])["customers"] == [
        {
            "last_name": "Changed",
            "custom_fields": {"job_title": "CEO"},
            "name": "Ana Changed",
            "external_id": "L1",
            "email": "ana@example.com",
            "phone": "+353871234567",
        }
    ]


@responses.activate
def test_an_update_that_lands_on_another_customer_is_reported_as_moved(connector):
    responses.post(LOOKUP, json={"customers": [customer()]})
    details = [
        {
            "index": 0,
            "external_id": "L7",
            "customer_id": "cust-7",
            "action": "updated",
            "matched_by": "external_id",
        }
    ]
    responses.post(SYNC, json={"success": True, "results": {"details": details}})
    [result] = connector.update("contact", [("cust-1", {"external_id": "L7", "first_name": "Ana"})])
    assert not result.ok and result.code == "moved" and "cust-7" in result.error and "cust-1" in result.error


@responses.activate
def test_an_update_of_an_unknown_customer_fails_alone_without_sending_it(connector):
    responses.post(LOOKUP, json={"customers": [customer()]})
    details = [
        {
            "index": 0,
            "external_id": "L1",
            "customer_id": "cust-1",
            "action": "updated",
            "matched_by": "external_id",
        }
    ]
    responses.post(SYNC, json={"success": True, "results": {"details": details}})
    results = connector.update("contact", [("gone", {"first_name": "X"}), ("cust-1", {"first_name": "Ann"})])
    assert [r.index for r in results] == [0, 1]
    assert not results[0].ok and results[0].code == "not_found"
    assert results[1].ok and results[1].remote_id == "cust-1"
    assert len(sent(responses.calls[1])["customers"]) == 1


@responses.activate
def test_read_only_entities_and_deletes_are_refused_per_record_without_a_request(connector):
    for entity in ("activity", "conversation"):
        results = connector.create(entity, [{"subject": "x"}, {"subject": "y"}])
        assert [(r.index, r.ok, r.code) for r in results] == [
            (0, False, "unsupported"),
            (1, False, "unsupported"),
        ]
        [updated] = connector.update(entity, [("m1", {"subject": "x"})])
        assert not updated.ok and updated.code == "unsupported" and "read only" in updated.error
    [deleted] = connector.delete("contact", ["cust-1"])
    assert not deleted.ok and deleted.code == "unsupported" and "no delete" in deleted.error
    assert len(responses.calls) == 0


def test_unlistable_entities_refuse_a_pull_and_messages_refuse_a_get(connector):
    for entity in ("contact", "conversation"):
        with pytest.raises(ConfigError, match="cannot list"):
            connector.pull(entity, cursor=None)
    for entity in ("activity", "conversation"):
        with pytest.raises(PermanentError, match="no endpoint") as caught:
            connector.get(entity, ["x"])
        assert caught.value.code == "unsupported"


@responses.activate
def test_the_message_pull_pages_while_has_more_and_skips_what_it_saw_at_the_same_time(connector):
    t1, t2 = "2025-11-04T09:00:00.000Z", "2025-11-04T09:00:05.000Z"
    responses.get(SINCE, json={"messages": [message("m1", t1), message("m2", t2)], "has_more": True})
    # Inclusive since: m2 comes again, with m3 at the same millisecond.
    responses.get(SINCE, json={"messages": [message("m2", t2), message("m3", t2)], "has_more": False})
    pages = list(connector.pull("activity", cursor=None))
    assert [[r.id for r in p.records] for p in pages] == [["m1", "m2"], ["m3"]]
    assert query(responses.calls[0])["since"] == ["1970-01-01T00:00:00.000Z"]
    assert query(responses.calls[0])["include_attachments"] == ["true"]
    assert query(responses.calls[1])["since"] == [t2]
    assert decode_cursor(pages[-1].cursor) == {"since": t2, "seen": ["m2", "m3"]}
    record = pages[0].records[0]
    assert record.fields["_kind"] == "message" and record.fields["subject"] == "WhatsApp message received"
    assert record.relations == {"contact_id": ("cust-1",), "conversation_id": ("conv-1",)}

    responses.replace(responses.GET, SINCE, json={"messages": [message("m3", t2)], "has_more": False})
    [again] = list(connector.pull("activity", cursor=pages[-1].cursor))
    assert again.records == [] and decode_cursor(again.cursor)["since"] == t2


@responses.activate
def test_more_than_a_page_at_one_millisecond_is_refused_not_looped(connector):
    t = "2025-11-04T09:00:00.000Z"
    full = {"messages": [message(f"m{i:03d}", t) for i in range(100)], "has_more": True}
    responses.get(SINCE, json=full)
    with pytest.raises(PermanentError, match="share the time") as caught:
        list(connector.pull("activity", cursor=None))
    assert caught.value.code == "stuck_cursor" and len(responses.calls) == 2


@responses.activate
def test_attachments_are_normalised(connector):
    files = [
        {
            "id": "a",
            "filename": "r.pdf",
            "type": "application/pdf",
            "size": 10,
            "url": "https://f/r",
            "download_url": "https://d/r",
        }
    ]
    responses.get(
        SINCE,
        json={"messages": [message("m1", "2025-11-04T09:00:00Z", attachments=files)], "has_more": False},
    )
    [page] = list(connector.pull("activity", cursor=None))
    assert page.records[0].fields["attachments"] == [
        {"name": "r.pdf", "url": "https://f/r", "size": 10, "type": "application/pdf"}
    ]


@responses.activate
def test_find_created_looks_up_by_the_first_match_key_created_since(connector):
    responses.post(
        LOOKUP,
        json={
            "customers": [
                customer("new-1", external_id="L1", phone="+353870000000", created_at="2025-11-04T10:00:00Z"),
                customer("old-2", external_id="", email="bo@example.com", created_at="2025-11-01T10:00:00Z"),
                customer(
                    "new-3",
                    external_id="",
                    email="",
                    phone="+353871234567",
                    created_at="2025-11-04T10:00:00Z",
                ),
            ]
        },
    )
    since = datetime(2025, 11, 4, 9, tzinfo=UTC)
    found = connector.find_created(
        "contact",
        [
            {"external_id": "L1", "email": "other@example.com"},
            {"email": "Bo@Example.com"},
            {"phone": "087 123 4567"},
            {"first_name": "Nobody"},
        ],
        since=since,
    )
    assert found == [["new-1"], [], ["new-3"], []]
    assert sent(responses.calls[0]) == {
        "external_ids": ["L1"],
        "emails": ["Bo@Example.com"],
        "phones": ["087 123 4567"],
    }


@responses.activate
def test_conversations_carry_their_messages_as_activities(connector):
    conv = {
        "id": "conv-1",
        "customer_id": "cust-1",
        "status": "open",
        "channel": "whatsapp",
        "assignee": "",
        "subject": "Order",
        "created_at": "2025-11-04T09:00:00Z",
        "last_message_at": "2025-11-04T09:05:00Z",
        "whatsapp_account_id": None,
        "messages": [
            message("m1", "2025-11-04T09:00:00Z"),
            message("m2", "2025-11-04T09:05:00Z", direction="outbound", status="sent"),
        ],
    }
    responses.get(
        f"{BASE}/api-conversations-by-customer", json={"customer": customer(), "conversations": [conv]}
    )
    result = connector.conversations(external_id="L1")
    assert query(responses.calls[0]) == {
        "external_id": ["L1"],
        "include_messages": ["true"],
        "include_attachments": ["true"],
    }
    [record] = result.conversations
    assert record.id == "conv-1" and record.relations == {"contact_id": ("cust-1",)}
    assert record.fields["subject"] == "Order" and record.fields["status"] == "open"
    assert [m.id for m in result.messages] == ["m1", "m2"]
    assert result.messages[1].fields["subject"] == "WhatsApp message sent"


@responses.activate
def test_a_message_on_an_unknown_channel_is_refused_before_sending(connector):
    with pytest.raises(PermanentError, match="not 'telegram'"):
        connector.message_send(customer_id="cust-1", channel="telegram", content="hi", attachment_urls=[])
    assert len(responses.calls) == 0
    sent_message = message("m9", "2025-11-04T09:00:00Z", direction="outbound", status="sent")
    responses.post(f"{BASE}/api-send-message", json={"success": True, "message": sent_message})
    record = connector.message_send(
        customer_id="cust-1", channel="whatsapp", content="hi", attachment_urls=["https://f/a"]
    )
    assert record.id == "m9" and record.fields["direction"] == "outbound"
    assert sent(responses.calls[0]) == {
        "customer_id": "cust-1",
        "channel": "whatsapp",
        "content": "hi",
        "attachments": ["https://f/a"],
    }


def test_discovered_fields_cover_the_default_mappings(connector):
    names = {f.name for f in connector.discover_fields("contact")}
    assert {"name", "email", "phone", "custom_fields.company_name", "custom_fields.job_title"} <= names
    # Every customer field of the seed is offered to the mapping wizard.
    seed = {"whatsapp_number", "first_name", "last_name", "address", "notes", "tags", "external_id"}
    assert seed | {"external_system"} <= names
    assert {f.name for f in connector.discover_fields("activity")} >= {"content", "channel", "attachments"}
    assert {f.name for f in connector.discover_fields("conversation")} >= {"assignee", "last_message_at"}
    with pytest.raises(ConfigError):
        connector.discover_fields("deal")
    assert json.dumps([f.to_dict() for f in connector.discover_fields("contact")])
