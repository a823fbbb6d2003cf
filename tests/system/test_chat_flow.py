"""Seed 004 end to end with real parts (a Celery worker, the receiver on a live server, the
emulators over HTTP): a contact written in the platform becomes a chat customer and a Salesforce
contact within seconds; a customer writing in on WhatsApp reaches us as signed webhooks, and the
seed's Salesforce example follows through the ordinary push: the conversation opens a Case on the
contact, the message becomes a Task on it."""

from __future__ import annotations

import pytest

from connectors.registry import emulator_module
from sync.models import Activity, Conversation, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_create
from tests.sandbox import emulator_control, sandbox_integration
from tests.system.conftest import wait_for

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


def _remote(provider: str, object_type: str, remote_id: str) -> dict:
    record = emulator_module(provider).emulator.records(object_type).filter(remote_id=remote_id).first()
    return record.data if record is not None else {}


def test_a_whatsapp_message_becomes_a_salesforce_task_and_its_conversation_a_case(
    real_servers, catalog, subaccount, sandbox_url, live_server, workers, settings
):
    for key in ("alacarte", "salesforce"):
        emulator_module(key).emulator.reset()
    salesforce = sandbox_integration(subaccount, "salesforce", sandbox_url)
    chat = sandbox_integration(subaccount, "alacarte", sandbox_url)
    emulator_module("alacarte").emulator.webhooks_connect(
        f"{live_server.url}/webhooks/in/alacarte/{chat.pk}/", config=chat.config, secret=""
    )
    for integration in (salesforce, chat):  # their first runs (full), as the schedule would start them
        sync_run_execute(run_id=sync_run_request(integration=integration, kind="full", enqueue=False).pk)
    settings.SYNC_PUSH_ON_CHANGE = True  # changes reach the other integrations in seconds
    workers("chat-1", env={"SYNC_PUSH_ON_CHANGE": "on"})

    joe = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={
            "first_name": "Joe",
            "last_name": "Bloggs",
            "email": "joe@bloggs.example",
            "phone": "+353871234567",
        },
        origin="api_key:test",
    )

    def link(integration, entity, local_id):
        return EntityLink.objects.filter(integration=integration, entity=entity, local_id=local_id).first()

    customer = wait_for(lambda: link(chat, "contact", joe.pk), timeout=30, message="the chat customer")
    sf_contact = wait_for(
        lambda: link(salesforce, "contact", joe.pk), timeout=30, message="the Salesforce contact"
    )

    made = emulator_control(
        chat.config["base_url"],
        "inbound",
        {
            "customer_id": customer.remote_id,
            "channel": "whatsapp",
            "content": "Hello, I need help with my order",
        },
    )
    conversation = wait_for(
        lambda: Conversation.objects.filter(subaccount=subaccount).first(),
        timeout=30,
        message="the conversation",
    )
    # The worker may apply the message before its conversation: it is related once both are in.
    message = wait_for(
        lambda: Activity.objects.filter(
            subaccount=subaccount, kind="message", conversation__isnull=False
        ).first(),
        timeout=30,
        message="the message as an activity on its conversation",
    )
    assert (message.contact_id, message.direction, message.channel) == (joe.pk, "inbound", "whatsapp")
    assert message.conversation_id == conversation.pk and conversation.contact_id == joe.pk
    assert (
        EntityLink.objects.get(integration=chat, entity="activity", local_id=message.pk).remote_id
        == (made["message"]["id"])
    )

    task_link = wait_for(lambda: link(salesforce, "activity", message.pk), timeout=30, message="the Task")
    case_link = wait_for(
        lambda: link(salesforce, "conversation", conversation.pk), timeout=30, message="the Case"
    )
    task = _remote("salesforce", "Task", task_link.remote_id)
    case = _remote("salesforce", "Case", case_link.remote_id)
    assert task["WhoId"] == sf_contact.remote_id and task["WhatId"] == case_link.remote_id
    assert "Hello, I need help with my order" in task["Description"]
    assert case["ContactId"] == sf_contact.remote_id and case["Origin"] == "WhatsApp"
    # Exactly once on every side, however many pushes the feed asked for.
    assert Activity.objects.filter(subaccount=subaccount).count() == 1
    assert EntityLink.objects.filter(integration=salesforce, entity="activity").count() == 1
