"""Conversations as Cases, and chat messages as Tasks marked Type "Message": the emulated Case sObject
(checked with simple-salesforce), the connector's reads and writes of it, its contact, the default
status / origin mappings both ways, and a whole sync run that pushes a conversation and its message and
then reads them back without changing anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from connectors.base import RELATIONS_KEY
from connectors.salesforce.mappings import DEFAULT_MAPPINGS
from connectors.salesforce.webhooks import parse
from integrations.tokens import IntegrationTokenStore
from sync.mapping import FieldMap, local_to_remote, remote_to_local
from sync.models import Activity, Change, Contact, Conversation
from sync.services import record_update
from tests.sandbox import sandbox_integration, simple_salesforce_client
from tests.sync.helpers import local_of, remote_id_of, run_to_success


def pull(connector, entity, cursor=None):
    pages = list(connector.pull(entity, cursor=cursor))
    return {r.id: r for page in pages for r in page.records}, (pages[-1].cursor if pages else cursor)


def add(*ids):
    return {"add": list(ids), "remove": []}


def case_maps():
    return [FieldMap(**row) for row in DEFAULT_MAPPINGS["conversation"]]


# --- the emulated Case, through simple-salesforce ---------------------------------------------------------


def test_simple_salesforce_creates_queries_and_closes_a_case(sf):
    account = sf.Account.create({"Name": "Acme"})["id"]
    contact = sf.Contact.create({"LastName": "Lee", "AccountId": account})["id"]
    first = sf.Case.create({"Subject": "Where is my order?", "ContactId": contact, "Origin": "WhatsApp"})
    second = sf.Case.create({"Subject": "Refund", "Origin": "Phone", "Priority": "High"})
    assert first["success"] and first["id"].startswith("500")

    case = sf.Case.get(first["id"])
    # Salesforce's defaults and derived fields: New, Medium, open, numbered, the contact's account.
    assert (case["Status"], case["Priority"], case["IsClosed"], case["ClosedDate"]) == (
        "New",
        "Medium",
        False,
        None,
    )
    assert case["Origin"] == "WhatsApp"  # Origin is unrestricted: stored as sent
    assert case["AccountId"] == account and case["ContactId"] == contact
    assert [case["CaseNumber"], sf.Case.get(second["id"])["CaseNumber"]] == ["00000001", "00000002"]

    sf.Case.update(first["id"], {"Status": "Closed"})
    closed = sf.Case.get(first["id"])
    assert closed["IsClosed"] is True and closed["ClosedDate"]
    rows = sf.query(
        format_soql("SELECT Id, Subject FROM Case WHERE IsClosed = {} AND ContactId = {}", True, contact)
    )
    assert [r["Id"] for r in rows["records"]] == [first["id"]]
    sf.Case.update(first["id"], {"Status": "Working"})  # reopened: no longer closed
    reopened = sf.Case.get(first["id"])
    assert reopened["IsClosed"] is False and reopened["ClosedDate"] is None

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Case.create({"Subject": "Bad", "Status": "Maybe"})  # Status is a restricted picklist
    assert refused.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Case.update(first["id"], {"IsClosed": True})  # derived from Status, never written

    described = {f["name"]: f for f in sf.Case.describe()["fields"]}
    assert [p["value"] for p in described["Status"]["picklistValues"]] == [
        "New",
        "Working",
        "Escalated",
        "Closed",
    ]
    assert described["Status"]["restrictedPicklist"] and not described["Origin"]["restrictedPicklist"]
    assert described["ContactId"]["referenceTo"] == ["Contact"]
    assert not described["CaseNumber"]["createable"] and not described["ClosedDate"]["updateable"]


def test_a_deleted_case_is_in_query_all_only(sf, org):
    made = sf.Case.create({"Subject": "Spam"})["id"]
    sf.Case.delete(made)
    soql = "SELECT Id, IsDeleted FROM Case"
    assert sf.query(soql)["records"] == []
    assert [(r["Id"], r["IsDeleted"]) for r in sf.query_all(soql, include_deleted=True)["records"]] == [
        (made, True)
    ]


# --- the connector --------------------------------------------------------------------------------------


def test_a_case_is_created_pulled_updated_and_deleted_with_its_contact(connector, sf):
    (ana,) = connector.create("contact", [{"LastName": "Ana"}])
    (bo,) = connector.create("contact", [{"LastName": "Bo"}])
    (made,) = connector.create(
        "conversation",
        [{"Subject": "Order help", "Origin": "WhatsApp", RELATIONS_KEY: {"contact_id": add(ana.remote_id)}}],
    )
    assert made.ok and made.remote_id.startswith("500") and not made.relations_failed
    assert sf.Case.get(made.remote_id)["ContactId"] == ana.remote_id

    records, cursor = pull(connector, "conversation")
    case = records[made.remote_id]
    assert case.remote_type == "Case" and case.relations == {"contact_id": (ana.remote_id,)}
    assert (case.fields["Subject"], case.fields["Status"], case.fields["Origin"]) == (
        "Order help",
        "New",
        "WhatsApp",
    )
    assert case.fields["CaseNumber"] and case.fields["CreatedDate"] and case.fields["IsClosed"] is False

    moved = {RELATIONS_KEY: {"contact_id": {"add": [bo.remote_id], "remove": [ana.remote_id]}}}
    (updated,) = connector.update("conversation", [(made.remote_id, {"Status": "Closed", **moved})])
    assert updated.ok, updated.error
    changed, cursor = pull(connector, "conversation", cursor)
    assert (
        changed[made.remote_id].fields["Status"] == "Closed" and changed[made.remote_id].fields["ClosedDate"]
    )
    assert changed[made.remote_id].relations == {"contact_id": (bo.remote_id,)}

    cleared = {RELATIONS_KEY: {"contact_id": {"add": [], "remove": [bo.remote_id]}}}
    connector.update("conversation", [(made.remote_id, cleared)])
    assert connector.get("conversation", [made.remote_id])[0].relations == {"contact_id": ()}

    (gone,) = connector.delete("conversation", [made.remote_id])
    assert gone.ok
    deleted, _ = pull(connector, "conversation", cursor)
    assert deleted[made.remote_id].deleted
    assert connector.get("conversation", [made.remote_id]) == []
    (wrong,) = connector.delete("conversation", [ana.remote_id])  # a contact id is no case id
    assert not wrong.ok and wrong.code == "MALFORMED_ID"


def test_find_created_looks_for_a_case_by_subject_and_contact(connector):
    since = timezone.now() - timedelta(seconds=5)
    (ana,) = connector.create("contact", [{"LastName": "Ana"}])
    (bo,) = connector.create("contact", [{"LastName": "Bo"}])
    for_ana = {"Subject": "Help", RELATIONS_KEY: {"contact_id": add(ana.remote_id)}}
    (made,) = connector.create("conversation", [for_ana])
    for_bo = {"Subject": "Help", RELATIONS_KEY: {"contact_id": add(bo.remote_id)}}
    assert connector.find_created("conversation", [for_ana, for_bo], since=since) == [[made.remote_id], []]


def test_discover_fields_describes_the_case(connector):
    fields = {f.name: f for f in connector.discover_fields("conversation")}
    assert fields["Status"].type == "enumeration" and ("Escalated", "Escalated") in fields["Status"].options
    assert fields["ClosedDate"].type == "datetime" and fields["ClosedDate"].read_only
    assert fields["ContactId"].type == "reference" and fields["CaseNumber"].read_only


def test_default_mappings_read_and_write_status_origin_and_priority():
    maps = case_maps()
    remote = {
        "Subject": "Order help",
        "Status": "Escalated",
        "Origin": "WhatsApp",
        "Priority": "High",
        "CreatedDate": "2025-11-04T09:00:00.000+0000",
        "ClosedDate": None,
    }
    local = remote_to_local(maps, remote, region="US")
    assert (local["status"], local["channel"], local["priority"]) == ("open", "whatsapp", "high")
    assert local["opened_at"] is not None and local["closed_at"] is None
    # Salesforce's own statuses read in; the canonical ones are written as New, Working, Closed.
    read = {
        s: remote_to_local(maps, {"Status": s}, region="US")["status"] for s in ("New", "Working", "Closed")
    }
    assert read == {"New": "open", "Working": "pending", "Closed": "closed"}
    for status, expected in {"open": "New", "pending": "Working", "closed": "Closed"}.items():
        assert local_to_remote(maps, {"status": status}, only=["status"], region="US") == {"Status": expected}
    # Channels: the org's picklist values and ours both ways; unknown ones pass through unchanged.
    for channel, origin in {"phone": "Phone", "email": "Email", "web": "Web", "sms": "SMS"}.items():
        assert local_to_remote(maps, {"channel": channel}, only=["channel"], region="US") == {
            "Origin": origin
        }
        assert remote_to_local(maps, {"Origin": origin}, region="US") == {"channel": channel}
    assert local_to_remote(maps, {"channel": "telegram"}, only=["channel"], region="US") == {
        "Origin": "telegram"
    }
    assert remote_to_local(maps, {"Origin": "Walk-in", "Status": "On Hold"}, region="US") == {
        "channel": "Walk-in",
        "status": "On Hold",
    }
    # Opened and closed times are Salesforce's alone.
    written = local_to_remote(maps, {"subject": "x", "opened_at": timezone.now()}, region="US")
    assert "CreatedDate" not in written and "ClosedDate" not in written


# --- messages as Tasks --------------------------------------------------------------------------------


def test_a_message_is_a_task_on_the_contact_and_the_case_and_reads_back_as_a_message(connector, sf):
    (ana,) = connector.create("contact", [{"LastName": "Ana"}])
    (case,) = connector.create("conversation", [{"Subject": "Order help"}])
    message = {
        "_kind": "message",
        "Subject": "WhatsApp message",
        "Description": "Hello, I need help with my order",
        "Status": "received",  # no Task status: the Task says Completed instead
        RELATIONS_KEY: {"contact_id": add(ana.remote_id), "conversation_id": add(case.remote_id)},
    }
    (made,) = connector.create("activity", [message, {"_kind": "task", "Subject": "Call back"}])[:1]
    assert made.ok and made.remote_id.startswith("00T") and not made.relations_failed, made.error
    task = sf.Task.get(made.remote_id)
    assert (task["Type"], task["Status"], task["TaskSubtype"]) == ("Message", "Completed", "Task")
    assert (task["WhoId"], task["WhatId"]) == (ana.remote_id, case.remote_id)
    assert task["Description"] == "Hello, I need help with my order"

    records, _ = pull(connector, "activity")
    read = records[made.remote_id]
    assert read.fields["_kind"] == "message" and "Status" not in read.fields  # the local status is kept
    assert read.relations == {"contact_id": (ana.remote_id,), "conversation_id": (case.remote_id,)}
    others = [r for r in records.values() if r.id != made.remote_id]
    assert [(r.fields["_kind"], r.fields["Status"]) for r in others] == [("task", "Not Started")]

    # A message's status change is not a Task status: it is left out, the rest is written.
    (updated,) = connector.update("activity", [(made.remote_id, {"Status": "read", "Subject": "Read"})])
    assert updated.ok, updated.error
    assert (sf.Task.get(made.remote_id)["Status"], sf.Task.get(made.remote_id)["Subject"]) == (
        "Completed",
        "Read",
    )
    # ...while a task's status still goes through (and a bad one is still refused).
    (other,) = others
    (fine,) = connector.update("activity", [(other.id, {"Status": "Completed"})])
    (bad,) = connector.update("activity", [(other.id, {"Status": "read"})])
    assert fine.ok and not bad.ok and bad.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    # Unlinking the conversation clears WhatId.
    unlink = {RELATIONS_KEY: {"conversation_id": {"add": [], "remove": [case.remote_id]}}}
    connector.update("activity", [(made.remote_id, unlink)])
    assert connector.get("activity", [made.remote_id])[0].relations["conversation_id"] == ()


def test_a_task_made_in_salesforce_on_a_case_relates_to_the_conversation(connector, sf):
    case = sf.Case.create({"Subject": "Billing"})["id"]
    opportunity = sf.Opportunity.create(
        {"Name": "Big", "StageName": "Prospecting", "CloseDate": "2025-06-30"}
    )["id"]
    on_case = sf.Task.create({"Subject": "Reply", "WhatId": case})["id"]
    on_deal = sf.Task.create({"Subject": "Quote", "WhatId": opportunity})["id"]
    records, _ = pull(connector, "activity")
    # WhatId names one record: the others are unknown (absent), not "none".
    assert records[on_case].relations == {"contact_id": (), "conversation_id": (case,)}
    assert records[on_deal].relations == {"contact_id": (), "deal_id": (opportunity,)}
    # Both given: the deal is the more specific WhatId, as before conversations existed.
    (both,) = connector.create(
        "activity",
        [
            {
                "_kind": "task",
                "Subject": "x",
                RELATIONS_KEY: {"deal_id": add(opportunity), "conversation_id": add(case)},
            }
        ],
    )
    assert sf.Task.get(both.remote_id)["WhatId"] == opportunity


def test_a_note_links_to_its_conversation(connector, sf):
    case = sf.Case.create({"Subject": "Billing"})["id"]
    (note,) = connector.create(
        "activity",
        [
            {
                "_kind": "note",
                "Subject": "Summary",
                "Description": "All good",
                RELATIONS_KEY: {"conversation_id": add(case)},
            }
        ],
    )
    assert note.ok and not note.relations_failed, note.relations_error
    assert connector.get("activity", [note.remote_id])[0].relations["conversation_id"] == (case,)


def test_an_outbound_message_about_a_case_is_a_conversation_event():
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        b"<OrganizationId>00D5g00000Sbx01EAA</OrganizationId><ActionId>04k000000000001</ActionId>"
        b"<Notification><Id>04l000000000001</Id>"
        b'<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        b"<sf:Id>500Sb0000000001AAA</sf:Id><sf:Status>Closed</sf:Status>"
        b"<sf:SystemModstamp>2025-11-04T09:00:00.000Z</sf:SystemModstamp></sObject></Notification>"
        b"<Notification><Id>04l000000000002</Id>"
        b'<sObject xsi:type="sf:Task" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        b"<sf:Id>00TSb0000000001AAA</sf:Id><sf:Type>Message</sf:Type><sf:Status>Completed</sf:Status>"
        b"</sObject></Notification>"
        b"</notifications></soapenv:Body></soapenv:Envelope>"
    )
    case, task = parse(body)
    assert (case.entity, case.record.fields["Status"]) == ("conversation", "Closed")
    assert task.entity == "activity" and task.record.fields["_kind"] == "message"
    assert "Status" not in task.record.fields


# --- a whole sync ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_conversation_and_its_message_sync_as_a_case_and_a_task_and_come_back_unchanged(
    catalog, subaccount, sandbox_url, org
):
    integration = sandbox_integration(subaccount, "salesforce", sandbox_url)
    ana = Contact.objects.create(subaccount=subaccount, last_name="Lee", email="ana@example.com")
    chat = Conversation.objects.create(
        subaccount=subaccount,
        subject="Order help",
        status="open",
        channel="whatsapp",
        priority="high",
        contact=ana,
    )
    message = Activity.objects.create(
        subaccount=subaccount,
        kind="message",
        subject="WhatsApp message",
        body="Hello, I need help with my order",
        status="received",
        direction="inbound",
        channel="whatsapp",
        contact=ana,
        conversation=chat,
    )

    run_to_success(integration, "full")

    tokens = IntegrationTokenStore(integration.pk).load()
    sf = simple_salesforce_client(tokens.extra["instance_url"], tokens.access_token)
    case_id = remote_id_of(integration, "conversation", chat)
    case = sf.Case.get(case_id)
    assert (case["Subject"], case["Status"], case["Origin"], case["Priority"]) == (
        "Order help",
        "New",
        "WhatsApp",
        "High",
    )
    assert case["ContactId"] == remote_id_of(integration, "contact", ana)
    task_id = remote_id_of(integration, "activity", message)
    task = sf.Task.get(task_id)
    assert (task["Type"], task["WhoId"], task["WhatId"]) == ("Message", case["ContactId"], case_id)

    # Read back: Salesforce's own values come in (opened_at), the message stays a message.
    run_to_success(integration, "delta")
    message.refresh_from_db()
    chat.refresh_from_db()
    assert (message.kind, message.status, message.conversation_id) == ("message", "received", chat.pk)
    assert chat.status == "open" and chat.opened_at is not None
    stamp, changes = sf.Task.get(task_id)["SystemModstamp"], Change.objects.count()
    versions = (message.version, chat.version)
    run_to_success(integration, "delta")
    message.refresh_from_db()
    chat.refresh_from_db()
    assert (message.version, chat.version) == versions and Change.objects.count() == changes  # nothing moved
    assert sf.Task.get(task_id)["SystemModstamp"] == stamp  # nothing pushed again

    # The agent closes the case in Salesforce; the platform marks the conversation pending again.
    sf.Case.update(case_id, {"Status": "Closed"})
    run_to_success(integration, "delta")
    chat = local_of(integration, "conversation", case_id)
    assert chat.status == "closed" and chat.closed_at is not None
    record_update(record=chat, fields={"status": "pending"}, origin="api_key:t")
    record_update(record=Activity.objects.get(pk=message.pk), fields={"status": "read"}, origin="api_key:t")
    run_to_success(integration, "delta")
    assert sf.Case.get(case_id)["Status"] == "Working" and sf.Task.get(task_id)["Status"] == "Completed"
